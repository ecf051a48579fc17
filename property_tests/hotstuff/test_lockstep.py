"""Lockstep of the HotStuff replicas against specs/HotStuff.tla (every replica honest): the correct
group follows every path the loaded Hypothesis profile draws, and a mutant that changes what the
spec sees diverges with the variable that differs."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

from meshcheck.impl.hotstuff import mutants
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.hotstuff.lockstep import lockstep, lockstep_byzantine


def test_the_replicas_follow_the_spec() -> None:
    lockstep(frozenset(), settings())


@pytest.mark.parametrize(
    "mutant,variable",
    [
        (mutants.LOCK_NOT_UPDATED, "locked"),
        (mutants.COMMIT_ON_TWO_CHAIN, "committed"),
        (mutants.SAFE_NODE_WITHOUT_SAFETY_CLAUSE, "lastVoted"),
    ],
)
def test_a_mutant_diverges(mutant: str, variable: str) -> None:
    with pytest.raises(CheckFailed) as failed:
        lockstep(
            frozenset({mutant}),
            settings(max_examples=60, database=None, phases=[Phase.generate]),
        )
    assert f"{variable}: " in failed.value.message


# -- r1 a Byzantine puppet (models/LockstepByzantine.cfg) -------------------------------------------


def test_the_replicas_follow_the_spec_with_a_byzantine_puppet() -> None:
    lockstep_byzantine(frozenset(), settings())


def test_the_puppet_kills_a_second_vote_in_one_view() -> None:
    """vote_twice_in_view, which the honest lockstep misses: r1, the leader of view 4, offers a
    replica that voted in view 4 its other block of that view; the mutant votes again, the spec
    does not (Vote's View(b) > lastVoted), and msgs differ."""
    with pytest.raises(CheckFailed) as failed:
        lockstep_byzantine(
            frozenset({mutants.VOTE_TWICE_IN_VIEW}),
            settings(max_examples=60, database=None, phases=[Phase.generate]),
        )
    assert "msgs: only in impl" in failed.value.message
    lockstep(  # the honest lockstep misses it
        frozenset({mutants.VOTE_TWICE_IN_VIEW}),
        settings(max_examples=60, database=None, phases=[Phase.generate]),
    )
