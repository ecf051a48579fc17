"""The two-and-two split (property_tests/hotstuff/split.py) under pytest: the correct core holds
ViewsWaitForQuorum and the NewView count through the split and commits within CommitAfterSplit's
bound after the heal, on fixed seeds (each pairing) and in the loaded Hypothesis profile. The
held-out bugs that break it are in mutation/heldout.toml (hotstuff_join_counts_self_twice,
hotstuff_new_view_counts_self_twice); tests/test_hotstuff_rules.py has the counting rules."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff.split import PAIRINGS
from meshcheck.property_tests.hotstuff.split import SCRIPTED
from meshcheck.property_tests.hotstuff.split import N
from meshcheck.property_tests.hotstuff.split import bound
from meshcheck.property_tests.hotstuff.split import split_check
from meshcheck.property_tests.scenarios import held

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_the_pacemaker_waits_out_a_split_and_commits_after_the_heal() -> None:
    # seeds whose draws cover the three pairings, one split long enough for the back-off
    schedules = [
        Schedule(seed=seed, ticks=0, hold=hold) for seed, hold in ((0, 600), (1, 2500), (16, 1200))
    ]
    pairings = set()
    for s in held(SCRIPTED, N, schedules):
        pairings.add(s.pairing)
        # every replica timed out once into a view no quorum joined, and waited there
        assert set(s.split.timeouts.values()) == {1}
        assert s.took is not None and 0 < s.took <= bound(1)
    assert pairings == set(PAIRINGS)


def test_the_check_holds_in_the_loaded_profile() -> None:
    split_check(frozenset(), settings())
