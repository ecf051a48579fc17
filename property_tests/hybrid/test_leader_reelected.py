"""The scripted re-election in the hybrid layer's Raft epoch (property_tests/hybrid/leader_reelected.py)
under pytest: the honest cluster passes it in each variant, on several seeds, reaching the state
the scenario is for (as the run and the leader's own probe show), and in the loaded Hypothesis
profile; and it fails on a leader that remembers having appended the op in a way that survives
its step-down: the catalogue mutant `reappend_checks_index_only`, and the mark of the issue's
bug, (epoch, entry) without the term."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase
from hypothesis import settings

from meshcheck import coverage
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.instance import Instance
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hybrid.leader_reelected import PROBE
from meshcheck.property_tests.hybrid.leader_reelected import Script
from meshcheck.property_tests.hybrid.leader_reelected import leader_reelected_check
from meshcheck.property_tests.hybrid.leader_reelected import scenario

SEEDS = range(3)


def reached(s: Script) -> None:
    """The state the scenario claims: L took X in term t at index i, followed M with X gone from
    its log (another term's entry at i), and led a later term of epoch 1."""
    r = s.reached
    assert r.key is not None and r.index > 0 and r.term >= 1
    assert r.other is not None and r.other != r.leader
    assert r.overwritten is not None and r.overwritten > r.term
    assert r.again is not None and r.again > r.overwritten
    node = s.hc.nodes[r.leader]
    assert node.epoch == 1 and s.core(r.leader).term >= r.again  # the same epoch, Raft
    assert r.key in node.history  # and X committed, once (final: applied at most once)


@pytest.mark.parametrize("hold", [0, 1])
@pytest.mark.parametrize("away", ["crash", "cut"])
def test_the_reelected_leader_commits_the_retried_op(away: str, hold: int) -> None:
    for seed in SEEDS:
        runs: list[Script] = []

        def run(seed: int = seed, runs: list[Script] = runs) -> None:
            runs.append(scenario(Schedule(seed=seed, ticks=0, away=away, hold=hold), frozenset()))

        # the re-elected leader's own probe: it appended X again, its earlier copy overwritten
        assert coverage.probe_hits(run)[PROBE] >= 1, seed
        (s,) = runs
        reached(s)
        assert len(s.out.decisions) == 4 and all(d.committed for d in s.out.decisions)
        calm_at = s.reached.calm_at
        assert calm_at is not None and s.out.decisions[1].time > calm_at  # not before step 4
        if away == "crash":
            assert [f for f in s.sim.fault_log if f.endswith(f"crash {s.reached.other}")]


def test_the_check_holds_in_the_loaded_profile() -> None:
    leader_reelected_check(frozenset(), settings())


@pytest.mark.moved(
    stand_in=(
        "tests/test_corpus.py::test_its_mutant_fails"
        "[traces/counterexamples/hybrid/retried_op_dropped_by_reelected_leader.itf.json]"
    ),
    why=(
        "the corpus re-runs this check's first ci example (its #meta.rerun: the leader "
        "re-elected check on Schedule(seed=0, away='crash', hold=0)) with this mutant and "
        "requires it to fail: the same run and the same mutant killed (this test runs it four "
        "times: recorded and not, in the search and in Hypothesis's final replay)"
    ),
)
def test_the_check_kills_the_catalogue_mutant() -> None:
    """`reappend_checks_index_only`, in `make test`'s profile: the leader takes its log reaching
    the index its copy went to for the copy being there, and never appends X again (the first
    example kills it: not shrunk here)."""
    unshrunk = settings(settings.get_profile("ci"), phases=[Phase.generate])
    with pytest.raises(CheckFailed, match="InFlightResolved"):
        leader_reelected_check(frozenset({mutants.REAPPEND_CHECKS_INDEX_ONLY}), unshrunk)


def test_a_mark_without_the_term_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's bug, made up here: a leader appends an entry once per epoch, its mark of what
    it appended (epoch, entry) without the term. Re-elected in the same epoch with its copy of X
    overwritten, it drops X's every retry as appended already."""
    append = HybridNode._append

    def once_per_epoch(self: HybridNode, instance: Instance, entry: Any) -> None:
        if (instance.epoch, entry) in self._appended:  # in any term
            return
        append(self, instance, entry)

    monkeypatch.setattr(HybridNode, "_append", once_per_epoch)
    with pytest.raises(CheckFailed) as failed:
        scenario(Schedule(seed=0, ticks=0, away="crash", hold=0), frozenset())
    assert "not decided within" in failed.value.message
    assert "InFlightResolved" in failed.value.message
