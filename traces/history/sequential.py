"""A register model checked for sequential consistency: a legal total order of the operations that
keeps each process's own order, real time ignored (Lamport 1979; Viotti and Vukolić, "Consistency
in Non-Transactional Distributed Storage Systems", ACM CSUR 49(1), 2016, section 3.3).

`Sequential(model)` is `model` with `per_process` set, so the checker's search (checker.py) orders
operations by process, not by real time. Process order: `a` comes before `b` when both are of one
process and `a` returned before `b` was invoked; a pending (`info`) operation returned never, so it
comes before nothing and may take effect anywhere after its process's earlier operations, or
never (Jepsen gives a crashed process's later operations a new process number, so they are not
ordered after it either way).

Its `needs` (what an operation keeps beside it in a window, traces/history/window.py) drops real
time too: an operation that observed a value needs every write of that value, whenever invoked
(under sequential consistency a read may take a value from a write invoked after it returned).
With every writer of its value kept, a read keeps the write it read from in any order, so a
window of a sequentially consistent history is sequentially consistent.

The kv model's keys are checked one by one, as for linearizability: sequential consistency of
each key, which is weaker than of the map as a whole (unlike linearizability, sequential
consistency is not local: Herlihy and Wing, TOPLAS 12(3), 1990, section 3.4).
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import Model
from meshcheck.traces.history.models import Needs


class Sequential(Model):
    """`inner` ordered per process (see the module's docstring); otherwise `inner` itself."""

    per_process = True

    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.name = inner.name
        self.fs = inner.fs
        self.keyed = inner.keyed
        self.both_values = inner.both_values
        self.dependents = "every write of the value it read"

    def decode(self, value: Any) -> Hashable:
        return self.inner.decode(value)

    def init(self) -> Hashable:
        return self.inner.init()

    def step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        return self.inner.step(state, op)

    def read_only(self, op: Op) -> bool:
        return self.inner.read_only(op)

    def alike(self, op: Op) -> Hashable:
        return self.inner.alike(op)

    def partition(self, ops: Sequence[Op]) -> list[tuple[Hashable, list[Op]]]:
        return self.inner.partition(ops)

    def prune(self, ops: Sequence[Op]) -> list[Op]:
        return self.inner.prune(ops)

    def needs(self, ops: Sequence[Op]) -> list[Needs]:
        return observed_needs(ops, self.init())

    def describe_state(self, state: Hashable) -> str:
        return self.inner.describe_state(state)


def observed(o: Op) -> tuple[bool, Hashable]:
    """(True, value) when the operation saw `value` in the register: an ok read, a completed cas
    (its old value)."""
    if o.status != "ok":
        return False, None
    if o.f == "read":
        return True, o.output
    if o.f == "cas" and isinstance(o.input, tuple) and len(o.input) == 2:
        return True, o.input[0]
    return False, None


def stored(o: Op) -> tuple[bool, Hashable]:
    """(True, value) when the operation writes `value` (a write, a cas: its new value)."""
    if o.f == "write":
        return True, o.input
    if o.f == "cas" and isinstance(o.input, tuple) and len(o.input) == 2:
        return True, o.input[1]
    return False, None


def observed_needs(ops: Sequence[Op], init: Hashable) -> list[Needs]:
    """For each operation that observed a value other than the initial one, every other operation
    of its key that wrote that value (a clause each); none for the rest."""
    writers: dict[tuple[Hashable, Hashable], list[int]] = {}
    for i, o in enumerate(ops):
        wrote, value = stored(o)
        if wrote and o.status != "fail":
            writers.setdefault((o.key, value), []).append(i)
    out: list[Needs] = []
    for i, o in enumerate(ops):
        seen, value = observed(o)
        if not seen or value == init:
            out.append(())
            continue
        out.append(tuple((j,) for j in writers.get((o.key, value), []) if j != i))
    return out
