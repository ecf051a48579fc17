"""The free-run checks under pytest: the correct node passes each with the loaded Hypothesis profile
(MESHCHECK_HYPOTHESIS), and each check fails on a mutant it kills (so it can fail).

The mutant tests run a few fixed examples (derandomize) and do not shrink: how short a shrunk
counterexample gets, and how fast each check kills each mutant, is `meshcheck mutants`' business.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from hypothesis import settings

from meshcheck.impl.raft import mutants
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Workload
from meshcheck.property_tests import validation
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.profiles import FEW
from meshcheck.property_tests.raft.free_runs import check_liveness
from meshcheck.property_tests.raft.free_runs import check_safety
from meshcheck.property_tests.raft.free_runs import cluster
from meshcheck.property_tests.raft.free_runs import free_run_safety
from meshcheck.property_tests.raft.free_runs import free_run_safety_any_size
from meshcheck.property_tests.raft.free_runs import liveness_after_heal
from meshcheck.property_tests.raft.validation import VALIDATION
from meshcheck.property_tests.raft.validation import first_step_not_in_spec
from meshcheck.property_tests.raft.validation import trace_validation
from meshcheck.property_tests.raft.validation import validation_model
from meshcheck.property_tests.raft.validation import validation_stepper

# FEW, a dozen fixed examples, no shrinking: enough for a mutant each check kills in one run of
# three or four (measured kill rates per run: truncate_on_stale_append 35% in safety runs,
# vote_without_log_check 27% in liveness runs, forget_voted_for 40% in trace validation).


def assert_counterexample(failed: CheckFailed) -> None:
    """The failure carries its counterexample: the trace up to the failing step."""
    assert failed.trace is not None and failed.steps > 0
    assert len(failed.trace.steps) == failed.steps + 1
    # what failed first, the schedule that reproduces it last
    assert failed.violated is not None
    assert failed.message.startswith(f"{failed.violated} violated")
    assert "; run Schedule(" in failed.message


# -- the correct node passes ----------------------------------------------------------------------


@pytest.mark.parametrize("nodes", [3, 5])
def test_free_runs_keep_raft_safe(nodes: int) -> None:
    free_run_safety(frozenset(), settings(), nodes=nodes)


def test_free_runs_of_any_size_keep_raft_safe() -> None:
    free_run_safety_any_size(frozenset(), settings())


def test_a_quorum_wrong_at_even_sizes_survives_3_and_5_nodes_and_not_a_drawn_size() -> None:
    """quorum_half_at_even_n: (n + 1) // 2 is a majority at 3 and 5 servers, half at 4 and 6 (two
    leaders of one term with disjoint halves): the fixed-size runs cannot fail on it, the runs that
    draw the size do."""
    bug = frozenset({mutants.QUORUM_HALF_AT_EVEN_N})
    free_run_safety(bug, FEW, nodes=3)
    free_run_safety(bug, FEW, nodes=5)
    with pytest.raises(CheckFailed) as failed:
        free_run_safety_any_size(bug, FEW)
    assert " violated" in failed.value.message
    assert_counterexample(failed.value)


@pytest.mark.parametrize("nodes", [3, 5])
def test_clusters_heal_once_faults_stop(nodes: int) -> None:
    liveness_after_heal(frozenset(), settings(), nodes=nodes)


def test_free_runs_are_behaviours_of_the_spec() -> None:
    trace_validation(frozenset(), settings())


# -- each check can fail --------------------------------------------------------------------------


def test_free_run_safety_fails_on_a_mutant() -> None:
    with pytest.raises(CheckFailed) as failed:
        free_run_safety(frozenset({mutants.TRUNCATE_ON_STALE_APPEND}), FEW, nodes=3)
    assert " violated" in failed.value.message
    assert_counterexample(failed.value)


def test_liveness_fails_on_a_mutant() -> None:
    """A vote that ignores the logs elects a leader without a committed write: the write, though
    acknowledged, never reaches every state machine."""
    with pytest.raises(CheckFailed) as failed:
        liveness_after_heal(frozenset({mutants.VOTE_WITHOUT_LOG_CHECK}), FEW, nodes=3)
    assert "after the faults ended" in failed.value.message
    assert_counterexample(failed.value)


def test_trace_validation_fails_on_a_mutant() -> None:
    """A restart that forgot votedFor is no Restart of the spec (which keeps it)."""
    with pytest.raises(CheckFailed) as failed:
        trace_validation(frozenset({mutants.FORGET_VOTED_FOR}), FEW)
    assert "not a step of the spec" in failed.value.message
    assert_counterexample(failed.value)


def test_a_tampered_step_is_named() -> None:
    """first_step_not_in_spec names the first step the spec does not allow: here a correct run whose
    step 10 gives s1 a term it never had."""
    schedule = Schedule(seed=3, ticks=400)
    budget = validation_model()[2]
    sim = cluster(schedule, 3, frozenset(), make=lambda n: "v1", budget=budget)
    sim.run(until=schedule.ticks)
    trace = sim.trace()
    stepper = validation_stepper()
    assert len(trace.steps) > 10 and first_step_not_in_spec(trace, stepper) is None
    steps = list(trace.steps)
    state = steps[10].state
    terms = {**state["currentTerm"], "s1": state["currentTerm"]["s1"] + 7}
    steps[10] = attrs.evolve(steps[10], state={**state, "currentTerm": terms})
    problem = first_step_not_in_spec(attrs.evolve(trace, steps=tuple(steps)), stepper)
    assert problem is not None and problem.startswith(f"step 10 {steps[10].label()}")


def test_the_walk_stops_where_a_run_spends_more_than_the_models_budget() -> None:
    """A run that drops more messages than the model's MaxDrops maps to a budget below zero: the
    walk checks up to there and stops (the rest is beyond the model), where without the bound it
    would call the first such step no step of the spec."""
    schedule = Schedule(seed=3, ticks=400)
    budget = validation_model()[2]
    sim = cluster(schedule, 3, frozenset(), make=lambda n: "v1", budget=budget)
    sim.run(until=schedule.ticks)
    trace = sim.trace()
    steps = list(trace.steps)
    for k in range(10, len(steps)):  # from step 10 on, the run has spent more drops than allowed
        state = steps[k].state
        spent = {**state["budget"], "drop": -1}
        steps[k] = attrs.evolve(steps[k], state={**state, "budget": spent})
    beyond = attrs.evolve(trace, steps=tuple(steps))
    stepper = validation_stepper()
    assert first_step_not_in_spec(beyond, stepper) is None
    unbounded = attrs.evolve(VALIDATION, in_bounds=lambda state: True)
    problem = validation.first_step_not_in_spec(beyond, stepper, unbounded)
    assert problem is not None and problem.startswith(f"step 10 {steps[10].label()}")


def test_trace_validation_runs_the_models_servers() -> None:
    with pytest.raises(ValueError, match="3 nodes"):
        trace_validation(frozenset(), FEW, nodes=5)


# -- the simulator's faults stop (Faults.until) -----------------------------------------------------


@pytest.mark.parametrize("until", [None, 1000])
def test_faults_stop_at_until(until: int | None) -> None:
    """From `until` on nothing is lost, duplicated or crashed, every node is up and no link is cut;
    without it the same run goes on failing."""
    sim = raft_cluster(
        3,
        seed=4,
        faults=Faults(drop=0.2, duplicate=0.2, delay=0.2, crash=0.6, partition=0.6, until=until),
        workload=Workload(every=20),
    )
    sim.run(until=1000)
    before = dict(sim.fault_counts)
    assert before["drop"] and before["restart"]  # there were faults
    sim.run(until=4000)
    if until is None:
        assert sim.fault_counts["drop"] > before["drop"]
        return
    assert all(sim.up.values()) and not sim.network.cut_links
    assert sim.fault_counts == before
    assert any(line.endswith("faults end") for line in sim.fault_log)


def test_liveness_measures_when_the_cluster_healed() -> None:
    """check_liveness reports when, after the faults ended, there was one leader and when everything
    was applied; both within the bounds."""
    healing = check_liveness(
        Schedule(seed=9, ticks=1500, drop=0.1, crash=0.6, partition=0.6, max_entries=1),
        3,
        frozenset(),
    )
    assert 0 <= healing.leader <= healing.converged


# -- the leader's bookkeeping: each property kills a mutant of its own ----------------------------

# (mutant, the check, a schedule on which it fails, the property it fails first); each schedule was
# found by the check's Hypothesis run on the mutant (30 to 200 examples)
BOOKKEEPING = [
    (mutants.STALE_MATCH_INDEX, check_safety, Schedule(seed=0, ticks=500), "MatchIndexMonotonic"),
    (
        mutants.COMMIT_INDEX_LOWERED,
        check_safety,
        Schedule(
            seed=186409,
            ticks=1000,
            drop=0.1,
            duplicate=0.05,
            delay=0.05,
            partition=0.6,
            one_way=1.0,
            every=10,
            snapshot_interval=5,
            max_entries=1,
        ),
        "CommitIndexMonotonic",
    ),
    (mutants.MATCH_PAST_LAST, check_safety, Schedule(seed=0, ticks=500), "MatchIndexBounded"),
    (
        mutants.BACKUP_BELOW_MATCH,
        check_safety,
        Schedule(
            seed=0,
            ticks=2900,
            drop=0.05,
            duplicate=0.02,
            delay=0.05,
            crash=0.3,
            partition=0.1,
            one_way=0.5,
            every=10,
            reads=0.5,
            snapshot_interval=5,
            down=(1, 100),
        ),
        "NextIndexAboveMatch",
    ),
    (
        mutants.COMMIT_STOPS_AT_OLDER_TERM,
        check_liveness,
        Schedule(
            seed=297,
            ticks=2500,
            duplicate=0.05,
            delay=0.05,
            partition=0.3,
            one_way=0.5,
            snapshot_interval=9,
        ),
        "LeaderCommitsStoredEntries",
    ),
]


@pytest.mark.parametrize(
    ("bug", "check", "schedule", "name"), BOOKKEEPING, ids=[b[0] for b in BOOKKEEPING]
)
def test_each_bookkeeping_property_kills_its_mutant(
    bug: str, check: Callable[..., object], schedule: Schedule, name: str
) -> None:
    """The run passes on the reference core and fails on the mutant, by the property's name."""
    check(schedule, 3, frozenset())
    with pytest.raises(CheckFailed) as failed:
        check(schedule, 3, frozenset({bug}))
    assert failed.value.violated is not None and name in failed.value.violated.name
    assert failed.value.message.startswith(f"{failed.value.violated} violated")
    assert_counterexample(failed.value)
