"""The hybrid node's rules one step at a time (impl/hybrid/node.py): one node, stepped by hand, and
what it answers, reports and becomes. Each test pins a behaviour the mutation campaign
(mutation/run.py) found no fast test reading."""

from __future__ import annotations

import random
from typing import Any

import attrs
import pytest

from meshcheck.impl.base import probes
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hotstuff.messages import Vote as HsVote
from meshcheck.impl.hotstuff.replica import MALFORMED as HS_MALFORMED
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.bft import HOTSTUFF
from meshcheck.impl.hybrid.bft import PBFT
from meshcheck.impl.hybrid.bft import HybridHotStuff
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import HotStuffWire
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import PbftWire
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.levels import TIMING
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.hybrid.machine import REJECTED
from meshcheck.impl.hybrid.node import CLOCK
from meshcheck.impl.hybrid.node import NOT_SIGNED
from meshcheck.impl.hybrid.node import RETRY
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.node import ended
from meshcheck.impl.hybrid.proofs import PBFT_PREFIX
from meshcheck.impl.hybrid.proofs import RAFT_EQUIVOCATION
from meshcheck.impl.hybrid.proofs import RAFT_TAMPERING
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.hybrid.threat import ACCEPTED
from meshcheck.impl.hybrid.threat import REFUSED
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.pbft import evidence as pbft_evidence
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import AppendEntriesResponse
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.messages import InstallSnapshotRequest
from meshcheck.impl.raft.messages import RequestVoteRequest
from meshcheck.impl.raft.messages import RequestVoteResponse
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.roles import CANDIDATE
from meshcheck.impl.raft.roles import FOLLOWER
from meshcheck.impl.raft.roles import LEADER
from meshcheck.impl.rsm.ops import NOOP
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.sim.storage import Durable

NODES = ("n1", "n2", "n3", "n4")


def node(keys: Keys, bugs: frozenset[str] = frozenset()) -> HybridNode:
    """n1, not started."""
    config = HybridConfig("n1", NODES, bugs=bugs)
    return HybridNode(config, keys, EvidenceChecker(keys), random.Random(0))


def started(keys: Keys, bugs: frozenset[str] = frozenset()) -> HybridNode:
    """n1 after its first Restart: epoch 1, Raft, a follower with no leader yet."""
    n = node(keys, bugs)
    n.step(Restart({}))
    return n


def sealed(keys: Keys, signer: str, message: Any, epoch: int = 1) -> Signed[RaftPayload]:
    return keys.seal(epoch, signer, RaftPayload(epoch, signer, message))


def leader(keys: Keys, config: HybridConfig | None = None) -> HybridNode:
    """n1 elected Raft leader of epoch 1's term 1 by n2 and n3: its log holds the term's no-op."""
    n = HybridNode(
        config or HybridConfig("n1", NODES), keys, EvidenceChecker(keys), random.Random(0)
    )
    n.step(Restart({}))
    n.step(Tick("e1/election"))
    for voter in ("n2", "n3"):
        n.step(Deliver(voter, sealed(keys, voter, RequestVoteResponse(voter, "n1", 1, True))))
    core = n.current.core
    assert isinstance(core, RaftNode) and core.role == LEADER and core.log.last_index == 1
    return n


def log_of(n: HybridNode) -> list[Any]:
    """The values in the node's current Raft log, in order."""
    core = n.current.core
    assert isinstance(core, RaftNode)
    return [core.log.entry(i).value for i in range(1, core.log.last_index + 1)]


def tagged(keys: Keys, seq: int, epoch: int = 1, value: int = 0) -> ClientOp:
    return keys.sign_op(ClientOp("c1", seq, to_value(Custom(f"k{seq}", value)), epoch))


def equivocation(keys: Keys) -> EvidenceEntry:
    """n4's two sealed AppendEntries of term 1 that disagree at index 1, reported by n2: applied,
    the threat level goes to Critical and epoch 1's machine closes (the switch entry)."""
    first = AppendEntriesRequest("n4", "n2", 1, 0, 0, (Entry(1, NOOP),), 0)
    second = AppendEntriesRequest("n4", "n2", 1, 0, 0, (Entry(1, OpEntry(tagged(keys, 99), 1)),), 0)
    proof = (sealed(keys, "n4", first), sealed(keys, "n4", second))
    record = Evidence(EQUIVOCATION, "n2", "n4", proof, 0, 1, RAFT_EQUIVOCATION)
    return EvidenceEntry(keys.sign_evidence(record))


def switch(n: HybridNode, keys: Keys) -> list[Effect]:
    """Epoch 1's switch entry applied on `n` (as its Raft instance would apply it): the effects of
    the next step, where the node enters epoch 2 (the BFT protocol its config names)."""
    n.machine.apply_entry(NOOP)
    n.machine.apply_entry(equivocation(keys))
    effects = n.step(Tick(RETRY))
    assert (n.epoch, n.current_protocol()) == (2, BFT)
    return effects


# -- start -----------------------------------------------------------------------------------------


def test_a_node_refuses_any_step_before_its_first_restart(keys: Keys) -> None:
    # the simulator's first event for a node is its Restart (impl/base/node.py); a harness that
    # forgets it gets told which node and which event
    n = node(keys)
    with pytest.raises(RuntimeError) as caught:
        n.step(Tick(RETRY))
    assert str(caught.value) == (f"n1: step({Tick(RETRY)!r}) before Restart: start the node first")


def test_a_node_refuses_an_event_that_is_not_a_hybrid_one(keys: Keys) -> None:
    n = started(keys)
    with pytest.raises(TypeError) as caught:
        n.step("hello")
    assert str(caught.value) == "n1: not a hybrid event: 'hello'"


def test_a_clock_tick_proposes_the_nodes_signed_time_and_rearms(keys: Keys) -> None:
    """Every `clock_every` ticks a node proposes its own time, signed (a ClockEntry): the
    replicated state's clock is the median of the nodes' (impl/hybrid/threat.py), which the
    quiet period and dwell of the threat levels count in. A follower forwards it to its leader."""
    n = started(keys)
    n.step(heartbeat(keys))
    clock = keys.sign_clock(ClockEntry("n1", 70))
    assert n.step(Tick(CLOCK, 70)) == [
        SetTimer(CLOCK, n.config.clock_every),
        Send("n3", keys.seal(1, "n1", Proposal(1, "n1", clock))),
    ]


def test_a_timer_of_no_epoch_the_node_keeps_is_ignored(keys: Keys) -> None:
    """Instance timers are named "e<epoch>/<the core's name>" (instance.py); a tick of any other
    name, or of an epoch the node does not keep, reaches no instance (a Raft election here would
    start a campaign)."""
    n = started(keys)
    for timer in ("x1/election", "ex/election", "e/election", "e7/election", "election"):
        assert n.step(Tick(timer)) == []
    core = n.current.core
    assert isinstance(core, RaftNode) and (core.term, core.role) == (0, FOLLOWER)
    assert n.step(Tick("e1/election"))[0] == Persist((Put("e1/hard", (1, "n1")),))


def test_a_nodes_repr_names_its_epoch_protocol_and_level(keys: Keys) -> None:
    # read in failure reports and the debugger: before the first Restart a node is in no epoch
    n = node(keys)
    assert repr(n) == "<HybridNode n1 epoch=0 ? level=None>"
    n.step(Restart({}))
    assert repr(n) == f"<HybridNode n1 epoch=1 {RAFT} level=None>"


def test_a_raft_epoch_takes_its_batch_size_and_heartbeat_from_the_hybrid_config(
    keys: Keys,
) -> None:
    """An epoch's Raft instance runs with the hybrid config's `max_entries` (entries per
    AppendEntries: a probe for a lagging follower, and so an equivocation proof made of it, never
    carries the whole log) and `heartbeat_interval`, not Raft's own defaults (no limit, 50)."""
    config = HybridConfig("n1", NODES, max_entries=2, heartbeat_interval=40)
    n = leader(keys, config)
    assert n.step(Tick("e1/heartbeat"))[0] == SetTimer("e1/heartbeat", 40)
    for seq in (1, 2, 3):
        n.step(ClientRequest(tagged(keys, seq), seq))
    assert len(log_of(n)) == 4
    ack = AppendEntriesResponse("n2", "n1", 1, True, 1)  # n2 holds the no-op: the rest goes now
    sends = [e for e in n.step(Deliver("n2", sealed(keys, "n2", ack))) if isinstance(e, Send)]
    assert len(sends) == 1 and sends[0].dest == "n2"
    batch = sends[0].message.body.message
    assert isinstance(batch, AppendEntriesRequest) and batch.prev_log_index == 1
    assert [e.value for e in batch.entries] == log_of(n)[1:3]


# -- clients -----------------------------------------------------------------------------------------


def heartbeat(keys: Keys, leader: str = "n3", term: int = 1) -> Deliver:
    """`leader`'s empty AppendEntries of `term` to n1: n1 follows it."""
    return Deliver(
        leader, sealed(keys, leader, AppendEntriesRequest(leader, "n1", term, 0, 0, (), 0))
    )


def test_a_request_for_an_op_already_committed_is_answered_from_the_state(keys: Keys) -> None:
    """A client that asks again for an op that committed (its answer was lost, or it went to
    another node) gets the op's result at once, Hybrid.tla's Reply(o), whatever epoch its tag
    names, the epoch that ended included (the op committed before its switch entry): it is not
    rejected, nor held, nor forwarded to the leader again."""
    n = started(keys)
    n.step(heartbeat(keys))  # n1 follows n3: a proposal would go there
    o = tagged(keys, 1, value=5)
    result = n.machine.apply_entry(OpEntry(o, 1))
    assert result["status"] == COMMITTED
    n.step(Tick(RETRY))  # the Apply of what the test applied by hand
    answer = [Action("Submit", {"o": "c1/1"}), Action("Reply", {"o": "c1/1"}), Reply(9, result)]
    assert n.step(ClientRequest(o, 9)) == answer
    switch(n, keys)
    assert n.step(ClientRequest(o, 9)) == answer
    assert n.waiting == {}


def test_a_follower_forwards_an_op_of_its_epoch_and_answers_every_request_for_it(
    keys: Keys,
) -> None:
    """A Raft follower forwards a client's op tagged with its epoch to the leader it follows, as
    a sealed Proposal, and again at every retry until it commits; an op tagged for a later epoch
    waits for that epoch. A client that asks
    again while the op is in flight adds a request: when the op commits, every request for it is
    answered. With no leader to forward to, the op is only held."""
    n = started(keys)
    o = tagged(keys, 1)
    assert n.step(ClientRequest(o, 0)) == [Action("Submit", {"o": "c1/1"})]  # no leader: held
    n.step(heartbeat(keys))
    effects = n.step(ClientRequest(o, 1))
    assert effects[1:] == [Send("n3", keys.seal(1, "n1", Proposal(1, "n1", OpEntry(o, 1))))]
    assert n.step(ClientRequest(tagged(keys, 2, epoch=2), 2)) == [Action("Submit", {"o": "c1/2"})]
    # what is not committed is proposed again every retry_every ticks: only the op of this epoch
    retry = n.step(Tick(RETRY))
    assert [e for e in retry if isinstance(e, Send)] == effects[1:]
    n.step(ClientRequest(o, 3))
    result = n.machine.apply_entry(OpEntry(o, 1))
    effects = n.step(Tick(RETRY))
    assert [e for e in effects if isinstance(e, Reply)] == [
        Reply(0, result),
        Reply(1, result),
        Reply(3, result),
    ]
    assert list(n.waiting) == [(("c1", 2), 2)]


def test_each_committed_op_is_announced_once_with_its_position_and_epoch(keys: Keys) -> None:
    """Every op the replicated state commits comes out once as an `Apply` effect: its position
    in the history, the op with the epoch it committed in (a client's rejection answers one (op,
    epoch) proposal, and the history checks tell them apart), and its result. The simulator's
    State Machine Safety record and the client-history checks read these."""
    n = started(keys)
    first, second = OpEntry(tagged(keys, 1), 1), OpEntry(tagged(keys, 2), 1)
    results = [n.machine.apply_entry(e) for e in (first, second)]
    applied = [e for e in n.step(Tick(RETRY)) if isinstance(e, Apply)]
    assert applied == [
        Apply(1, ("c1", 1, 1), results[0]),
        Apply(2, ("c1", 2, 1), results[1]),
    ]
    assert [e for e in n.step(Tick(RETRY)) if isinstance(e, Apply)] == []
    switch(n, keys)
    third = n.machine.apply_entry(OpEntry(tagged(keys, 3, epoch=2), 2))
    assert [e for e in n.step(Tick(RETRY)) if isinstance(e, Apply)] == [
        Apply(3, ("c1", 3, 2), third)
    ]


def test_an_op_left_out_of_its_epoch_is_rejected_with_the_epoch_that_ended(keys: Keys) -> None:
    """Hybrid.tla's Reject(o): an op whose epoch's switch entry left it out can never commit
    there, and the answer says so, naming the epoch that ended (the client proposes the op again
    tagged with the next one). The same answer whether the node held the op when the epoch ended
    or is asked for it later; the result has the machine's shape ("ok", "status", "reason")."""
    rejected = FrozenDict({"ok": False, "status": REJECTED, "reason": "epoch 1 ended", "ended": 1})
    n = started(keys)
    n.step(ClientRequest(tagged(keys, 1), 1))
    effects = switch(n, keys)
    assert [e for e in effects if isinstance(e, Reply)] == [
        Reply(1, rejected, error="rejected: epoch 1 ended")
    ]
    assert n.step(ClientRequest(tagged(keys, 2), 2)) == [
        Action("Submit", {"o": "c1/2"}),
        Action("Reject", {"o": "c1/2"}),
        Reply(2, rejected, error="rejected: epoch 1 ended"),
    ]
    assert n.waiting == {}


def test_an_op_the_client_did_not_sign_is_refused_with_its_reason(keys: Keys) -> None:
    """An op whose client signature fails, or a request that is not a client op at all, is
    answered at once with the error and nothing else: no Submit (Hybrid.tla's client never
    proposed it), nothing held, nothing proposed."""
    n = started(keys)
    signed = keys.sign_op(ClientOp("c1", 1, to_value(Custom("k1", 1))))
    forged = ClientOp("c1", 1, to_value(Custom("k1", 666)), signature=signed.signature)
    assert n.step(ClientRequest(forged, 5)) == [Reply(5, error=NOT_SIGNED)]
    assert n.step(ClientRequest("not an op", 6)) == [Reply(6, error="bad client signature")]
    assert n.waiting == {}


# -- messages ----------------------------------------------------------------------------------------


def test_a_message_of_no_epoch_is_reported_against_its_sender(keys: Keys) -> None:
    """Every message an honest node sends carries its epoch (entries.epoch_of); one that does not
    is a bad-signature report against the link's sender, in the node's current epoch. The record
    is signed and goes into the replicated state as it is (proofs.py checks it), so each field of
    it is what the other nodes read."""
    n = started(keys)
    n.step(Deliver("n2", "not a hybrid message"))
    expected = keys.sign_evidence(Evidence(BAD_SIGNATURE, "n1", "n2", (), 0, 1, ""))
    assert n.reported == [expected]
    assert [record for record, _since in n.pending.values()] == [expected]


def test_a_proposal_carrying_an_op_its_client_did_not_sign_is_reported_not_appended(
    keys: Keys,
) -> None:
    """A follower forwards a client's op to the leader as a sealed Proposal. One whose op fails
    its client's signature proves its sealer tampered (RAFT_TAMPERING, the seal being the proof):
    the leader reports it and does not append it, so the epoch's chain never holds it. A proposal
    that checks out is appended, once per term however often it is retried."""
    n = leader(keys)
    real = tagged(keys, 1, value=1)
    forged = attrs.evolve(real, op=to_value(Custom("k1", 666)))
    bad = keys.seal(1, "n2", Proposal(1, "n2", OpEntry(forged, 1)))
    for now in (0, 1):  # proposed again: the same proof, one record
        n.step(Deliver("n2", bad, now))
    expected = keys.sign_evidence(Evidence(TAMPERING, "n1", "n2", (bad,), 0, 1, RAFT_TAMPERING))
    assert n.reported == [expected] and EvidenceChecker(keys)(expected)
    assert log_of(n) == [NOOP, EvidenceEntry(expected)]  # the leader proposes its own record
    good = keys.seal(1, "n2", Proposal(1, "n2", OpEntry(real, 1)))
    for _retry in range(2):
        n.step(Deliver("n2", good))
    assert log_of(n) == [NOOP, EvidenceEntry(expected), OpEntry(real, 1)]


def test_a_leader_appends_an_op_only_in_the_epoch_of_its_tag_and_only_once(keys: Keys) -> None:
    """An op goes only to the epoch its client signed it for (Hybrid.tla's Submit(o) proposes in
    o's epoch): a proposal that names another epoch for the op, or an op tagged for another epoch,
    is not appended; nor is an op the epoch committed already (a late retry), which would be
    applied as nothing but take a position of the chain."""
    n = leader(keys)
    later = tagged(keys, 1, epoch=2)
    for entry in (OpEntry(later, 2), OpEntry(later, 1), OpEntry(tagged(keys, 2), 2)):
        n.step(Deliver("n2", keys.seal(1, "n2", Proposal(1, "n2", entry))))
    assert log_of(n) == [NOOP]
    done = OpEntry(tagged(keys, 3), 1)
    assert n.machine.apply_entry(done)["status"] == COMMITTED
    n.step(Deliver("n2", keys.seal(1, "n2", Proposal(1, "n2", done))))
    assert log_of(n) == [NOOP]


def test_a_proposal_for_an_epoch_that_is_not_the_nodes_raft_epoch_is_not_appended(
    keys: Keys,
) -> None:
    """A leader of an epoch that ended keeps its instance for laggards, but appends nothing more
    to it: nothing beyond the switch entry is ever applied, so a late Proposal for that epoch
    could only lengthen a log nobody commits. A Proposal for a BFT epoch is nobody's (a node
    submits to PBFT as a client): it is dropped, not appended."""
    n = leader(keys)
    old = n.current.core
    assert isinstance(old, RaftNode)
    switch(n, keys)
    late = keys.seal(1, "n2", Proposal(1, "n2", OpEntry(tagged(keys, 1), 1)))
    n.step(Deliver("n2", late))
    assert [old.log.entry(i).value for i in range(1, old.log.last_index + 1)] == [NOOP]
    stray = keys.seal(2, "n2", Proposal(2, "n2", OpEntry(tagged(keys, 2, epoch=2), 2)))
    assert n.step(Deliver("n2", stray)) == []
    assert n.reported == []


def test_a_node_reports_no_stranger_and_never_itself(keys: Keys) -> None:
    """A message of no epoch from a node outside the membership, or one the link says came from
    this node, accuses nobody: a record against a stranger proves nothing (EvidenceChecker
    refuses it), and a node does not report itself."""
    n = started(keys)
    for source in ("n9", "n1"):
        n.step(Deliver(source, "not a hybrid message"))
    assert n.reported == [] and n.pending == {}


def test_a_node_reports_an_offence_once_per_report_every_proof_or_not(
    keys: Keys,
) -> None:
    """A node files at most one report per kind and accused every `report_every` ticks. A report
    that proves nothing by itself (bad signature, timing) is counted by reporter
    (impl/hybrid/threat.py), so a sender of garbage cannot make it flood the chain; and a proof
    (equivocation, tampering) demands its level alone, so a leader that equivocates in every
    message cannot either: a new proof within `report_every` of the last is not filed, one after
    it is, and one proof is filed once."""
    n = started(keys)
    every = n.config.report_every

    def garbage(source: str, now: int) -> None:
        n.step(Deliver(source, "not a hybrid message", now))

    garbage("n2", 200)
    garbage("n2", 200 + every - 1)
    garbage("n3", 200 + every - 1)  # another accused is another count
    garbage("n2", 200 + every)
    garbage("n2", 200 + 2 * every - 1)
    assert [(r.accused, r.time) for r in n.reported] == [
        ("n2", 200),
        ("n3", 200 + every - 1),
        ("n2", 200 + every),
    ]
    # n4 signs four different entries for index 1 of its term 1: three proofs, the second five
    # ticks after the first, the third `every` ticks after the first
    n = started(keys)
    values = (NOOP, *(OpEntry(tagged(keys, k), 1) for k in (1, 2, 3)))
    for now, value in zip((300, 305, 310, 305 + every), values, strict=True):
        m = AppendEntriesRequest("n4", "n1", 1, 0, 0, (Entry(1, value),), 0)
        n.step(Deliver("n4", sealed(keys, "n4", m), now))
        n.step(Deliver("n4", sealed(keys, "n4", m), now))  # the same message again: no new proof
    assert [(r.kind, r.time) for r in n.reported] == [
        (EQUIVOCATION, 305),
        (EQUIVOCATION, 305 + every),
    ]


def test_a_proof_filed_before_does_not_hold_back_the_next_one(keys: Keys) -> None:
    """The limit counts reports filed, not proofs seen: an old proof delivered again after
    `report_every` files nothing, so it must not restart the wait either, or a Byzantine leader
    whose old messages keep being duplicated could tamper unreported for as long as they arrive
    (found by `meshcheck verify --seed 795383559`, routing free runs: "n4: took an entry whose
    signature fails from n1, unreported")."""
    n = started(keys)
    every = n.config.report_every
    values = (NOOP, *(OpEntry(tagged(keys, k), 1) for k in (1, 2)))
    messages = [
        sealed(keys, "n4", AppendEntriesRequest("n4", "n1", 1, 0, 0, (Entry(1, v),), 0))
        for v in values
    ]
    for now, m in zip(
        (300, 305, 305 + every, 310 + every), (*messages[:2], *messages[1:]), strict=True
    ):
        n.step(Deliver("n4", m, now))
    assert [(r.kind, r.time) for r in n.reported] == [
        (EQUIVOCATION, 305),
        (EQUIVOCATION, 310 + every),
    ]


def test_a_raft_message_is_taken_only_as_its_sealer_wrote_it(keys: Keys) -> None:
    """The seal is the link's sender's, so the Raft message inside must be that sender's own: n2
    sealing an AppendEntries in n4's name is not followed (it would make n2 a leader of n4's
    term), and a snapshot, which hybrid Raft never ships (it never compacts), is not taken."""
    n = started(keys)
    forged = AppendEntriesRequest("n4", "n1", 1, 0, 0, (Entry(1, NOOP),), 1)
    assert n.step(Deliver("n2", sealed(keys, "n2", forged))) == []
    snapshot = InstallSnapshotRequest("n2", "n1", 1, 1, 1, b"")
    assert n.step(Deliver("n2", sealed(keys, "n2", snapshot))) == []
    core = n.current.core
    assert isinstance(core, RaftNode)
    assert (core.term, core.leader, core.log.last_index, core.commit_index) == (0, None, 0, 0)
    # the same AppendEntries sealed by n4 itself is followed
    n.step(Deliver("n4", sealed(keys, "n4", forged)))
    assert (core.term, core.leader, log_of(n)) == (1, "n4", [NOOP])


def test_a_sealed_payload_that_is_no_raft_message_is_dropped(keys: Keys) -> None:
    """A Raft payload carries whatever its sealer put in it: one that is no message at all (a
    number, a string: nothing with a `source`) is dropped, and the node steps on."""
    n = started(keys)
    for junk in (5, "append", None):
        assert n.step(Deliver("n2", sealed(keys, "n2", junk))) == []
    core = n.current.core
    assert isinstance(core, RaftNode) and (core.term, core.log.last_index) == (0, 0)


def test_a_restarted_node_announces_its_history_again_from_the_first_position(keys: Keys) -> None:
    """A restart loses what the node had announced: its machine is rebuilt (here epoch 2's, from
    the start state the switch persisted, which holds the op epoch 1 committed) and every
    committed op is announced again as an Apply, from position 1, as the first time."""
    disk = Durable()

    def kept(effects: list[Effect]) -> list[Effect]:
        for e in effects:
            if isinstance(e, Persist):
                disk.apply(e.writes)
        return effects

    n = node(keys)
    kept(n.step(Restart({})))
    op = tagged(keys, 5)
    n.machine.apply_entry(OpEntry(op, 1))
    first = [e for e in kept(switch(n, keys)) if isinstance(e, Apply)]
    assert [(e.index, e.value) for e in first] == [(1, (*op.key, 1))]
    again = node(keys)
    applied = [e for e in again.step(Restart(disk.view())) if isinstance(e, Apply)]
    assert again.epoch == 2 and applied == first


class _PassThrough:
    """A Byzantine behaviour that changes nothing (impl/hybrid/byzantine.py's shape)."""

    def act(self, node: HybridNode, effects: list[Effect]) -> list[Effect]:
        return effects


@pytest.mark.parametrize(("tainted", "behaviours"), [(True, False), (False, True), (True, True)])
def test_a_byzantine_node_announces_nothing_it_applies(
    keys: Keys, tainted: bool, behaviours: bool
) -> None:
    """A node with Byzantine behaviours, or one that had them once (`tainted`: made honest again,
    its state is still not the service's), keeps its Apply effects to itself: the simulator's
    State Machine Safety record is the honest nodes'. Everything else it says goes out."""
    n = node(keys)
    n.step(Restart({}))
    n.tainted = tainted
    n.behaviours = [_PassThrough()] if behaviours else []
    n.machine.apply_entry(OpEntry(tagged(keys, 5), 1))
    effects = switch(n, keys)
    assert not [e for e in effects if isinstance(e, Apply)]
    assert [e for e in effects if isinstance(e, SetTimer)]


# -- the switch ----------------------------------------------------------------------------------------


def pbft_requests(effects: list[Effect]) -> list[Any]:
    """The operations of the PBFT requests the node sent its peers, each once."""
    found = []
    for e in effects:
        if isinstance(e, Send) and isinstance(e.message, PbftWire):
            body = e.message.message.body
            if isinstance(body, Request) and body.operation not in found:
                found.append(body.operation)
    return found


def hybrid_probes() -> dict[tuple[str, str], int]:
    return {k: v for k, v in probes.drain().items() if k[0] == "hybrid"}


def test_the_switch_probes_fire_only_with_an_op_in_flight(keys: Keys) -> None:
    """`switch_with_op_in_flight` and `escalation_with_op_in_flight`, rare conditions of the
    coverage report (property_tests/hybrid/coverage.py): a switch, from Raft to BFT, while the
    node holds a client op its epochs have not committed. An op that committed before the switch
    entry is not in flight, though the node has not answered it yet when it switches."""
    listening = probes._hits is not None
    probes.listen()
    probes.drain()
    try:
        n = started(keys)
        n.step(ClientRequest(tagged(keys, 1), 1))
        switch(n, keys)
        assert hybrid_probes() == {
            ("hybrid", "switch_with_op_in_flight"): 1,
            ("hybrid", "escalation_with_op_in_flight"): 1,
        }
        n = started(keys)
        committed = tagged(keys, 1)
        n.step(ClientRequest(committed, 1))
        n.machine.apply_entry(OpEntry(committed, 1))
        switch(n, keys)
        assert hybrid_probes() == {}
        assert n.waiting == {}  # answered after the switch, as committed
    finally:
        if not listening:
            probes.stop()


def test_a_switch_answers_each_held_op_by_what_became_of_it(keys: Keys) -> None:
    """At the switch the node holds ops of three fates: one committed before the switch entry
    (answered as committed: Hybrid.tla's Reply), one of the ended epoch left beyond it (rejected
    with the epoch that ended: Reject), one tagged for the new epoch (proposed there now, and
    still held). Each is answered by its own fate, whatever the order they came in."""
    n = started(keys)
    done, left, later = tagged(keys, 1), tagged(keys, 2), tagged(keys, 3, epoch=2)
    for request, o in enumerate((done, left, later), 1):
        n.step(ClientRequest(o, request))
    result = n.machine.apply_entry(OpEntry(done, 1))
    effects = switch(n, keys)
    answers = [
        e for e in effects if isinstance(e, Reply | Action) and e != Action("Switch", {"i": "n1"})
    ]
    assert answers == [
        Action("Reject", {"o": "c1/2"}),
        Reply(2, ended(1)[1], error="rejected: epoch 1 ended"),
        Action("Reply", {"o": "c1/1"}),
        Reply(1, result),
    ]
    assert pbft_requests(effects) == [OpEntry(later, 2)]
    assert list(n.waiting) == [(("c1", 3), 2)]


@pytest.mark.parametrize("bft", [PBFT, HOTSTUFF])
def test_a_retry_in_a_bft_epoch_sends_the_same_request_again(keys: Keys, bft: str) -> None:
    """In a BFT epoch a node proposes as the protocol's client: a retry sends its request for an
    op not yet committed again, the same request (same client and timestamp, which the replicas
    dedup: Castro and Liskov, OSDI 1999, section 4.1), to every peer. There is no leader to
    follow and nothing to campaign against."""
    config = HybridConfig("n1", NODES, bft=bft)
    n = HybridNode(config, keys, EvidenceChecker(keys), random.Random(0))
    n.step(Restart({}))
    n.step(ClientRequest(tagged(keys, 3, epoch=2), 1))
    entered = switch(n, keys)
    retry = [e for e in n.step(Tick(RETRY)) if isinstance(e, Send)]
    assert sorted(e.dest for e in retry) == ["n2", "n3", "n4"]
    assert all(e in entered for e in retry)


# -- the catalogue's switch_on_own_evidence --------------------------------------------------------


def test_mutant_switch_on_own_evidence_enters_the_next_epoch_alone(keys: Keys) -> None:
    """impl/hybrid/mutants.py's switch_on_own_evidence as it is described: a node that catches a
    leader equivocating switches at once, on its own view of the threat (its record taken in:
    Critical, so BFT), to the next epoch, where nothing committed opened it. The correct node
    only reports, and stays in epoch 1 until the record is committed and applied. Tests of the
    kill matrix (tests/test_hybrid_sim.py) need the planted bug to be this one."""
    first = AppendEntriesRequest("n4", "n1", 1, 0, 0, (Entry(1, NOOP),), 0)
    real = OpEntry(keys.sign_op(ClientOp("c1", 1, to_value(Custom("k1", 1)))), 1)
    second = AppendEntriesRequest("n4", "n1", 1, 0, 0, (Entry(1, real),), 0)
    for bugs, epoch in ((frozenset(), 1), (frozenset({mutants.SWITCH_ON_OWN_EVIDENCE}), 2)):
        n = started(keys, bugs)
        for m in (first, second):
            n.step(Deliver("n4", keys.seal(1, "n4", RaftPayload(1, "n4", m))))
        assert [r.kind for r in n.reported] == [EQUIVOCATION]
        assert n.epoch == epoch and sorted(n.instances) == list(range(1, epoch + 1))
        if epoch == 1:
            assert (n.current_protocol(), n.level) == (RAFT, Level.NONE)
        else:
            assert n.protocols == {1: RAFT, 2: BFT}
            assert n.current.protocol == BFT and n.level == Level.CRITICAL
            assert n.instances[1].machine.closed is None  # no switch entry committed


def test_a_follower_reports_the_spec_steps_of_what_it_applies(keys: Keys) -> None:
    """Hybrid.tla's steps of each entry the node's Raft instance applies, where they happen (the
    trace validation and the refinement read them): OrderOp for an op it commits, OrderEvidence
    for a record the threat state takes in, each followed by Apply(i); a no-op and a clock entry
    that lowers nothing are no step of the spec."""
    n = started(keys)
    record = keys.sign_evidence(Evidence(BAD_SIGNATURE, "n2", "n4", (), 0, 1, "x"))
    values = (
        NOOP,
        keys.sign_clock(ClockEntry("n3", 5)),
        OpEntry(tagged(keys, 1), 1),
        EvidenceEntry(record),
    )
    m = AppendEntriesRequest("n3", "n1", 1, 0, 0, tuple(Entry(1, v) for v in values), 4)
    effects = n.step(Deliver("n3", sealed(keys, "n3", m)))
    assert [e for e in effects if isinstance(e, Action)] == [
        Action("OrderOp", {"e": 1, "o": "c1/1"}),
        Action("Apply", {"i": "n1"}),
        Action("OrderEvidence", {"e": 1, "k": BAD_SIGNATURE}),
        Action("Apply", {"i": "n1"}),
    ]


def beat(
    keys: Keys, number: int, sent: int, now: int, leader: str = "n3", term: int = 1
) -> Deliver:
    """`leader`'s empty AppendEntries of `term` to n1, its heartbeat `number` signed as sent at
    `sent` (entries.RaftPayload), delivered at `now`."""
    m = AppendEntriesRequest(leader, "n1", term, 0, 0, (), 0)
    payload = RaftPayload(1, leader, m, beat=number, sent=sent)
    return Deliver(leader, keys.seal(1, leader, payload), now=now)


def test_a_follower_reports_two_consecutive_heartbeats_signed_further_apart_than_the_bound(
    keys: Keys,
) -> None:
    """A Raft leader must send heartbeats periodically (Raft paper, section 5.2): two consecutive
    heartbeat numbers of one leader, term and follower whose signed send times are more than
    `timing_bound` apart are a timing report against it, carrying both seals (the leader's own
    statements) and a detail saying how far apart. Exactly the bound is not one; nor is a new
    leader's (or term's) first heartbeat."""
    n = started(keys)
    bound = n.config.timing_bound
    for k, sent in enumerate((0, bound - 50, 2 * bound - 50), start=1):  # bound - 50, then bound
        n.step(beat(keys, k, sent, now=sent + 5))
    assert n.reported == []
    late = beat(keys, 4, 3 * bound - 49, now=3 * bound)  # bound + 1 after number 3
    n.step(late)
    detail = f"heartbeats signed {bound + 1} ticks apart"
    earlier = beat(keys, 3, 2 * bound - 50, now=0).message
    expected = Evidence(TIMING, "n1", "n3", (earlier, late.message), 3 * bound, 1, detail)
    assert n.reported == [keys.sign_evidence(expected)]
    n.step(beat(keys, 1, 5 * bound, now=5 * bound, leader="n4", term=2))  # a new leader
    assert len(n.reported) == 1


def test_a_leader_numbers_its_heartbeats_per_follower_and_signs_its_clock(keys: Keys) -> None:
    """What the timing evidence rests on (impl/hybrid/instance.py): each AppendEntries a leader
    seals carries its number to that follower in that term, 1, 2, ..., and the leader's clock at
    sending; its other Raft messages carry neither (0, 0)."""
    n = leader(keys)
    seen: dict[str, list[tuple[int, int]]] = {}
    for now in (50, 100, 150):
        for e in n.step(Tick("e1/heartbeat", now=now)):
            if isinstance(e, Send) and isinstance(e.message.body.message, AppendEntriesRequest):
                seen.setdefault(e.dest, []).append((e.message.body.beat, e.message.body.sent))
    # the appends of the election (number 1 at time 0) came before
    assert seen == {p: [(2, 50), (3, 100), (4, 150)] for p in ("n2", "n3", "n4")}
    vote = sealed(keys, "n2", RequestVoteResponse("n2", "n1", 1, True)).body
    assert (vote.beat, vote.sent) == (0, 0)


def test_no_timing_report_from_what_the_network_does_to_an_honest_leaders_heartbeats(
    keys: Keys,
) -> None:
    """What loss, partitions and delays do to an honest leader's heartbeats proves nothing: a gap
    in the numbers (the ones between were lost), heartbeats signed 50 ticks apart that arrive
    long apart (delayed, or out of order), a duplicate. Consecutive numbers are compared whatever
    order they arrive in: numbers 7 and 6 signed far apart, 6 arriving last, are reported."""
    n = started(keys)
    bound = n.config.timing_bound
    n.step(beat(keys, 1, 0, now=1))
    n.step(beat(keys, 5, 200 + 4 * 50, now=10 * bound))  # 2..4 lost: no pair to compare
    n.step(beat(keys, 3, 100, now=20 * bound))  # delayed long, and out of order
    n.step(beat(keys, 2, 50, now=30 * bound))
    n.step(beat(keys, 2, 50, now=31 * bound))  # duplicated
    assert n.reported == []
    n.step(beat(keys, 7, 1000 + bound + 1, now=32 * bound))
    n.step(beat(keys, 6, 1000, now=33 * bound))  # 6 and 7 signed bound + 1 apart
    assert [(r.kind, r.accused) for r in n.reported] == [(TIMING, "n3")]


def test_the_receipt_time_mutant_accuses_an_honest_leader(keys: Keys) -> None:
    """impl/hybrid/mutants.py `timing_from_receipt`: the old detector reports a leader whose
    heartbeats *arrive* more than `timing_bound` apart, as two heartbeats signed 50 ticks apart,
    the second delayed, do (what NoFalseAccusation catches in all-honest runs:
    property_tests/hybrid/test_no_false_accusation.py)."""
    bound = HybridConfig("n1", NODES).timing_bound
    for bugs, reported in ((frozenset(), []), (frozenset({mutants.TIMING_FROM_RECEIPT}), [TIMING])):
        n = started(keys, bugs)
        n.step(beat(keys, 1, 0, now=1))
        n.step(beat(keys, 2, 50, now=bound + 60))
        assert [r.kind for r in n.reported] == reported


def test_a_node_stops_proposing_its_evidence_once_committed_whatever_came_of_it(
    keys: Keys,
) -> None:
    """A node proposes its own records again at every retry until they are committed: once its
    epoch applied one, accepted or refused (a copy of it whose signature fails has the same key:
    the chain took that record in, and proposing it again cannot change the verdict), and once
    an earlier epoch took it in (the record that switched the epoch), it is no longer pending, and
    the switch does not carry it into the next epoch."""
    n = started(keys)
    n.step(Deliver("n2", "not a hybrid message"))
    (record,) = n.reported
    assert (
        n.machine.apply_entry(EvidenceEntry(attrs.evolve(record, signature=b"forged")))["evidence"]
        == REFUSED
    )
    n.step(Tick(RETRY))
    assert n.pending == {}
    # n4 equivocates to n1, whose record is epoch 1's switch entry
    n = started(keys)
    for value in (NOOP, OpEntry(tagged(keys, 1), 1)):
        m = AppendEntriesRequest("n4", "n1", 1, 0, 0, (Entry(1, value),), 0)
        n.step(Deliver("n4", sealed(keys, "n4", m)))
    (record,) = n.reported
    assert n.machine.apply_entry(EvidenceEntry(record))["evidence"] == ACCEPTED
    switched = n.step(Tick(RETRY))
    assert n.epoch == 2 and n.pending == {}
    # nor is it proposed to the epoch its own switch began: that epoch would apply it as a
    # duplicate (its threat state holds the record's key from the start)
    assert EvidenceEntry(record) not in pbft_requests(switched)


# -- a leader that censors evidence ------------------------------------------------------------------


def test_a_follower_campaigns_once_its_evidence_waited_a_whole_timeout_under_its_leader(
    keys: Keys,
) -> None:
    """A Raft leader that does not commit a follower's evidence for `evidence_timeout` loses that
    follower: it stands for election (the contract: f Byzantine nodes cannot block a switch). The
    timeout counts from the later of the record's report and the moment the follower's retries
    first saw this leader, so a leader gets a whole timeout, not a moment more."""
    n = started(keys)
    core = n.current.core
    assert isinstance(core, RaftNode)
    n.step(Deliver("n3", sealed(keys, "n3", AppendEntriesRequest("n3", "n1", 1, 0, 0, (), 0)), 10))
    n.step(Deliver("n2", "not a hybrid message", 20))  # evidence: pending from 20
    assert len(n.pending) == 1 and core.leader == "n3"
    timeout = n.config.evidence_timeout
    record = n.reported[0]
    proposal = Send("n3", keys.seal(1, "n1", Proposal(1, "n1", EvidenceEntry(record))))
    # the retry that first sees n3 lead (n3's timeout starts here) proposes the record again
    assert n.step(Tick(RETRY, 100)) == [SetTimer(RETRY, n.config.retry_every), proposal]
    n.step(Tick(RETRY, 100 + timeout - 1))
    assert (core.term, core.role, core.leader) == (1, FOLLOWER, "n3")
    effects = n.step(Tick(RETRY, 100 + timeout))
    assert (core.term, core.role) == (2, CANDIDATE)
    votes = {
        e.dest
        for e in effects
        if isinstance(e, Send)
        and isinstance(e.message, Signed)
        and isinstance(e.message.body, RaftPayload)
        and isinstance(e.message.body.message, RequestVoteRequest)
    }
    assert votes == {"n2", "n3", "n4"}


# -- what a Byzantine node may send (property_tests/hybrid/byzantine_input.py) ----------------------


@pytest.mark.parametrize(
    "value",
    [
        RaftPayload(1, "n2", None),  # a payload no seal covers
        Proposal(1, "n2", NOOP),
        OpEntry(ClientOp("c1", 1, "op", 1), 1),  # an entry, bare: it has an epoch too
    ],
    ids=["payload", "proposal", "entry"],
)
def test_a_value_with_an_epoch_that_is_no_valid_seal_is_reported_not_a_crash(
    keys: Keys, value: Any
) -> None:
    """Anything with an `epoch` of a kept instance reached the seal check, which read the value's
    `signer` first: a bare RaftPayload or OpEntry raised AttributeError in every honest node it
    reached (the Byzantine-input property found n4's). It is a bad signature against the link's
    sender, as a seal that does not verify."""
    n = started(keys)
    n.step(Deliver("n2", value))
    assert [(r.kind, r.accused) for r in n.reported] == [(BAD_SIGNATURE, "n2")]
    core = n.current.core
    assert isinstance(core, RaftNode) and (core.term, core.log.last_index) == (0, 0)


def test_true_is_no_epoch(keys: Keys) -> None:
    """A payload sealed with True for its epoch reached epoch 1's instance (True == 1, and the
    keys of epoch True are epoch 1's): no honest node seals one, so it is a message of no epoch."""
    n = started(keys)
    n.step(Deliver("n2", keys.seal(1, "n2", RaftPayload(True, "n2", None))))
    assert [(r.kind, r.accused) for r in n.reported] == [(BAD_SIGNATURE, "n2")]


def test_a_hotstuff_message_of_other_types_is_a_bad_signature_not_a_crash(keys: Keys) -> None:
    """HotStuff's detector (impl/hybrid/bft.py) read a vote's view as a number to check its
    signature: a vote with a tuple for its view, from n4 on the wire of a HotStuff epoch, raised
    AttributeError in every honest node it reached. It is malformed (impl/hotstuff/messages.py
    `malformed`): a bad signature against the link's sender, and the replica refuses it too."""
    n = HybridNode(
        HybridConfig("n1", NODES, bft=HOTSTUFF), keys, EvidenceChecker(keys), random.Random(0)
    )
    n.step(Restart({}))
    switch(n, keys)
    vote = HsVote(b"\x1e\xc4t\xb2", (True, b"0"), "n2", b"")  # type: ignore[arg-type]
    n.step(Deliver("n4", HotStuffWire(2, vote)))
    assert [(r.kind, r.accused, r.epoch) for r in n.reported] == [(BAD_SIGNATURE, "n4", 2)]
    core = n.current.core
    assert isinstance(core, HybridHotStuff)
    assert [(a.accused, a.kind) for a in core.accusations] == [("n4", HS_MALFORMED)]


def test_evidence_of_a_malformed_pbft_message_leaves_the_machine_state_readable(keys: Keys) -> None:
    """PBFT's `malformed` evidence is proved by the malformed message itself (a request where a
    prepare's digest belongs, signed by n4), and the hybrid machine's state holds the proofs it
    accepted: its `snapshot` is a digest of the state's repr, which raised TypeError in every
    honest node that applied the record and then started an epoch (PBFT's messages printed a
    digest as bytes, whatever it held)."""
    bad = Prepare(0, 1, Request("c1", 1, "x"), "n4")  # type: ignore[arg-type]
    signed = Signed(bad, "n4", keys.epoch(2).signer("n4").sign(signing_bytes(bad)))
    record = keys.sign_evidence(
        Evidence(TAMPERING, "n1", "n4", (signed,), 0, 2, PBFT_PREFIX + pbft_evidence.MALFORMED)
    )
    assert EvidenceChecker(keys)(record)
    n = started(keys)
    n.machine.apply_entry(EvidenceEntry(record))
    assert record in [a.record for a in n.machine.threat.records]
    assert "Request(client='c1'" in repr(n.machine.state())
    n.machine.snapshot()
