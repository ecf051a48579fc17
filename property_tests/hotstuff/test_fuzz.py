"""The message fuzzer on HotStuff (impl/hotstuff/fuzz.py) and the signed-fields property
(signed_fields.py): with at most f fuzzing replicas the free runs keep every check and the honest
replicas reject every forgery; with f + 1 colluding ones a check sees the break; every field of
every signed message type is covered by a signature or declared; and each check is shown to fail."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import settings

from meshcheck import coverage
from meshcheck.impl.base import mutation
from meshcheck.impl.hotstuff import fuzz
from meshcheck.impl.hotstuff import messages
from meshcheck.impl.hotstuff import replica
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.simulation import HotStuffPlugin
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff import signed_fields as sf
from meshcheck.property_tests.hotstuff.free_runs import STORM
from meshcheck.property_tests.hotstuff.free_runs import Monitor
from meshcheck.property_tests.hotstuff.free_runs import check_safety
from meshcheck.property_tests.hotstuff.free_runs import cluster
from meshcheck.property_tests.hotstuff.free_runs import fuzz_safety
from meshcheck.property_tests.hotstuff.free_runs import watch

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_fuzzed_runs_keep_safety_and_honest_replicas_reject_forgeries() -> None:
    fuzz_safety(frozenset(), settings())


def test_a_block_fetched_with_a_changed_justify_is_not_stored() -> None:
    """Found by the dev profile: r4 fuzzes, equivocates and votes for everything, and answers r1's
    block request with its view-3 block under a justify whose view it changed (the hash does not
    cover it); r1 stored it and voted for it when the proposal came, and the monitor saw a vote for
    a block whose QC has no valid votes. Fetched blocks' justifies are checked now
    (impl/hotstuff/replica.py `_valid_justify`; test_free_runs.py has the replica-level test)."""
    schedule = Schedule(
        seed=185877,
        ticks=500,
        duplicate=0.02,
        every=50,
        byzantine={"r4": ("fuzz", "equivocate", "vote_all")},
        batch=4,
    )
    check_safety(schedule, 4, frozenset())


def test_a_fuzzed_run_is_counted_for_the_fuzzer_row() -> None:
    """`meshcheck verify`'s "hotstuff Byzantine fuzzer" coverage row: fuzzed runs and the forged
    messages honest replicas were handed, counted; a run without a fuzzer is not."""
    schedule = Schedule(seed=5, ticks=1000, every=25, byzantine={"r3": ("fuzz",)})
    coverage.start()
    try:
        check_safety(schedule, 4, frozenset())
        check_safety(schedule.with_knobs(byzantine={"r3": ("equivocate",)}), 4, frozenset())
    finally:
        seen = coverage.stop()["hotstuff"]
    assert seen.tallies["fuzzed runs"] == 1 and seen.tallies["fuzzed messages"] > 0
    rows = {name: (unit, count, detail) for name, unit, count, detail in coverage.tally_rows(seen)}
    unit, count, detail = rows["Byzantine fuzzer"]
    assert (unit, count) == ("runs", 1)
    assert f"{seen.tallies['fuzzed messages']:,} mutated messages" in detail


def test_every_signed_field_is_covered_or_declared() -> None:
    sf.signed_fields(frozenset(), settings())


def test_a_fuzzing_replica_sends_every_kind_of_change() -> None:
    """One run with r3 fuzzing: its own messages and relayed ones, changed at many positions, some
    signed again in its name, some under the signatures they had; the forged ones rejected."""
    schedule = Schedule(seed=5, ticks=1500, every=25, byzantine={"r3": ("fuzz",)})
    sim = cluster(schedule, 4, frozenset(), heal=False, record=False)
    monitor, oracle = Monitor(sim), watch(sim)
    free_runs.run(sim, schedule, schedule.ticks, STORM)
    assert monitor.problem is None and oracle.violation is None
    fuzzer = sim.plugin.nodes["r3"].fuzzer  # type: ignore[attr-defined]
    sent = fuzzer.sent
    assert len(sent) > 50 and oracle.checked > 5
    assert {True, False} <= {f.resigned for f in sent}
    assert {Proposal, Vote, NewView} <= {type(f.message) for f in sent}
    assert any(fuzz.signer_of(f.origin) not in ("r3", None) for f in sent)  # relayed too
    assert {"->", "bit", "swapped"} <= {
        w for f in sent for w in ("->", "bit", "swapped") if w in f.how
    }
    # the honest replicas still commit and accused only r3
    plugin: HotStuffPlugin = sim.plugin  # type: ignore[assignment]
    assert all(plugin.replica(r).applied > 20 for r in ("r1", "r2", "r4"))
    accused = {a.accused for r in ("r1", "r2", "r4") for a in plugin.replica(r).accusations}
    assert accused == {"r3"}


def test_a_replica_that_grows_qcs_sends_every_kind_of_grown_qc() -> None:
    """r3 fuzzes and grows QCs (impl/base/mutation.py `grow`): proposals relayed with their
    justify's votes grown (a vote repeated, its own, a vote of another view or block, added or in
    place of one) and NEW-VIEWs of its own with a grown QC; the honest replicas take none that
    falls short and still commit."""
    schedule = Schedule(seed=5, ticks=1500, every=25, byzantine={"r3": ("fuzz", "grow")})
    sim = cluster(schedule, 4, frozenset(), heal=False, record=False)
    monitor, oracle = Monitor(sim), watch(sim)
    free_runs.run(sim, schedule, schedule.ticks, STORM)
    assert monitor.problem is None and oracle.violation is None
    grown = [f for f in sim.plugin.nodes["r3"].fuzzer.sent if " votes)" in f.how]  # type: ignore[attr-defined]
    assert len(grown) > 10
    assert {Proposal, NewView} <= {type(f.message) for f in grown}
    hows = " ".join(f.how for f in grown)
    for way in (*mutation.GROW, "in place of one", ".block.justify.votes", ".qc.votes"):
        assert way in hows, way
    plugin: HotStuffPlugin = sim.plugin  # type: ignore[assignment]
    assert all(plugin.replica(r).applied > 20 for r in ("r1", "r2", "r4"))


COLLUDING = ("fuzz", "equivocate", "vote_all")


@pytest.mark.parametrize("seed", [2, 6])  # seeds 0..23: 16 of 24 break within 1,000 ticks
def test_f_plus_1_colluding_fuzzers_break_safety_and_f_do_not(seed: int) -> None:
    """r1 and r2 fuzz, equivocate and vote for everything: two of four replicas, one more than f;
    two QCs of one view form and the monitor reports it. r1 alone (f of them) is tolerated."""
    broken = Schedule(seed=seed, ticks=1000, byzantine={"r1": COLLUDING, "r2": COLLUDING})
    with pytest.raises(CheckFailed, match="NoConflictingQCs: two QCs of view"):
        check_safety(broken, 4, frozenset())
    check_safety(broken.with_knobs(byzantine={"r1": COLLUDING}), 4, frozenset())


# -- each part of the oracle and of the property fails on a receiver that breaks it ----------------


def test_a_receiver_that_takes_a_qc_unchecked_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica.Replica, "valid_qc", lambda self, qc: True)
    with pytest.raises(CheckFailed, match=r"took a forged proposal|keeps a NEW-VIEW"):
        sf.signed_fields(frozenset(), settings())


def test_a_receiver_that_records_no_evidence_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica.Replica, "_accuse", lambda self, *args: None)
    with pytest.raises(CheckFailed, match="without recording bad_signature"):
        sf.signed_fields(frozenset(), settings())


def test_a_receiver_that_blames_the_leader_for_a_relayed_qc_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The proposer's signature does not cover its justify's votes: a relayer that changes them
    must be blamed, not the leader whose signature still checks."""

    real = replica.Replica._blame_proposal

    def blame_leader(self: replica.Replica, source: str, p: Proposal) -> None:
        real(self, source, p)
        if self.accusations and self.accusations[-1].kind == replica.BAD_QC:
            self.accusations[-1] = attrs.evolve(self.accusations[-1], accused=p.block.proposer)

    monkeypatch.setattr(replica.Replica, "_blame_proposal", blame_leader)
    with pytest.raises(CheckFailed, match=r"accuses honest r3 of bad_qc"):
        sf.signed_fields(frozenset(), settings())


def test_a_field_left_out_of_the_signature_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proposal whose signature covers its parent alone, not the rest of the block: the
    property fails, naming a field."""

    def forgetful(b: Block) -> bytes:
        return b"proposal|" + b.parent

    for module in (fuzz, replica, messages):
        monkeypatch.setattr(module, "proposal_bytes", forgetful)
    monkeypatch.setattr(sf, "GALLERY", sf.gallery())
    with pytest.raises(CheckFailed, match=r"Proposal\.block\.\w+ changed .* still checks"):
        sf.signed_fields(frozenset(), settings())
