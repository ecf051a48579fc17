"""The message fuzzer on the hybrid layer (impl/hybrid/fuzz.py, and PBFT's for its PBFT cores) and
the hybrid signed-fields property (signed_fields.py): a fuzzing node changes nothing the honest
nodes take, every signed type is enumerated and covered, and each check is shown to fail."""

from __future__ import annotations

import random
from typing import Any

import attrs
import pytest
from hypothesis import settings

from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.hybrid import entries
from meshcheck.impl.hybrid import levels
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid import threat
from meshcheck.impl.hybrid.byzantine import EquivocateRaft
from meshcheck.impl.hybrid.byzantine import TamperEnvelopes
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.fuzz import SEALED
from meshcheck.impl.hybrid.fuzz import SELF_SIGNED
from meshcheck.impl.hybrid.fuzz import UNSIGNED_FIELDS
from meshcheck.impl.hybrid.fuzz import Fuzz
from meshcheck.impl.hybrid.fuzz import Ledger
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.pbft.byzantine.behaviours import Equivocate
from meshcheck.impl.pbft.byzantine.node import corrupt
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.raft.messages import AppendEntriesResponse
from meshcheck.impl.raft.messages import Entry
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hybrid import signed_fields as sf
from meshcheck.property_tests.hybrid.free_runs import BEHAVIOURS
from meshcheck.property_tests.hybrid.free_runs import Run
from meshcheck.property_tests.hybrid.free_runs import final
from meshcheck.property_tests.hybrid.free_runs import play
from meshcheck.property_tests.hybrid.free_runs import prepare
from meshcheck.property_tests.hybrid.free_runs import run
from meshcheck.property_tests.hybrid.oracle import HybridOracle

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_every_signed_field_is_covered_or_declared() -> None:
    sf.signed_fields(frozenset(), settings())


def test_the_property_fails_on_a_follower_that_takes_a_caught_entry() -> None:
    with pytest.raises(CheckFailed, match="n2 took the entry into its log"):
        sf.signed_fields(frozenset({mutants.FOLLOW_CAUGHT_APPEND}), settings())


def test_every_hybrid_message_type_is_classified() -> None:
    """A type added to entries.py fails this test until it is classified here (and, if signed,
    given a gallery value in signed_fields.py)."""
    declared = {
        value
        for value in vars(entries).values()
        if isinstance(value, type) and attrs.has(value) and value.__module__ == entries.__name__
    }
    wrappers = {entries.OpEntry, entries.EvidenceEntry}  # entries: signed inside a seal
    envelopes = {entries.PbftWire, entries.HotStuffWire}  # BFT messages signed inside
    assert declared == {*SELF_SIGNED, *SEALED, *envelopes, *wrappers} - {threat.Evidence}
    assert {t.__name__ for t in (*SELF_SIGNED, *SEALED)} == set(sf.SIGNED_TYPES)
    unsigned = {
        (cls, f.name)
        for cls in (*declared, threat.Evidence)
        for f in attrs.fields(cls)
        if f.metadata.get("unsigned")
    }
    assert unsigned | {(w, "epoch") for w in envelopes} == set(UNSIGNED_FIELDS)


def test_a_fuzzing_leader_changes_nothing_the_honest_nodes_take() -> None:
    """The Raft leader, then the PBFT cores of the same node, fuzz from the first op to the calm:
    the free run's invariants, its liveness bounds and the rejection oracle all hold."""
    schedule = Schedule(
        seed=1, ticks=600, drop=0.02, behaviours=("fuzz", "pbft_fuzz"), target="leader", start=1
    )
    out = run(schedule)
    assert out.oracle is not None and out.oracle.checked > 5
    assert out.byzantine is not None and len(Fuzz.sent(out.hc.nodes[out.byzantine])) > 50
    assert out.switches >= 2  # the mutations it sent were caught as evidence: BFT, then back


def test_the_oracle_catches_a_follower_that_takes_a_tampered_entry() -> None:
    sealed, _ = sf.GALLERY["RaftPayload"]
    append = sealed.body.message
    op_entry = append.entries[0].value
    bad = attrs.evolve(op_entry, op=attrs.evolve(op_entry.op, signature=bytes(64)))
    lie = attrs.evolve(append, entries=(attrs.evolve(append.entries[0], value=bad),))
    message = sf.KEYS.seal(sf.EPOCH, "n1", RaftPayload(sf.EPOCH, "n1", lie))
    for bugs, caught in ((frozenset(), False), (frozenset({mutants.FOLLOW_CAUGHT_APPEND}), True)):
        node = sf.follower(bugs)
        oracle = HybridOracle(sf.KEYS, {"n1"})
        node.step(Deliver("n1", message))
        if caught:
            with pytest.raises(CheckFailed, match="holds n1's tampered entry at index 1"):
                oracle("n2", Deliver("n1", message), {"n2": node})
        else:
            oracle("n2", Deliver("n1", message), {"n2": node})


def test_a_node_restarted_in_a_pbft_epoch_with_evidence_does_not_crash() -> None:
    """Found by these runs (traces/counterexamples/hybrid/restart_in_pbft_epoch_with_evidence):
    an honest node that crashed in a PBFT epoch whose audit log held records raised KeyError on
    restart (its PBFT instance replayed the records before the node knew its current epoch, and
    the node proposed them to it). impl/hybrid/node.py now leaves them to the retry timer."""
    schedule = Schedule(
        seed=0,
        ticks=1500,
        drop=0.02,
        crash=0.1,
        behaviours=("pbft_fuzz", "equivocate"),
        target="leader",
        start=3,
    )
    out = run(schedule)
    assert out.switches >= 2 and out.hc.sim.events > 0


def test_a_malformed_append_from_a_byzantine_leader_is_tampering_not_a_crash() -> None:
    """Found by two colluding fuzzers: a Byzantine leader sealed an AppendEntries whose `entries`
    held a PBFT message in place of an entry (a donor swapped in), and the honest follower's
    tampering detector raised AttributeError reading its value. It is tampering, reported, proved to
    a third node, and not followed."""
    sealed, _ = sf.GALLERY["RaftPayload"]
    append = sealed.body.message
    wire, _ = sf.GALLERY["Proposal"]
    lie = attrs.evolve(append, entries=(append.entries[0], wire))
    message = sf.KEYS.seal(sf.EPOCH, "n1", RaftPayload(sf.EPOCH, "n1", lie))
    node = sf.follower(frozenset())
    node.step(Deliver("n1", message))
    core: Any = node.instances[sf.EPOCH].core
    assert core.log.last_index == 0
    [record] = [r for r in node.reported if r.kind == levels.TAMPERING]
    assert record.accused == "n1" and EvidenceChecker(sf.KEYS)(record)


# -- f + 1 break it, and the check says so -------------------------------------------------------


def _colluding(seed: int, nodes: tuple[str, ...]) -> Run:
    """A free run (no faults) whose `nodes` equivocate and tamper from the start to the end, on
    the Raft side and in their PBFT cores (n1, the PBFT primary of view 0, lies to n4): the
    colluders are never made honest, so the evidence never stops and the run is held to its
    safety checks, not to its liveness bounds."""
    schedule = Schedule(seed=seed, ticks=600, start=0)  # (start 0: no other node turned)
    out = prepare(schedule)
    lies = {"n1": Equivocate(group={"n4"}), "n2": Equivocate()}
    for node in nodes:
        out.hc.make_byzantine(node, EquivocateRaft(), TamperEnvelopes(), pbft=corrupt(lies[node]))
    try:
        play(out, schedule, max_ops=8)
    except CheckFailed as failed:
        if "(EventuallyBackToRaft)" not in failed.message:
            raise
        final(out)  # the evidence never stopped: the run ends there, its safety checks hold
    return out


def test_f_plus_1_colluding_equivocators_break_agreement() -> None:
    """n1 (the PBFT primary of view 0) and n2 equivocate and tamper: two of four nodes, one more
    than f. Their evidence switches the cluster to PBFT, where n1 pre-prepares one op to n3 and
    another to n4 and n2 votes for both: n3 and n4 close epoch 2 with different histories, and the
    hybrid monitor's NoCommittedOpLost reports it. n1 alone (f of them) cannot. (A seed on which
    the break reaches a closed epoch: on most seeds two colluders stall the run first, which the
    liveness check reports; this one was found by a sweep, as the seeds before it were: 67 stopped
    breaking when a node came to file one proof per report_every, and the one before it when
    nodes ceased to propose their own switch entry into the next epoch.)"""
    with pytest.raises(
        CheckFailed, match=r"NoCommittedOpLost violated at n[34] .*: epoch 2 closed with history"
    ):
        _colluding(176, ("n1", "n2"))
    alone = _colluding(176, ("n1",))
    assert alone.hc.metrics()["switches"] >= 1  # it did switch to PBFT, and stayed safe there


# -- the fuzzer's threat model: no equivocation at an index the follower does not hold -----------

# Found by the seed sweep: n1's fuzzer re-sealed its own AppendEntries to n2 (indices 30-32) with
# entries[1] swapped for another validly signed entry, at an index n2 did not hold; n2 applied it
# where the others applied the committed op. The fuzzer now withholds that (impl/hybrid/fuzz.py).
# That was seed 8271; since a leader's seals carry heartbeat numbers and send times
# (entries.RaftPayload) the fuzzer has more fields to change and draws differently, and seed 25 of
# the same schedule is the one that reaches the case (14 does too, of seeds 1..29).
FRESH_EQUIVOCATION = Schedule(
    seed=25,
    ticks=1500,
    drop=0.02,
    crash=0.1,
    behaviours=("fuzz", "equivocate", "censor"),
    target="n1",
    start=2,
)


@pytest.fixture(scope="module")
def restricted() -> Run:
    return run(FRESH_EQUIVOCATION)


def test_the_fuzzer_withholds_equivocation_at_fresh_indices(restricted: Run) -> None:
    """The seed 25 run holds (its invariants, bounds and final checks) now that the fuzzer
    leaves out what specs/Hybrid.md abstracts away, and it did leave some out."""
    counts = Fuzz.counts(restricted.hc.nodes["n1"])
    assert counts["withheld"] > 0
    ledger = Fuzz().ledger(restricted.hc.nodes["n1"])
    for fuzzed in Fuzz.withheld(restricted.hc.nodes["n1"]):
        assert ledger.changed(restricted.hc.nodes["n1"], fuzzed.message)


def test_the_restricted_fuzzer_still_sends_changed_append_entries(restricted: Run) -> None:
    """The restriction does not silence it: n1 still sends AppendEntries it changed, among them
    equivocations at indices the follower acknowledged (caught: the cluster switches to PBFT)."""
    counts = Fuzz.counts(restricted.hc.nodes["n1"])
    assert counts["sent AppendEntriesRequest"] >= 10
    assert counts["sent equivocation"] >= 1
    assert restricted.switches >= 2


def test_the_checks_catch_a_fresh_index_equivocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the exclusion off, the same run breaks NoCommittedOpLost, and the checks say so: they
    are not blind to the case, the fuzzer's threat model leaves it out."""
    monkeypatch.setitem(BEHAVIOURS, "fuzz", lambda: Fuzz(fresh_equivocation=True))
    with pytest.raises(
        CheckFailed, match=r"NoCommittedOpLost violated at n2 .*c1/8 was committed at 8"
    ):
        run(FRESH_EQUIVOCATION)


def test_the_rule_sends_only_equivocations_the_follower_can_catch() -> None:
    """Ledger.fresh_equivocation on n1's AppendEntries to n2 (indices 1 and 2, term 1): an entry
    swapped at index 2 is withheld until n2 acknowledged index 2 to n1 in term 1, and then only
    sent with the held entry's term; to n3, which acknowledged nothing, never; an entry at an index
    no one was told (3) never; what agrees with the term's log, and tampering, always."""
    sealed, _ = sf.GALLERY["RaftPayload"]
    append = sealed.body.message
    n1 = HybridNode(
        HybridConfig("n1", sf.NODES), sf.KEYS, EvidenceChecker(sf.KEYS), random.Random(0)
    )
    n1.step(Restart({}))
    ledger = Ledger()
    ledger.learn(n1, sealed, received=False)

    def lie(*entries: Entry, dest: str = "n2") -> Any:
        changed = attrs.evolve(append, dest=dest, entries=(append.entries[0], *entries))
        return sf.KEYS.seal(sf.EPOCH, "n1", RaftPayload(sf.EPOCH, "n1", changed))

    other = Entry(1, sf.KEYS.sign_clock(ClockEntry("n1", 99)))
    swapped, other_term = lie(other), lie(attrs.evolve(other, term=2))
    grown = lie(append.entries[1], other)
    tampered = lie(attrs.evolve(other, value=attrs.evolve(other.value, signature=bytes(64))))
    assert not ledger.fresh_equivocation(n1, sealed, "n2")
    assert not ledger.fresh_equivocation(n1, tampered, "n2")
    assert ledger.fresh_equivocation(n1, swapped, "n2")
    ack = AppendEntriesResponse("n2", "n1", 1, True, 2)
    ledger.learn(n1, sf.KEYS.seal(sf.EPOCH, "n2", RaftPayload(sf.EPOCH, "n2", ack)), received=True)
    assert not ledger.fresh_equivocation(n1, swapped, "n2")
    assert ledger.fresh_equivocation(n1, other_term, "n2")
    assert ledger.fresh_equivocation(n1, lie(other, dest="n3"), "n3")
    assert ledger.fresh_equivocation(n1, grown, "n2")
    forged = RaftPayload(sf.EPOCH, "n3", attrs.evolve(ack, source="n3"))  # sealed by no one
    ledger.learn(n1, Signed(forged, "n3", bytes(64)), received=True)
    assert ledger.fresh_equivocation(n1, lie(other, dest="n3"), "n3")


# -- certificates grown on the PBFT wire (impl/base/mutation.py `grow`, docs/certificates.md) -------


def test_a_grown_certificate_on_the_wire_is_signed_with_the_epochs_key() -> None:
    """HybridSigning names a wired view change's certificates and casts the node's own prepare
    there with its key of the wire's epoch (a prepare the epoch's replicas verify), then claims
    the view change as its own."""
    from meshcheck.impl.base import mutation
    from meshcheck.impl.hybrid.entries import PbftWire
    from meshcheck.impl.hybrid.fuzz import HybridSigning
    from meshcheck.impl.pbft.messages import GENESIS
    from meshcheck.impl.pbft.messages import Prepare
    from meshcheck.impl.pbft.messages import PreparedProof
    from meshcheck.impl.pbft.messages import PrePrepare
    from meshcheck.impl.pbft.messages import ViewChange
    from meshcheck.impl.pbft.messages import batch_digest
    from meshcheck.impl.pbft.messages import signing_bytes

    epoch, ring = 2, sf.KEYS.epoch(2)

    def signed(holder: str, body: Any) -> Signed[Any]:
        return Signed(body, holder, ring.signer(holder).sign(signing_bytes(body)))

    pp = signed("n1", PrePrepare(0, 1, batch_digest(()), "n1", ()))
    prepares = tuple(signed(r, Prepare(0, 1, pp.body.digest, r)) for r in ("n2", "n3"))
    vc = signed("n3", ViewChange(1, 0, GENESIS, (), (PreparedProof(pp, prepares),), "n3"))
    wire = PbftWire(epoch, vc)
    signing = HybridSigning(sf.follower(frozenset()))  # the node n2
    path = ("message", "body", "prepared", 0, "prepares")
    assert signing.certificates(wire) == [("message", "body", "ckpt_proof"), path]
    mine = signing.claim_vote(wire, path, prepares[1], None)
    assert (
        mine is not None
        and mine.signer == "n2"
        and mine.body == Prepare(0, 1, pp.body.digest, "n2")
    )
    assert ring.verify("n2", mine.signature, signing_bytes(mine.body))
    rng = random.Random(0)
    sent = [mutation.grow([wire], ["n1"], rng, mutation.Donors(rng), signing) for _ in range(20)]
    grown = [f for f in sent if f is not None]
    assert grown and all(f.resigned and f.message.message.signer == "n2" for f in grown)
    assert all(f.message.epoch == epoch for f in grown)
