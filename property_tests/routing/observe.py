"""Routing.tla's invariants, checked on what a submitter of a `Manager` observes, held against what
the layers themselves hold.

`Submitter` submits through the manager and keeps, per operation, what the submitter saw (the
answer, or the error) and the layers around it (their clocks and how much each had been handed
before and after). `routing_problem` then checks each operation:

- CriticalOnlyByBFT: a critical operation is answered by PBFT, "a BFT quorum", and an honest PBFT
  replica executed exactly that request (client, timestamp) at the sequence number the answer
  names (it executes only after a commit quorum of 2f+1: Castro and Liskov, section 4.2), whatever
  the threat level was;
- CoordinationByLevelAtRouting and DecidedOnce: a coordination operation is answered by the hybrid
  dispatcher, "a Raft majority" or "a BFT quorum" as the protocol the honest nodes recorded for
  the epoch it took effect in says, and an honest node applied its (client, seq); the hybrid
  layer's own checks see that it is applied once;
- AgreedMeansDecided: an answer that says "not decided" is for an operation no honest node
  applied;
- StatusNeverWaits, StatusNeverAgreed: a status write is answered "gossiped, not agreed" with the
  consensus layers' clocks where they were and nothing handed to them, and the gossip node holds
  it;
- UnknownRefused: an unknown type raises `UnknownOperationType` naming the type and every known
  type, the manager keeps it in `refused`, and no layer was handed anything.

The layers' own checks (PBFT's Agreement and Validity after every event and its client history;
the hybrid layer's invariants after every step, its honest histories one order, and its client
history) are run by the free runs (free_runs.py).
"""

from __future__ import annotations

from typing import Any

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.simulation import GossipPlugin
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.manager import Answer
from meshcheck.impl.manager import How
from meshcheck.impl.manager import Layer
from meshcheck.impl.manager import Manager
from meshcheck.impl.manager import OpType
from meshcheck.impl.manager import UnknownOperationType
from meshcheck.impl.pbft import Client
from meshcheck.impl.pbft import Replica


@attrs.frozen
class Seen:
    """One `submit` as its submitter saw it, with the layers' counters before and after."""

    given: object
    data: Any
    answer: Answer | None
    error: ImplError | None
    before: tuple[int, ...]
    after: tuple[int, ...]


def counters(m: Manager) -> tuple[int, ...]:
    """(PBFT clock, hybrid clock, PBFT requests sent, hybrid proposals, gossip writes): what a
    layer moves when it is handed an operation or runs."""
    client = m.pbft.nodes["c1"]
    assert isinstance(client, Client)
    return (m.pbft.now, m.hybrid.sim.now, client.timestamp, m.hybrid.submitted, gossip_writes(m))


def gossip_written(m: Manager) -> list[tuple[str, Entry]]:
    """Every status write the gossip layer took, (key, entry), in order."""
    plugin = m.gossip.plugin
    assert isinstance(plugin, GossipPlugin)
    return plugin.written


def gossip_writes(m: Manager) -> int:
    return len(gossip_written(m))


class Submitter:
    """Submits through `manager` and keeps what it saw."""

    def __init__(self, manager: Manager) -> None:
        self.m = manager
        self.seen: list[Seen] = []

    def __call__(self, given: OpType | str, data: Any) -> Answer | None:
        before = counters(self.m)
        try:
            answer: Answer | None = self.m.submit(given, data)
            error: ImplError | None = None
        except ImplError as exc:
            answer, error = None, exc
        self.seen.append(Seen(given, data, answer, error, before, counters(self.m)))
        return answer


def honest_replicas(m: Manager) -> list[Replica]:
    return [n for n in m.pbft.nodes.values() if isinstance(n, Replica)]


def _pbft_executed(m: Manager, timestamp: Any, seq: Any) -> bool:
    for replica in honest_replicas(m):
        if isinstance(seq, int) and 0 < seq <= len(replica.executed):
            batch = replica.executed[seq - 1]
            if any(r.body.client == "c1" and r.body.timestamp == timestamp for r in batch):
                return True
    return False


def _hybrid_applied(m: Manager, client: Any, seq: Any) -> bool:
    return any((client, seq) in history for history in m.hybrid.histories().values())


def routing_problem(m: Manager, seen: list[Seen]) -> str | None:
    """The first routing invariant an observed operation breaks, as "Invariant: what", else None."""
    known = [t.value for t in OpType]
    for k, s in enumerate(seen, start=1):
        a, what = s.answer, f"op #{k} ({s.given!r})"
        if not isinstance(s.given, OpType) and s.given not in known:
            if not isinstance(s.error, UnknownOperationType):
                got = str(a) if a is not None else f"{type(s.error).__name__}: {s.error}"
                return f"UnknownRefused: {what} was not refused: {got}"
            message = str(s.error)
            if repr(s.given) not in message or any(t not in message for t in known):
                return f"UnknownRefused: {what}: the error does not name the type and the known ones: {message}"
            if not any(r.given == s.given and r.data == s.data for r in m.refused):
                return f"UnknownRefused: {what} is not kept among the refused"
            if s.after[2:] != s.before[2:]:
                return f"UnknownRefused: {what} was handed to a layer: {s.before} -> {s.after}"
            continue
        if a is None:
            continue  # no answer within the bound (the layer still holds it)
        if a.type is OpType.CRITICAL:
            if a.layer is not Layer.PBFT or a.how is not How.BFT_QUORUM or not a.agreed:
                return f"CriticalOnlyByBFT: {what} at level {a.level} answered {a}"
            _client, timestamp, seq = a.where
            if not _pbft_executed(m, timestamp, seq):
                return (
                    f"CriticalOnlyByBFT: {what} at level {a.level}: no honest PBFT replica "
                    f"executed request {timestamp} at sequence number {seq}"
                )
        elif a.type is OpType.COORDINATION:
            if a.layer is not Layer.HYBRID:
                return f"CoordinationByLevelAtRouting: {what} answered by {a.layer.value}"
            client, seq, epoch = a.where
            applied = _hybrid_applied(m, client, seq)
            if not a.agreed:
                if a.how is not How.NOT_DECIDED or applied:
                    return f"AgreedMeansDecided: {what} answered {a} but applied: {applied}"
                continue
            if not applied:
                return (
                    f"AgreedMeansDecided: {what} answered {a} ({a.detail}), but no honest hybrid "
                    f"node applied {client}/{seq}"
                )
            protocol = m.epoch_protocol(epoch)
            expected = {RAFT: How.RAFT_MAJORITY, BFT: How.BFT_QUORUM}.get(protocol)
            if a.how is not expected:
                return (
                    f"CoordinationByLevelAtRouting: {what} answered {a.how.value}, but epoch "
                    f"{epoch} ran {protocol}"
                )
        elif a.type is OpType.STATUS:
            if a.agreed or a.how is not How.GOSSIPED or a.layer is not Layer.GOSSIP:
                return f"StatusNeverAgreed: {what} answered {a}"
            if s.after[:4] != s.before[:4]:
                return (
                    f"StatusNeverWaits: {what}: the consensus layers moved "
                    f"{s.before[:4]} -> {s.after[:4]}"
                )
            node, key, version = a.where
            written = [e for k, e in gossip_written(m) if k == key and e.origin == node]
            if not any(e.version == version and e.value == a.result for e in written):
                return f"StatusNeverAgreed: {what}: gossip node {node} wrote no {key}@{version}"
    return None
