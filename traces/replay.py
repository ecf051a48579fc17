"""Replaying a stored trace against its spec: is every step of it a step the spec allows?

A model trace (a TLC counterexample) names its spec and model in its top-level `#meta` (`spec`,
`config`, paths relative to the project root or absolute). Replaying it asks TLC, through the Stepper,
whether the first state is an initial state and whether each next state is a successor of the one
before under the action the trace names (with its parameters); for a lasso, whether the last state
steps back to the state the loop names; and for an invariant violation, whether the last state still
violates that invariant. A trace that replays is still a real behaviour of the spec, so the bug it shows
is still there (for a spec that has the bug) or the trace must be renewed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from meshcheck.errors import TraceFormatError

from .model import INIT, Trace

if TYPE_CHECKING:
    from specs.tlc.stepper import Stepper


@attrs.frozen
class ReplayOutcome:
    ok: bool
    steps: int  # how many steps replayed as spec steps
    problem: str = ""  # what went wrong, and where
    index: int | None = None  # the state at which it went wrong


def replay_on_spec(trace: Trace, stepper: Stepper) -> ReplayOutcome:
    """Check every step of `trace` against the spec behind `stepper`."""
    from specs.tlc.stepper import ActionInstance

    missing = [v for v in stepper.vars if v not in trace.vars]
    extra = [v for v in trace.vars if v not in stepper.vars]
    if missing or extra:
        return ReplayOutcome(
            False,
            0,
            f"the trace's variables differ from the spec's (missing {missing}, extra {extra})",
        )
    states = [stepper.state(step.state) for step in trace.steps]
    if not states:
        return ReplayOutcome(False, 0, "the trace has no states", 0)
    if states[0] not in set(stepper.init_states()):
        return ReplayOutcome(False, 0, "state 0 is not an initial state of the spec", 0)
    for i in range(1, len(states)):
        step = trace.steps[i]
        if step.action == INIT:
            found = stepper.find_step(states[i - 1], states[i])
            if found is None:
                return ReplayOutcome(False, i - 1, f"no action of the spec leads to state {i}", i)
            continue
        action = ActionInstance(step.action, step.params)
        if action not in stepper.actions:
            names = ", ".join(stepper.action_names)
            return ReplayOutcome(
                False,
                i - 1,
                f"state {i}: the spec has no action {action.label()} (actions: {names})",
                i,
            )
        if states[i] not in stepper.successors_of(states[i - 1], action):
            found = stepper.find_step(states[i - 1], states[i])
            hint = f"; {found.action.label()} would" if found is not None else ""
            return ReplayOutcome(
                False,
                i - 1,
                f"state {i}: {action.label()} does not lead from state {i - 1} to state {i}{hint}",
                i,
            )
    if trace.loop is not None and len(states) > 1:
        back = states[trace.loop]
        last = states[-1]
        if back != last and stepper.find_step(last, back) is None:
            return ReplayOutcome(
                False, len(states) - 1, f"the last state does not step back to state {trace.loop}"
            )
    violation = trace.meta.get("violation")
    if (
        isinstance(violation, dict)
        and violation.get("kind") == "invariant"
        and violation.get("name")
    ):
        name = str(violation["name"])
        if name not in stepper.violated(states[-1]):
            return ReplayOutcome(
                False,
                len(states) - 1,
                f"the last state no longer violates {name}",
                len(states) - 1,
            )
    return ReplayOutcome(True, len(states) - 1)


def _locate(value: object, field: str, trace_path: Path, root: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise TraceFormatError(
            str(trace_path), f"#meta.{field}", "missing: cannot tell which spec to replay on"
        )
    p = Path(value)
    for candidate in (p, root / p, trace_path.parent / p):
        if candidate.is_file():
            return candidate
    raise TraceFormatError(str(trace_path), f"#meta.{field}", f"{value} not found")


def replay_stored(path: Path, *, root: Path) -> ReplayOutcome:
    """Read a stored model trace and replay it on the spec its `#meta` names."""
    from specs.tlc.stepper import Stepper

    from . import itf

    trace = itf.read(path)
    spec = _locate(trace.meta.get("spec"), "spec", path, root)
    config = _locate(trace.meta.get("config"), "config", path, root)
    with Stepper(spec, config) as stepper:
        return replay_on_spec(trace, stepper)
