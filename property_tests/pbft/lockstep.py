"""Lockstep of impl/pbft against specs/PBFT.tla: TLC says what may happen next, Hypothesis picks it,
the implementation must follow (the machine's skeleton is property_tests/lockstep.py).

One rule per spec action (`state.Prepare(...)`, `state.NewView(...)`), enabled when TLC's Stepper
finds a successor by it under models/Lockstep.cfg (four replicas, r1 Byzantine: the primary of
view 0 equivocates whenever the driver has it sign two pre-prepares). The `Driver` makes the group
take the step (driver.py: deliveries, then the replica's reaction), and the refinement mapping
must then equal TLC's successor state, variable for variable.

One event of the implementation may be more than one spec step: a replica's step holds at most one
action that changes its state, first, and then any actions that only send (impl/pbft/actions.py):
a new primary pre-prepares the requests it knew of right after its NEW-VIEW, a backup prepares
the pre-prepares that a moving window brought in. The simulator records each such action as a
step of its own; the first must be the spec's step, and every later one must be a step the spec
allows from there (TLC checks each; a Commit the spec does not allow yet is how a quorum of 2f
shows). The spec path then continues from where the implementation got to.

A mismatch, the implementation acting before the spec's guard holds, or failing to take the step,
raises `CheckFailed` with the variables that differ and the spec path that led there (an ITF
trace: every step of it is a spec step, so it replays on the spec, and against the implementation
as a regression test).
"""

from __future__ import annotations

import functools
from collections import Counter, deque
from pathlib import Path
from typing import NoReturn

from hypothesis import reject
from hypothesis import settings as Settings

from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.lockstep import (
    LockstepBase,
    SuccessorCache,
    build_machine,
    differences,
    run_machine,
)
from meshcheck.property_tests.pbft.driver import Driver
from meshcheck.property_tests.pbft.model import Model
from meshcheck.specs.tlc.stepper import ActionInstance, State, Stepper, Transition
from meshcheck.traces.model import Step, Trace
from meshcheck.traces.show import format_value

ROOT = Path(__file__).resolve().parents[2]
PBFT = ROOT / "specs" / "PBFT.tla"
LOCKSTEP_MODEL = Path(__file__).resolve().parent / "models" / "Lockstep.cfg"


@functools.cache
def lockstep_stepper() -> Stepper:
    """One Stepper over PBFT.tla and the lockstep model per process (building one takes seconds)."""
    return Stepper(PBFT, LOCKSTEP_MODEL)


@functools.cache
def lockstep_model() -> Model:
    return Model.from_cfg(LOCKSTEP_MODEL)


successors = SuccessorCache(lockstep_stepper)


def clear_successors() -> None:
    """Forget the cached successors (a benchmark measures a cold cache)."""
    successors.clear()


def brief(rec: Value) -> str:
    """A message in a few words: `Prepare(view=0, seq=1, req="a", src="r2")`."""
    if not isinstance(rec, FrozenDict):
        return format_value(rec)
    fields = [f"{k}={format_value(v)}" for k, v in rec.items() if k != "type"]
    return f"{rec.get('type')}({', '.join(fields)})"


def describe(t: Transition, before: State) -> str:
    """The step as one line: the action instance and what it sent."""
    new, old = t.state["msgs"], before["msgs"]
    added = (
        sorted(new - old, key=repr)
        if isinstance(new, frozenset) and isinstance(old, frozenset)
        else []
    )
    if not added:
        return t.action.label()
    more = f" and {len(added) - 1} more" if len(added) > 1 else ""
    return f"{t.action.label()} {brief(added[0])}{more}"


def path_trace(
    path: list[Step], bugs: frozenset[str], problem: tuple[str, ...], source: str
) -> Trace:
    """A spec path as an ITF-ready trace: it replays on the spec (`meshcheck verify`'s traces row)
    and against the implementation (`stored.py`)."""
    meta = {
        "source": source,
        "protocol": "pbft",
        "spec": "specs/PBFT.tla",
        "config": str(LOCKSTEP_MODEL.relative_to(ROOT)),
        "bugs": tuple(sorted(bugs)),
        "divergence": problem,
    }
    return Trace(vars=lockstep_stepper().vars, steps=tuple(path), meta=FrozenDict(meta))


def beyond_max_seq(before: FrozenDict, after: FrozenDict) -> bool:
    """Whether `after` holds a message `before` did not, at a sequence number past MaxSeq."""
    limit = lockstep_model().max_seq
    new = set(after["msgs"]) - set(before["msgs"])
    return any(isinstance(m, FrozenDict) and int(m.get("seq", 0)) > limit for m in new)


class PathMismatch(Exception):
    """A given path (a stored trace, a minimizer's candidate) that the implementation cannot be
    made to follow: it took a spec step of its own that the path does not take next. Not a bug of
    the implementation: the path is one it need not follow."""


class Follower:
    """The implementation following a spec path, checked after every step.

    `replay`: the path is given in advance (a stored trace, a minimizer's candidate), and the
    spec steps the implementation takes on its own within one event are expected next in it."""

    def __init__(
        self, init: State, bugs: frozenset[str], source: str = "lockstep", *, replay: bool = False
    ) -> None:
        self.bugs = bugs
        self.source = source
        self.spec = init
        self.path: list[Step] = [Step(init.values)]
        self.driver = Driver(lockstep_model(), bugs=bugs)
        self.replay = replay
        self.ahead: deque[Transition] = deque()
        got = self.driver.state()
        if got != init.values:
            self.fail(["the initial state differs:", *differences(init.values, got)])

    def fail(self, problem: list[str]) -> NoReturn:
        steps = [s.label() for s in self.path[1:]]
        shown = ", ".join(steps[-6:])
        message = (
            f"{self.source} diverged after {len(steps)} steps ({'... ' if len(steps) > 6 else ''}"
            f"{shown}):\n  " + "\n  ".join(problem)
        )
        trace = path_trace(self.path, self.bugs, tuple(problem), self.source)
        raise CheckFailed(message, steps=len(steps), trace=trace)

    def take(self, t: Transition) -> str:
        """Take the spec's step `t` from the current spec state; its one-line description. After
        it, `spec` is where the implementation got to (t.state, or further: see the module)."""
        if self.ahead:
            early = self.ahead.popleft()
            if early.action == t.action and early.state == t.state:
                return f"{t.action.label()} (taken with the step before)"
            raise PathMismatch(
                f"the implementation took {early.action.label()} on its own; the path takes "
                f"{t.action.label()} next"
            )
        label = describe(t, self.spec)
        self.path.append(Step(t.state.values, t.action.name, t.action.params))
        start = len(self.driver.sim.trace().steps)
        try:
            self.driver.take(t.action.name, t.action.params, self.spec.values, t.state.values)
        except Exception as exc:  # the implementation could not take a spec step: a bug too
            self.fail([f"the implementation failed to take {label}: {type(exc).__name__}: {exc}"])
        taken = self.driver.sim.trace().steps[start:]
        want = t.state.values
        if not taken:
            self.fail([f"the implementation did not take {label}: nothing the spec sees changed"])
        first = taken[0]
        if (first.action, first.params) != (t.action.name, t.action.params):
            self.fail(
                [
                    f"where the spec took {label}, the implementation took {first.label()}:",
                    *differences(want, first.state),
                ]
            )
        if first.state != want:
            self.fail(
                [
                    f"after {label} the implementation is not in the spec's state:",
                    *differences(want, first.state),
                ]
            )
        state = t.state
        stepper = lockstep_stepper()
        for step in taken[1:]:
            action = ActionInstance(step.action, step.params)
            found = [s for s in stepper.successors_of(state, action) if s.values == step.state]
            if not found and not self.replay and beyond_max_seq(state.values, step.state):
                # the implementation went on past the model's MaxSeq, a bound of the model and not
                # of the protocol (a primary pre-prepares what its window allows): this example has
                # left the model, so it is discarded, not failed
                reject()
            if not found:
                self.fail(
                    [
                        f"after {label} the implementation also took {step.label()} in the same "
                        f"event, which the spec does not allow there"
                        + ("" if action in stepper.actions else " (no such action instance)"),
                        *differences(state.values, step.state),
                    ]
                )
            state = found[0]
            self.path.append(Step(state.values, action.name, action.params))
            if self.replay:
                self.ahead.append(Transition(action, state))
        self.spec = state
        return label


class PbftLockstepBase(LockstepBase):
    """The machine; `lockstep_machine` adds one rule per spec action."""

    def start(self) -> State:
        (init,) = lockstep_stepper().init_states()
        self.follower = Follower(init, self.bugs)
        return init

    def successors(self, state: State) -> list[Transition]:
        return successors(state)

    def describe(self, t: Transition) -> str:
        return describe(t, self.follower.spec)

    def follow(self, t: Transition) -> State:
        self.follower.take(t)
        return self.follower.spec


def lockstep_machine(
    bugs: frozenset[str] = frozenset(), fired: Counter[str] | None = None
) -> type[LockstepBase]:
    """The lockstep machine for an implementation with `bugs` (impl/pbft/mutants.py) switched on;
    `fired` counts the spec actions it chose, across every example."""
    actions = tuple(lockstep_stepper().action_names)
    return build_machine("PbftLockstep", PbftLockstepBase, actions, bugs, fired)


def lockstep(
    bugs: frozenset[str], settings: Settings, *, fired: Counter[str] | None = None
) -> None:
    """The check: run the lockstep machine under `settings`; CheckFailed on a divergence."""
    run_machine(lockstep_machine(bugs, fired), settings)
