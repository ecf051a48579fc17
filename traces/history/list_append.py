"""Transactions of appends to lists and reads of them: is the history serializable, strict
serializable? In the line of Elle (Alvaro and Kingsbury, "Elle: Inferring Isolation Anomalies
from Experimental Observations", VLDB 2020), with Adya's anomalies ("Weak Consistency: A
Generalized Theory and Optimistic Implementations for Distributed Transactions", MIT, 1999).

A transaction is a list of micro-operations: `["append", k, v]` appends v to the list at key k,
`["r", k, l]` reads it (l the whole list; null when not known, except in a committed transaction,
where null is the empty list, as Jepsen writes it). Every value appended to a key is unique, so a
read names the transaction that wrote each element, and the longest read of a key
gives the order in which its values were installed (its version order); every other read of the
key must be a prefix of it (else: incompatible-order). From the version orders come the edges of
the dependency graph between transactions: ww (T2 appended the value right after T1's), wr (T2
read a list whose last element T1 appended), rw (T1 read a list without the value T2 appended
next, and without any committed append that no read shows: a list only grows at its end, so such
an append came after every read of its key); for strict serializability also rt (T1 completed
before T2 was invoked). A cycle is an anomaly, named by its edges, the weakest class first
(`anomalies.py`, `cycles.py`):

- G0: ww edges only (dirty writes); G1c: ww and wr (circular information flow);
- G-single: exactly one rw edge (read skew); G2: more than one (write skew and the like);
- the same with an rt edge: `-realtime` (serializable, not strict serializable).

Beside the cycles, per transaction: G1a (a read saw a value of a transaction that failed), G1b (a
read ended at a value its writer later overwrote with another append to the key in the same
transaction), internal (a read inside a transaction that does not reflect its own earlier reads
and appends, or shows a value it appends later), incompatible-order (also: a transaction's
appends shown in another order than it made them), duplicate-append (a value appended twice to a
key), duplicate-elements (a read with a value twice), garbage-read (a read of a value nobody
appended).

The model judged is any of consistency.py's lattice (`--consistency`): the searches add rt edges
for a real-time model, process order for a strong session one, and the history holds when no
anomaly found rules the model out (anomalies.py `Report.holds_under`).

Transactions that failed took no effect (only G1a looks at them); one whose outcome is unknown
(`info`) may have: its appends are placed when a read saw them (and once one is seen, it took
effect whole: its unseen appends order reads as a committed one's do), and it has no completion
time (no rt edge out of it). A history with no committed transaction has nothing to check.
"""

from __future__ import annotations

import functools
import math
import time
from collections import defaultdict
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any
from typing import cast

import attrs

from meshcheck.traces.history import alongside
from meshcheck.traces.history import anomalies
from meshcheck.traces.history import consistency as lattice
from meshcheck.traces.history import cycles
from meshcheck.traces.history import events
from meshcheck.traces.history import lost_update
from meshcheck.traces.history import reader
from meshcheck.traces.history import txn
from meshcheck.traces.history.cycles import RT
from meshcheck.traces.history.cycles import RW
from meshcheck.traces.history.cycles import WR
from meshcheck.traces.history.cycles import WW

# the names shared with rw-register (anomalies.py, txn.py), importable from here as before
CYCLES = anomalies.CYCLES
CONSISTENCY = anomalies.CONSISTENCY
SHOWN = anomalies.SHOWN
Anomaly = anomalies.Anomaly
Timed = txn.Timed
realtime = txn.realtime
classify = anomalies.classify
searches = anomalies.searches

SINGLE = (
    "G1a",
    "G1b",
    "internal",
    "future-read",
    "incompatible-order",
    "duplicate-append",
    "duplicate-elements",
    "garbage-read",
    "lost-update",
    "G-cursor",
)
KINDS = (*SINGLE, *anomalies.REPORTED)
# Elle's anomalies it searches for beside the cycles (consistency.py `searched`): its reads show
# each key's version order, so each is found when present (garbage reads and duplicate appends
# are Elle's cyclic-versions)
FINDS = (
    "G1a",
    "G1b",
    "internal",
    "future-read",
    "incompatible-order",
    "duplicate-elements",
    "cyclic-versions",
    "lost-update",
    "G-cursor",
)
# a list read longer than this is shown by its ends and its length
LONG = 8

Mop = txn.Mop  # ("append", key, value) or ("r", key, tuple of values or None)


@attrs.frozen(eq=False)
class Txn(txn.Txn):
    """A transaction of appends and reads of lists."""

    def part(self, f: str, k: Hashable, v: Any) -> str:
        if f == "append":
            return f"append {k} {v}"
        return f"r {k} " + ("?" if v is None else _list(v))


@attrs.frozen
class Report(anomalies.Report):
    """The anomalies found: the history holds when none of them rules out the model checked and
    the searches decide it (consistency.py `status`); None when a model it implies rules out an
    anomaly not searched, or it is one Elle gives no anomaly of its own."""

    def searched(self) -> frozenset[str]:
        return lattice.searched(FINDS, lattice.edges(self.consistency))

    @property
    def holds(self) -> bool | None:
        return self.status()[0]


def parse(calls: Sequence[events.Call], name: str) -> list[Txn]:
    """Transactions from paired events whose value is a list of micro-operations."""
    out: list[Txn] = []
    for c in calls:
        ok = c.status == "ok"
        mops = _well_formed(c.value, ok, c.invoked if ok else None)
        if mops is None:
            mops = txn.operations(c, name, _mops, _shape)  # the long way, naming what is wrong
            if ok:  # a committed read of null is of the empty list (Jepsen's nil)
                mops = tuple(
                    ("r", k, ()) if f == "r" and v is None else (f, k, v) for f, k, v in mops
                )
        out.append(Txn(c.index, c.process, mops, c.call, c.ret, c.status))
    return out


def _well_formed(
    value: Any,
    ok: bool,
    invoked: Any = None,
    chains: Reading | None = None,
) -> tuple[Mop, ...] | None:
    """The micro-operations of a value as `_mops` reads them (of an ok completion, with a read of
    null as the empty list), when it is well formed and holds keys and values of exactly int or
    str (as JSON and EDN give them), and `invoked`, the value of an ok completion's invocation
    when not null, is well formed as well and of the same shape (`_shape`: the functions and
    keys, in order); else None, and `_mops` tells what is wrong, or reads it. The common case,
    fast: no call per micro-operation, nor per element of a read, and one pass over both."""
    if type(value) is not list:
        return None
    paired = invoked is not None
    if paired and (type(invoked) is not list or len(invoked) != len(value)):
        return None
    scalars = txn.SCALARS.issuperset
    out: list[Mop] = []
    # i: m's invocation; m itself when not paired
    for m, i in zip(value, invoked if paired else value, strict=True):
        if type(m) is not list or len(m) != 3:
            return None
        f, k, v = m
        if type(k) is not int and type(k) is not str:
            return None
        # k is exactly an int or a str: equal and of its type, i[1] is a key as well
        if paired and (
            type(i) is not list
            or len(i) != 3
            or i[0] != f
            or i[1] != k
            or type(i[1]) is not type(k)
        ):
            return None
        if f == "append":
            if type(v) is not int and type(v) is not str:
                return None
            if paired and type(i[2]) is not int and type(i[2]) is not str:
                return None
            out.append(("append", k, v))
            continue
        if f != "r":
            return None
        if paired and i[2] is not None and not (type(i[2]) is list and scalars(map(type, i[2]))):
            return None
        if v is None:
            out.append(("r", k, () if ok else None))
        elif type(v) is list and scalars(map(type, v)):
            out.append(("r", k, tuple(v) if chains is None else chains.share(k, v)))
        else:
            return None
    return tuple(out)


@attrs.frozen
class Known:
    """What reading a file in one pass found on the way (`Reading`), which the check and the loss
    count then need not find again."""

    # per key whose committed reads are all prefixes of one: that one, the longest
    chains: dict[Hashable, tuple[Any, ...]]
    # per transaction (by index): those its invocation follows in real time, as few as keep every
    # precedence by transitivity (txn.realtime's frontier, found in the order of the lines)
    before: Sequence[tuple[int, ...]]
    # the committed transactions (by index) that touch a key more than once: in no other can a
    # read miss the transaction's own operations (`_internal`)
    repeats: set[int]


@attrs.define
class Reading:
    """A history as it is read in one pass (`_quick`): its committed reads per key (`share`), the
    longest so far and whether every one is a prefix of it, as a list that only grows is read;
    the real-time frontier at each invocation (kept by `_quick`: txn.realtime's, in the order of
    the lines)."""

    longest: dict[Hashable, tuple[Any, ...]] = attrs.Factory(dict)
    broken: set[Hashable] = attrs.Factory(set)  # the keys with a read that is not a prefix
    before: list[tuple[int, ...]] = attrs.Factory(list)  # by index
    repeats: set[int] = attrs.Factory(set)  # `Known.repeats`
    frontier: set[int] = attrs.Factory(set)  # the committed transactions none is known to follow

    def known(self) -> Known:
        return Known(self.whole(), self.before, self.repeats)

    def share(self, k: Hashable, v: list[Any]) -> tuple[Any, ...]:
        """`tuple(v)`, a read of k, made of the elements of the longest read of k so far, when one
        is a prefix of the other, as the reads of a key are in a valid history; else k is broken.
        The reads of a history read from a file then hold each value once, as a checker's caller
        builds them, not once for each read that shows it (100,000 transactions: 3.8 million
        elements, 125,000 values), in a quarter less memory."""
        t = tuple(v)
        longest = self.longest
        seen = longest.get(k)
        if seen is None:
            longest[k] = t
            return t
        n = len(t)
        if n <= len(seen):
            prefix = seen[:n]
            if prefix == t:
                return prefix
        elif t[: len(seen)] == seen:
            t = seen + t[len(seen) :]
            longest[k] = t
            return t
        self.broken.add(k)
        return t

    def whole(self) -> dict[Hashable, tuple[Any, ...]]:
        """Per key no read broke: the longest read, every committed read of the key a prefix of it
        (the check and the loss count then compare no read with it again)."""
        broken = self.broken
        return {k: t for k, t in self.longest.items() if k not in broken}


def _shape(m: Mop) -> tuple[Hashable, ...]:
    return m[:2]  # an ok completion fills in the values read


def _mops(value: Any, c: events.Call, name: str) -> tuple[Mop, ...]:
    out: list[Mop] = []
    for m in txn.triples(value, c, name, ("append", "r"), '["append", k, v] or ["r", k, list]'):
        f, k, v = m
        if f == "append":
            if not txn.scalar(v):
                raise c.event.bad(name, "value", f"an appended value is a number or a string: {m}")
            out.append(("append", k, v))
        elif v is None:
            out.append(("r", k, None))
        elif isinstance(v, list) and (
            txn.SCALARS.issuperset(map(type, v)) or all(map(txn.scalar, v))
        ):
            out.append(("r", k, tuple(v)))
        else:
            raise c.event.bad(name, "value", f"a read's value is a list or null: {m}")
    return tuple(out)


def check(
    txns: Sequence[Txn],
    consistency: str = "strict-serializable",
    known: Known | None = None,
) -> Report:
    """Every anomaly of the history (see the module's docstring) the searches `consistency` (a
    model of consistency.py's lattice) asks for find: with rt edges for a real-time model, with
    process order for a strong session one. `known`: what reading the transactions found
    (`_read`), not found again."""
    with reader.bulk():  # the maps of a large history: no cycle among them
        return _check(txns, consistency, known)


def _check(txns: Sequence[Txn], consistency: str, known: Known | None) -> Report:
    start = time.monotonic()
    found = anomalies.Found()
    by_index = {t.index: t for t in txns}
    # (key, value) -> (writer, is its last append to the key)
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]] = {}
    aborted: dict[tuple[Hashable, Hashable], Txn] = {}
    written: dict[Hashable, set[Hashable]] = defaultdict(set)  # key -> values appended
    position: dict[tuple[Hashable, Hashable], int] = {}  # (key, value) -> when appended
    for t in txns:
        last = t.last("append")
        for k, v in t.writes("append"):
            if t.status == "fail":
                aborted[(k, v)] = t
                continue
            if (k, v) in writer:
                other = writer[(k, v)][0]
                found.add(
                    "duplicate-append",
                    f"{v} appended to {k} twice: by {other.label()} and {t.label()}",
                    other.show(),
                    t.show(),
                )
                continue
            writer[(k, v)] = (t, last[k] == v)
            position[(k, v)] = len(written[k])  # the writer's appends to k keep this order
            written[k].add(v)
    ok = [t for t in txns if t.status == "ok"]
    repeats = None if known is None else known.repeats
    for t in ok:
        if repeats is None or t.index in repeats:
            _internal(t, found)
    lost_update.find(ok, "append", found, lambda v: "?" if v is None else _list(v))
    chains = {} if known is None else known.chains
    # the keys whose reads are all prefixes of one (`chains`) that shows each value once, appended:
    # so does each of those reads
    clean = {k for k, c in chains.items() if len(set(c)) == len(c) and written[k].issuperset(c)}
    # the reads of committed transactions, each without the values the reader appended itself
    reads: dict[Hashable, list[tuple[Txn, tuple[Hashable, ...]]]] = defaultdict(list)
    for t in ok:
        for f, k, v in t.mops:
            if f == "r" and v is not None:
                if k not in clean:
                    _elements(t, k, v, writer, aborted, found, written[k])
                reads[k].append((t, v))
    orders: dict[Hashable, tuple[Hashable, ...]] = {}
    for k, rs in reads.items():
        if k in chains:  # every read a prefix of this one, the longest
            orders[k] = chains[k]
            continue
        longest_t, longest = max(rs, key=lambda p: (len(p[1]), -p[0].index))
        orders[k] = longest
        for t, r in rs:
            if longest[: len(r)] != r:
                found.add(
                    "incompatible-order",
                    f"key {k}: {t.label()} read {_list(r)}, not a prefix of "
                    f"{longest_t.label()}'s {_list(longest)}",
                    t.show(),
                    longest_t.show(),
                )
    for k, order in orders.items():
        _own_order(k, order, writer, position, found)
    unseen = _unseen(orders, writer, reads)
    # only a transaction that touches a key twice (reads it, then appends to it) can close one
    twice = ok if repeats is None else [t for t in ok if t.index in repeats]
    _cursor(twice, orders, writer, unseen, found)
    graph = cycles.Graph(len(txns) and max(t.index for t in txns) + 1)
    # what each edge rests on, (key, values), worded only for the cycles printed (`_why`)
    why: dict[tuple[int, int, int], tuple[Hashable, ...]] = {}
    for k, order in orders.items():
        prev: tuple[Txn, Hashable] | None = None
        for v in order:
            w = writer.get((k, v))
            if w is None:
                prev = None
                continue
            if prev is not None and prev[0] is not w[0]:
                a = prev[0]
                graph.add(a.index, w[0].index, WW)
                why.setdefault((a.index, w[0].index, WW), (k, prev[1], v))
            prev = (w[0], v)
        tail = writer.get((k, order[-1])) if order else None
        for v, later in unseen.get(k, ()):  # installed after the whole observed order
            if tail is not None and tail[0] is not later:
                graph.add(tail[0].index, later.index, WW)
                why.setdefault((tail[0].index, later.index, WW), (k, order[-1], v, "later"))
    for k, rs in reads.items():
        order = orders[k]
        prefixes = k in chains
        for t, r in rs:
            if not prefixes and order[: len(r)] != r:
                continue
            n = len(r)
            while n and writer.get((k, r[n - 1]), (None,))[0] is t:
                n -= 1  # the reader's own appends
            if n:
                w = writer.get((k, r[n - 1]))
                if w is not None and w[0] is not t:
                    graph.add(w[0].index, t.index, WR)
                    why.setdefault((w[0].index, t.index, WR), (k, r[n - 1]))
                    if not w[1]:
                        found.add(
                            "G1b",
                            f"{t.label()} read {k} up to {r[n - 1]}, which {w[0].label()} "
                            f"overwrote with a later append to {k}",
                            w[0].show(),
                            t.show(),
                        )
            if n < len(order):
                w = writer.get((k, order[n]))
                if w is not None and w[0] is not t:
                    graph.add(t.index, w[0].index, RW)
                    why.setdefault((t.index, w[0].index, RW), (k, order[n]))
            for v, later in unseen.get(k, ()):
                graph.add(t.index, later.index, RW)
                why.setdefault((t.index, later.index, RW), (k, v, "later"))
    extra = lattice.edges(consistency)
    strict = extra is not None
    if extra == lattice.PROCESS_EDGES:
        txn.process_order(txns, lambda i: by_index[i].process, graph)
    elif strict and known is None:
        realtime(txns, graph)
    elif strict and known is not None:  # the frontiers `realtime` finds, found: the same edges
        before = known.before
        for t in txns:
            if t.status != "fail":
                for u in before[t.index]:
                    graph.add(u, t.index, RT)
    explain = functools.partial(_explain, by_index, why)
    anomalies.search(graph, strict, classify, explain, defaultdict(set), found)
    if extra == lattice.PROCESS_EDGES:
        found.as_process()
    edges = sum(len(s) for s in graph.succ)
    seconds = time.monotonic() - start
    return Report(consistency, len(txns), txn.keys(txns), edges, seconds, found.ordered(KINDS))


def _own_order(
    k: Hashable,
    order: tuple[Hashable, ...],
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]],
    position: dict[tuple[Hashable, Hashable], int],
    found: anomalies.Found,
) -> None:
    """A transaction's appends to a key are installed in the order it made them: a read that
    shows them in another order is incompatible with it (interleaved with another transaction's,
    they make a ww cycle instead)."""
    last: dict[Txn, tuple[int, Hashable]] = {}
    for v in order:
        w = writer.get((k, v))
        if w is None:
            continue
        t, at = w[0], position[(k, v)]
        if t in last and last[t][0] > at:
            found.add(
                "incompatible-order",
                f"key {k}: {_list(order)} shows {v} after {last[t][1]}, which "
                f"{t.label()} appended after it",
                t.show(),
            )
            return
        last[t] = (at, v)


def _cursor(
    ok: Sequence[Txn],
    orders: dict[Hashable, tuple[Hashable, ...]],
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]],
    unseen: dict[Hashable, list[tuple[Hashable, Txn]]],
    found: anomalies.Found,
) -> None:
    """G-cursor (Adya's PL-CS): a cycle of one rw edge and ww edges, all on one key. A
    transaction read a key first (a prefix of its version order), another's append came next, and
    the reader's own append to the key came after that: the reader -rw-> the next writer -ww->
    .. -ww-> the reader."""
    for t in ok:
        if len({k for _, k, _ in t.mops}) == len(t.mops):
            continue  # each key once: no read then append of one
        first: dict[Hashable, Any] = {}
        mine: dict[Hashable, list[Hashable]] = defaultdict(list)
        for f, k, v in t.mops:
            first.setdefault(k, (f, v))
            if f == "append":
                mine[k].append(v)
        for k, (f, r) in first.items():
            order = orders.get(k)
            if f != "r" or r is None or not mine[k] or order is None:
                continue
            n = len(r)
            if n >= len(order) or order[:n] != tuple(r):
                continue
            nxt = writer.get((k, order[n]))
            if nxt is None or nxt[0] is t:
                continue
            later = {v for v, w in unseen.get(k, ()) if w is t}
            later.update(v for v in order[n + 1 :] if writer.get((k, v), (None,))[0] is t)
            if later:
                v = next(v for v in mine[k] if v in later)
                found.add(
                    "G-cursor",
                    f"{t.label()} read {k} as {_list(r)}; {nxt[0].label()} appended {order[n]} "
                    f"next, and {t.label()}'s append of {v} came after it",
                    nxt[0].show(),
                    t.show(),
                    size=2,
                )


def _unseen(
    orders: dict[Hashable, tuple[Hashable, ...]],
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]],
    reads: dict[Hashable, list[tuple[Txn, tuple[Hashable, ...]]]],
) -> dict[Hashable, list[tuple[Hashable, Txn]]]:
    """Per read key, the committed appends no read shows, with their writers. A list only grows at
    its end, so such an append was installed after every value of the longest read: every read of
    the key precedes it (an rw edge from each reader; Elle derives the same). Committed: ok, or
    info with an append some read shows (it took effect, and so did all of it)."""
    shown = {k: set(order) for k, order in orders.items()}
    took_effect = {writer[(k, v)][0] for k, vs in shown.items() for v in vs if (k, v) in writer}
    out: dict[Hashable, list[tuple[Hashable, Txn]]] = defaultdict(list)
    for (k, v), (t, _) in writer.items():
        if k in reads and v not in shown[k] and (t.status == "ok" or t in took_effect):
            out[k].append((v, t))
    return out


def _list(r: Sequence[Hashable]) -> str:
    """A list as read; a long one by its ends and length (`[1 2 3 .. 8 9 10] (40 values)`)."""
    if len(r) <= LONG:
        return "[" + " ".join(map(str, r)) + "]"
    ends = " ".join(map(str, r[:3])) + " .. " + " ".join(map(str, r[-3:]))
    return f"[{ends}] ({len(r)} values)"


def _internal(t: Txn, found: anomalies.Found) -> None:
    """A read must show the transaction's own earlier reads and appends of the key, and none of
    the values it appends later."""
    later: dict[Hashable, set[Hashable]] = defaultdict(set)  # key -> values appended after here
    for f, k, v in reversed(t.mops):
        if f == "append":
            later[k].add(v)
        elif v is not None and later[k] and not later[k].isdisjoint(v):
            early = next(x for x in v if x in later[k])
            found.add(
                "future-read",
                f"{t.label()} read {k} as {_list(v)}, with {early}, which it appends later",
                t.show(),
            )
    touched: set[Hashable] = set()
    for _, k, _ in t.mops:
        if k in touched:
            break
        touched.add(k)
    else:
        return  # each key once: nothing of its own to see
    known: dict[Hashable, tuple[Hashable, ...] | None] = {}
    appended: dict[Hashable, list[Hashable]] = defaultdict(list)
    for f, k, v in t.mops:
        if f == "append":
            appended[k].append(v)
            continue
        if v is None:
            known[k] = None
            appended[k] = []
            continue
        before, mine = known.get(k), appended[k]
        expected = None if before is None else (*before, *mine)
        if (expected is not None and v != expected) or (
            expected is None and mine and v[len(v) - len(mine) :] != tuple(mine)
        ):
            want = _list(expected) if expected is not None else f"a list ending {_list(mine)}"
            found.add(
                "internal",
                f"{t.label()} read {k} as {_list(v)}, expected {want} from its own operations",
                t.show(),
            )
        known[k] = v
        appended[k] = []


def _elements(
    t: Txn,
    k: Hashable,
    r: tuple[Hashable, ...],
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]],
    aborted: dict[tuple[Hashable, Hashable], Txn],
    found: anomalies.Found,
    written: set[Hashable],
) -> None:
    distinct = set(r)
    if len(distinct) == len(r) and distinct <= written:
        return  # the common case, in C
    if len(distinct) != len(r):
        dup = next(v for v in r if r.count(v) > 1)
        found.add("duplicate-elements", f"{t.label()} read {k} with {dup} twice", t.show())
    for v in r:
        if (k, v) not in writer:
            anomalies.unwritten(found, t, aborted.get((k, v)), f"{v} in {k}", "appended")


def _explain(
    txns: dict[int, Txn],
    why: dict[tuple[int, int, int], tuple[Hashable, ...]],
    cycle: anomalies.Cycle,
) -> list[str]:
    return anomalies.explain(
        cycle, txns, lambda u, v, bit: _why(bit, txns[u], txns[v], why[(u, v, bit)])
    )


def _why(kind: int, a: Txn, b: Txn, facts: tuple[Hashable, ...]) -> str:
    """Why edge a -> b of `kind` is there, from the key and values it rests on."""
    if kind == WW:
        k, before, after, *unseen = facts
        if unseen:  # an append no read shows: after the whole observed order, not right after
            return f"ww {k}: {b.label()} appended {after} after {a.label()}'s {before} (no read shows it)"
        return f"ww {k}: {b.label()} appended {after} right after {a.label()}'s {before}"
    if kind == WR:
        k, last = facts
        return f"wr {k}: {b.label()} read {k} up to {last}, which {a.label()} appended"
    k, following, *unseen = facts  # an append no read shows came later, not next
    when = "later (no read shows it)" if unseen else "next"
    return f"rw {k}: {a.label()} read {k} without {following}, which {b.label()} appended {when}"


def render(report: Report, name: str) -> str:
    """The report: a verdict line, then each kind of anomaly found with up to SHOWN explained."""
    what = report.what("list-append")
    model = report.consistency.replace("-", " ")
    if not report.anomalies:
        holds, why = report.status()
        said = f"{model} ({what}): no anomaly found"
        if holds is None:
            said = f"{model} not decided ({what}): no anomaly found, but {why}"
        return f"{name}: {said}\n" + "".join(line + "\n" for line in report.models())
    return report.text(name, verdict(report), "list-append")


def verdict(report: anomalies.Report) -> str:
    """The verdict line's words on a history with anomalies: as ever for strict serializability
    and serializability; for another model, whether the anomalies rule it out."""
    model = report.consistency.replace("-", " ")
    if report.consistency == "strict-serializable":
        serial = all(k.endswith("-realtime") for k in report.anomalies)
        return "serializable but not strict serializable" if serial else "not serializable"
    if report.consistency == "serializable":
        return "not serializable"
    holds, why = report.status()
    if holds:
        return f"{model} holds, with anomalies it allows"
    if holds is None:
        return f"{model} not decided: {why}, with anomalies it allows"
    return f"not {model}"


def read(path: str) -> tuple[str, list[Txn]]:
    """The file's name and its transactions (`txn.read`, `parse`): a history of well-formed
    transactions, each event with its process, in one pass (`_quick`); any other the long way,
    which names the first thing wrong."""
    with reader.bulk():  # left once the events are freed: the collector then sees none of them
        name, txns, _ = _read(path)
        return name, txns


def _read(path: str) -> tuple[str, list[Txn], Known | None]:
    """`read`, with what the reading found on the way when it read the file in one pass."""
    name = str(path)
    plain = reader.plain(path)
    if plain is not None:
        reading = Reading()
        try:
            # orjson's integers beyond 64 bits are floats: _quick refuses them, then `reader.read`
            txns = _quick(plain, reading)
        except reader.Irregular:
            txns = None
        if txns is not None:
            return name, txns, reading.known()
    objects = list(reader.read(path))
    reading = Reading()
    txns = _quick(objects, reading)
    if txns is not None:
        return name, txns, reading.known()
    evs = [events.Event(line, fields) for line, fields in objects]
    return name, parse(events.pair(evs, name, ("txn",)), name), None


def _quick(
    objects: Iterable[tuple[float, dict[str, Any]]], reading: Reading | None = None
) -> list[Txn] | None:
    """`parse(events.pair(...))` of the events, each with its time, when every one is of a process
    (a number or a name, exactly int or str) with a "txn" operation, pairs as `events.pair` pairs
    them, holds well-formed micro-operations (`_well_formed`), and each event comes later than the
    one before (as lines do; EDN events sharing a line go the long way); else None. The same
    transactions in the same order, without an Event or a Call for each, nor a sort: a
    transaction's index is its invocation's place; what it finds on the way in `reading`."""
    if reading is None:
        reading = Reading()
    # process -> its transaction's index, its invocation's time and value
    running: dict[int | str, tuple[int, float, Any]] = {}
    slots: list[Txn | None] = []  # the transactions by index, each filled in at its completion
    last = -math.inf  # the time of the last event
    before, frontier, repeats = reading.before, reading.frontier, reading.repeats
    for line, fields in objects:
        process = fields.get("process")
        if type(process) is not int and type(process) is not str:
            return None  # missing, or of another type: the long way
        if process == "nemesis":
            continue
        f = fields.get("f")
        if type(f) is not str or f != "txn":
            return None
        if line <= last:  # at one time, invocations first: the order of the lines is not enough
            return None
        last = line
        kind = fields.get("type")
        if kind == "invoke":
            if process in running:
                return None
            running[process] = (len(slots), line, fields.get("value"))
            slots.append(None)
            before.append(tuple(frontier))  # it follows those in real time
            continue
        if (kind != "ok" and kind != "fail" and kind != "info") or process not in running:
            return None
        i, call, invoked = running.pop(process)
        ok = kind == "ok"
        mops = (
            _well_formed(fields.get("value"), True, invoked, reading)
            if ok
            else _well_formed(invoked, False)
        )
        if mops is None:
            return None
        slots[i] = Txn(i, process, mops, call, math.inf if kind == "info" else line, kind)
        if ok:  # it follows what it followed, and the next invocations follow it
            frontier.difference_update(before[i])
            frontier.add(i)
            if len(mops) > 1 and len({m[1] for m in mops}) != len(mops):
                repeats.add(i)
    for process, (i, call, invoked) in running.items():
        mops = _well_formed(invoked, False)
        if mops is None:
            return None
        slots[i] = Txn(i, process, mops, call, math.inf, "info")
    return cast("list[Txn]", slots)  # every invocation completed or left pending: all filled


def run(path: str, options: Any) -> tuple[str, bool | None]:
    """`meshcheck history check --model list-append`: the report and whether the history holds."""
    with reader.bulk():  # left once the transactions are freed: the collector never sees them
        return _run(path, options)


def _run(path: str, options: Any) -> tuple[str, bool | None]:
    with reader.bulk():  # left once the events are freed: the collector then sees none of them
        name, txns, known = _read(path)
    txn.committed(name, txns)
    # what was lost, beside the anomalies (losses_append.py, which imports this module): counted
    # at the same time in a child process, for a large history (alongside.py)
    from meshcheck.traces.history import losses_append

    chains = None if known is None else known.chains
    report, account = alongside.alongside(
        lambda: check(txns, options.consistency, known),
        lambda: losses_append.render(losses_append.count(txns, chains)),
        size=len(txns),
    )
    return render(report, name) + account, report.holds
