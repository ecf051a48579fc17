"""Trace validation: every step of a free run of impl/raft is a step of specs/Raft.tla.

A free run under faults (free_runs.py's schedules) records its trace in the spec's vocabulary: the
refinement mapping of the cluster after each step, and the action the step was. TLC (through the
Stepper, in this process) is the judge: the first state must be an initial state, each next state a
successor of the one before by the action the trace names, and no invariant of the model may fail.
This catches what the safety invariants alone cannot: a node that takes a step the protocol does not
allow (votes twice, appends what it should not) without breaking an invariant yet.

The spec's handlers (and DropMessage, DuplicateMessage) choose their message inside the action, so TLC's
action instance is `HandleAppendEntriesRequest(i, j)` where the trace says which message: the step is
checked against that instance's successors (one per message it could take), and, should none match,
against every action's (`Stepper.find_step`), as the hand-written test in tests/test_raft_impl.py does.
The successor that matches is TLC's own state, and the next step starts from it: only the initial
state is built from Python values, which halves the cost of a step.

The model is models/Validate.cfg: three servers, values v1 and v2, bounds far beyond a run's; the
run's refinement mapping counts its budgets down from the same Max* constants (`validation_model`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import hypothesis
from hypothesis import given

from meshcheck.impl.base.values import Value
from meshcheck.impl.raft import Budget
from meshcheck.property_tests.raft.free_runs import Schedule, failure, run, schedules
from meshcheck.property_tests.raft.safety import violated
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.traces.model import Trace

if TYPE_CHECKING:
    from meshcheck.specs.tlc.stepper import State, Stepper

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "Raft.tla"
MODEL = Path(__file__).resolve().parent / "models" / "Validate.cfg"

# TLC judges each step: about 0.6 ms a step once the JVM is warm (several times that on a loaded
# machine), a step every 2 to 5 ticks. Runs as long as the free runs' (the Figure 8 mutant shows only
# in some runs, more often in longer ones), and still about 5 s for the ci profile's 60 examples.
VALIDATION_TICKS = (200, 3000)


@functools.cache
def validation_stepper() -> Stepper:
    """The process's one Stepper over Raft.tla with models/Validate.cfg (loading TLC costs seconds).
    Not thread-safe, as no Stepper is; it lives until the process ends."""
    from meshcheck.specs.tlc.stepper import Stepper

    return Stepper(SPEC, MODEL)


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


def first_step_not_in_spec(trace: Trace, stepper: Stepper) -> str | None:
    """None if the trace is a behaviour of the stepper's spec and model (see the module's docstring);
    else what went wrong, and where."""
    found = _first_bad_step(trace, stepper)
    if found is None:
        return None
    k, problem = found
    step = trace.steps[k]
    return f"step {k} {step.label()} at {dict(step.meta)}: {problem}"


# TLC evaluates the model's invariants (TypeOK and VolatileNormalForm besides the safety ones) every
# this many steps and on the last state, and on every state between when one breaks, to name the
# first. The safety invariants are evaluated on every state in Python (safety.py), at a fraction of
# the cost. What a sparser TLC look could miss is a TypeOK or VolatileNormalForm breach that heals
# within the window, in a state reached by spec steps only: a fault of the spec, which its own model
# checking looks for, more than of the implementation.
TLC_INVARIANTS_EVERY = 25


def _first_bad_step(trace: Trace, stepper: Stepper) -> tuple[int, str] | None:
    """(k, what is wrong) for the first step k that is not a spec step or breaks an invariant."""
    from meshcheck.specs.tlc.stepper import ActionInstance

    actions = frozenset(stepper.actions)
    steps = trace.steps
    before = stepper.state(steps[0].state)
    if before not in stepper.init_states():
        return 0, "not an initial state"
    states = [before]  # TLC's states of the steps so far
    checked = -1  # the last step whose state TLC's invariants were evaluated on
    for k in range(len(steps)):
        if k:
            step = steps[k]
            named = ActionInstance(step.action, step.params)
            # The handlers' and the network faults' message is no parameter of TLC's instance.
            bound = ActionInstance(step.action, {p: v for p, v in step.params.items() if p != "m"})
            instance = named if named in actions else bound if bound in actions else None
            after = None
            if instance is not None:
                successors = stepper.successors_of(before, instance)
                after = _matching(successors, step.state, trace.changed(k))
            if after is None and instance is not named:
                after = stepper.state(step.state)
                taken = stepper.find_step(before, after)
                if taken is None or taken.action.name not in (step.action, "Next"):
                    after = None
            if after is None:
                return k, "not a step of the spec"
            states.append(after)
            before = after
        names = violated(steps[k].state, steps[k - 1].state if k else None)
        if names:
            return k, f"violates {', '.join(names)}"
        if k % TLC_INVARIANTS_EVERY == 0 or k == len(steps) - 1:
            if stepper.violated(states[k]):
                first = next(j for j in range(checked + 1, k + 1) if stepper.violated(states[j]))
                return first, f"violates {', '.join(stepper.violated(states[first]))}"
            checked = k
    return None


def _matching(
    candidates: list[State], values: Mapping[str, Value], changed: frozenset[str]
) -> State | None:
    """The candidate whose variables equal `values`: TLC's own state, so the next step's successors
    need no state built from Python. Compares the variables the step changed first (most candidates
    differ there), each converted from TLC only when compared."""
    order = [*changed, *(v for v in values if v not in changed)]
    for candidate in candidates:
        if all(candidate[v] == values[v] for v in order):
            return candidate
    return None


def check_validation(schedule: Schedule, bugs: frozenset[str]) -> None:
    """One free run of the model's servers: its trace is a behaviour of the spec."""
    nodes, values, budget = validation_model()
    sim = schedule.cluster(nodes, bugs, make=lambda n: values[(n - 1) % len(values)], budget=budget)
    overload = run(sim, schedule, schedule.ticks)
    trace = sim.trace()
    found = _first_bad_step(trace, validation_stepper())
    if found is not None:
        at, message = found
        raise failure(message, schedule, trace, at)
    if overload is not None:
        raise failure(overload, schedule, trace)


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
