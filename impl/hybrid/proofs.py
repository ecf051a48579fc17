"""Checking evidence on intake: the reporter's signature, and for a self-proving kind the proof.

`EvidenceChecker(keys)` is the `verify` every node hands to `ThreatModel.intake`. A record is
believed only if its reporter signed it, and a tampering or equivocation record only if its messages
prove it to anyone holding the public keys:

- from a PBFT instance (`detail` "pbft:<kind>"): impl/pbft/evidence.py's `proves`, with the keys of
  the record's epoch;
- from a Raft instance, over sealed messages (entries.py): `raft:equivocation`, two AppendEntries
  the accused sealed in one epoch and one term that put different entries at one index (a Raft
  leader never changes an entry of its own term: Leader Append-Only, Raft paper Figure 3);
  `raft:tampering`, one sealed AppendEntries or proposal carrying an entry whose own signature
  fails (an honest node checks what it relays);
- from a HotStuff instance (impl/hybrid/bft.py), `hotstuff:equivocation`: two proposals, or two
  votes, the accused signed with the keys of the record's epoch for one view and different blocks
  (an honest replica proposes and votes at most once per view, specs/HotStuff.tla).

Bad signatures and timing anomalies prove nothing to a third party; they are believed as reports,
and `ThreatModel` counts them by distinct reporter.
"""

from __future__ import annotations

from typing import Any
from typing import Final

from meshcheck.impl.hotstuff.crypto import KeyRing as HotStuffKeys
from meshcheck.impl.hotstuff.messages import Proposal as HsProposal
from meshcheck.impl.hotstuff.messages import Vote as HsVote
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.entries import client_id
from meshcheck.impl.hybrid.entries import raft_well_formed
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import SELF_PROVING
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.pbft import evidence as pbft_evidence
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import Entry

PBFT_PREFIX: Final = "pbft:"
RAFT_EQUIVOCATION: Final = "raft:equivocation"
RAFT_TAMPERING: Final = "raft:tampering"
HOTSTUFF_EQUIVOCATION: Final = "hotstuff:equivocation"

# PBFT's evidence kinds as the threat levels' kinds (bad_state proves nothing and is not reported)
PBFT_KINDS: Final = {
    pbft_evidence.EQUIVOCATION: EQUIVOCATION,
    pbft_evidence.WRONG_PRIMARY: TAMPERING,
    pbft_evidence.FORGED_REQUEST: TAMPERING,
    pbft_evidence.BAD_VIEW_CHANGE: TAMPERING,
    pbft_evidence.BAD_NEW_VIEW: TAMPERING,
    pbft_evidence.MALFORMED: TAMPERING,  # a signed message not of its declared types
    pbft_evidence.BAD_SIGNATURE: "bad_signature",
}


def pbft_config(nodes: tuple[str, ...], node: str | None = None) -> PbftConfig:
    return PbftConfig(node or nodes[0], nodes, tuple(client_id(n) for n in nodes))


def appended(m: Any) -> dict[int, Any]:
    """Index -> entry of a sealed AppendEntries (empty for anything else)."""
    if not (isinstance(m, Signed) and isinstance(m.body, RaftPayload)):
        return {}
    msg = m.body.message
    if not isinstance(msg, AppendEntriesRequest):
        return {}
    return {msg.prev_log_index + k + 1: e for k, e in enumerate(msg.entries)}


def carried(m: Any) -> tuple[Any, ...]:
    """The entry values a sealed message carries (AppendEntries entries or a proposal's entry). An
    element of `entries` that is not a Raft `Entry` (a Byzantine leader sealed a malformed
    AppendEntries) stands as None, a value whose signature never checks: the message is tampering,
    and proves it to anyone (`_raft_tampering`)."""
    if isinstance(m, Signed) and isinstance(m.body, Proposal):
        return (m.body.entry,)
    return tuple(e.value if isinstance(e, Entry) else None for e in appended(m).values())


class EvidenceChecker:
    """The `verify` of ThreatModel.intake for one run's keys."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.config = pbft_config(keys.nodes)

    def __call__(self, record: Evidence) -> bool:
        if not self.keys.evidence_signed(record) or record.accused not in self.keys.nodes:
            return False
        if record.kind not in SELF_PROVING:
            return True
        try:
            return self._proves(record)
        except (AttributeError, OverflowError, TypeError):
            # The messages are whatever the reporter signed (any values): a proof that cannot even
            # be read as one (a number where a HotStuff block belongs, a pre-prepare whose unsigned
            # batch holds something no one could sign) proves nothing. Every node runs this check
            # in its step as it applies the record, where an exception would stop it.
            return False

    def _proves(self, record: Evidence) -> bool:
        """Whether a signed record of a self-proving kind carries the proof its `detail` names."""
        if record.detail.startswith(PBFT_PREFIX):
            return self._pbft(record)
        if record.detail == RAFT_EQUIVOCATION and record.kind == EQUIVOCATION:
            return self._raft_equivocation(record)
        if record.detail == RAFT_TAMPERING and record.kind == TAMPERING:
            return self._raft_tampering(record)
        if record.detail == HOTSTUFF_EQUIVOCATION and record.kind == EQUIVOCATION:
            keys = self.keys.hotstuff(record.epoch)
            return proves_hotstuff_equivocation(keys, record.accused, record.messages)
        return False

    def _pbft(self, record: Evidence) -> bool:
        kind = record.detail[len(PBFT_PREFIX) :]
        if PBFT_KINDS.get(kind) != record.kind:
            return False
        epoch = record.epoch

        def verify(m: Signed[Any]) -> bool:
            return self.keys.verify_in(epoch, m.signer, m.signature, signing_bytes(m.body))

        inner = pbft_evidence.Evidence(
            record.reporter, record.accused, kind, record.messages, record.time
        )
        return pbft_evidence.proves(inner, self.config, verify)

    def _sealed_by_accused(self, record: Evidence, m: Any) -> bool:
        return (
            isinstance(m, Signed)
            and m.signer == record.accused
            and self.keys.sealed_ok(record.epoch, m)
        )

    def _raft_equivocation(self, record: Evidence) -> bool:
        if len(record.messages) != 2 or not all(
            self._sealed_by_accused(record, m) for m in record.messages
        ):
            return False
        a, b = record.messages
        ea, eb = appended(a), appended(b)
        if not ea or not eb or a.body.message.term != b.body.message.term:
            return False
        return any(ea[k] != eb[k] for k in ea.keys() & eb.keys())

    def _raft_tampering(self, record: Evidence) -> bool:
        if len(record.messages) != 1 or not self._sealed_by_accused(record, record.messages[0]):
            return False
        m = record.messages[0]
        if isinstance(m.body, RaftPayload) and not raft_well_formed(m.body.message):
            return True  # a Raft message no honest node seals (entries.raft_well_formed)
        return any(not self.keys.entry_ok(v) for v in carried(m))


def proves_hotstuff_equivocation(
    keys: HotStuffKeys, accused: str, messages: tuple[Any, ...]
) -> bool:
    """Whether `messages` are two proposals (or two votes) `accused` signed for one view and
    different blocks: what no honest HotStuff replica signs."""
    if len(messages) != 2:
        return False
    a, b = messages
    if isinstance(a, HsProposal) and isinstance(b, HsProposal):
        return (
            a.block.proposer == b.block.proposer == accused
            and a.block.view == b.block.view
            and a.block.hash != b.block.hash
            and all(keys.verify(accused, p.signature, proposal_bytes(p.block)) for p in (a, b))
        )
    if isinstance(a, HsVote) and isinstance(b, HsVote):
        return (
            a.voter == b.voter == accused
            and a.view == b.view
            and a.block != b.block
            and all(keys.verify(accused, v.signature, vote_bytes(v.block, v.view)) for v in (a, b))
        )
    return False
