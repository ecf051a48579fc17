"""A small proof framework on Z3: lemmas, and inductive invariants of abstract protocol models.

Why Z3 next to TLC: TLC checks a spec for three servers and a few terms; the facts here hold for every
cluster size and every number of terms, because sorts are unbounded and integers are symbolic.

A protocol model (after mypyvy, and Taube et al., "Modularity for Decidability of Deductive Verification
with Applications to Distributed Systems", PLDI 2018) has uninterpreted sorts; relations, functions and
constants over them, each immutable or mutable; axioms over the immutable symbols; an init condition;
named transitions that each name what they modify (the frame, "everything else stays unchanged", is added
here, never written by hand); and named invariants. The obligations:

- non-vacuity: the axioms and init are satisfiable, and every transition is enabled in some state
  satisfying the invariants. Without this, contradictory axioms or a guard that is always false would
  make every proof below hold vacuously.
- initiation: axioms and init imply each invariant.
- consecution: axioms, all invariants in the pre-state and one transition imply one invariant in the
  post-state: one solver frame per (transition, invariant), so a failure names both.
- bounded: no run of at most `depth` steps from init violates a safety (non-auxiliary) invariant. A failed
  consecution may come from an invariant too weak to be inductive (its counterexample state need not be
  reachable); a bounded failure is a real bug, with the shortest trace.

Keep models in EPR: quantifier alternations (and functions) must not form a cycle between sorts, e.g.
`forall quorum. exists node` is fine while `forall node. exists quorum` would close a cycle with it. Z3
then decides every obligation, in milliseconds. Each solver call has a timeout; reaching it gives
"unknown", never "proved".
"""

from __future__ import annotations

import itertools
import keyword
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs
import z3

from meshcheck.errors import MeshcheckError
from traces.model import INIT, Step
from traces.values import FrozenDict, Value

Status = Literal["proved", "failed", "unknown"]
Kind = Literal["lemma", "non-vacuity", "initiation", "consecution", "bounded"]
Formula = Callable[["State"], Any]  # State -> z3.BoolRef

DEFAULT_TIMEOUT_MS = 30_000
DEFAULT_DEPTH = 4
# The action of the first state of a consecution counterexample: any state where every invariant holds,
# not necessarily a reachable one.
ASSUMED = "Invariants"
_RESERVED = frozenset({"sort", "forall", "exists"})  # State's own methods
_BUILTIN = frozenset({"bool", "int"})


class ModelError(MeshcheckError):
    """A protocol model or lemma that does not make sense (unknown sort or symbol, bad modifies, ...)."""


# ---------------------------------------------------------------------------------------------------------
# What a model is made of


@attrs.frozen
class Sort:
    """An uninterpreted, unbounded sort. Counterexamples name its elements `prefix` + index."""

    name: str
    prefix: str = ""

    @property
    def element_prefix(self) -> str:
        return self.prefix or self.name[0]


@attrs.frozen
class Symbol:
    """A relation (result "bool"), function or constant (no args). Only mutable ones change in a step."""

    name: str
    args: tuple[str, ...] = ()
    result: str = "bool"
    mutable: bool = True


def relation(name: str, *args: str, mutable: bool = True) -> Symbol:
    return Symbol(name, tuple(args), "bool", mutable)


def function(name: str, args: Sequence[str], result: str, *, mutable: bool = True) -> Symbol:
    return Symbol(name, tuple(args), result, mutable)


def constant(name: str, sort: str, *, mutable: bool = True) -> Symbol:
    return Symbol(name, (), sort, mutable)


@attrs.frozen
class Axiom:
    """A formula over the immutable symbols, assumed in every obligation."""

    name: str
    formula: Formula


@attrs.frozen
class Invariant:
    """A formula over one state. Auxiliary ones exist only to make the others inductive."""

    name: str
    formula: Formula
    auxiliary: bool = False


@attrs.frozen
class Transition:
    """A named step: `body(old, new, *params)` with `params` (name, sort) chosen existentially.

    `body` must define the new value of every symbol in `modifies` (see `inserted`, `assigned`); every
    other mutable symbol keeps its value.
    """

    name: str
    params: tuple[tuple[str, str], ...]
    modifies: tuple[str, ...]
    body: Callable[..., Any]


def _names_unique(kind: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ModelError(f"two {kind} named {name!r}")
        seen.add(name)


@attrs.frozen
class ProtocolModel:
    """An abstract protocol: see the module docstring."""

    name: str
    sorts: tuple[Sort, ...]
    symbols: tuple[Symbol, ...]
    axioms: tuple[Axiom, ...]
    init: tuple[Formula, ...]
    transitions: tuple[Transition, ...]
    invariants: tuple[Invariant, ...]

    def __attrs_post_init__(self) -> None:
        where = f"model {self.name}"
        _names_unique("sorts", [s.name for s in self.sorts])
        _names_unique("symbols", [s.name for s in self.symbols])
        _names_unique("transitions", [t.name for t in self.transitions])
        _names_unique("invariants", [i.name for i in self.invariants])
        _names_unique(
            "sort element prefixes (give one sort a prefix)", [s.element_prefix for s in self.sorts]
        )
        sorts = {s.name for s in self.sorts}
        for s in self.sorts:
            if not s.name.isidentifier() or s.name in _BUILTIN:
                raise ModelError(
                    f"{where}: sort name {s.name!r} is not an identifier or is built in"
                )
        symbols = {s.name: s for s in self.symbols}
        for sym in self.symbols:
            if not sym.name.isidentifier() or keyword.iskeyword(sym.name):
                raise ModelError(f"{where}: symbol name {sym.name!r} is not a Python identifier")
            if sym.name.startswith("_") or sym.name in _RESERVED:
                raise ModelError(f"{where}: symbol name {sym.name!r} is reserved")
            for arg in sym.args:
                if arg not in sorts:
                    raise ModelError(f"{where}: symbol {sym.name} takes unknown sort {arg!r}")
            if sym.result not in sorts | _BUILTIN:
                raise ModelError(f"{where}: symbol {sym.name} has unknown sort {sym.result!r}")
        for t in self.transitions:
            for pname, psort in t.params:
                if psort not in sorts:
                    raise ModelError(
                        f"{where}: transition {t.name} parameter {pname} of unknown sort {psort!r}"
                    )
            for m in t.modifies:
                if m not in symbols:
                    raise ModelError(f"{where}: transition {t.name} modifies unknown symbol {m!r}")
                if not symbols[m].mutable:
                    raise ModelError(
                        f"{where}: transition {t.name} modifies immutable symbol {m!r}"
                    )

    @property
    def mutable(self) -> tuple[Symbol, ...]:
        return tuple(s for s in self.symbols if s.mutable)


# ---------------------------------------------------------------------------------------------------------
# Z3 declarations: immutable symbols once, mutable symbols once per state


class Vocabulary:
    """The Z3 sorts and declarations of one model."""

    def __init__(self, model: ProtocolModel) -> None:
        self.model = model
        self.sorts: dict[str, Any] = {"bool": z3.BoolSort(), "int": z3.IntSort()}
        for s in model.sorts:
            self.sorts[s.name] = z3.DeclareSort(s.name)
        self.symbols = {s.name: s for s in model.symbols}
        self.fixed = {s.name: self._declare(s, s.name) for s in model.symbols if not s.mutable}

    def _declare(self, sym: Symbol, z3name: str) -> Any:
        result = self.sorts[sym.result]
        if not sym.args:
            return z3.Const(z3name, result)
        return z3.Function(z3name, *(self.sorts[a] for a in sym.args), result)

    def state(self, tag: str | None) -> State:
        """The symbols of one state (mutable ones suffixed with `tag`); None: immutable symbols only."""
        decls = dict(self.fixed)
        if tag is not None:
            for s in self.model.mutable:
                decls[s.name] = self._declare(s, s.name + tag)
        return State(self, decls, tag)


class State:
    """One state's symbols, as attributes: `s.voted(n, t, c)`, `s.commit_index` (a constant)."""

    def __init__(
        self,
        vocab: Vocabulary,
        decls: dict[str, Any],
        tag: str | None,
        writer: Transition | None = None,
    ) -> None:
        self._vocab = vocab
        self._decls = decls
        self._tag = tag
        # The post-state as a transition's body sees it: only what the transition modifies. Reading
        # another symbol's new value would fight the frame and make the transition silently disabled.
        self._writer = writer

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        where = f"model {self._vocab.model.name}"
        sym = self._vocab.symbols.get(name)
        if sym is None:
            raise ModelError(f"{where}: no symbol {name!r}")
        if self._tag is None and sym.mutable:
            raise ModelError(f"{where}: an axiom uses mutable symbol {name!r}")
        w = self._writer
        if w is not None and sym.mutable and name not in w.modifies:
            raise ModelError(
                f"{where}: transition {w.name} uses the new {name!r} but does not modify it"
            )
        return self._decls[name]

    def _written_by(self, t: Transition) -> State:
        return State(self._vocab, self._decls, self._tag, t)

    def sort(self, name: str) -> Any:
        try:
            return self._vocab.sorts[name]
        except KeyError:
            raise ModelError(f"model {self._vocab.model.name}: no sort {name!r}") from None

    def _bound(self, sorts: Sequence[str]) -> list[Any]:
        return [z3.FreshConst(self.sort(s), s[0].upper()) for s in sorts]

    def forall(self, sorts: Sequence[str], body: Callable[..., Any]) -> Any:
        """`forall x1: sorts[0], ... . body(x1, ...)`."""
        xs = self._bound(sorts)
        return z3.ForAll(xs, body(*xs))

    def exists(self, sorts: Sequence[str], body: Callable[..., Any]) -> Any:
        xs = self._bound(sorts)
        return z3.Exists(xs, body(*xs))


def _symbol(state: State, name: str) -> Symbol:
    sym = state._vocab.symbols.get(name)
    if sym is None:
        raise ModelError(f"model {state._vocab.model.name}: no symbol {name!r}")
    return sym


def inserted(old: State, new: State, name: str, *point: Any) -> Any:
    """The new relation `name` is the old one plus the tuple `point`."""
    sym = _symbol(old, name)
    if len(point) != len(sym.args) or sym.result != "bool":
        raise ModelError(f"inserted: {name} is not a relation of arity {len(point)}")
    o, n = getattr(old, name), getattr(new, name)
    if not point:
        return n == z3.BoolVal(True)
    return new.forall(
        sym.args,
        lambda *xs: (
            n(*xs) == z3.Or(o(*xs), z3.And(*(x == p for x, p in zip(xs, point, strict=True))))
        ),
    )


def assigned(old: State, new: State, name: str, args: Sequence[Any], value: Any) -> Any:
    """The new function (or relation) `name` maps `args` to `value` and agrees with the old one elsewhere."""
    sym = _symbol(old, name)
    if len(args) != len(sym.args):
        raise ModelError(f"assigned: {name} takes {len(sym.args)} arguments, not {len(args)}")
    o, n = getattr(old, name), getattr(new, name)
    if not args:
        return n == value
    return new.forall(
        sym.args,
        lambda *xs: (
            n(*xs) == z3.If(z3.And(*(x == a for x, a in zip(xs, args, strict=True))), value, o(*xs))
        ),
    )


def _unchanged(old: State, new: State, sym: Symbol) -> Any:
    o, n = getattr(old, sym.name), getattr(new, sym.name)
    if not sym.args:
        return o == n
    return new.forall(sym.args, lambda *xs: o(*xs) == n(*xs))


def _formula(what: str, value: Any) -> Any:
    """Catch a Python bool (e.g. `a is b`) or None where a Z3 formula was meant."""
    if not z3.is_bool(value):
        raise ModelError(f"{what} is not a Z3 formula: {value!r}")
    return value


def _axioms(vocab: Vocabulary) -> list[Any]:
    fixed = vocab.state(None)
    return [_formula(f"axiom {a.name}", a.formula(fixed)) for a in vocab.model.axioms]


def _init(vocab: Vocabulary, s: State) -> list[Any]:
    return [_formula(f"model {vocab.model.name}: init", f(s)) for f in vocab.model.init]


def _invariant(inv: Invariant, s: State) -> Any:
    return _formula(f"invariant {inv.name}", inv.formula(s))


def _params(vocab: Vocabulary, t: Transition, tag: str) -> list[Any]:
    return [z3.Const(f"{t.name}.{p}{tag}", vocab.sorts[s]) for p, s in t.params]


def _step(vocab: Vocabulary, t: Transition, old: State, new: State, params: Sequence[Any]) -> Any:
    body = _formula(f"transition {t.name}", t.body(old, new._written_by(t), *params))
    frame = [_unchanged(old, new, s) for s in vocab.model.mutable if s.name not in t.modifies]
    return z3.And(body, *frame)


# ---------------------------------------------------------------------------------------------------------
# Results and counterexamples


def _show(v: Value) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | str):
        return str(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    if isinstance(v, FrozenDict):
        return (
            "{"
            + ", ".join(f"{_show(k)} -> {_show(x)}" for k, x in sorted(v.items(), key=str))
            + "}"
        )
    if isinstance(v, frozenset):
        return "{" + ", ".join(sorted(_show(x) for x in v)) + "}"
    return repr(v)


def _frozen(m: Mapping[str, Any]) -> FrozenDict:
    return m if isinstance(m, FrozenDict) else FrozenDict(m)


def _line(values: Mapping[str, Value]) -> str:
    return "; ".join(f"{k} = {_show(v)}" for k, v in values.items())


@attrs.frozen
class Counterexample:
    """Why an obligation failed, in the Python values of `traces.values`.

    A model counterexample: the universe of each sort (element names), the immutable symbols, and a
    sequence of states over the mutable symbols (relations as sets of tuples, functions as FrozenDicts),
    each with the transition and parameters that led to it. `steps[0].action` is INIT when the run starts
    in an initial state, ASSUMED when it starts in any state satisfying the invariants. A lemma
    counterexample: `ints`, the values of the lemma's integers.
    """

    # sort -> its element names, in order (tuple[str, ...])
    universe: FrozenDict = attrs.field(factory=FrozenDict, converter=_frozen)
    fixed: FrozenDict = attrs.field(factory=FrozenDict, converter=_frozen)  # symbol -> Value
    steps: tuple[Step, ...] = ()
    violated: str | None = None  # the invariant false in the last state
    ints: FrozenDict = attrs.field(factory=FrozenDict, converter=_frozen)  # label -> int

    def render(self) -> str:
        lines: list[str] = []
        if self.ints:
            lines.append(_line(self.ints))
        if self.universe:
            lines.append("; ".join(f"{k} = {{{', '.join(v)}}}" for k, v in self.universe.items()))
        if self.fixed:
            lines.append(_line(self.fixed))
        for i, step in enumerate(self.steps):
            if i == 0:
                head = (
                    "initial state"
                    if step.action == INIT
                    else "any state where all invariants hold"
                )
                lines.append(f"state 0 ({head}):")
            else:
                args = ", ".join(f"{k}={_show(v)}" for k, v in step.params.items())
                lines.append(f"{step.action}({args}) -> state {i}:")
            lines.append("  " + _line(step.state))
        if self.violated is not None:
            lines.append(f"violates {self.violated} in state {len(self.steps) - 1}")
        return "\n".join(lines)


@attrs.frozen
class ProofResult:
    """The outcome of one obligation.

    name: the model (or lemma) and the kind of obligation, e.g. "raft.election consecution".
    invariant: the invariant's name; a lemma's statement; None for non-vacuity. transition: the
    transition's name, "init", or for a bounded check the bound. seconds: solver time, including
    shrinking the counterexample.
    """

    name: str
    kind: Kind
    invariant: str | None
    transition: str | None
    status: Status
    seconds: float
    counterexample: Counterexample | None = None
    detail: str = ""  # why unknown, or what a failed non-vacuity check means

    @property
    def proved(self) -> bool:
        return self.status == "proved"


class _Reader:
    """Reads a Z3 model as Python values, naming the elements of each sort n0, n1, ..."""

    def __init__(self, vocab: Vocabulary, m: Any) -> None:
        self.m = m
        self.names: dict[str, str] = {}
        self.elems: dict[str, list[Any]] = {}
        universe: dict[str, tuple[str, ...]] = {}
        for s in vocab.model.sorts:
            elems = list(m.get_universe(vocab.sorts[s.name]) or [])
            self.elems[s.name] = elems
            names = tuple(f"{s.element_prefix}{i}" for i in range(len(elems)))
            self.names.update((e.sexpr(), nm) for e, nm in zip(elems, names, strict=True))
            universe[s.name] = names
        self.universe = FrozenDict(universe)

    def value(self, expr: Any) -> Value:
        v = self.m.eval(expr, model_completion=True)
        if z3.is_true(v):
            return True
        if z3.is_false(v):
            return False
        if z3.is_int_value(v):
            return int(v.as_long())
        return self.names.get(v.sexpr(), v.sexpr())

    def symbol(self, sym: Symbol, decl: Any) -> Value:
        if not sym.args:
            return self.value(decl)
        points = itertools.product(*(self.elems[a] for a in sym.args))
        pairs = [(tuple(self.value(x) for x in p), self.value(decl(*p))) for p in points]
        if len(sym.args) == 1:  # a unary relation is a set of elements, not of 1-tuples
            pairs = [(p[0], v) for p, v in pairs]
        if sym.result == "bool":
            return frozenset(p for p, v in pairs if v is True)
        return FrozenDict(pairs)

    def state(self, vocab: Vocabulary, s: State) -> FrozenDict:
        return FrozenDict(
            (sym.name, self.symbol(sym, getattr(s, sym.name))) for sym in vocab.model.mutable
        )

    def fixed(self, vocab: Vocabulary) -> FrozenDict:
        return FrozenDict(
            (sym.name, self.symbol(sym, vocab.fixed[sym.name]))
            for sym in vocab.model.symbols
            if not sym.mutable
        )

    def params(self, t: Transition, consts: Sequence[Any]) -> FrozenDict:
        return FrozenDict((p, self.value(c)) for (p, _), c in zip(t.params, consts, strict=True))


def _solver(timeout_ms: int) -> Any:
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    return s


def _shrink(solver: Any, vocab: Vocabulary) -> Any:
    """The model with the fewest elements per sort (sort by sort), to keep counterexamples readable.

    Bounding a sort to k elements is `exists c1..ck. forall x. x = c1 | ... | x = ck`: still EPR.
    """
    m = solver.model()
    kept = 0
    for s in vocab.model.sorts:
        zs = vocab.sorts[s.name]
        size = len(m.get_universe(zs) or [])
        for k in range(1, size):
            solver.push()
            cs = [z3.FreshConst(zs, "c") for _ in range(k)]
            x = z3.FreshConst(zs, "x")
            solver.add(z3.ForAll([x], z3.Or(*(x == c for c in cs))))
            if solver.check() == z3.sat:
                m = solver.model()
                kept += 1
                break
            solver.pop()
    for _ in range(kept):
        solver.pop()
    return m


@attrs.frozen(eq=False)
class _Answer:
    status: Status
    model: Any  # the (shrunk) Z3 model refuting a claim; None otherwise
    seconds: float
    detail: str = ""


def _check(
    solver: Any, goal: Sequence[Any], *, valid: bool, shrink: Callable[[Any], Any] | None = None
) -> _Answer:
    """Check `goal` in a new solver frame.

    valid=True: `goal` is a negated claim, proved when unsatisfiable; a satisfying model (shrunk by
    `shrink`) refutes it. valid=False: `goal` must be satisfiable (non-vacuity).
    """
    start = time.perf_counter()
    solver.push()
    try:
        solver.add(*goal)
        answer = solver.check()
        if answer == z3.unknown:
            seconds = time.perf_counter() - start
            why = f"Z3 gave up after {seconds:.1f} s ({solver.reason_unknown()})"
            return _Answer("unknown", None, seconds, why)
        if (answer == z3.unsat) == valid:
            return _Answer("proved", None, time.perf_counter() - start)
        model = None
        if answer == z3.sat:
            model = shrink(solver) if shrink is not None else solver.model()
        return _Answer("failed", model, time.perf_counter() - start)
    finally:
        solver.pop()


# ---------------------------------------------------------------------------------------------------------
# Lemmas


@attrs.frozen(eq=False)
class Lemma:
    """A claim over symbolic values: `hypotheses` imply `conclusion`, for every value of their constants.

    `shown` are the (label, term) pairs a counterexample prints; `minimize`, an integer term made as
    small as possible in a counterexample (the smallest cluster that breaks the claim reads best).
    """

    name: str
    statement: str
    hypotheses: tuple[Any, ...]
    conclusion: Any
    shown: tuple[tuple[str, Any], ...]
    minimize: Any = None


def _smallest(solver: Any, term: Any) -> Any:
    m = solver.model()
    if term is None:
        return m
    pushed = 0
    try:
        for _ in range(64):
            solver.push()
            pushed += 1
            solver.add(term < m.eval(term, model_completion=True))
            if solver.check() != z3.sat:
                break
            m = solver.model()
    finally:
        for _ in range(pushed):
            solver.pop()
    return m


def prove_lemma(lemma: Lemma, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> ProofResult:
    """Prove `lemma` valid: its hypotheses and the negated conclusion must be unsatisfiable."""
    solver = _solver(timeout_ms)
    solver.add(*(_formula(f"lemma {lemma.name}: hypothesis", h) for h in lemma.hypotheses))
    claim = _formula(f"lemma {lemma.name}: conclusion", lemma.conclusion)
    ans = _check(solver, [z3.Not(claim)], valid=True, shrink=lambda s: _smallest(s, lemma.minimize))
    cex = None
    if ans.model is not None:
        ints = {label: ans.model.eval(term, model_completion=True) for label, term in lemma.shown}
        cex = Counterexample(
            ints={k: int(v.as_long()) if z3.is_int_value(v) else str(v) for k, v in ints.items()}
        )
    return ProofResult(
        lemma.name, "lemma", lemma.statement, None, ans.status, ans.seconds, cex, ans.detail
    )


# ---------------------------------------------------------------------------------------------------------
# Protocol models


def _result(
    name: str,
    kind: Kind,
    invariant: str | None,
    transition: str | None,
    ans: _Answer,
    cex: Counterexample | None = None,
    failure: str = "",
) -> ProofResult:
    detail = failure if ans.status == "failed" else ans.detail
    return ProofResult(name, kind, invariant, transition, ans.status, ans.seconds, cex, detail)


def check_nonvacuous(
    model: ProtocolModel, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[ProofResult]:
    """The axioms and init are satisfiable; each transition fires in some state satisfying the invariants."""
    vocab = Vocabulary(model)
    name = f"{model.name} non-vacuity"
    s0 = vocab.state("@0")
    solver = _solver(timeout_ms)
    solver.add(*_axioms(vocab))
    ans = _check(solver, _init(vocab, s0), valid=False)
    contradict = "the axioms and init contradict each other: every proof of this model is vacuous"
    results = [_result(name, "non-vacuity", None, "init", ans, failure=contradict)]
    pre, post = vocab.state("@0"), vocab.state("@1")
    solver = _solver(timeout_ms)
    solver.add(*_axioms(vocab), *(_invariant(i, pre) for i in model.invariants))
    for t in model.transitions:
        ans = _check(solver, [_step(vocab, t, pre, post, _params(vocab, t, "@1"))], valid=False)
        never = f"{t.name} never fires in a state where the invariants hold: its proofs are vacuous"
        results.append(_result(name, "non-vacuity", None, t.name, ans, failure=never))
    return results


def check_inductive(
    model: ProtocolModel, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[ProofResult]:
    """Initiation of each invariant, and consecution of each invariant under each transition."""
    vocab = Vocabulary(model)
    results: list[ProofResult] = []

    s0 = vocab.state("@0")
    solver = _solver(timeout_ms)
    solver.add(*_axioms(vocab), *_init(vocab, s0))
    for inv in model.invariants:
        claim = z3.Not(_invariant(inv, s0))
        ans = _check(solver, [claim], valid=True, shrink=lambda s: _shrink(s, vocab))
        cex = None
        if ans.model is not None:
            r = _Reader(vocab, ans.model)
            steps: tuple[Step, ...] = (Step(r.state(vocab, s0)),)
            cex = Counterexample(r.universe, r.fixed(vocab), steps, violated=inv.name)
        results.append(
            _result(f"{model.name} initiation", "initiation", inv.name, "init", ans, cex)
        )

    # One solver: the invariants in the pre-state, then one frame per transition, and within it one
    # frame per invariant negated in the post-state.
    pre, post = vocab.state("@0"), vocab.state("@1")
    solver = _solver(timeout_ms)
    solver.add(*_axioms(vocab), *(_invariant(i, pre) for i in model.invariants))
    for t in model.transitions:
        params = _params(vocab, t, "@1")
        solver.push()
        solver.add(_step(vocab, t, pre, post, params))
        for inv in model.invariants:
            claim = z3.Not(_invariant(inv, post))
            ans = _check(solver, [claim], valid=True, shrink=lambda s: _shrink(s, vocab))
            cex = None
            if ans.model is not None:
                r = _Reader(vocab, ans.model)
                steps = (
                    Step(r.state(vocab, pre), ASSUMED),
                    Step(r.state(vocab, post), t.name, r.params(t, params)),
                )
                cex = Counterexample(r.universe, r.fixed(vocab), steps, violated=inv.name)
            name = f"{model.name} consecution"
            results.append(_result(name, "consecution", inv.name, t.name, ans, cex))
        solver.pop()
    return results


def check_bounded(
    model: ProtocolModel, *, depth: int = DEFAULT_DEPTH, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[ProofResult]:
    """No run of at most `depth` steps from init violates a safety (non-auxiliary) invariant.

    Depths are tried in increasing order, so a violation comes with a shortest trace. `seconds` is the
    sum over the depths.
    """
    if depth < 0:
        raise ModelError(f"bounded check depth must be >= 0, not {depth}")
    vocab = Vocabulary(model)
    states = [vocab.state(f"@{i}") for i in range(depth + 1)]
    # Step i+1: one Bool per transition says it fired, each transition with its own parameters.
    moves = [
        [(t, z3.Bool(f"fired.{t.name}@{i}"), _params(vocab, t, f"@{i}")) for t in model.transitions]
        for i in range(1, depth + 1)
    ]
    relation = [
        z3.And(
            z3.Or(*(fired for _, fired, _ in step)) if step else z3.BoolVal(False),
            *(
                z3.Implies(fired, _step(vocab, t, states[i], states[i + 1], ps))
                for t, fired, ps in step
            ),
        )
        for i, step in enumerate(moves)
    ]
    results: list[ProofResult] = []
    for inv in (i for i in model.invariants if not i.auxiliary):
        solver = _solver(timeout_ms)
        solver.add(*_axioms(vocab), *_init(vocab, states[0]))
        seconds = 0.0
        cex = None
        for d in range(depth + 1):
            if d > 0:
                solver.add(relation[d - 1])
            claim = z3.Not(_invariant(inv, states[d]))
            ans = _check(solver, [claim], valid=True, shrink=lambda s: _shrink(s, vocab))
            seconds += ans.seconds
            if ans.model is not None:
                r = _Reader(vocab, ans.model)
                steps = [Step(r.state(vocab, states[0]))]
                for i in range(d):
                    t, _, ps = next(m for m in moves[i] if r.value(m[1]) is True)
                    steps.append(Step(r.state(vocab, states[i + 1]), t.name, r.params(t, ps)))
                cex = Counterexample(r.universe, r.fixed(vocab), tuple(steps), violated=inv.name)
            if ans.status != "proved":
                break
        ans = attrs.evolve(ans, seconds=seconds)
        name = f"{model.name} bounded"
        results.append(_result(name, "bounded", inv.name, f"runs <= {depth} steps", ans, cex))
    return results


def check_model(
    model: ProtocolModel, *, depth: int = DEFAULT_DEPTH, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[ProofResult]:
    """Every obligation of `model`: non-vacuity, initiation, consecution, bounded."""
    return [
        *check_nonvacuous(model, timeout_ms=timeout_ms),
        *check_inductive(model, timeout_ms=timeout_ms),
        *check_bounded(model, depth=depth, timeout_ms=timeout_ms),
    ]
