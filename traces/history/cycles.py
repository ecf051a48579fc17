"""Cycles of a dependency graph whose edges carry kinds (ww, wr, rw, rt), as Elle finds them
(Alvaro and Kingsbury, "Elle: Inferring Isolation Anomalies from Experimental Observations",
VLDB 2020, section 4): the strongly connected components of the graph restricted to some kinds of
edge, then in each component a shortest cycle through an edge of the kind that names the anomaly.

A shortest cycle through edge u -> v is that edge and a shortest path v ~> u (a breadth-first
search inside the component). In a component the search tries up to `TRIED` edges of the kind and
keeps the shortest cycle found: the cycle reported is the shortest through those edges (in a
component with no more than TRIED edges of the kind, the shortest there is).

The components come from rustworkx (its `strongly_connected_components`, in Rust), chosen over
networkx by measurement: on the dependency graph of a 100,000-transaction history (659,921 edges,
bench/bench_list_append.py's workload) building the graph and finding its components takes
0.15 s with rustworkx 0.18.1 and 1.26 s with networkx 3.6.1 (median of 5). The breadth-first
searches run inside small components and stay in Python.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from collections.abc import Sequence

import rustworkx

WW, WR, RW, RT = 1, 2, 4, 8
NAMES = {WW: "ww", WR: "wr", RW: "rw", RT: "rt"}
# edges of the kind tried per component, at most
TRIED = 1000


class Graph:
    """A directed graph on nodes 0..n-1 whose edge u -> v carries a set of kinds (a bit mask)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.succ: list[dict[int, int]] = [{} for _ in range(n)]

    def add(self, u: int, v: int, kind: int) -> None:
        if u != v:
            out = self.succ[u]
            out[v] = out.get(v, 0) | kind

    def edges(self, mask: int) -> list[tuple[int, int]]:
        return [(u, v) for u in range(self.n) for v, k in self.succ[u].items() if k & mask]

    def components(self, mask: int, within: Sequence[Sequence[int]] = ()) -> list[list[int]]:
        """Strongly connected components of more than one node, on the edges of `mask`'s kinds;
        `within`, when given, the components of a mask that holds `mask`'s kinds: each of the
        new ones is inside one of them (a cycle of fewer kinds of edge is a cycle of more), so
        only their nodes are looked at, not the whole graph's edges again."""
        g = rustworkx.PyDiGraph(multigraph=False)
        if not within:
            g.add_nodes_from(range(self.n))
            g.add_edges_from_no_data(self.edges(mask))
            return [sorted(c) for c in rustworkx.strongly_connected_components(g) if len(c) > 1]
        nodes = sorted(u for c in within for u in c)
        at = {u: i for i, u in enumerate(nodes)}
        g.add_nodes_from(nodes)
        g.add_edges_from_no_data(
            [(at[u], at[v]) for u in nodes for v, k in self.succ[u].items() if k & mask and v in at]
        )
        found = rustworkx.strongly_connected_components(g)
        return [sorted(nodes[i] for i in c) for c in found if len(c) > 1]

    def shortest_cycle(
        self, nodes: Sequence[int], allowed: int, through: int
    ) -> list[tuple[int, int, int]] | None:
        """A shortest cycle among `nodes` on edges of `allowed` kinds that takes an edge of a kind
        in `through` (tried: up to TRIED such edges): its edges (u, v, kinds of u -> v used)."""
        inside = set(nodes)
        best: list[tuple[int, int, int]] | None = None
        tried = 0
        for u in nodes:
            for v, kinds in self.succ[u].items():
                if not kinds & through or v not in inside:
                    continue
                tried += 1
                if tried > TRIED:
                    return best
                limit = None if best is None else len(best) - 1
                path = self._path(v, u, inside, allowed, limit)
                if path is not None and (best is None or len(path) + 1 < len(best)):
                    best = [(u, v, kinds & (allowed | through)), *path]
                    if len(best) == 2:
                        return best
        return best

    def nonadjacent_cycle(
        self, nodes: Sequence[int], allowed: int, rw: int
    ) -> list[tuple[int, int, int]] | None:
        """A shortest closed walk among `nodes` with two or more edges of kind `rw`, no two of them
        one after the other (around the walk too), the others of `allowed` kinds (tried: up to
        TRIED rw edges to start from): Elle's G-nonadjacent. Such a walk is a cycle of the
        relation (allowed ; rw?), whose acyclicity is snapshot isolation (Cerone and Gotsman,
        "Analysing Snapshot Isolation", PODC 2016): it may pass a transaction twice."""
        inside = set(nodes)
        best: list[tuple[int, int, int]] | None = None
        tried = 0
        for u in nodes:
            for v, kinds in self.succ[u].items():
                if not kinds & rw or v not in inside:
                    continue
                tried += 1
                if tried > TRIED:
                    return best
                path = self._walk(v, u, inside, allowed, rw, None if best is None else len(best))
                if path is not None and (best is None or len(path) + 1 < len(best)):
                    best = [(u, v, rw), *path]
        return best

    def _walk(
        self, src: int, dst: int, inside: set[int], allowed: int, rw: int, limit: int | None
    ) -> list[tuple[int, int, int]] | None:
        """A shortest walk src ~> dst that starts just after an rw edge, ends on an edge of
        `allowed` kinds, takes another rw edge, and never two rw edges in a row; shorter than
        `limit` edges. States: (node, came by rw, rw edges taken capped at 2)."""
        start = (src, 1, 1)
        parent: dict[tuple[int, int, int], tuple[tuple[int, int, int], int]] = {start: (start, 0)}
        frontier = deque([(start, 0)])
        while frontier:
            state, depth = frontier.popleft()
            if limit is not None and depth + 2 >= limit:
                return None
            u, by_rw, taken = state
            for v, kinds in self.succ[u].items():
                if v not in inside:
                    continue
                steps = []
                if kinds & allowed:
                    steps.append(((v, 0, taken), kinds & allowed))
                if kinds & rw and not by_rw:
                    steps.append(((v, 1, 2), rw))
                for nxt, used in steps:
                    if nxt in parent:
                        continue
                    parent[nxt] = (state, used)
                    if nxt == (dst, 0, 2):
                        out: list[tuple[int, int, int]] = []
                        at = nxt
                        while at != start:
                            before, k = parent[at]
                            out.append((before[0], at[0], k))
                            at = before
                        return out[::-1]
                    frontier.append((nxt, depth + 1))
        return None

    def _path(
        self, src: int, dst: int, inside: set[int], allowed: int, limit: int | None
    ) -> list[tuple[int, int, int]] | None:
        """A shortest path src ~> dst inside `inside` on `allowed` edges, shorter than `limit`."""
        parent: dict[int, tuple[int, int]] = {src: (-1, 0)}
        frontier = deque([(src, 0)])
        while frontier:
            u, depth = frontier.popleft()
            if limit is not None and depth + 1 >= limit:
                return None
            for v, kinds in self.succ[u].items():
                used = kinds & allowed
                if not used or v in parent or v not in inside:
                    continue
                parent[v] = (u, used)
                if v == dst:
                    return _unwind(parent, dst)
                frontier.append((v, depth + 1))
        return None


def _unwind(parent: dict[int, tuple[int, int]], dst: int) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    v = dst
    while True:
        u, kinds = parent[v]
        if u < 0:
            break
        out.append((u, v, kinds))
        v = u
    out.reverse()
    return out


def count(cycle: Iterable[tuple[int, int, int]], kind: int) -> int:
    """Edges of the cycle that can only be of `kind` among the kinds it names (an edge that is
    both ww and rw counts as ww: the weaker anomaly)."""
    n = 0
    for _, _, kinds in cycle:
        if kinds & kind and not kinds & (kind - 1):
            n += 1
    return n
