"""Whether rw-register's history has a serial order (traces/history/rw_register.py) once no cycle
was found: one that replays every read, built by repair (`_witness`); when that fails on a small
history, every way of ordering the versions the elimination left open, searched (`branch`):
either one is a serial order, or each closes a cycle, an anomaly named by the less severe side.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections import defaultdict
from collections.abc import Hashable
from collections.abc import Sequence

import attrs

from meshcheck.traces.history import anomalies
from meshcheck.traces.history import cycles
from meshcheck.traces.history import rw_history
from meshcheck.traces.history.anomalies import CLASSES
from meshcheck.traces.history.anomalies import CYCLES
from meshcheck.traces.history.cycles import RW
from meshcheck.traces.history.cycles import WW
from meshcheck.traces.history.rw_edges import Fact
from meshcheck.traces.history.rw_edges import State
from meshcheck.traces.history.rw_edges import search
from meshcheck.traces.history.rw_elimination import Pair
from meshcheck.traces.history.rw_elimination import closure
from meshcheck.traces.history.rw_elimination import propagate
from meshcheck.traces.history.rw_elimination import topological
from meshcheck.traces.history.rw_history import History

# the search of every way to order what the elimination left open (`branch`, on histories of up
# to rw_history.SEARCHED transactions): choices at most
BRANCHES = 2_000
# the repair of a serial order (`_witness`): rounds at most, and moves tried one at a time in a
# round whose moves together closed a cycle
ROUNDS = 40
SINGLY = 8
# transactions whose predecessors are done looked at per step of a schedule, at most
SCANNED = 64


@attrs.frozen
class Outcome:
    result: str  # "order": a serial order replays every read; "refuted": none does; "open"
    kind: str = ""  # refuted: the anomaly's name
    lines: tuple[str, ...] = ()
    size: int = 0


def _witness(state: State, pending: list[Pair], h: History) -> bool:
    """Whether a serial order replays every read, found by repair: the transactions in an order
    that keeps every edge, the earliest first (by the middle of its span; an info one's
    invocation); where a read does not replay, since another transaction's write came between
    the version read and the read, an edge puts that write before the version or after the read
    (as their times suggest, unless that closes a cycle), the elimination follows, and so on, up
    to ROUNDS times. A wrong guess makes it fail, never succeed: the order found is replayed."""
    when = {
        i: h.txns[i].call if h.txns[i].ret == math.inf else (h.txns[i].call + h.txns[i].ret) / 2
        for i in h.nodes
    }
    writer = {(k, v): i for i in h.nodes for k, v in h.writes[i].items()}
    for _ in range(ROUNDS):
        order = _schedule(state.graph, h, when)
        if order is None:
            return False
        wrong = _unreplayed(order, h)
        if not wrong:
            return True
        # reachability as bit sets, on histories small enough
        reach = closure(state.graph, h.nodes) if len(h.nodes) <= rw_history.ELIMINATED else None
        moves: list[tuple[Pair, bool]] = []
        for k, r, v, o in wrong:
            w = writer[(k, v)]
            pair = (k, r, w, v, o, h.writes[o][k])
            no_before = reach is not None and reach[w] >> o & 1
            no_after = reach is not None and reach[o] >> r & 1
            if no_before and no_after:
                return False
            nearer = when[o] - when[w] < when[r] - when[o]  # nearer the version than the read
            moves.append((pair, (nearer and not no_before) or bool(no_after)))
        together = _moved(state, moves, pending, h)
        if together is not None:
            state, pending = together
            continue
        # together they closed a cycle: the first few one at a time, the other way if need be
        for pair, before in moves[:SINGLY]:
            one = _moved(state, [(pair, before)], pending, h) or _moved(
                state, [(pair, not before)], pending, h
            )
            if one is None:
                return False
            state, pending = one
    return False


def _replayed(state: State, h: History) -> bool:
    """Whether an order that keeps every edge replays every read as it is (as any does once
    every pair is settled)."""
    order = state.order  # the elimination's, when no edge was added since
    if order is None:
        order = topological(state.graph, h.nodes, dict.fromkeys(h.nodes, 0.0))
    return order is not None and not _unreplayed(order, h)


def _schedule(graph: cycles.Graph, h: History, when: dict[int, float]) -> list[int] | None:
    """The transactions in an order that keeps every edge (None at a cycle), built as a database
    would run them: among the first SCANNED whose predecessors are done, the earliest whose reads
    show the current versions and whose writes overwrite no version a transaction still to come
    reads; when none is, the earliest."""
    succ = graph.succ
    indeg = _indegrees(graph, h.nodes)
    reads, writes = h.reads, h.writes
    need = Counter((k, v) for i in h.nodes for k, v in reads[i].items())
    current: dict[Hashable, Hashable] = {}
    now = current.get
    ready = sorted((when[i], i) for i in h.nodes if not indeg[i])
    out: list[int] = []
    while ready:
        at = 0
        for j in range(min(len(ready), SCANNED)):  # (loops, not generators: the hot path)
            u = ready[j][1]
            mine = reads[u]
            fits = True
            for k, v in mine.items():
                if now(k) != v:
                    fits = False
                    break
            if fits:
                for k in writes[u]:
                    if need.get((k, now(k)), 0) > (k in mine):  # (a Counter's [] calls Python)
                        fits = False
                        break
            if fits:
                at = j
                break
        u = ready.pop(at)[1]
        out.append(u)
        for k, v in reads[u].items():
            need[(k, v)] -= 1
        current.update(writes[u])
        for v in succ[u]:
            indeg[v] -= 1
            if not indeg[v]:
                bisect.insort(ready, (when[v], v))
    return out if len(out) == len(h.nodes) else None


def _indegrees(graph: cycles.Graph, nodes: Sequence[int]) -> list[int]:
    """Each node's count of edges into it, by index."""
    indeg = [0] * graph.n
    for u in nodes:
        for v in graph.succ[u]:
            indeg[v] += 1
    return indeg


def _suppose(state: State, pair: Pair, before: bool) -> None:
    """The edge of one order of a pair: the other writer's version before the one read, or
    after the read."""
    k, r, w, v, o, ov = pair
    if before:
        state.add(o, w, WW, Fact("suppose-before", k, v, r, ov))
    else:
        state.add(r, o, RW, Fact("suppose-after", k, v, w, ov))


def _moved(
    state: State, moves: Sequence[tuple[Pair, bool]], pending: list[Pair], h: History
) -> tuple[State, list[Pair]] | None:
    """A copy of the state with the moves' edges supposed and the elimination after them; None
    when they close a cycle."""
    s = state.copy()
    for pair, before in moves:
        _suppose(s, pair, before)
    rest = propagate(s, pending, h.nodes)
    return None if s.cyclic else (s, rest)


def _unreplayed(order: Sequence[int], h: History) -> list[tuple[Hashable, int, Hashable, int]]:
    """The reads the order does not replay: (key, reader, value read, writer of the value the
    order shows instead)."""
    current: dict[Hashable, tuple[Hashable, int]] = {}
    out = []
    for u in order:
        for k, v in h.reads[u].items():
            now = current.get(k)
            if now is not None and now[0] != v:  # (a read of null precedes every write)
                out.append((k, u, v, now[1]))
        for k, v in h.writes[u].items():
            current[k] = (v, u)
    return out


def settle(state: State, pending: list[Pair], h: History, strict: bool) -> Outcome:
    """No cycle was found: a serial order, or (small histories) a search of every way to order
    the versions left open."""
    if state.cyclic:
        return Outcome("open")
    if _replayed(state, h) or _witness(state, pending, h):
        return Outcome("order")
    if not h.exact:
        return Outcome("open")
    return branch(state, pending, h, strict, [BRANCHES])


def branch(
    state: State, pending: list[Pair], h: History, strict: bool, budget: list[int]
) -> Outcome:
    """Suppose each order of the first open pair in turn, eliminate, and go on: a serial order,
    or a cycle either way (named by the less severe side)."""
    if not pending or budget[0] <= 0:
        return Outcome("open")
    budget[0] -= 1
    k, r, w, v, o, ov = pending[0]
    tr, tw, to = (h.txns[i].label() for i in (r, w, o))
    sides: list[tuple[str, Outcome]] = []
    opened = False
    for before in (True, False):
        s = state.copy()
        _suppose(s, pending[0], before)
        case = (
            f"if {to}'s {ov} came before {tw}'s {v}:"
            if before
            else f"if {to}'s {ov} came after {tr} read {v}:"
        )
        rest = propagate(s, pending[1:], h.nodes)
        if s.cyclic:
            sides.append((case, _worst(s, h, strict)))
            continue
        if _replayed(s, h) or _witness(s, rest, h):
            return Outcome("order")
        sub = branch(s, rest, h, strict, budget)
        if sub.result == "order":
            return sub
        opened = opened or sub.result == "open"
        sides.append((case, sub))
    if opened:
        return Outcome("open")
    kind = CLASSES[max(CLASSES.index(side.kind) for _, side in sides)]
    lines = [f"every order of the writes to {k} closes a cycle ({tr} read {tw}'s {v}):"]
    for case, side in sides:
        lines.append(f"  {case} {side.kind}")
        lines.extend("    " + line for line in side.lines)
    return Outcome("refuted", kind, tuple(lines), sum(side.size for _, side in sides))


def _worst(state: State, h: History, strict: bool) -> Outcome:
    """The most severe cycle the state's edges close."""
    found = anomalies.Found()
    search(state, h.txns, strict, defaultdict(set), found)
    if not found.by_kind:  # the elimination's edges always close one; the least severe name
        return Outcome("refuted", CLASSES[-1 if strict else len(CYCLES) - 1], ("a cycle",))
    kind = min(found.by_kind, key=CLASSES.index)
    best = min(found.by_kind[kind], key=lambda a: a.size)
    return Outcome("refuted", kind, best.lines, best.size)
