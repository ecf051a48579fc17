"""Twins (property_tests/hotstuff/twins.py): with r1 run as two copies under one key at N = 4 and
the enumerated partitions, the honest replicas never commit conflicting blocks and do commit; QCs
of 2f votes break that and twins see it; the lock and commit mutants survive twins (the reason is
in twins.py) and are left to the equivocating leader's runs."""

from __future__ import annotations

import pytest

from meshcheck.impl.hotstuff import mutants
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.hotstuff import twins as tw


def test_twins_keep_safety_and_the_honest_replicas_commit() -> None:
    outcomes = [tw.run(s, frozenset()) for s in tw.scenarios()]
    assert len(outcomes) == 64
    assert all(o.problem is None for o in outcomes)
    assert sum(o.applied > 0 for o in outcomes) >= 50  # measured: 54 of 64 make progress


def test_twins_find_qcs_of_2f_votes(monkeypatch: pytest.MonkeyPatch) -> None:
    bugs = frozenset({mutants.QC_OF_2F_VOTES})
    broken = [s for s in tw.scenarios() if tw.run(s, bugs).problem]
    assert len(broken) == 18  # measured: 18 of the 64 scenarios
    # the check fails on the first of them (the scenarios before it, run above, all hold)
    monkeypatch.setattr(tw, "scenarios", lambda: iter(broken[:1]))
    with pytest.raises(CheckFailed, match=r"NoConflictingCommits: r2 committed .* conflict"):
        tw.twins(bugs)


# a recorded limit of twins, not a check that guards safety (the free runs kill both mutants):
# all 64 scenarios each, about 10 s, so in the slow tier (make test-all)
@pytest.mark.slow
@pytest.mark.parametrize("mutant", [mutants.LOCK_NOT_UPDATED, mutants.COMMIT_ON_TWO_CHAIN])
def test_the_lock_and_commit_mutants_survive_twins(mutant: str) -> None:
    """A twin runs the honest leader's rule (the highest QC of 2f+1 NEW-VIEWs), so it never
    proposes below a certified chain: recorded so that a change that makes twins stronger (or
    the rule weaker) is noticed."""
    tw.twins(frozenset({mutant}))


def test_a_split_round_puts_the_twins_apart() -> None:
    """In a split round the two copies of r1 are in different groups, each with its honest
    replicas; after the scenario's rounds every copy hears every other."""
    scenario = next(s for s in tw.scenarios() if s.splits[0] == frozenset({"r2"}))
    assert scenario.group("r1a", 1) != scenario.group("r1b", 1)
    assert scenario.group("r2", 1) == scenario.group("r1a", 1)
    assert scenario.group("r3", 1) == scenario.group("r4", 1) == scenario.group("r1b", 1)
    assert scenario.group("r3", 9) == scenario.group("r1a", 9)  # after the rounds: no partition
