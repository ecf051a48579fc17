"""Trace validation of HotStuff free runs against specs/HotStuff.tla: the correct replicas'
recorded runs are behaviours of the spec, and a run of a mutant, or a trace changed by hand, is
not (so the judge can say no)."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import settings

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hotstuff import mutants
from meshcheck.property_tests import free_runs as shared
from meshcheck.property_tests import validation
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff import free_runs
from meshcheck.property_tests.hotstuff.validation import VALIDATION
from meshcheck.property_tests.hotstuff.validation import check_validation
from meshcheck.property_tests.hotstuff.validation import trace_validation
from meshcheck.property_tests.hotstuff.validation import validation_stepper


def test_free_runs_are_spec_behaviours() -> None:
    trace_validation(frozenset(), settings())


# (qc_of_2f_votes is not seen here: a QC formed on the second vote delivered is a spec step as
# long as a third vote was sent by then, as it is in a run without loss)
@pytest.mark.parametrize("mutant", [mutants.LOCK_NOT_UPDATED, mutants.COMMIT_ON_TWO_CHAIN])
def test_a_mutants_run_is_not_a_spec_behaviour(mutant: str) -> None:
    with pytest.raises(CheckFailed, match="not a step of the spec"):
        check_validation(Schedule(seed=1, ticks=300), frozenset({mutant}))


def test_a_lock_changed_by_hand_is_not_a_spec_step() -> None:
    schedule = Schedule(seed=1, ticks=300)
    sim = free_runs.cluster(schedule, 4, frozenset(), heal=False, record=True)
    shared.run(sim, schedule, schedule.ticks, free_runs.STORM)
    trace = sim.trace()
    stepper = validation_stepper()
    assert validation.first_bad_step(trace, stepper, VALIDATION) is None
    k = next(
        k
        for k, s in enumerate(trace.steps)
        if k
        and s.action == "Vote"
        and s.state["highQC"][s.params["i"]] != s.state["locked"][s.params["i"]]
    )
    state = trace.steps[k].state
    i = trace.steps[k].params["i"]
    locked = FrozenDict({**state["locked"], i: state["highQC"][i]})  # the lock one view too high
    steps = list(trace.steps)
    steps[k] = attrs.evolve(steps[k], state=FrozenDict({**state, "locked": locked}))
    found = validation.first_bad_step(attrs.evolve(trace, steps=tuple(steps)), stepper, VALIDATION)
    assert found is not None and found[0] == k
