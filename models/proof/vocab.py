"""A model's symbols in Z3: immutable symbols declared once, mutable symbols once per state.

`State` is what formulas see (`s.voted(n, t, c)`); it refuses what a formula may not read, so a model
that reads a mutable symbol in an axiom, or a new value its transition does not define, fails loudly
instead of proving something vacuous. `inserted` and `assigned` write the common updates.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import z3

from meshcheck.models.proof.decl import ModelError
from meshcheck.models.proof.decl import ProtocolModel
from meshcheck.models.proof.decl import Symbol
from meshcheck.models.proof.decl import Transition


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


# Module functions, not State methods: every public attribute name of State is one a symbol cannot take.


def written_by(new: State, t: Transition) -> State:
    """`new` as the body of `t` sees it: only the symbols `t` modifies may be read."""
    return State(new._vocab, new._decls, new._tag, t)


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
