"""Transactions of writes and reads of registers: is the history serializable, strict
serializable? After Elle's rw-register checker (Alvaro and Kingsbury, "Elle: Inferring Isolation
Anomalies from Experimental Observations", VLDB 2020; jepsen-io/elle, src/elle/rw_register.clj),
with Adya's anomalies ("Weak Consistency: A Generalized Theory and Optimistic Implementations for
Distributed Transactions", MIT, 1999).

A transaction is a list of micro-operations: `["w", k, v]` writes v to the register k, `["r", k,
v]` reads it (v null on the invocation; on the ok completion the value read, null meaning the
key's initial state, never written). Values written to a key are unique, so a read names its
writer. Unlike a list, a register does not show the order its versions were installed in: that
order is inferred, as far as it can be, and the verdict says when it could not be.

What a transaction reads first of a key and what it writes last to it are its external read and
write; only the external writes of transactions that took effect are versions of the key. The
edges of the dependency graph are precedences that hold in every serial order of the
transactions:

- wr: T1 wrote the version T2 read;
- rw from a read of the initial state (null) to every transaction that wrote the key (the
  initial state precedes every version: Elle's initial-state version graph);
- writes follow reads (Elle's wfr-keys, always on here): a transaction that read v of k and then
  wrote v' put v' after v: ww from v's writer to it, rw from v's other readers to it;
- by elimination, for T2's read of T1's version of k and each other writer T3 of k: T3 came
  either before T1 (ww T3 -> T1) or after T2 (rw T2 -> T3), never between. When one of the two
  would close a cycle the other is an edge, and so on to a fixed point (reachability as a bit set
  per transaction). Elle orders versions by the initial state and, as options, by writes
  following reads, real time (keys assumed linearizable) or process order; the elimination,
  which assumes nothing beyond the consistency checked, finds the edges the first three give
  (real time's under strict serializability) and more;
- for strict serializability also rt (T1 completed before T2 was invoked), and the edges the
  elimination then finds.

A cycle is an anomaly, found and named as list-append's are (`cycles.py`, weakest class first): G0
(ww only), G1c (ww and wr), G-single (one rw), G2 (more), `-realtime` with an rt edge. An edge
found by elimination is there because the other order would close a cycle: a cycle through it is
named by the less severe of its own class and those of the cycles the other orders would close
(an rw edge may stand for an rw and ww edges: the name never claims more than the history
shows). Beside the cycles, per transaction: G1a (a read of a failed transaction's write), G1b (a
read of a write its transaction later overwrote), internal (a read that does not show the
transaction's own earlier write or read of the key, or shows a value it writes later),
duplicate-write (a value written twice to a key), garbage-read (a value nobody wrote).

When no cycle is found the verdict rests on a serial order that replays every read: one is built
(`_witness`: a schedule by time, repaired where a read does not replay); when that fails on a
small history, every way of ordering the versions left open is searched (either one is a serial
order, or each closes a cycle: an anomaly named by the less severe side). Otherwise the verdict
is undecided: no anomaly found, the keys whose versions' order was left open named, exit 2,
never a claim of serializability.

Transactions that failed took no effect (only G1a looks at them); one whose outcome is unknown
(`info`) took effect when a read saw one of its writes (it then has no completion time: no rt
edge out of it), and is left out otherwise (it may have run last). A history with no committed
transaction has nothing to check.
"""

from __future__ import annotations

import bisect
import heapq
import math
import time
from collections import Counter, defaultdict, deque
from collections.abc import Hashable, Sequence
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import cycles, events, list_append
from meshcheck.traces.history.cycles import RT, RW, WR, WW

CYCLES = list_append.CYCLES
# a cycle's names, the most severe first: the name given is the least severe the history has for
# certain (a -realtime one breaks strict serializability only)
CLASSES = (*CYCLES, *(f"{c}-realtime" for c in CYCLES))
SINGLE = ("G1a", "G1b", "internal", "duplicate-write", "garbage-read")
KINDS = (*SINGLE, *CLASSES)
CONSISTENCY = list_append.CONSISTENCY
# anomalies of a kind printed in full, at most; and pairs of versions left unordered
SHOWN = 3
# the elimination runs on histories of up to this many transactions that took effect (its
# reachability is a bit set per transaction) and on up to PAIRS (read, other writer) pairs
ELIMINATED = 10_000
PAIRS = 1_000_000
# pairs judged by one elimination, at most: it stops there (what it found holds; it finds less)
JUDGED = 3_000_000
# the search of every way to order what the elimination left open: on up to SEARCHED
# transactions, BRANCHES choices at most
SEARCHED = 300
BRANCHES = 2_000
# the repair of a serial order (`_witness`): rounds at most, and moves tried one at a time in a
# round whose moves together closed a cycle
ROUNDS = 40
SINGLY = 8
# transactions whose predecessors are done looked at per step of a schedule, at most
SCANNED = 64
# alternatives followed when naming a cycle, at most (deeper: the least severe name)
DEPTH = 40

Mop = tuple[str, Hashable, Hashable]  # ("w", key, value) or ("r", key, value or None)
# (key, reader, writer read, value read, other writer, its value)
Pair = tuple[Hashable, int, int, Hashable, int, Hashable]


@attrs.frozen(eq=False)
class Txn:
    index: int
    process: Hashable
    mops: tuple[Mop, ...]
    call: float
    ret: float
    status: str

    def label(self) -> str:
        return f"T{self.index}"

    def show(self) -> str:
        parts = []
        for f, k, v in self.mops:
            if f == "w":
                parts.append(f"w {k} {v}")
            else:
                parts.append(f"r {k} " + (_value(v) if self.status == "ok" else "?"))
        return (
            f"T{self.index}  process {self.process}  {events.span(self.call, self.ret)}  "
            f"{self.status}  " + "  ".join(f"[{p}]" for p in parts)
        )


@attrs.frozen
class Anomaly:
    kind: str
    lines: tuple[str, ...]
    size: int = 1  # transactions it involves (a cycle's length)


@attrs.frozen
class Report:
    consistency: str
    txns: int
    keys: int
    edges: int
    seconds: float
    anomalies: dict[str, list[Anomaly]]
    # a serial order (keeping real time when strict) exists: True, one was found; False, an
    # anomaly shows there is none; None, undecided
    order: bool | None
    serializable: bool | None  # the same, real time aside
    open_keys: tuple[Hashable, ...] = ()  # when undecided: keys whose versions' order was open
    undecided: tuple[str, ...] = ()  # ... and some of the pairs of versions left unordered

    @property
    def holds(self) -> bool | None:
        return self.order


@attrs.frozen
class _Fact:
    """Why an edge is there. `how`: wr (`value` read), initial (the reader read null; `written`,
    the later writer's value), follows (ww, and rw from the other readers of `value`: the second
    transaction read `value`, which `other` wrote, and wrote `written`), after (rw, found by
    elimination: the reader read `value`, which `other` wrote, and the writer's `written` came
    after), before (ww, found by elimination: the writer's `written` came before the other's
    `value`, which `other` read), rt, or a supposition (suppose-after, suppose-before, as after
    and before)."""

    how: str
    key: Hashable = None
    value: Hashable = None
    other: int = -1
    written: Hashable = None


@attrs.frozen
class _Outcome:
    result: str  # "order": a serial order replays every read; "refuted": none does; "open"
    kind: str = ""  # refuted: the anomaly's name
    lines: tuple[str, ...] = ()
    size: int = 0


def parse(calls: Sequence[events.Call], name: str) -> list[Txn]:
    """Transactions from paired events whose value is a list of micro-operations."""
    out: list[Txn] = []
    for c in calls:
        mops = _mops(c.value, c, name)
        if c.status == "ok" and c.invoked is not None:
            before = _mops(c.invoked, c, name)
            if [_shape(m) for m in before] != [_shape(m) for m in mops]:
                raise c.event.bad(
                    name, "value", "the completion's micro-operations differ from the invocation's"
                )
        out.append(Txn(c.index, c.process, mops, c.call, c.ret, c.status))
    return out


def _shape(m: Mop) -> tuple[Hashable, ...]:
    f, k, v = m
    return (f, k, v) if f == "w" else (f, k)


def _mops(value: Any, c: events.Call, name: str) -> tuple[Mop, ...]:
    if not isinstance(value, list):
        raise c.event.bad(name, "value", "expected a list of micro-operations [f, key, value]")
    out: list[Mop] = []
    for m in value:
        if not (isinstance(m, list) and len(m) == 3 and m[0] in ("w", "r")):
            raise c.event.bad(name, "value", f'expected ["w", k, v] or ["r", k, v]: {m}')
        f, k, v = m
        if isinstance(k, bool) or not isinstance(k, int | str):
            raise c.event.bad(name, "value", f"a key is a number or a string: {m}")
        if f == "w" and (isinstance(v, bool) or not isinstance(v, int | str)):
            raise c.event.bad(name, "value", f"a written value is a number or a string: {m}")
        if f == "r" and v is not None and (isinstance(v, bool) or not isinstance(v, int | str)):
            raise c.event.bad(name, "value", f"a read's value is a number, a string or null: {m}")
        out.append((f, k, v))
    return tuple(out)


class _Found:
    def __init__(self) -> None:
        self.by_kind: dict[str, list[Anomaly]] = defaultdict(list)

    def add(self, kind: str, *lines: str, size: int = 1) -> None:
        self.by_kind[kind].append(Anomaly(kind, tuple(lines), size))


class _State:
    """The edges proven so far, each with why (`facts`, stamped in the order found), and whether
    they close a cycle."""

    def __init__(self, n: int) -> None:
        self.graph = cycles.Graph(n)
        self.facts: dict[tuple[int, int, int], tuple[int, _Fact]] = {}
        self.cyclic = False
        self.rt_from: int | None = None  # the stamp of the first rt edge
        self._alts: dict[tuple[int, int, int], int] = {}

    def add(self, u: int, v: int, kind: int, fact: _Fact) -> bool:
        key = (u, v, kind)
        if u == v or key in self.facts:
            return False
        self.graph.add(u, v, kind)
        self.facts[key] = (len(self.facts), fact)
        return True

    def copy(self) -> _State:
        out = _State(self.graph.n)
        out.graph.succ = [dict(s) for s in self.graph.succ]
        out.facts = dict(self.facts)
        out.cyclic, out.rt_from = self.cyclic, self.rt_from
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
        stamp, fact = self.facts[(u, v, bit)]
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
            found = CLASSES.index(list_append.classify(cycle))
            for a, b, kinds in cycle[1:]:
                found = max(found, self.alt(a, b, kinds & -kinds, depth + 1))
        self._alts[key] = found
        return found

    def name(self, cycle: Sequence[tuple[int, int, int]]) -> str:
        found = CLASSES.index(list_append.classify(cycle))
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
                for bit in (WW, WR, RW, RT):
                    entry = self.facts.get((u, v, bit))
                    if entry is not None and entry[0] < before:
                        kinds |= bit
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


@attrs.frozen
class _History:
    """What the graph is built from: the transactions that took effect (`nodes`), their external
    reads that name a version (or null) and their external writes, and the pairs to eliminate."""

    txns: dict[int, Txn]
    nodes: tuple[int, ...]
    reads: dict[int, dict[Hashable, Hashable]]
    writes: dict[int, dict[Hashable, Hashable]]
    pairs: tuple[Pair, ...]
    exact: bool  # every pair is in `pairs`, and the history is small enough to search
    skipped: tuple[Hashable, ...]  # keys whose pairs were left out


def check(txns: Sequence[Txn], consistency: str = "strict-serializable") -> Report:
    """Every anomaly of the history (see the module's docstring) that `consistency` rules out, and
    whether a serial order was found."""
    start = time.monotonic()
    found = _Found()
    h, fixed = _build(txns, found)
    n = max((t.index for t in txns), default=-1) + 1
    serial = _State(n)
    for u, v, kind, fact in fixed:
        serial.add(u, v, kind, fact)
    pending = _propagate(serial, list(h.pairs), h.nodes)
    strict = consistency == "strict-serializable"
    final, final_pending = serial, pending
    if strict:
        final = serial.copy()
        final.rt_from = len(final.facts)
        rt = cycles.Graph(n)
        list_append.realtime([h.txns[i] for i in h.nodes], rt)
        for u in h.nodes:
            for v in rt.succ[u]:
                final.add(u, v, RT, _Fact("rt"))
        final_pending = _propagate(final, pending, h.nodes)
    covered: dict[str, set[int]] = defaultdict(set)
    _cycles(serial, h.txns, False, covered, found)
    if strict:
        _cycles(final, h.txns, True, covered, found)
    order: bool | None = False if found.by_kind else None
    serializable: bool | None = None
    open_keys: tuple[Hashable, ...] = ()
    undecided: tuple[str, ...] = ()
    if order is None:
        decided = _settle(final, final_pending, h, strict)
        if decided.result == "order":
            order = serializable = True
        elif decided.result == "refuted":
            found.add(decided.kind, *decided.lines, size=decided.size)
            order = False
        else:
            open_keys, undecided = _open(final_pending, h)
    if any(not k.endswith("-realtime") for k in found.by_kind):
        serializable = False
    elif strict and serializable is None:
        decided = _settle(serial, pending, h, False)
        if decided.result == "order":
            serializable = True
        elif decided.result == "refuted":
            found.add(decided.kind, *decided.lines, size=decided.size)
            serializable = order = False
        elif order is False:  # a realtime anomaly, and serializability undecided
            open_keys, undecided = _open(pending, h)
    if not strict:
        order = serializable
    keys = {k for t in txns for _, k, _ in t.mops}
    anomalies = {
        kind: sorted(found.by_kind[kind], key=lambda a: a.size)
        for kind in KINDS
        if found.by_kind.get(kind)
    }
    return Report(
        consistency,
        len(txns),
        len(keys),
        final.edges(),
        time.monotonic() - start,
        anomalies,
        order,
        serializable,
        open_keys,
        undecided,
    )


def _build(
    txns: Sequence[Txn], found: _Found
) -> tuple[_History, list[tuple[int, int, int, _Fact]]]:
    """The per-transaction anomalies, the transactions that took effect, and the edges that need
    no elimination: wr, rw from reads of null, and those of writes following reads."""
    # (key, value) -> its writer, and whether it is the writer's last write to the key
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]] = {}
    aborted: dict[tuple[Hashable, Hashable], Txn] = {}
    ambiguous: set[tuple[Hashable, Hashable]] = set()
    for t in txns:
        last: dict[Hashable, Hashable] = {}
        for f, k, v in t.mops:
            if f == "w":
                last[k] = v
        for f, k, v in t.mops:
            if f != "w":
                continue
            if t.status == "fail":
                aborted.setdefault((k, v), t)
                continue
            if (k, v) in writer:
                other = writer[(k, v)][0]
                by = (
                    f"twice by {t.label()}" if other is t else f"by {other.label()} and {t.label()}"
                )
                shown = (t.show(),) if other is t else (other.show(), t.show())
                found.add("duplicate-write", f"{v} written to {k} {by}", *shown)
                ambiguous.add((k, v))
                continue
            writer[(k, v)] = (t, last[k] == v)
    ok = [t for t in txns if t.status == "ok"]
    took_effect: set[int] = set()
    # (reader, key, value read, its writer), the writer None for a read of null
    versions: list[tuple[Txn, Hashable, Hashable, Txn | None]] = []
    for t in ok:
        for k, v in _internal(t, found).items():
            if v is None:
                versions.append((t, k, None, None))
                continue
            if (k, v) in ambiguous:
                continue
            if (k, v) in writer:
                w, final = writer[(k, v)]
                took_effect.add(w.index)
                if not final:
                    found.add(
                        "G1b",
                        f"{t.label()} read {k} = {v}, which {w.label()} overwrote with a later "
                        f"write to {k}",
                        w.show(),
                        t.show(),
                    )
                    continue
                versions.append((t, k, v, w))
            elif (k, v) in aborted:
                a = aborted[(k, v)]
                found.add(
                    "G1a",
                    f"{t.label()} read {k} = {v}, which {a.label()} wrote and failed",
                    a.show(),
                    t.show(),
                )
            else:
                found.add(
                    "garbage-read", f"{t.label()} read {k} = {v}, which nobody wrote", t.show()
                )
    nodes = tuple(t.index for t in txns if t.status == "ok" or t.index in took_effect)
    by_index = {t.index: t for t in txns}
    writes: dict[int, dict[Hashable, Hashable]] = {}
    writers: dict[Hashable, list[int]] = defaultdict(list)
    for i in nodes:
        last = {}
        for f, k, v in by_index[i].mops:
            if f == "w":
                last[k] = v
        writes[i] = last
        for k in last:
            writers[k].append(i)
    reads: dict[int, dict[Hashable, Hashable]] = {i: {} for i in nodes}
    fixed: list[tuple[int, int, int, _Fact]] = []
    readers: dict[tuple[Hashable, Hashable], list[int]] = defaultdict(list)
    per_key: dict[Hashable, list[tuple[int, int, Hashable]]] = defaultdict(list)
    for reader, k, v, source in versions:
        i = reader.index
        reads[i][k] = v
        if source is None:
            for later in writers[k]:
                if later != i:
                    fixed.append((i, later, RW, _Fact("initial", k, written=writes[later][k])))
            continue
        fixed.append((source.index, i, WR, _Fact("wr", k, v)))
        readers[(k, v)].append(i)
        per_key[k].append((i, source.index, v))
    # writes follow reads: what a transaction writes to a key comes after the version it read
    for (k, v), who in readers.items():
        source = writer[(k, v)][0]
        for i in who:
            if k in writes[i]:
                fact = _Fact("follows", k, v, source.index, writes[i][k])
                fixed.append((source.index, i, WW, fact))
                fixed.extend((o, i, RW, fact) for o in who if o != i)
    # the pairs to eliminate, the keys with fewest first, as many as PAIRS allows
    pairs: list[Pair] = []
    skipped: list[Hashable] = []
    eliminate = len(nodes) <= ELIMINATED
    for k, rs in sorted(per_key.items(), key=lambda p: len(p[1]) * len(writers[p[0]])):
        if not eliminate or len(pairs) + len(rs) * len(writers[k]) > PAIRS:
            skipped.append(k)
            continue
        for r, wi, v in rs:
            pairs.extend((k, r, wi, v, o, writes[o][k]) for o in writers[k] if o not in (r, wi))
    exact = not skipped and len(nodes) <= SEARCHED
    h = _History(by_index, nodes, reads, writes, tuple(pairs), exact, tuple(skipped))
    return h, fixed


def _internal(t: Txn, found: _Found) -> dict[Hashable, Hashable]:
    """Its external reads (the first access of a key, when a read), and whether each later read
    shows the transaction's own earlier write or read of the key; a read of a value the
    transaction writes later is internal too (and names no version)."""
    written = {(k, v) for f, k, v in t.mops if f == "w"}
    known: dict[Hashable, tuple[Hashable, str]] = {}
    external: dict[Hashable, Hashable] = {}
    wrong = False
    for f, k, v in t.mops:
        if f == "w":
            known[k] = (v, "write")
            continue
        if k not in known:
            if (k, v) in written:
                found.add(
                    "internal", f"{t.label()} read {k} = {v}, which it writes later", t.show()
                )
            else:
                external[k] = v
        elif known[k][0] != v and not wrong:
            wrong = True
            found.add(
                "internal",
                f"{t.label()} read {k} = {_value(v)}, expected {_value(known[k][0])} from its own "
                f"earlier {known[k][1]}",
                t.show(),
            )
        known[k] = (v, "read")
    return external


def _closure(graph: cycles.Graph, nodes: Sequence[int]) -> list[int] | None:
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


def _propagate(state: _State, pairs: list[Pair], nodes: Sequence[int]) -> list[Pair]:
    """Elimination to a fixed point: for T2's read of T1's version and another writer T3, an
    edge T2 -> T3 (rw) when T3 -> T1 would close a cycle, T3 -> T1 (ww) when T2 -> T3 would.
    Returns the pairs left open; stops at a cycle (`state.cyclic`)."""
    if not pairs:
        state.cyclic = (
            state.cyclic or _topological(state.graph, nodes, dict.fromkeys(nodes, 0.0)) is None
        )
        return []
    pending = pairs
    seen: list[int] | None = None  # the reachability the pending pairs were last judged by
    judged = 0
    while judged < JUDGED:
        judged += len(pending)
        reach = _closure(state.graph, nodes)
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
                state.add(r, o, RW, _Fact("after", k, v, w, ov))
                reach[r] |= reach[o] | 1 << o
                added = True
            elif reach[o] >> r & 1:
                state.add(o, w, WW, _Fact("before", k, v, r, ov))
                reach[o] |= reach[w] | 1 << w
                added = True
            else:
                rest.append(p)
        pending = rest
        if not added:
            return pending
    state.cyclic = (
        state.cyclic or _topological(state.graph, nodes, dict.fromkeys(nodes, 0.0)) is None
    )
    return pending


def _witness(state: _State, pending: list[Pair], h: _History) -> bool:
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
        reach = _closure(state.graph, h.nodes) if len(h.nodes) <= ELIMINATED else None
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


def _replayed(state: _State, h: _History) -> bool:
    """Whether an order that keeps every edge replays every read as it is (as any does once
    every pair is settled)."""
    order = _topological(state.graph, h.nodes, dict.fromkeys(h.nodes, 0.0))
    return order is not None and not _unreplayed(order, h)


def _schedule(graph: cycles.Graph, h: _History, when: dict[int, float]) -> list[int] | None:
    """The transactions in an order that keeps every edge (None at a cycle), built as a database
    would run them: among the first SCANNED whose predecessors are done, the earliest whose reads
    show the current versions and whose writes overwrite no version a transaction still to come
    reads; when none is, the earliest."""
    succ = graph.succ
    indeg = Counter(v for u in h.nodes for v in succ[u])
    need = Counter((k, v) for i in h.nodes for k, v in h.reads[i].items())
    current: dict[Hashable, Hashable] = {}
    ready = sorted((when[i], i) for i in h.nodes if not indeg[i])
    out: list[int] = []
    while ready:
        at = next(
            (
                at
                for at, (_, u) in enumerate(ready[:SCANNED])
                if all(current.get(k) == v for k, v in h.reads[u].items())
                and not any(need[(k, current.get(k))] > (k in h.reads[u]) for k in h.writes[u])
            ),
            0,
        )
        u = ready.pop(at)[1]
        out.append(u)
        for k, v in h.reads[u].items():
            need[(k, v)] -= 1
        current.update(h.writes[u])
        for v in succ[u]:
            indeg[v] -= 1
            if not indeg[v]:
                bisect.insort(ready, (when[v], v))
    return out if len(out) == len(h.nodes) else None


def _suppose(state: _State, pair: Pair, before: bool) -> None:
    """The edge of one order of a pair: the other writer's version before the one read, or
    after the read."""
    k, r, w, v, o, ov = pair
    if before:
        state.add(o, w, WW, _Fact("suppose-before", k, v, r, ov))
    else:
        state.add(r, o, RW, _Fact("suppose-after", k, v, w, ov))


def _moved(
    state: _State, moves: Sequence[tuple[Pair, bool]], pending: list[Pair], h: _History
) -> tuple[_State, list[Pair]] | None:
    """A copy of the state with the moves' edges supposed and the elimination after them; None
    when they close a cycle."""
    s = state.copy()
    for pair, before in moves:
        _suppose(s, pair, before)
    rest = _propagate(s, pending, h.nodes)
    return None if s.cyclic else (s, rest)


def _topological(
    graph: cycles.Graph, nodes: Sequence[int], when: dict[int, float]
) -> list[int] | None:
    """The nodes in an order that keeps every edge, the earliest first; None at a cycle."""
    succ = graph.succ
    indeg = Counter(v for u in nodes for v in succ[u])
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


def _unreplayed(order: Sequence[int], h: _History) -> list[tuple[Hashable, int, Hashable, int]]:
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


def _settle(state: _State, pending: list[Pair], h: _History, strict: bool) -> _Outcome:
    """No cycle was found: a serial order, or (small histories) a search of every way to order
    the versions left open."""
    if state.cyclic:
        return _Outcome("open")
    if _replayed(state, h) or _witness(state, pending, h):
        return _Outcome("order")
    if not h.exact:
        return _Outcome("open")
    return _branch(state, pending, h, strict, [BRANCHES])


def _branch(
    state: _State, pending: list[Pair], h: _History, strict: bool, budget: list[int]
) -> _Outcome:
    """Suppose each order of the first open pair in turn, eliminate, and go on: a serial order,
    or a cycle either way (named by the less severe side)."""
    if not pending or budget[0] <= 0:
        return _Outcome("open")
    budget[0] -= 1
    k, r, w, v, o, ov = pending[0]
    tr, tw, to = (h.txns[i].label() for i in (r, w, o))
    sides: list[tuple[str, _Outcome]] = []
    opened = False
    for before in (True, False):
        s = state.copy()
        _suppose(s, pending[0], before)
        case = (
            f"if {to}'s {ov} came before {tw}'s {v}:"
            if before
            else f"if {to}'s {ov} came after {tr} read {v}:"
        )
        rest = _propagate(s, pending[1:], h.nodes)
        if s.cyclic:
            sides.append((case, _worst(s, h, strict)))
            continue
        if _replayed(s, h) or _witness(s, rest, h):
            return _Outcome("order")
        sub = _branch(s, rest, h, strict, budget)
        if sub.result == "order":
            return sub
        opened = opened or sub.result == "open"
        sides.append((case, sub))
    if opened:
        return _Outcome("open")
    kind = CLASSES[max(CLASSES.index(side.kind) for _, side in sides)]
    lines = [f"every order of the writes to {k} closes a cycle ({tr} read {tw}'s {v}):"]
    for case, side in sides:
        lines.append(f"  {case} {side.kind}")
        lines.extend("    " + line for line in side.lines)
    return _Outcome("refuted", kind, tuple(lines), sum(side.size for _, side in sides))


def _worst(state: _State, h: _History, strict: bool) -> _Outcome:
    """The most severe cycle the state's edges close."""
    found = _Found()
    _cycles(state, h.txns, strict, defaultdict(set), found)
    if not found.by_kind:  # the elimination's edges always close one; the least severe name
        return _Outcome("refuted", CLASSES[-1 if strict else len(CYCLES) - 1], ("a cycle",))
    kind = min(found.by_kind, key=CLASSES.index)
    best = min(found.by_kind[kind], key=lambda a: a.size)
    return _Outcome("refuted", kind, best.lines, best.size)


def _cycles(
    state: _State,
    txns: dict[int, Txn],
    strict: bool,
    covered: dict[str, set[int]],
    found: _Found,
) -> None:
    """list-append's searches (`list_append.searches`): one cycle per kind and component."""
    graph = state.graph
    if not graph.components(WW | WR | RW | (RT if strict else 0)):
        return
    for mask, allowed, through in list_append.searches(strict):
        for comp in graph.components(mask):
            cycle = graph.shortest_cycle(comp, allowed, through)
            if cycle is None:
                continue
            kind = state.name(cycle)
            if any(u in covered[kind] for u, _, _ in cycle):
                continue
            covered[kind].update(comp)
            found.add(kind, *_explain(state, cycle, txns), size=len(cycle))


def _explain(
    state: _State, cycle: Sequence[tuple[int, int, int]], txns: dict[int, Txn]
) -> list[str]:
    lines = [f"a cycle of {len(cycle)} transactions:"]
    for u, v, kinds in cycle:
        lines.append("  " + txns[u].show())
        lines.append(f"    -> {_why(state, u, v, kinds & -kinds, txns)}")
    lines.append(f"  back to T{cycle[0][0]}")
    return lines


def _why(state: _State, u: int, v: int, bit: int, txns: dict[int, Txn]) -> str:
    """Why edge u -> v of kind `bit` is there."""
    a, b = txns[u], txns[v]
    fact = state.facts[(u, v, bit)][1]
    k, value = fact.key, _value(fact.value)
    if fact.how == "rt":
        return (
            f"rt: {a.label()} completed (line {int(a.ret)}) before {b.label()} was invoked "
            f"(line {int(b.call)})"
        )
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


def _open(pending: Sequence[Pair], h: _History) -> tuple[tuple[Hashable, ...], tuple[str, ...]]:
    """The keys whose versions' order was left open, and the first SHOWN pairs of them."""
    keys = list(dict.fromkeys([p[0] for p in pending] + list(h.skipped)))
    lines = []
    for k, r, w, v, o, ov in pending[:SHOWN]:
        tr, tw, to = (h.txns[i].label() for i in (r, w, o))
        lines.append(
            f"key {k}: {to}'s {ov} came before {tw}'s {v} or after {tr} read {v}; neither "
            "closes a cycle"
        )
    if h.skipped:
        lines.append(
            f"not eliminated (too large): {len(h.skipped)} keys, "
            + ", ".join(map(str, h.skipped[:SHOWN]))
            + (" .." if len(h.skipped) > SHOWN else "")
        )
    return tuple(keys), tuple(lines)


def _value(v: Hashable) -> str:
    return "null" if v is None else str(v)


def render(report: Report, name: str) -> str:
    """The report: a verdict line, then each kind of anomaly found with up to SHOWN explained, or
    the versions left unordered when undecided."""
    what = (
        f"rw-register, {report.txns:,} transactions on {report.keys:,} keys, "
        f"{report.edges:,} edges, {report.seconds:.2f} s"
    )
    unknown = f"unknown order on {len(report.open_keys)} keys"
    if report.open_keys:
        shown = ", ".join(map(str, report.open_keys[:SHOWN]))
        unknown += f" ({shown}{' ..' if len(report.open_keys) > SHOWN else ''})"
    consistency = report.consistency.replace("-", " ")
    if not report.anomalies:
        if report.order:
            return (
                f"{name}: {consistency} ({what}): no anomaly found; a serial order replays "
                "every read\n"
            )
        verdict = (
            "serializable, strict serializability undecided" if report.serializable else "undecided"
        )
        out = [
            f"{name}: {verdict} ({what}): no anomaly found, but {unknown}: "
            f"not proven {consistency}",
            "versions left unordered:",
            *("  " + line for line in report.undecided),
        ]
        return "\n".join(out) + "\n"
    kinds = ", ".join(f"{k} ({len(v)})" for k, v in report.anomalies.items())
    if report.serializable is False:
        verdict = "not serializable"
    elif report.serializable:
        verdict = "serializable but not strict serializable"
    else:
        verdict = f"not strict serializable, serializability undecided ({unknown})"
    out = [f"{name}: {verdict} ({what}): {kinds}"]
    for kind, found in report.anomalies.items():
        more = f" (the first {SHOWN} of {len(found)})" if len(found) > SHOWN else ""
        out.append(f"{kind}{more}:")
        for a in found[:SHOWN]:
            out.extend("  " + line for line in a.lines)
    return "\n".join(out) + "\n"


def read(path: str) -> tuple[str, list[Txn]]:
    name, evs = events.read(path)
    return name, parse(events.pair(evs, name, ("txn",)), name)


def run(path: str, options: Any) -> tuple[str, bool | None]:
    """`meshcheck history check --model rw-register`: the report, and whether the history holds
    (None: undecided)."""
    name, txns = read(path)
    if not txns:
        raise MeshcheckError(f"{name}: the history has no transactions: nothing to check")
    if not any(t.status == "ok" for t in txns):
        raise MeshcheckError(
            f"{name}: none of the history's {len(txns)} transactions committed (ok): "
            "nothing to check"
        )
    report = check(txns, options.consistency)
    return render(report, name), report.holds
