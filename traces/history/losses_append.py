"""What a list-append history lost (traces/history/list_append.py), in the words and the table of
traces/history/losses.py: Jepsen's set-full counts (jepsen-io/jepsen, jepsen/src/jepsen/
checker.clj, `set-full`), with the duplicates of its `total-queue`, brought to lists that only grow.

- acknowledged: the appends of committed (ok) transactions, one per micro-operation;
- lost: an acknowledged append of v to k that a read of k lacks, the read in a committed
  transaction invoked after the append's transaction returned. A list only grows at its end, so
  once an append has taken effect every later read shows it. Named with the last read of k that
  lacks it (invoked after the append returned, as every read does that could disprove it). The
  claim rests on real time, as Jepsen's does: a history checked for serializability alone may
  order that read first (the checker then finds nothing), strict serializability may not (the
  checker finds G-single-realtime or the like);
- recovered: an append of a transaction whose outcome is unknown (info) that some read shows;
- unexpected: an element (k, v) a read shows that no append of a transaction that did not fail,
  invoked before the read returned, could have put (garbage, or the value of a failed append, or
  of one begun only later); counted once, named with the first read that shows it;
- duplicated: an element that one read shows more than once; counted once, named with the first
  such read.

O(the elements read + appends x log reads): the reads of a key are swept from the last invoked
back, keeping the elements every read so far shows (an intersection of sets, in C).
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence

import attrs

from meshcheck.traces.history import events
from meshcheck.traces.history import losses
from meshcheck.traces.history import reader
from meshcheck.traces.history.list_append import Txn
from meshcheck.traces.history.list_append import _list


@attrs.frozen
class Lost:
    append: Txn  # the committed transaction that appended `value` to `key`
    key: Hashable
    value: Hashable
    read: Txn  # the last read of `key` that lacks it


@attrs.frozen
class Seen:
    """An element a read showed: unexpected, or more than once."""

    read: Txn
    key: Hashable
    value: Hashable


@attrs.frozen
class Losses:
    acknowledged: int
    lost: tuple[Lost, ...]
    indeterminate: int  # appends of info transactions
    recovered: int  # of those, shown by a read
    unexpected: tuple[Seen, ...]
    duplicated: tuple[Seen, ...]


Read = tuple[Txn, tuple[Hashable, ...]]


def count(
    txns: Sequence[Txn], chains: Mapping[Hashable, tuple[Hashable, ...]] | None = None
) -> Losses:
    """The counts and the lost appends of a list-append history (the module's docstring).
    `chains`: per key, a committed read that every committed read of the key is a prefix of, as
    list_append.py's `check` takes them."""
    with reader.bulk():  # a tuple an append and a read: none in a cycle
        return _count(txns, chains or {})


def _count(txns: Sequence[Txn], chains: Mapping[Hashable, tuple[Hashable, ...]]) -> Losses:
    appended: dict[Hashable, list[tuple[Txn, Hashable]]] = {}  # the appends that did not fail
    reads: dict[Hashable, list[Read]] = {}
    calls = [t.call for t in txns]
    in_order = calls == sorted(calls)  # by invocation, as read from a file: no list to sort
    for t in txns:
        status = t.status
        if status == "fail":
            continue
        for f, k, v in t.mops:
            if f == "append":
                if k in appended:
                    appended[k].append((t, v))
                else:
                    appended[k] = [(t, v)]
            elif v is not None and status == "ok":
                if k in reads:
                    reads[k].append((t, v))
                else:
                    reads[k] = [(t, v)]
    lost: list[Lost] = []
    unexpected: dict[tuple[Hashable, Hashable], Seen] = {}
    duplicated: dict[tuple[Hashable, Hashable], Seen] = {}
    odd = (unexpected, duplicated)
    acknowledged = indeterminate = recovered = 0
    for k, xs in appended.items():
        appends = sorted(
            ((t.ret, t, v) for t, v in xs if t.status == "ok"), key=_first, reverse=True
        )  # the latest first; stable
        acknowledged += len(appends)
        rs = reads.get(k)
        if rs is None:
            indeterminate += len(xs) - len(appends)
            continue
        if in_order:  # the first append of a value (by invocation) last: it stays
            begun = {v: t.call for t, v in reversed(xs)}
        else:
            xs.sort(key=_later)
            begun = {v: t.call for t, v in xs}
            rs.sort(key=_invoked)  # stable: in the order of the history
        settled = _settled(rs, appends, begun, chains.get(k))
        shown = _swept(k, rs, appends, begun, lost, odd) if settled is None else settled
        unknown = [v for t, v in xs if t.status == "info"]
        indeterminate += len(unknown)
        recovered += sum(1 for v in unknown if v in shown)
    for k, rs in reads.items():  # the reads of keys nobody appended to: all unexpected
        if k not in appended:
            if not in_order:
                rs.sort(key=_invoked)
            _swept(k, rs, (), {}, lost, odd)
    return Losses(
        acknowledged,
        tuple(sorted(lost, key=lambda x: (x.append.call, x.append.index))),
        indeterminate,
        recovered,
        tuple(sorted(unexpected.values(), key=lambda s: (s.read.call, s.read.index))),
        tuple(sorted(duplicated.values(), key=lambda s: (s.read.call, s.read.index))),
    )


_first = operator.itemgetter(0)


def _later(a: tuple[Txn, Hashable]) -> float:
    return -a[0].call


def _invoked(r: Read) -> float:
    return r[0].call


def _settled(
    rs: Sequence[Read],
    appends: Sequence[tuple[float, Txn, Hashable]],
    begun: dict[Hashable, float],
    chain: tuple[Hashable, ...] | None,
) -> set[Hashable] | None:
    """The elements the reads of a key show, when each read is a prefix of the longest (as a list
    that only grows is read) and none lacks an append that returned before it was invoked, nor
    shows an element twice or from nowhere; else None (`_swept` then finds and names them). The
    common case, by the reads' lengths alone: O(reads + elements of the longest + appends x log
    reads), each read compared with the longest in C (`chain`: the longest, when every read is
    known to be a prefix of it)."""
    longest = max((r for _, r in rs), key=len) if chain is None else chain
    elements = set(longest)
    if len(elements) != len(longest) or not elements <= begun.keys():
        return None
    began = list(itertools.accumulate(map(begun.__getitem__, longest), max))  # of a prefix
    lengths = []
    for t, r in rs:
        n = len(r)
        if n and ((chain is None and longest[:n] != r) or not began[n - 1] < t.ret):
            return None  # not a prefix, or an element appended only after the read returned
        lengths.append(n)
    shortest = list(itertools.accumulate(reversed(lengths), min))[::-1]  # from each read on
    at = {v: i for i, v in enumerate(longest)}
    calls = [t.call for t, _ in rs]
    for ret, _, v in appends:
        s = bisect.bisect_right(calls, ret)
        if s < len(rs) and shortest[s] <= at.get(v, math.inf):
            return None  # a read invoked after the append returned lacks it
    return elements


def _swept(
    k: Hashable,
    rs: Sequence[Read],
    appends: Sequence[tuple[float, Txn, Hashable]],
    begun: dict[Hashable, float],
    lost: list[Lost],
    odd: tuple[dict[tuple[Hashable, Hashable], Seen], dict[tuple[Hashable, Hashable], Seen]],
) -> set[Hashable]:
    """The elements the reads of key k show; the lost appends of k, the unexpected and duplicated
    elements of its reads, found by sweeping the reads from the last invoked back."""
    calls = [t.call for t, _ in rs]
    j = len(rs)  # reads j.. are swept
    common: set[Hashable] | None = None  # the elements every swept read shows
    lacking: dict[Hashable, int] = {}  # an element left `common` -> the read that lacks it
    every: set[Hashable] = set()
    for ret, t, v in appends:
        s = bisect.bisect_right(calls, ret)  # reads s.. were invoked after it returned
        while j > s:
            j -= 1
            common = _sweep(k, rs[j], common, j, lacking, every, begun, odd)
        if s < len(rs) and common is not None and v not in common:
            lost.append(Lost(t, k, v, rs[lacking.get(v, len(rs) - 1)][0]))
    while j > 0:
        j -= 1
        common = _sweep(k, rs[j], common, j, lacking, every, begun, odd)
    return every


def _sweep(
    k: Hashable,
    read: Read,
    common: set[Hashable] | None,
    j: int,
    lacking: dict[Hashable, int],
    every: set[Hashable],
    begun: dict[Hashable, float],
    odd: tuple[dict[tuple[Hashable, Hashable], Seen], dict[tuple[Hashable, Hashable], Seen]],
) -> set[Hashable]:
    """Read j of key k joins the sweep: the elements every read from j on shows (each element
    that leaves them is lacked by read j, the last read to lack it), and what the read shows of
    its own: elements from nowhere, twice."""
    t, r = read
    unexpected, duplicated = odd
    here = set(r)
    every |= here
    if len(here) != len(r):
        for v in dict.fromkeys(v for v in r if r.count(v) > 1):
            duplicated[(k, v)] = Seen(t, k, v)  # swept from the last: the first read stays
    # the common case in C: every element appended, the last of those appends begun in time
    if here and not (here <= begun.keys() and max(map(begun.__getitem__, here)) < t.ret):
        for v in r:
            if not begun.get(v, math.inf) < t.ret:
                unexpected[(k, v)] = Seen(t, k, v)
    if common is None:
        return here
    kept = common & here
    for v in common - kept:
        lacking[v] = j
    return kept


def _span(t: Txn) -> str:
    return f"process {t.process}, {events.span(t.call, t.ret)}"


def account(found: Losses) -> losses.Account:
    """The table of traces/history/losses.py: appends acknowledged, lost, recovered; elements
    unexpected and duplicated; each named with its transaction, process and the history's lines."""

    def lost(x: Lost) -> str:
        return (
            f"{x.append.label()} appended {x.value!r} to {x.key!r} ({_span(x.append)}); "
            f"{x.read.label()} read {x.key!r} without it after ({_span(x.read)})"
        )

    def unexpected(x: Seen) -> str:
        return (
            f"{x.read.label()} read {x.value!r} in {x.key!r} ({_span(x.read)}), which no append "
            "could have put"
        )

    def duplicated(x: Seen) -> str:
        whole = next(
            v
            for f, k, v in x.read.mops
            if f == "r" and k == x.key and v is not None and v.count(x.value) > 1
        )
        return (
            f"{x.read.label()} read {x.value!r} more than once in {x.key!r} as {_list(whole)} "
            f"({_span(x.read)})"
        )

    return losses.Account(
        "appends",
        found.acknowledged,
        losses.named(found.lost, lost),
        found.indeterminate,
        found.recovered,
        losses.named(found.unexpected, unexpected),
        "element",
        losses.named(found.duplicated, duplicated),
    )


def render(found: Losses) -> str:
    """The account as `meshcheck history check` prints it (losses.py's Account)."""
    return account(found).render()
