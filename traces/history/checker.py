"""Is a history linearizable? A search in the Wing and Gong line with Lowe's cache, split by key.

The search (as anishathalye/porcupine's checker.go): a configuration is the set of operations
linearized so far (a bit set) and the model state they lead to. From a configuration, an operation
may be linearized next when no other operation still to be linearized completed before it was
invoked (a minimal operation: its invocation is no later than the earliest return among those left).
Every configuration reached is cached, so a configuration reached again by another order is not
searched again (Lowe, "Testing for linearizability", 2017). The history is linearizable when the
configuration with every operation is reached.

Two operations the model cannot tell apart (`Model.alike`: the same operation, input, output and
status; only the caller and the times differ) are tried once per configuration: of those that may
be linearized next, only the one that returns first. A linearization that takes another one, b,
here and the first one, a, later can swap the two: a may come here (it is minimal), b may come
where a was (everything between was invoked before a returned, so before b returned), and the
model goes through the same states. This is what keeps the free runs' histories cheap: a Raft
cluster that commits slowly has a dozen writes running at once whose values no read returned, all
alike after the rsm model's `prune`, and without it the search tries every order of them (one
239-operation history: 1.1 million configurations before, 10,000 after). The model's step is
computed once per (state, class of alike operations), on states numbered as first met (the cache
holds pairs of ints), and the operation invoked first is tried first.

`fail` operations took no effect and are dropped; `info` operations have no return time, so they
stay minimal to the end and may be linearized anywhere after their invocation; linearized after
everything else they change nothing that is checked, which is the same as never having happened.
A pending operation that cannot change the state (a read) is dropped, and so is one whose effect
no other operation could have observed (the model's `prune`).

P-compositionality (Horn and Kroening, "Faster linearizability checking via P-compositionality",
FORTE 2015): the model's `partition` splits the history into independent parts (the kv model: by
key); the history is linearizable when every part is.

Sequential consistency (Lamport, "How to make a multiprocessor computer that correctly executes
multiprocess programs", IEEE TC 28(9), 1979) is the same search with real time replaced by each
process's own order (a model whose `per_process` is set: traces/history/sequential.py): an
operation may come next when every operation of its process that returned before it was invoked
has come. Alike operations are then tried once only among those nothing must follow. A prefix in
time of a sequentially consistent history need not be one (a read may take a value from a write
invoked after it returned), so its failing part is not cut to a prefix: the window is shrunk from
the whole part.

When the history is not linearizable, the report is the smallest failing window: the part that
fails and its shortest prefix (by invocation time, operations still running at the cut pending)
that has no linearization, found by bisection (a prefix of a linearizable history is linearizable).
When the budget runs out the verdict is `unknown`, with the longest prefix proved linearizable;
never "holds". The budget is wall-clock seconds, or, given `configurations`, a count of the
search's configurations (a set of operations linearized and the model's state after them): the
same verdict on any machine under any load, which is what a check inside a test run needs (see
property_tests/histories.py's BUDGET for the rate), counted exactly: the search stops at the
first configuration past the count.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any
from typing import Literal

import attrs

from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import prefix
from meshcheck.traces.history.models import Model

Verdict = Literal["linearizable", "not linearizable", "unknown"]

# share of the budget for the search of the whole history; the rest finds the failing window or
# the longest linearizable prefix
_SEARCH_SHARE = 0.8


@attrs.frozen
class Result:
    """The checker's answer.

    `linearizable`: every part has a linearization (`linearization` is one, for the whole history,
    part after part). `not linearizable`: `partition` names the failing part (its key; None for
    a model that does not split), `window` is that part's shortest failing prefix, `cut` the time
    before which it was taken. `unknown`: the budget ran out; `prefix_ops` operations of the
    history (those invoked before `cut`) are proved linearizable, no more is claimed.
    """

    verdict: Verdict
    ops: int
    seconds: float
    partition: Hashable = None
    window: tuple[Op, ...] = ()
    cut: float = 0.0
    prefix_ops: int = 0
    linearization: tuple[Op, ...] = ()
    configurations: int = 0

    @property
    def linearizable(self) -> bool:
        return self.verdict == "linearizable"


class _Timeout(Exception):
    pass


@attrs.frozen
class _Budget:
    """Where a search must stop: a monotonic time, and a count of configurations (or None)."""

    until: float
    configurations: int | None = None

    def over(self, counter: list[int]) -> bool:
        if self.configurations is not None and counter[0] > self.configurations:
            return True
        return time.monotonic() > self.until

    def next_check(self, counter: list[int]) -> int:
        """How many more configurations a search may visit before it looks at the budget again:
        every 1024 (the clock), and exactly where the count runs out."""
        if self.configurations is None:
            return 1024
        return max(1, min(1024, self.configurations + 1 - counter[0]))


def check(
    history: Sequence[Op],
    model: Model,
    budget_seconds: float = 10.0,
    *,
    configurations: int | None = None,
) -> Result:
    """Check `history` against `model` within about `budget_seconds` of wall-clock time and, when
    given, `configurations` of the search (see the module's docstring)."""
    start = time.monotonic()
    deadline = _Budget(
        start + budget_seconds * _SEARCH_SHARE,
        None if configurations is None else int(configurations * _SEARCH_SHARE),
    )
    final = _Budget(start + budget_seconds, configurations)
    counter = [0]
    parts = model.partition(history)
    # smaller parts first: a failure in a small part is found, and reported, fastest; of parts
    # alike in size, the one invoked first (the same part, whatever order the history came in)
    parts.sort(key=lambda kv: (len(kv[1]), min((o.call for o in kv[1]), default=0.0)))
    order: list[Op] = []
    unknown: list[list[Op]] = []
    for key, ops in parts:
        try:
            found = _search(ops, model, deadline, counter)
        except _Timeout:
            unknown.append(ops)
            continue
        if found is None:
            if model.per_process:  # a prefix in time may fail where the whole does not
                cut, window = float("inf"), tuple(ops)
            else:
                cut, window = _smallest_failing(ops, model, final, counter)
            return Result(
                "not linearizable",
                len(history),
                time.monotonic() - start,
                partition=key,
                window=window,
                cut=cut,
                configurations=counter[0],
            )
        order.extend(found)
    if not unknown:
        return Result(
            "linearizable",
            len(history),
            time.monotonic() - start,
            prefix_ops=len(history),
            cut=float("inf"),
            linearization=tuple(order),
            configurations=counter[0],
        )
    cut = min(_longest_linearizable(ops, model, final, counter) for ops in unknown)
    return Result(
        "unknown",
        len(history),
        time.monotonic() - start,
        cut=cut,
        prefix_ops=sum(1 for o in history if o.call < cut),
        configurations=counter[0],
    )


def _cuts(ops: Sequence[Op]) -> list[float]:
    """Cut points just after each distinct invocation time, the whole history last."""
    calls = sorted({o.call for o in ops})
    return [*calls[1:], float("inf")]


def _smallest_failing(
    ops: Sequence[Op], model: Model, deadline: _Budget, counter: list[int]
) -> tuple[float, tuple[Op, ...]]:
    cuts = _cuts(ops)
    lo, hi = -1, len(cuts) - 1  # cuts[hi] fails (proved); cuts[lo] not proved to fail
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            fails = _search(prefix(ops, cuts[mid]), model, deadline, counter) is None
        except _Timeout:
            fails = False  # not proved: keep the window proved so far
        if fails:
            hi = mid
        else:
            lo = mid
    return cuts[hi], prefix(ops, cuts[hi])


def _longest_linearizable(
    ops: Sequence[Op], model: Model, deadline: _Budget, counter: list[int]
) -> float:
    """The latest cut before which this part is proved linearizable (its first invocation: none)."""
    cuts = [min((o.call for o in ops), default=0.0), *_cuts(ops)]
    lo, hi = 0, len(cuts) - 1  # cuts[lo] proved linearizable (empty prefix); cuts[hi] not proved
    while hi - lo > 1 and not deadline.over(counter):
        mid = (lo + hi) // 2
        try:
            ok = _search(prefix(ops, cuts[mid]), model, deadline, counter) is not None
        except _Timeout:
            ok = False
        if ok:
            lo = mid
        else:
            hi = mid
    return cuts[lo]


def _search(
    history: Sequence[Op], model: Model, deadline: _Budget, counter: list[int]
) -> list[Op] | None:
    """One linearization of `history` (a list of its operations in order), or None if there is none.
    Raises `_Timeout` past `deadline`."""
    ops = model.prune(
        [o for o in history if o.status != "fail" and not (o.pending and model.read_only(o))]
    )
    n = len(ops)
    if n == 0:
        return []
    by_call = sorted(range(n), key=lambda i: ops[i].call)
    by_ret = sorted(range(n), key=lambda i: ops[i].ret)
    calls = [ops[i].call for i in by_call]
    rets = [o.ret for o in ops]
    # operations alike to the model (`Model.alike`) share a class; the model's step is computed
    # once per (state, class), on interned states (their number in `states`)
    classes: dict[Hashable, int] = {}
    cls = [classes.setdefault(model.alike(o), len(classes)) for o in ops]
    width = len(classes)
    # per-process order (`Model.per_process`): what must come before each operation (its
    # process's operations that returned before it was invoked), and whether anything must come
    # after it
    per_process = model.per_process
    before = _before(ops) if per_process else []
    followed = {j for bits in before for j in _bits(bits)}
    states: dict[Hashable, int] = {}
    memo: dict[int, tuple[int, ...]] = {}
    full = (1 << n) - 1
    init = model.init()
    states[init] = 0
    examples = [init]  # state number -> the state
    seen: set[tuple[int, int]] = {(0, 0)}
    # a frame: linearized set, state number, first unlinearized positions in by_call and by_ret
    # (the set only grows along a path, so a child starts where its parent stopped), and the path
    # for the linearization, a linked list of (op, parent)
    stack: list[tuple[int, int, int, int, Any]] = [(0, 0, 0, 0, None)]
    steps = 0
    counted = 0  # steps already added to the counter
    check_at = deadline.next_check(counter)
    while stack:
        mask, sid, lo_call, lo_ret, path = stack.pop()
        if mask == full:
            counter[0] += steps - counted
            out: list[Op] = []
            node = path
            while node is not None:
                i, node = node
                out.append(ops[i])
            out.reverse()
            return out
        steps += 1
        if steps == check_at:
            counter[0] += steps - counted
            counted = steps
            if deadline.over(counter):
                raise _Timeout
            check_at = steps + deadline.next_check(counter)
        first: dict[int, int] = {}
        if per_process:
            first = _first_per_process(mask, before, followed, cls)
        else:
            while (mask >> by_ret[lo_ret]) & 1:
                lo_ret += 1
            while (mask >> by_call[lo_call]) & 1:
                lo_call += 1
            min_ret = rets[by_ret[lo_ret]]
            # minimal operations: not linearized, invoked no later than the earliest pending
            # return; of those alike, only the one that returns first (ties: invoked first): a
            # linearization that takes another of them here can take that one instead (the two
            # swap places)
            end = bisect.bisect_right(calls, min_ret)
            for pos in range(lo_call, end):
                i = by_call[pos]
                if (mask >> i) & 1:
                    continue
                c = cls[i]
                j = first.get(c)
                if j is None or rets[i] < rets[j]:
                    first[c] = i
        # pushed latest first, so the operation invoked first is tried first
        for i in sorted(first.values(), reverse=True, key=lambda i: (ops[i].call, i)):
            c = cls[i]
            key = sid * width + c
            after = memo.get(key)
            if after is None:
                found = []
                for nxt in model.step(examples[sid], ops[i]):
                    number = states.get(nxt)
                    if number is None:
                        number = states[nxt] = len(examples)
                        examples.append(nxt)
                    found.append(number)
                after = memo[key] = tuple(found)
            bit = mask | (1 << i)
            for nsid in after:
                if (bit, nsid) not in seen:
                    seen.add((bit, nsid))
                    stack.append((bit, nsid, lo_call, lo_ret, (i, path)))
    counter[0] += steps - counted
    return None


def _before(ops: Sequence[Op]) -> list[int]:
    """Per-process order: for each operation, the bit set of the operations of its process that
    returned before it was invoked (a pending one returned never, so it comes before nothing)."""
    by_process: dict[Hashable, list[int]] = {}
    for i, o in enumerate(ops):
        by_process.setdefault(o.process, []).append(i)
    out = [0] * len(ops)
    for mine in by_process.values():
        for i in mine:
            for j in mine:
                if ops[j].ret < ops[i].call:
                    out[i] |= 1 << j
    return out


def _bits(bits: int) -> list[int]:
    return [i for i in range(bits.bit_length()) if (bits >> i) & 1]


def _first_per_process(
    mask: int, before: Sequence[int], followed: set[int], cls: Sequence[int]
) -> dict[int, int]:
    """The operations that may come next under per-process order, one or more per class of alike
    operations (keyed by a number of its own). Every operation not yet placed whose predecessors
    all are; of those alike, every one that something must follow, and one that nothing must
    follow only when no other of its class may come next: an order that places one that nothing
    follows, x, here and another of its class, y, later can swap them (y may come here; x, with
    nothing after it to keep before, may come where y was; the model steps alike)."""
    out: dict[int, int] = {}
    free: dict[int, int] = {}  # class -> one operation of it that nothing must follow
    for i, need in enumerate(before):
        if (mask >> i) & 1 or need & ~mask:
            continue
        if i in followed:
            out[len(cls) + i] = i
        else:
            free.setdefault(cls[i], i)
    tried = {cls[i] for i in out.values()}
    for c, i in free.items():
        if c not in tried:
            out[c] = i
    return out
