"""Quorum facts the Z3 models share: Venn-region lemmas over a symbolic f, and the quorum axioms.

A lemma here covers every choice of quorums and Byzantine replicas for every f: k subsets of n replicas
cut them into 2^k Venn regions, and any non-negative region sizes that sum to n are realised by some
subsets (models/pbft.py says why, and what each lemma is for). The protocol models (pbft.py,
hotstuff.py, raft.py) name their lemmas and assume the axioms below only once those lemmas are proved.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import z3

from meshcheck.models.proof import Lemma
from meshcheck.models.proof import State


class Venn:
    """The sizes of the 2^k regions that k named subsets cut n replicas into, as Z3 integers."""

    def __init__(self, *sets: str) -> None:
        self.sets = sets
        self.cells = {
            bits: z3.Int(
                "|" + " ".join(s if b else "~" + s for s, b in zip(sets, bits, strict=True)) + "|"
            )
            for bits in itertools.product((True, False), repeat=len(sets))
        }

    def partition(self, n: Any) -> tuple[Any, ...]:
        return (*(c >= 0 for c in self.cells.values()), z3.Sum(*self.cells.values()) == n)

    def size(self, *inside: str, outside: Sequence[str] = ()) -> Any:
        """How many replicas are in every set of `inside` and in no set of `outside`."""
        at = {s: i for i, s in enumerate(self.sets)}
        return z3.Sum(
            *(
                c
                for bits, c in self.cells.items()
                if all(bits[at[s]] for s in inside) and not any(bits[at[s]] for s in outside)
            )
        )


def cluster(f: Any, n: Any) -> tuple[Any, ...]:
    """n = 3f+1 replicas."""
    return (f >= 0, n == 3 * f + 1)


def voters(f: Any, n: Any) -> tuple[Any, ...]:
    """n >= 3f+1 replicas."""
    return (f >= 0, n >= 3 * f + 1)


def two_sets(
    v: Venn, f: Any, n: Any, first: tuple[str, Any], second: tuple[str, Any], *, any_n: bool = False
) -> tuple[Any, ...]:
    """Hypotheses: a non-empty set of at least `first` replicas, another of at least `second`, and at
    most f Byzantine replicas B (`v` names the two sets and "B")."""
    (a, min_a), (b, min_b) = first, second
    return (
        *(voters(f, n) if any_n else cluster(f, n)),
        *v.partition(n),
        v.size("B") <= f,
        v.size(a) >= min_a,
        v.size(b) >= min_b,
        v.size(a) >= 1,
        v.size(b) >= 1,
    )


def two_sets_shown(v: Venn, f: Any, n: Any, a: str, b: str) -> tuple[tuple[str, Any], ...]:
    """What a counterexample to a lemma over two sets and B shows."""
    return (
        ("f", f),
        ("n", n),
        (f"|{a}|", v.size(a)),
        (f"|{b}|", v.size(b)),
        (f"|{a} & {b}|", v.size(a, b)),
        (f"|{a} & {b} honest|", v.size(a, b, outside=("B",))),
        ("|B|", v.size("B")),
    )


def honest_overlap(
    name: str,
    statement: str,
    first: tuple[str, Any],
    second: tuple[str, Any],
    *,
    any_n: bool = False,
) -> Lemma:
    """Any set of at least `first` replicas and any of at least `second` share an honest replica, whatever
    f (or fewer) replicas B are Byzantine. Certificates are never empty (a certificate has a signer).
    n = 3f+1, or with `any_n` every n >= 3f+1."""
    f, n = z3.Ints("f n")
    (a, _), (b, _) = first, second
    v = Venn(a, b, "B")
    return Lemma(
        name=name,
        statement=statement,
        hypotheses=two_sets(v, f, n, first, second, any_n=any_n),
        conclusion=v.size(a, b, outside=("B",)) >= 1,
        shown=two_sets_shown(v, f, n, a, b),
        minimize=n,
    )


def honest_make_quorum(name: str, quorum: str, size: Callable[[Any], Any]) -> Lemma:
    """The honest replicas alone make a quorum of `size(f)` (`quorum` names it): f silent Byzantine
    replicas cannot block a certificate."""
    f, n = z3.Ints("f n")
    v = Venn("B")
    return Lemma(
        name=name,
        statement=f"n = 3f+1, |B| <= f => n - |B| >= {quorum}, all f",
        hypotheses=(*cluster(f, n), *v.partition(n), v.size("B") <= f),
        conclusion=n - v.size("B") >= size(f),
        shown=(("f", f), ("n", n), ("|B|", v.size("B"))),
        minimize=n,
    )


# --- the axioms and orders the abstract models assume -----------------------------------------------


def at_most(s: State, a: Any, b: Any) -> Any:
    """a = b or a is below b in the order `lt`."""
    return z3.Or(a == b, s.lt(a, b))


def strict_total_order(s: State, sort: str = "view") -> tuple[Any, ...]:
    """`lt` over `sort` is irreflexive, transitive and total."""
    return (
        s.forall((sort,), lambda v: z3.Not(s.lt(v, v))),
        s.forall(
            (sort, sort, sort),
            lambda a, b, c: z3.Implies(z3.And(s.lt(a, b), s.lt(b, c)), s.lt(a, c)),
        ),
        s.forall((sort, sort), lambda a, b: z3.Or(a == b, s.lt(a, b), s.lt(b, a))),
    )


def quorums_meet(s: State, member: str = "replica") -> Any:
    """Any two quorums share a member (of sort `member`)."""
    return s.forall(
        ("quorum", "quorum"),
        lambda q1, q2: s.exists((member,), lambda i: z3.And(s.member(i, q1), s.member(i, q2))),
    )


def quorums_have_member(s: State, member: str = "replica") -> Any:
    """Every quorum has a member (of sort `member`)."""
    return s.forall(("quorum",), lambda q: s.exists((member,), lambda i: s.member(i, q)))
