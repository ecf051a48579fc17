"""The formulas every obligation is built from: axioms, init, invariants, and one transition step.

Each user-written formula passes through `formula`, so a Python bool (`a is b`) where a Z3 formula was
meant is a `ModelError`, not a silently true or false proof. `step` adds the frame: every mutable symbol
the transition does not modify keeps its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import z3

from meshcheck.models.proof.decl import Invariant
from meshcheck.models.proof.decl import ModelError
from meshcheck.models.proof.decl import Symbol
from meshcheck.models.proof.decl import Transition
from meshcheck.models.proof.vocab import State
from meshcheck.models.proof.vocab import Vocabulary
from meshcheck.models.proof.vocab import written_by


def formula(what: str, value: Any) -> Any:
    """Catch a Python bool (e.g. `a is b`) or None where a Z3 formula was meant."""
    if not z3.is_bool(value):
        raise ModelError(f"{what} is not a Z3 formula: {value!r}")
    return value


def axioms(vocab: Vocabulary) -> list[Any]:
    fixed = vocab.state(None)
    return [formula(f"axiom {a.name}", a.formula(fixed)) for a in vocab.model.axioms]


def init(vocab: Vocabulary, s: State) -> list[Any]:
    return [formula(f"model {vocab.model.name}: init", f(s)) for f in vocab.model.init]


def invariant(inv: Invariant, s: State) -> Any:
    return formula(f"invariant {inv.name}", inv.formula(s))


def params(vocab: Vocabulary, t: Transition, tag: str) -> list[Any]:
    return [z3.Const(f"{t.name}.{p}{tag}", vocab.sorts[s]) for p, s in t.params]


def _unchanged(old: State, new: State, sym: Symbol) -> Any:
    o, n = getattr(old, sym.name), getattr(new, sym.name)
    if not sym.args:
        return o == n
    return new.forall(sym.args, lambda *xs: o(*xs) == n(*xs))


def step(vocab: Vocabulary, t: Transition, old: State, new: State, ps: Sequence[Any]) -> Any:
    """`t` fires from `old` to `new` with parameters `ps`, and nothing else changes."""
    body = formula(f"transition {t.name}", t.body(old, written_by(new, t), *ps))
    frame = [_unchanged(old, new, s) for s in vocab.model.mutable if s.name not in t.modifies]
    return z3.And(body, *frame)
