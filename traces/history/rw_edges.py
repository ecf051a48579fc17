"""The edges of rw-register's dependency graph (traces/history/rw_register.py), each with why it is
there, and the cycles they close, named and explained.

An edge found by elimination (traces/history/rw_elimination.py) is there because the other order
of its pair would close a cycle: a cycle through it is named by the less severe of its own class
and those of the cycles the other orders would close, so that the name never claims more than the
history shows (an rw edge may stand for an rw and ww edges).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import NamedTuple

from meshcheck.traces.history import anomalies
from meshcheck.traces.history import cycles
from meshcheck.traces.history.anomalies import CLASSES
from meshcheck.traces.history.anomalies import CYCLES
from meshcheck.traces.history.cycles import RT
from meshcheck.traces.history.cycles import RW
from meshcheck.traces.history.cycles import WR
from meshcheck.traces.history.cycles import WW
from meshcheck.traces.history.txn import Txn

# alternatives followed when naming a cycle, at most (deeper: the least severe name)
DEPTH = 40


class Fact(NamedTuple):
    """Why an edge is there (immutable: a named tuple, not an attrs class, since a check of
    100,000 transactions builds 240,000 of them, at 2.1 µs each against 4.5 µs). `how`: wr (`value` read), initial (the reader read null; `written`,
    the later writer's value), follows (ww, and rw from the other readers of `value`: the second
    transaction read `value`, which `other` wrote, and wrote `written`), after (rw, found by
    elimination: the reader read `value`, which `other` wrote, and the writer's `written` came
    after), before (ww, found by elimination: the writer's `written` came before the other's
    `value`, which `other` read), rt, or a supposition (suppose-after, suppose-before, as after
    and before); or a version order one of Elle's options assumes (linearizable-keys,
    sequential-keys: `value`, of `other`, came before `written`, which `then` saw; rw_keys.py)."""

    how: str
    key: Hashable = None
    value: Hashable = None
    other: int = -1
    written: Hashable = None
    then: int = -1


class State:
    """The edges proven so far, each with why (`facts`, stamped in the order found), and whether
    they close a cycle. The rt edges (`add_rt`), which may be a million and need no why but their
    times, are in the graph alone, all at one stamp, `rt_from`: after every fact found before
    them, before every one found after."""

    def __init__(self, n: int) -> None:
        self.graph = cycles.Graph(n)
        self.facts: dict[tuple[int, int, int], tuple[int, Fact]] = {}
        self.cyclic = False
        self.rt_from: int | None = None  # the stamp of the rt edges
        # writes follow reads assumed (rw_keys.WFR): else an edge of it, which the model implies,
        # names a cycle no more severe than the G1c its other order would close
        self.wfr = True
        # an order of the nodes that keeps every edge, while no edge was added since it was found
        self.order: list[int] | None = None
        self._alts: dict[tuple[int, int, int], int] = {}

    def add(self, u: int, v: int, kind: int, fact: Fact) -> bool:
        key = (u, v, kind)
        if u == v or key in self.facts:
            return False
        self.graph.add(u, v, kind)
        self.facts[key] = (len(self.facts), fact)
        self.order = None
        return True

    def add_rt(self, edges: Iterable[tuple[int, int]]) -> None:
        """The rt edges u -> v (of process order too, in rt's place), at the next stamp."""
        self.rt_from = len(self.facts)
        succ = self.graph.succ
        for u, v in edges:
            if u != v:
                out = succ[u]
                out[v] = out.get(v, 0) | RT
        self.order = None

    def copy(self) -> State:
        out = State(self.graph.n)
        out.graph.succ = [dict(s) for s in self.graph.succ]
        out.facts = dict(self.facts)
        out.cyclic, out.rt_from, out.wfr = self.cyclic, self.rt_from, self.wfr
        out.order = self.order
        return out

    def edges(self) -> int:
        return sum(len(s) for s in self.graph.succ)

    def alternative(self, u: int, v: int, bit: int) -> list[tuple[int, int, int]] | None:
        """For an edge found by elimination, the cycle the other order would have closed: the
        other order's edge, then a path of edges found before this one."""
        stamp, fact = self.facts[(u, v, bit)]
        if fact.how == "after":  # else v's write came before the writer of what u read
            first, src, dst = (v, fact.other, WW), fact.other, v
        elif fact.how == "before":  # else u's write came after the reader of v's write
            first, src, dst = (fact.other, u, RW), u, fact.other
        else:
            return None
        path = self._path(src, dst, stamp)
        return None if path is None else [first, *path]

    def alt(self, u: int, v: int, bit: int, depth: int = 0) -> int:
        """The index in CLASSES of the name the edge's other order would have: -1 for an edge
        that holds in any case (wr, rt, a read of null, a supposition)."""
        if bit == RT:
            return -1
        stamp, fact = self.facts[(u, v, bit)]
        if fact.how == "follows" and not self.wfr:
            return CLASSES.index("G1c")  # its write before the version it read: T -ww-> W -wr-> T
        if fact.how not in ("after", "before"):
            return -1
        key = (u, v, bit)
        if key in self._alts:
            return self._alts[key]
        cycle = self.alternative(u, v, bit) if depth < DEPTH else None
        if cycle is None:  # the least severe name, with real time when rt edges came first
            worst = len(CYCLES) - 1
            found = worst if self.rt_from is None or stamp < self.rt_from else len(CLASSES) - 1
        else:
            found = CLASSES.index(anomalies.classify(cycle))
            for a, b, kinds in cycle[1:]:
                found = max(found, self.alt(a, b, kinds & -kinds, depth + 1))
        self._alts[key] = found
        return found

    def name(self, cycle: Sequence[tuple[int, int, int]]) -> str:
        found = CLASSES.index(anomalies.classify(cycle))
        for u, v, kinds in cycle:
            found = max(found, self.alt(u, v, kinds & -kinds))
        return CLASSES[found]

    def _path(self, src: int, dst: int, before: int) -> list[tuple[int, int, int]] | None:
        """A shortest path src ~> dst on edges stamped before `before`."""
        parent: dict[int, tuple[int, int]] = {src: (-1, 0)}
        frontier = deque([src])
        while frontier:
            u = frontier.popleft()
            for v in self.graph.succ[u]:
                if v in parent:
                    continue
                kinds = 0
                for bit in (WW, WR, RW):
                    entry = self.facts.get((u, v, bit))
                    if entry is not None and entry[0] < before:
                        kinds |= bit
                if self.graph.succ[u][v] & RT and self.rt_from is not None:
                    kinds |= RT if self.rt_from <= before else 0
                if not kinds:
                    continue
                parent[v] = (u, kinds)
                if v == dst:
                    out: list[tuple[int, int, int]] = []
                    while parent[v][0] >= 0:
                        out.append((parent[v][0], v, parent[v][1]))
                        v = parent[v][0]
                    return out[::-1]
                frontier.append(v)
        return None


def search(
    state: State,
    txns: Mapping[int, Txn],
    strict: bool,
    covered: dict[str, set[int]],
    found: anomalies.Found,
) -> None:
    """The cycles the state's edges close (`anomalies.search`), each named by `State.name`."""

    def explain(cycle: anomalies.Cycle) -> list[str]:
        return anomalies.explain(cycle, txns, lambda u, v, bit: _why(state, u, v, bit, txns))

    def walk(cycle: anomalies.Cycle) -> str | None:
        """A G-nonadjacent walk's name: only when every edge of it found by elimination would,
        the other way, close a cycle that rules snapshot isolation out as well (G0, G1c,
        G-single: the lattice's severity is a chain), never a G2 whose rw edges may be
        adjacent."""
        kind = state.name(cycle)
        if not kind.startswith("G2"):
            return None
        for u, v, kinds in cycle:
            alt = state.alt(u, v, kinds & -kinds)
            if alt >= 0 and CLASSES[alt].startswith("G2"):
                return None
        return kind.replace("G2", "G-nonadjacent")

    anomalies.search(state.graph, strict, state.name, explain, covered, found, walk)


def _why(state: State, u: int, v: int, bit: int, txns: Mapping[int, Txn]) -> str:
    """Why edge u -> v of kind `bit` is there (an rt edge's is worded by `anomalies.explain`)."""
    a, b = txns[u], txns[v]
    fact = state.facts[(u, v, bit)][1]
    k, value = fact.key, shown(fact.value)
    if fact.how == "wr":
        return f"wr {k}: {b.label()} read {k} = {value}, which {a.label()} wrote"
    if fact.how == "follows" and bit == WW:
        return f"ww {k}: {b.label()} read {k} = {value}, which {a.label()} wrote, and wrote {fact.written}"
    if fact.how == "follows":
        return (
            f"rw {k}: {a.label()} read {k} = {value}, which {b.label()} read too and overwrote "
            f"with {fact.written}"
        )
    if fact.how == "initial":
        return f"rw {k}: {a.label()} read {k} = null (never written), and {b.label()} wrote {fact.written}"
    if fact.how in ("linearizable-keys", "sequential-keys"):
        from meshcheck.traces.history import rw_keys  # (it imports this module)

        by = rw_keys.because(fact.how, txns[fact.other], txns[fact.then])
        if bit == WW:
            return f"ww {k}: {a.label()}'s {value} came before {b.label()}'s {fact.written}: {by}"
        return (
            f"rw {k}: {a.label()} read {k} = {value}, and {b.label()}'s {fact.written} came "
            f"after it: {by}"
        )
    other = txns[fact.other].label()
    if fact.how == "suppose-after":
        return f"rw {k}: supposing {b.label()}'s {fact.written} came after {a.label()} read {value}"
    if fact.how == "suppose-before":
        return f"ww {k}: supposing {a.label()}'s {fact.written} came before {b.label()}'s {value}"
    alternative = state.alternative(u, v, bit)
    closes = "a cycle"
    if alternative is not None:
        path = " -> ".join(f"T{x}" for x, _, _ in alternative) + f" -> T{alternative[0][0]}"
        closes = f"{path} ({CLASSES[state.alt(u, v, bit)]})"
    if fact.how == "after":
        return (
            f"rw {k}: {a.label()} read {k} = {value}, which {other} wrote, and "
            f"{b.label()}'s {fact.written} came after it: before {other}'s, it would close "
            f"{closes}"
        )
    return (
        f"ww {k}: {a.label()}'s {fact.written} came before {b.label()}'s {value}: after "
        f"{other}, which read {value}, it would close {closes}"
    )


def shown(v: Hashable) -> str:
    """A value read or written as the reports show it: null, the initial state's."""
    return "null" if v is None else str(v)
