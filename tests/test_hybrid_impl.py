"""The hybrid layer's parts one at a time: evidence proofs (what intake believes), the replicated
machine (ops once, only in their epoch, nothing beyond the switch entry), one node's detectors, and
the epoch a node proposes a client op in (its tag's, nothing else)."""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs
import pytest

from meshcheck.impl.base.effects import Action, Effect, Persist, Reply, Send
from meshcheck.impl.base.events import ClientRequest, Deliver, Restart, Tick
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import (
    ClientOp,
    ClockEntry,
    EvidenceEntry,
    Keys,
    OpEntry,
    PbftWire,
    Proposal,
    RaftPayload,
    client_id,
)
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE, BFT, EQUIVOCATION, RAFT, TAMPERING, Level
from meshcheck.impl.hybrid.machine import (
    BEYOND_SWITCH,
    COMMITTED,
    KIND_FOR,
    REJECTED,
    HybridMachine,
    HybridState,
)
from meshcheck.impl.hybrid.node import RETRY, HybridNode
from meshcheck.impl.hybrid.proofs import RAFT_EQUIVOCATION, RAFT_TAMPERING, EvidenceChecker
from meshcheck.impl.hybrid.threat import ACCEPTED, REFUSED, Evidence, ThreatModel
from meshcheck.impl.pbft.messages import (
    Checkpoint,
    PrePrepare,
    Request,
    Signed,
    batch_digest,
    history_digest,
    signing_bytes,
)
from meshcheck.impl.raft.messages import AppendEntriesRequest, Entry
from meshcheck.impl.rsm.ops import NOOP, Custom, to_value
from meshcheck.impl.sim.storage import Durable

NODES = ("n1", "n2", "n3", "n4")


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(7, NODES, ("c1",))


def op(keys: Keys, seq: int, value: int = 0) -> ClientOp:
    return keys.sign_op(ClientOp("c1", seq, to_value(Custom(f"k{seq}", value))))


def append(
    keys: Keys, leader: str, term: int, entries: tuple[object, ...], epoch: int = 1
) -> Signed[RaftPayload]:
    m = AppendEntriesRequest(leader, "n1", term, 0, 0, tuple(Entry(term, v) for v in entries), 0)
    return keys.seal(epoch, leader, RaftPayload(epoch, leader, m))


def report(
    keys: Keys,
    kind: str,
    accused: str,
    messages: tuple[object, ...],
    detail: str,
    epoch: int = 1,
    reporter: str = "n1",
) -> Evidence:
    return keys.sign_evidence(Evidence(kind, reporter, accused, messages, 0, epoch, detail))


# -- proofs ---------------------------------------------------------------------------------------------


def test_raft_equivocation_proof(keys: Keys) -> None:
    check = EvidenceChecker(keys)
    a = append(keys, "n4", 2, (op(keys, 1),))
    b = append(keys, "n4", 2, (NOOP,))
    assert check(report(keys, EQUIVOCATION, "n4", (a, b), RAFT_EQUIVOCATION))
    # the same entry twice proves nothing; nor do two terms (a new leader may overwrite)
    assert not check(report(keys, EQUIVOCATION, "n4", (a, a), RAFT_EQUIVOCATION))
    c = append(keys, "n4", 3, (NOOP,))
    assert not check(report(keys, EQUIVOCATION, "n4", (a, c), RAFT_EQUIVOCATION))
    # messages of another signer cannot accuse n4, and a forged reporter signature is no report
    d = append(keys, "n3", 2, (NOOP,))
    assert not check(report(keys, EQUIVOCATION, "n4", (a, d), RAFT_EQUIVOCATION))
    good = report(keys, EQUIVOCATION, "n4", (a, b), RAFT_EQUIVOCATION)
    assert not check(attrs.evolve(good, reporter="n2"))
    # a seal is bound to its epoch: the same two messages, claimed for epoch 2
    assert not check(report(keys, EQUIVOCATION, "n4", (a, b), RAFT_EQUIVOCATION, epoch=2))


def test_raft_tampering_proof(keys: Keys) -> None:
    check = EvidenceChecker(keys)
    real = op(keys, 1)
    forged = attrs.evolve(real, op=to_value(Custom("k1", 666)))  # the client did not sign this
    bad = keys.seal(1, "n2", Proposal(1, "n2", OpEntry(forged, 1)))
    good = keys.seal(1, "n2", Proposal(1, "n2", OpEntry(real, 1)))
    assert check(report(keys, TAMPERING, "n2", (bad,), RAFT_TAMPERING))
    assert not check(report(keys, TAMPERING, "n2", (good,), RAFT_TAMPERING))
    assert check(
        report(
            keys, TAMPERING, "n4", (append(keys, "n4", 1, (OpEntry(forged, 1),)),), RAFT_TAMPERING
        )
    )


def test_pbft_equivocation_proof_is_checked_with_its_epochs_keys(keys: Keys) -> None:
    check = EvidenceChecker(keys)
    ring = keys.epoch(2)
    requests = []
    for k in (1, 2):
        body = Request(client_id("n2"), k, ClockEntry("n2", k))
        requests.append(
            Signed(body, body.client, ring.signer(body.client).sign(signing_bytes(body)))
        )
    pps = []
    for r in requests:
        pp = PrePrepare(0, 1, batch_digest((r,)), "n1", (r,))
        pps.append(Signed(pp, "n1", ring.signer("n1").sign(signing_bytes(pp))))
    proof = tuple(pps)
    assert check(report(keys, EQUIVOCATION, "n1", proof, "pbft:equivocation", epoch=2))
    assert not check(report(keys, EQUIVOCATION, "n1", proof, "pbft:equivocation", epoch=4))
    assert not check(
        report(keys, EQUIVOCATION, "n1", (pps[0], pps[0]), "pbft:equivocation", epoch=2)
    )
    # a PBFT kind must map to the level kind it claims
    assert not check(report(keys, TAMPERING, "n1", proof, "pbft:equivocation", epoch=2))


def test_unprovable_kinds_need_only_the_reporters_signature(keys: Keys) -> None:
    check = EvidenceChecker(keys)
    assert check(report(keys, BAD_SIGNATURE, "n3", (), "x"))
    assert not check(report(keys, BAD_SIGNATURE, "n9", (), "x"))  # a stranger is no one to accuse


# -- the replicated machine -----------------------------------------------------------------------------


def machine(keys: Keys, bugs: frozenset[str] = frozenset()) -> HybridMachine:
    threat = ThreatModel.for_f(1, bugs=bugs)
    return HybridMachine(HybridState.initial(threat), keys, EvidenceChecker(keys), bugs)


def test_ops_apply_once_and_only_in_their_epoch(keys: Keys) -> None:
    m = machine(keys)
    first = m.apply_entry(OpEntry(op(keys, 1, 10), 1))
    assert first["status"] == COMMITTED and first["position"] == 1
    again = m.apply_entry(OpEntry(op(keys, 1, 10), 1))
    assert again == first and m.history == [("c1", 1)] and m.custom["k1"] == 10
    late = m.apply_entry(OpEntry(op(keys, 2), 2))
    assert late["status"] == REJECTED and m.history == [("c1", 1)]
    forged = attrs.evolve(op(keys, 3), op=to_value(Custom("k3", 5)))
    assert m.apply_entry(OpEntry(forged, 1))["status"] == REJECTED and "k3" not in m.custom
    # a node cannot re-tag an op the client signed for epoch 2 into epoch 1
    retagged = OpEntry(keys.sign_op(ClientOp("c1", 4, to_value(Custom("k4", 1)), 2)), 1)
    refused = m.apply_entry(retagged)
    assert refused["status"] == REJECTED and "tagged for epoch 2" in refused["reason"]
    assert "k4" not in m.custom


def _equivocation(keys: Keys) -> EvidenceEntry:
    a = append(keys, "n4", 2, (op(keys, 1),))
    b = append(keys, "n4", 2, (NOOP,))
    return EvidenceEntry(report(keys, EQUIVOCATION, "n4", (a, b), RAFT_EQUIVOCATION))


def test_switch_entry_closes_the_epoch(keys: Keys) -> None:
    m = machine(keys)
    m.apply_entry(NOOP)
    m.apply_entry(OpEntry(op(keys, 1), 1))
    result = m.apply_entry(_equivocation(keys))
    assert result["evidence"] == ACCEPTED and m.threat.level == Level.CRITICAL
    assert m.closed is not None
    assert (m.closed.epoch, m.closed.protocol, m.closed.history) == (2, BFT, (("c1", 1),))
    beyond = m.apply_entry(OpEntry(op(keys, 2), 1))
    assert beyond == {"ok": False, "status": REJECTED, "reason": BEYOND_SWITCH}
    assert m.history == [("c1", 1)]
    # the next epoch starts from the closed state: the op is there, and applies once
    nxt = HybridMachine(m.closed, keys, EvidenceChecker(keys))
    assert nxt.protocol == BFT and nxt.apply_entry(OpEntry(op(keys, 1), 2))["epoch"] == 1


def test_refused_evidence_does_not_switch(keys: Keys) -> None:
    m = machine(keys)
    a = append(keys, "n4", 2, (NOOP,))
    lie = EvidenceEntry(report(keys, EQUIVOCATION, "n4", (a, a), RAFT_EQUIVOCATION))
    assert m.apply_entry(lie)["evidence"] == REFUSED
    assert m.closed is None and m.threat.refused == 1


def _tampering(keys: Keys) -> EvidenceEntry:
    forged = attrs.evolve(op(keys, 1), op=to_value(Custom("k1", 666)))  # not what c1 signed
    bad = keys.seal(1, "n2", Proposal(1, "n2", OpEntry(forged, 1)))
    return EvidenceEntry(report(keys, TAMPERING, "n2", (bad,), RAFT_TAMPERING))


@pytest.mark.parametrize(
    ("switch", "level", "kept"),
    [(_equivocation, Level.CRITICAL, TAMPERING), (_tampering, Level.HIGH, BAD_SIGNATURE)],
)
def test_evidence_that_leaves_the_level_is_the_spec_entry_of_its_own_kind(
    keys: Keys, switch: Callable[[Keys], EvidenceEntry], level: Level, kept: str
) -> None:
    """Hybrid.tla's OrderEvidence has no guard on the level, and Apply's Bump(l, x) =
    Higher(l, DemandedOne(x.kind)) keeps l for a record that demands no more: a BFT epoch at
    Critical (High) applies a tampering (bad-signature) record and stays there. Its chain entry is
    the record's own kind. Named by the level instead (equivocation, tampering) it would be a legal
    spec step too, the level staying, so no lockstep run tells them apart; but the chain would hold
    an equivocation nobody committed, and LevelJustifiedByEvidence ("Critical only with a committed
    equivocation") would check the projection against evidence the projection made up."""
    m = machine(keys)
    assert m.apply_entry(switch(keys))["evidence"] == ACCEPTED and m.closed is not None
    assert m.spec_entries[-1] == {"type": "evidence", "kind": KIND_FOR[level]}  # it raised
    bft = HybridMachine(m.closed, keys, EvidenceChecker(keys))
    assert (bft.protocol, bft.threat.level) == (BFT, level)
    record = (
        _tampering(keys)
        if kept == TAMPERING
        else EvidenceEntry(report(keys, BAD_SIGNATURE, "n3", (), "x"))
    )
    assert bft.apply_entry(record)["evidence"] == ACCEPTED
    assert bft.threat.level == level and bft.closed is None
    assert bft.spec_entries == [{"type": "evidence", "kind": kept}]


def test_clock_entries_need_the_nodes_signature(keys: Keys) -> None:
    m = machine(keys)
    for node in ("n1", "n2"):
        m.apply_entry(keys.sign_clock(ClockEntry(node, 40)))
    assert m.threat.now == 40
    forged = attrs.evolve(keys.sign_clock(ClockEntry("n3", 40)), time=900)
    assert not m.apply_entry(forged)["ok"] and m.threat.now == 40


def test_mutant_switch_drops_last_raft_term(keys: Keys) -> None:
    """The new epoch must start with every op committed before the switch entry; the mutant
    starts it from the state at the last term's no-op."""
    for bugs, kept in (
        (frozenset(), (("c1", 1), ("c1", 2))),
        (frozenset({mutants.SWITCH_DROPS_LAST_RAFT_TERM}), (("c1", 1),)),
    ):
        m = machine(keys, bugs)
        m.apply_entry(NOOP)  # term 1
        m.apply_entry(OpEntry(op(keys, 1), 1))
        m.apply_entry(NOOP)  # term 2
        m.apply_entry(OpEntry(op(keys, 2), 1))
        m.apply_entry(_equivocation(keys))
        assert m.closed is not None and m.closed.history == kept


def test_protocol_follows_level(keys: Keys) -> None:
    m = machine(keys)
    assert m.protocol == RAFT and HybridState.initial(m.threat).epoch == 1


# -- one node: a client op goes only to the epoch its client tagged it with --------------------------


def tagged(keys: Keys, seq: int, epoch: int) -> ClientOp:
    return keys.sign_op(ClientOp("c1", seq, to_value(Custom(f"k{seq}", 0)), epoch))


def proposed(effects: list[Effect]) -> set[tuple[int, int]]:
    """(seq, epoch tag) of the client ops the node sent to its peers as PBFT requests."""
    out = set()
    for e in effects:
        if isinstance(e, Send) and isinstance(e.message, PbftWire):
            body = e.message.message.body
            if isinstance(body, Request) and isinstance(body.operation, OpEntry):
                out.add((body.operation.op.seq, body.operation.epoch))
    return out


def rejections(effects: list[Effect]) -> dict[int, object]:
    return {
        e.request_id: e.result.get("ended")
        for e in effects
        if isinstance(e, Reply) and e.result.get("status") == REJECTED
    }


def test_a_node_proposes_an_op_only_in_the_epoch_of_its_tag(keys: Keys) -> None:
    node = HybridNode(HybridConfig("n1", NODES), keys, EvidenceChecker(keys), random.Random(0))
    node.step(Restart({}))
    # in epoch 1: an op tagged 1 waits for commitment, one tagged 2 waits for epoch 2
    # nothing to carry out (no leader yet to forward to); the client's Submit is reported
    assert node.step(ClientRequest(tagged(keys, 1, 1), 1)) == [Action("Submit", {"o": "c1/1"})]
    assert node.step(ClientRequest(tagged(keys, 2, 2), 2)) == [Action("Submit", {"o": "c1/2"})]
    assert set(node.waiting) == {(("c1", 1), 1), (("c1", 2), 2)}
    # epoch 1's switch entry is applied without op 1: op 1 is rejected, op 2 proposed in epoch 2
    node.machine.apply_entry(NOOP)
    node.machine.apply_entry(_equivocation(keys))
    effects = node.step(Tick(RETRY))
    assert (node.epoch, node.current_protocol()) == (2, BFT)
    assert rejections(effects) == {1: 1}
    # Hybrid.tla's steps, where they happen: the switch, then the answer to op 1
    actions = [e for e in effects if isinstance(e, Action)]
    assert actions == [Action("Switch", {"i": "n1"}), Action("Reject", {"o": "c1/1"})]
    assert proposed(effects) == {(2, 2)}
    assert set(node.waiting) == {(("c1", 2), 2)}
    # in epoch 2: an op tagged 1 is rejected at once (epoch 1 ended without it), never proposed
    effects = node.step(ClientRequest(tagged(keys, 3, 1), 3))
    assert rejections(effects) == {3: 1} and proposed(effects) == set()
    # ... and proposed again with the next epoch's tag, it goes there
    effects = node.step(ClientRequest(tagged(keys, 3, 2), 4))
    assert rejections(effects) == {} and proposed(effects) == {(3, 2)}


# -- what a Raft follower takes from its leader -------------------------------------------------------


def follower(keys: Keys, bugs: frozenset[str] = frozenset()) -> HybridNode:
    node = HybridNode(
        HybridConfig("n1", NODES, bugs=bugs), keys, EvidenceChecker(keys), random.Random(0)
    )
    node.step(Restart({}))
    return node


def committing(keys: Keys, leader: str, term: int, value: object) -> Signed[RaftPayload]:
    """`leader`'s AppendEntries to n1 that puts `value` at index 1 and commits it."""
    m = AppendEntriesRequest(leader, "n1", term, 0, 0, (Entry(term, value),), 1)
    return keys.seal(1, leader, RaftPayload(1, leader, m))


def test_a_follower_does_not_take_an_entry_it_caught_tampered(keys: Keys) -> None:
    """The regression of traces/counterexamples/hybrid/tampered_op_skipped_by_one_follower: a
    Byzantine leader sent one follower an op its client did not sign, at the index where the
    others got the real one, and committed it; that follower reported tampering but took the
    entry into its log, skipped it on apply, and closed the epoch without an op the others
    applied. The follower now reports it and leaves it out of its log."""
    real = op(keys, 3)
    forged = attrs.evolve(real, op=to_value(Custom("k3", 666)))  # the client did not sign this
    node = follower(keys)
    node.step(Deliver("n4", committing(keys, "n4", 1, OpEntry(forged, 1))))
    assert node.current.core.log.last_index == 0 and node.history == ()
    assert [r.kind for r in node.reported] == [TAMPERING]
    # the same message from an honest leader (a later term) with the real op: followed, applied
    node.step(Deliver("n3", committing(keys, "n3", 2, OpEntry(real, 1))))
    assert node.current.core.log.last_index == 1 and node.history == (("c1", 3),)
    # the mutant takes the tampered entry: committed at index 1, applied as nothing
    node = follower(keys, frozenset({mutants.FOLLOW_CAUGHT_APPEND}))
    node.step(Deliver("n4", committing(keys, "n4", 1, OpEntry(forged, 1))))
    assert node.current.core.log.last_index == 1 and node.history == ()


def test_a_follower_does_not_follow_a_second_entry_for_an_index(keys: Keys) -> None:
    """Two AppendEntries of one leader and term with different entries at one index: the second
    is evidence (equivocation), and the follower does not follow it (not even its commit)."""
    first = AppendEntriesRequest("n4", "n1", 1, 0, 0, (Entry(1, OpEntry(op(keys, 1), 1)),), 0)
    commits: dict[frozenset[str], int] = {}
    for bugs in (frozenset(), frozenset({mutants.FOLLOW_CAUGHT_APPEND})):
        node = follower(keys, bugs)
        node.step(Deliver("n4", keys.seal(1, "n4", RaftPayload(1, "n4", first))))
        assert node.current.core.log.last_index == 1 and node.history == ()
        node.step(Deliver("n4", committing(keys, "n4", 1, NOOP)))
        assert [r.kind for r in node.reported] == [EQUIVOCATION]
        commits[bugs] = node.current.core.commit_index
    # the mutant follows the liar's commit index
    assert list(commits.values()) == [0, 1]


def test_a_follower_does_not_follow_an_append_addressed_to_another(keys: Keys) -> None:
    """The regression of traces/counterexamples/hybrid/append_to_another_follower_replayed: a
    Byzantine leader (EquivocateRaft) told follower n3 a second entry for an index n3 held, and
    its message fuzzer replayed that AppendEntries, sealed by the leader and addressed to n3, to
    n2, which did not hold the index yet. It was the first entry n2 saw there, so no detector
    flagged it: n2 took it, the leader committed the index with the real op on the others, and n2
    applied the lie in its place (NoCommittedOpLost). A Raft message is followed only by the node
    it is addressed to; the detectors still read it (it is the leader's sealed statement)."""
    real = OpEntry(op(keys, 3), 1)
    lie = keys.sign_clock(ClockEntry("n4", -1))  # signed by the leader: its own entry checks
    to_n2 = AppendEntriesRequest("n4", "n2", 1, 0, 0, (Entry(1, lie),), 1)
    node = follower(keys)
    node.step(Deliver("n4", keys.seal(1, "n4", RaftPayload(1, "n4", to_n2))))
    core = node.current.core
    assert (core.log.last_index, core.commit_index, node.history) == (0, 0, ())
    assert node.reported == []
    # what n1 is told itself for that index and term is another entry: two sealed statements of
    # the leader, an equivocation that proves itself; not followed either
    node.step(Deliver("n4", committing(keys, "n4", 1, real)))
    assert [r.kind for r in node.reported] == [EQUIVOCATION]
    assert EvidenceChecker(keys)(node.reported[0])
    assert (core.log.last_index, node.history) == (0, ())
    # an AppendEntries addressed to n1 that nothing contradicts is followed, and applied
    node.step(Deliver("n3", committing(keys, "n3", 2, real)))
    assert node.current.core.log.last_index == 1 and node.history == (("c1", 3),)


# -- what a node keeps over a restart -----------------------------------------------------------------


def requests_sent(effects: list[Effect]) -> list[Request]:
    """The PBFT requests the node sent its peers, each once."""
    return list(
        dict.fromkeys(
            e.message.message.body
            for e in effects
            if isinstance(e, Send)
            and isinstance(e.message, PbftWire)
            and isinstance(e.message.message.body, Request)
        )
    )


def only_one(items: list[Request]) -> Request:
    assert len(items) == 1, f"expected one request, got {items}"
    return items[0]


def test_a_restarted_node_never_reuses_a_pbft_request_timestamp(keys: Keys) -> None:
    """A node proposes to a PBFT epoch as a PBFT client: a request is (client, timestamp), and
    replicas answer a known one from their reply cache without ordering it (Castro and Liskov,
    OSDI 1999, section 4.1: timestamps of a client increase). So the last timestamp a node used is
    persisted before the request is sent: after a restart its next proposal gets a new timestamp,
    and is not taken for the one before it."""
    disk = Durable()
    node = HybridNode(HybridConfig("n1", NODES), keys, EvidenceChecker(keys), random.Random(0))

    def step(event: object) -> list[Effect]:
        effects = node.step(event)
        for e in effects:
            if isinstance(e, Persist):
                disk.apply(e.writes)
        return effects

    step(Restart({}))
    node.machine.apply_entry(NOOP)
    node.machine.apply_entry(_equivocation(keys))
    step(Tick(RETRY))  # epoch 1's switch entry applied: epoch 2 runs PBFT
    assert (node.epoch, node.current_protocol()) == (2, BFT)
    first = only_one(requests_sent(step(ClientRequest(tagged(keys, 1, 2), 1))))
    node = HybridNode(HybridConfig("n1", NODES), keys, EvidenceChecker(keys), random.Random(0))
    step(Restart(disk.view()))
    assert (node.epoch, node.current_protocol()) == (2, BFT)
    second = only_one(requests_sent(step(ClientRequest(tagged(keys, 2, 2), 2))))
    assert first.client == second.client == client_id("n1")
    assert second.timestamp > first.timestamp
    assert isinstance(second.operation, OpEntry) and second.operation.op.seq == 2


# -- what a node reports when its PBFT replica takes a state transfer ---------------------------------


def test_a_state_transfer_reports_only_the_entries_it_adds(keys: Keys) -> None:
    """A PBFT replica that adopts a stable checkpoint past what it executed takes the checkpoint's
    state (Castro and Liskov, OSDI 1999, section 4.3; impl/pbft/replica.py `_install`): it rebuilds
    its machine and replays every batch up to the checkpoint, the ones it had applied included.
    The node reports Hybrid.tla's Order and Apply steps of what its machine applied; it once took
    every rebuilt machine for a fresh one and reported the replayed entries again: a second
    OrderOp(e, o) and Apply(i) of an entry it had applied, which trace validation found as an
    Unexplained step (a free run with 2% loss and partitions, where a lagging replica caught up
    by state transfer). Only the entries the replay adds are new steps."""
    node = HybridNode(HybridConfig("n1", NODES), keys, EvidenceChecker(keys), random.Random(0))
    node.step(Restart({}))
    node.machine.apply_entry(NOOP)
    node.machine.apply_entry(_equivocation(keys))
    node.step(Tick(RETRY))  # epoch 1's switch entry applied: epoch 2 runs PBFT
    assert (node.epoch, node.current_protocol()) == (2, BFT)
    ring = keys.epoch(2)
    every = node.config.checkpoint_every

    def request(seq: int) -> Signed[Request]:
        body = Request(client_id("n2"), seq, OpEntry(tagged(keys, seq, 2), 2))
        return Signed(body, body.client, ring.signer(body.client).sign(signing_bytes(body)))

    def batches(ops: range) -> tuple[tuple[Signed[Request], ...], ...]:
        """`every` batches: one op each (seqs in `ops`), then null requests."""
        return tuple((request(s),) for s in ops) + ((),) * (every - len(ops))

    def stable(history: tuple[tuple[Signed[Request], ...], ...]) -> list[Action]:
        """n2, n3 and n4 (2f + 1) sign a checkpoint of `history`, carrying the state: what n1
        reports as it takes it."""
        actions: list[Action] = []
        for src in ("n2", "n3", "n4"):
            body = Checkpoint(len(history), history_digest(history), src, history)
            signed = Signed(body, src, ring.signer(src).sign(signing_bytes(body)))
            effects = node.step(Deliver(src, PbftWire(2, signed)))
            actions += [e for e in effects if isinstance(e, Action)]
        return actions

    first = batches(range(1, 3))
    assert stable(first) == [
        Action("OrderOp", {"e": 2, "o": "c1/1"}),
        Action("Apply", {"i": "n1"}),
        Action("OrderOp", {"e": 2, "o": "c1/2"}),
        Action("Apply", {"i": "n1"}),
    ]
    assert node.history == (("c1", 1), ("c1", 2))
    # the next checkpoint's state replays the first one's batches, then op 3: only op 3 is new
    assert stable(first + batches(range(3, 4))) == [
        Action("OrderOp", {"e": 2, "o": "c1/3"}),
        Action("Apply", {"i": "n1"}),
    ]
    assert node.history == (("c1", 1), ("c1", 2), ("c1", 3))
    # a state that does not start with what n1 applied (only 2f + 1 liars could prove one) is
    # reported whole: Order steps at positions the chain holds, which trace validation rejects
    other = batches(range(4, 6)) + batches(range(6, 7)) + batches(range(7, 8))
    assert [a.params.get("o") for a in stable(other) if a.name == "OrderOp"] == [
        "c1/4",
        "c1/5",
        "c1/6",
        "c1/7",
    ]
