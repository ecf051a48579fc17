"""Sequential models a history is checked against, as Porcupine's `Model` (model.go): an initial
state, a step function, equality (states here are hashable Python values, so equality and the
search's cache come from `==` and `hash`), a description of states and operations for reports, and
a partition function for P-compositionality.

`step(state, op)` returns every state the operation may lead to (none: it cannot have happened in
this state, with this output). An `info` operation's output is unknown, so the step accepts any.

The models follow Jepsen's knossos.model: `register` (read, write), `cas-register` (read, write,
cas with value [old, new]; a read of nil is a read whose value was not known and matches any
state), and `kv`, a cas-register per key, whose histories are checked key by key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

from meshcheck.traces.history.history import Op


class Model:
    """A register: reads return the last value written, None before any write."""

    name = "register"
    fs: frozenset[str] = frozenset({"read", "write"})
    keyed = False  # True: operations name a key and `partition` splits by it

    def init(self) -> Hashable:
        return None

    def step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        if op.f == "write":
            return (op.input,)
        if op.f == "read":
            if op.pending or op.output is None or op.output == state:
                return (state,)
            return ()
        return self._step(state, op)

    def _step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        raise ValueError(f"{self.name}: no operation {op.f!r}")

    def read_only(self, op: Op) -> bool:
        """An operation that never changes the state: pending, it constrains nothing and is dropped."""
        return op.f == "read"

    def partition(self, ops: Sequence[Op]) -> list[tuple[Hashable, list[Op]]]:
        """Independent parts of a history (P-compositionality): here one part, the whole history."""
        return [(None, list(ops))]

    def prune(self, ops: Sequence[Op]) -> list[Op]:
        """The operations of one part without the pending ones that cannot matter to the verdict.

        A pending write (or cas) whose value no operation observes (no read returned it, no cas
        expected it) may be taken as never having happened: in any linearization that has it, the
        operations up to the next write see its value, so none of them is a read or an ok cas (they
        would have observed it), and removing it leaves a linearization. Every pending operation
        doubles the search when the history is not linearizable (it may or may not have taken
        effect), so this is what keeps histories with timeouts cheap to refute."""
        observed = {o.output for o in ops if o.f == "read" and o.status == "ok"}
        observed.update(_pair(o.input)[0] for o in ops if o.f == "cas" and o.status != "fail")
        return [
            o for o in ops if not (o.pending and o.f in _WRITES and _written(o) not in observed)
        ]

    def describe_state(self, state: Hashable) -> str:
        return "nil" if state is None else repr(state)


class CasRegister(Model):
    """Jepsen's cas-register: also `cas` with input (old, new), which takes effect only when the
    register holds `old` (an ok cas must have found it; a failed one is dropped before checking)."""

    name = "cas-register"
    fs = frozenset({"read", "write", "cas"})

    def _step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        if op.f != "cas":
            return super()._step(state, op)
        old, new = _pair(op.input)
        if state == old:
            return (new,)
        # a pending cas that found another value did nothing; an ok one cannot have happened here
        return (state,) if op.pending else ()


class KeyValue(CasRegister):
    """A map of independent cas-registers: a history is checked key by key."""

    name = "kv"
    keyed = True

    def partition(self, ops: Sequence[Op]) -> list[tuple[Hashable, list[Op]]]:
        parts: dict[Hashable, list[Op]] = defaultdict(list)
        for o in ops:
            parts[o.key].append(o)
        return list(parts.items())


_WRITES = frozenset({"write", "cas"})


def _written(op: Op) -> Hashable:
    """The value a write or cas stores."""
    return op.input if op.f == "write" else _pair(op.input)[1]


def _pair(value: Hashable) -> tuple[Hashable, Hashable]:
    if isinstance(value, tuple) and len(value) == 2:
        return value[0], value[1]
    raise ValueError(f"cas value {value!r}: expected [old, new]")


MODELS: dict[str, Model] = {m.name: m for m in (Model(), CasRegister(), KeyValue())}
