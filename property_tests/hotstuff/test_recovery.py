"""RecoveryWithinBound under pytest (property_tests/hotstuff/recovery.py): the correct replicas
pass it with the loaded Hypothesis profile, and the mutant whose back-off outlives a commit
fails it in a run where the liveness check after the faults passes."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.hotstuff import mutants
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff.free_runs import check_liveness
from meshcheck.property_tests.hotstuff.recovery import (
    STEADY_BOUND,
    check_recovery,
    first_commit,
    recovery_within_bound,
)

BACKOFF = frozenset({mutants.BACKOFF_NOT_RESET_ON_COMMIT})

# A drawn run of 7 replicas, r1 silent, whose crashes and partitions leave the back-off doubled.
STORMY = Schedule(
    seed=3280387012,
    ticks=700,
    duplicate=0.1,
    delay=0.1,
    crash=0.6,
    partition=0.6,
    every=25,
    byzantine={"r1": ("silent",)},
    batch=4,
)

# A drawn run whose partitions leave the mutant's back-off higher at the heal than the correct
# core's: its first commit after the heal comes 577 ticks after it, the correct core's 69.
SPLIT = Schedule(
    seed=3530265750,
    ticks=1000,
    drop=0.05,
    crash=0.1,
    partition=0.6,
    every=50,
    byzantine={"r1": ("silent",)},
    batch=4,
)


def test_commits_resume_at_the_pace_of_the_base_timer() -> None:
    recovery_within_bound(frozenset(), settings())


def test_a_back_off_that_outlives_a_commit_fails_recovery_and_passes_liveness() -> None:
    """The mutant commits again as soon as the correct core after the heal (the liveness check
    passes, and so does the comparison with the unmutated core), then waits out the capped timer
    at every silent leader's view."""
    check_recovery(STORMY, 7, frozenset())
    check_liveness(STORMY, 7, BACKOFF)
    assert first_commit(STORMY, 7, BACKOFF)[1] == first_commit(STORMY, 7, frozenset())[1]
    with pytest.raises(CheckFailed) as failed:
        check_recovery(STORMY, 7, BACKOFF)
    message = failed.value.message
    assert "RecoveryWithinBound: HotStuff's pacemaker went 14 views on" in message
    assert f"300 ticks a view (three base timeouts) ({STEADY_BOUND:,} ticks)" in message


def test_a_first_commit_slower_than_the_unmutated_cores_fails_recovery_and_passes_liveness() -> (
    None
):
    """Where the protocol gives no bound of its own (the first commit after the heal may wait out
    a timer the storm doubled), the unmutated core in the same schedule is the bar."""
    check_liveness(SPLIT, 7, BACKOFF)
    assert first_commit(SPLIT, 7, frozenset())[1] == 69
    with pytest.raises(CheckFailed) as failed:
        check_recovery(SPLIT, 7, BACKOFF)
    message = failed.value.message
    assert (
        "RecoveryWithinBound: HotStuff's correct replicas all committed again 577 ticks after the "
        "heal; the protocol promises no bound of its own here, so the unmutated core's in this "
        "schedule is the bar: 69 ticks, and 3 times that and 200 ticks allowed (407 ticks)"
    ) in message
