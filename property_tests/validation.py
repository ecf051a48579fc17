"""Trace validation, the walk every protocol shares: each step of a free run's trace must be a step
of the spec, and no invariant may fail.

A free run records its trace in the spec's vocabulary: the refinement mapping after each step and
the action the step was. TLC (through the Stepper, in this process) is the judge: the first state
must be an initial state, each next state a successor of the one before by the action instance the
trace names, and no invariant of the model may fail. The successor that matches is TLC's own state,
and the next step starts from it: only the initial state is built from Python values, which halves
the cost of a step.

What is the protocol's (`Validation`): which action instance a step of the trace is (Raft's handlers
choose their message inside the action, so the trace's `m` is no parameter of TLC's instance),
whether a step that matches no successor of its instance may be looked for among every action's
(`Stepper.find_step`), the invariants checked in Python on every state and the action properties on
every pair of consecutive states, and where the model's bounds
end (PBFT: views and sequence numbers; what lies beyond is not checked).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import attrs

from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import Value
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import failure
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.violated import REFINEMENT
from meshcheck.violated import Violated

if TYPE_CHECKING:
    from meshcheck.specs.tlc.stepper import State
    from meshcheck.specs.tlc.stepper import Stepper

# TLC evaluates the model's invariants every this many steps and on the last state, and on every
# state between when one breaks, to name the first. The invariants checked in Python
# (`Validation.invariants`) are evaluated on every state, at a fraction of the cost. What a sparser
# TLC look could miss is a breach of the others (TypeOK, a normal form) that heals within the
# window, in a state reached by spec steps only: a fault of the spec, which its own model checking
# looks for, more than of the implementation.
TLC_INVARIANTS_EVERY = 25


def _exact(step: Step) -> ActionInstance:
    return ActionInstance(step.action, step.params)


def _none(state: Mapping[str, Value], before: Mapping[str, Value] | None) -> list[str]:
    return []


def _everywhere(state: Mapping[str, Any]) -> bool:
    return True


def _no_transition(before: Step, after: Step) -> list[str]:
    return []


@attrs.frozen
class Validation:
    """What the walk needs of a protocol (see the module)."""

    # the action instance a step names (default: its action and parameters as they are)
    instance: Callable[[Step], ActionInstance] = _exact
    # look among every action's successors when the instance's do not match (Stepper.find_step)
    find_step: bool = False
    # the invariants broken in a state (and the step into it), checked in Python on every state
    invariants: Callable[[Mapping[str, Value], Mapping[str, Value] | None], list[str]] = _none
    # whether a state of the run lies inside the model: the walk stops at the first that does not
    in_bounds: Callable[[Mapping[str, Any]], bool] = _everywhere
    # the action properties a step (the one before, the one taken) breaks, checked in Python on
    # every pair of consecutive states (TLC checks them of the spec's own steps in its models)
    transitions: Callable[[Step, Step], list[str]] = _no_transition


_INSTANCES: dict[int, frozenset[ActionInstance]] = {}


def _instances(stepper: Stepper) -> frozenset[ActionInstance]:
    """The stepper's action instances as a set (thousands of them: a tuple is slow to search)."""
    found = _INSTANCES.get(id(stepper))
    if found is None:
        found = _INSTANCES[id(stepper)] = frozenset(stepper.actions)
    return found


def matching(
    candidates: list[State], values: Mapping[str, Value], changed: frozenset[str]
) -> State | None:
    """The candidate whose variables equal `values`: TLC's own state. Compares the variables the
    step changed first (most candidates differ there), each converted from TLC only when compared."""
    order = [*sorted(changed), *sorted(v for v in values if v not in changed)]
    for candidate in candidates:
        if all(candidate[v] == values[v] for v in order):
            return candidate
    return None


def _nearest(successors: list[State] | None, values: Mapping[str, Value]) -> str:
    """Why a step matched none of its action instance's successors, for the failure message:
    the instance is not enabled (a guard the implementation does not share), or the variables in
    which its nearest successor differs (an effect it does not share)."""
    if successors is None:
        return ""
    if not successors:
        return " (its action is not enabled in the state before)"
    nearest = min(
        ([v for v in sorted(values) if candidate[v] != values[v]] for candidate in successors),
        key=len,
    )
    return f" (its action's nearest successor differs in {', '.join(nearest)})"


def first_bad_step(
    trace: Trace, stepper: Stepper, validation: Validation = Validation()
) -> tuple[int, str] | None:
    """(k, what is wrong) for the first step k that is not a spec step or breaks an invariant;
    None if the trace (up to its first state outside the model's bounds) is a behaviour of it."""
    actions = _instances(stepper)
    steps = trace.steps
    before = stepper.state(steps[0].state)
    if before not in stepper.init_states():
        return 0, "not an initial state"
    states = [before]  # TLC's states of the steps so far
    checked = -1  # the last step whose state TLC's invariants were evaluated on
    for k in range(len(steps)):
        step = steps[k]
        if k:
            if not validation.in_bounds(step.state):
                break  # the rest of the run is beyond the model: what was checked stands
            instance = validation.instance(step)
            known = instance in actions
            if not known and not validation.find_step:
                return k, f"{step.label()} is no action of the spec"
            after = None
            successors: list[State] | None = None
            if known:
                successors = stepper.successors_of(before, instance)
                after = matching(successors, step.state, trace.changed(k))
            if after is None and validation.find_step and (not known or instance != _exact(step)):
                after = stepper.state(step.state)
                taken = stepper.find_step(before, after)
                if taken is None or taken.action.name not in (step.action, "Next"):
                    after = None
            if after is None:
                return k, "not a step of the spec" + _nearest(successors, step.state)
            states.append(after)
            before = after
        names = validation.invariants(step.state, steps[k - 1].state if k else None)
        if k:
            names = names + validation.transitions(steps[k - 1], step)
        if names:
            return k, f"violates {', '.join(names)}"
        last = k == len(steps) - 1 or not validation.in_bounds(steps[k + 1].state)
        if k % TLC_INVARIANTS_EVERY == 0 or last:
            if stepper.violated(states[k]):
                first = next(j for j in range(checked + 1, k + 1) if stepper.violated(states[j]))
                return first, f"violates {', '.join(stepper.violated(states[first]))}"
            checked = k
    return None


@functools.cache
def model_constants(model: Path) -> dict[str, Any]:
    """A validation model's constants (read once per process)."""
    return dict(read_cfg(model).values())


def check_run(
    trace: Trace,
    schedule: Schedule,
    stepper: Stepper,
    validation: Validation,
    spec: str,
    overload: str | None = None,
) -> None:
    """The verdict on a recorded free run of `schedule`: CheckFailed (`free_runs.failure`) when its
    `trace` is no behaviour of `spec` (refinement violated, at the first bad step), else when the
    run went past its storm bound (`overload`: what cut it short)."""
    found = first_bad_step(trace, stepper, validation)
    if found is not None:
        at, message = found
        raise failure(message, schedule, trace, at, violated=Violated(REFINEMENT, spec))
    if overload is not None:
        raise failure(overload, schedule, trace)


def first_step_not_in_spec(
    trace: Trace, stepper: Stepper, validation: Validation = Validation()
) -> str | None:
    """None if the trace is a behaviour of the stepper's spec and model; else what went wrong, and
    where (for tests that check a hand-made run)."""
    found = first_bad_step(trace, stepper, validation)
    if found is None:
        return None
    k, problem = found
    step = trace.steps[k]
    return f"step {k} {step.label()} at {dict(step.meta)}: {problem}"
