"""Sequential models a history is checked against, as Porcupine's `Model` (model.go): an initial
state, a step function, equality (states here are hashable Python values, so equality and the
search's cache come from `==` and `hash`), a description of states and operations for reports, and
a partition function for P-compositionality.

`step(state, op)` returns every state the operation may lead to (none: it cannot have happened in
this state, with this output). An `info` operation's output is unknown, so the step accepts any.

The models follow Jepsen's knossos.model: `register` (read, write), `cas-register` (read, write,
cas with value [old, new]; an ok read of nil is a read of the register before any write, not
Knossos's read of an unknown value, which matches any state: a read whose value is unknown is
`info`), and `kv`, a cas-register per key, whose histories are checked key by key.

`rsm` is the case store of impl/rsm (`Rsm`): see its docstring. `mutex` is a lock held by a
lease, as etcd's lock API's (`Mutex`).
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import defaultdict
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import freeze
from meshcheck.impl.rsm import ApplyPolicy
from meshcheck.impl.rsm import CreateCase
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import DeployOverlay
from meshcheck.impl.rsm import StateMachine
from meshcheck.impl.rsm import UpdateCaseState
from meshcheck.impl.rsm import from_value
from meshcheck.traces.history import reader
from meshcheck.traces.history.history import Op

# seconds: `meshcheck history check`'s default --budget (a report's replay line names another)
CHECK_BUDGET = 60.0

# What one operation needs beside it in a sub-history (a failing window, traces/history/window.py):
# clauses, each a tuple of positions in the operations given, of which at least one must be there.
Needs = tuple[tuple[int, ...], ...]


class Model:
    """A register: reads return the last value written, None before any write."""

    name = "register"
    fs: frozenset[str] = frozenset({"read", "write"})
    keyed = False  # True: operations name a key and `partition` splits by it
    # True: the search orders operations by their process alone, not by real time (sequential
    # consistency: traces/history/sequential.py); False: linearizability
    per_process = False
    # how a history file carries an operation (traces/history/jepsen.py): Jepsen's registers put a
    # write's value on its invocation and a read's on its completion; a model whose every
    # operation has both an input and an output (a query and its answer) takes the input from
    # the invocation and the output from the completion, for reads and writes alike
    both_values = False
    # what goes with an operation dropped from a window (`needs`), as a report says it
    dependents = "what read from it"

    def decode(self, value: Any) -> Hashable:
        """A value read from a history file (JSON or EDN data: lists, dicts) as the model's own:
        here lists become tuples and maps sorted pairs, all hashable."""
        return reader.hashable(value)

    def init(self) -> Hashable:
        return None

    def step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        if op.f == "write":
            return (op.input,)
        if op.f == "read":
            if op.pending or op.output == state:
                return (state,)
            return ()
        return self._step(state, op)

    def _step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        raise ValueError(f"{self.name}: no operation {op.f!r}")

    def read_only(self, op: Op) -> bool:
        """An operation that never changes the state: pending, it constrains nothing and is dropped."""
        return op.f == "read"

    def alike(self, op: Op) -> Hashable:
        """What `step` reads of an operation: two operations with the same `alike` step alike in
        every state (the search computes the step once for them, and of two alike operations that
        may both be linearized next tries only the one that returns first). Everything but who
        called it, when, and its place in the history; a model whose step reads more says so here."""
        return (op.f, op.key, op.input, op.output, op.status)

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

    def needs(self, ops: Sequence[Op]) -> list[Needs]:
        """The model's dependencies among `ops`: for each operation (by position), the clauses it
        needs beside it in a sub-history, so that the sub-history is one a history could have
        been (a window without them is meaningless: without the write of 1, "read 1" fails on its
        own and the stale read it took part in is lost).

        The register family (read, write, cas): an operation that observed value v (an ok read of
        v, a completed cas from v) needs a write of v invoked before it returned (a `source`:
        one clause, any of them) and every source not surely overwritten before it was invoked
        (a `possible` source: one clause each), so that dropping the write it read from drops
        it, even when an older write of the same value remains. The initial value, and a value
        no operation wrote (a corrupt read, its own window), need nothing."""
        return _register_needs(ops, self.init())

    def describe_state(self, state: Hashable) -> str:
        return "nil" if state is None else repr(state)


def _observes(o: Op) -> tuple[bool, Hashable]:
    """(True, value) when the operation saw `value` in the register: an ok read of a known value,
    a completed cas from its old value."""
    if o.f == "read" and not o.pending and o.output is not None:
        return True, o.output
    if o.f == "cas" and not o.pending and isinstance(o.input, tuple) and len(o.input) == 2:
        return True, o.input[0]
    return False, None


def _stores(o: Op) -> tuple[bool, Hashable]:
    if o.f == "write":
        return True, o.input
    if o.f == "cas" and isinstance(o.input, tuple) and len(o.input) == 2:
        return True, o.input[1]
    return False, None


def _register_needs(ops: Sequence[Op], init: Hashable) -> list[Needs]:
    """`Model.needs` for registers, key by key (the kv model's keys are independent)."""
    writers: dict[tuple[Hashable, Hashable], list[int]] = defaultdict(list)
    for i, o in enumerate(ops):
        wrote, value = _stores(o)
        if wrote:
            writers[(o.key, value)].append(i)
    # per key, what surely took effect (ok writes and cas) by return time, with the latest
    # invocation among them so far
    effects: dict[Hashable, list[Op]] = defaultdict(list)
    for o in sorted(ops, key=lambda o: o.ret):
        if o.status == "ok" and o.f in _WRITES:
            effects[o.key].append(o)
    rets = {k: [o.ret for o in v] for k, v in effects.items()}
    latest: dict[Hashable, list[float]] = {}
    for k, v in effects.items():
        acc: list[float] = []
        for o in v:
            acc.append(max(o.call, acc[-1] if acc else -math.inf))
        latest[k] = acc
    out: list[Needs] = []
    for i, o in enumerate(ops):
        seen, value = _observes(o)
        sources = [] if not seen or value == init else writers.get((o.key, value), [])
        sources = [j for j in sources if j != i and ops[j].call < o.ret]
        if not sources:
            out.append(())
            continue
        k = bisect.bisect_left(rets.get(o.key, []), o.call)  # effects done before o's call
        overwritten_after = latest[o.key][k - 1] if k else -math.inf
        possible = [j for j in sources if not ops[j].ret < overwritten_after]
        out.append((tuple(sources), *((j,) for j in possible)))
    return out


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


def _custom_set(op: Op) -> tuple[str, Hashable] | None:
    """(key, value) of a write that is a `Custom` operation (value None: a delete), else None."""
    value = op.input
    if op.f == "write" and isinstance(value, FrozenDict) and value.get("op") == "Custom":
        key = value.get("key")
        if isinstance(key, str):
            return key, value.get("value")
    return None


def _unseen(seen: set[Hashable]) -> str:
    """A value no read returned (the same one for every call with the same reads)."""
    value = "(unobserved)"
    while value in seen:
        value += "'"
    return value


def _custom_read(op: Op) -> str | None:
    """The key a read of a custom key reads, else None."""
    query = op.input
    if isinstance(query, tuple) and len(query) == 2 and query[0] == "custom":
        return str(query[1])
    return None


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
    dependents = "what answered after it from what it wrote"
    both_values = True  # a write's answer and a read's query are part of the history

    def decode(self, value: Any) -> Hashable:
        """JSON data as impl/rsm's values: objects become FrozenDicts (an operation record, a
        result), arrays tuples (a query (kind, name))."""
        try:
            return freeze(value) if value is not None else None
        except TypeError as exc:
            raise ValueError(f"not JSON-like data: {exc}") from None

    def init(self) -> Hashable:
        return FrozenDict()

    def read_only(self, op: Op) -> bool:
        return op.f == "read"

    def prune(self, ops: Sequence[Op]) -> list[Op]:
        """A pending `Custom` set of key k to a value no read of k returned, once k certainly
        exists (an ok set of k completed before it was invoked, and nothing in the history
        deletes k), is taken as never having happened. As for a register (`Model.prune`): in a
        linearization that has it, no read of k comes before the next set of k (it would have
        returned the value), and every set of k answers "existed" whether it happened or not.
        Before k certainly exists, such sets differ only in when they may make k exist, so only the
        earliest invoked is kept: any linearization placing another at some point may place the
        earliest there instead (it was invoked no later) and drop the rest.
        Other pending operations are kept: a case's or policy's effects show in the results of
        later writes (a CreateCase answers "exists", versions count up)."""
        seen: dict[str, set[Hashable]] = defaultdict(set)  # key -> values reads returned
        created: dict[str, float] = {}  # key -> the earliest return of an ok set of it
        deleted: set[str] = set()
        for o in ops:
            read = _custom_read(o) if o.f == "read" and o.status == "ok" else None
            if read is not None:
                answer = o.output
                seen[read].add(answer.get("value") if isinstance(answer, FrozenDict) else answer)
            custom = _custom_set(o)
            if custom is not None:
                key, value = custom
                if value is None:
                    deleted.add(key)
                elif o.status == "ok":
                    created[key] = min(created.get(key, math.inf), o.ret)
        kept: list[Op] = []
        first_unseen: set[str] = set()  # keys whose earliest unobserved pending set is kept
        for o in sorted(ops, key=lambda o: o.call):
            custom = _custom_set(o)
            if custom is not None:
                key, value = custom
                if value is not None and value not in seen[key]:
                    if o.pending and key not in deleted:
                        if created.get(key, math.inf) < o.call or key in first_unseen:
                            continue
                        first_unseen.add(key)
                    # One value for every value of k no read returned: such values are told
                    # apart by nothing (a set's answer does not name its value), and with them
                    # alike the orders of sets no read separates reach one state, which the
                    # search's cache then meets once (Lowe's memoization).
                    record = dict(o.input) if isinstance(o.input, FrozenDict) else {}
                    record["value"] = _unseen(seen[key])
                    o = attrs.evolve(o, input=FrozenDict(record))
            kept.append(o)
        return kept

    def step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        if op.f not in self.fs:
            raise ValueError(f"{self.name}: no operation {op.f!r}")
        # a pure function of the two: the search meets the same pair from many configurations
        return _rsm_step(state, op)

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

    def needs(self, ops: Sequence[Op]) -> list[Needs]:
        """A write answers from the state the writes before it made (a set says whether its key
        existed, a create whether the case did, versions count up), and a read returns it: every
        operation needs each write on an object it touches that was invoked before it returned
        (one that may come before it). A read of the applied count ("") needs nothing."""
        touched = [set(rsm_objects(o)) for o in ops]
        out: list[Needs] = []
        for i, o in enumerate(ops):
            out.append(
                tuple(
                    (j,)
                    for j, w in enumerate(ops)
                    if j != i and w.f == "write" and w.call < o.ret and touched[i] & touched[j]
                )
            )
        return out

    def describe_state(self, state: Hashable) -> str:
        return repr(state)


@functools.lru_cache(maxsize=1 << 16)
def _rsm_step(state: Hashable, op: Op) -> tuple[Hashable, ...]:
    """`Rsm.step`, cached."""
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


_ANONYMOUS = ("the holder of a lock taken without a lease",)


class Mutex(Model):
    """A lock held by a lease (etcd's lock API, /v3/lock: a lock belongs to the lease it was taken
    with, and revoking the lease frees it). The state is the holding lease (None: free).
    `acquire` with input a lease takes a free lock; `release` with input a lease frees the lock
    that lease holds; `revoke` of a lease frees the lock if that lease holds it and changes
    nothing otherwise (a client that does not know whether its acquire took effect revokes its
    lease). An ok acquire of a held lock, or an ok release by a lease that does not hold it, cannot
    have happened: two clients held the lock at once (Jepsen's lock workloads check the same,
    knossos.model/mutex, with the owner added)."""

    name = "mutex"
    fs = frozenset({"acquire", "release", "revoke"})
    dependents = "the rest of its lease's operations"

    def _step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        # a pending acquire or release may not have taken effect: where it cannot have, it did
        # nothing (the search may place a pending operation anywhere after its invocation, and
        # must be able to: there it is the same as never having happened)
        nothing: tuple[Hashable, ...] = (state,) if op.pending else ()
        # an operation with no lease (Knossos's knossos.model/mutex histories carry none) holds
        # the lock as the one anonymous holder: the lock is then held or free, not owned
        holder = _ANONYMOUS if op.input is None else op.input
        if op.f == "acquire":
            return (holder,) if state is None else nothing
        if op.f == "release":
            return (None,) if state == holder else nothing
        if op.f == "revoke":
            return (None,) if state == holder else (state,)
        return super()._step(state, op)

    def read_only(self, op: Op) -> bool:
        return False

    def prune(self, ops: Sequence[Op]) -> list[Op]:
        """Without the pending acquires that no completed release of their lease observed: one
        may have taken effect or not, and taken to have not it constrains nothing else (in a
        linearization where it took the lock, nothing else acquired it until its lease let go,
        and then the lock is free as if it had never been taken); the revoke its client sends
        after it frees the lock if it did. An ok release of the lease says it did take effect,
        and then it stays. A pending release stays: it may have freed the lock for the next
        acquire."""
        released = {o.input for o in ops if o.f == "release" and o.status == "ok"}
        return [o for o in ops if not (o.pending and o.f == "acquire" and o.input not in released)]

    def needs(self, ops: Sequence[Op]) -> list[Needs]:
        """The operations of one lease go together: a release without the acquire it releases is
        one no lease could make, and an acquire without its release holds the lock forever, so
        any later acquire would look like a second holder (a lease takes the lock once: etcd's
        clients grant a lease for each acquisition). Operations with no lease (Knossos's mutex
        histories) all go together: dropping a release any of them could pair with would make a
        window that is not evidence."""
        by_lease: dict[Hashable, list[int]] = defaultdict(list)
        for i, o in enumerate(ops):
            by_lease[o.input].append(i)
        return [tuple((j,) for j in by_lease[o.input] if j != i) for i, o in enumerate(ops)]


MODELS: dict[str, Model] = {m.name: m for m in (Model(), CasRegister(), KeyValue(), Rsm(), Mutex())}
