"""The scripted leader restart in the hybrid layer's Raft epoch
(property_tests/hybrid/leader_restart.py) under pytest: the honest cluster passes it in each
variant, with one cycle and with three, and in the loaded Hypothesis profile; and it fails on a
node that restarts with state it should have dropped (so it can fail)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import settings

from meshcheck.impl.raft.node import RaftNode
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hybrid.leader_restart import leader_restart_check
from meshcheck.property_tests.hybrid.leader_restart import scenario


@pytest.mark.parametrize("cycles", [1, 3])
@pytest.mark.parametrize("variant", ["before", "after"])
def test_the_restarted_leader_leads_again_and_nothing_is_lost(variant: str, cycles: int) -> None:
    for seed in range(2):
        out = scenario(Schedule(seed=seed, ticks=0, variant=variant, cycles=cycles), frozenset())
        assert all(d.committed for d in out.decisions)
        assert len(out.decisions) >= 1 + 2 * cycles
        crashed = [f for f in out.hc.sim.fault_log if "crash mid-step" in f]
        assert len(crashed) == cycles  # the leader, with an op in flight, once per cycle
        assert "ClientRequest" in crashed[0]


def test_the_check_holds_in_the_loaded_profile() -> None:
    leader_restart_check(frozenset(), settings())


def test_a_restart_that_keeps_its_commit_index_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug of the class the scenario is for, made up here: a restarted Raft node takes its whole
    log as committed (commitIndex is volatile: Figure 2), so the restarted leader applies the
    entry it held at the crash, which the next leader overwrote."""
    load = RaftNode._load

    def keeps_commit_index(self: RaftNode, persisted: Mapping[str, Any]) -> None:
        load(self, persisted)
        self.commit_index = self.log.last_index

    monkeypatch.setattr(RaftNode, "_load", keeps_commit_index)
    with pytest.raises(CheckFailed) as failed:
        scenario(Schedule(seed=0, ticks=0, variant="before", cycles=1), frozenset())
    assert "NoCommittedOpLost violated" in failed.value.message
