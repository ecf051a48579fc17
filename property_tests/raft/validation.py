"""Trace validation: every step of a free run of impl/raft is a step of specs/Raft.tla.

A free run under faults (free_runs.py's schedules) records its trace in the spec's vocabulary, and
property_tests/validation.py walks it with TLC as the judge. This catches what the safety invariants alone cannot: a node that takes a step the protocol does not
allow (votes twice, appends what it should not) without breaking an invariant yet.

The spec's handlers (and DropMessage, DuplicateMessage) choose their message inside the action, so TLC's
action instance is `HandleAppendEntriesRequest(i, j)` where the trace says which message: the step is
checked against that instance's successors (one per message it could take), and, should none match,
against every action's (`Stepper.find_step`), as the hand-written test in tests/test_raft_impl.py does.
The safety invariants are also checked in Python on every state, and the action properties on
every step (safety.py).

The model is models/Validate.cfg: three servers, values v1 and v2, bounds far beyond a run's; the
run's refinement mapping counts its budgets down from the same Max* constants (`validation_model`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

import hypothesis
from hypothesis import given

from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.raft import Budget
from meshcheck.property_tests import validation
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.harness import cached_stepper
from meshcheck.property_tests.harness import resource
from meshcheck.property_tests.raft.free_runs import cluster
from meshcheck.property_tests.raft.free_runs import run
from meshcheck.property_tests.raft.free_runs import schedules
from meshcheck.property_tests.raft.safety import broken
from meshcheck.property_tests.raft.safety import violated
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.specs.tlc.stepper import ActionInstance

if TYPE_CHECKING:
    from meshcheck.specs.tlc.stepper import Stepper

MODEL = resource("meshcheck.property_tests.raft", "models", "Validate.cfg")

# TLC judges each step: about 0.6 ms a step once the JVM is warm (several times that on a loaded
# machine), a step every 2 to 5 ticks. Runs as long as the free runs' (the Figure 8 mutant shows only
# in some runs, more often in longer ones), and still about 5 s for the ci profile's 60 examples.
VALIDATION_TICKS = (200, 3000)


def validation_stepper() -> Stepper:
    """The process's one Stepper over Raft.tla with models/Validate.cfg (loading TLC costs seconds).
    Not thread-safe, as no Stepper is; it lives until the process ends."""
    return cached_stepper(resource("meshcheck.specs", "Raft.tla"), MODEL)


@functools.cache
def validation_model() -> tuple[int, tuple[str, ...], Budget]:
    """The model's number of servers, its values, and its budgets as the refinement mapping's Budget."""
    constants = read_cfg(MODEL).values()
    budget = Budget(
        fault=constants["MaxFaults"],
        restart=constants["MaxRestarts"],
        drop=constants["MaxDrops"],
        duplicate=constants["MaxDuplicates"],
        snapshot=constants["MaxSnapshots"],
    )
    return len(constants["Server"]), tuple(sorted(constants["Value"])), budget


def instance(step: Step) -> ActionInstance:
    """TLC's action instance of a step: the handlers' and the network faults' message is no
    parameter of it."""
    return ActionInstance(step.action, {p: v for p, v in step.params.items() if p != "m"})


def in_bounds(state: Mapping[str, Any]) -> bool:
    """Whether a state lies inside the model: the refinement mapping counts the model's budgets
    down and goes on below zero once a run spends more (a run of more drops than MaxDrops); the
    walk stops there, as at PBFT's bounds, rather than calling the next step no step of the spec."""
    budget = state.get("budget")
    return budget is None or all(left >= 0 for left in budget.values())


def transitions(before: Step, after: Step) -> list[str]:
    """Raft.tla's action properties the step into `after` breaks (safety.py `broken`)."""
    return broken(before.state, after.state, after.action, after.params)


VALIDATION = validation.Validation(
    instance=instance,
    find_step=True,
    invariants=violated,
    in_bounds=in_bounds,
    transitions=transitions,
)


def first_step_not_in_spec(trace: Trace, stepper: Stepper) -> str | None:
    """None if the trace is a behaviour of the stepper's spec and model; else what went wrong, and
    where."""
    return validation.first_step_not_in_spec(trace, stepper, VALIDATION)


def check_validation(schedule: Schedule, bugs: frozenset[str]) -> None:
    """One free run of the model's servers: its trace is a behaviour of the spec."""
    nodes, values, budget = validation_model()
    sim = cluster(
        schedule, nodes, bugs, make=lambda n: values[(n - 1) % len(values)], budget=budget
    )
    overload = run(sim, schedule, schedule.ticks)
    trace = sim.trace()
    validation.check_run(trace, schedule, validation_stepper(), VALIDATION, "Raft.tla", overload)


def trace_validation(
    bugs: frozenset[str], settings: hypothesis.settings, *, nodes: int = 3
) -> None:
    """Hypothesis: every free run of `nodes` servers (with the mutants `bugs`) is a behaviour of
    specs/Raft.tla under models/Validate.cfg (which fixes the number of servers)."""
    if nodes != validation_model()[0]:
        raise ValueError(
            f"trace validation runs {validation_model()[0]} nodes (models/Validate.cfg)"
        )

    @settings
    @given(schedules(*VALIDATION_TICKS))
    def runs_are_spec_behaviours(schedule: Schedule) -> None:
        check_validation(schedule, bugs)

    runs_are_spec_behaviours()
