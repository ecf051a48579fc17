"""HotStuff's quorum certificates: `Replica.valid_qc` takes a QC exactly when its votes are good
signatures over the QC's (block, view) by 2f+1 distinct replicas, and nothing else counts
(property_tests/hotstuff/certificates.py has the property and its oracle; docs/certificates.md
the rule).

The property runs here with no bug switched on and against the catalogue mutant that counts votes
rather than voters (impl/hotstuff/mutants.py `qc_counts_votes`), which it must kill; and the
fuzzing free runs, whose Byzantine replicas now grow QCs (impl/base/mutation.py `grow`), must kill
that mutant end to end: a repeated vote in a proposal's justify taken by an honest replica.
"""

from __future__ import annotations

import pytest

from meshcheck.impl.hotstuff import mutants
from meshcheck.mutants_cmd import mutant_settings
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff.certificates import certificates
from meshcheck.property_tests.hotstuff.certificates import qc_taken
from meshcheck.property_tests.hotstuff.free_runs import check_safety
from meshcheck.property_tests.hotstuff.free_runs import fuzz_safety
from tests.certificate_checks import SETTINGS

BUG = frozenset({mutants.QC_COUNTS_VOTES})


def test_a_qc_counts_distinct_replicas_good_votes_and_nothing_else() -> None:
    certificates(frozenset(), SETTINGS)  # 300 examples (certificates.EXAMPLES)


def test_counting_votes_not_voters_is_caught() -> None:
    with pytest.raises(CheckFailed) as failed:
        certificates(BUG, SETTINGS)
    assert "taken" in failed.value.message and failed.value.steps == 3  # two voters, one twice
    assert qc_taken(4, [("r1", "good"), ("r2", "good"), ("r1", "good")], BUG)
    assert not qc_taken(4, [("r1", "good"), ("r2", "good"), ("r1", "good")], frozenset())


def test_a_replica_that_grows_qcs_gets_a_repeated_vote_taken_by_the_mutant() -> None:
    """The fuzzing replica r1 grows the QCs it relays (a vote repeated, its own added, a vote of
    another view): with the mutant an honest replica takes a proposal on a QC with a voter twice,
    and the rejection oracle says so; without it the same run holds. The stored run of the
    corpus (traces/hotstuff/qc_counts_votes.itf.json) is the shortest such run."""
    schedule = Schedule(seed=0, ticks=1000, every=25, byzantine={"r1": ("fuzz", "grow")})
    check_safety(schedule, 4, frozenset())
    with pytest.raises(CheckFailed, match="with a voter twice"):
        check_safety(schedule, 4, BUG)


def test_the_ci_fuzzing_runs_kill_the_mutant() -> None:
    """`meshcheck mutants hotstuff`'s "free runs (4 replicas, fuzzing replicas)" check in the ci
    profile: some drawn run has a replica growing QCs, and an honest replica takes one with a
    voter twice. (Before the fuzzer grew certificates, the ci and dev profiles' runs missed it.)"""
    with pytest.raises(CheckFailed):
        fuzz_safety(BUG, mutant_settings("quick", shrink=False))
