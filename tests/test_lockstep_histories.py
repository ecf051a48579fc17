"""Lockstep paths end with the client-history checks (property_tests/harness.py's
`Follower.finish`, on the history the Raft and PBFT drivers' simulators record): a path whose
client was given a wrong answer fails there, with the check's name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import settings

from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.sim import HistoryRecorder
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.pbft.lockstep import lockstep as pbft_lockstep
from meshcheck.property_tests.raft.lockstep import lockstep as raft_lockstep

SMALL = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    database=None,
    derandomize=True,
    phases=(Phase.generate,),  # a failure is expected: no shrinking
    suppress_health_check=list(HealthCheck),
)


def lying(real: Callable[..., None]) -> Callable[..., None]:
    """HistoryRecorder.complete, with every ok answer to a write made up."""

    def complete(self: HistoryRecorder, process: str, reply: Reply, time: int) -> None:
        if reply.ok and isinstance(reply.result, FrozenDict) and "value" not in reply.result:
            reply = Reply(reply.request_id, FrozenDict({"ok": True, "made": "up"}))
        real(self, process, reply, time)

    return complete


def _stays_for(protocol: str) -> pytest.MarkDecorator:
    return pytest.mark.moved(
        stand_in=f"property_tests/{protocol}/test_lockstep.py::"
        "test_the_implementation_follows_the_spec_and_every_action_fires",
        why="every lockstep path ends with Follower.finish's client-history checks: the property "
        "test walks the same lockstep machines on the correct core, at the profile's budget",
    )


@pytest.mark.parametrize(
    "lockstep",
    [
        pytest.param(raft_lockstep, id="raft", marks=_stays_for("raft")),
        pytest.param(pbft_lockstep, id="pbft", marks=_stays_for("pbft")),
    ],
)
def test_a_lockstep_path_holds_its_client_history(lockstep: Any) -> None:
    lockstep(frozenset(), SMALL)


@pytest.mark.parametrize("lockstep", [raft_lockstep, pbft_lockstep], ids=["raft", "pbft"])
def test_a_wrong_answer_fails_the_lockstep_path(
    lockstep: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HistoryRecorder, "complete", lying(HistoryRecorder.complete))
    with pytest.raises(CheckFailed, match="the client history fails linearizable"):
        lockstep(frozenset(), SMALL)
