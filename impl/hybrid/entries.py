"""What the hybrid layer replicates and sends, and who signs what.

Entries (the values each epoch's protocol orders; `HybridMachine` applies them):

- `OpEntry`: a client's signed operation (`ClientOp`: client, sequence number, operation, and the
  epoch the client proposes it in) tagged with that epoch: the client's tag, which an honest node
  copies (it proposes an op only in the epoch of its tag). Applied only in that epoch, at most
  once per (client, seq): a client may propose (client, seq) again, tagged with a later epoch.
- `EvidenceEntry`: an evidence record (threat.Evidence) signed by its reporter.
- `ClockEntry`: a node's clock reading, signed by the node (the replicated clock is built from these).
- Raft's leader no-op (impl.rsm.NOOP).

Messages between hybrid nodes carry their epoch. Raft messages and proposals forwarded to a Raft
leader are sealed: `Signed(RaftPayload | Proposal)` by the sending node, so that a leader's
AppendEntries is a signed statement (two conflicting ones are an equivocation, one carrying an entry
whose own signature fails is tampering) and a message whose seal does not verify is a bad signature
against the link's sender. PBFT messages are signed by the PBFT replica already (`PbftWire`), and
HotStuff's proposals and votes by theirs (`HotStuffWire`, impl/hotstuff/messages.py).

Keys: `Keys` derives every holder's Ed25519 key from the seed as impl/pbft/crypto does, per epoch
for the epoch-bound signatures (a PBFT message of epoch 2 says nothing about epoch 4, where view 0
and sequence number 1 mean something else), and once for the client and node keys of entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from typing import Final
from typing import TypeAlias
from typing import get_args

import attrs

from meshcheck.impl.base.shape import mismatch
from meshcheck.impl.base.values import Value
from meshcheck.impl.hotstuff.crypto import KeyRing as HotStuffKeys
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.raft import messages as raft

OpKey: TypeAlias = tuple[str, int]  # (client, sequence number)


@attrs.frozen
class ClientOp:
    """A client's operation (an encoded impl.rsm op) for `epoch`, signed by the client. The key is
    (client, seq) only: the same op proposed again in a later epoch is the same op."""

    client: str
    seq: int
    op: Value
    epoch: int = 1  # the epoch the client proposes it in (what it last heard; epochs start at 1)
    signature: bytes = attrs.field(default=b"", repr=False, metadata={"unsigned": True})

    @property
    def key(self) -> OpKey:
        return (self.client, self.seq)


@attrs.frozen
class OpEntry:
    op: ClientOp
    epoch: int


@attrs.frozen
class EvidenceEntry:
    record: Evidence


@attrs.frozen
class ClockEntry:
    node: str
    time: int
    signature: bytes = attrs.field(default=b"", repr=False, metadata={"unsigned": True})


Entry: TypeAlias = OpEntry | EvidenceEntry | ClockEntry

_RAFT_MESSAGES: Final = get_args(raft.Message)


def well_formed(value: Any) -> bool:
    """Whether `value` is the leader's no-op (a string) or an entry whose fields, and those of the
    client op or evidence record inside, hold the types they declare. A signature covers whatever
    its signer put in the fields (impl/pbft/messages.py `malformed` says the same of PBFT's
    messages): a Byzantine node signs and proposes a string for a clock reading, a number for a
    client op or evidence record, as readily as a real one, and an honest node reading such an
    entry as what it claims to be would fail in its step. It is refused like an entry whose
    signature fails (`Keys.entry_ok`), and applied as a value that is no entry (HybridMachine)."""
    if isinstance(value, OpEntry | ClockEntry | EvidenceEntry):
        return mismatch(value, type(value)) is None  # impl/base/shape.py: all the way down
    return isinstance(value, str)


def raft_well_formed(message: Any) -> bool:
    """Whether `message` is one of Raft's messages (impl/raft/messages.py) whose fields hold the
    types they declare, its entries Raft entries with a term that is a number. A leader's seal
    covers whatever it put in the fields, as an entry's signature does (`well_formed`): one
    AppendEntries or RequestVote with a string for a term or an index, sealed by a Byzantine node,
    once stopped the step of every node it reached, in its detectors or its Raft core. No honest
    node seals such a message: the seal proves tampering (proofs.py `_raft_tampering`), and it is
    not followed. The entries' values are checked apart (`Keys.entry_ok`)."""
    cls = type(message)
    return cls in _RAFT_MESSAGES and mismatch(message, cls) is None


@attrs.frozen
class RaftPayload:
    """A Raft message of `epoch`'s instance, sealed by `src`.

    A leader's AppendEntries also carries, under the seal, its heartbeat number `beat` (1, 2, ...
    per term and follower: the leader's count of its AppendEntries to `message.dest` in
    `message.term`) and its own clock `sent` when it sent it; 0 and 0 on every other message.
    Section 5.2 of the Raft paper has a leader send AppendEntries to each follower periodically
    (impl/raft/node.py: every `heartbeat_interval` of its own clock, and more often when there is
    something to send), so two consecutive numbers signed further apart than `timing_bound` are the
    leader's own statements that it withheld them: the timing evidence of impl/hybrid/node.py
    `_inspect_beat`. Receipt times prove nothing: the network loses and delays messages of honest
    leaders too (a gap in the numbers is just that)."""

    epoch: int
    src: str
    message: Any
    beat: int = 0
    sent: int = 0


@attrs.frozen
class Proposal:
    """An entry `src` asks the Raft leader of `epoch` to append."""

    epoch: int
    src: str
    entry: Any


@attrs.frozen
class PbftWire:
    """A PBFT message (already signed by its replica or client) of `epoch`'s instance."""

    epoch: int
    message: Signed[Any]


@attrs.frozen
class HotStuffWire:
    """A HotStuff message (impl/hotstuff/messages.py) of `epoch`'s instance."""

    epoch: int
    message: Any


def epoch_of(message: Any) -> int | None:
    body = message.body if isinstance(message, Signed) else message
    epoch = getattr(body, "epoch", None)
    # True is no epoch (it would reach epoch 1's instance as 1)
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None


def client_id(node: str) -> str:
    """The PBFT client identity a node submits its proposals under."""
    return f"{node}.c"


def _signed_bytes(value: Any) -> bytes | None:
    """The bytes a signature over `value` covers; None for a value nothing can have signed (one
    that cannot be hashed or encoded, impl/pbft/messages.py `signing_bytes`: a HotStuff epoch
    orders any operation its client signed, as HotStuff signs a request's text)."""
    try:
        return signing_bytes(value)
    except TypeError:
        return None


class Keys:
    """Every key of one run: node and client keys (entries), and per epoch the keys of that epoch's
    instance (seals and PBFT messages)."""

    def __init__(self, seed: int, nodes: Sequence[str], clients: Sequence[str]) -> None:
        self.seed = seed
        self.nodes = tuple(nodes)
        self.clients = tuple(clients)
        self.base = KeyRing(seed, (*self.nodes, *self.clients))
        self._epochs: dict[int, KeyRing] = {}
        self._hotstuff: dict[int, HotStuffKeys] = {}
        # Verification is a pure function of (keys, holder, signature, bytes): remembered, since
        # every node checks every entry and a Raft leader re-sends entries until acknowledged.
        self._checked: dict[tuple[int, str, bytes, bytes], bool] = {}

    def _verify(self, epoch: int, holder: str, signature: bytes, data: bytes) -> bool:
        key = (epoch, holder, signature, hashlib.blake2b(data).digest())
        known = self._checked.get(key)
        if known is None:
            ring = self.base if epoch == 0 else self.epoch(epoch)
            known = ring.verify(holder, signature, data)
            if len(self._checked) >= 100_000:
                self._checked.clear()
            self._checked[key] = known
        return known

    def verify_in(self, epoch: int, holder: str, signature: bytes, data: bytes) -> bool:
        """A signature by `holder` with the keys of `epoch`."""
        return self._verify(epoch, holder, signature, data)

    def epoch(self, epoch: int) -> KeyRing:
        ring = self._epochs.get(epoch)
        if ring is None:
            holders = (*self.nodes, *(client_id(n) for n in self.nodes))
            ring = self._epochs[epoch] = KeyRing(self.seed * 1_000_003 + epoch, holders)
        return ring

    def hotstuff(self, epoch: int) -> HotStuffKeys:
        """The keys of `epoch`'s HotStuff instance: its replicas and the nodes' client identities."""
        ring = self._hotstuff.get(epoch)
        if ring is None:
            holders = (*self.nodes, *(client_id(n) for n in self.nodes))
            ring = self._hotstuff[epoch] = HotStuffKeys(self.seed * 1_000_003 + epoch, holders)
        return ring

    # -- signing -----------------------------------------------------------------------------------

    def sign_op(self, op: ClientOp) -> ClientOp:
        return attrs.evolve(op, signature=self.base.signer(op.client).sign(signing_bytes(op)))

    def sign_clock(self, entry: ClockEntry) -> ClockEntry:
        sig = self.base.signer(entry.node).sign(signing_bytes(entry))
        return attrs.evolve(entry, signature=sig)

    def sign_evidence(self, record: Evidence) -> Evidence:
        sig = self.base.signer(record.reporter).sign(signing_bytes(record))
        return attrs.evolve(record, signature=sig)

    def seal(self, epoch: int, signer: str, body: Any) -> Signed[Any]:
        return Signed(body, signer, self.epoch(epoch).signer(signer).sign(signing_bytes(body)))

    # -- checking ----------------------------------------------------------------------------------

    def op_ok(self, op: ClientOp) -> bool:
        data = _signed_bytes(op)
        return data is not None and self._verify(0, op.client, op.signature, data)

    def clock_ok(self, entry: ClockEntry) -> bool:
        data = _signed_bytes(entry)
        return (
            entry.node in self.nodes
            and data is not None
            and self._verify(0, entry.node, entry.signature, data)
        )

    def evidence_signed(self, record: Evidence) -> bool:
        data = _signed_bytes(record)
        return (
            record.reporter in self.nodes
            and data is not None
            and self._verify(0, record.reporter, record.signature, data)
        )

    def sealed_ok(self, epoch: int, m: Any) -> bool:
        """Whether `m` is a seal of `epoch` by its claimed sender over a payload of that epoch."""
        if not (isinstance(m, Signed) and isinstance(m.body, RaftPayload | Proposal)):
            return False
        if m.body.epoch != epoch or m.body.src != m.signer or m.signer not in self.nodes:
            return False
        data = _signed_bytes(m.body)
        return data is not None and self._verify(epoch, m.signer, m.signature, data)

    def entry_ok(self, entry: Any) -> bool:
        """Whether an entry is well formed and its own signature checks out (the leader's no-op
        has none to check)."""
        if not well_formed(entry):
            return False
        if isinstance(entry, OpEntry):
            return self.op_ok(entry.op)
        if isinstance(entry, ClockEntry):
            return self.clock_ok(entry)
        if isinstance(entry, EvidenceEntry):
            return self.evidence_signed(entry.record)
        return True  # NOOP
