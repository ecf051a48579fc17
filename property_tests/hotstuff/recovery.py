"""RecoveryWithinBound for HotStuff: once commits resume after the heal, the pacemaker is back at
its base timer, and the first commit comes as soon as the unmutated core's in the same schedule
(property_tests/recovery.py).

What the protocol promises (Yin et al., PODC 2019, section 4: the pacemaker's exponential
back-off, for views that fail; impl/hotstuff/replica.py: the back-off holds until a commit):

- the pace after the first commit: the back-off is at its base again, so a view whose leader is
  silent costs its timer and the next view's, doubled once before a three-chain commits and sets
  it back (three base timeouts), and a view with a correct leader a few hops: the next
  STEADY_ROUNDS rounds of n views commit within PER_VIEW ticks a view. Measured over 200 drawn
  runs of 7 replicas with r1 silent: 14 views in 1135 to 2653 ticks (median 1182), at most 63%
  of the bound; with the back-off kept past a commit (mutants.BACKOFF_NOT_RESET_ON_COMMIT), 6681
  to 9897 ticks (20 runs);
- the first commit after the heal: the view in progress when the faults end may rightly wait out
  a timer the storm doubled up to its cap, so the protocol gives no bound of its own tighter than
  the liveness check's (LIVENESS_BOUND, property_tests/hotstuff/free_runs.py). A core run with
  mutants is held to the unmutated core in the same schedule instead: at most FACTOR times its
  first commit and SLACK ticks (`differential_bound`).

The runs: 7 replicas, r1 silent (so that views fail after the heal and the back-off matters), the
liveness check's faults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.hotstuff.simulation import HotStuffPlugin
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.free_runs import CHAOS_EVERY, Schedule, share, unrecorded_first
from meshcheck.property_tests.hotstuff.free_runs import (
    LIVENESS_BOUND,
    LIVENESS_TICKS,
    STORM,
    TIMEOUT,
    cluster,
    committed_view,
    honest,
)
from meshcheck.property_tests.recovery import Late, differential_bound

PROPERTY = "RecoveryWithinBound"
N = 7
STEADY_ROUNDS = 2  # rounds of N views (each leader, the silent one too, twice)
PER_VIEW = 3 * TIMEOUT
STEADY_VIEWS = STEADY_ROUNDS * N
STEADY_BOUND = STEADY_VIEWS * PER_VIEW
STEADY_PROMISE = f"the next {STEADY_VIEWS} views at the base timer, {PER_VIEW} ticks a view (three base timeouts)"
FACTOR = 3
SLACK = 2 * TIMEOUT
LOOK = 4 * STEADY_BOUND  # how long past its bound a late run goes on, to say when it recovered
# the profile's examples (ci: 3; dev: 10): a run of 7 replicas takes 0.3 to 1.5 s
SHARE = 1 / 20


def schedules() -> st.SearchStrategy[Schedule]:
    """The liveness check's schedules of 7 replicas, r1 silent."""
    return free_runs.fault_schedules(
        *LIVENESS_TICKS,
        one_way=None,
        every=(25, 50),
        byzantine=st.just({"r1": ("silent",)}),
        batch=st.just(4),
    )


def _all_past(view: int) -> Callable[[Simulator[Any]], bool]:
    return lambda s: all(committed_view(s, r) > view for r in honest(s))


def _top_view(sim: Simulator[Any]) -> int:
    plugin: HotStuffPlugin = sim.plugin  # type: ignore[assignment]
    return max(plugin.replica(r).view for r in honest(sim))


def first_commit(
    schedule: Schedule, n: int, bugs: frozenset[str], *, record: bool = False
) -> tuple[Simulator[Any], int | None, str | None]:
    """A run to its first commit after the heal: (the simulator, ticks from the heal to every
    correct replica's commit of a block above the views of the heal, or None past
    LIVENESS_BOUND, what went wrong otherwise)."""
    sim = cluster(schedule, n, bugs, heal=True, record=record)
    healed = schedule.ticks + CHAOS_EVERY
    problem = free_runs.run(sim, schedule, healed, STORM) or free_runs.not_calm(sim)
    if problem is not None:
        return sim, None, problem
    done = _all_past(_top_view(sim))
    problem = free_runs.run(sim, schedule, healed + LIVENESS_BOUND, STORM, done)
    return sim, (sim.now - healed if done(sim) else None), problem


def check_recovery(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
    """One run: the first commit after the heal (against the unmutated core's, with mutants),
    then the next STEADY_VIEWS views within STEADY_BOUND; CheckFailed if not."""
    reference: dict[str, int | None] = {}

    def once(record: bool) -> tuple[Simulator[Any], str | None]:
        sim, first, problem = first_commit(schedule, n, bugs, record=record)
        if problem is not None:
            return sim, problem
        if first is None:
            return sim, (
                f"{PROPERTY}: no commit of every correct replica within {LIVENESS_BOUND:,} ticks "
                "of the heal (the liveness bound)"
            )
        if bugs:
            if "first" not in reference:
                reference["first"] = first_commit(schedule, n, frozenset())[1]
            ref = reference["first"]
            if ref is not None and first > differential_bound(ref, FACTOR, SLACK):
                return sim, Late(
                    PROPERTY,
                    "HotStuff's correct replicas all committed again",
                    first,
                    "no bound of its own here, so the unmutated core's in this schedule is the "
                    f"bar: {ref:,} ticks, and {FACTOR} times that and {SLACK} ticks allowed",
                    differential_bound(ref, FACTOR, SLACK),
                ).message()
        resumed = sim.now
        done = _all_past(_top_view(sim) + STEADY_VIEWS)
        problem = free_runs.run(sim, schedule, resumed + STEADY_BOUND, STORM, done)
        if problem is not None or done(sim):
            return sim, problem
        free_runs.run(sim, schedule, resumed + STEADY_BOUND + LOOK, STORM, done)
        took = sim.now - resumed if done(sim) else None
        return sim, Late(
            PROPERTY,
            f"HotStuff's pacemaker went {STEADY_VIEWS} views on (every correct replica committing)",
            took,
            STEADY_PROMISE,
            STEADY_BOUND,
            looked=STEADY_BOUND + LOOK,
            since="commits resumed",
            detail=f"they resumed {resumed - schedule.ticks - CHAOS_EVERY:,} ticks after the heal",
        ).message()

    unrecorded_first(schedule, once)


def recovery_within_bound(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: after the faults, 7 replicas (r1 silent) commit again as soon as the unmutated
    core does, and then at the pace of the base timer."""

    @share(settings, SHARE)
    @given(schedules())
    def recovers(schedule: Schedule) -> None:
        check_recovery(schedule, N, bugs)

    recovers()
