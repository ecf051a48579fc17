"""rw-register's transactions (traces/history/rw_register.py), read from a history, and what its
dependency graph is built from: the transactions that took effect, their external reads and
writes, the edges that hold without elimination and the pairs left to eliminate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.traces.history import anomalies
from meshcheck.traces.history import events
from meshcheck.traces.history import rw_keys
from meshcheck.traces.history import txn
from meshcheck.traces.history.cycles import RW
from meshcheck.traces.history.cycles import WR
from meshcheck.traces.history.cycles import WW
from meshcheck.traces.history.rw_edges import Fact
from meshcheck.traces.history.rw_edges import shown
from meshcheck.traces.history.rw_elimination import Pair

# the elimination runs on histories of up to this many transactions that took effect (its
# reachability is a bit set per transaction) and on up to PAIRS (read, other writer) pairs
ELIMINATED = 10_000
PAIRS = 1_000_000
# the search of every way to order what the elimination left open (rw_order.py, `branch`): on
# histories of up to SEARCHED transactions that took effect
SEARCHED = 300

Mop = tuple[str, Hashable, Hashable]  # ("w", key, value) or ("r", key, value or None)


@attrs.frozen(eq=False)
class Txn(txn.Txn):
    """A transaction of writes and reads of registers (a read's value is known once it is ok)."""

    def part(self, f: str, k: Hashable, v: Any) -> str:
        if f == "w":
            return f"w {k} {v}"
        return f"r {k} " + (shown(v) if self.status == "ok" else "?")


def parse(calls: Sequence[events.Call], name: str) -> list[Txn]:
    """Transactions from paired events whose value is a list of micro-operations."""
    return [
        Txn(c.index, c.process, txn.operations(c, name, _mops, _shape), c.call, c.ret, c.status)
        for c in calls
    ]


def _shape(m: Mop) -> tuple[Hashable, ...]:
    f, k, v = m
    return (f, k, v) if f == "w" else (f, k)


def _mops(value: Any, c: events.Call, name: str) -> tuple[Mop, ...]:
    out: list[Mop] = []
    for m in txn.triples(value, c, name, ("w", "r"), '["w", k, v] or ["r", k, v]'):
        f, k, v = m
        if type(v) not in txn.SCALARS:  # (an int or a str is either: the common case, in C)
            if f == "w" and not txn.scalar(v):
                raise c.event.bad(name, "value", f"a written value is a number or a string: {m}")
            if f == "r" and v is not None and not txn.scalar(v):
                raise c.event.bad(
                    name, "value", f"a read's value is a number, a string or null: {m}"
                )
        out.append((f, k, v))
    return tuple(out)


@attrs.frozen
class History:
    """What the graph is built from: the transactions that took effect (`nodes`), their external
    reads that name a version (or null) and their external writes, and the pairs to eliminate."""

    txns: dict[int, Txn]
    nodes: tuple[int, ...]
    reads: dict[int, dict[Hashable, Hashable]]
    writes: dict[int, dict[Hashable, Hashable]]
    pairs: tuple[Pair, ...]
    exact: bool  # every pair is in `pairs`, and the history is small enough to search
    skipped: tuple[Hashable, ...]  # keys whose pairs were left out


def build(
    txns: Sequence[Txn], found: anomalies.Found, keys: Sequence[str] = (), follows: bool = True
) -> tuple[History, list[tuple[int, int, int, Fact]]]:
    """The per-transaction anomalies, the transactions that took effect, and the edges that need
    no elimination: wr, rw from reads of null, those of writes following reads (when `follows`:
    rw_keys.WFR), and those of the version orders Elle's options `keys` assume (rw_keys.py)."""
    # (key, value) -> its writer, and whether it is the writer's last write to the key
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]] = {}
    aborted: dict[tuple[Hashable, Hashable], Txn] = {}
    ambiguous: set[tuple[Hashable, Hashable]] = set()
    lasts: dict[int, dict[Hashable, Hashable]] = {}  # its last write to each key, by index
    for t in txns:
        written = t.writes("w")
        last = lasts[t.index] = dict(written)
        for k, v in written:
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
        if len({k for _, k, _ in t.mops}) == len(t.mops):  # each key once: every read external
            external = {k: v for f, k, v in t.mops if f == "r"}
        else:
            external = _internal(t, found)
            # a later read of a key shows no version, but one of a value nobody wrote, or another
            # transaction overwrote, is wrong all the same
            seen: set[Hashable] = set()
            for f, k, v in t.mops:
                if f == "r" and k in seen and v is not None and (k, v) not in ambiguous:
                    _later_read(t, k, v, writer, aborted, found)
                seen.add(k)
        for k, v in external.items():
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
            else:
                anomalies.unwritten(found, t, aborted.get((k, v)), f"{k} = {v}", "wrote")
    nodes = tuple(t.index for t in txns if t.status == "ok" or t.index in took_effect)
    by_index = {t.index: t for t in txns}
    writes: dict[int, dict[Hashable, Hashable]] = {}
    writers: dict[Hashable, list[int]] = defaultdict(list)
    for i in nodes:
        writes[i] = lasts[i]
        for k in writes[i]:
            writers[k].append(i)
    reads: dict[int, dict[Hashable, Hashable]] = {i: {} for i in nodes}
    fixed: list[tuple[int, int, int, Fact]] = []
    readers: dict[tuple[Hashable, Hashable], list[int]] = defaultdict(list)
    per_key: dict[Hashable, list[tuple[int, int, Hashable]]] = defaultdict(list)
    for reader, k, v, source in versions:
        i = reader.index
        reads[i][k] = v
        if source is None:
            for later in writers[k]:
                if later != i:
                    fixed.append((i, later, RW, Fact("initial", k, written=writes[later][k])))
            continue
        fixed.append((source.index, i, WR, Fact("wr", k, v)))
        readers[(k, v)].append(i)
        per_key[k].append((i, source.index, v))
    # writes follow reads: what a transaction writes to a key comes after the version it read
    for (k, v), who in readers.items() if follows else ():
        source = writer[(k, v)][0]
        for i in who:
            if k in writes[i]:
                fact = Fact("follows", k, v, source.index, writes[i][k])
                fixed.append((source.index, i, WW, fact))
                fixed.extend((o, i, RW, fact) for o in who if o != i)
    orders = [k for k in keys if k != rw_keys.WFR]
    fixed.extend(rw_keys.edges(orders, by_index, nodes, reads, writes, found))
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
    h = History(by_index, nodes, reads, writes, tuple(pairs), exact, tuple(skipped))
    return h, fixed


def _later_read(
    t: Txn,
    k: Hashable,
    v: Hashable,
    writer: dict[tuple[Hashable, Hashable], tuple[Txn, bool]],
    aborted: dict[tuple[Hashable, Hashable], Txn],
    found: anomalies.Found,
) -> None:
    """A read after the transaction's own access to the key: of a value nobody wrote (G1a when
    a failed transaction did), or one its writer overwrote (G1b)."""
    if (k, v) not in writer:
        anomalies.unwritten(found, t, aborted.get((k, v)), f"{k} = {v}", "wrote")
        return
    w, final = writer[(k, v)]
    if not final and w is not t:
        found.add(
            "G1b",
            f"{t.label()} read {k} = {v}, which {w.label()} overwrote with a later write to {k}",
            w.show(),
            t.show(),
        )


def _internal(t: Txn, found: anomalies.Found) -> dict[Hashable, Hashable]:
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
                f"{t.label()} read {k} = {shown(v)}, expected {shown(known[k][0])} from its own "
                f"earlier {known[k][1]}",
                t.show(),
            )
        known[k] = (v, "read")
    return external
