"""Transactions, as the list-append and rw-register checkers read them
(traces/history/list_append.py, traces/history/rw_register.py): the value both hold, its
micro-operations read from a history's paired events, and the real-time (rt) edges between
transactions.

A transaction is one paired call whose value is a list of micro-operations `[f, key, value]`. Each
checker names its own functions f and validates its own values; the shape of a micro-operation
and its key, a number or a string, are common to both, as is the rule that an ok completion
carries the same micro-operations as its invocation (with the values read filled in).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any
from typing import Protocol
from typing import TypeVar

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import cycles
from meshcheck.traces.history import events
from meshcheck.traces.history import reader
from meshcheck.traces.history.cycles import RT

Mop = tuple[str, Hashable, Any]  # (f, key, value), as each checker reads them

M = TypeVar("M", bound=Mop)
T = TypeVar("T")


@attrs.frozen(eq=False)
class Txn:
    """A transaction: its operations and its span (`ret` infinite when its outcome is unknown).
    Each checker subclasses it to show its micro-operations (`part`). Compared by identity: two
    transactions with the same operations are still two."""

    index: int
    process: Hashable
    mops: tuple[Mop, ...]
    call: float
    ret: float
    status: str

    def label(self) -> str:
        return f"T{self.index}"

    def part(self, f: str, k: Hashable, v: Any) -> str:
        """One micro-operation as the checker's reports show it."""
        raise NotImplementedError

    def writes(self, write: str) -> list[tuple[Hashable, Any]]:
        """Its writes, (key, value) in order (`write`: the checker's f of a write)."""
        return [(k, v) for f, k, v in self.mops if f == write]

    def last(self, write: str) -> dict[Hashable, Any]:
        """Its last write to each key it writes: what it leaves there when it takes effect."""
        return dict(self.writes(write))

    def show(self) -> str:
        parts = [self.part(f, k, v) for f, k, v in self.mops]
        return (
            f"T{self.index}  process {self.process}  {events.span(self.call, self.ret)}  "
            f"{self.status}  " + "  ".join(f"[{p}]" for p in parts)
        )


def scalar(x: Any) -> bool:
    """A key or a value: a number or a string (JSON's true and false are neither)."""
    return isinstance(x, int | str) and not isinstance(x, bool)


# the types of a key or a value as JSON and EDN give them: in C, `SCALARS.issuperset(map(type,
# values))` says of many at once that `scalar` holds (False: ask `scalar`, which admits subclasses)
SCALARS = frozenset({int, str})


def triples(
    value: Any, c: events.Call, name: str, fs: tuple[str, ...], expected: str
) -> Iterator[Any]:
    """The micro-operations of a call's value, one at a time, each a list [f, key, value] with f
    one of `fs` and a number or a string for key (`expected` words their shape); the caller
    validates the values, in the same pass, so that the first bad one is the one named."""
    if not isinstance(value, list):
        raise c.event.bad(name, "value", "expected a list of micro-operations [f, key, value]")
    for m in value:
        if not (isinstance(m, list) and len(m) == 3 and m[0] in fs):
            raise c.event.bad(name, "value", f"expected {expected}: {m}")
        if type(m[1]) not in SCALARS and not scalar(m[1]):
            raise c.event.bad(name, "value", f"a key is a number or a string: {m}")
        yield m


def operations(
    c: events.Call,
    name: str,
    mops: Callable[[Any, events.Call, str], tuple[M, ...]],
    shape: Callable[[M], Hashable],
) -> tuple[M, ...]:
    """The call's micro-operations (`mops` reads them); of an ok completion, those must have the
    invocation's shape (`shape`: what the completion may not change)."""
    out = mops(c.value, c, name)
    if c.status == "ok" and c.invoked is not None:
        before = mops(c.invoked, c, name)
        if [shape(m) for m in before] != [shape(m) for m in out]:
            raise c.event.bad(
                name, "value", "the completion's micro-operations differ from the invocation's"
            )
    return out


def read(path: str, parse: Callable[[Sequence[events.Call], str], T]) -> tuple[str, T]:
    """The file's name and its transactions: its events paired, with `f` "txn"."""
    with reader.bulk():  # left once the events are freed: the collector then sees none of them
        return _read(path, parse)


def _read(path: str, parse: Callable[[Sequence[events.Call], str], T]) -> tuple[str, T]:
    name, evs = events.read(path)
    return name, parse(events.pair(evs, name, ("txn",)), name)


def committed(name: str, txns: Sequence[Txn]) -> None:
    """Raises `MeshcheckError` when the history has nothing to check: no transaction, or none
    committed (ok)."""
    if not txns:
        raise MeshcheckError(f"{name}: the history has no transactions: nothing to check")
    if not any(t.status == "ok" for t in txns):
        raise MeshcheckError(
            f"{name}: none of the history's {len(txns)} transactions committed (ok): "
            "nothing to check"
        )


def keys(txns: Sequence[Txn]) -> int:
    """How many keys the transactions touch."""
    return len({k for t in txns for _, k, _ in t.mops})


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
    for a, b in precedences(txns):
        graph.add(a, b, RT)


def precedences(txns: Sequence[Timed]) -> Iterator[tuple[int, int]]:
    """The real-time precedences (a completed before b was invoked, by index), as few as keep
    every one by transitivity (`realtime`'s)."""
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
                yield a, i
        else:
            frontier.difference_update(before.get(i, ()))
            frontier.add(i)


def process_order(
    txns: Sequence[Timed], process: Callable[[int], Hashable], graph: cycles.Graph
) -> None:
    """Edges of process order, of kind rt (the searches take them in rt's place when a strong
    session model is checked): from each committed transaction to every later one of its process
    (`process`, by index), as few as keep them by transitivity: to the next, and past one whose
    outcome is unknown (it took effect at no known time: no edge out of it). A failed one took
    no effect."""
    for a, b in in_process_order(txns, process):
        graph.add(a, b, RT)


def in_process_order(
    txns: Sequence[Timed], process: Callable[[int], Hashable]
) -> Iterator[tuple[int, int]]:
    """The pairs of process order (`process_order`'s), by index."""
    last: dict[Hashable, int] = {}
    for t in sorted(txns, key=lambda t: t.call):
        if t.status == "fail":
            continue
        p = process(t.index)
        if p is None:
            continue
        if p in last:
            yield last[p], t.index
        if t.status == "ok":
            last[p] = t.index
