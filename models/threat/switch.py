"""The switch rule in an abstract model: epochs, their committed sequences, and honest nodes' histories.

What the model keeps of the hybrid layer (specs/Hybrid.tla abstracts it the same way):

- `chain[e]`, the sequence epoch e's protocol committed. Raft and PBFT each guarantee one such order
  among honest nodes; the model takes it as given, and lets any epoch's protocol commit anything at any
  time (`order_op`, `order_switch`), so the proof covers every schedule, including an old epoch's
  instance committing more after its switch entry. Entries are ops (integers >= 1: one id per (client,
  sequence number), so a retried op has the id of its first try) or `SWITCH` (0): the committed entry
  whose application makes `protocol(level)` differ from the epoch's protocol. The level machine is
  abstracted away: it is a function of the committed entries (models/threat/obligations.py), so every node
  finds the same first SWITCH entry.
- a node i: `epoch[i]`, `applied[i]` (entries of chain[epoch[i]] applied), `history[i]` (the ops it
  applied, in order) with `hlen[i]`, and `held[i]`, the state machine's table of applied op ids. `apply`
  appends an op it does not hold; `apply_duplicate` skips one it holds (dedup on apply: a retry gets
  its first result). At the first SWITCH entry of its epoch, at position k, `switch` enters epoch e+1
  with the state machine carried whole: the prefix [0, k) joins the new epoch's initial history.
- two honest nodes, n1 and n2. Every claim below is about one node or a pair, and a node's steps touch
  only its own variables, so two symbolic nodes stand for every pair of any cluster.

Safety: `Agreement`, any two honest histories are one a prefix of the other, so every one is a prefix
of the longest; `CommittedPrefixPreserved`, a node in a later epoch holds the history of a node in an
earlier one as a prefix (nothing lost, nothing reordered across a switch); `NoOpTwice`. Made inductive
by ghost state describing the run of the node that is furthest ahead: `top`/`front` its epoch and
position, `sw[e]` where epoch e < top switched, `glen[e][a]` the history length at position a of epoch
e, `longest` that node's history and `index[o]` op o's place in it (-1: absent). `OnLongest` says each
node's history is `longest` cut at its position; the other auxiliary invariants say the ghost is what
its definition says.

Mutants: `switch_on_own_evidence` lets a node switch at any position of its own epoch (its detector
saw something), not at the committed SWITCH entry; `switch_drops_last_raft_term` carries out of a Raft
epoch (odd epochs: epoch 1 runs Raft and each switch alternates) only the history cut at an earlier
point (the start of the last Raft term, which the model does not track: any earlier point).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any

import attrs
import z3

from meshcheck.models.threat.bugs import SWITCH_DROPS_LAST_RAFT_TERM
from meshcheck.models.threat.bugs import SWITCH_ON_OWN_EVIDENCE
from meshcheck.models.threat.bugs import check_bugs

MODEL = "threat.switch"
SWITCH = 0  # the entry that ends an epoch; ops are >= 1
NODES = ("n1", "n2")
DEPTH = 5  # bounded runs: the mutants' shortest violations take 3 and 5 steps

_I = z3.IntSort()
_ROW = z3.ArraySort(_I, _I)
_GRID = z3.ArraySort(_I, _ROW)
_SHARED = {"chain": _GRID, "clen": _ROW}
_PER_NODE = {
    "epoch": _I,
    "applied": _I,
    "history": _ROW,
    "hlen": _I,
    "held": z3.ArraySort(_I, z3.BoolSort()),
}
_GHOST = {"top": _I, "front": _I, "sw": _ROW, "glen": _GRID, "longest": _ROW, "index": _ROW}


class S:
    """One state's variables: shared, per node (`s.epoch[0]` is n1's) and ghost (`s.top`)."""

    def __init__(self, tag: str) -> None:
        self.v: dict[str, Any] = {}
        for name, sort in _SHARED.items():
            self.v[name] = z3.Const(f"{name}{tag}", sort)
        for name, sort in _PER_NODE.items():
            for n in NODES:
                self.v[f"{name}.{n}"] = z3.Const(f"{name}.{n}{tag}", sort)
        for name, sort in _GHOST.items():
            self.v[name] = z3.Const(f"ghost.{name}{tag}", sort)

    def __getattr__(self, name: str) -> Any:
        if name in _PER_NODE:
            return tuple(self.v[f"{name}.{n}"] for n in NODES)
        try:
            return self.v[name]
        except KeyError:
            raise AttributeError(name) from None

    def node(self, name: str, i: Any) -> Any:
        """Variable `name` of node i (1 or 2, a Z3 term)."""
        first, second = getattr(self, name)
        return z3.If(i == 1, first, second)


def within(x: Any, lo: Any, hi: Any) -> Any:
    """lo <= x < hi."""
    return z3.And(lo <= x, x < hi)


# --- transitions ------------------------------------------------------------------------------------


@attrs.frozen
class Transition:
    """`writes(old, *params)`: the new value of each variable it changes (others keep theirs);
    `guard(old, *params)`: when it may fire. A parameter `i` names a node (1: n1, 2: n2)."""

    name: str
    params: tuple[str, ...]
    guard: Callable[..., Any]
    writes: Callable[..., dict[str, Any]]


def _node_writes(old: S, i: Any, writes: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{name}.{n}": z3.If(i == k + 1, value, old.v[f"{name}.{n}"])
        for name, value in writes.items()
        for k, n in enumerate(NODES)
    }


def _ordered(entry: Callable[[tuple[Any, ...]], Any]) -> Callable[..., dict[str, Any]]:
    def writes(old: S, e: Any, *rest: Any) -> dict[str, Any]:
        row = z3.Store(old.chain[e], old.clen[e], entry(rest))
        return {
            "chain": z3.Store(old.chain, e, row),
            "clen": z3.Store(old.clen, e, old.clen[e] + 1),
        }

    return writes


def _next(old: S, i: Any) -> tuple[Any, Any, Any]:
    """Node i's epoch, position and next entry."""
    e, a = old.node("epoch", i), old.node("applied", i)
    return e, a, old.chain[e][a]


def _has_next(old: S, i: Any) -> Any:
    e, a, _ = _next(old, i)
    return a < old.clen[e]


def _lead(old: S, i: Any) -> Any:
    """Node i is the one furthest ahead: its step extends the ghost run."""
    e, a, _ = _next(old, i)
    return z3.And(e == old.top, a == old.front)


def _ghost_apply(old: S, i: Any, x: Any) -> dict[str, Any]:
    lead, top, front = _lead(old, i), old.top, old.front
    g = old.glen[top][front]
    fresh = z3.And(lead, old.index[x] == -1)
    row = z3.Store(old.glen[top], front + 1, z3.If(fresh, g + 1, g))
    return {
        "front": z3.If(lead, front + 1, front),
        "glen": z3.If(lead, z3.Store(old.glen, top, row), old.glen),
        "longest": z3.If(fresh, z3.Store(old.longest, g, x), old.longest),
        "index": z3.If(fresh, z3.Store(old.index, x, g), old.index),
    }


def _apply_guard(old: S, i: Any) -> Any:
    _, _, x = _next(old, i)
    return z3.And(_has_next(old, i), x != SWITCH, z3.Not(old.node("held", i)[x]))


def _apply(old: S, i: Any) -> dict[str, Any]:
    _, a, x = _next(old, i)
    h, n, held = old.node("history", i), old.node("hlen", i), old.node("held", i)
    mine = {
        "history": z3.Store(h, n, x),
        "hlen": n + 1,
        "held": z3.Store(held, x, True),
        "applied": a + 1,
    }
    return {**_node_writes(old, i, mine), **_ghost_apply(old, i, x)}


def _apply_duplicate_guard(old: S, i: Any) -> Any:
    _, _, x = _next(old, i)
    return z3.And(_has_next(old, i), x != SWITCH, old.node("held", i)[x])


def _apply_duplicate(old: S, i: Any) -> dict[str, Any]:
    _, a, x = _next(old, i)
    return {**_node_writes(old, i, {"applied": a + 1}), **_ghost_apply(old, i, x)}


def _switch_guard(bugs: frozenset[str]) -> Callable[..., Any]:
    def guard(old: S, i: Any, cut: Any) -> Any:
        e, a, x = _next(old, i)
        n = old.node("hlen", i)
        if SWITCH_ON_OWN_EVIDENCE in bugs:
            at = a <= old.clen[e]  # wherever its own detector fired
        else:
            at = z3.And(_has_next(old, i), x == SWITCH)
        if SWITCH_DROPS_LAST_RAFT_TERM in bugs:
            kept = z3.If(e % 2 == 1, within(cut, 0, n + 1), cut == n)
        else:
            kept = cut == n
        return z3.And(at, kept)

    return guard


def _switch(old: S, i: Any, cut: Any) -> dict[str, Any]:
    """Node i enters epoch e+1 with its state machine (the history cut at `cut`: only the mutant cuts)."""
    e = old.node("epoch", i)
    lead, top, front = _lead(old, i), old.top, old.front
    start = z3.Store(old.glen[top + 1], 0, old.glen[top][front])
    ghost = {
        "top": z3.If(lead, top + 1, top),
        "front": z3.If(lead, 0, front),
        "sw": z3.If(lead, z3.Store(old.sw, top, front), old.sw),
        "glen": z3.If(lead, z3.Store(old.glen, top + 1, start), old.glen),
    }
    mine = {"epoch": e + 1, "applied": z3.IntVal(0), "hlen": cut}
    return {**_node_writes(old, i, mine), **ghost}


def transitions(bugs: Iterable[str] = ()) -> tuple[Transition, ...]:
    bugs = check_bugs(bugs)
    return (
        Transition(
            "order_op", ("e", "o"), lambda s, e, o: z3.And(e >= 1, o >= 1), _ordered(lambda r: r[0])
        ),
        Transition(
            "order_switch", ("e",), lambda s, e: e >= 1, _ordered(lambda r: z3.IntVal(SWITCH))
        ),
        Transition("apply", ("i",), _apply_guard, _apply),
        Transition("apply_duplicate", ("i",), _apply_duplicate_guard, _apply_duplicate),
        Transition("switch", ("i", "cut"), _switch_guard(bugs), _switch),
    )


def step(
    t: Transition, old: S, new: S, ps: Sequence[Any], *, node: int | None = None, ghost: bool = True
) -> Any:
    """`t` fires with parameters `ps`; every variable it does not write keeps its value.

    node: the step's node fixed (1 or 2) and the formula simplified for it, which Z3 proves faster
    than a case split on a parameter. ghost=False leaves the ghost variables out (bounded runs: the
    safety invariants do not read them).
    """
    writes = t.writes(old, *ps)
    names = [k for k in old.v if ghost or k not in _GHOST]
    body = z3.And(t.guard(old, *ps), *(new.v[k] == writes.get(k, old.v[k]) for k in names))
    if t.params[0] != "i":
        return body
    if node is None:
        return z3.And(z3.Or(ps[0] == 1, ps[0] == 2), body)
    return z3.And(ps[0] == node, z3.simplify(z3.substitute(body, (ps[0], z3.IntVal(node)))))


def params(t: Transition, tag: str) -> list[Any]:
    return [z3.Int(f"{t.name}.{p}{tag}") for p in t.params]


# --- init ----------------------------------------------------------------------------


def init(s: S) -> Any:
    """Epoch 1, nothing committed or applied. Arrays are constants: no quantifier."""
    return z3.And(
        s.clen == z3.K(_I, 0),
        *(x == 1 for x in s.epoch),
        *(x == 0 for x in s.applied),
        *(x == 0 for x in s.hlen),
        *(x == z3.K(_I, False) for x in s.held),
        s.top == 1,
        s.front == 0,
        s.glen[1][0] == 0,
        s.index == z3.K(_I, -1),
    )
