"""The hybrid layer's choice of BFT protocol (impl/hybrid/bft.py): the choice itself, HotStuff's
evidence as the hybrid layer checks it, and a HotStuff epoch under a Byzantine leader."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs
import pytest

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.hotstuff.messages import (
    GENESIS,
    GENESIS_QC,
    Block,
    Proposal,
    Vote,
    proposal_bytes,
    vote_bytes,
)
from meshcheck.impl.hybrid.bft import HOTSTUFF, HotStuffDetector
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE, EQUIVOCATION
from meshcheck.impl.hybrid.proofs import HOTSTUFF_EQUIVOCATION, EvidenceChecker
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hybrid import signed_fields as sf
from meshcheck.property_tests.hybrid.free_runs import run

NODES = ("n1", "n2", "n3", "n4")


def test_an_unknown_bft_protocol_is_refused_naming_the_choices() -> None:
    with pytest.raises(
        ImplError, match=r"unknown BFT protocol 'tendermint' \(choices: pbft, hotstuff\)"
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
    [(kind, accused, messages, _)] = detector.check("n4", bad)
    assert (kind, accused, messages) == (BAD_SIGNATURE, "n4", ())  # the link's sender


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
