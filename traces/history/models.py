"""Sequential models a history is checked against, as Porcupine's `Model` (model.go): an initial
state, a step function, equality (states here are hashable Python values, so equality and the
search's cache come from `==` and `hash`), a description of states and operations for reports, and
a partition function for P-compositionality.

`step(state, op)` returns every state the operation may lead to (none: it cannot have happened in
this state, with this output). An `info` operation's output is unknown, so the step accepts any.

The models follow Jepsen's knossos.model: `register` (read, write), `cas-register` (read, write,
cas with value [old, new]; a read of nil is a read whose value was not known and matches any
state), and `kv`, a cas-register per key, whose histories are checked key by key.

`rsm` is the case store of impl/rsm (`Rsm`): see its docstring.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.rsm import (
    ApplyPolicy,
    CreateCase,
    Custom,
    DeployOverlay,
    StateMachine,
    UpdateCaseState,
    from_value,
)
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


Obj = tuple[str, str]  # an object of the case store: (kind, name), kind as StateMachine.read's
COUNTER: Obj = ("applied", "")  # what a read of "" observes


def rsm_objects(op: Op) -> tuple[Obj, ...]:
    """The objects of the case store an operation reads or writes."""
    if op.f == "read":
        if op.input == "":
            return (COUNTER,)
        query = op.input
        if isinstance(query, tuple) and len(query) == 2 and all(isinstance(q, str) for q in query):
            return ((query[0], query[1]),)
        return ()  # a malformed query: an error answer whatever the state
    try:
        decoded = from_value(op.input)
    except ImplError:
        return ()  # not an operation (a no-op, an opaque value): changes nothing
    if isinstance(decoded, CreateCase | UpdateCaseState):
        return (("case", decoded.case_id),)
    if isinstance(decoded, ApplyPolicy):
        return (("policy", decoded.name),)
    if isinstance(decoded, DeployOverlay):
        return (
            ("overlay", decoded.name),
            ("policy", decoded.policy),
            *(("case", c) for c in decoded.cases),
        )
    assert isinstance(decoded, Custom)
    return (("custom", decoded.key),)


class Rsm(Model):
    """The case store of impl/rsm as a sequential object: `write` applies a log entry value
    (`input`: an operation encoded by impl/rsm's `to_value`, or any other value, which changes
    nothing), `read` answers a query (`input`: "" or (kind, name)); an ok operation's `output`
    must equal the result impl/rsm's `StateMachine` gives in the model's state, including an
    operation that did not take effect (a compare-and-set `UpdateCaseState` whose `expected`
    does not hold answers {"ok": false, ...}). A step runs the `StateMachine` itself on the objects
    the operation touches; nothing of its logic is repeated here.

    The state is what the operations can observe: per object (a case, a policy, an overlay, a
    custom key) its value, absent when it does not exist.

    P-compositionality: each operation touches a set of objects (`rsm_objects`); the history is
    split into the connected parts of "touches a common object" (union-find), so a history whose
    operations each touch one object is checked object by object, and a `DeployOverlay`, which
    reads its policy and cases and writes its overlay, merges the parts of everything it touches
    into one.

    A read of "" answers how many entries the replica applied, which counts entries no client
    sent (leader no-ops, opaque values) and so is not a function of the client operations. It is
    checked as its own object, a counter that never goes down: a read of "" must return at least
    what every read linearized before it returned. A stale replica answering an older count is
    caught; how the count relates to the writes is not checked (it cannot be without the no-ops).
    """

    name = "rsm"
    fs = frozenset({"read", "write"})

    def init(self) -> Hashable:
        return FrozenDict()

    def read_only(self, op: Op) -> bool:
        return op.f == "read"

    def prune(self, ops: Sequence[Op]) -> list[Op]:
        """Nothing is pruned: unlike a register's, an rsm write's effect shows in the results of
        later writes too (a CreateCase answers "exists", a Custom says whether the key existed),
        so no pending write is known to be unobservable."""
        return list(ops)

    def step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        if op.f not in self.fs:
            raise ValueError(f"{self.name}: no operation {op.f!r}")
        if op.f == "read" and op.input == "":
            count = state.get(COUNTER, 0) if isinstance(state, FrozenDict) else 0
            if op.pending or op.output is None:
                return (state,)
            value = op.output.get("value") if isinstance(op.output, FrozenDict) else None
            if not isinstance(value, int) or value < count:
                return ()
            assert isinstance(state, FrozenDict)
            return (FrozenDict({**state, COUNTER: value}),)
        assert isinstance(state, FrozenDict)
        machine = StateMachine()
        tables = {
            "case": machine.cases,
            "policy": machine.policies,
            "overlay": machine.overlays,
            "custom": machine.custom,
        }
        for (kind, name), value in state.items():
            if kind in tables:
                tables[kind][name] = value
        write = op.f == "write"
        result = machine.apply_entry(op.input) if write else machine.read(op.input)
        if not op.pending and op.output is not None and result != op.output:
            return ()
        after = dict(state)
        for kind, name in rsm_objects(op):
            table = tables.get(kind)
            if table is None:
                continue
            if name in table:
                after[(kind, name)] = table[name]
            else:
                after.pop((kind, name), None)
        return (FrozenDict(after),)

    def partition(self, ops: Sequence[Op]) -> list[tuple[Hashable, list[Op]]]:
        parent: dict[Obj, Obj] = {}

        def find(x: Obj) -> Obj:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        touched = [rsm_objects(o) for o in ops]
        for objects in touched:
            for other in objects[1:]:
                parent[find(other)] = find(objects[0])
        parts: dict[Hashable, list[Op]] = defaultdict(list)
        for o, objects in zip(ops, touched, strict=True):
            parts[find(objects[0]) if objects else None].append(o)
        return list(parts.items())

    def describe_state(self, state: Hashable) -> str:
        return repr(state)


MODELS: dict[str, Model] = {m.name: m for m in (Model(), CasRegister(), KeyValue(), Rsm())}
