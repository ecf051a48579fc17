"""Replaying a stored trace against its spec: is every step of it a step the spec allows?

A model trace (a TLC counterexample) names its spec and model in its top-level `#meta` (`spec`,
`config`, paths relative to the project root or absolute). Replaying it asks TLC, through the Stepper,
whether the first state is an initial state and whether each next state is a successor of the one
before under the action the trace names (with its parameters); for a lasso, whether the last state
steps back to the state the loop names; and for an invariant violation, whether the last state still
violates that invariant. A trace that replays is still a real behaviour of the spec, so the bug it shows
is still there (for a spec that has the bug) or the trace must be renewed.

An implementation counterexample (a lockstep path, `#meta.protocol` naming a registered protocol:
meshcheck/registry.py) replays against the implementation instead: the harness its descriptor
names (`Harness.replay_on_impl`, property_tests/harness.py) drives the simulated cluster along it
(with the mutants asked for switched on) and reports the first step at which the implementation's
refinement leaves the spec's state. The simulator records that run as a trace of its own (the
implementation's abstract states, step by step), which `trace diff` sets beside the stored one; the
replay hands over the follower it drove (`observe`), so that run can be read.

A free run of the implementation (the simulator's trace, `#meta.source` "impl") is no spec path to
drive the implementation along; when its `#meta.rerun` says which check ran it on which fault
schedule (property_tests/record.py writes it for every failing free run), replaying it runs that
check again from the schedule's seed (`rerun_free_run`): the same seed gives the same run.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.errors import TraceFormatError
from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.violated import Violated

if TYPE_CHECKING:
    from meshcheck.property_tests.harness import Harness
    from meshcheck.specs.tlc.stepper import Stepper


@attrs.frozen
class ReplayOutcome:
    ok: bool
    steps: int  # how many steps replayed as spec steps
    problem: str = ""  # what went wrong, and where
    index: int | None = None  # the state at which it went wrong


def replay_on_spec(trace: Trace, stepper: Stepper) -> ReplayOutcome:
    """Check every step of `trace` against the spec behind `stepper`."""
    from meshcheck.specs.tlc.stepper import ActionInstance

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


def recorded_violation(trace: Trace) -> Violated | None:
    """The violation a model trace (TLC's counterexample) records in its `#meta.violation`, or None
    (no counterexample: a lockstep path, or TLC's error)."""
    violation = trace.meta.get("violation")
    if not isinstance(violation, dict):
        return None
    kind, name = violation.get("kind"), violation.get("name")
    if not isinstance(kind, str) or kind == "error":
        return None
    return Violated(kind, str(name) if name else "(unnamed)")


def _locate(value: object, field: str, trace_path: Path, root: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise TraceFormatError(
            str(trace_path), f"#meta.{field}", "missing: cannot tell which spec to replay on"
        )
    p = Path(value)
    # relative to the project, beside the trace, or in meshcheck's own installed data (a path of
    # the repository, `specs/Raft.tla`, is a path of the package too)
    installed = Path(str(files("meshcheck").joinpath(value)))
    for candidate in (p, root / p, trace_path.parent / p, installed):
        if candidate.is_file():
            return candidate
    raise TraceFormatError(str(trace_path), f"#meta.{field}", f"{value} not found")


def replay_stored(path: Path, *, root: Path) -> ReplayOutcome:
    """Read a stored model trace and replay it on the spec its `#meta` names."""
    from meshcheck.specs.tlc.stepper import Stepper
    from meshcheck.traces import itf

    trace = itf.read(path)
    spec = _locate(trace.meta.get("spec"), "spec", path, root)
    config = _locate(trace.meta.get("config"), "config", path, root)
    with Stepper(spec, config) as stepper:
        return replay_on_spec(trace, stepper)


# ---------------------------------------------------------------------------------------------------
# Against the implementation


def protocol_of(trace: Trace, where: str) -> str:
    """The protocol a trace's `#meta.protocol` names; TraceFormatError if none, or if no registered
    protocol (meshcheck/registry.py) has an implementation to replay it on."""
    from meshcheck import registry

    protocol = trace.meta.get("protocol")
    if protocol is None:
        raise TraceFormatError(
            where, "#meta.protocol", "missing: cannot tell which implementation to replay on"
        )
    known = [name for name, p in registry.protocols().items() if p.harness is not None]
    if protocol not in known:
        raise TraceFormatError(
            where,
            "#meta.protocol",
            f"{format_protocol(protocol)} is not a protocol meshcheck implements "
            f"({', '.join(known)})",
        )
    return str(protocol)


def _corpus(protocol: str) -> str:
    from meshcheck import registry

    return registry.get(protocol).corpus or protocol


def _harness(protocol: str) -> Harness:
    """The harness of a registered protocol (its descriptor's `harness`)."""
    from meshcheck import registry

    found: Harness = registry.get(protocol).load("harness")
    return found


def format_protocol(value: object) -> str:
    from meshcheck.impl.base.text import format_value

    return format_value(value, width=40)


def known_bugs(protocol: str) -> tuple[str, ...]:
    """The mutant switches of a registered protocol (its descriptor's `bugs`; none without)."""
    from meshcheck import registry

    bugs = registry.get(protocol).load("bugs")
    return tuple(sorted(bugs)) if bugs is not None else ()


def recorded_bugs(trace: Trace) -> frozenset[str]:
    """The mutants a stored trace was written for (its `#meta.bugs`)."""
    bugs = trace.meta.get("bugs", ())
    return frozenset(str(b) for b in bugs) if isinstance(bugs, tuple | frozenset) else frozenset()


@attrs.frozen
class ImplReplay:
    outcome: ReplayOutcome
    protocol: str
    bugs: frozenset[str]
    impl_trace: Trace | None  # what the simulator recorded (None if it never started)


def replay_on_implementation(
    trace: Trace, *, where: str, bugs: frozenset[str] = frozenset()
) -> ImplReplay:
    """Drive the implementation of the trace's protocol (with `bugs`) along the trace.

    TraceFormatError when the trace is not one of that protocol's spec paths (wrong protocol,
    wrong variables, a step the spec does not take); an unknown mutant is a TraceFormatError too."""
    from meshcheck.property_tests.failure import CheckFailed

    protocol = protocol_of(trace, where)
    if trace.meta.get("source") == "impl" and "rerun" in trace.meta:
        return rerun_free_run(trace, where=where, bugs=bugs)
    if trace.meta.get("source") == "impl":
        raise TraceFormatError(
            where,
            "#meta.source",
            "impl: a run the simulator recorded, not a spec path to drive the implementation "
            f"along (those are lockstep's, traces/{_corpus(protocol)}/); trace validation checks "
            "such runs",
        )
    unknown = sorted(bugs - set(known_bugs(protocol)))
    if unknown:
        raise TraceFormatError(
            where,
            "",
            f"no {protocol} mutant {', '.join(unknown)} (known: {', '.join(known_bugs(protocol))})",
        )
    followers: list[Any] = []  # the follower the replay drove, to read the run it recorded
    try:
        steps = _harness(protocol).replay_on_impl(
            trace, bugs, where=where, observe=followers.append
        )
        outcome = ReplayOutcome(True, steps)
    except CheckFailed as failed:
        outcome = ReplayOutcome(False, failed.steps, failed.message, failed.steps)
    except TraceFormatError:
        raise
    except MeshcheckError as exc:  # the Stepper refused a step: say which file
        raise TraceFormatError(where, "", f"not a path of the {protocol} spec: {exc}") from None
    impl_trace = None
    driver = getattr(followers[-1], "driver", None) if followers else None
    # the hybrid lockstep drives nodes without a simulator: there is no run of its own to write
    sim = getattr(driver, "sim", None)
    if sim is not None:
        run = sim.trace()
        meta = {**run.meta, "replay_of": where, "bugs": tuple(sorted(bugs))}
        impl_trace = attrs.evolve(run, meta=FrozenDict(meta))
    return ImplReplay(outcome, protocol, bugs, impl_trace)


def rerun_free_run(trace: Trace, *, where: str, bugs: frozenset[str] = frozenset()) -> ImplReplay:
    """A free run of the implementation (the simulator's trace, `#meta.rerun` saying which check
    on which schedule: property_tests/record.py) is no spec path to drive the implementation
    along: it is run again from its seed, by the check that ran it, with the mutants it ran with
    and `bugs`. It holds when the check passes; the re-run's own trace is the implementation trace.
    """
    from meshcheck.property_tests.record import Rerun
    from meshcheck.property_tests.record import rerun

    meta = trace.meta["rerun"]
    if not isinstance(meta, FrozenDict):
        raise TraceFormatError(where, "#meta.rerun", "not a record")
    spec = Rerun.from_meta(meta, where)
    unknown = sorted(bugs - set(known_bugs(spec.protocol)))
    if unknown:
        raise TraceFormatError(where, "", f"no {spec.protocol} mutant {', '.join(unknown)}")
    spec = attrs.evolve(spec, bugs=tuple(sorted({*spec.bugs, *bugs})))
    try:
        failed = rerun(spec)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise TraceFormatError(where, "#meta.rerun.schedule", f"not a schedule: {exc}") from None
    ran = frozenset(spec.bugs)
    if failed is None:
        steps = len(trace.steps) - 1
        return ImplReplay(ReplayOutcome(True, steps), spec.protocol, ran, None)
    outcome = ReplayOutcome(False, failed.steps, failed.message, failed.steps)
    return ImplReplay(outcome, spec.protocol, ran, failed.trace)
