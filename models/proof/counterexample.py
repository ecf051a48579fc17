"""Counterexamples: read out of a Z3 model as `impl.base.values` Python values, kept small, and rendered.

A satisfying Z3 model names its elements by internal ids and may hold more elements than the failure
needs; `shrink` and `smallest` ask Z3 for the smallest one first, and `Reader` names the elements of each
sort n0, n1, ... so a counterexample reads like a short trace.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs
import z3

from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.models.proof.decl import Symbol
from meshcheck.models.proof.decl import Transition
from meshcheck.models.proof.vocab import State
from meshcheck.models.proof.vocab import Vocabulary

# The action of the first state of a consecution counterexample: any state where every invariant holds,
# not necessarily a reachable one.
ASSUMED = "Invariants"


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
    """Why an obligation failed, in the Python values of `impl.base.values`.

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


class Reader:
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


def shrink(solver: Any, vocab: Vocabulary) -> Any:
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


def smallest(solver: Any, term: Any) -> Any:
    """The model with the least value of integer `term` (None: the solver's model as it is)."""
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
