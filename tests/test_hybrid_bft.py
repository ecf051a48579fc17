"""The hybrid layer's choice of BFT protocol (impl/hybrid/bft.py): the choice itself, HotStuff's
evidence as the hybrid layer checks it, one node in a BFT epoch (the settings its replica runs
with, the wire it reads, the evidence its detectors report), and a HotStuff epoch under a
Byzantine leader."""

from __future__ import annotations

import random
from collections import Counter
from collections import deque
from typing import Any

import attrs
import pytest

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.hotstuff.messages import GENESIS
from meshcheck.impl.hotstuff.messages import GENESIS_QC
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import BlockRequest
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import Request as HsRequest
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hotstuff.messages import request_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hybrid.bft import HOTSTUFF
from meshcheck.impl.hybrid.bft import PBFT
from meshcheck.impl.hybrid.bft import HotStuffDetector
from meshcheck.impl.hybrid.bft import HybridHotStuff
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import HotStuffWire
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import PbftWire
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.entries import client_id
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.node import RETRY
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import HOTSTUFF_EQUIVOCATION
from meshcheck.impl.hybrid.proofs import RAFT_EQUIVOCATION
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.rsm.ops import NOOP
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.sim.storage import Durable
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hybrid import signed_fields as sf
from meshcheck.property_tests.hybrid.free_runs import run

NODES = ("n1", "n2", "n3", "n4")


def test_an_unknown_bft_protocol_is_refused_naming_the_choices() -> None:
    # word for word: the message names the value given and every choice
    with pytest.raises(
        ImplError, match=r"^unknown BFT protocol 'tendermint' \(choices: pbft, hotstuff\)$"
    ):
        HybridConsensus(bft="tendermint")
    with pytest.raises(ImplError, match="choices: pbft, hotstuff"):
        HybridConfig("n1", NODES, bft="PBFT")


def test_pbft_is_the_default() -> None:
    assert HybridConfig("n1", NODES).bft == "pbft"
    assert HybridConsensus().sim.nodes["n1"].config.bft == "pbft"
    assert HybridConsensus(bft=HOTSTUFF).sim.nodes["n1"].config.bft == HOTSTUFF


def _proposals(keys: Keys, epoch: int, leader: str, view: int) -> tuple[Proposal, Proposal]:
    """Two blocks `leader` signed for one view (the second on another parent)."""
    a = Block(GENESIS.hash, view, GENESIS_QC, leader)
    b = Block(a.hash, view, GENESIS_QC, leader)
    signer = keys.hotstuff(epoch).signer(leader)
    return Proposal(a, signer.sign(proposal_bytes(a))), Proposal(b, signer.sign(proposal_bytes(b)))


def _equivocation(keys: Keys, reporter: str, accused: str, epoch: int) -> Evidence:
    p1, p2 = _proposals(keys, epoch, accused, 5)
    record = Evidence(EQUIVOCATION, reporter, accused, (p1, p2), 0, epoch, HOTSTUFF_EQUIVOCATION)
    return keys.sign_evidence(record)


def test_a_hotstuff_equivocation_proves_itself_and_what_does_not_is_refused() -> None:
    keys = Keys(7, NODES, ("c1",))
    check = EvidenceChecker(keys)
    good = _equivocation(keys, "n2", "n1", epoch=2)
    assert check(good)
    p1, p2 = good.messages

    def signed(**changes: Any) -> Evidence:
        return keys.sign_evidence(attrs.evolve(good, **changes))

    assert not check(signed(messages=(p1, p1)))  # one proposal twice: no conflict
    assert not check(signed(accused="n3"))  # n1 signed them, not n3
    assert not check(signed(epoch=3))  # epoch 2's signatures say nothing of epoch 3
    forged = attrs.evolve(
        p2, signature=keys.hotstuff(2).signer("n2").sign(proposal_bytes(p2.block))
    )
    assert not check(signed(messages=(p1, forged)))  # the second one is not n1's
    later = Block(p1.block.hash, 6, GENESIS_QC, "n1")
    p3 = Proposal(later, keys.hotstuff(2).signer("n1").sign(proposal_bytes(later)))
    assert not check(signed(messages=(p1, p3)))  # two views: an honest leader's chain

    ring = keys.hotstuff(2)
    v1, v2 = (
        Vote(p.block.hash, 5, "n3", ring.signer("n3").sign(vote_bytes(p.block.hash, 5)))
        for p in (p1, p2)
    )
    assert check(signed(accused="n3", messages=(v1, v2)))
    assert not check(signed(accused="n3", messages=(v1, v1)))
    assert not check(signed(accused="n3", messages=(v1, p2)))


def test_the_detector_reports_what_an_honest_replica_never_signs() -> None:
    keys = Keys(7, NODES, ("c1",))
    ring = keys.hotstuff(2)
    p1, p2 = _proposals(keys, 2, "n1", 5)
    detector = HotStuffDetector(ring)
    assert detector.check("n1", p1) == []
    assert detector.check("n1", p1) == []  # the same proposal again (a retransmission)
    [(kind, accused, messages, detail)] = detector.check("n1", p2)
    assert (kind, accused, messages, detail) == (
        EQUIVOCATION,
        "n1",
        (p1, p2),
        HOTSTUFF_EQUIVOCATION,
    )
    bad = attrs.evolve(p1, signature=bytes(64))
    [(kind, accused, messages, detail)] = detector.check("n4", bad)
    # against the link's sender; the detail is in the record every node commits and reads
    assert (kind, accused, messages, detail) == (
        BAD_SIGNATURE,
        "n4",
        (),
        "a HotStuff signature that does not verify",
    )


# -- one node in its first BFT epoch --------------------------------------------------------------


def _raft_equivocation(keys: Keys) -> EvidenceEntry:
    """The last node (n4), Raft leader of epoch 1, signed two different entries for index 1 of
    term 2; the first node (n1) reports it."""
    first_node, last = keys.nodes[0], keys.nodes[-1]

    def append(value: object) -> Signed[RaftPayload]:
        m = AppendEntriesRequest(last, first_node, 2, 0, 0, (Entry(2, value),), 0)
        return keys.seal(1, last, RaftPayload(1, last, m))

    first = keys.sign_op(ClientOp("c1", 1, to_value(Custom("k1", 0))))
    record = Evidence(
        EQUIVOCATION, first_node, last, (append(first), append(NOOP)), 0, 1, RAFT_EQUIVOCATION
    )
    return EvidenceEntry(keys.sign_evidence(record))


def _in_bft_epoch(
    keys: Keys, me: str, *, disk: Durable | None = None, **config: Any
) -> tuple[HybridNode, list[Effect]]:
    """Node `me` after the switch to epoch 2 (Critical: a committed equivocation closes epoch 1),
    with the effects of the step that switched; what it persisted goes to `disk`."""
    node = HybridNode(
        HybridConfig(me, keys.nodes, **config), keys, EvidenceChecker(keys), random.Random(0)
    )
    node.step(Restart({}))
    node.machine.apply_entry(NOOP)
    node.machine.apply_entry(_raft_equivocation(keys))
    effects = node.step(Tick(RETRY))
    if disk is not None:
        for e in effects:
            if isinstance(e, Persist):
                disk.apply(e.writes)
    assert (node.epoch, node.current_protocol()) == (2, BFT)
    return node, effects


def _op(keys: Keys, seq: int) -> ClientOp:
    return keys.sign_op(ClientOp("c1", seq, to_value(Custom(f"k{seq}", 0)), 2))


def test_a_hotstuff_epoch_runs_with_the_configured_view_timer_and_batch_size() -> None:
    """`hotstuff_timeout` and `batch_size` of HybridConfig are the HotStuff replica's own: the view
    timer the switch arms, and how many pending requests the leader's block carries."""
    keys = Keys(7, NODES, ("c1",))
    # n2 leads view 1 (round-robin, impl/hotstuff/replica.py `leader`)
    node, switched = _in_bft_epoch(keys, "n2", bft=HOTSTUFF, hotstuff_timeout=37, batch_size=2)
    assert SetTimer("e2/view", 37) in switched
    for seq in (1, 2, 3):
        node.step(ClientRequest(_op(keys, seq), seq))
    blocks = {
        e.message.message.block
        for e in node.step(Tick("e2/propose"))
        if isinstance(e, Send) and isinstance(e.message.message, Proposal)
    }
    [block] = blocks
    assert [r.request.op.op.seq for r in block.batch] == [1, 2]


def _reading(keys: Keys, node: str, ts: int, time: int) -> HotStuffWire:
    """`node`'s clock reading at `time`, its HotStuff request number `ts` of epoch 2."""
    me = client_id(node)
    request = HsRequest(me, ts, keys.sign_clock(ClockEntry(node, time)))
    signature = keys.hotstuff(2).signer(me).sign(request_bytes(request))
    return HotStuffWire(2, SignedRequest(request, signature))


def test_a_hotstuff_replica_keeps_only_each_nodes_newest_clock_reading_in_its_place() -> None:
    """A node's newer reading takes the place of its older one still pending (the ThreatModel
    keeps a node's latest reading only), and one older than a reading taken is not kept: a
    HotStuff epoch slower than the readings come in queued them without bound, each older when
    committed (bft.py `HybridHotStuff._on_request`). Other requests keep their places."""
    keys = Keys(7, NODES, ("c1",))
    node, _ = _in_bft_epoch(keys, "n2", bft=HOTSTUFF, batch_size=4)  # n2 leads view 1
    for source, ts, time in (("n3", 1, 100), ("n1", 1, 100), ("n3", 2, 200), ("n3", 1, 100)):
        node.step(Deliver(source, _reading(keys, source, ts, time)))
    node.step(ClientRequest(_op(keys, 1), 1))
    node.step(Deliver("n3", _reading(keys, "n3", 3, 300)))
    node.step(Deliver("n4", _reading(keys, "n4", 1, 250)))
    [block] = {
        e.message.message.block
        for e in node.step(Tick("e2/propose"))
        if isinstance(e, Send) and isinstance(e.message.message, Proposal)
    }
    batch = [(r.request.client, getattr(r.request.op, "time", "op")) for r in block.batch]
    assert batch == [("n3.c", 300), ("n1.c", 100), ("n2.c", "op"), ("n4.c", 250)]


def test_a_pbft_epoch_runs_with_the_configured_batches_window_checkpoints_and_timers() -> None:
    """HybridConfig's PBFT settings are the PBFT replica's own (impl/pbft/config.py). Four nodes
    stepped by hand, n1 (view 0's primary) given five requests at once: with a window of 2 the
    primary pre-prepares numbers 1 and 2, one request each (batch delay 0: what it has), and
    waits; the checkpoint at 2 (every 2) frees the window, and the three queued requests go as
    batches of at most 2. The switch arms the status timer at `retransmit_every`, a backup's
    request timer runs `view_change_timeout`."""
    keys = Keys(7, NODES, ("c1",))
    settings: dict[str, Any] = {
        "batch_size": 2,
        "checkpoint_every": 2,
        "window": 2,
        "retransmit_every": 70,
        "view_change_timeout": 333,
    }
    nodes: dict[str, HybridNode] = {}
    for n in NODES:
        nodes[n], switched = _in_bft_epoch(keys, n, **settings)
        assert SetTimer("e2/status", 70) in switched
    queue: deque[tuple[str, Send]] = deque()
    for seq in range(1, 6):
        queue.extend(
            ("n1", e)
            for e in nodes["n1"].step(ClientRequest(_op(keys, seq), seq))
            if isinstance(e, Send)
        )
    batches: dict[int, int] = {}  # sequence number -> requests in n1's pre-prepare
    timers: set[SetTimer] = set()  # what n2 armed
    while queue:  # every message delivered, in order, until none is left
        source, send = queue.popleft()
        body = send.message.message.body if isinstance(send.message, PbftWire) else None
        if source == "n1" and isinstance(body, PrePrepare):
            batches[body.seq] = len(body.batch)
        for e in nodes[send.dest].step(Deliver(source, send.message)):
            if isinstance(e, Send):
                queue.append((send.dest, e))
            elif isinstance(e, SetTimer) and send.dest == "n2":
                timers.add(e)
    assert batches == {1: 1, 2: 1, 3: 2, 4: 1}
    assert all(node.history == tuple(("c1", s) for s in range(1, 6)) for node in nodes.values())
    assert {t.after for t in timers if t.timer.startswith("e2/request")} == {333}


def test_a_pbft_epoch_reports_each_audit_record_once_as_hybrid_evidence() -> None:
    """PBFT's audit log (impl/pbft/evidence.py) becomes hybrid evidence of the threat levels' kinds
    (proofs.PBFT_KINDS). A bad signature proves nothing to a third party, so its record carries
    no messages; an equivocation carries the primary's two pre-prepares, which prove it to every
    node. Each audit record once: a later step reads the log from where the last read stopped (a
    record read again, after `report_every`, would be a second report of one offence)."""
    keys = Keys(7, NODES, ("c1",))
    node, _ = _in_bft_epoch(keys, "n2")
    ring = keys.epoch(2)

    def signed(signer: str, body: Any) -> Signed[Any]:
        return Signed(body, signer, ring.signer(signer).sign(signing_bytes(body)))

    def pre_prepare(seq: int) -> Signed[PrePrepare]:
        """n1, view 0's primary, proposes request `seq` of n3's client identity at number 1."""
        request = signed(client_id("n3"), Request(client_id("n3"), seq, OpEntry(_op(keys, seq), 2)))
        return signed("n1", PrePrepare(0, 1, batch_digest((request,)), "n1", (request,)))

    forged = Signed(Prepare(0, 1, batch_digest(()), "n3"), "n3", bytes(64))
    node.step(Deliver("n3", PbftWire(2, forged)))
    a, b = pre_prepare(1), pre_prepare(2)
    node.step(Deliver("n1", PbftWire(2, a)))
    node.step(Deliver("n1", PbftWire(2, b)))
    assert [(r.kind, r.accused, r.messages, r.epoch, r.detail) for r in node.reported] == [
        (BAD_SIGNATURE, "n3", (), 2, "pbft:bad_signature"),
        (EQUIVOCATION, "n1", (a, b), 2, "pbft:equivocation"),
    ]
    assert EvidenceChecker(keys)(node.reported[1])
    later = node.config.report_every + 1
    node.step(Deliver("n4", PbftWire(2, signed("n4", Prepare(0, 1, a.body.digest, "n4"))), later))
    assert len(node.reported) == 2


def test_a_restarted_node_reports_again_what_its_pbft_audit_log_restores() -> None:
    """Evidence a node reported before a crash is not lost with its memory: the PBFT replica
    restores its audit log from disk, the node reports every record of it again, the first
    included, and the retry timer proposes them to the epoch (impl/hybrid/node.py `_report`)."""
    keys = Keys(7, NODES, ("c1",))
    disk = Durable()
    node, _ = _in_bft_epoch(keys, "n2", disk=disk)
    forged = Signed(Prepare(0, 1, batch_digest(()), "n3"), "n3", bytes(64))
    for e in node.step(Deliver("n3", PbftWire(2, forged))):
        if isinstance(e, Persist):
            disk.apply(e.writes)
    [before] = node.reported
    assert (before.kind, before.accused) == (BAD_SIGNATURE, "n3")

    node = HybridNode(HybridConfig("n2", NODES), keys, EvidenceChecker(keys), random.Random(0))
    node.step(Restart(disk.view()))
    assert node.epoch == 2 and node.reported == [before]
    proposed = {
        e.message.message.body.operation
        for e in node.step(Tick(RETRY, now=node.config.retry_every))
        if isinstance(e, Send) and isinstance(e.message, PbftWire)
    }
    assert proposed == {EvidenceEntry(before)}


def test_a_bad_hotstuff_signature_is_reported_against_the_links_sender() -> None:
    """The node signs and proposes the record: the accused is the node the message came from (no
    signature says who made it), and the detail is what every node commits."""
    keys = Keys(7, NODES, ("c1",))
    node, _ = _in_bft_epoch(keys, "n1", bft=HOTSTUFF)
    block = Block(GENESIS.hash, 1, GENESIS_QC, "n2")
    node.step(Deliver("n4", HotStuffWire(2, Proposal(block, bytes(64)))))
    [record] = node.reported
    assert (record.kind, record.reporter, record.accused, record.epoch, record.detail) == (
        BAD_SIGNATURE,
        "n1",
        "n4",
        2,
        "a HotStuff signature that does not verify",
    )


def test_a_bft_epoch_drops_a_message_wrapped_for_the_other_protocol() -> None:
    """A BFT epoch reads only its own protocol's wire (entries.PbftWire, entries.HotStuffWire): a
    valid HotStuff proposal in a PbftWire, or a valid PBFT request in a HotStuffWire, is dropped
    unread; the same message in the right wire is taken (a vote, a pre-prepare)."""
    keys = Keys(7, NODES, ("c1",))
    node, _ = _in_bft_epoch(keys, "n1", bft=HOTSTUFF)
    block = Block(GENESIS.hash, 1, GENESIS_QC, "n2")
    proposal = Proposal(block, keys.hotstuff(2).signer("n2").sign(proposal_bytes(block)))
    # what a Byzantine peer may send: PbftWire's type says Signed, the network carries anything
    assert node.step(Deliver("n2", PbftWire(2, proposal))) == []  # type: ignore[arg-type]
    voted = node.step(Deliver("n2", HotStuffWire(2, proposal)))
    assert [e.message.message.voter for e in voted if isinstance(e, Send)] == ["n1"]

    node, _ = _in_bft_epoch(keys, "n1", bft=PBFT)  # n1 is view 0's primary
    body = Request(client_id("n2"), 1, OpEntry(_op(keys, 1), 2))
    request = Signed(body, body.client, keys.epoch(2).signer(body.client).sign(signing_bytes(body)))
    assert node.step(Deliver("n2", HotStuffWire(2, request))) == []
    assert node.step(Deliver("n2", PbftWire(2, "not a signed message"))) == []  # type: ignore[arg-type]
    ordered = node.step(Deliver("n2", PbftWire(2, request)))
    assert any(isinstance(e, Persist) for e in ordered)
    assert {
        e.dest
        for e in ordered
        if isinstance(e, Send) and isinstance(e.message.message.body, PrePrepare)
    } == {"n2", "n3", "n4"}


def test_a_hotstuff_epoch_asks_for_a_missing_block_again_only_after_fetch_retry() -> None:
    """The core runs on the node's time: each event reaches the epoch's core with the `now` the
    node was stepped at. HotStuff asks for a block it lacks at most once per `fetch_retry` ticks
    (impl/hotstuff/replica.py `_want`): a proposal on a parent n1 never received makes it ask the
    proposer and the parent's QC voters, the same proposal again a tick later asks nobody, and
    once fetch_retry ticks have passed it asks again."""
    keys = Keys(7, NODES, ("c1",))
    node, _ = _in_bft_epoch(keys, "n1", bft=HOTSTUFF)
    ring = keys.hotstuff(2)
    parent = Block(GENESIS.hash, 1, GENESIS_QC, "n2")  # view 1's, never sent to n1
    votes = tuple((v, ring.signer(v).sign(vote_bytes(parent.hash, 1))) for v in ("n2", "n3", "n4"))
    block = Block(parent.hash, 2, QC(parent.hash, 1, votes), "n3")  # n3 leads view 2
    proposal = Proposal(block, ring.signer("n3").sign(proposal_bytes(block)))
    core = node.current.core
    assert isinstance(core, HybridHotStuff)
    retry = core.config.fetch_retry

    def asked(now: int) -> list[str]:
        effects = node.step(Deliver("n3", HotStuffWire(2, proposal), now))
        return sorted(
            e.dest
            for e in effects
            if isinstance(e, Send) and e.message.message == BlockRequest(parent.hash)
        )

    assert asked(100) == ["n2", "n3", "n4"]
    assert asked(101) == []
    assert asked(100 + retry - 1) == []
    assert asked(100 + retry) == ["n2", "n3", "n4"]


def test_a_bft_epoch_drops_a_sealed_raft_message_for_it() -> None:
    """A sealed Raft message of a BFT epoch (its seal verifies: the epoch's keys are the same for
    both) is nothing that epoch's core reads: dropped unread, whatever it says, on both BFT
    protocols, and nothing is reported (an honest node sealing a late Raft message for an epoch
    it has not yet seen end is no liar)."""
    keys = Keys(7, NODES, ("c1",))
    append = AppendEntriesRequest("n2", "n1", 1, 0, 0, (Entry(1, NOOP),), 1)
    for bft in (PBFT, HOTSTUFF):
        node, _ = _in_bft_epoch(keys, "n1", bft=bft)
        before = len(node.reported)
        message = keys.seal(2, "n2", RaftPayload(2, "n2", append))
        assert keys.sealed_ok(2, message)
        assert node.step(Deliver("n2", message)) == []
        assert len(node.reported) == before


def test_a_bft_timer_reaches_its_core_whatever_the_node_names_hold() -> None:
    """An instance's timers are named `e<epoch>/<the core's name>` (impl/hybrid/instance.py), and
    the core's name may hold a "/" of its own: a PBFT request timer names the request's client,
    `<node>.c`, and a node's name may have a "/". The tick goes to epoch 2's replica, which starts
    a view change for the request its primary let wait (Castro and Liskov, section 4.4)."""
    names = ("dc/1", "dc/2", "dc/3", "dc/4")
    keys = Keys(7, names, ("c1",))
    node, _ = _in_bft_epoch(keys, "dc/2")  # a backup: dc/1 is view 0's primary
    body = Request(client_id("dc/3"), 1, OpEntry(_op(keys, 1), 2))
    request = Signed(body, body.client, keys.epoch(2).signer(body.client).sign(signing_bytes(body)))
    armed = [e for e in node.step(Deliver("dc/3", PbftWire(2, request))) if isinstance(e, SetTimer)]
    timer = f"e2/request {client_id('dc/3')} 1"
    assert [e.timer for e in armed if e.timer.startswith("e2/request")] == [timer]
    fired = node.step(Tick(timer))
    assert {
        e.dest
        for e in fired
        if isinstance(e, Send) and isinstance(e.message.message.body, ViewChange)
    } == {"dc/1", "dc/3", "dc/4"}


# The Raft leader forges seals (bad signatures: High, BFT); as HotStuff leader in the BFT epochs
# it equivocates (impl/hotstuff/byzantine.py), until the calm.
EQUIVOCATING_LEADER = Schedule(
    seed=1,
    ticks=600,
    drop=0.02,
    behaviours=("forge_seals", "pbft_equivocate"),
    target="leader",
    start=1,
)


def test_a_hotstuff_leader_that_equivocates_is_caught_and_the_run_holds() -> None:
    """Measured: five epochs (Raft, HotStuff, Raft, HotStuff, Raft); the equivocating leader's two
    proposals of one view, reported by honest nodes, committed as self-proving evidence (Critical);
    every invariant held after every step, and the cluster came back to Raft."""
    out = run(EQUIVOCATING_LEADER, bft=HOTSTUFF)
    reported = Counter(
        r.detail for i in out.hc.honest for r in out.hc.nodes[i].reported if r.kind == EQUIVOCATION
    )
    assert reported[HOTSTUFF_EQUIVOCATION] >= 1
    assert out.hc.metrics()["evidence"]["equivocation"] >= 1  # committed and believed
    assert out.switches >= 2


def test_a_hotstuff_message_moved_to_another_epoch_is_taken_only_with_keys_shared_by_epochs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(HotStuffWire, epoch) is covered by no signature: the check that a request of epoch 2 moved
    to epoch 3 is refused there holds, and fails if every epoch had the same HotStuff keys."""
    sf.hotstuff_wire_epoch(frozenset())
    shared = Keys.hotstuff
    monkeypatch.setattr(Keys, "hotstuff", lambda self, epoch: shared(self, 1))
    with pytest.raises(CheckFailed, match="moved to epoch 3 is taken there"):
        sf.hotstuff_wire_epoch(frozenset())
