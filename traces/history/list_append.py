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
(`cycles.py`):

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

Transactions that failed took no effect (only G1a looks at them); one whose outcome is unknown
(`info`) may have: its appends are placed when a read saw them (and once one is seen, it took
effect whole: its unseen appends order reads as a committed one's do), and it has no completion
time (no rt edge out of it). A history with no committed transaction has nothing to check.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import cycles, events
from meshcheck.traces.history.cycles import RT, RW, WR, WW

# anomalies that serializability rules out (and so strict serializability); `-realtime` cycles
# only strict serializability
CYCLES = ("G0", "G1c", "G-single", "G2")
SINGLE = (
    "G1a",
    "G1b",
    "internal",
    "incompatible-order",
    "duplicate-append",
    "duplicate-elements",
    "garbage-read",
)
KINDS = (*SINGLE, *CYCLES, *(f"{c}-realtime" for c in CYCLES))
CONSISTENCY = ("strict-serializable", "serializable")
# anomalies of a kind printed in full, at most
SHOWN = 3
# a list read longer than this is shown by its ends and its length
LONG = 8

Mop = tuple[str, Hashable, Any]  # ("append", key, value) or ("r", key, tuple of values or None)


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
            if f == "append":
                parts.append(f"append {k} {v}")
            else:
                parts.append(f"r {k} " + ("?" if v is None else _list(v)))
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

    @property
    def holds(self) -> bool:
        return not self.anomalies


def parse(calls: Sequence[events.Call], name: str) -> list[Txn]:
    """Transactions from paired events whose value is a list of micro-operations."""
    out: list[Txn] = []
    for c in calls:
        mops = _mops(c.value, c, name)
        if c.status == "ok" and c.invoked is not None:
            before = _mops(c.invoked, c, name)
            if [(f, k) for f, k, _ in before] != [(f, k) for f, k, _ in mops]:
                raise c.event.bad(
                    name, "value", "the completion's micro-operations differ from the invocation's"
                )
        if c.status == "ok":  # a committed read of null is of the empty list (Jepsen's nil)
            mops = tuple(("r", k, ()) if f == "r" and v is None else (f, k, v) for f, k, v in mops)
        out.append(Txn(c.index, c.process, mops, c.call, c.ret, c.status))
    return out


def _mops(value: Any, c: events.Call, name: str) -> tuple[Mop, ...]:
    if not isinstance(value, list):
        raise c.event.bad(name, "value", "expected a list of micro-operations [f, key, value]")
    out: list[Mop] = []
    for m in value:
        if not (isinstance(m, list) and len(m) == 3 and m[0] in ("append", "r")):
            raise c.event.bad(name, "value", f'expected ["append", k, v] or ["r", k, list]: {m}')
        f, k, v = m
        if isinstance(k, bool) or not isinstance(k, int | str):
            raise c.event.bad(name, "value", f"a key is a number or a string: {m}")
        if f == "append":
            if isinstance(v, bool) or not isinstance(v, int | str):
                raise c.event.bad(name, "value", f"an appended value is a number or a string: {m}")
            out.append(("append", k, v))
        elif v is None:
            out.append(("r", k, None))
        elif isinstance(v, list) and all(
            isinstance(x, int | str) and not isinstance(x, bool) for x in v
        ):
            out.append(("r", k, tuple(v)))
        else:
            raise c.event.bad(name, "value", f"a read's value is a list or null: {m}")
    return tuple(out)


class _Found:
    def __init__(self) -> None:
        self.by_kind: dict[str, list[Anomaly]] = defaultdict(list)

    def add(self, kind: str, *lines: str, size: int = 1) -> None:
        self.by_kind[kind].append(Anomaly(kind, tuple(lines), size))


def check(txns: Sequence[Txn], consistency: str = "strict-serializable") -> Report:
    """Every anomaly of the history (see the module's docstring) that `consistency` rules out."""
    start = time.monotonic()
    found = _Found()
    by_index = {t.index: t for t in txns}
    # (key, value) -> (writer, is its last append to the key)
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]] = {}
    aborted: dict[tuple[Hashable, Hashable], Txn] = {}
    written: dict[Hashable, set[Hashable]] = defaultdict(set)  # key -> values appended
    position: dict[tuple[Hashable, Hashable], int] = {}  # (key, value) -> when appended
    for t in txns:
        last: dict[Hashable, Hashable] = {}
        for f, k, v in t.mops:
            if f == "append":
                last[k] = v
        for f, k, v in t.mops:
            if f != "append":
                continue
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
    for t in ok:
        _internal(t, found)
    # the reads of committed transactions, each without the values the reader appended itself
    reads: dict[Hashable, list[tuple[Txn, tuple[Hashable, ...]]]] = defaultdict(list)
    for t in ok:
        for f, k, v in t.mops:
            if f == "r" and v is not None:
                _elements(t, k, v, writer, aborted, found, written[k])
                reads[k].append((t, v))
    orders: dict[Hashable, tuple[Hashable, ...]] = {}
    for k, rs in reads.items():
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
        for t, r in rs:
            if order[: len(r)] != r:
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
    strict = consistency == "strict-serializable"
    if strict:
        realtime(txns, graph)
    _cycles(graph, by_index, why, strict, found)
    keys = {k for t in txns for _, k, _ in t.mops}
    edges = sum(len(s) for s in graph.succ)
    anomalies = {
        kind: sorted(found.by_kind[kind], key=lambda a: a.size)
        for kind in KINDS
        if found.by_kind.get(kind)
    }
    return Report(consistency, len(txns), len(keys), edges, time.monotonic() - start, anomalies)


def _own_order(
    k: Hashable,
    order: tuple[Hashable, ...],
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]],
    position: dict[tuple[Hashable, Hashable], int],
    found: _Found,
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


def _internal(t: Txn, found: _Found) -> None:
    """A read must show the transaction's own earlier reads and appends of the key, and none of
    the values it appends later."""
    later: dict[Hashable, set[Hashable]] = defaultdict(set)  # key -> values appended after here
    for f, k, v in reversed(t.mops):
        if f == "append":
            later[k].add(v)
        elif v is not None and later[k] and not later[k].isdisjoint(v):
            early = next(x for x in v if x in later[k])
            found.add(
                "internal",
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
    found: _Found,
    written: set[Hashable],
) -> None:
    distinct = set(r)
    if len(distinct) == len(r) and distinct <= written:
        return  # the common case, in C
    if len(distinct) != len(r):
        dup = next(v for v in r if r.count(v) > 1)
        found.add("duplicate-elements", f"{t.label()} read {k} with {dup} twice", t.show())
    for v in r:
        if (k, v) in writer:
            continue
        if (k, v) in aborted:
            a = aborted[(k, v)]
            found.add(
                "G1a",
                f"{t.label()} read {v} in {k}, which {a.label()} appended and failed",
                a.show(),
                t.show(),
            )
        else:
            found.add(
                "garbage-read", f"{t.label()} read {v} in {k}, which nobody appended", t.show()
            )


class Timed(Protocol):
    """What rt edges are drawn from: a transaction of list-append's or rw-register's."""

    @property
    def index(self) -> int: ...
    @property
    def call(self) -> float: ...
    @property
    def ret(self) -> float: ...
    @property
    def status(self) -> str: ...


def realtime(txns: Sequence[Timed], graph: cycles.Graph) -> None:
    """rt edges, as few as keep every real-time precedence by transitivity: at an invocation, from
    each completed transaction no completed transaction is known to follow (the frontier)."""
    marks: list[tuple[float, int, int]] = []
    for t in txns:
        if t.status == "fail":
            continue
        marks.append((t.call, 0, t.index))
        if t.status == "ok" and t.ret != math.inf:
            marks.append((t.ret, 1, t.index))
    marks.sort()  # at one time, invocations first: a precedes b when a.ret < b.call
    frontier: set[int] = set()
    before: dict[int, tuple[int, ...]] = {}
    for _, kind, i in marks:
        if kind == 0:
            before[i] = tuple(frontier)
            for a in frontier:
                graph.add(a, i, RT)
        else:
            frontier.difference_update(before.get(i, ()))
            frontier.add(i)


def classify(cycle: Sequence[tuple[int, int, int]]) -> str:
    rw = cycles.count(cycle, RW)
    wr = cycles.count(cycle, WR)
    base = "G0" if rw == 0 and wr == 0 else "G1c" if rw == 0 else "G-single" if rw == 1 else "G2"
    return base + ("-realtime" if cycles.count(cycle, RT) else "")


def _cycles(
    graph: cycles.Graph,
    txns: dict[int, Txn],
    why: dict[tuple[int, int, int], tuple[Hashable, ...]],
    strict: bool,
    found: _Found,
) -> None:
    everything = WW | WR | RW | (RT if strict else 0)
    if not graph.components(everything):
        return
    # per kind, the components a cycle of it was reported from: one cycle per kind and component
    covered: dict[str, set[int]] = defaultdict(set)
    for mask, allowed, through in searches(strict):
        for comp in graph.components(mask):
            cycle = graph.shortest_cycle(comp, allowed, through)
            if cycle is None:
                continue
            kind = classify(cycle)
            if any(u in covered[kind] for u, _, _ in cycle):
                continue
            covered[kind].update(comp)
            found.add(kind, *_explain(cycle, txns, why), size=len(cycle))


def searches(strict: bool) -> list[tuple[int, int, int]]:
    """The cycle searches, weakest class first (Elle's order), each with the rt edges beside it
    when strict, so that a cycle is reported under the weakest class that has one in its
    component: (kinds of the components' edges, kinds a cycle may take, kind it goes through)."""
    everything = WW | WR | RW | (RT if strict else 0)
    found = [(WW, WW, WW), (WW | WR, WW | WR, WR), (WW | WR | RW, WW | WR, RW)]
    found.append((WW | WR | RW, WW | WR | RW, RW))
    if strict:
        found += [
            (WW | RT, WW | RT, RT),
            (WW | WR | RT, WW | WR | RT, RT),
            (everything, WW | WR | RT, RW),
            (everything, everything, RT),
        ]
    return found


def _explain(
    cycle: Sequence[tuple[int, int, int]],
    txns: dict[int, Txn],
    why: dict[tuple[int, int, int], tuple[Hashable, ...]],
) -> list[str]:
    lines = [f"a cycle of {len(cycle)} transactions:"]
    for u, v, kinds in cycle:
        lines.append("  " + txns[u].show())
        kind_bit = kinds & -kinds  # the weakest kind of the edge
        if kind_bit == RT:
            a, b = txns[u], txns[v]
            text = f"rt: {a.label()} completed (line {int(a.ret)}) before {b.label()} was invoked"
            text += f" (line {int(b.call)})"
        else:
            text = _why(kind_bit, txns[u], txns[v], why[(u, v, kind_bit)])
        lines.append(f"    -> {text}")
    lines.append(f"  back to T{cycle[0][0]}")
    return lines


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
    what = (
        f"list-append, {report.txns:,} transactions on {report.keys:,} keys, "
        f"{report.edges:,} edges, {report.seconds:.2f} s"
    )
    if report.holds:
        return f"{name}: {report.consistency.replace('-', ' ')} ({what}): no anomaly found\n"
    kinds = ", ".join(f"{k} ({len(v)})" for k, v in report.anomalies.items())
    serial = all(k.endswith("-realtime") for k in report.anomalies)
    verdict = "serializable but not strict serializable" if serial else "not serializable"
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


def run(path: str, options: Any) -> tuple[str, bool]:
    """`meshcheck history check --model list-append`: the report and whether the history holds."""
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
