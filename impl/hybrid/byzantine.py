"""Byzantine hybrid nodes: an honest node whose output (and, for false reports, whose detectors) a
list of behaviours corrupts, as impl/pbft/byzantine does for PBFT replicas. The node keeps its real
keys, so it can sign anything in its own name and nothing in anyone else's.

Raft side (what a Byzantine node can do while Raft runs):

- `EquivocateRaft`: as leader, besides each honest AppendEntries, sends the same follower a second
  one of the same term that puts another (validly signed) entry at an index the follower already
  acknowledged: two conflicting signed statements, which the follower's detector turns into an
  equivocation record (the follower keeps its entry, so the honest logs never diverge).
- `ForgeSeals`: every sealed message leaves with a broken signature (bad_signature at every receiver).
- `TamperEnvelopes`: client operations it relays or appends are altered under the client's
  signature, and the message sealed again (tampering, self-proving, at every receiver).
- `Censor`: as leader, drops the evidence others forward to it.
- `FalseReports`: the node reports bad signatures and timing anomalies against honest nodes, and
  "proofs" of equivocation that prove nothing, at every clock tick.

PBFT side: `HybridNode.pbft_wrapper`, e.g. `impl.pbft.byzantine.corrupt(Equivocate())`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

import attrs

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Tick
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import TIMING
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.roles import LEADER

if TYPE_CHECKING:
    from meshcheck.impl.hybrid.node import HybridNode


def _sealed(e: Effect) -> Signed[Any] | None:
    if (
        isinstance(e, Send)
        and isinstance(e.message, Signed)
        and isinstance(e.message.body, RaftPayload | Proposal)
    ):
        return e.message
    return None


def _names(names: Iterable[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(names)


@attrs.frozen
class EquivocateRaft:
    """Lies to `victims` (None: every follower)."""

    victims: frozenset[str] | None = attrs.field(default=None, converter=_names)

    def act(self, node: HybridNode, effects: list[Effect]) -> list[Effect]:
        instance = node.current
        core = instance.core
        if not (isinstance(core, RaftNode) and core.role == LEADER):
            return effects
        out = list(effects)
        for e in effects:
            sealed = _sealed(e)
            if sealed is None or not isinstance(sealed.body, RaftPayload):
                continue
            m = sealed.body.message
            if not isinstance(m, AppendEntriesRequest):
                continue
            if self.victims is not None and m.dest not in self.victims:
                continue
            acked = core.match_index.get(m.dest, 0)
            if acked < core.log.snapshot_index + 1:
                continue
            index = acked  # the follower holds this entry already: the lie cannot replace it
            prev_term = core.log.term_at(index - 1)
            if prev_term is None:
                continue
            lie_value = node.keys.sign_clock(ClockEntry(node.id, -index))
            lie = attrs.evolve(
                m,
                prev_log_index=index - 1,
                prev_log_term=prev_term,
                entries=(Entry(core.log.term_at(index) or core.term, lie_value),),
            )
            body = RaftPayload(instance.epoch, node.id, lie)
            out.append(Send(m.dest, node.keys.seal(instance.epoch, node.id, body)))
        return out


@attrs.frozen
class ForgeSeals:
    def act(self, node: HybridNode, effects: list[Effect]) -> list[Effect]:
        out: list[Effect] = []
        for e in effects:
            sealed = _sealed(e)
            if sealed is not None and isinstance(e, Send):
                broken = bytes(b ^ 0xFF for b in sealed.signature)
                e = Send(e.dest, attrs.evolve(sealed, signature=broken))
            out.append(e)
        return out


def _tamper(value: Any) -> Any:
    if isinstance(value, OpEntry):
        op: ClientOp = value.op
        return attrs.evolve(value, op=attrs.evolve(op, op=("tampered", op.op)))
    return value


@attrs.frozen
class TamperEnvelopes:
    def act(self, node: HybridNode, effects: list[Effect]) -> list[Effect]:
        out: list[Effect] = []
        epoch = node.epoch
        for e in effects:
            sealed = _sealed(e)
            if sealed is not None and isinstance(e, Send):
                body = sealed.body
                if isinstance(body, Proposal):
                    new: Any = attrs.evolve(body, entry=_tamper(body.entry))
                elif isinstance(body.message, AppendEntriesRequest):
                    m = body.message
                    entries = tuple(attrs.evolve(x, value=_tamper(x.value)) for x in m.entries)
                    new = attrs.evolve(body, message=attrs.evolve(m, entries=entries))
                else:
                    new = body
                if new != body:
                    e = Send(
                        e.dest, node.keys.seal(body.epoch if body.epoch else epoch, node.id, new)
                    )
            out.append(e)
        return out


@attrs.frozen
class Censor:
    """As Raft leader, never appends evidence that others forward to it (its own detectors still
    report): what `evidence_timeout` is there for."""

    def before(self, node: HybridNode, event: Any) -> bool:
        if isinstance(event, Deliver) and isinstance(event.message, Signed):
            body = event.message.body
            return not (isinstance(body, Proposal) and isinstance(body.entry, EvidenceEntry))
        return True

    def act(self, node: HybridNode, effects: list[Effect]) -> list[Effect]:
        return effects


@attrs.frozen
class FalseReports:
    """At every clock tick: a bad-signature and a timing report against each other node (the
    node's own rate limit applies), and an equivocation "proof" made of nothing."""

    def before(self, node: HybridNode, event: Any) -> bool:
        if not (isinstance(event, Tick) and event.timer == "h/clock"):
            return True
        for victim in node.config.peers:
            node._report(BAD_SIGNATURE, victim, (), "made up", node.epoch)
            node._report(TIMING, victim, (), "made up", node.epoch)
        victim = node.config.peers[node.now // node.config.clock_every % len(node.config.peers)]
        fake = (f"not a message {node.now}", f"nor this {node.now}")
        node._report(EQUIVOCATION, victim, fake, "raft:equivocation", node.epoch)
        return True

    def act(self, node: HybridNode, effects: list[Effect]) -> list[Effect]:
        return effects
