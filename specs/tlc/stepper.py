"""TLC's state graph of one spec and model, as a Python object.

The property tests replay the spec against the implementation in lockstep, and the model checker
rebuilds counterexamples step by step: both ask TLC (in this process, through JPype) for the initial
states, the enabled action instances and their successors. TLC is the oracle; this module only names
its answers.

Choices, and why:

- One `TLCRuntime` (class loader) per Stepper. TLC keeps the variables of "the" spec in static fields
  (`TLCState.Empty`, `UniqueString` variable locations), so two specs with different variables need two
  copies of TLC's classes. A runtime passed in must not already host another open Stepper.
- Module lookup starts in the spec's folder. SANY looks for a module first in `ToolIO.userDir`, else in
  the JVM's working directory: a `MC.tla` in the working directory would silently replace the spec's own
  (measured). Setting the runtime's `userDir` to the spec's folder closes that hole.
- States stay in Java. Converting a whole raft-like state to Python costs more than computing all its
  successors, so a `State` converts one variable at a time, when asked, and caches it; the Stepper's
  `Converter` also memoizes converted values by fingerprint, as successors share most of their values
  with their predecessor (bench/bench_stepper.py measures both).
- One call into TLC per successors() call: `Tool.getNextStates(INextStateFunctor, state)` runs every
  action in Java and calls back once per successor with its Action, instead of one call per action
  (most of which are disabled in any given state).
- State identity is TLC's fingerprint of the exact values, without SYMMETRY or VIEW (we never call
  `TLCStateMut.setTool`, which is what switches them on): a lockstep test must tell s1's leadership from
  s2's. The counts of a breadth-first search therefore match TLC's on models without SYMMETRY/VIEW.
  Fingerprints do not depend on normalization: every set and function normalizes itself before it
  fingerprints (`SetEnumValue.fingerPrint`, `FcnRcdValue.fingerPrint`), so the successors `getNextStates`
  returns and the states `state()` builds fingerprint alike (tests/test_stepper.py checks it).
- `getNextStates` ignores CONSTRAINT, ACTION_CONSTRAINT and invariants: `successors(constrained=True)`
  applies the constraints the way TLC's model checker does (successors outside the model are not
  explored), `violated` evaluates the invariants.

A Stepper is not thread-safe (TLC's evaluator is shared, and so is the successor collector): use one
per thread.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs

from meshcheck import words
from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.errors import SpecError
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.specs.tlc.diagnostics import load_error
from meshcheck.specs.tlc.runtime import TLCRuntime
from meshcheck.specs.tlc.values import Converter
from meshcheck.specs.tlc.values import TLCValueError
from meshcheck.specs.tlc.values import ValueBuilder
from meshcheck.specs.tlc.values import to_python

__all__ = ["ActionInstance", "State", "Stepper", "StepperError", "Transition"]


class StepperError(MeshcheckError):
    """A Stepper used wrongly: a closed stepper, an unknown action, a state with missing variables."""


class UnknownVariable(StepperError, KeyError):
    """`state["name"]` for a variable the spec does not declare."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def _frozen(m: Mapping[str, Value]) -> FrozenDict:
    return m if isinstance(m, FrozenDict) else FrozenDict(m)


@attrs.frozen
class ActionInstance:
    """One instantiation of an action of Next: its operator name and the values of its parameters.

    `params` are the formal parameters of the action's operator (`HandleRequestVote(i, j)` gives i and j)
    in declaration order; for a disjunct of Next written inline, the variables its `\\E` bound. A value
    with no Python counterpart (an operator passed as an argument) is kept as TLC's text of it.
    """

    name: str
    params: FrozenDict = attrs.field(factory=FrozenDict, converter=_frozen)

    def label(self) -> str:
        """`HandleRequestVote(i=s1, j=s2)`, or just the name when there are no parameters."""
        return Step(FrozenDict(), self.name, self.params).label()


class _Vars:
    """What the states of one spec share: variable names (declaration order), TLC's keys for them, and
    the converter (with its memo of values already converted) that turns their values into Python."""

    __slots__ = ("convert", "keys", "names")

    def __init__(self, names: tuple[str, ...], keys: dict[str, Any], convert: Converter) -> None:
        self.names = names
        self.keys = keys  # variable name -> util.UniqueString
        self.convert = convert


class State:
    """A TLC state: cheap to keep, converted to Python one variable at a time and only when asked.

    Equal (and hashed) by fingerprint: two States are equal when TLC holds them for the same state.
    The fingerprint may be computed on first use (`fingerprint=None`): it costs as much as the whole
    state is large, and a walk that finds one successor at each step need not compare states.
    """

    __slots__ = ("_cache", "_fp", "_values", "_vars", "java")

    def __init__(self, java: Any, fingerprint: int | None, variables: _Vars) -> None:
        self.java = java
        self._fp = fingerprint
        self._vars = variables
        self._cache: dict[str, Value] = {}
        self._values: FrozenDict | None = None

    @property
    def fingerprint(self) -> int:
        """TLC's 64-bit fingerprint of the state (without SYMMETRY or VIEW)."""
        fp = self._fp
        if fp is None:
            fp = self._fp = int(self.java.fingerPrint())
        return fp

    def __getitem__(self, var: str) -> Value:
        value = self._cache.get(var, _MISSING)
        if value is _MISSING:
            key = self._vars.keys.get(var)
            if key is None:
                raise UnknownVariable(
                    f"no variable {var!r}; the spec has {', '.join(self._vars.names)}"
                )
            value = self._vars.convert(self.java.lookup(key))
            self._cache[var] = value
        return value

    @property
    def values(self) -> FrozenDict:
        """All variables as Python values, in declaration order."""
        if self._values is None:
            self._values = FrozenDict((v, self[v]) for v in self._vars.names)
        return self._values

    def tla(self) -> str:
        """TLC's own text of the state (`/\\ x = 1` ...)."""
        self.java.deepNormalize()  # print sets in TLC's order; does not change the fingerprint
        return str(self.java.toString()).rstrip("\n")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"State(fingerprint={self.fingerprint & 0xFFFFFFFFFFFFFFFF:#018x})"


_MISSING: Any = object()


@attrs.frozen
class Transition:
    """A step of the state graph: the action instance taken and the state it leads to."""

    action: ActionInstance
    state: State


# Runtimes that host an open Stepper: TLC's statics hold one spec per runtime.
_hosts: weakref.WeakKeyDictionary[TLCRuntime, str] = weakref.WeakKeyDictionary()


class Stepper:
    """Initial states, enabled action instances and successors of one spec under one TLC model.

    `spec` is a .tla file; `config` defaults to the .cfg of the same name beside it. A spec that does
    not parse raises SpecError (with file, line and column when SANY gave them), a missing or wrong
    configuration ConfigError. Attributes: `vars` (declaration order), `actions` (every instance, in
    Next's order), `action_names`, `invariants` (the cfg's), `model_values` (the cfg's), and `values`,
    the ValueBuilder that turns Python values into this spec's TLC values.
    """

    def __init__(
        self,
        spec: str | Path,
        config: str | Path | None = None,
        *,
        runtime: TLCRuntime | None = None,
    ) -> None:
        self.spec = _existing_spec(Path(spec))
        self.config = _existing_config(self.spec, config)
        if runtime is not None and runtime in _hosts:
            raise StepperError(
                f"this TLC runtime already hosts a Stepper for {_hosts[runtime]}; "
                "TLC keeps one spec per runtime: give each Stepper its own"
            )
        self._own_runtime = runtime is None
        self.rt = runtime if runtime is not None else TLCRuntime()
        self._closed = False
        try:
            self._tool = self._load()
            self._setup()
        except BaseException:
            if self._own_runtime:
                self.rt.close()
            raise
        _hosts[self.rt] = str(self.spec)

    # ------------------------------------------------------------------ loading

    def _load(self) -> Any:
        import jpype

        rt = self.rt
        folder = str(self.spec.parent)
        rt.jclass("util.ToolIO").setUserDir(folder)
        cfg = os.path.relpath(self.config.with_suffix(""), folder)
        FastTool = rt.jclass("tlc2.tool.impl.FastTool")
        resolver = rt.jclass("util.SimpleFilenameToStream")(folder)
        # Before the spec is processed: TLC evaluates its constant definitions then, and a function
        # of more than ten elements among them (PBFT.tla's PrimaryOf at MaxView >= 10) is hashed
        # into an index table by its arguments' fingerprints. Built while FP64 was uninitialized,
        # that table files every argument under fingerprint 0, and every later application of the
        # function misses ("not in the domain of the function").
        rt.jclass("tlc2.util.FP64").Init()
        with rt.capture() as cap:
            try:
                tool = FastTool(folder + os.sep, self.spec.stem, cfg, resolver)
            except jpype.JException as exc:
                message = str(exc.getMessage() or exc.getClass().getName())
                raise load_error(cap.text(), message, spec=self.spec, config=self.config) from None
        return tool

    def _setup(self) -> None:
        import jpype

        tool = self._tool
        nodes = list(tool.getSpecProcessor().getVariablesNodes())
        root = str(self.spec.stem)

        def declared_at(node: Any) -> tuple[bool, str, int, int]:
            loc = node.getLocation()
            source = str(loc.source())
            return (source != root, source, int(loc.beginLine()), int(loc.beginColumn()))

        nodes.sort(key=declared_at)
        keys = {str(n.getName()): n.getName() for n in nodes}
        self.vars: tuple[str, ...] = tuple(keys)
        self._vars = _Vars(self.vars, keys, Converter(self.rt))
        self._empty = self.rt.jclass("tlc2.tool.TLCState").Empty
        self.model_values: frozenset[str] = self._model_values()
        self.values = ValueBuilder(self.rt, self.model_values)

        java_actions = list(tool.getActions())
        fields = _context_fields(self.rt)
        instances = [self._instance(a, fields) for a in java_actions]
        # Inline disjuncts of Next all carry the name "Next"; equal instances share their Java actions.
        self._java_actions: dict[ActionInstance, list[Any]] = {}
        for inst, act in zip(instances, java_actions, strict=True):
            self._java_actions.setdefault(inst, []).append(act)
        self.actions: tuple[ActionInstance, ...] = tuple(self._java_actions)
        self.action_names: tuple[str, ...] = tuple(dict.fromkeys(a.name for a in self.actions))
        # Keyed by the Java Action (identity: Action does not override equals/hashCode).
        self._instance_of: dict[Any, ActionInstance] = dict(
            zip(java_actions, instances, strict=True)
        )
        self._collector = _Collector()
        self._functor = jpype.JProxy(
            self.rt.jclass("tlc2.tool.INextStateFunctor"), inst=self._collector
        )
        self.invariants: tuple[str, ...] = tuple(str(n) for n in tool.getInvNames())
        self._invariants = list(tool.getInvariants())
        self._constrained = bool(tool.hasStateOrActionConstraints())

    def _model_values(self) -> frozenset[str]:
        """The names of the model values the configuration declared (TLC's table of them)."""
        cls = self.rt.jclass("tlc2.value.impl.ModelValue")
        field = cls.class_.getDeclaredField("mvTable")
        field.setAccessible(True)
        table = field.get(None)
        return frozenset(str(k) for k in table.keySet()) if table is not None else frozenset()

    def _instance(self, action: Any, fields: tuple[Any, Any, Any]) -> ActionInstance:
        name = action.getName()
        bindings = _bindings(action.con, fields)
        opdef = action.getOpDef()
        formals = [str(p.getName()) for p in opdef.getParams()] if opdef is not None else []
        if formals and all(f in bindings for f in formals):
            chosen = [(f, bindings[f]) for f in formals]
        else:  # inline disjunct: every variable its \E bound, outermost first
            chosen = list(reversed(bindings.items()))
        return ActionInstance(
            name=str(name) if name is not None else "Next",
            params=FrozenDict((k, _param(v)) for k, v in chosen),
        )

    @property
    def constrained(self) -> bool:
        """Whether the model has a CONSTRAINT or ACTION_CONSTRAINT (then `successors()` may
        leave out successors that `successors_of` finds)."""
        return self._constrained

    # ------------------------------------------------------------------ the state graph

    def init_states(self, *, constrained: bool = True) -> list[State]:
        """The distinct initial states (those inside the model's CONSTRAINT unless constrained=False)."""
        self._check_open()
        vec = self._call("evaluating Init", self._tool.getInitStates)
        states = list(self._distinct(vec))
        if constrained and self._constrained:
            states = [s for s in states if self.in_model(s)]
        return states

    def successors(self, state: State, *, constrained: bool = True) -> list[Transition]:
        """Every enabled action instance's successors of `state`, in Next's order.

        constrained=True drops successors outside the model (CONSTRAINT, ACTION_CONSTRAINT), which TLC's
        model checker does not explore. A successor reached by two instances appears once per instance.
        """
        self._check_open()
        out: list[Transition] = []
        tool = self._tool
        check = constrained and self._constrained
        seen: set[tuple[ActionInstance, int]] = set()
        for inst, java in self._all_successors(state):
            self._check_assigned(java, inst)  # before fingerPrint(), which fails on a missing value
            fp = int(java.fingerPrint())
            if (inst, fp) in seen:
                continue
            seen.add((inst, fp))
            if check and not self._call(
                f"evaluating the constraints after {inst.label()}",
                lambda j=java: tool.isInModel(j) and tool.isInActions(state.java, j),
            ):
                continue
            out.append(Transition(inst, State(java, fp, self._vars)))
        return out

    def _all_successors(self, state: State) -> list[tuple[ActionInstance, Any]]:
        """(instance, TLCState) for every successor by every action, in one call into TLC.

        `Tool.getNextStates(INextStateFunctor, state)` walks all actions in Java and calls back once per
        successor with its Action: measured 2 to 4 times faster on stepper_raft (58 actions) than one
        `getNextStates(action, state)` call per action, as most actions are disabled in most states.
        """
        import jpype

        found = self._collector.found = []
        try:
            self._tool.getNextStates(self._functor, state.java)
        except jpype.JException as exc:
            raise _eval_error("computing successors", exc) from None
        finally:
            self._collector.found = []
        inst_of = self._instance_of
        return [(inst_of[act], java) for act, java in found]

    def successors_of(self, state: State, action: ActionInstance) -> list[State]:
        """The successors of `state` by one action instance (unconstrained: the spec's own steps)."""
        self._check_open()
        acts = self._java_actions.get(action)
        if acts is None:
            raise StepperError(f"no action instance {action.label()} in the spec's Next")
        out: list[State] = []
        seen: set[int] = set()
        for act in acts:
            for succ in self._distinct(self._next(act, action, state), action):
                if succ.fingerprint not in seen:
                    seen.add(succ.fingerprint)
                    out.append(succ)
        return out

    def find_step(self, before: State, after: State) -> Transition | None:
        """The first action instance (in Next's order) that takes `before` to `after`; None if none does.

        Unconstrained: a step is a step of the spec whether or not the model's bounds would explore it.
        """
        self._check_open()
        target = after.fingerprint
        for inst, java in self._all_successors(before):
            self._check_assigned(java, inst)
            if int(java.fingerPrint()) == target:
                return Transition(inst, State(java, target, self._vars))
        return None

    def successors_where(
        self, state: State, action: ActionInstance, keep: Any, java_actions: list[Any] | None = None
    ) -> list[State]:
        """The successors of `state` by `action` (or by `java_actions`, TLC actions made outside
        the Stepper, labelled `action`) for which `keep(TLCState)` holds, tested before the
        successor is fingerprinted (a fingerprint costs as much as the whole state is large)."""
        self._check_open()
        acts = java_actions if java_actions is not None else self._java_actions.get(action)
        if acts is None:
            raise StepperError(f"no action instance {action.label()} in the spec's Next")
        kept: list[Any] = []
        for act in acts:
            vec = self._next(act, action, state)
            for k in range(vec.size()):
                java = vec.elementAt(k)
                self._check_assigned(java, action)
                if keep(java):
                    kept.append(java)
        if len(kept) == 1:  # nothing to tell apart: the fingerprint waits until it is asked for
            return [State(kept[0], None, self._vars)]
        out: list[State] = []
        seen: set[int] = set()
        for java in kept:
            fp = int(java.fingerPrint())
            if fp not in seen:
                seen.add(fp)
                out.append(State(java, fp, self._vars))
        return out

    def java_actions(self, action: ActionInstance) -> list[Any]:
        """TLC's `tlc2.tool.Action`s of one instance (its `pred`, the action's body, and `con`, the
        parameter bindings): for tools that evaluate parts of an action (traces/logs/guards.py)."""
        self._check_open()
        return list(self._java_actions.get(action, ()))

    def to_python(self, value: Any) -> Value:
        """The Python value of a TLC value of this Stepper's runtime, through the memo (by
        fingerprint) the states' variables share."""
        return self._vars.convert(value)

    @property
    def tool(self) -> Any:
        """TLC's `FastTool` for this spec and model (for `eval` of a part of an action)."""
        self._check_open()
        return self._tool

    def state(self, values: Mapping[str, Value]) -> State:
        """The TLC state with these variable values (every variable, nothing else)."""
        self._check_open()
        missing = [v for v in self.vars if v not in values]
        unknown = [k for k in values if k not in self._vars.keys]
        if missing or unknown:
            parts = words.groups(("missing", missing), ("unknown", unknown))
            raise StepperError(f"not a state of {self.spec.name}: {parts}")
        java = self._empty.createEmpty()
        for var in self.vars:
            try:
                tlc = self.values.to_tlc(values[var])
            except TLCValueError as exc:
                raise TLCValueError(f"variable {var}: {exc}") from None
            java.bind(self._vars.keys[var], tlc)
        return State(java, int(java.fingerPrint()), self._vars)

    def violated(self, state: State) -> list[str]:
        """The names of the configuration's invariants that `state` violates."""
        self._check_open()
        tool = self._tool
        return [
            name
            for name, inv in zip(self.invariants, self._invariants, strict=True)
            if not self._call(
                f"evaluating invariant {name}", lambda inv=inv: tool.isValid(inv, state.java)
            )
        ]

    def in_model(self, state: State) -> bool:
        """Whether `state` satisfies the model's CONSTRAINTs (TLC explores only such states)."""
        self._check_open()
        return bool(self._call("evaluating CONSTRAINT", lambda: self._tool.isInModel(state.java)))

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Release TLC (and the runtime, when this Stepper made it). States already taken stay usable."""
        if self._closed:
            return
        self._closed = True
        _hosts.pop(self.rt, None)
        self._tool = None
        self._instance_of = {}
        self._java_actions = {}
        if self._own_runtime:
            self.rt.close()

    def __enter__(self) -> Stepper:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Stepper({str(self.spec)!r}, {str(self.config)!r})"

    # ------------------------------------------------------------------ helpers

    def _check_open(self) -> None:
        if self._closed:
            raise StepperError(f"the Stepper for {self.spec.name} is closed")

    def _next(self, act: Any, inst: ActionInstance, state: State) -> Any:
        import jpype

        try:
            return self._tool.getNextStates(act, state.java)
        except jpype.JException as exc:
            raise _eval_error(f"computing the successors by {inst.label()}", exc) from None

    def _distinct(self, vec: Any, inst: ActionInstance | None = None) -> Iterator[State]:
        """The states of a StateVec, each once, checked to assign every variable."""
        seen: set[int] = set()
        for i in range(vec.size()):
            java = vec.elementAt(i)
            self._check_assigned(java, inst)  # before fingerPrint(), which fails on a missing value
            fp = int(java.fingerPrint())
            if fp not in seen:
                seen.add(fp)
                yield State(java, fp, self._vars)

    def _check_assigned(self, java: Any, inst: ActionInstance | None) -> None:
        if not java.allAssigned():
            unassigned = sorted(str(n.getName()) for n in java.getUnassigned())
            where = f"action {inst.label()}" if inst is not None else "Init"
            raise SpecError(
                f"{where} leaves {', '.join(unassigned)} unassigned", file=str(self.spec)
            )

    def _call(self, doing: str, fn: Any) -> Any:
        import jpype

        try:
            return fn()
        except jpype.JException as exc:
            raise _eval_error(doing, exc) from None


class _Collector:
    """The Python side of a tlc2.tool.INextStateFunctor: TLC calls it once per successor."""

    def __init__(self) -> None:
        self.found: list[tuple[Any, Any]] = []

    def addElement(self, *args: Any) -> None:  # Java's name for it
        if len(args) == 3:  # addElement(TLCState s0, Action action, TLCState s1)
            self.found.append((args[1], args[2]))
        # addElement(TLCState) (IStateFunctor) is not used by getNextStates


def _context_fields(rt: TLCRuntime) -> tuple[Any, Any, Any]:
    """The private fields (name, value, next) of this runtime's tlc2.util.Context, made readable.

    A Context is a linked list of (SymbolNode, value) bindings with no public accessor for them.
    """
    cls = rt.jclass("tlc2.util.Context").class_
    fields = []
    for name in ("name", "value", "next"):
        f = cls.getDeclaredField(name)
        f.setAccessible(True)
        fields.append(f)
    return fields[0], fields[1], fields[2]


def _bindings(con: Any, fields: tuple[Any, Any, Any]) -> dict[str, Any]:
    """The bindings of a tlc2.util.Context, innermost first, each name once (its innermost binding)."""
    f_name, f_value, f_next = fields
    out: dict[str, Any] = {}
    while con is not None:
        sym = f_name.get(con)
        if sym is not None:  # the empty tail of every context has no name
            out.setdefault(str(sym.getName()), f_value.get(con))
        con = f_next.get(con)
    return out


def _param(v: Any) -> Value:
    try:
        return to_python(v)
    except TLCValueError:  # an operator argument, say: keep TLC's text as the label
        return str(v.toString())


def _existing_spec(spec: Path) -> Path:
    spec = spec.expanduser()
    if spec.suffix != ".tla":
        raise SpecError(f"not a TLA+ module (expected a .tla file): {spec}")
    if not spec.is_file():
        raise SpecError(f"no such spec: {spec}")
    return spec.resolve()


def _existing_config(spec: Path, config: str | Path | None) -> Path:
    cfg = spec.with_suffix(".cfg") if config is None else Path(config).expanduser()
    if cfg.suffix != ".cfg":
        raise ConfigError(f"not a TLC model configuration (expected a .cfg file): {cfg}")
    if not cfg.is_file():
        raise ConfigError(f"no such model configuration: {cfg}")
    return cfg.resolve()


def _eval_error(doing: str, exc: Any) -> SpecError:
    message = str(exc.getMessage() or exc.getClass().getSimpleName())
    return SpecError(f"TLC failed {doing}: {_one_line(message)}")


def _one_line(text: str) -> str:
    return " ".join(text.split())
