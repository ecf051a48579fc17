"""A core run's logs checked against the spec variant it ran with (`meshcheck validate --set`):
what the tests of Raft's options that are constants of Raft.tla (the leader's no-op, pre-vote)
share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.impl.base.trace import Trace
from meshcheck.traces.logs import reference


def written_logs(sim: Any, trace: Trace, folder: Path) -> list[str]:
    """The run's logs with its whole state, written in `folder`: their paths. Writes committed
    in the run, whichever variant it is."""
    assert max(node.commit_index for node in sim.nodes.values()) > 0  # writes commit either way
    return [str(p) for p in reference.write_logs(trace, folder, "r", variables=reference.FULL)]


def validated_by_own_only(
    paths: list[str], own: list[str], other: list[str], capsys: pytest.CaptureFixture[str]
) -> str:
    """The logs validate with the settings `own` (exit 0) and not with `other` (exit 1): what
    validate printed for `other`."""
    assert main(["validate", *own, *paths]) == 0, capsys.readouterr().out
    capsys.readouterr()
    assert main(["validate", *other, *paths]) == 1
    return capsys.readouterr().out
