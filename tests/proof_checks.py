"""What the tests of the Z3 proof sets (models/) read alike: a result by its key, the obligations a
whole proof set must hold, a lemma checked at large f, and scripted runs replayed through a model's
own formulas. Each proof set's test file keeps its own invariants, transitions and runs."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
import z3

from meshcheck import proofs
from meshcheck.impl.base.values import FrozenDict
from meshcheck.models import proof
from meshcheck.models.proof import ProofResult
from meshcheck.models.proof import ProtocolModel
from meshcheck.models.proof import Vocabulary
from meshcheck.models.proof.encode import axioms  # internals: the replay
from meshcheck.models.proof.encode import init  # internals: the replay
from meshcheck.models.proof.encode import invariant  # internals: the replay
from meshcheck.models.proof.encode import step  # internals: the replay

# the bounded run a proof set's safety property is checked on, beside its induction
BOUNDED = f"runs <= {proof.DEFAULT_DEPTH} steps"

Key = tuple[str, str | None, str | None]  # kind, invariant (a lemma's name), transition

# What `replay` pins the immutable symbols to: a relation, its set of tuples; a function, a dict
# from argument to element; a constant, an element.
Fixed = Mapping[str, object]


def proved(prove: Callable[..., list[ProofResult]], *args: Any, **kwargs: Any) -> Any:
    """A module-scoped fixture: the results of `prove(*args, **kwargs)` (a proof set, or one of its
    variants), computed once for every test of the file that reads them."""

    @pytest.fixture(scope="module")
    def fixture() -> list[ProofResult]:
        return prove(*args, **kwargs)

    return fixture


def key(r: ProofResult) -> Key:
    return (r.kind, r.name if r.kind == "lemma" else r.invariant, r.transition)


def failed(results: Sequence[ProofResult]) -> set[Key]:
    return {key(r) for r in results if r.status == "failed"}


def one(results: Sequence[ProofResult], k: Key) -> ProofResult:
    found = [r for r in results if key(r) == k]
    assert len(found) == 1, f"{len(found)} results for {k}"
    return found[0]


def lemma(results: Sequence[ProofResult], name: str) -> ProofResult:
    return one(results, ("lemma", name, None))


def ints(r: ProofResult) -> FrozenDict:
    """The integers of a failed obligation's counterexample."""
    assert r.status == "failed" and r.counterexample is not None, r
    return r.counterexample.ints


def assert_proves_every_obligation(
    results: Sequence[ProofResult],
    lemmas: Sequence[str],
    transitions: Iterable[str],
    invariants: Iterable[str],
    bounded: Iterable[Key],
) -> None:
    """A whole proof set proved, in order: the lemmas, non-vacuity of init and of each transition,
    initiation and consecution of each invariant, and the `bounded` runs; no counterexample."""
    transitions, invariants = tuple(transitions), tuple(invariants)
    assert [r for r in results if r.status != "proved"] == []
    expected: set[Key] = {
        *(("lemma", name, None) for name in lemmas),
        ("non-vacuity", None, "init"),
        *(("non-vacuity", None, t) for t in transitions),
        *(("initiation", i, "init") for i in invariants),
        *(("consecution", i, t) for t in transitions for i in invariants),
        *bounded,
    }
    assert {key(r) for r in results} == expected and len(results) == len(expected)
    assert [r.name for r in results[: len(lemmas)]] == list(lemmas)
    assert all(r.counterexample is None for r in results)
    assert proofs.exit_code(results) == 0


def assert_holds_at_large_f(lemma: proof.Lemma) -> None:
    """f is symbolic: the lemma's hypotheses admit f = 1, 2 and 10^6 (so it is not vacuous there),
    and its claim holds at each of them (the proof covered them all at once)."""
    f = z3.Int("f")
    for value in (1, 2, 10**6):
        s = z3.Solver()
        s.add(*lemma.hypotheses, f == value)
        assert s.check() == z3.sat, (lemma.name, value)
        s.add(z3.Not(lemma.conclusion))
        assert s.check() == z3.unsat, (lemma.name, value)


def assert_two_quorums_of_2f_split(cex: FrozenDict) -> None:
    """The counterexample of a quorum lemma at quorums of 2f: at the smallest cluster, n = 4 and
    f = 1, two quorums of 2f whose common replicas are all Byzantine (none of them honest)."""
    f, n = cex["f"], cex["n"]
    assert (f, n) == (1, 4)  # the smallest cluster that breaks it
    assert cex["|Q1|"] >= 2 * f and cex["|Q2|"] >= 2 * f and cex["|B|"] <= f
    assert cex["|Q1 & Q2 honest|"] == 0 and cex["|Q1 & Q2|"] <= cex["|B|"]


@attrs.frozen
class Replay:
    started: bool  # the universe and immutable symbols satisfy the axioms, and init holds
    fired: int  # how many steps fired, in order
    violated: bool  # the safety invariant, in the last state reached, in every completion of it


def replay(
    model: ProtocolModel,
    universe: Mapping[str, tuple[str, ...]],
    fixed: Fixed,
    steps: Sequence[tuple[str, dict[str, str]]],
    safety: str,
) -> Replay:
    """Run `steps` (transition name, parameters) from init over a closed finite universe, with the
    immutable symbols pinned to `fixed`; Z3 computes each next state from the model's own formulas.
    `safety` names the invariant the last state is checked against."""
    vocab = Vocabulary(model)
    elems = {
        sort: {name: z3.Const(name, vocab.sorts[sort]) for name in names}
        for sort, names in universe.items()
    }
    s = z3.Solver()
    for sort, named in elems.items():
        x = z3.Const(f"any_{sort}", vocab.sorts[sort])
        s.add(z3.Distinct(*named.values()) if len(named) > 1 else z3.BoolVal(True))
        s.add(z3.ForAll([x], z3.Or(*(x == e for e in named.values()))))
    for sym in model.symbols:
        if sym.mutable:
            continue
        decl, value = vocab.fixed[sym.name], fixed[sym.name]
        if sym.result != "bool" and not sym.args:
            assert isinstance(value, str)
            s.add(decl == elems[sym.result][value])
            continue
        for point in itertools.product(*(universe[a] for a in sym.args)):
            args = [elems[a][p] for a, p in zip(sym.args, point, strict=True)]
            if sym.result == "bool":
                assert isinstance(value, frozenset)
                s.add(decl(*args) == (point in value))
            else:
                assert isinstance(value, dict) and len(point) == 1
                s.add(decl(*args) == elems[sym.result][value[point[0]]])
    states = [vocab.state("@0")]
    s.add(*axioms(vocab), *init(vocab, states[0]))
    if s.check() != z3.sat:
        return Replay(False, 0, False)
    fired = 0
    transitions = {t.name: t for t in model.transitions}
    for name, params in steps:
        t = transitions[name]
        states.append(vocab.state(f"@{fired + 1}"))
        ps = [elems[sort][params[p]] for p, sort in t.params]
        s.push()
        s.add(step(vocab, t, states[-2], states[-1], ps))
        if s.check() != z3.sat:
            s.pop()
            states.pop()
            break
        fired += 1
    kept = next(i for i in model.invariants if i.name == safety)
    violated = s.check(invariant(kept, states[-1])) == z3.unsat
    return Replay(True, fired, violated)
