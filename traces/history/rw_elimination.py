"""rw-register's elimination (traces/history/rw_register.py): for T2's read of T1's version of a
key and each other writer T3 of the key, T3 came either before T1 (ww T3 -> T1) or after T2 (rw
T2 -> T3), never between. When one of the two would close a cycle the other is an edge, and so on
to a fixed point, with reachability as a bit set per transaction. Also here: an order of the
transactions that keeps every edge (`topological`), which tells whether the edges close a cycle.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from collections.abc import Sequence

from meshcheck.traces.history import cycles
from meshcheck.traces.history.cycles import RW
from meshcheck.traces.history.cycles import WW
from meshcheck.traces.history.rw_edges import Fact
from meshcheck.traces.history.rw_edges import State

# pairs judged by one elimination, at most: it stops there (what it found holds; it finds less)
JUDGED = 3_000_000
# (key, reader, writer read, value read, other writer, its value)
Pair = tuple[Hashable, int, int, Hashable, int, Hashable]


def closure(graph: cycles.Graph, nodes: Sequence[int]) -> list[int] | None:
    """Per node, the nodes it reaches (a bit set); None when the edges close a cycle."""
    succ = graph.succ
    indeg = [0] * graph.n
    for u in nodes:
        for v in succ[u]:
            indeg[v] += 1
    order = [u for u in nodes if not indeg[u]]
    i = 0
    while i < len(order):
        for v in succ[order[i]]:
            indeg[v] -= 1
            if not indeg[v]:
                order.append(v)
        i += 1
    if len(order) < len(nodes):
        return None
    reach = [0] * graph.n
    for u in reversed(order):
        r = 0
        for v in succ[u]:
            r |= reach[v] | 1 << v
        reach[u] = r
    return reach


def propagate(state: State, pairs: list[Pair], nodes: Sequence[int]) -> list[Pair]:
    """Elimination to a fixed point: for T2's read of T1's version and another writer T3, an
    edge T2 -> T3 (rw) when T3 -> T1 would close a cycle, T3 -> T1 (ww) when T2 -> T3 would.
    Returns the pairs left open; stops at a cycle (`state.cyclic`)."""
    if not pairs:
        _ordered(state, nodes)
        return []
    pending = pairs
    seen: list[int] | None = None  # the reachability the pending pairs were last judged by
    judged = 0
    while judged < JUDGED:
        judged += len(pending)
        reach = closure(state.graph, nodes)
        if reach is None:
            state.cyclic = True
            return pending
        # a pair is judged again only when what one of its transactions reaches has changed
        changed = None if seen is None else {u for u in nodes if reach[u] != seen[u]}
        seen = list(reach)
        rest: list[Pair] = []
        added = False
        for p in pending:
            k, r, w, v, o, ov = p
            if changed is not None and r not in changed and w not in changed and o not in changed:
                rest.append(p)
            elif reach[o] >> w & 1 or reach[r] >> o & 1:
                continue  # o came before w, or after r, already
            elif reach[w] >> o & 1:  # o -> w would close a cycle (and if r -> o would too: one)
                state.add(r, o, RW, Fact("after", k, v, w, ov))
                reach[r] |= reach[o] | 1 << o
                added = True
            elif reach[o] >> r & 1:
                state.add(o, w, WW, Fact("before", k, v, r, ov))
                reach[o] |= reach[w] | 1 << w
                added = True
            else:
                rest.append(p)
        pending = rest
        if not added:
            return pending
    _ordered(state, nodes)
    return pending


def _ordered(state: State, nodes: Sequence[int]) -> None:
    """Whether the state's edges close a cycle, and if not an order that keeps them (kept for
    the serial order's first try, rw_order.py)."""
    state.order = topological(state.graph, nodes, dict.fromkeys(nodes, 0.0))
    state.cyclic = state.cyclic or state.order is None


def topological(
    graph: cycles.Graph, nodes: Sequence[int], when: dict[int, float]
) -> list[int] | None:
    """The nodes in an order that keeps every edge, the earliest first; None at a cycle."""
    succ = graph.succ
    indeg = [0] * graph.n
    for u in nodes:
        for v in succ[u]:
            indeg[v] += 1
    ready = [(when[u], u) for u in nodes if not indeg[u]]
    heapq.heapify(ready)
    out: list[int] = []
    while ready:
        u = heapq.heappop(ready)[1]
        out.append(u)
        for v in succ[u]:
            indeg[v] -= 1
            if not indeg[v]:
                heapq.heappush(ready, (when[v], v))
    return out if len(out) == len(nodes) else None
