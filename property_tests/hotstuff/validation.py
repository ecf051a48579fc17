"""Trace validation: every step of a free run of impl/hotstuff is a step of specs/HotStuff.tla.

A free run of four honest replicas under faults (loss, duplication, delay, crash-restart,
partitions) records its trace in the spec's vocabulary: the refinement mapping after each spec
action (impl/hotstuff/refinement.py) and the action the replica named. TLC (through the Stepper, in
this process) is the judge: the first state must be an initial state, each next state a successor
of the one before by the action instance the trace names, and no invariant of models/Validate.cfg
may fail, until the first state beyond the model's views (property_tests/validation.py); in
Python, no step may move a lock down (LockMonotonic, transitions.py). This sees
what the monitor of the free runs does not: a step whose guard or effect on the spec's variables
differs from the spec's (a lock moved from the wrong block, a view entered that the spec does not
enter, a NEW-VIEW for the wrong view, a QC formed by the wrong leader).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.trace import Step
from meshcheck.property_tests import free_runs as shared
from meshcheck.property_tests import validation
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import fault_schedules
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.harness import cached_stepper
from meshcheck.property_tests.harness import resource
from meshcheck.property_tests.hotstuff import free_runs
from meshcheck.property_tests.hotstuff.transitions import broken

if TYPE_CHECKING:
    from meshcheck.specs.tlc.stepper import Stepper

SPEC = resource("meshcheck.specs", "HotStuff.tla")
MODEL = resource("meshcheck.property_tests.hotstuff", "models", "Validate.cfg")
VALIDATION_TICKS = (200, 800)


def validation_model() -> dict[str, Any]:
    return validation.model_constants(MODEL)


def validation_stepper() -> Stepper:
    """The Stepper over HotStuff.tla with models/Validate.cfg (built once per process)."""
    return cached_stepper(SPEC, MODEL)


def in_bounds(state: Any) -> bool:
    """Whether a state lies inside the model: no replica beyond its last view."""
    return bool(max(state["view"].values()) <= validation_model()["MaxView"])


def transitions(before: Step, after: Step) -> list[str]:
    """HotStuff.tla's action property the step into `after` breaks (transitions.py `broken`)."""
    return broken(before.state, after.state)


VALIDATION = validation.Validation(in_bounds=in_bounds, transitions=transitions)


def check_validation(schedule: Schedule, bugs: frozenset[str]) -> None:
    """One recorded free run of the model's replicas: its trace is a behaviour of the spec."""
    n = validation_model()["N"]
    sim = free_runs.cluster(schedule, n, bugs, heal=False, record=True)
    storm = shared.run(sim, schedule, schedule.ticks, free_runs.STORM)
    trace = sim.trace()
    validation.check_run(trace, schedule, validation_stepper(), VALIDATION, "HotStuff.tla", storm)


def validation_schedules() -> st.SearchStrategy[Schedule]:
    return fault_schedules(
        *VALIDATION_TICKS, one_way=None, every=(25, 50), byzantine=st.just({}), batch=st.just(4)
    )


def trace_validation(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: every free run (with the mutants `bugs`) is a behaviour of specs/HotStuff.tla
    under models/Validate.cfg."""

    @share(settings, 1 / 8)
    @given(validation_schedules())
    def runs_are_spec_behaviours(schedule: Schedule) -> None:
        check_validation(schedule, bugs)

    runs_are_spec_behaviours()
