"""The gossip free runs under pytest: the correct nodes pass with the loaded Hypothesis profile
(MESHCHECK_HYPOTHESIS), each mutant fails its scenario with the check that must catch it, and each
end-of-run check fails on a run broken on purpose (so it can fail)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.base.events import ClientRead, ClientRequest
from meshcheck.impl.gossip import mutants
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.phi import PhiConfig
from meshcheck.impl.gossip.simulation import gossip_cluster, status_workload
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip.free_runs import (
    Monitor,
    free_run_check,
    once,
    reads_written,
    suspected_crashed,
)


@pytest.mark.parametrize("n", [5, 50])
def test_free_runs_hold(n: int) -> None:
    free_run_check(frozenset(), settings(), n=n, max_ticks=8000)


def _schedule(seed: int, ticks: int, **faults: float) -> Schedule:
    return Schedule(seed=seed, ticks=ticks, **faults, every=200, window=4, kill=1, tail=10)


# each mutant's scenario (the schedule of its stored run in traces/gossip/) and what must catch it
SCENARIOS = {
    mutants.MERGE_NOT_IDEMPOTENT: (3, _schedule(0, 1000, drop=0.1), "which nobody wrote"),
    mutants.OLDER_OVERWRITES_NEWER: (3, _schedule(1, 1000, crash=0.6), "went back from"),
    mutants.DELTA_SKIPS_MISSING: (
        4,
        _schedule(1, 1000, drop=0.1, duplicate=0.1, crash=0.3, partition=0.3),
        "not converged",
    ),
    mutants.SILENT_AFTER_RESTART: (3, _schedule(2, 2000, crash=0.6), "not converged"),
    mutants.PHI_WRONG_WINDOW: (3, _schedule(0, 1000, partition=0.6), "not the last 4"),
    mutants.SUSPICION_NEVER_CLEARED: (3, _schedule(2, 3000, partition=0.6), "(no Trust)"),
}


def test_every_mutant_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(mutants.BUGS)


@pytest.mark.parametrize("mutant", sorted(SCENARIOS))
def test_each_mutant_fails_its_scenario(mutant: str) -> None:
    n, schedule, caught_by = SCENARIOS[mutant]
    assert once(schedule, n, frozenset(), record=False).problem is None
    problem = once(schedule, n, frozenset({mutant}), record=False).problem
    assert problem is not None and caught_by in problem, problem


def test_a_read_of_a_value_nobody_wrote_fails_the_history_check() -> None:
    sim = gossip_cluster(3, seed=1, workload=status_workload(("k1",), every=10_000), record=False)
    sim.inject("n1", ClientRequest(("k1", "v1"), request_id=1))
    sim.inject("n1", ClientRead("k1", request_id=2))
    assert reads_written(sim) is None
    sim.nodes["n1"].entries["k1"] = Entry(9, "n9", "forged")
    sim.inject("n1", ClientRead("k1", request_id=3))
    assert "returned 'forged', never written" in (reads_written(sim) or "")


def test_a_crashed_node_nobody_suspects_fails_the_detector_check() -> None:
    phi = PhiConfig()
    sim = gossip_cluster(4, seed=2, phi=phi, record=False)
    monitor = Monitor(sim, phi)
    sim.run(until=10_000)
    sim.crash("n4")
    sim.run(until=30_000)
    assert suspected_crashed(sim, monitor) is None
    assert monitor.problem is None
    for i in ("n1", "n2", "n3"):  # forget the suspicions: the check must see it
        sim.nodes[i].detector.watches["n4"].suspected_since = None
    assert "does not suspect n4" in (suspected_crashed(sim, monitor) or "")
