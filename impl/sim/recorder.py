"""The trace recorder: the run in the spec's vocabulary, as an ITF trace (impl/base/trace.py).

After each spec action (a `Segment` of a step, a dropped or duplicated message, a restart) the
plugin's refinement mapping gives the abstract state; a step that leaves it unchanged is a stutter
and is not recorded. The recorder keeps the spec's `messages` bag up to date as envelopes enter and
leave the network (the bag is a multiset of message records), and the fault notes to attach to the
next recorded step. With recording off it keeps nothing, and the bag is counted from the network
when someone asks for the abstract state.

What a recorded step keeps is its delta: the spec variables the action changed, with their new
values, and the action's name, parameters and notes. The states of the trace are built from the
deltas when it is asked for (`trace`), each state sharing the values of the variables it did not
change with the state before it, and kept, so that asking again builds only the steps recorded
since. A recorded run so holds one full abstract state (the last, to compare the next with) rather
than one per step: the mapping's values of every step kept alive made the garbage collector walk
them all again and again, which cost as much as the mapping itself (bench/bench_trace.py). The
trace is the one a recorder keeping every state would write, value for value
(tests/test_trace_recording.py compares the two on seeded runs of every protocol).
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.base.errors import ContractViolation
from meshcheck.impl.base.growth import added_to
from meshcheck.impl.base.growth import differ
from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.sim.network import Envelope
from meshcheck.impl.sim.network import Network


class TraceRecorder:
    """The steps recorded so far (as deltas), and the bag of message records they refer to."""

    def __init__(self, plugin_name: str, record_of: Callable[[Any], Value], enabled: bool) -> None:
        self.enabled = enabled
        self._plugin_name = plugin_name
        self._record_of = record_of  # the plugin's message_record
        self._records: dict[int, Value] = {}  # envelope id -> message record
        self._bag: Counter[Value] = Counter()
        self._bag_value: FrozenDict | None = None  # the bag as a value, until it changes
        self._state: FrozenDict | None = None  # the last recorded abstract state
        # per recorded step after the first: the variables it changed, its action and its meta
        self._deltas: list[_Delta] = []
        self._steps: list[Step] = []  # the steps built so far from the deltas (`trace`)
        self._notes: list[str] = []  # faults to mention in the next recorded step

    # -- the messages bag ---------------------------------------------------------------------------

    def put(self, envelope: Envelope) -> None:
        if self.enabled:
            record = self._record_of(envelope.message)
            self._records[envelope.id] = record
            self._bag[record] += 1
            self._bag_value = None

    def take(self, envelope: Envelope) -> None:
        if self.enabled:
            record = self._records.pop(envelope.id)
            self._bag[record] -= 1
            if not self._bag[record]:
                del self._bag[record]
            self._bag_value = None

    def record(self, envelope_id: int) -> Value | None:
        """The spec record of a message in flight (None when recording is off)."""
        return self._records.get(envelope_id)

    def bag(self, network: Network) -> FrozenDict:
        """The spec's `messages`: kept up to date while recording (the same object until the bag
        changes), else counted from the network."""
        if self.enabled:
            if self._bag_value is None:
                self._bag_value = FrozenDict(self._bag)
            return self._bag_value
        return FrozenDict(Counter(self._record_of(e.message) for e in network))

    # -- steps --------------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        if self.enabled:
            self._notes.append(text)

    def init(self, state: FrozenDict) -> None:
        if self.enabled:
            self._state = state
            self._steps.append(Step(state, INIT, FrozenDict(), FrozenDict({"time": 0})))

    def step(
        self,
        state: Callable[[], FrozenDict],
        action: str | None,
        params: Mapping[str, Value],
        *,
        node: str,
        event: object,
        now: int,
        fault: str = "",
    ) -> None:
        """Record a spec action if the abstract state (`state()`, computed only when recording)
        changed; a change with no action names is a plugin's contract violation."""
        if not self.enabled:
            return
        new = state()
        old = self._state
        if old is None or new.keys() != old.keys():
            if new == old:
                return
            changed: dict[str, Any] | FrozenDict = new  # every variable (a plug-in's new shape)
        else:
            # `differ`, not `!=`: `!=` on a tuple or a set has no shortcut for the same object or
            # (a tuple) another length, and walks every element (Raft's logs and `committed`,
            # gossip's `written`: thousands, per step; impl/base/growth.py)
            changed = {v: x for v, x in new.items() if differ(x, old[v])}
            if not changed:
                return  # a stutter: nothing the spec can see changed
            for v, x in changed.items():
                if type(x) in _CONTAINERS:
                    changed[v] = _encode(old[v], x)
        if action is None:
            raise ContractViolation(
                f"{self._plugin_name}: {event} at {node} changed the abstract state but names no spec action"
            )
        notes: tuple[str, ...] = ()
        if self._notes:
            notes = tuple(self._notes)
            self._notes = []
        self._state = new
        self._deltas.append(_Delta(changed, action, params, node, now, event, fault, notes))

    def __len__(self) -> int:
        """The steps `trace` would hold now (the initial one too), without building them."""
        return 1 + len(self._deltas) if self._steps else 0

    def trace(self, variables: tuple[str, ...], meta: Mapping[str, Value]) -> Trace:
        steps = self._steps
        if steps and len(steps) <= len(self._deltas):
            # The build makes several objects per step and keeps them all, and no cycles: each
            # collection the garbage collector would start during it would walk the steps built so
            # far again (for a long run, five times the build's own cost; bench/bench_trace.py).
            paused = gc.isenabled()
            gc.disable()
            try:
                state = steps[-1].state
                for delta in self._deltas[len(steps) - 1 :]:
                    steps.append(delta.build(state))
                    state = steps[-1].state
            finally:
                if paused:
                    gc.enable()
        return Trace(vars=variables, steps=tuple(steps), meta=FrozenDict(meta))


@attrs.define(eq=False, repr=False)
class _Delta:
    """One recorded step: the variables it changed and what the trace says of it."""

    changed: Mapping[str, Any]
    action: str
    params: Mapping[str, Value]
    node: str
    now: int
    event: object  # its label, or what builds it (`str` of it)
    fault: str
    notes: tuple[str, ...]

    def build(self, before: FrozenDict) -> Step:
        """The step, its state `before` with the changed variables' new values (in `before`'s
        order of variables; a change of shape, in the new state's)."""
        if isinstance(self.changed, FrozenDict):
            state = self.changed
        else:
            fresh = dict(before)
            for v, x in self.changed.items():
                fresh[v] = _decode(before[v], x) if type(x) in _CODED else x
            state = FrozenDict(fresh)
        event = self.event if isinstance(self.event, str) else str(self.event)
        meta: dict[str, Value] = {"node": self.node, "time": self.now, "event": event}
        if self.fault:
            meta["fault"] = self.fault
        if self.notes:
            meta["faults"] = self.notes
        return Step(state, self.action, FrozenDict(self.params), FrozenDict(meta))


# -- what a delta keeps of a changed variable ----------------------------------------------------------
#
# A variable's new value is kept as it is, unless most of it is the old value's: a tuple or a set
# that only grew (Raft's `committed`, a log; gossip's `written`), a function (a
# FrozenDict: the per-server variables, the messages bag) of which few arguments changed. Those are
# kept as what changed (`_Grown`, `_Patch`) and rebuilt from the state before when the trace is
# built. Keeping each value whole made a run keep one full copy of every log and history per change
# (quadratic in the run's length), and the garbage collector walked them all again and again: for
# Raft, more time than the mapping itself (bench/bench_trace.py).

_SMALL = 8  # a tuple or function shorter than this is kept whole
_SET = 256  # a set shorter than this is kept whole
_MISSING = object()


class _Grown:
    """A tuple or a set: the value before, with `added` appended (tuple) or added (set)."""

    __slots__ = ("added",)

    def __init__(self, added: tuple[Value, ...] | frozenset[Value]) -> None:
        self.added = added


class _Patch:
    """A function (FrozenDict): the value before, without `removed`, with `changes` (each a value,
    or a `_Grown` of the argument's value before)."""

    __slots__ = ("changes", "removed")

    def __init__(self, changes: dict[Value, Any], removed: tuple[Value, ...]) -> None:
        self.changes = changes
        self.removed = removed


_CODED = (_Grown, _Patch)
_CONTAINERS = (tuple, frozenset, FrozenDict)  # the values `_encode` may keep in part


def _grown(old: Value, new: Value) -> Value | _Grown:
    """`new`, or `_Grown` when it is a long tuple or set `old` that only grew. (Finding what a set
    gained and adding it back when the trace is built cost more than keeping a short one whole:
    `_SET`.)"""
    if type(new) is tuple and type(old) is tuple:
        k = len(old)
        if k >= _SMALL and len(new) > k:
            added = added_to(old, new)  # the mapping's word (impl/base/growth.py), else compare
            if added is not None:
                return _Grown(added)
            if new[:k] == old:
                return _Grown(new[k:])
    elif type(new) is frozenset and type(old) is frozenset:
        added = added_to(old, new)  # gossip's `written`: the plug-in's word, else compare
        if added is not None:
            return _Grown(added)
        if len(old) >= _SET and len(new) > len(old) and new > old:
            return _Grown(new - old)
    return new


def _encode(old: Value, new: Value) -> Value | _Grown | _Patch:
    """What a delta keeps of a variable that changed from `old` to `new`. A function's arguments
    are compared by identity: one whose value is another object is kept (as `_grown` of it), so
    that the rebuilt value is `new` at every level, types included."""
    if type(new) is not FrozenDict or type(old) is not FrozenDict:
        return _grown(old, new)
    changes: dict[Value, Any] = {}
    coded = False
    fresh = 0
    for k, v in new.items():
        w = old.get(k, _MISSING)
        if v is not w:
            if w is _MISSING:
                fresh += 1
                changes[k] = v
            else:
                x = changes[k] = _grown(w, v)
                coded = coded or x is not v
    gone = len(old) - (len(new) - fresh)
    if not coded and (len(new) < _SMALL or 2 * (len(changes) + gone) > len(new)):
        return new  # small, or most of it changed: kept whole (a patch would be more objects)
    removed = tuple(k for k in old if k not in new) if gone else ()
    return _Patch(changes, removed)


def _decode(before: Any, coded: _Grown | _Patch) -> Value:
    """The value `_encode(before, new)` kept: `new`."""
    if type(coded) is _Grown:
        added = coded.added
        grown: Value = before + added if type(added) is tuple else before | added
        return grown
    assert type(coded) is _Patch
    fresh = dict(before)
    for k in coded.removed:
        del fresh[k]
    for k, x in coded.changes.items():
        fresh[k] = _decode(before[k], x) if type(x) is _Grown else x
    return FrozenDict(fresh)
