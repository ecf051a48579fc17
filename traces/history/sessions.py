"""The session guarantees of a register, client by client (Terry, Demers, Petersen, Spreitzer,
Theimer and Welch, "Session Guarantees for Weakly Consistent Replicated Data", PDIS 1994; stated
on abstract executions as Viotti and Vukolić do, "Consistency in Non-Transactional Distributed
Storage Systems", ACM CSUR 49(1), 2016, section 3.2).

A session is a process of the history. Its order (`so`): `a` before `b` when both are of one
process and `a` returned before `b` was invoked; a pending (`info`) operation comes before nothing
(as in sequential.py). An ok `cas` is a read of its old value, then a write of its new one, in
that order; a pending cas only a write (whether it read is unknown); failed operations took no
effect and are left out.

The writes of the register are put in one order, the arbitration `ar`, the initial value (nil)
first. A read returns the value of the last write, in `ar`, of those visible to it; so with the
write it read from, `rf(r)`, each guarantee asks for an `ar` in which:

- `read-your-writes`: a read after a write of its own session reads that write or one later in
  `ar` (w so r: w <= rf(r));
- `monotonic-reads`: a session's later read reads the same write as an earlier one or a later
  one (r1 so r2: rf(r1) <= rf(r2));
- `monotonic-writes`: a session's writes are in `ar` in the order it made them (w1 so w2:
  w1 < w2);
- `writes-follow-reads`: a write after a read of its session (a cas after its own read) comes
  after the write read from (r so w: rf(r) < w).

Each guarantee is asked of an order of its own, so alone each asks little: monotonic-writes alone
asks nothing a register's reads can show (a read may see any write it is shown), and two clients
that see two writes in opposite orders keep monotonic-reads. `pram` asks the first three of one
order (Viotti and Vukolić, section 3.2.2: PRAM is their conjunction), which sees both.

There is such an order exactly when the constraints, as edges between writes, have no cycle; a
cycle is what the check reports. Each guarantee also asks that every read return a value some
write wrote (or nil); one that returns another value breaks all four. Real time plays no part:
a sequentially consistent history (sequential.py) keeps all four (its order of operations gives
`ar`), a linearizable one too.

Values: with every value written once (per key), a read's value names the write it read. A value
written more than once leaves `rf(r)` open; the check is then conservative: such a read adds no
constraint, so a violation it reports is one whatever writes the reads read, and one that needs
a choice among repeated values may be missed. The kv model's keys are checked one by one.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import defaultdict
from collections.abc import Hashable
from collections.abc import Sequence

import attrs

from meshcheck.traces.history.history import Op
from meshcheck.traces.history.sequential import observed
from meshcheck.traces.history.sequential import stored

GUARANTEES = ("read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads")
# guarantees asked of one arbitration together: PRAM (Lipton and Sandberg, "PRAM: A scalable
# shared memory", Princeton CS-TR-180-88, 1988) is the first three at once (Viotti and Vukolić,
# section 3.2.2); each alone asks less (see the module's docstring)
TOGETHER = {"pram": ("read-your-writes", "monotonic-reads", "monotonic-writes")}
INIT = -1  # the initial value's place among the writes


@attrs.frozen
class Broken:
    """Why a guarantee does not hold: the operations whose constraints close a cycle (`ops`, for a
    value no write wrote: that read alone), the key they are on, and in words."""

    key: Hashable
    ops: tuple[Op, ...]
    why: str


def before(a: Op, b: Op) -> bool:
    """Session order: `a` of the same process returned before `b` was invoked."""
    return a.process == b.process and a.ret < b.call


def check(ops: Sequence[Op], guarantee: str, keyed: bool = False) -> Broken | None:
    """The first key (in order of first invocation) on which `guarantee` breaks, else None."""
    if guarantee not in GUARANTEES and guarantee not in TOGETHER:
        raise ValueError(f"{guarantee}: not a session guarantee")
    asked = TOGETHER.get(guarantee, (guarantee,))
    parts: dict[Hashable, list[Op]] = defaultdict(list)
    for o in sorted(ops, key=lambda o: (o.call, o.index)):
        if o.status != "fail":
            parts[o.key if keyed else None].append(o)
    for key, part in parts.items():
        found = _check_part(part, guarantee, asked)
        if found is not None:
            return Broken(key, *found)
    return None


def _check_part(
    ops: Sequence[Op], guarantee: str, asked: tuple[str, ...]
) -> tuple[tuple[Op, ...], str] | None:
    writers: dict[Hashable, list[int]] = defaultdict(list)
    for i, o in enumerate(ops):
        wrote, value = stored(o)
        if wrote:
            writers[value].append(i)
    # rf: op -> the write it read (INIT: the initial value); left out when the value is repeated
    rf: dict[int, int] = {}
    for i, o in enumerate(ops):
        seen, value = observed(o)
        if not seen:
            continue
        sources = [j for j in writers.get(value, []) if j != i]
        if value is None:
            sources.append(INIT)
        if not sources:
            return (o,), f"{_show(o)} returned a value no write wrote"
        if len(sources) == 1:
            rf[i] = sources[0]
    # edges between writes (INIT for the initial value) and points between a client's operations
    # (numbered from len(ops)): x -> y when x must come before y in ar, each with the operations
    # that ask for it; a write before itself is a cycle of one
    graph = _Graph(len(ops))
    clients: dict[Hashable, list[int]] = defaultdict(list)
    for i, o in enumerate(ops):
        clients[o.process].append(i)
    for mine in clients.values():
        for g in asked:
            loop = _constrain(graph, ops, mine, g, rf)
            if loop is not None:
                return _ops(ops, loop), f"{guarantee}: {_because(ops, [loop])}"
    for i, o in enumerate(ops):  # the initial value comes first
        if stored(o)[0]:
            graph.edges[INIT].setdefault(i, ())
    cycle = _cycle(graph.edges)
    if cycle is None:
        return None
    asked_for = [graph.edges[x][y] for x, y in zip(cycle, [*cycle[1:], cycle[0]], strict=True)]
    found = tuple(i for why in asked_for for i in why)
    return _ops(ops, found), f"{guarantee}: {_because(ops, asked_for)}"


class _Graph:
    """The constraints: `edges[x][y]`, the operations asking that x come before y."""

    def __init__(self, first: int) -> None:
        self.edges: dict[int, dict[int, tuple[int, ...]]] = defaultdict(dict)
        self.next = first

    def points(self, n: int) -> list[int]:
        """n new points in a row, each before the next: the places after a client's first 1, 2,
        ... n completed operations."""
        out = list(range(self.next, self.next + n))
        self.next += n
        for a, b in itertools.pairwise(out):
            self.edges[a][b] = ()
        return out

    def add(self, x: int, y: int, why: tuple[int, ...], strict: bool) -> tuple[int, ...] | None:
        """x before y (strict) or no later; a strict one of a write before itself: returned."""
        if x == y:
            return why if strict else None
        self.edges[x].setdefault(y, why)
        return None


def _constrain(
    graph: _Graph, ops: Sequence[Op], mine: list[int], guarantee: str, rf: dict[int, int]
) -> tuple[int, ...] | None:
    """Add what `guarantee` asks of one client's operations `mine` (in order of invocation).

    A client whose completed operations follow one another (each invoked after the one before
    returned, as a Jepsen client's) is a chain, and its constraints go through points between its
    operations, linear in its operations: the point after its first k completed operations comes
    after what they ask to be before (its writes, for read-your-writes; the writes they read, for
    writes-follow-reads) and before what comes later; monotonic-writes and monotonic-reads, being
    transitive along the chain, take consecutive pairs. Any other client's are taken pair by pair
    (quadratic in its operations)."""
    done = [i for i in mine if ops[i].ret != math.inf]
    if not all(ops[a].ret < ops[b].call for a, b in itertools.pairwise(done)):
        return _pairwise(graph, ops, mine, guarantee, rf)
    rets = [ops[i].ret for i in done]
    place = {i: k for k, i in enumerate(done)}

    def after(i: int) -> int:  # how many of the completed operations returned before i began
        return bisect.bisect_left(rets, ops[i].call)

    writes = [i for i in mine if stored(ops[i])[0]]
    if guarantee == "monotonic-writes":
        ok = [i for i in writes if i in place]
        for a, b in itertools.pairwise(ok):
            graph.add(a, b, (a, b), True)
        for w in writes:
            if w not in place:  # pending: after the client's last completed write before it
                last = [a for a in ok if place[a] < after(w)]
                if last:
                    graph.add(last[-1], w, (last[-1], w), True)
        return None
    reads = [i for i in done if i in rf]
    if guarantee == "monotonic-reads":
        for a, b in itertools.pairwise(reads):
            loop = graph.add(rf[a], rf[b], (a, b, *_source(rf[a]), *_source(rf[b])), False)
            if loop is not None:
                return loop
        return None
    points = graph.points(len(done))
    if guarantee == "writes-follow-reads":
        for r in reads:
            graph.add(rf[r], points[place[r]], (r, *_source(rf[r])), True)
        for w in writes:
            if w in rf:  # a cas reads, then writes
                loop = graph.add(rf[w], w, (w, *_source(rf[w])), True)
                if loop is not None:
                    return loop
            if after(w):
                graph.add(points[after(w) - 1], w, (w,), True)
        return None
    # read-your-writes
    own = [w for w in writes if w in place]  # in order of place
    at = [place[w] for w in own]
    for w in own:
        graph.add(w, points[place[w]], (w,), True)
    for r in reads:
        k, t = after(r), rf[r]
        if t in place and place[t] < k:  # it read its own write: the others before it, before t
            if place[t]:
                graph.add(points[place[t] - 1], t, (r, t), True)
            for w in own[bisect.bisect_right(at, place[t]) : bisect.bisect_left(at, k)]:
                graph.add(w, t, (w, r, t), True)
        elif k:
            graph.add(points[k - 1], t, (r, *_source(t)), True)
    return None


def _pairwise(
    graph: _Graph, ops: Sequence[Op], mine: list[int], guarantee: str, rf: dict[int, int]
) -> tuple[int, ...] | None:
    """`_constrain` for a client whose operations overlap: pair by pair."""
    writes = [i for i in mine if stored(ops[i])[0]]
    reads = [i for i in mine if i in rf]
    pairs: list[tuple[int, int, tuple[int, ...], bool]] = []
    if guarantee == "monotonic-writes":
        pairs = [(a, b, (a, b), True) for a in writes for b in writes if before(ops[a], ops[b])]
    elif guarantee == "read-your-writes":
        pairs = [
            (w, rf[r], (w, r, *_source(rf[r])), False)
            for w in writes
            for r in reads
            if before(ops[w], ops[r])
        ]
    elif guarantee == "monotonic-reads":
        pairs = [
            (rf[a], rf[b], (a, b, *_source(rf[a]), *_source(rf[b])), False)
            for a in reads
            for b in reads
            if before(ops[a], ops[b])
        ]
    else:  # writes-follow-reads; a cas reads, then writes
        pairs = [
            (rf[r], w, (r, w, *_source(rf[r])), True)
            for r in reads
            for w in writes
            if before(ops[r], ops[w]) or r == w
        ]
    for x, y, why, strict in pairs:
        loop = graph.add(x, y, why, strict)
        if loop is not None:
            return loop
    return None


def _source(w: int) -> tuple[int, ...]:
    return () if w == INIT else (w,)


def _cycle(edges: dict[int, dict[int, tuple[int, ...]]]) -> list[int] | None:
    """A cycle of the graph (its nodes in order), or None: depth first, colours white, grey,
    black; the first edge back to a grey node closes it."""
    colour: dict[int, int] = {}
    for root in sorted(edges):
        if colour.get(root):
            continue
        path = [root]
        colour[root] = 1
        stack = [iter(sorted(edges[root]))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
                continue
            state = colour.get(nxt, 0)
            if state == 1:
                return path[path.index(nxt) :]
            if state == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, {}))))
    return None


def _ops(ops: Sequence[Op], positions: tuple[int, ...]) -> tuple[Op, ...]:
    return tuple(ops[i] for i in sorted(set(positions)))


def _because(ops: Sequence[Op], asked: list[tuple[int, ...]]) -> str:
    """The operations that ask for the cycle's edges, in words."""
    named = sorted({i for why in asked for i in why})
    return "no order of the writes fits " + ", ".join(_show(ops[i]) for i in named)


def _show(o: Op) -> str:
    from meshcheck.traces.history.window import label

    return f"{o.process}:{label(o)}"
