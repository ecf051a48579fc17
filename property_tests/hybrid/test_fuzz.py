"""The message fuzzer on the hybrid layer (impl/hybrid/fuzz.py, and PBFT's for its PBFT cores) and
the hybrid signed-fields property (signed_fields.py): a fuzzing node changes nothing the honest
nodes take, every signed type is enumerated and covered, and each check is shown to fail."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import settings

from meshcheck.impl.base.events import Deliver
from meshcheck.impl.hybrid import entries, levels, mutants, threat
from meshcheck.impl.hybrid.byzantine import EquivocateRaft, TamperEnvelopes
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.fuzz import SEALED, SELF_SIGNED, UNSIGNED_FIELDS, Fuzz
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.pbft.byzantine.behaviours import Equivocate
from meshcheck.impl.pbft.byzantine.node import corrupt
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hybrid import signed_fields as sf
from meshcheck.property_tests.hybrid.free_runs import Run, final, play, prepare, run
from meshcheck.property_tests.hybrid.oracle import HybridOracle


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
    assert declared == {*SELF_SIGNED, *SEALED, entries.PbftWire, *wrappers} - {threat.Evidence}
    assert {t.__name__ for t in (*SELF_SIGNED, *SEALED)} == set(sf.SIGNED_TYPES)
    unsigned = {
        (cls, f.name)
        for cls in (*declared, threat.Evidence)
        for f in attrs.fields(cls)
        if f.metadata.get("unsigned")
    }
    assert unsigned | {(entries.PbftWire, "epoch")} == set(UNSIGNED_FIELDS)


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
    hybrid monitor's NoCommittedOpLost reports it. n1 alone (f of them) cannot."""
    with pytest.raises(
        CheckFailed, match=r"NoCommittedOpLost violated at n4 .*: epoch 2 closed with history"
    ):
        _colluding(8, ("n1", "n2"))
    alone = _colluding(8, ("n1",))
    assert alone.hc.metrics()["switches"] >= 1  # it did switch to PBFT, and stayed safe there
