"""RecoveryWithinBound under pytest (property_tests/hotstuff/recovery.py): the correct replicas
pass it with the loaded Hypothesis profile, and the mutant whose back-off outlives a commit
fails it in a run where the liveness check after the faults passes.

No assertion here pins a tick count today's core happens to produce. The steady pace is held to
the protocol's own bound (STEADY_BOUND: the next 14 views at three base timeouts a view, the
pacemaker's back-off at its base again once a commit lands; Yin et al., PODC 2019, section 4.4),
and the first commit after the heal to FIRST_BOUND (three view timers from the back-off the faults
left, counted from the replicas' steps, and message delays); the extra check against the
unmutated core in the same schedule (`differential_bound`) must itself sit below the liveness
check's bound (LIVENESS_BOUND) for the mutant to pass that check and fail this one."""

from __future__ import annotations

from hypothesis import settings

from meshcheck.impl.hotstuff import mutants
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff.free_runs import LIVENESS_BOUND
from meshcheck.property_tests.hotstuff.free_runs import check_liveness
from meshcheck.property_tests.hotstuff.recovery import FACTOR
from meshcheck.property_tests.hotstuff.recovery import FIRST_PROMISE
from meshcheck.property_tests.hotstuff.recovery import PER_VIEW
from meshcheck.property_tests.hotstuff.recovery import SLACK
from meshcheck.property_tests.hotstuff.recovery import STEADY_BOUND
from meshcheck.property_tests.hotstuff.recovery import STEADY_VIEWS
from meshcheck.property_tests.hotstuff.recovery import check_recovery
from meshcheck.property_tests.hotstuff.recovery import first_bound
from meshcheck.property_tests.hotstuff.recovery import first_commit
from meshcheck.property_tests.hotstuff.recovery import recovery_within_bound
from meshcheck.property_tests.recovery import differential_bound
from meshcheck.property_tests.recovery import ticks_in
from meshcheck.property_tests.scenarios import caught

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
# core's: its first commit after the heal comes past FACTOR times the correct core's and SLACK
# (when drawn: 577 ticks after it, the correct core's 69), within the liveness bound.
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
    reference, first = first_commit(STORMY, 7, frozenset())[1], first_commit(STORMY, 7, BACKOFF)[1]
    assert reference is not None and first is not None
    assert first <= differential_bound(reference, FACTOR, SLACK)  # the first commit passes
    message = caught(check_recovery, STORMY, 7, BACKOFF)
    took = ticks_in(
        rf"HotStuff's pacemaker went {STEADY_VIEWS} views on \(every correct replica "
        r"committing\) ([\d,]+) ticks after commits resumed",
        message,
    )
    # a capped timer at the silent leader's views: late for the base pace, yet the views do go on
    # (not a pacemaker that stalls)
    assert took is not None and took > STEADY_BOUND, message
    assert f"{PER_VIEW} ticks a view (three base timeouts) ({STEADY_BOUND:,} ticks)" in message


def test_a_first_commit_slower_than_the_unmutated_cores_fails_recovery_and_passes_liveness() -> (
    None
):
    """Where FIRST_BOUND is loose (the faults left a long back-off, which the first commit after
    the heal may rightly wait out), the extra check against the unmutated core in the same
    schedule narrows it for a mutant."""
    check_liveness(SPLIT, 7, BACKOFF)
    reference = first_commit(SPLIT, 7, frozenset())[1]
    assert reference is not None
    bar = differential_bound(reference, FACTOR, SLACK)
    assert bar < LIVENESS_BOUND  # tighter than the liveness check's, or no run tells them apart
    message = caught(check_recovery, SPLIT, 7, BACKOFF)
    took = ticks_in(
        r"HotStuff's correct replicas all committed again ([\d,]+) ticks after", message
    )
    assert took is not None and bar < took <= LIVENESS_BOUND, message
    assert (
        "ticks after the heal; the protocol promises no later than FIRST_BOUND ("
        f"{first_bound(first_commit(SPLIT, 7, BACKOFF)[3]):,} ticks), and as an extra check the "
        f"unmutated core's in this schedule, {reference:,} ticks, {FACTOR} times that and {SLACK} "
        f"ticks allowed ({bar:,} ticks)"
    ) in message


# A drawn run whose faults leave the mutant's back-off long at the heal although every correct
# replica had committed since its last view timeout (none counted): the pacemaker owes a view timer
# at its base, so FIRST_BOUND is timer(0) + ... + timer(3) and the hops, and the mutant's first
# commit comes past it, within the liveness bound.
STALE = Schedule(
    seed=3048,
    ticks=800,
    delay=0.02,
    crash=0.1,
    partition=0.1,
    every=25,
    byzantine={"r1": ("silent",)},
    batch=4,
)


def test_a_first_commit_past_the_pacemakers_timers_fails_recovery_and_passes_liveness() -> None:
    """The stated bound on the first commit after the heal (FIRST_BOUND, from the view timer and
    the timeouts each correct replica took since its last commit) holds the correct core and
    fails the back-off that outlives a commit, with no comparison with another run."""
    first, bound = check_recovery(STALE, 7, frozenset())
    assert first <= bound
    check_liveness(STALE, 7, BACKOFF)
    _, late, _, at_heal = first_commit(STALE, 7, BACKOFF)
    assert late is not None and first_bound(at_heal) < late <= LIVENESS_BOUND
    message = caught(check_recovery, STALE, 7, BACKOFF)
    took = ticks_in(
        r"RecoveryWithinBound: HotStuff's correct replicas all committed again ([\d,]+) ticks",
        message,
    )
    assert took is not None and took > first_bound(at_heal), message
    assert f"{FIRST_PROMISE} ({first_bound(at_heal):,} ticks)" in message
    assert f"the back-off at the heal: {at_heal} view timeouts since a commit" in message
