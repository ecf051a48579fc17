"""The hybrid layer's parts one at a time: evidence proofs (what intake believes), the replicated
machine (ops once, only in their epoch, nothing beyond the switch entry), one node's detectors, and
the epoch a node proposes a client op in (its tag's, nothing else)."""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs
import pytest

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.hotstuff.messages import Block as HsBlock
from meshcheck.impl.hotstuff.messages import Proposal as HsProposal
from meshcheck.impl.hotstuff.messages import Vote as HsVote
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.bft import PbftBft
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import PbftWire
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.entries import client_id
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.machine import BEYOND_SWITCH
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.hybrid.machine import KIND_FOR
from meshcheck.impl.hybrid.machine import REJECTED
from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.machine import HybridState
from meshcheck.impl.hybrid.node import RETRY
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import RAFT_EQUIVOCATION
from meshcheck.impl.hybrid.proofs import RAFT_TAMPERING
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.hybrid.proofs import appended
from meshcheck.impl.hybrid.proofs import carried
from meshcheck.impl.hybrid.threat import ACCEPTED
from meshcheck.impl.hybrid.threat import REFUSED
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.hybrid.threat import ThreatModel
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import history_digest
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import AppendEntriesResponse
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.messages import RequestVoteRequest
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.rsm.ops import NOOP
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.sim.storage import Durable

NODES = ("n1", "n2", "n3", "n4")


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


def test_a_malformed_pbft_message_is_tampering_its_signature_proves(keys: Keys) -> None:
    """PBFT's audit log records a signed message whose fields are not of their declared types as
    self-proving `malformed` evidence (impl/pbft/evidence.py). The hybrid layer takes it as
    tampering, as it takes every other PBFT proof of a lie: left out of `PBFT_KINDS`, a Byzantine
    replica's string for a view was refused by every honest replica and never raised the level."""
    start = attrs.evolve(HybridState.initial(ThreatModel.for_f(1)), epoch=2, protocol=BFT)
    bft = PbftBft(
        HybridConfig("n1", NODES),
        keys,
        2,
        lambda: HybridMachine(start, keys, EvidenceChecker(keys)),
    )
    bft.core.step(Restart({}))
    body = Prepare("0", 1, bytes(32), "n4")  # type: ignore[arg-type]
    m = Signed(body, "n4", keys.epoch(2).signer("n4").sign(signing_bytes(body)))
    bft.core.step(Deliver("n4", m))
    assert bft.evidence(None, None) == [(TAMPERING, "n4", (m,), "pbft:malformed")]
    assert EvidenceChecker(keys)(report(keys, TAMPERING, "n4", (m,), "pbft:malformed", epoch=2))


def test_an_append_puts_its_entries_at_the_log_indices_after_its_prev(keys: Keys) -> None:
    """`appended` gives the log indices themselves, not only indices two appends can be compared
    by: the Byzantine fuzzer (impl/hybrid/fuzz.py `changed`) and the free runs' oracle compare
    them with a leader's own log."""
    m = AppendEntriesRequest("n4", "n1", 2, 3, 2, (Entry(2, "a"), Entry(2, "b")), 0)
    sealed = keys.seal(1, "n4", RaftPayload(1, "n4", m))
    assert appended(sealed) == {4: Entry(2, "a"), 5: Entry(2, "b")}
    assert appended(keys.seal(1, "n4", Proposal(1, "n4", "a"))) == {}


def test_a_pre_prepare_from_a_backup_proves_a_wrong_primary(keys: Keys) -> None:
    """PBFT's `wrong_primary` (impl/pbft/evidence.py) is judged against the cluster's PBFT
    configuration: view 0's primary is n1, so n2's pre-prepare for view 0 proves n2 a liar and
    n1's proves nothing."""
    check = EvidenceChecker(keys)
    ring = keys.epoch(2)
    for primary, proves in (("n2", True), ("n1", False)):
        pp = PrePrepare(0, 1, batch_digest(()), primary)
        signed = Signed(pp, primary, ring.signer(primary).sign(signing_bytes(pp)))
        record = report(keys, TAMPERING, primary, (signed,), "pbft:wrong_primary", epoch=2)
        assert check(record) is proves


def test_a_raft_equivocation_is_found_at_the_index_both_appends_name(keys: Keys) -> None:
    """Two AppendEntries of one leader and term name their entries' indices from their own
    prev_log_index: [x, y] after index 0 and [z] after index 1 both put something at index 2."""
    check = EvidenceChecker(keys)

    def sealed(prev: int, entries: tuple[object, ...]) -> Signed[RaftPayload]:
        m = AppendEntriesRequest(
            "n4", "n1", 2, prev, 2 if prev else 0, tuple(Entry(2, v) for v in entries), 0
        )
        return keys.seal(1, "n4", RaftPayload(1, "n4", m))

    x, y, z = (OpEntry(op(keys, k), 1) for k in (1, 2, 3))
    assert check(
        report(keys, EQUIVOCATION, "n4", (sealed(0, (x, y)), sealed(1, (z,))), RAFT_EQUIVOCATION)
    )
    assert not check(
        report(keys, EQUIVOCATION, "n4", (sealed(0, (x, y)), sealed(1, (y,))), RAFT_EQUIVOCATION)
    )


def test_unprovable_kinds_need_only_the_reporters_signature(keys: Keys) -> None:
    check = EvidenceChecker(keys)
    assert check(report(keys, BAD_SIGNATURE, "n3", (), "x"))
    assert not check(report(keys, BAD_SIGNATURE, "n9", (), "x"))  # a stranger is no one to accuse


def test_a_raft_tampering_proof_is_one_message_the_accused_sealed(keys: Keys) -> None:
    """Tampering is proved by one sealed statement of the accused carrying an entry whose own
    signature fails: the same forged entry sealed by another node, no message at all, or the proof
    with another message added accuses nobody (and never crashes the checker: every node runs it
    on every evidence entry it applies)."""
    check = EvidenceChecker(keys)
    forged = attrs.evolve(op(keys, 1), op=to_value(Custom("k1", 666)))  # not what c1 signed
    by_n2 = keys.seal(1, "n2", Proposal(1, "n2", OpEntry(forged, 1)))
    by_n3 = keys.seal(1, "n3", Proposal(1, "n3", OpEntry(forged, 1)))
    assert check(report(keys, TAMPERING, "n2", (by_n2,), RAFT_TAMPERING))
    assert not check(report(keys, TAMPERING, "n2", (by_n3,), RAFT_TAMPERING))
    assert not check(report(keys, TAMPERING, "n2", (), RAFT_TAMPERING))
    assert not check(report(keys, TAMPERING, "n2", (by_n2, by_n2), RAFT_TAMPERING))


def test_a_malformed_element_of_an_append_is_carried_as_no_entry(keys: Keys) -> None:
    """`carried` reads what a sealed message carries for every reader of sealed messages, the
    core's detectors and the test side's oracle and fuzzer (property_tests/hybrid/oracle.py,
    impl/hybrid/fuzz.py), which see the malformed ones too: an element of `entries` that is not a
    Raft entry stands as None (whose signature never checks), and reading it never raises."""
    entries: tuple[object, ...] = (Entry(1, NOOP), 5, "entry")
    m = AppendEntriesRequest("n4", "n1", 1, 0, 0, entries, 0)  # type: ignore[arg-type]
    sealed = keys.seal(1, "n4", RaftPayload(1, "n4", m))
    assert carried(sealed) == (NOOP, None, None)
    assert not keys.entry_ok(None)
    proposal = keys.seal(1, "n2", Proposal(1, "n2", OpEntry(op(keys, 1), 1)))
    assert carried(proposal) == (OpEntry(op(keys, 1), 1),)


def test_a_raft_equivocation_proof_needs_two_appends(keys: Keys) -> None:
    """Two sealed statements of one leader that are not both AppendEntries (a proposal has no
    term, and puts nothing at an index) prove no equivocation, in either order, and are refused
    rather than crash the checker of every node that applies the record."""
    check = EvidenceChecker(keys)
    a = append(keys, "n4", 2, (NOOP,))
    proposal = keys.seal(1, "n4", Proposal(1, "n4", OpEntry(op(keys, 1), 1)))
    assert not check(report(keys, EQUIVOCATION, "n4", (a, proposal), RAFT_EQUIVOCATION))
    assert not check(report(keys, EQUIVOCATION, "n4", (proposal, a), RAFT_EQUIVOCATION))


def test_a_self_proving_record_needs_the_proof_its_detail_names(keys: Keys) -> None:
    """A tampering or equivocation record is believed only through the proof its `detail` names,
    for the kind that proof shows (proofs.py's module docstring): a detail naming no proof, a Raft
    equivocation proof offered as tampering, or a HotStuff equivocation that is not two messages,
    proves nothing, whatever the reporter signed."""
    check = EvidenceChecker(keys)
    a = append(keys, "n4", 2, (op(keys, 1),))
    b = append(keys, "n4", 2, (NOOP,))
    assert check(report(keys, EQUIVOCATION, "n4", (a, b), RAFT_EQUIVOCATION))
    assert not check(report(keys, EQUIVOCATION, "n4", (a, b), "my word for it"))
    assert not check(report(keys, TAMPERING, "n4", (a, b), RAFT_EQUIVOCATION))
    for messages in ((), (a,), (a, b, a)):
        assert not check(report(keys, EQUIVOCATION, "n4", messages, "hotstuff:equivocation"))
    # a real HotStuff proof (tests below) and a real Raft tampering proof, each under a detail
    # that names no proof, or the other kind
    hs = _hotstuff_proposals(keys, "n2")
    assert check(report(keys, EQUIVOCATION, "n2", hs, "hotstuff:equivocation"))
    assert not check(report(keys, EQUIVOCATION, "n2", hs, "my word for it"))
    assert not check(report(keys, TAMPERING, "n2", hs, "hotstuff:equivocation"))
    forged = attrs.evolve(op(keys, 1), op=to_value(Custom("k1", 666)))
    tampered = keys.seal(1, "n2", Proposal(1, "n2", OpEntry(forged, 1)))
    assert check(report(keys, TAMPERING, "n2", (tampered,), RAFT_TAMPERING))
    assert not check(report(keys, TAMPERING, "n2", (tampered,), "my word for it"))


def _hotstuff_proposals(keys: Keys, leader: str, epoch: int = 1) -> tuple[HsProposal, HsProposal]:
    """Two proposals `leader` signed with `epoch`'s HotStuff keys for view 3, of two blocks."""
    ring = keys.hotstuff(epoch)
    blocks = [HsBlock(bytes(32), 3, None, leader, ()), HsBlock(b"\1" * 32, 3, None, leader, ())]
    signer = ring.signer(leader)
    a, b = (HsProposal(blk, signer.sign(proposal_bytes(blk))) for blk in blocks)
    return a, b


def test_a_hotstuff_equivocation_proof_is_two_blocks_the_accused_proposed_for_one_view(
    keys: Keys,
) -> None:
    """impl/hybrid/bft.py reports two proposals of one leader and view as self-proving
    evidence: believed with the keys of the record's epoch, against their proposer only."""
    check = EvidenceChecker(keys)
    a, b = _hotstuff_proposals(keys, "n2")
    assert check(report(keys, EQUIVOCATION, "n2", (a, b), "hotstuff:equivocation"))
    assert not check(report(keys, EQUIVOCATION, "n3", (a, b), "hotstuff:equivocation"))
    assert not check(report(keys, EQUIVOCATION, "n2", (a, a), "hotstuff:equivocation"))
    assert not check(report(keys, EQUIVOCATION, "n2", (a, b), "hotstuff:equivocation", epoch=2))


def _unreadable_proofs(keys: Keys) -> dict[str, Evidence]:
    """Records whose messages their reporter (n2) signed but which cannot be read as the proof
    their detail names; each accuses n2 itself, whose epoch-2 keys sign what the proof needs."""
    ring = keys.epoch(2)

    def signed(body: object) -> Signed[object]:
        return Signed(body, "n2", ring.signer("n2").sign(signing_bytes(body)))

    def forged_request(batch: tuple[object, ...]) -> Evidence:
        # a pre-prepare whose (unsigned) batch is junk, with the digest of that junk signed
        digest = batch_digest(batch)
        pp = signed(PrePrepare(0, 1, digest, "n2", batch))  # type: ignore[arg-type]
        return report(keys, TAMPERING, "n2", (pp,), "pbft:forged_request", 2, "n2")

    unencodable = Signed(Request(client_id("n2"), 1, 1.5), client_id("n2"), b"")
    bad_request = PrePrepare(0, 1, b"d" * 32, "n2", (unencodable,))

    def hotstuff(a: object, b: object) -> Evidence:
        return report(keys, EQUIVOCATION, "n2", (a, b), "hotstuff:equivocation", 2, "n2")

    return {
        "a batch holding a number": forged_request((5,)),
        "a batch holding a signed clock reading": forged_request((signed(ClockEntry("n2", 1)),)),
        "a batch holding a float": report(
            keys, TAMPERING, "n2", (signed(bad_request),), "pbft:forged_request", 2, "n2"
        ),
        "hotstuff proposals of numbers": hotstuff(HsProposal(5, b""), HsProposal(6, b"")),  # type: ignore[arg-type]
        "hotstuff votes for a string view": hotstuff(
            HsVote(b"a", "x", "n2", b""),  # type: ignore[arg-type]
            HsVote(b"b", "x", "n2", b""),  # type: ignore[arg-type]
        ),
        "hotstuff votes for numbers": hotstuff(
            HsVote(5, 1, "n2", b""),  # type: ignore[arg-type]
            HsVote(6, 1, "n2", b""),  # type: ignore[arg-type]
        ),
        "hotstuff votes beyond 64 bits": hotstuff(
            HsVote(b"a", 2**70, "n2", b""), HsVote(b"b", 2**70, "n2", b"")
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "a batch holding a number",
        "a batch holding a signed clock reading",
        "a batch holding a float",
        "hotstuff proposals of numbers",
        "hotstuff votes for a string view",
        "hotstuff votes for numbers",
        "hotstuff votes beyond 64 bits",
    ],
)
def test_a_proof_that_cannot_be_read_proves_nothing(keys: Keys, name: str) -> None:
    """A record's messages are whatever its reporter signed. Checked as the proof its detail
    names, these once raised (an attribute of a number, a value PBFT cannot encode, a view
    `to_bytes` cannot hold) in every honest node applying the record: one Byzantine node stopped
    the cluster. They prove nothing, and the record is refused."""
    record = _unreadable_proofs(keys)[name]
    assert not EvidenceChecker(keys)(record)
    m = machine(keys)
    assert m.apply_entry(EvidenceEntry(record)) == {"ok": True, "evidence": REFUSED}


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
    # Hybrid.tla's chain (what the node reports as OrderOp and Apply) holds the one op committed:
    # a retry, an op of another epoch, a forged op and a re-tagged one commit nothing, and are
    # left out (impl/hybrid/refinement.py); a re-tagged op once stood in it as ordered in epoch 1
    assert m.spec_entries == [{"type": "op", "op": "c1/1", "epoch": 1}, None, None, None, None]


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
    clock = keys.sign_clock(ClockEntry("n2", 40))
    assert m.apply_entry(clock) == {"ok": False, "ignored": BEYOND_SWITCH}
    assert m.history == [("c1", 1)] and m.threat.clocks == {}
    # the three entries up to the switch entry are the epoch's, counted over every epoch (the
    # cluster's facade takes the node that applied most as the one furthest along)
    assert len(m.log) == m.closed.entries == 3 and m.log[-1] == _equivocation(keys)
    # the next epoch starts from the closed state: the op is there, and applies once
    nxt = HybridMachine(m.closed, keys, EvidenceChecker(keys))
    assert nxt.protocol == BFT and nxt.apply_entry(OpEntry(op(keys, 1), 2))["epoch"] == 1
    assert (nxt.entries, nxt.state().entries, nxt.log) == (4, 4, [OpEntry(op(keys, 1), 2)])


def test_refused_evidence_does_not_switch(keys: Keys) -> None:
    m = machine(keys)
    a = append(keys, "n4", 2, (NOOP,))
    lie = EvidenceEntry(report(keys, EQUIVOCATION, "n4", (a, a), RAFT_EQUIVOCATION))
    assert m.apply_entry(lie)["evidence"] == REFUSED
    assert m.closed is None and m.threat.refused == 1
    # applied all the same: its reporter stops proposing it (HybridNode drops what was applied)
    assert lie.record.key() in m.evidence_seen


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
    # the mutant drops a Raft term only: in an epoch with no leader's no-op there is none
    m = machine(keys, frozenset({mutants.SWITCH_DROPS_LAST_RAFT_TERM}))
    m.apply_entry(OpEntry(op(keys, 1), 1))
    m.apply_entry(_equivocation(keys))
    assert m.closed is not None and m.closed.history == (("c1", 1),)


def test_each_entry_answers_what_it_did(keys: Keys) -> None:
    """The result of applying an entry is what a PBFT or HotStuff epoch signs into its reply to
    the node that proposed it (and what a Raft Apply carries): what the entry did, and for an op
    refused, why."""
    m = machine(keys)
    assert m.apply_entry(NOOP) == {"ok": True, "noop": True}
    assert m.apply_entry(OpEntry(op(keys, 1), 1)) == {
        "ok": True,
        "status": COMMITTED,
        "epoch": 1,
        "position": 1,
        "result": {"ok": True, "key": "k1", "existed": False},
    }
    assert m.apply_entry(OpEntry(op(keys, 2), 2)) == {
        "ok": False,
        "status": REJECTED,
        "reason": "proposed in epoch 2, applied in 1",
    }
    forged = attrs.evolve(op(keys, 3), op=to_value(Custom("k3", 5)))
    assert m.apply_entry(OpEntry(forged, 1)) == {
        "ok": False,
        "status": REJECTED,
        "reason": "bad client signature",
    }
    bad = EvidenceEntry(report(keys, BAD_SIGNATURE, "n3", (), "x"))
    assert m.apply_entry(bad) == {"ok": True, "evidence": ACCEPTED}
    # the replicated time is the (f+1)-th highest clock: the first reading leaves it at 0
    assert m.apply_entry(keys.sign_clock(ClockEntry("n1", 40))) == {"ok": True, "now": 0}
    assert m.apply_entry(keys.sign_clock(ClockEntry("n2", 40))) == {"ok": True, "now": 40}
    forged_clock = attrs.evolve(keys.sign_clock(ClockEntry("n3", 40)), time=900)
    assert m.apply_entry(forged_clock) == {"ok": False, "error": "bad clock signature"}
    assert m.entries == 8 and m.state().entries == 8


def test_the_digest_is_of_the_client_state_only(keys: Keys) -> None:
    """`digest` is what replicas compare (the client history's view): the same ops give the same
    digest whatever evidence and clock entries came between them; another op, another digest."""
    a, b = machine(keys), machine(keys)
    for m in (a, b):
        m.apply_entry(OpEntry(op(keys, 1), 1))
    b.apply_entry(keys.sign_clock(ClockEntry("n2", 40)))
    b.apply_entry(EvidenceEntry(report(keys, BAD_SIGNATURE, "n3", (), "x")))
    assert a.digest() == b.digest()
    a.apply_entry(OpEntry(op(keys, 2), 1))
    assert a.digest() != b.digest()
    b.apply_entry(OpEntry(op(keys, 2, 7), 1))  # the same op, another value: another table
    assert a.digest() != b.digest()


def test_the_spec_entry_of_evidence_names_the_kind_the_level_demands(keys: Keys) -> None:
    """Hybrid.tla weighs each record alone (`DemandedOne`); the implementation counts bad
    signatures by reporter. The first one raises None to Low: its chain entry is its own kind;
    the second reporter's raises Low to High (f + 1 reporters), which in the spec only a
    tampering record does: its chain entry is `tampering` (impl/hybrid/refinement.py)."""
    m = machine(keys)
    for reporter in ("n1", "n2"):
        record = report(keys, BAD_SIGNATURE, "n3", (), "x", reporter=reporter)
        assert m.apply_entry(EvidenceEntry(record))["evidence"] == ACCEPTED
    assert m.threat.level == Level.HIGH and m.closed is not None
    assert m.spec_entries == [
        {"type": "evidence", "kind": BAD_SIGNATURE},
        {"type": "evidence", "kind": TAMPERING},
    ]


def test_only_a_clock_entry_that_lowers_the_level_is_a_quiet_entry(keys: Keys) -> None:
    """Hybrid.tla's quiet entry is the step down (the window, the quiet period and the dwell have
    passed, impl/hybrid/levels.py): a clock reading that lowers nothing is no spec entry."""
    m = machine(keys)
    entries = [
        EvidenceEntry(report(keys, BAD_SIGNATURE, "n3", (), "x")),  # at time 0: Low
        keys.sign_clock(ClockEntry("n1", 200)),  # one clock: the time stays 0
        keys.sign_clock(ClockEntry("n2", 200)),  # now 200: the evidence is stale, a step down
        keys.sign_clock(ClockEntry("n3", 300)),  # at None already
    ]
    levels = []
    for entry in entries:
        m.apply_entry(entry)
        levels.append(m.threat.level)
    assert levels == [Level.LOW, Level.LOW, Level.NONE, Level.NONE]
    assert m.spec_entries == [
        {"type": "evidence", "kind": BAD_SIGNATURE},
        None,
        {"type": "quiet"},
        None,
    ]


def test_a_value_that_is_no_hybrid_entry_is_answered_as_such(keys: Keys) -> None:
    """A committed value that is none of the hybrid entries (a Byzantine leader may append any
    string: only the no-op has no signature to check) changes nothing; its result, which a PBFT
    epoch signs into the reply to the node that proposed it, says why."""
    m = machine(keys)
    m.apply_entry(OpEntry(op(keys, 1), 1))
    before = m.state()
    assert m.apply_entry("junk") == {"ok": False, "error": "not a hybrid entry"}
    assert m.spec_entries[-1] is None and m.closed is None
    assert attrs.evolve(m.state(), entries=before.entries) == before


def test_a_hybrid_machine_is_never_restored_from_a_snapshot(keys: Keys) -> None:
    """An epoch's machine is rebuilt from its start state and the entries applied (the module
    docstring of impl/hybrid/machine.py); a core asking it to restore a snapshot is a wiring error,
    which must say so rather than leave the machine as it was."""
    m = machine(keys)
    with pytest.raises(ImplError) as caught:
        m.restore(m.snapshot())
    assert str(caught.value) == (
        "a hybrid machine is rebuilt from its epoch's start state, not restored"
    )


def _ill_formed(keys: Keys) -> dict[str, object]:
    """Values that are no entry, or entries whose fields are not of their types, each signed where
    a signature can cover it: what a Byzantine node can seal into an AppendEntries, or have a BFT
    epoch order as its client's operation (HotStuff signs a request's text, so any value)."""

    def record(messages: object = (), time: object = 0, detail: object = "x") -> Evidence:
        return keys.sign_evidence(
            Evidence(BAD_SIGNATURE, "n4", "n3", messages, time, 1, detail)  # type: ignore[arg-type]
        )

    return {
        "a number for an entry": 5,
        "an int for the client op": OpEntry(5, 1),  # type: ignore[arg-type]
        "a string for the sequence number": OpEntry(
            keys.sign_op(ClientOp("c1", "1", to_value(Custom("k1", 0)))),  # type: ignore[arg-type]
            1,
        ),
        "a string for the entry's epoch": OpEntry(op(keys, 1), "1"),  # type: ignore[arg-type]
        "a string for the clock reading": keys.sign_clock(ClockEntry("n4", "x")),  # type: ignore[arg-type]
        "a string for the clock's signature": ClockEntry("n4", 5, "x"),  # type: ignore[arg-type]
        "an int for the evidence record": EvidenceEntry(5),  # type: ignore[arg-type]
        "a string for the reporter's time": EvidenceEntry(record(time="x")),
        "an int for the evidence detail": EvidenceEntry(record(detail=5)),
        "an int for the evidence messages": EvidenceEntry(record(messages=5)),
    }


ILL_FORMED = [
    "a number for an entry",
    "an int for the client op",
    "a string for the sequence number",
    "a string for the entry's epoch",
    "a string for the clock reading",
    "a string for the clock's signature",
    "an int for the evidence record",
    "a string for the reporter's time",
    "an int for the evidence detail",
    "an int for the evidence messages",
]


@pytest.mark.parametrize("name", ILL_FORMED)
def test_an_entry_of_the_wrong_types_is_applied_as_no_entry(keys: Keys, name: str) -> None:
    """A signature covers whatever its signer put in the fields (impl/hybrid/entries.py
    `well_formed`): an entry holding a string where a number belongs, or a number where a client
    op belongs, once stopped every honest node that applied it (reading `op.key`, comparing the
    clock reading, checking the record). It is applied as a value that is no entry: nothing
    changes, and no step of Hybrid.tla's chain is reported for it."""
    m = machine(keys)
    m.apply_entry(OpEntry(op(keys, 1), 1))
    before = m.state()
    assert m.apply_entry(_ill_formed(keys)[name]) == {"ok": False, "error": "not a hybrid entry"}
    assert m.spec_entries[-1] is None
    assert attrs.evolve(m.state(), entries=before.entries) == before


def test_a_value_nothing_can_have_signed_is_refused_for_its_signature(keys: Keys) -> None:
    """A BFT epoch orders any operation a node's client identity signed (HotStuff signs a
    request's text): an op or evidence record holding a value PBFT's encoding refuses (a list,
    which cannot be hashed; a float) carries no valid signature, and is refused as such rather
    than stop every honest node that applies it."""
    m = machine(keys)
    unsignable = OpEntry(ClientOp("c1", 1, [1]), 1)
    assert m.apply_entry(unsignable) == {
        "ok": False,
        "status": REJECTED,
        "reason": "bad client signature",
    }
    record = EvidenceEntry(Evidence(BAD_SIGNATURE, "n4", "n3", (1.5,), 0, 1, "x"))
    assert m.apply_entry(record) == {"ok": True, "evidence": REFUSED}
    assert m.history == [] and m.threat.refused == 1


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


def raft(node: HybridNode) -> RaftNode:
    """The Raft core of the node's current epoch."""
    core = node.current.core
    assert isinstance(core, RaftNode)
    return core


def applied(node: HybridNode) -> tuple[tuple[str, int], ...]:
    """The ops the node's machine committed, in order (a call: mypy narrows a property compared
    with a literal, and then takes the next comparison for unreachable)."""
    return node.history


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
    assert raft(node).log.last_index == 0 and applied(node) == ()
    assert [r.kind for r in node.reported] == [TAMPERING]
    # the same message from an honest leader (a later term) with the real op: followed, applied
    node.step(Deliver("n3", committing(keys, "n3", 2, OpEntry(real, 1))))
    assert raft(node).log.last_index == 1 and applied(node) == (("c1", 3),)
    # the mutant takes the tampered entry: committed at index 1, applied as nothing
    node = follower(keys, frozenset({mutants.FOLLOW_CAUGHT_APPEND}))
    node.step(Deliver("n4", committing(keys, "n4", 1, OpEntry(forged, 1))))
    assert raft(node).log.last_index == 1 and applied(node) == ()


@pytest.mark.parametrize("name", ILL_FORMED)
def test_a_follower_reports_an_entry_of_the_wrong_types_as_tampering(keys: Keys, name: str) -> None:
    """A leader's sealed AppendEntries carrying a value that is no entry, or an entry whose fields
    are not of their types (impl/hybrid/entries.py `well_formed`), which once stopped the
    follower's step in its detectors or was taken as an entry whose signature failed: no honest
    node proposes such an entry. It is tampering, proved by the leader's seal, and not followed."""
    node = follower(keys)
    message = committing(keys, "n4", 1, _ill_formed(keys)[name])
    node.step(Deliver("n4", message))
    assert [(r.kind, r.accused, r.messages) for r in node.reported] == [
        (TAMPERING, "n4", (message,))
    ]
    assert EvidenceChecker(keys)(node.reported[0])
    assert raft(node).log.last_index == 0


def test_a_follower_does_not_follow_a_second_entry_for_an_index(keys: Keys) -> None:
    """Two AppendEntries of one leader and term with different entries at one index: the second
    is evidence (equivocation), and the follower does not follow it (not even its commit)."""
    first = AppendEntriesRequest("n4", "n1", 1, 0, 0, (Entry(1, OpEntry(op(keys, 1), 1)),), 0)
    commits: dict[frozenset[str], int] = {}
    for bugs in (frozenset(), frozenset({mutants.FOLLOW_CAUGHT_APPEND})):
        node = follower(keys, bugs)
        node.step(Deliver("n4", keys.seal(1, "n4", RaftPayload(1, "n4", first))))
        assert raft(node).log.last_index == 1 and applied(node) == ()
        node.step(Deliver("n4", committing(keys, "n4", 1, NOOP)))
        assert [r.kind for r in node.reported] == [EQUIVOCATION]
        commits[bugs] = raft(node).commit_index
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
    core = raft(node)
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
    assert raft(node).log.last_index == 1 and applied(node) == (("c1", 3),)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("entry", id="a hybrid entry, not a Raft payload or proposal"),
        pytest.param("float", id="a Raft payload nothing can encode"),
    ],
)
def test_a_seal_over_what_no_node_seals_is_a_bad_signature_of_its_sender(
    keys: Keys, body: str
) -> None:
    """A node seals only Raft payloads and proposals of an epoch (impl/hybrid/entries.py): a
    signed message naming an epoch that is anything else, or whose payload cannot even be encoded
    (so no signature can cover it), is not a seal, and is reported against the link's sender as
    a bad signature (which counts towards the threat level), never followed."""
    node = follower(keys)
    content: object = OpEntry(op(keys, 1), 1) if body == "entry" else RaftPayload(1, "n2", 1.5)
    forged = Signed(content, "n2", keys.seal(1, "n2", RaftPayload(1, "n2", NOOP)).signature)
    node.step(Deliver("n2", forged))
    assert [(r.kind, r.accused, r.epoch, r.detail) for r in node.reported] == [
        (BAD_SIGNATURE, "n2", 1, "a seal that does not verify")
    ]
    assert raft(node).log.last_index == 0


def test_a_seal_is_of_the_epoch_and_the_node_its_payload_names(keys: Keys) -> None:
    """A seal (impl/hybrid/entries.py) is bound to the epoch and the sender its payload names:
    n2's signature over a payload naming n3, or naming epoch 2 but made with epoch 1's keys, is
    no seal of epoch 1; a signer outside the cluster seals nothing."""
    m = AppendEntriesRequest("n2", "n1", 1, 0, 0, (), 0)
    assert keys.sealed_ok(1, keys.seal(1, "n2", RaftPayload(1, "n2", m)))
    assert not keys.sealed_ok(1, keys.seal(1, "n2", RaftPayload(1, "n3", m)))
    assert not keys.sealed_ok(1, keys.seal(1, "n2", RaftPayload(2, "n2", m)))
    stranger = keys.seal(1, "n2", RaftPayload(1, "n9", m))
    assert not keys.sealed_ok(1, attrs.evolve(stranger, signer="n9"))
    # delivered, the payload naming another sender is a bad signature of the link's sender
    node = follower(keys)
    node.step(Deliver("n2", keys.seal(1, "n2", RaftPayload(1, "n3", m))))
    assert [(r.kind, r.accused) for r in node.reported] == [(BAD_SIGNATURE, "n2")]


def test_a_message_of_no_epoch_is_a_bad_signature_of_its_sender(keys: Keys) -> None:
    """Every hybrid message names its epoch (an int, `epoch_of`): one that names none, or names
    it with a string, is nothing an honest node sends, and is reported against the link's sender
    (a non-self-proving report, counted by reporter)."""
    node = follower(keys)
    node.step(Deliver("n2", "hello"))
    node.step(Deliver("n3", PbftWire("1", "hello")))  # type: ignore[arg-type]
    assert [(r.kind, r.accused, r.epoch, r.detail) for r in node.reported] == [
        (BAD_SIGNATURE, "n2", 1, ""),
        (BAD_SIGNATURE, "n3", 1, ""),
    ]


def test_a_follower_reports_an_append_of_things_that_are_no_raft_entries(keys: Keys) -> None:
    """A Byzantine leader's sealed AppendEntries whose entries are not Raft entries (a number)
    carries values whose signature never checks (`carried`): tampering, proved by the seal, and
    not followed, never a crash of the follower."""
    node = follower(keys)
    m = AppendEntriesRequest("n4", "n1", 1, 0, 0, (5,), 1)  # type: ignore[arg-type]
    sealed = keys.seal(1, "n4", RaftPayload(1, "n4", m))
    node.step(Deliver("n4", sealed))
    assert [(r.kind, r.accused, r.messages) for r in node.reported] == [
        (TAMPERING, "n4", (sealed,))
    ]
    assert EvidenceChecker(keys)(node.reported[0])
    assert raft(node).log.last_index == 0


# Raft messages with a field of the wrong type, each of which once raised in the step of every
# node it reached (TypeError in the detectors' index arithmetic or the Raft core's comparisons),
# but for the entry with a string term, which the follower took into its log
ILL_TYPED_RAFT: dict[str, object] = {
    "prev_log_index": AppendEntriesRequest("n4", "n1", 1, "1", 0, (), 0),  # type: ignore[arg-type]
    "term": AppendEntriesRequest("n4", "n1", "1", 0, 0, (), 0),  # type: ignore[arg-type]
    "entries": AppendEntriesRequest("n4", "n1", 1, 0, 0, 5, 0),  # type: ignore[arg-type]
    "entry term": AppendEntriesRequest("n4", "n1", 1, 0, 0, (Entry("1", NOOP),), 1),  # type: ignore[arg-type]
    "commit_index": AppendEntriesRequest("n4", "n1", 1, 0, 0, (), None),  # type: ignore[arg-type]
    "vote term": RequestVoteRequest("n4", "n1", "2", 0, 0),  # type: ignore[arg-type]
    "last_log_index": RequestVoteRequest("n4", "n1", 2, 0, None),  # type: ignore[arg-type]
    "match_index": AppendEntriesResponse("n4", "n1", 1, True, "1"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("name", ILL_TYPED_RAFT)
def test_a_raft_message_of_the_wrong_types_is_tampering_its_seal_proves(
    keys: Keys, name: str
) -> None:
    """One Byzantine node in a Raft epoch could stop every node it reached with one sealed Raft
    message holding a string or None where a number belongs (impl/hybrid/entries.py
    `raft_well_formed`). No honest node seals such a message: it is reported as tampering, proved
    by the sender's seal to anyone (the threat level goes to High), and neither read on nor
    followed."""
    node = follower(keys)
    sealed = keys.seal(1, "n4", RaftPayload(1, "n4", ILL_TYPED_RAFT[name]))
    node.step(Deliver("n4", sealed))
    assert [(r.kind, r.accused, r.messages) for r in node.reported] == [
        (TAMPERING, "n4", (sealed,))
    ]
    assert EvidenceChecker(keys)(node.reported[0])
    assert (raft(node).log.last_index, raft(node).term) == (0, 0)
    # the same message, well typed, proves nothing
    m = ILL_TYPED_RAFT["prev_log_index"]
    assert isinstance(m, AppendEntriesRequest)
    good = keys.seal(1, "n4", RaftPayload(1, "n4", attrs.evolve(m, prev_log_index=1)))
    proof = report(keys, TAMPERING, "n4", (good,), RAFT_TAMPERING)
    assert not EvidenceChecker(keys)(proof)


def test_a_follower_takes_and_applies_the_evidence_its_leader_commits(keys: Keys) -> None:
    """Evidence reaches the replicated threat state as an entry of the log: a follower checks
    the reporter's signature on it (`Keys.entry_ok`), follows, applies, and switches with the
    others at the switch entry."""
    node = follower(keys)
    node.step(Deliver("n3", committing(keys, "n3", 1, _equivocation(keys))))
    assert node.reported == [] and (node.epoch, node.current_protocol()) == (2, BFT)
    assert node.machine.threat.level == Level.CRITICAL


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
    assert applied(node) == (("c1", 1), ("c1", 2))
    # the next checkpoint's state replays the first one's batches, then op 3: only op 3 is new
    assert stable(first + batches(range(3, 4))) == [
        Action("OrderOp", {"e": 2, "o": "c1/3"}),
        Action("Apply", {"i": "n1"}),
    ]
    assert applied(node) == (("c1", 1), ("c1", 2), ("c1", 3))
    # a state that does not start with what n1 applied (only 2f + 1 liars could prove one) is
    # reported whole: Order steps at positions the chain holds, which trace validation rejects
    other = batches(range(4, 6)) + batches(range(6, 7)) + batches(range(7, 8))
    assert [a.params.get("o") for a in stable(other) if a.name == "OrderOp"] == [
        "c1/4",
        "c1/5",
        "c1/6",
        "c1/7",
    ]
