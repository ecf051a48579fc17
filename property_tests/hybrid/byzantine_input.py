"""The hybrid layer's side of the Byzantine-input property (property_tests/byzantine_input.py): n4
sends, in its own name, anything a hybrid node receives from another (impl/hybrid/node.py
`_receive`): sealed Raft messages and proposals (`Signed(RaftPayload | Proposal)`), PBFT messages
on the wire (`PbftWire`) and HotStuff messages on the wire (`HotStuffWire`), built from the
declared types of those envelopes and of everything they carry (Raft's messages, the entries,
PBFT's bodies, HotStuff's messages), to every other node of a cluster that has run epochs of
both protocols.

Any one node may be Byzantine in the hybrid design (f = 1 of 4; impl/hybrid/byzantine.py), so the
sender is n4, whatever it did in the calm run. The calm run (`calm_cluster`) goes through a Raft
epoch, a BFT one (PBFT for seeds 0 and 1, HotStuff for 2 and 3: `HybridConfig.bft`) that the
Raft leader's equivocation escalates to, and back to Raft once the evidence is old: every node
keeps all three instances, so a message of each epoch reaches a core that reads it.

How n4 signs (`wire`), as its message fuzzer does (impl/hybrid/fuzz.py `HybridSigning`): what
every signature of already checks (a message n4 holds, relayed) goes as it is; a Raft payload or
proposal is sealed by n4 with its epoch's keys, its `src` and the Raft message's `source` made
n4's; a bare Raft message goes in a payload of n4's latest Raft epoch, a bare entry in a
proposal; a PBFT body is signed by n4 (as n4's client identity for a request) with the keys of
n4's latest BFT epoch and put on the wire; a Raft message n4 seals to a node goes to each
receiver (`addressed`); a HotStuff message is made n4's as HotStuff's fuzzer
makes it (property_tests/hotstuff/byzantine_input.py `claim`, with that epoch's HotStuff keys).
The entries inside (a clock reading, an evidence record, a client op) are signed again by n4 in
its name when their signature fails, so that they pass `Keys.entry_ok` and reach the machines."""

from __future__ import annotations

from typing import Any
from typing import get_args

import attrs

from meshcheck.impl.hotstuff import messages as hotstuff
from meshcheck.impl.hotstuff.fuzz import HotStuffSigning
from meshcheck.impl.hotstuff.fuzz import forged_part
from meshcheck.impl.hybrid.byzantine import EquivocateRaft
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import HotStuffWire
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import PbftWire
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.entries import client_id
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.pbft import messages as pbft
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.raft import messages as raft
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.byzantine_input import Target
from meshcheck.property_tests.byzantine_input import Wrap

SENDER = "n4"
RAFT_MESSAGES = get_args(raft.Message)
PBFT_BODIES = get_args(pbft.Body)
HOTSTUFF_MESSAGES = get_args(hotstuff.Message)
ENVELOPES = (RaftPayload, Proposal, PbftWire, HotStuffWire)
ENTRIES = (OpEntry, ClockEntry, EvidenceEntry, ClientOp, Evidence)


def calm_cluster(seed: int) -> Simulator[Any]:
    """Four nodes after an op committed in Raft, the Raft leader's equivocation (a switch to BFT),
    two ops in the BFT epoch and the way back to Raft (epochs 1, 2 and 3)."""
    hc = HybridConsensus(
        4, seed=seed, record=False, bft="pbft" if seed < 2 else "hotstuff", give_up_after=3000
    )
    while hc.raft_leader() is None and hc.sim.now < 500:
        hc.run(25)
    hc.propose(Custom("k0", 0))
    leader = hc.raft_leader() or "n1"
    hc.make_byzantine(leader, EquivocateRaft())
    hc.propose(Custom("k1", 1))
    hc.make_honest(leader)
    for k in (2, 3):
        hc.propose(Custom("k2", k))
    hc.run(300)
    return hc.sim


def _node(sim: Simulator[Any]) -> HybridNode:
    node: HybridNode = sim.nodes[SENDER]
    return node


def _epochs(sim: Simulator[Any]) -> tuple[int, int]:
    """n4's latest Raft epoch and latest BFT epoch (its current one when it had none)."""
    node = _node(sim)
    raft_epochs = [e for e, p in node.protocols.items() if p == RAFT] or [node.epoch]
    bft_epochs = [e for e, p in node.protocols.items() if p != RAFT] or [node.epoch]
    return max(raft_epochs), max(bft_epochs)


def _epoch(value: Any, default: int) -> int:
    epoch = getattr(value, "epoch", None)
    return (
        epoch if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch > 0 else default
    )


def own_entry(keys: Keys, value: Any) -> Any:
    """An entry (or what an entry holds: a client op, an evidence record) signed by n4 in its own
    name when its signature fails; as it is when it checks or nothing can sign it."""
    try:
        if isinstance(value, OpEntry):
            return attrs.evolve(value, op=own_entry(keys, value.op))
        if isinstance(value, EvidenceEntry):
            return attrs.evolve(value, record=own_entry(keys, value.record))
        if isinstance(value, ClientOp) and not keys.op_ok(value):
            return keys.sign_op(attrs.evolve(value, client=SENDER))
        if isinstance(value, ClockEntry) and not keys.clock_ok(value):
            return keys.sign_clock(attrs.evolve(value, node=SENDER))
        if isinstance(value, Evidence) and not keys.evidence_signed(value):
            return keys.sign_evidence(attrs.evolve(value, reporter=SENDER))
    except Exception:  # fields of other types than declared: no signature covers them
        pass
    return value


def _own_entries(keys: Keys, message: Any) -> Any:
    """A Raft message or proposal body with the entries it carries signed by n4 (`own_entry`)."""
    try:
        if isinstance(message, raft.AppendEntriesRequest) and isinstance(message.entries, tuple):
            entries = tuple(
                attrs.evolve(e, value=own_entry(keys, e.value)) if isinstance(e, raft.Entry) else e
                for e in message.entries
            )
            return attrs.evolve(message, entries=entries)
        if isinstance(message, Proposal):
            return attrs.evolve(message, entry=own_entry(keys, message.entry))
    except Exception:
        pass
    return message


def seal(sim: Simulator[Any], body: Any, epoch: int) -> Any:
    """`body` (a Raft payload or a proposal) sealed by n4: its `src`, and its Raft message's
    `source`, made n4's and its entries signed by n4 (`own_entry`)."""
    keys: Keys = sim.plugin.keys  # type: ignore[attr-defined]  # HybridPlugin's
    body = _own_entries(keys, body)
    try:
        body = attrs.evolve(body, src=SENDER)
        inner: Any = getattr(body, "message", None)
        if attrs.has(type(inner)) and "source" in attrs.fields_dict(type(inner)):
            body = attrs.evolve(
                body, message=_own_entries(keys, attrs.evolve(inner, source=SENDER))
            )
        return keys.seal(_epoch(body, epoch), SENDER, body)
    except Exception:  # a body nothing can encode: sent unsealed
        return body


def sign_pbft(sim: Simulator[Any], body: Any, epoch: int) -> Any:
    """A PBFT body signed by n4 (a request as n4's client identity, its operation an entry of n4's)
    with the keys of `epoch`; the body itself when nothing can sign it."""
    keys: Keys = sim.plugin.keys  # type: ignore[attr-defined]
    try:
        if isinstance(body, pbft.Request):
            body = attrs.evolve(
                body, client=client_id(SENDER), operation=own_entry(keys, body.operation)
            )
            signer = client_id(SENDER)
        else:
            if attrs.has(type(body)) and "src" in attrs.fields_dict(type(body)):
                body = attrs.evolve(body, src=SENDER)
            signer = SENDER
        return Signed(body, signer, keys.epoch(epoch).signer(signer).sign(signing_bytes(body)))
    except Exception:
        return body


def claim_hotstuff(sim: Simulator[Any], message: Any, epoch: int) -> Any:
    """A HotStuff message as n4 sends it in `epoch` (property_tests/hotstuff/byzantine_input.py
    `claim`, with that epoch's HotStuff keys; a request signed as n4's client identity)."""
    keys: Keys = sim.plugin.keys  # type: ignore[attr-defined]
    ring = keys.hotstuff(epoch)
    replicas = keys.nodes
    try:
        if forged_part(message, SENDER, ring, replicas, 2 * ((len(replicas) - 1) // 3) + 1) is None:
            return message
    except Exception:
        pass
    try:
        if isinstance(message, hotstuff.SignedRequest) and isinstance(
            message.request, hotstuff.Request
        ):
            request = attrs.evolve(
                message.request, client=client_id(SENDER), op=own_entry(keys, message.request.op)
            )
            me = ring.signer(client_id(SENDER))
            return hotstuff.SignedRequest(request, me.sign(hotstuff.request_bytes(request)))
    except Exception:
        return message
    claimed = HotStuffSigning(SENDER, ring.signer(SENDER)).claim(message)
    return message if claimed is None else claimed


def wire(sim: Simulator[Any], message: Any) -> Any:
    """`message` as n4 puts it on the wire (see the module doc)."""
    keys: Keys = sim.plugin.keys  # type: ignore[attr-defined]
    raft_epoch, bft_epoch = _epochs(sim)
    if isinstance(message, Signed) and isinstance(message.body, RaftPayload | Proposal):
        if keys.sealed_ok(_epoch(message.body, raft_epoch), message):
            return message
        return seal(sim, message.body, raft_epoch)
    if isinstance(message, RaftPayload | Proposal):
        return seal(sim, message, raft_epoch)
    if isinstance(message, RAFT_MESSAGES):
        return seal(sim, RaftPayload(raft_epoch, SENDER, message), raft_epoch)
    if isinstance(message, (*ENTRIES, str)):
        return seal(sim, Proposal(raft_epoch, SENDER, message), raft_epoch)
    if isinstance(message, PbftWire):
        epoch = _epoch(message, bft_epoch)
        inner = message.message
        if isinstance(inner, Signed) and not _pbft_ok(keys, epoch, inner):
            return attrs.evolve(message, message=sign_pbft(sim, inner.body, epoch))
        return message
    if isinstance(message, Signed):
        if _pbft_ok(keys, bft_epoch, message):
            return PbftWire(bft_epoch, message)
        return PbftWire(bft_epoch, sign_pbft(sim, message.body, bft_epoch))
    if isinstance(message, PBFT_BODIES):
        return PbftWire(bft_epoch, sign_pbft(sim, message, bft_epoch))
    if isinstance(message, HotStuffWire):
        epoch = _epoch(message, bft_epoch)
        return attrs.evolve(message, message=claim_hotstuff(sim, message.message, epoch))
    if isinstance(message, HOTSTUFF_MESSAGES):
        return HotStuffWire(bft_epoch, claim_hotstuff(sim, message, bft_epoch))
    return message  # no message at all: as it is


def addressed(sim: Simulator[Any], message: Any, node: str) -> Any:
    """A Raft message n4 seals to a node (to itself: one it received, replayed or changed)
    addressed to `node` and sealed again: a node follows only the Raft messages addressed to it.
    A message whose `dest` is no node's name, or that another node sealed, goes as it is."""
    if not (
        isinstance(message, Signed)
        and message.signer == SENDER
        and isinstance(message.body, RaftPayload)
        and getattr(message.body.message, "dest", None) in sim.node_ids
    ):
        return message
    try:
        body = attrs.evolve(message.body, message=attrs.evolve(message.body.message, dest=node))
    except Exception:
        return message
    return seal(sim, body, _epochs(sim)[0])


def _pbft_ok(keys: Keys, epoch: int, m: Signed[Any]) -> bool:
    try:
        data = signing_bytes(m.body)
        return keys.verify_in(epoch, m.signer, m.signature, data)
    except Exception:
        return False


def signer(sim: Simulator[Any]) -> Wrap:
    """A Signed[B] inside a drawn message, signed by n4: sealed when it is a Raft payload or a
    proposal, a PBFT message of n4's latest BFT epoch otherwise."""
    raft_epoch, bft_epoch = _epochs(sim)

    def wrap(body: Any) -> Any:
        if isinstance(body, RaftPayload | Proposal):
            return seal(sim, body, raft_epoch)
        return sign_pbft(sim, body, bft_epoch)

    return wrap


TARGET = Target(
    name="hybrid",
    classes=(
        *ENVELOPES,
        *RAFT_MESSAGES,
        OpEntry,
        ClockEntry,
        EvidenceEntry,
        *PBFT_BODIES,
        *HOTSTUFF_MESSAGES,
    ),
    cluster=calm_cluster,
    sender=SENDER,
    wire=wire,
    generic={Signed: signer},
    addressed=addressed,
)
