"""The obligations of a protocol model: non-vacuity, initiation, consecution, bounded.

See the `models.proof` package docstring for what each one means and why all four are run.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any

import attrs
import z3

from meshcheck.impl.base.trace import Step
from meshcheck.models.proof import encode
from meshcheck.models.proof.counterexample import ASSUMED
from meshcheck.models.proof.counterexample import Counterexample
from meshcheck.models.proof.counterexample import Reader
from meshcheck.models.proof.counterexample import shrink
from meshcheck.models.proof.decl import ModelError
from meshcheck.models.proof.decl import ProtocolModel
from meshcheck.models.proof.decl import Transition
from meshcheck.models.proof.lemma import Lemma
from meshcheck.models.proof.lemma import prove_lemma
from meshcheck.models.proof.results import Kind
from meshcheck.models.proof.results import ProofResult
from meshcheck.models.proof.solver import DEFAULT_TIMEOUT_MS
from meshcheck.models.proof.solver import Answer
from meshcheck.models.proof.solver import check_in_frame
from meshcheck.models.proof.solver import new_solver
from meshcheck.models.proof.vocab import Vocabulary

DEFAULT_DEPTH = 4


def result(
    model: str,
    kind: Kind,
    invariant: str | None,
    transition: str | None,
    ans: Answer,
    cex: Counterexample | None = None,
    failure: str = "",
) -> ProofResult:
    """One obligation of the model named `model`: its result is named "<model> <kind>";
    `failure` is the detail shown when it failed."""
    detail = failure if ans.status == "failed" else ans.detail
    name = f"{model} {kind}"
    return ProofResult(name, kind, invariant, transition, ans.status, ans.seconds, cex, detail)


def _counterexample(
    vocab: Vocabulary, ans: Answer, steps: Callable[[Reader], Sequence[Step]], violated: str
) -> Counterexample | None:
    """The run `steps` reads from the solver's model, when it found one."""
    if ans.model is None:
        return None
    r = Reader(vocab, ans.model)
    return Counterexample(r.universe, r.fixed(vocab), tuple(steps(r)), violated=violated)


def check_nonvacuous(
    model: ProtocolModel, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[ProofResult]:
    """The axioms and init are satisfiable; each transition fires in some state satisfying the invariants."""
    vocab = Vocabulary(model)
    s0 = vocab.state("@0")
    solver = new_solver(timeout_ms)
    solver.add(*encode.axioms(vocab))
    ans = check_in_frame(solver, encode.init(vocab, s0), valid=False)
    contradict = "the axioms and init contradict each other: every proof of this model is vacuous"
    results = [result(model.name, "non-vacuity", None, "init", ans, failure=contradict)]
    pre, post = vocab.state("@0"), vocab.state("@1")
    solver = new_solver(timeout_ms)
    solver.add(*encode.axioms(vocab), *(encode.invariant(i, pre) for i in model.invariants))
    for t in model.transitions:
        ps = encode.params(vocab, t, "@1")
        ans = check_in_frame(solver, [encode.step(vocab, t, pre, post, ps)], valid=False)
        never = f"{t.name} never fires in a state where the invariants hold: its proofs are vacuous"
        results.append(result(model.name, "non-vacuity", None, t.name, ans, failure=never))
    return results


def check_inductive(
    model: ProtocolModel, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[ProofResult]:
    """Initiation of each invariant, and consecution of each invariant under each transition."""
    vocab = Vocabulary(model)
    results: list[ProofResult] = []

    s0 = vocab.state("@0")
    solver = new_solver(timeout_ms)
    solver.add(*encode.axioms(vocab), *encode.init(vocab, s0))
    for inv in model.invariants:
        claim = z3.Not(encode.invariant(inv, s0))
        ans = check_in_frame(solver, [claim], valid=True, shrink=lambda s: shrink(s, vocab))
        cex = _counterexample(vocab, ans, lambda r: (Step(r.state(vocab, s0)),), inv.name)
        results.append(result(model.name, "initiation", inv.name, "init", ans, cex))

    # One solver: the invariants in the pre-state, then one frame per transition, and within it one
    # frame per invariant negated in the post-state.
    pre, post = vocab.state("@0"), vocab.state("@1")
    solver = new_solver(timeout_ms)
    solver.add(*encode.axioms(vocab), *(encode.invariant(i, pre) for i in model.invariants))

    def one_step(t: Transition, ps: list[Any]) -> Callable[[Reader], Sequence[Step]]:
        return lambda r: (
            Step(r.state(vocab, pre), ASSUMED),
            Step(r.state(vocab, post), t.name, r.params(t, ps)),
        )

    for t in model.transitions:
        ps = encode.params(vocab, t, "@1")
        solver.push()
        solver.add(encode.step(vocab, t, pre, post, ps))
        for inv in model.invariants:
            claim = z3.Not(encode.invariant(inv, post))
            ans = check_in_frame(solver, [claim], valid=True, shrink=lambda s: shrink(s, vocab))
            cex = _counterexample(vocab, ans, one_step(t, ps), inv.name)
            results.append(result(model.name, "consecution", inv.name, t.name, ans, cex))
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
        [
            (t, z3.Bool(f"fired.{t.name}@{i}"), encode.params(vocab, t, f"@{i}"))
            for t in model.transitions
        ]
        for i in range(1, depth + 1)
    ]
    relation = [
        z3.And(
            z3.Or(*(fired for _, fired, _ in step)) if step else z3.BoolVal(False),
            *(
                z3.Implies(fired, encode.step(vocab, t, states[i], states[i + 1], ps))
                for t, fired, ps in step
            ),
        )
        for i, step in enumerate(moves)
    ]
    results: list[ProofResult] = []
    for inv in (i for i in model.invariants if not i.auxiliary):
        solver = new_solver(timeout_ms)
        solver.add(*encode.axioms(vocab), *encode.init(vocab, states[0]))
        seconds = 0.0
        cex = None
        for d in range(depth + 1):
            if d > 0:
                solver.add(relation[d - 1])
            claim = z3.Not(encode.invariant(inv, states[d]))
            ans = check_in_frame(solver, [claim], valid=True, shrink=lambda s: shrink(s, vocab))
            seconds += ans.seconds
            if ans.model is not None:
                r = Reader(vocab, ans.model)
                steps = [Step(r.state(vocab, states[0]))]
                for i in range(d):
                    t, _, ps = next(m for m in moves[i] if r.value(m[1]) is True)
                    steps.append(Step(r.state(vocab, states[i + 1]), t.name, r.params(t, ps)))
                cex = Counterexample(r.universe, r.fixed(vocab), tuple(steps), violated=inv.name)
            if ans.status != "proved":
                break
        ans = attrs.evolve(ans, seconds=seconds)
        results.append(result(model.name, "bounded", inv.name, f"runs <= {depth} steps", ans, cex))
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


def lemmas_then_model(
    lemmas: Iterable[Lemma],
    model: Callable[[set[str]], ProtocolModel],
    *,
    depth: int = DEFAULT_DEPTH,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> list[ProofResult]:
    """A protocol's proof set: its lemmas, then every obligation of the model `model` builds from
    the names of the lemmas that were proved (the facts its axioms may assume)."""
    results = [prove_lemma(lemma, timeout_ms=timeout_ms) for lemma in lemmas]
    proved = {r.name for r in results if r.proved}
    return [*results, *check_model(model(proved), depth=depth, timeout_ms=timeout_ms)]
