"""The switch model's invariants (switch.py's docstring says what each means and why the ghosts exist).

`INVARIANTS` in table order: the three safety invariants first, then the auxiliary ones that make them
inductive. Quantifiers carry explicit patterns where Z3's own choice loops (`base[e]` instantiated at
`e + 1` forever): each instance they make is one the proofs need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import z3

from meshcheck.models.threat.switch import SWITCH
from meshcheck.models.threat.switch import S
from meshcheck.models.threat.switch import within


def _prefix(a: Any, la: Any, b: Any, lb: Any) -> Any:
    p = z3.FreshInt("p")
    return z3.And(la <= lb, z3.ForAll([p], z3.Implies(within(p, 0, la), a[p] == b[p])))


def agreement(s: S) -> Any:
    (h1, h2), (n1, n2) = s.history, s.hlen
    return z3.Or(_prefix(h1, n1, h2, n2), _prefix(h2, n2, h1, n1))


def committed_prefix_preserved(s: S) -> Any:
    (h1, h2), (n1, n2), (e1, e2) = s.history, s.hlen, s.epoch
    return z3.And(
        z3.Implies(e1 < e2, _prefix(h1, n1, h2, n2)), z3.Implies(e2 < e1, _prefix(h2, n2, h1, n1))
    )


def no_op_twice(s: S) -> Any:
    def distinct(h: Any, n: Any) -> Any:
        p, q = z3.FreshInt("p"), z3.FreshInt("q")
        return z3.ForAll([p, q], z3.Implies(z3.And(p >= 0, p < q, q < n), h[p] != h[q]))

    return z3.And(*(distinct(h, n) for h, n in zip(s.history, s.hlen, strict=True)))


def _end(s: S, e: Any) -> Any:
    """The last position the ghost run reached in epoch e (e < top: its switch entry)."""
    return z3.If(e < s.top, s.sw[e], s.front)


def _reached(s: S, e: Any, a: Any) -> Any:
    return z3.And(e >= 1, e <= s.top, a >= 0, a <= _end(s, e))


def on_longest(s: S) -> Any:
    """Each node is at a position the run reached, and its history is `longest` cut there."""

    def node(k: int) -> Any:
        e, a, n = s.epoch[k], s.applied[k], s.hlen[k]
        p = z3.FreshInt("p")
        return z3.And(
            _reached(s, e, a),
            n == s.glen[e][a],
            z3.ForAll([p], z3.Implies(within(p, 0, n), s.history[k][p] == s.longest[p])),
        )

    return z3.And(node(0), node(1))


def held_is_history(s: S) -> Any:
    """A node's table of applied ops holds exactly the ops of its history (so its dedup is right)."""

    def node(k: int) -> Any:
        o = z3.FreshInt("o")
        return z3.ForAll([o], s.held[k][o] == within(s.index[o], 0, s.hlen[k]))

    return z3.And(node(0), node(1))


def epochs_end_at_switch(s: S) -> Any:
    """Every epoch the run left ended at its first SWITCH entry, history carried whole."""
    e, a = z3.FreshInt("e"), z3.FreshInt("a")
    x = s.chain[e][a]
    k = z3.FreshInt("k")
    return z3.And(
        s.top >= 1,
        within(s.front, 0, s.clen[s.top] + 1),
        z3.ForAll([e], s.clen[e] >= 0, patterns=[s.clen[e]]),
        z3.ForAll(
            [e, k],
            z3.Implies(within(k, 0, s.clen[e]), s.chain[e][k] >= SWITCH),
            patterns=[s.chain[e][k]],
        ),
        z3.ForAll(
            [e],
            z3.Implies(
                within(e, 1, s.top),
                z3.And(
                    within(s.sw[e], 0, s.clen[e]),
                    s.chain[e][s.sw[e]] == SWITCH,
                    s.glen[e + 1][0] == s.glen[e][s.sw[e]],
                ),
            ),
            patterns=[s.sw[e]],
        ),
        z3.ForAll(
            [e, a],
            z3.Implies(
                z3.And(_reached(s, e, a), a < _end(s, e)),
                z3.And(a < s.clen[e], x >= 1),
            ),
            patterns=[x],
        ),
    )


def ghost_dedup(s: S) -> Any:
    """glen grows by one exactly at an op the history does not hold yet, which then joins `longest`."""
    e, a = z3.FreshInt("e"), z3.FreshInt("a")
    x, g = s.chain[e][a], s.glen[e][a]
    return z3.And(
        s.glen[1][0] == 0,
        z3.ForAll(
            [e, a],
            z3.Implies(
                z3.And(_reached(s, e, a), a < _end(s, e)),
                z3.If(
                    within(s.index[x], 0, g),
                    s.glen[e][a + 1] == g,
                    z3.And(s.glen[e][a + 1] == g + 1, s.longest[g] == x),
                ),
            ),
            patterns=[x],
        ),
    )


def ghost_monotone(s: S) -> Any:
    """History lengths never fall along the run (what CommittedPrefixPreserved needs of it)."""
    e, e2, a = z3.FreshInt("e"), z3.FreshInt("e2"), z3.FreshInt("a")
    total = s.glen[s.top][s.front]
    g = s.glen[e][a]
    return z3.And(
        z3.ForAll(
            [e, a],
            z3.Implies(
                _reached(s, e, a),
                z3.And(
                    s.glen[e][0] <= g,
                    g <= s.glen[e][_end(s, e)],
                    g <= total,
                    g >= 0,
                ),
            ),
            patterns=[g],
        ),
        z3.ForAll(
            [e, e2],
            z3.Implies(z3.And(e >= 1, e < e2, e2 <= s.top), s.glen[e][s.sw[e]] <= s.glen[e2][0]),
            patterns=[z3.MultiPattern(s.sw[e], s.glen[e2])],
        ),
    )


def ghost_index(s: S) -> Any:
    """index[o] is o's position in `longest`, -1 when o is not in it."""
    p, o = z3.FreshInt("p"), z3.FreshInt("o")
    total = s.glen[s.top][s.front]
    return z3.And(
        z3.ForAll(
            [p],
            z3.Implies(within(p, 0, total), z3.And(s.longest[p] >= 1, s.index[s.longest[p]] == p)),
        ),
        z3.ForAll(
            [o],
            z3.Implies(
                s.index[o] != -1, z3.And(within(s.index[o], 0, total), s.longest[s.index[o]] == o)
            ),
        ),
    )


@attrs.frozen
class Invariant:
    name: str
    formula: Callable[[S], Any]
    auxiliary: bool = False


INVARIANTS = (
    Invariant("Agreement", agreement),
    Invariant("CommittedPrefixPreserved", committed_prefix_preserved),
    Invariant("NoOpTwice", no_op_twice),
    Invariant("OnLongest", on_longest, auxiliary=True),
    Invariant("HeldIsHistory", held_is_history, auxiliary=True),
    Invariant("EpochsEndAtSwitch", epochs_end_at_switch, auxiliary=True),
    Invariant("GhostDedup", ghost_dedup, auxiliary=True),
    Invariant("GhostMonotone", ghost_monotone, auxiliary=True),
    Invariant("GhostIndex", ghost_index, auxiliary=True),
)
