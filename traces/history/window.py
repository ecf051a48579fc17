"""The smallest non-linearizable window: a minimal set of a failing history's operations that has
no linearization on its own.

The checker (`checker.check`) finds the failing part (one key of a keyed model) and its shortest
failing prefix. That prefix may still hold hundreds of operations that play no part in the
conflict. Here it is shrunk by delta debugging (Zeller and Hildebrandt, "Simplifying and isolating
failure-inducing input", IEEE TSE 28(2), 2002: `ddmin`) over operations: drop a chunk, keep the
rest if it still has no linearization, and go to finer chunks until no single operation can be
dropped. The result is 1-minimal: it is not linearizable, and without any one of its operations it
is.

Dropping an operation must leave a history that could have been observed, or the window shrinks
to a meaningless one: without the write of 1, "read 1" fails on its own, and the conflict it took
part in (a stale read) is lost. So for the models of Jepsen's register family (read, write, cas)
an operation is dropped together with what then observes a value nobody in the window wrote: a
read of that value, a completed cas from it (and, in turn, what read the cas's new value). Values
the whole history never wrote (a corrupt read) stay allowed: such a read is its own window. For
other models operations are dropped one by one; a model's step function says nothing about where
a value came from.

Operations that cannot take part in a conflict are left out before the search, as the checker
leaves them out: failed ones (no effect) and pending reads (nothing observed).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence

import attrs

from meshcheck.traces.history.checker import Result, _Budget, _search, _Timeout
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import Model

REGISTER_FS = frozenset({"read", "write", "cas"})


@attrs.frozen
class Window:
    """A failing window. `minimal`: proved 1-minimal (every one-operation removal was checked and
    found linearizable); False when the budget ran out first, and the window is then only known to
    fail. `tests`: how many candidate windows were checked."""

    ops: tuple[Op, ...]
    minimal: bool
    tests: int


def part_of(result: Result, history: Sequence[Op], model: Model) -> list[Op]:
    """The operations of the failing part as the history has them (not cut at the prefix: the
    prefix turns operations running at the cut into pending ones; the originals, which constrain
    at least as much, fail too)."""
    for key, ops in model.partition(history):
        if key == result.partition:
            return [o for o in ops if o.call < result.cut]
    raise ValueError(f"no part {result.partition!r} in the history")


def smallest(
    ops: Sequence[Op], model: Model, budget_seconds: float = 10.0, start: float | None = None
) -> Window:
    """A 1-minimal non-linearizable sub-history of `ops`, which must not be linearizable.

    Within the budget (from `start`, default now): past it, the smallest window found so far, with
    `minimal=False`."""
    deadline = (time.monotonic() if start is None else start) + budget_seconds
    items = [o for o in ops if o.status != "fail" and not (o.pending and model.read_only(o))]
    close = _closer(items, model)
    counter = [0]
    tests = [0]
    undecided = [False]

    def fails(candidate: list[Op]) -> bool:
        tests[0] += 1
        try:
            return _search(candidate, model, _Budget(deadline), counter) is None
        except _Timeout:
            undecided[0] = True
            return False

    if not fails(items):
        if undecided[0]:  # no time left even to confirm it: the whole of it, not proved minimal
            return Window(tuple(items), False, tests[0])
        raise ValueError("the history is linearizable: there is no failing window")
    if model.both_values:
        found, done = _reads_only(items, model, fails, deadline)
    else:
        found, done = _ddmin(items, fails, close, deadline)
    return Window(tuple(found), done and not undecided[0], tests[0])


def _reads_only(
    items: list[Op], model: Model, fails: Callable[[list[Op]], bool], deadline: float
) -> tuple[list[Op], bool]:
    """The window of a model whose writes answer from the state (impl/rsm's: a set says whether its
    key existed, a create whether the case did): a write cannot go without changing what the
    writes after it may answer, so only reads are dropped (1-minimal among the reads), then the
    writes invoked after the last read kept returned, which no kept operation can depend on."""
    writes = [o for o in items if not model.read_only(o)]
    reads = [o for o in items if model.read_only(o)]

    def with_writes(candidate: list[Op]) -> list[Op]:
        return sorted([*writes, *candidate], key=lambda o: o.call)

    kept, done = _ddmin(reads, lambda c: fails(with_writes(c)), lambda c: c, deadline)
    window = with_writes(kept)
    end = max((o.ret for o in kept), default=-math.inf)
    earlier = [o for o in window if model.read_only(o) or o.call < end]
    if len(earlier) < len(window) and fails(earlier):
        window = earlier
    return window, done


def without(window: Sequence[Op], drop: Op, model: Model) -> list[Op]:
    """The window without `drop` and what then reads a value no remaining operation wrote (the
    removal `smallest` makes; tests use it to check 1-minimality)."""
    close = _closer(window, model)
    return close([o for o in window if o is not drop])


def _ddmin(
    items: list[Op],
    fails: Callable[[list[Op]], bool],
    close: Callable[[list[Op]], list[Op]],
    deadline: float,
) -> tuple[list[Op], bool]:
    """Zeller and Hildebrandt's ddmin, each candidate closed under `close`. Ends 1-minimal (the
    flag True): with n = len(items) chunks, every complement is one removal, and none failed;
    False when the deadline came first."""
    n = 2
    while len(items) >= 2:
        if time.monotonic() > deadline:
            return items, False
        chunks = _split(items, n)
        reduced = False
        for chunk in chunks:  # a chunk alone
            candidate = close(chunk)
            if candidate and len(candidate) < len(items) and fails(candidate):
                items, n, reduced = candidate, 2, True
                break
        if not reduced:
            for i in range(len(chunks)):  # everything but a chunk
                dropped = {id(o) for o in chunks[i]}
                candidate = close([o for o in items if id(o) not in dropped])
                if len(candidate) < len(items) and fails(candidate):
                    items, n, reduced = candidate, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(items):
                break
            n = min(2 * n, len(items))
    return items, True


def _split(items: list[Op], n: int) -> list[list[Op]]:
    size, extra = divmod(len(items), n)
    out: list[list[Op]] = []
    at = 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        out.append(items[at : at + step])
        at += step
    return [c for c in out if c]


# --- well-formedness: reads of values someone in the window wrote ----------------------------------


def _observes(o: Op) -> tuple[bool, Hashable]:
    """(True, value) when the operation saw `value` in the register: an ok read of a known value,
    a completed cas from its old value."""
    if o.f == "read" and not o.pending and o.output is not None:
        return True, o.output
    if o.f == "cas" and not o.pending and isinstance(o.input, tuple) and len(o.input) == 2:
        return True, o.input[0]
    return False, None


def _writes(o: Op) -> tuple[bool, Hashable]:
    if o.f == "write":
        return True, o.input
    if o.f == "cas" and isinstance(o.input, tuple) and len(o.input) == 2:
        return True, o.input[1]
    return False, None


def _closer(ops: Sequence[Op], model: Model) -> Callable[[list[Op]], list[Op]]:
    """A function that removes from a candidate every operation that lost where its value may have
    come from, until none is left.

    An operation observing value v (a read of v, a completed cas from v) may have read from a
    write of v invoked before it returned (a `source`); of those, the ones not surely overwritten
    before it was invoked (no write or cas completed between the source's return and its call) are
    its `possible` sources. It stays in a candidate while the candidate keeps one source and every
    possible one: dropping the write it read from drops it, even when another write of the same
    value (earlier, long overwritten) remains. An observation with no source in `ops` (a value
    nobody wrote, or the initial state) is not constrained."""
    if not model.fs <= REGISTER_FS:
        return lambda candidate: candidate
    init = model.init()
    writers: dict[Hashable, list[Op]] = {}
    for o in ops:
        wrote, value = _writes(o)
        if wrote:
            writers.setdefault(value, []).append(o)
    # surely took effect: ok writes and ok cas; by return time, with the latest invocation so far
    effects = sorted(
        (o for o in ops if o.status == "ok" and o.f in ("write", "cas")), key=lambda o: o.ret
    )
    rets = [o.ret for o in effects]
    latest_call: list[float] = []
    for o in effects:
        latest_call.append(max(o.call, latest_call[-1] if latest_call else -math.inf))
    needs: dict[int, tuple[list[Op], list[Op]]] = {}  # id(observer) -> (sources, possible)
    for o in ops:
        seen, value = _observes(o)
        if not seen or value == init:
            continue
        sources = [w for w in writers.get(value, ()) if w is not o and w.call < o.ret]
        if not sources:
            continue
        k = bisect.bisect_left(rets, o.call)  # effects completed before o was invoked
        overwritten_after = latest_call[k - 1] if k else -math.inf
        possible = [w for w in sources if not w.ret < overwritten_after]
        needs[id(o)] = (sources, possible)

    def close(candidate: list[Op]) -> list[Op]:
        keep = list(candidate)
        while True:
            present = {id(o) for o in keep}
            drop = set()
            for o in keep:
                need = needs.get(id(o))
                if need is None:
                    continue
                sources, possible = need
                if not any(id(w) in present for w in sources) or not all(
                    id(w) in present for w in possible
                ):
                    drop.add(id(o))
            if not drop:
                return keep
            keep = [o for o in keep if id(o) not in drop]

    return close


# --- showing a window ---------------------------------------------------------------------------


def show_value(value: Hashable) -> str:
    if value is None:
        return "nil"
    if isinstance(value, tuple):
        return "[" + " ".join(show_value(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):  # an rsm operation or result: {op: Custom, key: k1, value: 3}
        return "{" + ", ".join(f"{k}: {show_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def label(o: Op) -> str:
    """`f(input)->output`: write(1), read()->1, cas(1 2); an info operation's output is `?`."""
    if isinstance(o.input, tuple) and o.f == "cas":
        args = " ".join(show_value(v) for v in o.input)
    else:
        args = "" if o.input is None else show_value(o.input)
    text = f"{o.f}({args})"
    if o.pending:
        return text + "->?"
    if o.output is not None or o.f == "read":
        text += "->" + show_value(o.output)
    return text


def span(o: Op) -> str:
    """call..ret as numbers; an info operation's return is open: `5..`."""
    ret = "" if o.ret == math.inf else f"{o.ret:g}"
    return f"{o.call:g}..{ret}"


def context(part: Sequence[Op], conflict: Sequence[Op], most: int = 60) -> list[Op]:
    """The window `conflict` and, of the failing part's other completed-or-pending operations,
    the `most` nearest that overlap its time span: what else was going on."""
    lo = min(o.call for o in conflict)
    hi = max(o.ret if o.ret != math.inf else o.call for o in conflict)
    ids = {id(o) for o in conflict}
    mid = (lo + hi) / 2
    others = [
        o for o in part if id(o) not in ids and o.status != "fail" and o.call <= hi and o.ret >= lo
    ]
    others.sort(key=lambda o: abs(o.call - mid))
    return [*conflict, *others[:most]]
