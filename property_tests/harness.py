"""The harness of every protocol, written once: lockstep, stored-trace replay and shrinking of a
lockstep counterexample, parameterised by what is the protocol's own.

A protocol says what is its own in two objects:

- `LockstepSpec`, one per spec the implementation is walked along (Raft: Raft.tla; the hybrid layer:
  ThreatLevel.tla and Hybrid.tla): the spec, its lockstep model (a `.cfg` in the protocol's
  `models/` folder), the `Follower` that makes the implementation take a spec step and compares the
  refinement mapping, and the signature by which shrinking tells a step's candidates apart;
- `Harness`, one per protocol (the object `Protocol.harness` names, meshcheck/protocol.py): its
  specs, its corpus folder, the storm bound of its free runs (property_tests/free_runs.py) and what
  its trace validation needs (property_tests/validation.py).

Everything else is here: the `Follower`'s bookkeeping (the spec path so far, a failure as an ITF
trace of that path), the lockstep machine on property_tests/lockstep.py, the replay of a stored
trace, and the delta-debugging pass of property_tests/minimize.py. Data files are found through
importlib.resources, so an installed copy finds them too.
"""

from __future__ import annotations

import contextlib
import functools
from collections import Counter
from collections import deque
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import AbstractContextManager
from importlib.resources import files
from pathlib import Path
from types import ModuleType
from typing import Any
from typing import NoReturn

import attrs
from hypothesis import settings as Settings

from meshcheck import coverage
from meshcheck.impl.base.errors import TraceFormatError
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.failure import named_in
from meshcheck.property_tests.lockstep import LockstepBase
from meshcheck.property_tests.lockstep import SuccessorCache
from meshcheck.property_tests.lockstep import build_machine
from meshcheck.property_tests.lockstep import differences
from meshcheck.property_tests.lockstep import run_machine
from meshcheck.property_tests.minimize import Signer
from meshcheck.property_tests.minimize import effect_signature
from meshcheck.property_tests.minimize import minimize_path
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.specs.tlc.stepper import Transition
from meshcheck.traces import itf
from meshcheck.violated import REFINEMENT
from meshcheck.violated import Violated


def resource(package: str, *parts: str) -> Path:
    """A data file of a package (`resource("meshcheck.specs", "Raft.tla")`), wherever it is
    installed (the Stepper and TLC read files by path)."""
    found = files(package)
    for part in parts:  # one at a time: a namespace package's path takes one (Python 3.11)
        found = found.joinpath(part)
    return Path(str(found))


@functools.cache
def cached_stepper(spec: Path, config: Path) -> Stepper:
    """One Stepper per spec and model per process (building one takes seconds)."""
    return Stepper(spec, config)


class PathMismatch(Exception):
    """A given path (a stored trace, a minimizer's candidate) that the implementation cannot be
    made to follow: it took a spec step of its own that the path does not take next. Not a bug of
    the implementation: the path is one it need not follow."""


@attrs.frozen(eq=False)
class LockstepSpec:
    """One spec under one lockstep model, as the harness reaches it.

    `follower` makes the implementation follow a path of it (`Follower`'s subclass); `signature`
    tells the candidates of a re-derived step apart when shrinking (property_tests/minimize.py);
    `named`: the protocol has several specs, so messages and traces name this one
    (`#meta.spec_name`)."""

    protocol: str  # the property_tests package and the corpus folder: "raft"
    name: str  # the spec's module: "Raft" for specs/Raft.tla
    config: str  # the lockstep model, a file of property_tests/<protocol>/models/
    follower: type[Follower]
    signature: Signer = effect_signature
    named: bool = False
    # the lockstep machine's class name (default: the spec's name and "Lockstep"): Hypothesis
    # derives a derandomized run's seed from it, so it fixes which programs a profile tries
    machine: str | None = None
    # a protocol outside meshcheck: the package whose folder holds the spec and the `models/`
    # folder of its lockstep model (tests/toy/); None: meshcheck.specs and property_tests/<protocol>
    package: str | None = None
    # steering (property_tests/lockstep.py): a state's rarity for Hypothesis's target(), and
    # named spec paths (action labels) an example may start with
    rarity: Callable[[Mapping[str, Any]], float] | None = None
    prefixes: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    # what lockstep and shrinking run inside, for speed only: e.g. PBFT's and HotStuff's memo of
    # Ed25519 results (impl/pbft/crypto.py `memoised`: exact, since Ed25519 is deterministic)
    context: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext
    successors: SuccessorCache = attrs.field(init=False)
    _stepper: list[Stepper] = attrs.field(init=False, factory=list, repr=False)
    _init: list[State] = attrs.field(init=False, factory=list, repr=False)

    def __attrs_post_init__(self) -> None:
        # successors by state fingerprint (property_tests/lockstep.py says why they are kept)
        object.__setattr__(self, "successors", SuccessorCache(self.stepper))

    @property
    def spec_path(self) -> Path:
        return resource(self.package or "meshcheck.specs", f"{self.name}.tla")

    @property
    def config_path(self) -> Path:
        models = self.package or f"meshcheck.property_tests.{self.protocol}"
        return resource(models, "models", self.config)

    def stepper(self) -> Stepper:
        # kept on the spec: finding the files through importlib.resources costs more than a
        # lockstep step's TLC call when asked for at every step
        if not self._stepper:
            self._stepper.append(cached_stepper(self.spec_path, self.config_path))
        return self._stepper[0]

    def lockstep(
        self, bugs: frozenset[str], settings: Settings, *, fired: Counter[str] | None = None
    ) -> None:
        """The check: run this spec's lockstep machine under `settings` (`lockstep`); CheckFailed
        on a divergence."""
        lockstep(self, bugs, settings, fired=fired)

    def init(self) -> State:
        """The lockstep model's one initial state, kept (with its Python values, once converted):
        every example starts from it."""
        if not self._init:
            (init,) = self.stepper().init_states()
            self._init.append(init)
        return self._init[0]

    def trace(
        self, path: Sequence[Step], bugs: frozenset[str], problem: tuple[str, ...], source: str
    ) -> Trace:
        """A spec path as an ITF-ready trace: it replays on the spec (`meshcheck verify`'s traces
        row; `#meta.spec` and `#meta.config` are relative to the repository) and against the
        implementation (`replay_on_impl`)."""
        folder = self.package.replace(".", "/") if self.package else None
        meta: dict[str, Any] = {
            "source": source,
            "protocol": self.protocol,
            **({"spec_name": self.name} if self.named else {}),
            "spec": f"{folder or 'specs'}/{self.name}.tla",
            "config": f"{folder or f'property_tests/{self.protocol}'}/models/{self.config}",
            "bugs": tuple(sorted(bugs)),
            "divergence": problem,
        }
        return Trace(vars=self.stepper().vars, steps=tuple(path), meta=FrozenDict(meta))


class Label:
    """A step's one-line description (`Follower.describe`), computed when it is first read: as
    text (`str`, an f-string) or by Hypothesis's `note`, which pretty-prints it only for the
    failing example it reports. A step that passes is never described: describing one costs as
    much as a small step (gossip's and PBFT's read the message bag's change)."""

    __slots__ = ("_make", "_text")

    def __init__(self, make: Callable[[], str]) -> None:
        self._make = make
        self._text: str | None = None

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = self._text = self._make()
        return text

    __repr__ = __str__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis's printer
        printer.text(str(self))


class Follower:
    """The implementation following a path of `spec`, checked after every step. The protocol's
    subclass says how to build the implementation (`start`: its driver, in the initial state) and
    how to make it take a step (`drive`), and may check more after each (`after`) or take steps its
    own way (`take`, as PBFT's replicas take several spec steps in one event).

    `state` is the spec state the implementation is in; `path` the spec path so far. `replay`: the
    path is given in advance (a stored trace, a shrinking candidate), not chosen as it goes."""

    def __init__(
        self,
        spec: LockstepSpec,
        init: State,
        bugs: frozenset[str],
        source: str = "lockstep",
        *,
        replay: bool = False,
    ) -> None:
        self.target = spec
        self.bugs = bugs
        self.source = source
        self.replay = replay
        self.state = init
        self.path: list[Step] = [Step(init.values)]
        self.failed = False
        self._label: tuple[Transition, State, Label] | None = None
        # the spec steps the implementation took on its own within one event of a replayed path,
        # expected next in it (`taken_early`)
        self.ahead: deque[Transition] = deque()
        self.driver = self.start(init)
        got = self.driver.state()
        if got != init.values:
            self.fail(["the initial state differs:", *differences(init.values, got)])

    def start(self, init: State) -> Any:
        """The implementation's driver, in the spec's initial state `init`."""
        raise NotImplementedError

    def drive(self, t: Transition) -> None:
        """Make the implementation take `t` from `self.state`."""
        raise NotImplementedError

    def after(self, t: Transition, label: Label) -> None:
        """More checks once the implementation is in `t.state` (default: none)."""

    def describe(self, t: Transition, before: State) -> str:
        """The step `t` from `before` as one line (default: the action instance)."""
        return t.action.label()

    def label(self, t: Transition) -> Label:
        """`describe(t, ...)` from the current state, as a `Label`: computed once, and only when
        read (the machine notes it for Hypothesis's report, `take` names the step by it in a
        failure's message)."""
        last = self._label
        before = self.state
        if last is not None and last[0] is t and last[1] is before:
            return last[2]
        label = Label(functools.partial(self.describe, t, before))
        self._label = (t, before, label)
        return label

    def taken_early(self, t: Transition) -> Label | None:
        """When the implementation took spec steps ahead of the path (`ahead`): `t` must be the
        first of them, and is then taken already (its label; PathMismatch when it is another
        step). None when there are none."""
        if not self.ahead:
            return None
        early = self.ahead.popleft()
        if early.action == t.action and early.state == t.state:
            return Label(lambda: f"{t.action.label()} (taken with the step before)")
        raise PathMismatch(
            f"the implementation took {early.action.label()} on its own; the path takes "
            f"{t.action.label()} next"
        )

    def history_problem(self) -> str | None:
        """The client-history checks (property_tests/histories.py) on the run so far, when the
        driver records a client history (default: it does not, None)."""
        return None

    def finish(self) -> None:
        """The end of the path: the client-history checks, once (they read the whole run); a
        path that already failed is left as it failed."""
        if self.failed:
            return
        problem = self.history_problem()
        if problem is not None:
            self.fail([f"at the end of the path, the client history fails {problem}"])

    def fail(self, problem: list[str]) -> NoReturn:
        self.failed = True
        steps = [s.label() for s in self.path[1:]]
        shown = ", ".join(steps[-6:])
        spec = f" of {self.target.name}.tla" if self.target.named else ""
        message = (
            f"{self.source}{spec} diverged after {len(steps)} steps "
            f"({'... ' if len(steps) > 6 else ''}{shown}):\n  " + "\n  ".join(problem)
        )
        trace = self.target.trace(self.path, self.bugs, tuple(problem), self.source)
        # the property a step broke, by name, else the spec the implementation left
        violated = named_in(message) or Violated(REFINEMENT, f"{self.target.name}.tla")
        raise CheckFailed(message, steps=len(steps), trace=trace, violated=violated)

    def compare(self, label: Label, want: FrozenDict, got: FrozenDict) -> None:
        """The refinement check: the implementation's abstract state is the spec's."""
        if got != want:
            problem = f"after {label} the implementation is not in the spec's state:"
            self.fail([problem, *differences(want, got)])

    def take(self, t: Transition) -> Label:
        """Take the spec's step `t` from `self.state`; its one-line description."""
        label = self.label(t)
        self.path.append(Step(t.state.values, t.action.name, t.action.params))
        try:
            self.drive(t)
        except Exception as exc:  # the implementation could not take a spec step: a bug too
            self.fail([f"the implementation failed to take {label}: {type(exc).__name__}: {exc}"])
        self.compare(label, t.state.values, self.driver.state())
        self.state = t.state
        self.after(t, label)
        return label


# -- lockstep ---------------------------------------------------------------------------------------


def lockstep_machine(
    spec: LockstepSpec, bugs: frozenset[str] = frozenset(), fired: Counter[str] | None = None
) -> type[LockstepBase]:
    """The lockstep machine of `spec` for an implementation with `bugs` switched on: one rule per
    spec action (property_tests/lockstep.py); `fired` counts the actions it took, across examples."""

    class Base(LockstepBase):
        follower: Follower | None = None

        def initial(self) -> State:
            return spec.init()

        def start(self) -> None:
            self.follower = spec.follower(spec, self.state, self.bugs)

        def successors(self, state: State) -> list[Transition]:
            return spec.successors(state)

        def grouped(self, state: State) -> Mapping[str, list[Transition]]:
            return spec.successors.grouped(state)

        def describe(self, t: Transition) -> object:
            assert self.follower is not None
            return self.follower.label(t)

        def follow(self, t: Transition) -> State:
            assert self.follower is not None
            before = self.follower.state
            self.follower.take(t)
            after: State = self.follower.state
            if coverage.recording():  # what lockstep reached (meshcheck/coverage.py)
                coverage.lockstep_step(
                    spec.protocol,
                    before.values,
                    t.action.name,
                    t.action.params,
                    after.values,
                    after.fingerprint,
                )
            return after

        def teardown(self) -> None:
            # after the last step (Hypothesis calls it whether the run passed or failed); an
            # example that took no step never started the implementation (see LockstepBase)
            if self.follower is not None:
                self.follower.finish()
            super().teardown()  # steering: hands the example's rarest state to Hypothesis

    Base.__name__ = Base.__qualname__ = f"{spec.name}LockstepBase"
    actions = tuple(spec.stepper().action_names)
    return build_machine(
        spec.machine or f"{spec.name}Lockstep",
        Base,
        actions,
        bugs,
        fired,
        rarity=spec.rarity,
        prefixes=spec.prefixes,
    )


def lockstep(
    spec: LockstepSpec,
    bugs: frozenset[str],
    settings: Settings,
    *,
    fired: Counter[str] | None = None,
) -> None:
    """The check: run the lockstep machine of `spec` under `settings`; CheckFailed on a divergence."""
    with spec.context():
        run_machine(lockstep_machine(spec, bugs, fired), settings)


# -- stored traces ----------------------------------------------------------------------------------


def which(specs: Sequence[LockstepSpec], trace: Trace, where: str) -> LockstepSpec:
    """The spec a trace is a path of: the only one, or the one its `#meta.spec_name` names."""
    if len(specs) == 1:
        return specs[0]
    name = str(trace.meta.get("spec_name"))
    found = next((s for s in specs if s.name == name), None)
    if found is None:
        names = ", ".join(s.name for s in specs)
        raise TraceFormatError(where, "#meta.spec_name", f"not one of {names}")
    return found


def replay_on_impl(
    specs: Sequence[LockstepSpec],
    trace: Trace,
    bugs: frozenset[str],
    *,
    where: str = "trace",
    observe: Callable[[Follower], object] | None = None,
) -> int:
    """Make the implementation (with `bugs`) follow `trace`; the number of steps it followed.
    TLC confirms each step first (the named action leads from the trace's state to the next one).
    CheckFailed when the implementation diverges; TraceFormatError when the trace is not a path of
    its spec, or not one the implementation can be driven along.

    `observe` is called with the `Follower` once it stands in the initial state, before the first
    step: it can read the run afterwards, whether the replay held or not (`trace replay` writes
    what the simulator recorded, property_tests/replay.py)."""
    spec = which(specs, trace, where)
    stepper = spec.stepper()
    if tuple(trace.vars) != stepper.vars:
        raise TraceFormatError(where, "vars", f"not the variables of {spec.name}.tla: {trace.vars}")
    states = [stepper.state(step.state) for step in trace.steps]
    if not states or states[0] not in stepper.init_states():
        raise TraceFormatError(where, "states[0]", f"not the initial state of {spec.name}.tla")
    following = spec.follower(spec, states[0], bugs, f"replay of {Path(where).name}", replay=True)
    if observe is not None:
        observe(following)
    for k in range(1, len(states)):
        step = trace.steps[k]
        action = ActionInstance(step.action, step.params)
        if states[k] not in stepper.successors_of(states[k - 1], action):
            raise TraceFormatError(
                where, f"states[{k}]", f"{action.label()} does not lead here from states[{k - 1}]"
            )
        try:
            following.take(Transition(action, states[k]))
        except PathMismatch as exc:
            raise TraceFormatError(where, f"states[{k}]", str(exc)) from exc
    following.finish()
    return len(states) - 1


def corpus(protocol: str, package: str = "meshcheck.traces") -> list[Path]:
    """A protocol's stored traces (traces/<protocol>/, or <protocol>/ in another `package`'s
    folder), in a stable order."""
    return sorted(resource(package, protocol).glob("*.itf.json"))


def expected_kill(path: Path) -> frozenset[str]:
    """The mutant a stored trace was written for (its `#meta.bugs`)."""
    bugs = itf.read(path).meta.get("bugs", ())
    return frozenset(str(b) for b in bugs) if isinstance(bugs, tuple) else frozenset()


# -- shrinking --------------------------------------------------------------------------------------


def minimize(
    specs: Sequence[LockstepSpec], failure: CheckFailed, bugs: frozenset[str], *, budget: int = 400
) -> CheckFailed:
    """A 1-minimal version of a lockstep failure (property_tests/minimize.py, at most `budget`
    replays); `failure` itself when it has no trace or nothing can go."""
    trace = failure.trace
    if trace is None:
        return failure
    try:
        spec = which(specs, trace, "the failure")
    except TraceFormatError:
        return failure

    def replay(init: State, path: Sequence[Transition]) -> CheckFailed | None:
        try:
            following = spec.follower(spec, init, bugs, replay=True)
            for t in path:
                following.take(t)
            following.finish()
        except CheckFailed as found:
            return found
        except PathMismatch:
            return None
        return None

    with spec.context():
        return minimize_path(
            failure,
            stepper=spec.stepper(),
            successors=spec.successors,
            signature=spec.signature,
            replay=replay,
            budget=budget,
        )


# -- the protocol's harness -------------------------------------------------------------------------


@attrs.frozen
class Harness:
    """What the shared harness needs of one protocol: its lockstep specs (lockstep, stored traces,
    shrinking), the bounds its free runs stop a storm at (property_tests/free_runs.py), and what
    re-runs a recorded free run (property_tests/record.py): the one-run checks by name, and the
    modules whose attrs classes a recorded schedule's repr may call."""

    protocol: str  # the corpus folder traces/<protocol>/, #meta.protocol
    specs: tuple[LockstepSpec, ...]
    storm: Any = None  # property_tests.free_runs.Storm, for protocols whose runs are simulator runs
    traces: str = "meshcheck.traces"  # the package whose folder <protocol>/ holds its stored traces
    # check name -> the one-run check a failing free run is re-run by, called as
    # f(schedule, nodes, bugs), or f(schedule, bugs) for a check without a cluster size; the
    # recorder finds a failure's check by this function's frame in the traceback
    reruns: Mapping[str, Callable[..., object]] = attrs.field(factory=dict)
    # the modules whose attrs classes a recorded schedule's repr may call (its Schedule, the
    # Byzantine behaviours), and nothing else: a trace file is data, never evaluated
    schedules: tuple[ModuleType, ...] = ()

    def spec(self, name: str | None = None) -> LockstepSpec:
        if name is None:
            return self.specs[0]
        return next(s for s in self.specs if s.name == name)

    def lockstep(self, name: str | None = None) -> Callable[..., None]:
        """The lockstep check of one spec: `(bugs, settings, *, fired=None)`."""
        return functools.partial(lockstep, self.spec(name))

    def corpus(self) -> list[Path]:
        return corpus(self.protocol, self.traces)

    def fixed(self) -> list[Path]:
        """Its bugs found and fixed: the runs that showed them (traces/counterexamples/<protocol>/,
        traces/counterexamples/README.md), in a stable order."""
        return sorted(resource(self.traces, "counterexamples", self.protocol).glob("*.itf.json"))

    def replay_on_impl(
        self,
        trace: Trace,
        bugs: frozenset[str],
        *,
        where: str = "trace",
        observe: Callable[[Follower], object] | None = None,
    ) -> int:
        """property_tests/harness.py's `replay_on_impl` on this protocol's specs (those the trace
        may be a path of: `specs_for`)."""
        return replay_on_impl(self.specs_for(trace), trace, bugs, where=where, observe=observe)

    def specs_for(self, trace: Trace) -> tuple[LockstepSpec, ...]:
        """The specs a trace to replay may be a path of (default: all of them, told apart by its
        `#meta.spec_name`)."""
        return self.specs

    def schedule_names(self) -> dict[str, type]:
        """The classes a recorded schedule's repr may call, by name (property_tests/record.py)."""
        return {
            name: value
            for module in self.schedules
            for name, value in vars(module).items()
            if isinstance(value, type) and attrs.has(value)
        }

    def stored_traces(self, bugs: frozenset[str], settings: Settings | None = None) -> None:
        """The check: every stored trace, followed by the implementation with `bugs` (settings
        unused: the corpus is fixed). CheckFailed on the first divergence.

        A bug that lockstep cannot reach has no spec path in the corpus; the free run that found it
        is kept among the fixed bugs (traces/counterexamples/<protocol>/) with the mutant that brings
        it back in `#meta.bugs`. Those runs are re-run from their seeds too when one of their
        mutants is switched on, so a bug found once stays caught in every profile, as a stored spec
        path keeps a lockstep kill."""
        for path in self.corpus():
            self.replay_on_impl(itf.read(path), bugs, where=str(path))
        for path in self.fixed():
            trace = itf.read(path)
            if bugs & expected_kill(path) and trace.meta.get("source") == "impl":
                self._rerun(trace, bugs, str(path))

    def stored_runs(self, bugs: frozenset[str], settings: Settings | None = None) -> None:
        """The check of a protocol whose stored traces are free runs (`#meta.source` "impl"), not
        spec paths (gossip's, HotStuff's): every stored run of traces/<protocol>/ re-run from its
        seed with `bugs` switched on besides its own, the runs written for these bugs first
        (settings unused: the corpus is fixed). CheckFailed on the first that fails."""
        from meshcheck.property_tests import corpus

        entries = corpus.entries([self.protocol])
        for entry in sorted(entries, key=lambda e: not (e.bugs & bugs)):
            replayed = corpus.replay(entry, bugs)
            if not replayed.holds:
                raise CheckFailed(f"{entry.name}: {replayed.problem}", steps=replayed.steps)

    def _rerun(self, trace: Trace, bugs: frozenset[str], where: str) -> None:
        """Re-run a stored free run with `bugs` switched on; its CheckFailed if it fails."""
        from meshcheck.property_tests import record

        meta = trace.meta.get("rerun")
        if meta is None:
            raise TraceFormatError(where, "#meta.rerun", "missing: a free run needs it to re-run")
        spec = record.Rerun.from_meta(meta, where)
        failed = record.rerun(attrs.evolve(spec, bugs=tuple(sorted({*spec.bugs, *bugs}))))
        if failed is not None:
            raise failed

    def minimize(self, failure: CheckFailed, bugs: frozenset[str]) -> CheckFailed:
        return minimize(self.specs, failure, bugs)
