"""The replicated state of a hybrid cluster: the application, the threat state, and the switch.

`HybridMachine` is the state machine each epoch's protocol instance (a RaftNode or a PBFT Replica)
drives: both take a `machine` factory, so the instance of epoch e+1 is simply built with a factory
that starts from `HybridState`, the state after the switch entry of epoch e (Raft: its index 0,
PBFT: its checkpoint 0; both replay from the factory after a restart or a state transfer, which is
why the machine is a pure function of the start state and the entries applied).

Applying one committed entry (`apply_entry`):

- an `OpEntry` is applied only in its own epoch, which must be the epoch its client tagged it
  with (signed), at most once per (client, seq): a retried op that was committed gets its first
  result; an op of another epoch, re-tagged, or with a bad client signature is not applied;
- an `EvidenceEntry` or a `ClockEntry` goes to the ThreatModel (verified there, or here for the
  clock's signature);
- when the level's protocol differs from the epoch's, the epoch ends at that entry: `closed` holds
  the state the next epoch starts from, and nothing after it is applied (hybrid contract, "Epochs").
"""

from __future__ import annotations

import hashlib
from typing import Any
from typing import Final

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import OpKey
from meshcheck.impl.hybrid.entries import well_formed
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import protocol
from meshcheck.impl.hybrid.threat import ACCEPTED
from meshcheck.impl.hybrid.threat import ThreatModel
from meshcheck.impl.hybrid.threat import Verify
from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.impl.rsm.ops import NOOP

COMMITTED = "committed"
REJECTED = "rejected"
BEYOND_SWITCH = "beyond the switch entry of its epoch"


@attrs.frozen
class HybridState:
    """The replicated state at one point of the committed history: what an epoch starts from."""

    epoch: int
    protocol: str
    app: bytes = attrs.field(repr=False)  # the application's StateMachine snapshot
    threat: ThreatModel
    history: tuple[OpKey, ...] = ()  # committed client ops, in order
    results: FrozenDict = attrs.field(factory=FrozenDict)  # OpKey -> its first result
    entries: int = 0  # entries applied over every epoch

    @classmethod
    def initial(cls, threat: ThreatModel) -> HybridState:
        return cls(1, RAFT, StateMachine().snapshot(), threat)


# the result of a value that is none of the entries, or one whose fields are not of their types
# (entries.well_formed): nothing changes
NOT_AN_ENTRY: Final = FrozenDict({"ok": False, "error": "not a hybrid entry"})


def _rejected(reason: str) -> FrozenDict:
    return FrozenDict({"ok": False, "status": REJECTED, "reason": reason})


# the kind of evidence whose one piece demands a level (Hybrid.tla's DemandedOne, f >= 1)
KIND_FOR: Final = {Level.CRITICAL: EQUIVOCATION, Level.HIGH: TAMPERING}


def canonical(value: Any) -> str:
    """`value` as text that is a function of its value: a set's members sorted, a dict's items
    sorted, an attrs value by its fields (its repr may leave some out). A repr is not: a
    frozenset's follows its iteration order, which depends on the order it was built in, so two
    equal threat states could print, and hash, differently."""
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(canonical(v) for v in value)) + "}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(canonical(v) for v in value) + ",)"
    if isinstance(value, dict):  # FrozenDict too
        items = sorted(f"{canonical(k)}: {canonical(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    cls = type(value)
    if attrs.has(cls):
        fields = (f"{a.name}={canonical(getattr(value, a.name))}" for a in attrs.fields(cls))
        return f"{cls.__qualname__}({', '.join(fields)})"
    return repr(value)


def op_name(key: OpKey) -> str:
    """An op as Hybrid.tla names it: "client/sequence"."""
    client, seq = key
    return f"{client}/{seq}"


class HybridMachine(StateMachine):
    """The application (this StateMachine's own tables) plus the hybrid layer's replicated state."""

    def __init__(
        self,
        start: HybridState,
        keys: Keys,
        verify: Verify,
        bugs: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__()
        StateMachine.restore(self, start.app)
        self.keys = keys
        self.verify = verify
        self.bugs = bugs
        self.epoch = start.epoch
        self.protocol = start.protocol
        self.threat = start.threat
        self.history: list[OpKey] = list(start.history)
        self.results: dict[OpKey, FrozenDict] = dict(start.results)
        self.entries = start.entries
        self.log: list[Any] = []  # the entries applied in this epoch, in order
        # per entry of `log`: the entry of Hybrid.tla's chain it is, None for one the spec does not
        # see (`spec_entry`); what the node reports as the spec's Order and Apply actions
        self.spec_entries: list[FrozenDict | None] = []
        self.evidence_seen: set[tuple[Any, ...]] = set()  # keys of evidence applied, any outcome
        self.closed: HybridState | None = None  # the next epoch's start, once the switch entry came
        self._term_start: HybridState | None = None  # the mutant's: the state at the last no-op

    @property
    def final(self) -> bool:
        return self.closed is not None

    # -- the state, as a value -------------------------------------------------------------------

    def state(self) -> HybridState:
        return HybridState(
            self.epoch,
            self.protocol,
            StateMachine.snapshot(self),
            self.threat,
            tuple(self.history),
            FrozenDict(self.results),
            self.entries,
        )

    def snapshot(self) -> bytes:
        """A digest of the state (Raft asks for one at start). The hybrid layer never compacts a
        Raft log (an epoch's log is short), so no snapshot is ever shipped or restored."""
        return hashlib.sha256(canonical(self.state()).encode()).digest()

    def digest(self) -> bytes:
        """A digest of the replicated client state: the application's tables, the committed ops in
        order and their first results (what the client history sees). Unlike `snapshot`, it leaves
        out the threat state and the entry count: evidence and clock entries change those between
        two client ops, so two honest nodes at the same op would differ by when they stepped."""
        doc = (StateMachine.snapshot(self), tuple(self.history), sorted(self.results.items()))
        return hashlib.sha256(repr(doc).encode()).digest()

    def restore(self, data: bytes) -> None:
        raise ImplError("a hybrid machine is rebuilt from its epoch's start state, not restored")

    # -- applying ---------------------------------------------------------------------------------

    def apply_entry(self, value: Value) -> FrozenDict:
        if self.closed is not None:
            if isinstance(value, OpEntry):
                return _rejected(BEYOND_SWITCH)
            return FrozenDict({"ok": False, "ignored": BEYOND_SWITCH})
        before = self.threat.level
        known = (
            isinstance(value, OpEntry)
            and well_formed(value)
            and self.outcome(value.op.key) is not None
        )
        result = self._apply(value)
        self.spec_entries.append(self.spec_entry(value, result, before, known))
        return result

    def spec_entry(
        self, value: Value, result: FrozenDict, before: Level, known: bool
    ) -> FrozenDict | None:
        """What Hybrid.tla's chain holds for entry `value` just applied (`result`; the level was
        `before`, `known`: its op had a result already), None if nothing (impl/hybrid/refinement.py
        says why each is so):

        - an `OpEntry` that committed its op (`_apply_op`: of this epoch's own tag, signed by its
          client for this epoch, of an op not committed before; an op a node re-tagged is not):
          `[type |-> "op", op |-> o, epoch |-> e]`;
        - an `EvidenceEntry` the threat state accepted: `[type |-> "evidence", kind |-> k]`, k the
          kind whose one piece demands the level the evidence raised the state to (the record's
          own kind when the level stayed);
        - a `ClockEntry` that lowered the level: `[type |-> "quiet"]`.
        """
        after = self.threat.level
        if isinstance(value, OpEntry):
            if known or result.get("status") != COMMITTED:
                return None  # not committed by this entry (`_apply_op` says why)
            return FrozenDict({"type": "op", "op": op_name(value.op.key), "epoch": value.epoch})
        if isinstance(value, EvidenceEntry):
            if result.get("evidence") != ACCEPTED:
                return None
            kind = value.record.kind if after == before else KIND_FOR.get(after, value.record.kind)
            return FrozenDict({"type": "evidence", "kind": kind})
        if isinstance(value, ClockEntry) and after < before:
            return FrozenDict({"type": "quiet"})
        return None

    def _apply(self, value: Value) -> FrozenDict:
        self.entries += 1
        self.log.append(value)
        if not well_formed(value):
            return NOT_AN_ENTRY
        if value == NOOP:
            if mutants.SWITCH_DROPS_LAST_RAFT_TERM in self.bugs and self.protocol == RAFT:
                self._term_start = self.state()  # a leader's no-op opens every Raft term
            return FrozenDict({"ok": True, "noop": True})
        if isinstance(value, OpEntry):
            return self._apply_op(value)
        if isinstance(value, EvidenceEntry):
            self.threat, outcome = self.threat.intake(value.record, self.verify)
            self.evidence_seen.add(value.record.key())
            self._maybe_switch()
            return FrozenDict({"ok": True, "evidence": outcome})
        if isinstance(value, ClockEntry):
            if not self.keys.clock_ok(value):
                return FrozenDict({"ok": False, "error": "bad clock signature"})
            self.threat = self.threat.clock(value.node, value.time)
            self._maybe_switch()
            return FrozenDict({"ok": True, "now": self.threat.now})
        return NOT_AN_ENTRY

    def _apply_op(self, entry: OpEntry) -> FrozenDict:
        if entry.epoch != self.epoch:
            return _rejected(f"proposed in epoch {entry.epoch}, applied in {self.epoch}")
        if not self.keys.op_ok(entry.op):
            return _rejected("bad client signature")
        key = entry.op.key
        first = self.results.get(key)
        if first is not None:
            return first  # committed before: not applied twice, the first result again
        if entry.op.epoch != entry.epoch:
            # the tag is the client's and signed: an op re-tagged by a node (to commit it in an
            # epoch whose nodes already answered "rejected" for it) is refused
            return _rejected(f"tagged for epoch {entry.op.epoch} by its client")
        result = super().apply_entry(entry.op.op)
        self.history.append(key)
        record = FrozenDict(
            {
                "ok": True,
                "status": COMMITTED,
                "epoch": self.epoch,
                "position": len(self.history),
                "result": result,
            }
        )
        self.results[key] = record
        return record

    def _maybe_switch(self) -> None:
        """The Switch: the level now calls for the other protocol, so the epoch ends here."""
        wanted = protocol(self.threat.level)
        if wanted == self.protocol:
            return
        after = self.state()
        if mutants.SWITCH_DROPS_LAST_RAFT_TERM in self.bugs and self._term_start is not None:
            # the bug: the application and its history as they were when the last term began
            begun = self._term_start
            after = attrs.evolve(after, app=begun.app, history=begun.history, results=begun.results)
        self.closed = attrs.evolve(after, epoch=self.epoch + 1, protocol=wanted)

    def outcome(self, key: OpKey) -> FrozenDict | None:
        return self.results.get(key)
