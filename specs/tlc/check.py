"""Model checking with TLC inside this Python process: `check(spec, config)` -> `CheckResult`.

How a check runs, and why:

- A fresh `TLCRuntime` (class loader) per check. TLC keeps the model checker, the variable list and much
  more in static fields; a second check in the same class space gives wrong answers (runtime.py).
- TLC runs in a worker thread. JPype releases the GIL inside Java calls, so the calling thread stays free
  to read live counts from that runtime's `TLCGlobals.mainChecker` every `progress_interval` seconds and
  to hand them to the `progress` callback (which runs in the calling thread).
- TLC is driven as its command line would be (`handleParameters` then `process`), with `-tool` so that
  every message comes framed with its code (messages.py) and `-metadir` in the runtime's scratch folder
  so that nothing is written into the user's tree. `-deadlock` turns deadlock checking off: TLC 2.15
  knows no CHECK_DEADLOCK in a .cfg.
- Input problems (SANY errors, a .cfg that does not fit the spec) raise, through diagnostics.py. A
  violation or an evaluation error is a result.
- Counterexamples are rebuilt, not parsed: TLC prints states as text, and the Stepper's states print the
  same text (`State.tla()` is TLC's own `toString`). Starting from the initial state whose text matches,
  each printed state is matched among the successors of the previous one. That yields exact Python
  values through the one converter (specs/tlc/values.py) and the action instance of every step, with its
  parameters, which TLC 2.15 does not print.

Interrupting (Ctrl-C). A KeyboardInterrupt (or any exception from the progress callback) reaches the
calling thread; `check` then calls `stop()` on TLC's model checker, waits for TLC to finish (it does so
within a moment: stop() empties the state queue) and re-raises. It must re-raise: a stopped TLC reports
"Model checking completed. No error has been found." with exit code 0, which is not a result (and a run
that ends with states left on the queue is an ERROR, never HOLDS). Measured caveat: a JVM started by
JPype without `interrupt=False` installs its own SIGINT handler, and Ctrl-C then ends the process at once
(exit 130) before Python sees it; with `interrupt=False`, Ctrl-C stopped TLC and raised within 0.1 s.

Soundness (specs/tlc/cfg.py says why): a model that lists a PROPERTY runs on one worker whatever
`workers` asks (the result's `workers` is the count TLC ran with, and `note` says so when it is fewer
than asked), and a PROPERTY under SYMMETRY or VIEW is a ConfigError before TLC starts. The one-worker
rule could instead split a model: its invariants on N workers, its properties in a second run on one.
That second run explores the whole state space again on one worker, so the split costs the one-worker
run plus the N-worker run; measured on specs/ThreatLevel.cfg (337,055 states, 2 cores) one run on one
worker took 17 s, the split 8 s (2 workers) + 21 s. One run on one worker it is.

One check at a time per process: TLC's output is captured by redirecting the JVM's System.out, which all
threads share, so `check` holds a lock for the duration of a run.
"""

from __future__ import annotations

import enum
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import attrs

from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.specs.tlc import diagnostics
from meshcheck.specs.tlc.cfg import ModelConfig
from meshcheck.specs.tlc.cfg import checked_workers
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.specs.tlc.cfg import unsound_reduction
from meshcheck.specs.tlc.messages import EC
from meshcheck.specs.tlc.messages import PrintedState
from meshcheck.specs.tlc.messages import PrintedTrace
from meshcheck.specs.tlc.messages import ToolOutput
from meshcheck.specs.tlc.messages import one_line
from meshcheck.specs.tlc.messages import parse
from meshcheck.specs.tlc.messages import printed_trace
from meshcheck.specs.tlc.messages import stats
from meshcheck.specs.tlc.runtime import TLCRuntime
from meshcheck.violated import CHECK
from meshcheck.violated import PROPERTY
from meshcheck.violated import UNNAMED

if TYPE_CHECKING:
    from meshcheck.specs.tlc.stepper import ActionInstance
    from meshcheck.specs.tlc.stepper import State
    from meshcheck.specs.tlc.stepper import Stepper

__all__ = ["CheckResult", "Outcome", "Progress", "Violation", "check"]


class Outcome(enum.Enum):
    HOLDS = "holds"
    VIOLATED = "violated"
    ERROR = "error"


@attrs.frozen
class Violation:
    """What failed: kind is "invariant", "property" (temporal or action), "deadlock" or "assumption".

    `name` is the invariant's or property's name; None for a deadlock, an assumption, and a temporal
    violation when the .cfg lists several properties (TLC 2.15 does not say which one failed).
    """

    kind: str
    name: str | None


@attrs.frozen
class Progress:
    """Live counts of a running check (what TLC's model checker holds at that moment).

    The counts are read one after another while TLC runs. TLC sums its workers' generated counts
    lazily; `generated` is raised to `distinct` where the snapshot shows fewer (see `_live`).
    """

    generated: int
    distinct: int
    queue: int
    seconds: float
    depth: int = 0


@attrs.frozen
class CheckResult:
    """The outcome of one TLC run, with TLC's counts and, for a violation, the counterexample."""

    spec: Path
    config: Path
    outcome: Outcome
    violation: Violation | None
    generated: int
    distinct: int
    depth: int
    seconds: float
    trace: Trace | None  # the counterexample; a lasso (trace.loop set) for liveness
    message: str  # TLC's own words for a violation or an error, short
    output: str  # everything TLC printed
    workers: int  # the workers TLC ran with (one for a model with a PROPERTY, whatever was asked)
    note: str = ""  # why TLC ran on fewer workers than asked, or ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.HOLDS


_lock = threading.Lock()


def check(
    spec: str | Path,
    config: str | Path | None = None,
    *,
    workers: int = 1,
    deadlock: bool = True,
    progress: Callable[[Progress], None] | None = None,
    progress_interval: float = 1.0,
    runtime_jar: Path | None = None,
) -> CheckResult:
    """Model-check `spec` (a .tla file) under `config` (default: the .cfg beside it) with TLC.

    deadlock=True checks for deadlock, as TLC does by default. A model with a PROPERTY runs on one
    worker, whatever `workers` says, and one with a PROPERTY under SYMMETRY or VIEW is refused. Raises
    ConfigError / SpecError for input problems found before exploring; returns a CheckResult otherwise
    (see the module docstring).
    """
    spec_path = _spec_path(spec)
    cfg_path = _cfg_path(spec_path, config)
    model = read_cfg(cfg_path)
    if workers < 1:
        raise MeshcheckError(f"workers must be at least 1 (got {workers})")
    unsound = unsound_reduction(model)
    if unsound is not None:
        raise ConfigError(unsound)
    workers, note = checked_workers(model, workers)
    if progress_interval <= 0:
        raise MeshcheckError(f"progress_interval must be positive (got {progress_interval})")
    with _lock:
        run = _run(spec_path, cfg_path, workers, deadlock, progress, progress_interval, runtime_jar)
    out = parse(run.output)
    problem = diagnostics.input_error(
        out,
        spec=spec_path,
        config=cfg_path,
        operators=lambda: diagnostics.spec_operators(spec_path, runtime_jar=runtime_jar),
    )
    if problem is not None:
        raise problem
    return attrs.evolve(
        _result(spec_path, cfg_path, model, run, out, workers, runtime_jar), note=note
    )


# ------------------------------------------------------------------------------------------- inputs


def _spec_path(spec: str | Path) -> Path:
    p = Path(spec).expanduser()
    if p.suffix == "" and p.with_suffix(".tla").is_file():
        p = p.with_suffix(".tla")
    if p.suffix != ".tla":
        raise ConfigError(f"{p}: not a TLA+ module (expected a .tla file)")
    if not p.is_file():
        raise ConfigError(f"spec {p} not found")
    try:
        with p.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror or exc}") from None
    return p.resolve()


def _cfg_path(spec: Path, config: str | Path | None) -> Path:
    p = spec.with_suffix(".cfg") if config is None else Path(config).expanduser()
    if p.suffix != ".cfg":
        # TLC takes the name without ".cfg" and appends it: any other file name cannot be passed.
        raise ConfigError(f"{p}: a TLC model configuration must be a .cfg file")
    if not p.is_file():
        raise ConfigError(f"model configuration {p} not found")
    return p.resolve()


# ------------------------------------------------------------------------------------------- running


@attrs.frozen
class _Run:
    code: int | None  # TLC's exit code (an EC code); None if it rejected its arguments
    output: str
    seconds: float


def _run(
    spec: Path,
    cfg: Path,
    workers: int,
    deadlock: bool,
    progress: Callable[[Progress], None] | None,
    interval: float,
    runtime_jar: Path | None,
) -> _Run:
    import jpype

    rt = TLCRuntime(runtime_jar)
    folder = str(spec.parent)
    args = [
        "-tool",
        "-metadir",
        str(rt.scratch / "states"),
        "-workers",
        str(workers),
        # relative: TLC prefixes the user directory (set below) to the path it is given
        "-config",
        os.path.relpath(cfg, folder),
    ]
    if not deadlock:
        args.append("-deadlock")
    args.append(spec.stem)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            rt.jclass("util.ToolIO").setUserDir(folder)
            with rt.capture() as cap:
                try:
                    tlc = rt.jclass("tlc2.TLC")()
                    if tlc.handleParameters(jpype.JArray(jpype.JString)(args)):
                        box["code"] = int(tlc.process())
                finally:
                    box["output"] = cap.text()
        except BaseException as exc:  # handed to the calling thread
            box["error"] = exc

    thread = threading.Thread(target=work, name=f"tlc-{spec.stem}", daemon=True)
    start = time.perf_counter()
    thread.start()
    try:
        _wait(thread, rt, start, progress, interval)
    except BaseException:
        _stop(thread, rt)
        raise
    finally:
        if not thread.is_alive():
            rt.close()
    seconds = time.perf_counter() - start
    if "error" in box:
        raise MeshcheckError(f"TLC failed to run on {spec}: {box['error']}")
    return _Run(box.get("code"), box.get("output", ""), seconds)


def _wait(
    thread: threading.Thread,
    rt: TLCRuntime,
    start: float,
    progress: Callable[[Progress], None] | None,
    interval: float,
) -> None:
    """Wait for TLC, reporting progress; short joins keep Ctrl-C responsive."""
    next_report = start + interval
    while thread.is_alive():
        now = time.perf_counter()
        wait = min(0.25, max(0.0, next_report - now)) if progress is not None else 0.25
        thread.join(wait)
        if progress is not None and thread.is_alive() and time.perf_counter() >= next_report:
            live = _live(rt, start)
            if live is not None:
                progress(live)
            next_report = time.perf_counter() + interval


def _live(rt: TLCRuntime, start: float) -> Progress | None:
    """The running model checker's counts, or None before it has found a state (still parsing, or
    computing the initial states: nothing to report yet).

    TLC sums its workers' generated counts lazily, so a snapshot can show fewer states generated
    than found (seen here under load: distinct > 0, generated 0). Every distinct state was
    generated, so the report's generated count is at least its distinct count: a true lower bound,
    and monotone because both counts are.
    """
    import jpype

    try:
        mc = rt.jclass("tlc2.TLCGlobals").mainChecker
        if mc is None:
            return None
        distinct = int(mc.getDistinctStatesGenerated())
        if distinct <= 0:
            return None
        return Progress(
            generated=max(int(mc.getStatesGenerated()), distinct),
            distinct=distinct,
            queue=int(mc.getStateQueueSize()),
            seconds=time.perf_counter() - start,
            depth=int(mc.getProgress()),
        )
    except (jpype.JException, AttributeError):  # not a ModelChecker (never with these arguments)
        return None


_STOP_WAIT = 10.0  # seconds to wait for TLC to wind down after stop()


def _stop(thread: threading.Thread, rt: TLCRuntime) -> None:
    """Ask TLC to stop and wait for it. Before the checker exists (parsing) keep asking until it does."""
    import jpype

    deadline = time.perf_counter() + _STOP_WAIT
    while thread.is_alive() and time.perf_counter() < deadline:
        try:
            mc = rt.jclass("tlc2.TLCGlobals").mainChecker
            if mc is not None:
                mc.stop()
        except jpype.JException:
            pass
        thread.join(0.05)


# ------------------------------------------------------------------------------------------- results

_INVARIANT = re.compile(r"Invariant (\S+) is violated")
_PROPERTY_INITIAL = re.compile(r"Property (\S+) is violated by the initial state")
_ACTION_PROPERTY = re.compile(r"Action property (\S+) is violated")
_ASSUMPTION = re.compile(
    r"Assumption line (\d+), col (\d+) to line \d+, col \d+ of module (\w+) is false"
)


def _result(
    spec: Path,
    cfg: Path,
    model: ModelConfig,
    run: _Run,
    out: ToolOutput,
    workers: int,
    runtime_jar: Path | None,
) -> CheckResult:
    if run.code is None:
        raise MeshcheckError(f"TLC rejected its arguments: {one_line(out.plain)[:300]}")
    counts = stats(out)
    found = _violation(out, model, spec)
    printed = printed_trace(out)
    if found is not None:
        violation, message, initial = found
        outcome = Outcome.VIOLATED
        if initial is not None:  # violated by an initial state: TLC prints it inside the message
            printed = PrintedTrace((PrintedState(1, None, None, initial),))
    elif run.code == 0 and EC.TLC_SUCCESS in out.codes() and counts.queue == 0:
        violation, message, outcome = None, "", Outcome.HOLDS
    elif run.code == 0 and EC.TLC_SUCCESS in out.codes():
        # A stopped TLC says "No error has been found" too; the states left unexplored say otherwise.
        violation, outcome = None, Outcome.ERROR
        message = f"TLC stopped with {counts.queue} states left to explore: the check is incomplete"
    else:
        violation, outcome = None, Outcome.ERROR
        message = diagnostics.evaluation_error(out, spec=spec)
    trace = None
    if printed is not None and outcome is not Outcome.HOLDS:
        meta = _meta(spec, cfg, model, violation)
        trace, problem = _rebuild(
            spec, cfg, printed, meta, runtime_jar, partial=outcome is Outcome.ERROR
        )
        if problem:
            message = f"{message} (counterexample not rebuilt: {problem})"
    return CheckResult(
        spec=spec,
        config=cfg,
        outcome=outcome,
        violation=violation,
        generated=counts.generated,
        distinct=counts.distinct,
        depth=counts.depth,
        seconds=run.seconds,
        trace=trace,
        message=message,
        output=run.output,
        workers=workers,
    )


def _violation(
    out: ToolOutput, model: ModelConfig, spec: Path
) -> tuple[Violation, str, str | None] | None:
    """(violation, TLC's words, the initial state's text if an initial state violates) or None."""
    for m in out.all():
        first, _, rest = m.text.strip().partition("\n")
        if m.code == EC.TLC_INVARIANT_VIOLATED_BEHAVIOR:
            name = _group(_INVARIANT, first)
            return Violation("invariant", name), first, None
        if m.code == EC.TLC_INVARIANT_VIOLATED_INITIAL:
            name = _group(_INVARIANT, first)
            return Violation("invariant", name), first.rstrip(":") + ".", rest.strip() or None
        if m.code == EC.TLC_PROPERTY_VIOLATED_INITIAL:
            name = _group(_PROPERTY_INITIAL, first)
            return Violation("property", name), first.rstrip(":") + ".", rest.strip() or None
        if m.code == EC.TLC_ACTION_PROPERTY_VIOLATED_BEHAVIOR:
            return Violation("property", _group(_ACTION_PROPERTY, first)), first, None
        if m.code == EC.TLC_TEMPORAL_PROPERTY_VIOLATED:
            # TLC 2.15 does not name the temporal property: only a single one can be named for it.
            name = model.properties[0] if len(model.properties) == 1 else None
            words = (
                first
                if name is not None or not model.properties
                else (f"{first} (one of {', '.join(model.properties)})")
            )
            return Violation("property", name), words, None
        if m.code == EC.TLC_DEADLOCK_REACHED:
            return Violation("deadlock", None), first, None
        if m.code == EC.TLC_ASSUMPTION_FALSE:
            a = _ASSUMPTION.search(m.text)
            where = f"{spec.parent / (a.group(3) + '.tla')}:{a.group(1)}:{a.group(2)}" if a else ""
            words = f"assumption at {where} is false" if a else one_line(m.text)
            return Violation("assumption", None), words, None
    return None


def _group(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(1) if m else None


def _meta(spec: Path, cfg: Path, model: ModelConfig, violation: Violation | None) -> FrozenDict:
    what: dict[str, Value] = {"kind": violation.kind if violation is not None else "error"}
    if violation is not None and violation.name is not None:
        what["name"] = violation.name
    meta: dict[str, Value] = {
        "source": "tlc",
        "violation": FrozenDict(what),
        "spec": str(spec),
        "config": str(cfg),
        CHECK: f"model check {cfg.name}",
    }
    if violation is not None:  # what it violates, by name: a deadlock and an assumption have none
        meta[PROPERTY] = violation.name or (
            violation.kind if violation.kind in ("deadlock", "assumption") else UNNAMED
        )
    constants = model.values()
    if constants:
        meta["constants"] = FrozenDict(constants)
    return FrozenDict(meta)


# ------------------------------------------------------------------------------------------- traces

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def normalize(text: str) -> str:
    """A state's text with all whitespace outside string literals removed.

    TLC's printer breaks long values over lines and indents them; the same state printed twice then
    differs only in whitespace, and whitespace carries no meaning outside strings.
    """
    parts: list[str] = []
    pos = 0
    for m in _STRING.finditer(text):
        parts.append("".join(text[pos : m.start()].split()))
        parts.append(m.group())
        pos = m.end()
    parts.append("".join(text[pos:].split()))
    return "".join(parts)


def _rebuild(
    spec: Path,
    cfg: Path,
    printed: PrintedTrace,
    meta: FrozenDict,
    runtime_jar: Path | None,
    *,
    partial: bool,
) -> tuple[Trace | None, str]:
    """The Trace of the printed counterexample, by matching TLC's text to the Stepper's states.

    Returns (trace, "") or (None, why). With partial=True (an evaluation error, whose last printed state
    may be half-built) the states matched before the first mismatch make the trace.
    """
    from meshcheck.specs.tlc.stepper import Stepper

    rt = TLCRuntime(runtime_jar)
    try:
        stepper = Stepper(spec, cfg, runtime=rt)
    except MeshcheckError as exc:
        rt.close()
        return None, f"the Stepper could not load the spec: {exc}"
    try:
        return _match(stepper, printed, meta, partial=partial)
    finally:
        stepper.close()
        rt.close()


def _match(
    stepper: Stepper, printed: PrintedTrace, meta: FrozenDict, *, partial: bool
) -> tuple[Trace | None, str]:
    steps: list[Step] = []
    states: list[State] = []
    problem = ""
    try:
        for i, shown in enumerate(printed.states):
            found = _find(stepper, states[-1] if states else None, shown)
            if found is None:
                what = "no initial state" if i == 0 else f"no successor of state {i}"
                problem = f"{what} of the Stepper prints as TLC's state {shown.number}"
                break
            action, state = found
            states.append(state)
            if action is None:
                steps.append(Step(state=state.values))
            else:
                steps.append(Step(state=state.values, action=action.name, params=action.params))
    except MeshcheckError as exc:  # e.g. the evaluation error TLC itself stopped on
        problem = f"the Stepper failed at state {len(steps) + 1}: {exc}"
    if problem and not (partial and steps):
        return None, problem
    extra: dict[str, Value] = dict(meta)
    loop: int | None = None
    if not problem and printed.loop is not None:
        loop = printed.loop
        if not printed.stuttering:
            back = stepper.find_step(states[-1], states[loop])
            if back is not None:
                extra["loop_action"] = back.action.name
                if back.action.params:
                    extra["loop_params"] = back.action.params
    if problem:
        extra["truncated"] = True
    return Trace(
        vars=tuple(stepper.vars), steps=tuple(steps), loop=loop, meta=FrozenDict(extra)
    ), ""


def _find(
    stepper: Stepper, before: State | None, shown: PrintedState
) -> tuple[ActionInstance | None, State] | None:
    """The initial state (before=None) or the step from `before` whose state prints as `shown`.

    Unconstrained: TLC checks invariants on successors outside the CONSTRAINT too. When several action
    instances reach that state, the one TLC named wins; among equals, the first in Next's order.
    """
    want = normalize(shown.text)
    if before is None:
        for s in stepper.init_states(constrained=False):
            if normalize(s.tla()) == want:
                return None, s
        return None
    found = [
        t for t in stepper.successors(before, constrained=False) if normalize(t.state.tla()) == want
    ]
    named = [t for t in found if t.action.name == shown.action]
    best = (named or found)[:1]
    return (best[0].action, best[0].state) if best else None
