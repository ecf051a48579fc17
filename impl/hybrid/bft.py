"""The BFT protocol of a hybrid cluster's BFT epochs, behind one interface: PBFT or HotStuff.

`HybridConfig(bft=...)` chooses it ("pbft", the default, or "hotstuff"). What the hybrid layer
needs of its BFT protocol, and all it uses (node.py, instance.py):

- a sans-IO core (`step(event) -> effects`) built from the node's config, the epoch's keys and a
  `machine` factory (the epoch's HybridMachine from its start state): it applies the entries it
  commits to the machine, in one order every honest replica agrees on (the epoch's chain,
  specs/Hybrid.tla), and after a restart or a state transfer it replays them into a fresh machine
  from the factory (the node reports only the entries it had not reported: node._replayed). The
  closing of an epoch is the machine's (it applies nothing after the switch entry) and the node's
  (it starts the next epoch from `machine.closed`), so nothing of it is protocol-specific;
- `request(me, ts, entry)`: the entry as a request signed under the node's client identity of the
  epoch (`entries.client_id`), which the node delivers to its own core and sends to every peer;
- `wire(message)` and `unwrap(wire)`: the core's messages wrapped with the epoch for the network
  (PBFT: `PbftWire`, HotStuff: `HotStuffWire`), and back;
- `evidence(source, message)`: what the protocol's detectors caught since last asked, as
  (kind, accused, messages, detail) records the node signs and proposes (`Report`); a
  self-proving kind's messages prove it to `proofs.EvidenceChecker`.

PBFT's detector is its audit log (impl/pbft/evidence.py). HotStuff's is here (`HotStuffDetector`):
two proposals its signer signed for one view with different blocks, or two votes of one voter for
one view and different blocks (equivocation, self-proving: an honest replica proposes once per view
and votes once per view, specs/HotStuff.tla), and a proposal or vote whose signature fails (a bad
signature against the link's sender).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Final
from typing import TypeAlias

from meshcheck.impl.hotstuff.crypto import KeyRing as HotStuffKeys
from meshcheck.impl.hotstuff.messages import Proposal as HsProposal
from meshcheck.impl.hotstuff.messages import Request as HsRequest
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import Vote as HsVote
from meshcheck.impl.hotstuff.messages import malformed
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hotstuff.messages import request_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica as HotStuffReplica
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import HotStuffWire
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import PbftWire
from meshcheck.impl.hybrid.entries import client_id
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import SELF_PROVING
from meshcheck.impl.hybrid.proofs import HOTSTUFF_EQUIVOCATION
from meshcheck.impl.hybrid.proofs import PBFT_KINDS
from meshcheck.impl.hybrid.proofs import PBFT_PREFIX
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.rsm.machine import StateMachine

PBFT: Final = "pbft"
HOTSTUFF: Final = "hotstuff"
BFT_PROTOCOLS: Final = (PBFT, HOTSTUFF)

# (kind, accused, messages, detail): one record of a BFT protocol's detector
Report: TypeAlias = tuple[str, str, tuple[Any, ...], str]
Machine: TypeAlias = Callable[[], StateMachine]


class HybridHotStuff(HotStuffReplica):
    """impl/hotstuff's replica with the epoch's machine: it executes into `machine()` (a fresh one
    at every restart, into which it executes its committed chain again), and it keeps only the
    newest clock reading of each node among its pending requests (`_on_request`)."""

    def __init__(self, config: HotStuffConfig, keys: HotStuffKeys, machine: Machine) -> None:
        self._machine_factory = machine
        super().__init__(config, keys)

    def _reset(self) -> None:
        super()._reset()
        self.machine = self._machine_factory()
        # each client's newest clock reading taken: client -> the key of its request
        self.readings: dict[str, tuple[str, int]] = {}

    def _on_request(self, source: str, r: SignedRequest) -> None:
        """A node's clock reading (a `ClockEntry`, under its client identity) takes the place of
        that client's older reading still pending, where the older one waited; a reading older
        than one taken already is not kept.

        The ThreatModel keeps only a node's latest reading (threat.py `clock`), so a reading
        behind a newer one of its node adds no time. Chained HotStuff commits one block of
        `batch_size` requests a view, oldest first, and fewer while a silent replica's views (and
        the ones before them, whose QC it would form) time out; a node sends a new reading
        `retry_every` after its last one if that one is not applied yet (node.py
        `_clock_on_its_way`). An epoch that commits fewer than n requests every `retry_every`
        took readings in faster than it committed them: in a free run (7 nodes, the Byzantine
        one silent, left in epoch 1) a HotStuff epoch committed about 20 requests every 400
        ticks while the six honest nodes sent 24 readings; 95 of the 101 requests queued were
        readings, each older when committed than the last, the replicated clock fell 1300 ticks
        behind and further, and the de-escalation it times waited past the free runs' bound
        (property_tests/hybrid/test_free_runs.py, READINGS_BEHIND_A_SILENT_REPLICA). With one
        reading of each node pending, the queue is bounded whatever the epoch commits, and a
        leader proposes each node's newest reading. Only this replica's own proposals change: a
        block is voted for whatever it carries, a replaced reading already in a proposed block
        is executed with it, and a client replaces only its own readings. PBFT needs no such
        rule: its primary gives each batch a sequence number as it comes (up to `window` of
        them in flight), so its queue drains as fast as it fills."""
        key, client = r.key, r.request.client
        new = key not in self.pending
        super()._on_request(source, r)
        if not (new and key in self.pending and isinstance(r.request.op, ClockEntry)):
            return
        older = self.readings.get(client)
        if older is not None and older[1] > key[1]:
            del self.pending[key]  # behind the reading taken already: it adds no time
            return
        self.readings[client] = key
        if older in self.pending:
            del self.pending[key]
            self.pending = {
                (key if k == older else k): (r if k == older else v)
                for k, v in self.pending.items()
            }


class Bft:
    """One epoch's BFT core and what the hybrid node does with it (see the module doc)."""

    name: str
    core: Replica | HybridHotStuff

    def request(self, me: str, ts: int, entry: Any) -> Any:
        raise NotImplementedError

    def wire(self, message: Any) -> Any:
        raise NotImplementedError

    def unwrap(self, message: Any) -> Any | None:
        raise NotImplementedError

    def evidence(self, source: str | None, message: Any) -> list[Report]:
        raise NotImplementedError


class PbftBft(Bft):
    name = PBFT

    def __init__(self, config: Any, keys: Keys, epoch: int, machine: Machine) -> None:
        self.epoch = epoch
        self.keys = keys
        pbft = PbftConfig(
            config.id,
            config.nodes,
            tuple(client_id(n) for n in config.nodes),
            batch_size=config.batch_size,
            checkpoint_every=config.checkpoint_every,
            window=config.window,
            view_change_timeout=config.view_change_timeout,
            retransmit_every=config.retransmit_every,
        )
        self.core: Replica = Replica(pbft, keys.epoch(epoch), machine)
        self.audit_seen = 0  # audit records already turned into hybrid evidence

    def request(self, me: str, ts: int, entry: Any) -> Signed[Request]:
        req = Request(me, ts, entry)
        return Signed(req, me, self.keys.epoch(self.epoch).signer(me).sign(signing_bytes(req)))

    def wire(self, message: Any) -> PbftWire:
        return PbftWire(self.epoch, message)

    def unwrap(self, message: Any) -> Any | None:
        if isinstance(message, PbftWire) and isinstance(message.message, Signed):
            return message.message
        return None

    def evidence(self, source: str | None, message: Any) -> list[Report]:
        """The audit log's new records (impl/pbft/evidence.py) as the threat levels' kinds
        (`proofs.PBFT_KINDS`; bad_state proves nothing and is not reported)."""
        records = self.core.audit.records
        out: list[Report] = []
        for r in records[self.audit_seen :]:
            kind = PBFT_KINDS.get(r.kind)
            if kind is not None:
                messages = tuple(r.messages) if kind in SELF_PROVING else ()
                out.append((kind, r.accused, messages, PBFT_PREFIX + r.kind))
        self.audit_seen = len(records)
        return out


class HotStuffDetector:
    """A replica's checks of the HotStuff proposals and votes it receives (see the module doc)."""

    def __init__(self, keys: HotStuffKeys) -> None:
        self.keys = keys
        # (signer, view) -> the first proposal or vote of it received
        self._proposals: dict[tuple[str, int], HsProposal | HsVote] = {}
        self._votes: dict[tuple[str, int], HsProposal | HsVote] = {}

    def check(self, source: str, m: Any) -> list[Report]:
        if malformed(m) is not None:
            # a tuple for a vote's view, None for a proposal's block: no signature can be checked
            # over it, and the replica refuses it too (impl/hotstuff/replica.py `_deliver`); no
            # honest replica sends one, so the link's sender did, as with a bad signature
            return [(BAD_SIGNATURE, source, (), "a HotStuff message not of its declared types")]
        if isinstance(m, HsProposal):
            signer, view, block = m.block.proposer, m.block.view, m.block.hash
            ok = self.keys.verify(signer, m.signature, proposal_bytes(m.block))
            seen = self._proposals
        elif isinstance(m, HsVote):
            signer, view, block = m.voter, m.view, m.block
            ok = self.keys.verify(signer, m.signature, vote_bytes(m.block, m.view))
            seen = self._votes
        else:
            return []
        if not ok:
            return [(BAD_SIGNATURE, source, (), "a HotStuff signature that does not verify")]
        first = seen.setdefault((signer, view), m)
        first_block = first.block.hash if isinstance(first, HsProposal) else first.block
        if first_block != block:
            return [(EQUIVOCATION, signer, (first, m), HOTSTUFF_EQUIVOCATION)]
        return []


class HotStuffBft(Bft):
    name = HOTSTUFF

    def __init__(self, config: Any, keys: Keys, epoch: int, machine: Machine) -> None:
        self.epoch = epoch
        self.ring = keys.hotstuff(epoch)
        hotstuff = HotStuffConfig(
            config.id,
            config.nodes,
            tuple(client_id(n) for n in config.nodes),
            batch_size=config.batch_size,
            timeout=config.hotstuff_timeout,
        )
        self.core: HybridHotStuff = HybridHotStuff(hotstuff, self.ring, machine)
        self.detector = HotStuffDetector(self.ring)

    def request(self, me: str, ts: int, entry: Any) -> SignedRequest:
        req = HsRequest(me, ts, entry)
        return SignedRequest(req, self.ring.signer(me).sign(request_bytes(req)))

    def wire(self, message: Any) -> HotStuffWire:
        return HotStuffWire(self.epoch, message)

    def unwrap(self, message: Any) -> Any | None:
        return message.message if isinstance(message, HotStuffWire) else None

    def evidence(self, source: str | None, message: Any) -> list[Report]:
        return self.detector.check(source, message) if source is not None else []


def make(config: Any, keys: Keys, epoch: int, machine: Machine) -> Bft:
    """The BFT core of `epoch` for the protocol `config.bft` names."""
    if config.bft == HOTSTUFF:
        return HotStuffBft(config, keys, epoch, machine)
    return PbftBft(config, keys, epoch, machine)
