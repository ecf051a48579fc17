"""Lemmas: claims over symbolic integers (e.g. quorum sizes for every n), proved valid by Z3."""

from __future__ import annotations

from typing import Any

import attrs
import z3

from meshcheck.models.proof.counterexample import Counterexample
from meshcheck.models.proof.counterexample import smallest
from meshcheck.models.proof.encode import formula
from meshcheck.models.proof.results import ProofResult
from meshcheck.models.proof.solver import DEFAULT_TIMEOUT_MS
from meshcheck.models.proof.solver import check_in_frame
from meshcheck.models.proof.solver import new_solver


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


def prove_lemma(lemma: Lemma, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> ProofResult:
    """Prove `lemma` valid: its hypotheses and the negated conclusion must be unsatisfiable."""
    solver = new_solver(timeout_ms)
    solver.add(*(formula(f"lemma {lemma.name}: hypothesis", h) for h in lemma.hypotheses))
    claim = formula(f"lemma {lemma.name}: conclusion", lemma.conclusion)
    ans = check_in_frame(
        solver, [z3.Not(claim)], valid=True, shrink=lambda s: smallest(s, lemma.minimize)
    )
    cex = None
    if ans.model is not None:
        ints = {label: ans.model.eval(term, model_completion=True) for label, term in lemma.shown}
        cex = Counterexample(
            ints={k: int(v.as_long()) if z3.is_int_value(v) else str(v) for k, v in ints.items()}
        )
    return ProofResult(
        lemma.name, "lemma", lemma.statement, None, ans.status, ans.seconds, cex, ans.detail
    )
