"""The escalation scenario (escalation.py): its prefix switches the cluster from Raft to BFT with
a client's op in flight on every seed tried, as the nodes' own probe counts it (a switch with
nothing in flight is not counted); the free runs from it hold, end with the client-history checks,
and kill a switch that loses the last Raft term's ops."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck import coverage
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.byzantine import EquivocateRaft
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.rsm.ops import Custom
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.hybrid import free_runs
from meshcheck.property_tests.hybrid.escalation import PREFIX
from meshcheck.property_tests.hybrid.escalation import calm_of
from meshcheck.property_tests.hybrid.escalation import check_escalation
from meshcheck.property_tests.hybrid.escalation import escalation_runs
from meshcheck.property_tests.hybrid.escalation import prefix
from meshcheck.property_tests.hybrid.escalation import prepare
from meshcheck.property_tests.hybrid.free_runs import Run

ESCALATION = ("hybrid", "escalation_with_op_in_flight")


def test_the_prefix_switches_to_bft_with_an_op_in_flight() -> None:
    for seed in range(6):
        out = prepare(Schedule(seed=seed, ticks=600), frozenset())

        def set_up(out: Run = out) -> None:
            assert prefix(out) is None

        # the nodes' own probe sees it (what the coverage report counts)
        assert coverage.probe_hits(set_up)[ESCALATION] >= 1, seed


def test_a_seed_whose_first_elections_split_gets_a_longer_calm() -> None:
    """The explore run of 2026-11-27 (seed 4103500439): this schedule's first three elections split
    their votes, no leader by t=700, and the fixed calm called the setup failed. Its calm now lasts
    until the setup had the time it needs after the election (escalation.py `calm_of`), and the
    run holds."""
    schedule = Schedule(seed=3355, ticks=600)
    calm = calm_of(schedule, frozenset())
    assert calm > PREFIX
    out = check_escalation(schedule)
    assert out.hc.sim.now > calm + schedule.ticks  # the faults ran after the calm, and the rest
    assert calm_of(Schedule(seed=0, ticks=600), frozenset()) == PREFIX  # an early election


def test_a_switch_to_bft_with_nothing_in_flight_is_not_counted() -> None:
    hc = HybridConsensus(4, seed=0)
    while hc.raft_leader() is None:
        hc.run(25)
    leader = hc.raft_leader()
    assert leader is not None

    def escalate() -> None:
        assert hc.propose(Custom("k0", 0)).committed
        hc.make_byzantine(leader, EquivocateRaft())  # evidence, while no op is in flight
        hc.run(600)
        assert BFT in hc.metrics()["epochs"].values()

    assert coverage.probe_hits(escalate)[ESCALATION] == 0


def test_escalation_runs_hold_and_check_client_histories(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str | None] = []
    check = free_runs.history_problem

    def counted(hc: HybridConsensus) -> str | None:
        checked.append(check(hc))
        return checked[-1]

    monkeypatch.setattr(free_runs, "history_problem", counted)
    runs = share(settings(), 1 / 15, least=2)  # what escalation_runs gives itself
    escalation_runs(frozenset(), settings())
    # every run ended with the client-history checks ("applied at most once" among them), and
    # they held
    assert len(checked) >= runs.max_examples and checked == [None] * len(checked)


def test_escalation_runs_kill_a_switch_that_drops_the_last_raft_term() -> None:
    with pytest.raises(CheckFailed, match="NoCommittedOpLost"):
        check_escalation(
            Schedule(seed=0, ticks=600), frozenset({mutants.SWITCH_DROPS_LAST_RAFT_TERM})
        )
