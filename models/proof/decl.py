"""What a protocol model is made of: sorts, symbols, axioms, invariants, transitions.

Declarations only, checked for sense when built (unknown sorts, duplicate names, a transition that
modifies an immutable symbol), so a mistake is a `ModelError` before Z3 ever sees it.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError

if TYPE_CHECKING:
    from meshcheck.models.proof.vocab import State

Formula = Callable[["State"], Any]  # State -> z3.BoolRef

_RESERVED = frozenset({"sort", "forall", "exists"})  # State's own methods
_BUILTIN = frozenset({"bool", "int"})


class ModelError(MeshcheckError):
    """A protocol model or lemma that does not make sense (unknown sort or symbol, bad modifies, ...)."""


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
    """An abstract protocol: see the `models.proof` package docstring."""

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
