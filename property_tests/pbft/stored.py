"""Stored traces replayed against the implementation: the regression corpus under traces/pbft/.

Each file is a spec path that once showed a bug: the 1-minimal counterexample of a lockstep run
against a mutant (`meshcheck mutants pbft --save traces` writes them). Every step of it is a step of
specs/PBFT.tla (`meshcheck verify` replays it on the spec), so the correct implementation must follow
it to the end, and the mutant named in its `#meta.bugs` must still diverge on it: a replay that
stops catching its mutant means the implementation or the spec moved, and the trace must be renewed.

Replaying goes through the same `Follower` as lockstep (with the same deliveries and temptations:
the driver is deterministic), after TLC confirms that each step is the named action's successor.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import settings as Settings

from meshcheck.impl.base.errors import TraceFormatError
from meshcheck.property_tests.pbft.lockstep import ROOT, Follower, PathMismatch, lockstep_stepper
from meshcheck.specs.tlc.stepper import ActionInstance, Transition
from meshcheck.traces import itf
from meshcheck.traces.model import Trace

CORPUS = ROOT / "traces" / "pbft"


def corpus() -> list[Path]:
    """The stored PBFT traces, in a stable order."""
    return sorted(CORPUS.glob("*.itf.json"))


def replay_on_impl(trace: Trace, bugs: frozenset[str], *, where: str = "trace") -> int:
    """Make the implementation (with `bugs`) follow `trace`; the number of steps it followed.
    CheckFailed when it diverges; TraceFormatError when the trace is not a path of the spec, or
    not one the implementation can be driven along."""
    stepper = lockstep_stepper()
    if tuple(trace.vars) != stepper.vars:
        raise TraceFormatError(where, "vars", f"not the variables of PBFT.tla: {trace.vars}")
    states = [stepper.state(step.state) for step in trace.steps]
    if not states or states[0] not in stepper.init_states():
        raise TraceFormatError(where, "states[0]", "not the initial state of PBFT.tla")
    follower = Follower(states[0], bugs, source=f"replay of {Path(where).name}", replay=True)
    for k in range(1, len(states)):
        step = trace.steps[k]
        action = ActionInstance(step.action, step.params)
        if states[k] not in stepper.successors_of(states[k - 1], action):
            raise TraceFormatError(
                where, f"states[{k}]", f"{action.label()} does not lead here from states[{k - 1}]"
            )
        try:
            follower.take(Transition(action, states[k]))
        except PathMismatch as exc:
            raise TraceFormatError(where, f"states[{k}]", str(exc)) from exc
    return len(states) - 1


def stored_traces(bugs: frozenset[str], settings: Settings | None = None) -> None:
    """The check: every stored trace, followed by the implementation with `bugs` (settings unused:
    the corpus is fixed). CheckFailed on the first divergence."""
    for path in corpus():
        replay_on_impl(itf.read(path), bugs, where=str(path))


def expected_kill(path: Path) -> frozenset[str]:
    """The mutant a stored trace was written for (its `#meta.bugs`)."""
    bugs = itf.read(path).meta.get("bugs", ())
    return frozenset(str(b) for b in bugs) if isinstance(bugs, tuple) else frozenset()
