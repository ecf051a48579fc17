"""Lockstep: TLC says what may happen next, Hypothesis picks it, the implementation must follow.

A `RuleBasedStateMachine` with one rule per action of specs/Raft.tla, named as the action is (one
vocabulary: the shrunk program Hypothesis prints reads `state.Timeout(...)`,
`state.HandleRequestVoteRequest(...)`). A rule is enabled when TLC's Stepper finds a successor of
the current spec state by that action (under models/Lockstep.cfg); the rule draws one of them, the
`Driver` makes the simulated cluster take the same step, and the refinement mapping of the cluster
must then equal TLC's successor state, variable for variable. Choosing the action first and the
instance second gives rare actions (a snapshot install, a served read) the same chance as a common
one whenever they are enabled.

A mismatch, or the implementation failing to take the step at all, raises `CheckFailed` with the
variables that differ and the spec path that led there (an ITF trace: every step of it is a spec
step, so it replays on the spec, and replays against the implementation as a regression test).
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import NoReturn

from hypothesis import settings as Settings

from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.impl.raft.refinement import Budget
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.lockstep import (
    LockstepBase,
    SuccessorCache,
    build_machine,
    run_machine,
)
from meshcheck.property_tests.raft.driver import Driver, bag_change, differences
from meshcheck.specs.tlc.stepper import State, Stepper, Transition
from meshcheck.traces.model import Step, Trace
from meshcheck.traces.show import format_value

ROOT = Path(__file__).resolve().parents[2]
RAFT = ROOT / "specs" / "Raft.tla"
LOCKSTEP_MODEL = Path(__file__).resolve().parent / "models" / "Lockstep.cfg"


@functools.cache
def lockstep_stepper() -> Stepper:
    """One Stepper over Raft.tla and the lockstep model per process (building one takes ~0.5 s)."""
    return Stepper(RAFT, LOCKSTEP_MODEL)


# Successors by state fingerprint (property_tests/lockstep.py says why they are kept).
successors = SuccessorCache(lockstep_stepper)


def clear_successors() -> None:
    """Forget the cached successors (a benchmark measures a cold cache)."""
    successors.clear()


def brief(record: Value) -> str:
    """A message in a few words: `AppendEntriesRequest(term=1, prevLogIndex=0, 2 entries)`."""
    if not isinstance(record, FrozenDict):
        return format_value(record)
    fields = []
    for key, value in record.items():
        if key in ("mtype", "msource", "mdest"):
            continue
        if key == "mentries" and isinstance(value, tuple):
            fields.append(f"{len(value)} entries" if len(value) != 1 else "1 entry")
        else:
            fields.append(f"{key[1:]}={format_value(value)}")
    return f"{record.get('mtype')}({', '.join(fields)})"


def describe(t: Transition, before: State) -> str:
    """The step as one line: the action instance and the message it took or sent."""
    gone, added = bag_change(before.values, t.state.values)
    name = t.action.name
    if name.startswith("Handle") or name == "DropMessage":
        detail = brief(gone[0]) if gone else ""
    elif name in ("AppendEntries", "InstallSnapshot", "DuplicateMessage"):
        detail = brief(added[0]) if added else ""
    else:
        detail = ""
    return f"{t.action.label()} {detail}".rstrip()


def path_trace(
    path: list[Step], bugs: frozenset[str], problem: tuple[str, ...], source: str = "lockstep"
) -> Trace:
    """A spec path as an ITF-ready trace: it replays on the spec (`meshcheck verify`'s traces row)
    and against the implementation (`stored.py`)."""
    meta = {
        "source": source,
        "protocol": "raft",
        "spec": "specs/Raft.tla",
        "config": str(LOCKSTEP_MODEL.relative_to(ROOT)),
        "bugs": tuple(sorted(bugs)),
        "divergence": problem,
    }
    return Trace(vars=lockstep_stepper().vars, steps=tuple(path), meta=FrozenDict(meta))


class Follower:
    """The implementation following a spec path, checked after every step both ways: its state must
    be the spec's (refinement), and what it is about to do on its own must be a step the spec
    allows (a due read timer that would answer a client needs CompleteRead(i) enabled)."""

    def __init__(self, init: State, bugs: frozenset[str], source: str = "lockstep") -> None:
        values = init.values
        servers = [str(s) for s in values["currentTerm"]]
        budget = Budget(**values["budget"])
        self.bugs = bugs
        self.source = source
        self.spec = init
        self.path: list[Step] = [Step(values)]
        self.driver = Driver(servers, budget=budget, bugs=bugs)
        self._check("the initial state", values)

    def fail(self, problem: list[str]) -> NoReturn:
        steps = [s.label() for s in self.path[1:]]
        shown = ", ".join(steps[-6:])
        message = (
            f"{self.source} diverged after {len(steps)} steps ({'... ' if len(steps) > 6 else ''}"
            f"{shown}):\n  " + "\n  ".join(problem)
        )
        trace = path_trace(self.path, self.bugs, tuple(problem), self.source)
        raise CheckFailed(message, steps=len(steps), trace=trace)

    def _check(self, after: str, want: FrozenDict) -> None:
        got = self.driver.state()
        if got != want:
            self.fail(
                [
                    f"after {after} the implementation is not in the spec's state:",
                    *differences(want, got),
                ]
            )

    def take(self, t: Transition, enabled_after: list[Transition]) -> str:
        """Take the spec's step `t` (from the current spec state); `enabled_after` are the spec's
        successors of `t.state`. Returns the step's one-line description."""
        label = describe(t, self.spec)
        after = t.state.values
        self.path.append(Step(after, t.action.name, t.action.params))
        try:
            self.driver.take(t.action.name, t.action.params, self.spec.values, after)
        except Exception as exc:  # the implementation could not take a spec step: a bug too
            self.fail([f"the implementation failed to take {label}: {type(exc).__name__}: {exc}"])
        self._check(label, after)
        self.spec = t.state
        serving = {
            str(s.action.params["i"]) for s in enabled_after if s.action.name == "CompleteRead"
        }
        for node in self.driver.about_to_serve():
            if node not in serving:
                self.fail(
                    [
                        f"after {label} {node} is about to serve a read (its read timer is due "
                        f"and would answer a client), but the spec does not allow "
                        f"CompleteRead(i={node}) here"
                    ]
                )
        return label


class RaftLockstepBase(LockstepBase):
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
        self.follower.take(t, successors(t.state))
        return t.state


def lockstep_machine(
    bugs: frozenset[str] = frozenset(), fired: Counter[str] | None = None
) -> type[LockstepBase]:
    """The lockstep machine for an implementation with `bugs` (impl/raft/mutants.py) switched on;
    `fired` counts the spec actions it took, across every example."""
    actions = tuple(lockstep_stepper().action_names)
    return build_machine("RaftLockstep", RaftLockstepBase, actions, bugs, fired)


def lockstep(
    bugs: frozenset[str], settings: Settings, *, fired: Counter[str] | None = None
) -> None:
    """The check: run the lockstep machine under `settings`; CheckFailed on a divergence."""
    run_machine(lockstep_machine(bugs, fired), settings)
