"""Hyperledger Indy Plenum 1.13.1, a BFT replication library nobody here wrote, built by `make plenum`
into .venv-plenum (docs/plenum.md): four replicas of its real ordering, checkpoint and view-change
services on plenum's own simulation (drivers/plenum/smoke.py) order six requests in three batches,
every replica the same batches in the same order, each request once, and each replica's checkpoint
at batch 2 stable. `make test` builds .venv-plenum first (about 75 s with pip's cache empty); when
that build could not be made (no network, no compiler), these are skipped with the command that
builds it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from meshcheck.property_tests.plenum.runs import built

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv-plenum" / "bin" / "python"
SMOKE = ROOT / "drivers" / "plenum" / "smoke.py"


@pytest.fixture(scope="module")
def plenum_python() -> Path:
    if not built(ROOT / ".venv-plenum" / ".installed"):
        pytest.skip(".venv-plenum is absent: `make plenum` builds it (about 75 s; docs/plenum.md)")
    return PYTHON


def _smoke(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The main suite's PYTHONPATH (the work tree, whose top-level folders are not plenum's) stays out.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(python), str(SMOKE), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_four_plenum_replicas_order_the_same_batches(plenum_python: Path) -> None:
    done = _smoke(plenum_python, "--seed", "0", "--requests", "6")
    assert done.returncode == 0, done.stderr[-2000:]
    lines: list[dict[str, Any]] = [json.loads(line) for line in done.stdout.splitlines()]
    ordered: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        if line["event"] == "ordered":
            ordered[line["replica"]].append(line)
    assert sorted(ordered) == ["Alpha", "Beta", "Delta", "Gamma"]
    # Each replica's batches are 1, 2, 3 in its own order of ordering, two requests each.
    for batches in ordered.values():
        assert [b["pp_seq_no"] for b in batches] == [1, 2, 3]
        assert all(len(b["requests"]) == 2 for b in batches)
    # Agreement: the same digest and requests at each sequence number, and each request once.
    first = [(b["digest"], b["requests"]) for b in ordered["Alpha"]]
    for batches in ordered.values():
        assert [(b["digest"], b["requests"]) for b in batches] == first
    requests = [r for _, reqs in first for r in reqs]
    assert len(set(requests)) == len(requests) == 6
    replicas = [line for line in lines if line["event"] == "replica"]
    assert len(replicas) == 4
    assert {r["primary"] for r in replicas} == {replicas[0]["primary"]}
    for r in replicas:
        assert r["last_ordered"] == [r["view"], 3]
        assert r["stable_checkpoint"] == 2


def test_bad_arguments_are_one_line_and_exit_2(plenum_python: Path) -> None:
    done = _smoke(plenum_python, "--requests", "0")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "at least 1" in done.stderr


def test_a_test_waits_for_the_build_beside_it_and_not_for_one_that_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make test` builds .venv-plenum beside the tests (the Makefile's `test` target): a test
    that needs it waits while that build runs, and finds its stamp when it is written; once the
    build has ended without one, it does not wait."""
    stamp = tmp_path / ".installed"
    build = subprocess.Popen(["sh", "-c", f"sleep 0.5; touch {stamp}; sleep 0.2"])
    try:
        monkeypatch.setenv("MESHCHECK_BUILD_PID", str(build.pid))
        assert built(stamp, bound=30)
    finally:
        build.wait()
    stamp.unlink()
    began = time.monotonic()
    assert not built(stamp, bound=30)  # the build's process is gone: no wait
    monkeypatch.delenv("MESHCHECK_BUILD_PID")
    assert not built(stamp, bound=30)
    assert time.monotonic() - began < 5
