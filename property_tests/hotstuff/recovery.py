"""RecoveryWithinBound for HotStuff: the first commit after the heal within the pacemaker's own
timers, and once commits resume, the pacemaker back at its base timer (property_tests/
recovery.py).

What the protocol promises (Yin et al., PODC 2019: the pacemaker's exponential back-off, section
4, for views that fail; the three-chain of consecutive views that commits, section 5; impl/
hotstuff/replica.py: the view timer runs `timeout << min(timeouts since the last commit,
max_backoff)`):

- the first commit after the heal (FIRST_BOUND, written from the parameters and the back-off the
  faults left): with n = 7 round-robin leaders and r1 silent, the correct replicas wait out at
  most FAILED_VIEWS view timers after the heal, each doubled once more than the one before (a
  view ends once f+1 correct replicas time out; the others follow, `_catch_up`). k is the most
  view timeouts any correct replica took since its last commit or restart, counted from its
  steps, not read from its counter. The views in progress at the heal: two when the faults left
  the correct replicas split over adjacent views (each side waits out its own timer, at most
  timer(k), then timer(k + 1)); a run of up to three correct leaders whose views cannot complete
  a three-chain before the silent leader's; the view before the silent one (its votes go to the
  silent leader) and the silent leader's view. Then six correct leaders in a row, four of which
  commit (the proposal of the fourth view carries the QC of a three-chain of consecutive views).
  On top: a NEW-VIEW resend round (`timeout`, `Replica._join`) for a replica that waits for the
  others in its view at the heal, and HOPS one-way delays (LATENCY, the simulator's largest) for
  the NEW-VIEWs that end each failed view, the three wasted views' proposals and votes, the four
  committing views' and a block fetch. From k = 3 on the bound is past the liveness check's
  (LIVENESS_BOUND, two capped views and a delay), which is then the tighter of the two; below,
  it is the tighter (at k = 0, 1,810 ticks against 4,800). Measured over 200 drawn runs
  (property_tests/test_recovery_measured.py): the first commit at most 3,975 ticks after the
  heal (median 629), at most 0.67 of its bound (median 0.18); with
  mutants.BACKOFF_NOT_RESET_ON_COMMIT, past it in runs whose correct replicas had all committed
  since their last timeout (test_recovery.py, STALE: 2,440 ticks against 1,810);
- the pace after the first commit: the back-off is at its base again, so a view whose leader is
  silent costs its timer and the next view's, doubled once before a three-chain commits and sets
  it back (three base timeouts), and a view with a correct leader a few hops: the next
  STEADY_ROUNDS rounds of n views commit within PER_VIEW ticks a view. Measured over 200 drawn
  runs of 7 replicas with r1 silent: 14 views in 1135 to 2653 ticks (median 1182), at most 63%
  of the bound; with the back-off kept past a commit (mutants.BACKOFF_NOT_RESET_ON_COMMIT), 6681
  to 9897 ticks (20 runs).

An extra check, with mutants only: the first commit also within FACTOR times the unmutated core's
in the same schedule and SLACK ticks (`differential_bound`). It no longer sets the bar (a bug in
the core would move it), it only narrows FIRST_BOUND where the faults left a long back-off that
the unmutated core did not need.

The runs: 7 replicas, r1 silent (so that views fail after the heal and the back-off matters), the
liveness check's faults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.hotstuff.replica import VIEW_TIMER
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.impl.hotstuff.simulation import HotStuffPlugin
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.free_runs import CHAOS_EVERY
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import unrecorded_first
from meshcheck.property_tests.hotstuff.free_runs import LIVENESS_BOUND
from meshcheck.property_tests.hotstuff.free_runs import LIVENESS_TICKS
from meshcheck.property_tests.hotstuff.free_runs import MAX_BACKOFF
from meshcheck.property_tests.hotstuff.free_runs import STORM
from meshcheck.property_tests.hotstuff.free_runs import TIMEOUT
from meshcheck.property_tests.hotstuff.free_runs import cluster
from meshcheck.property_tests.hotstuff.free_runs import committed_view
from meshcheck.property_tests.hotstuff.free_runs import honest
from meshcheck.property_tests.recovery import Late
from meshcheck.property_tests.recovery import differential_bound
from meshcheck.property_tests.recovery import looked_on
from meshcheck.property_tests.scenarios import Drawn

PROPERTY = "RecoveryWithinBound"
N = 7
STEADY_ROUNDS = 2  # rounds of N views (each leader, the silent one too, twice)
PER_VIEW = 3 * TIMEOUT
STEADY_VIEWS = STEADY_ROUNDS * N
STEADY_BOUND = STEADY_VIEWS * PER_VIEW
STEADY_PROMISE = f"the next {STEADY_VIEWS} views at the base timer, {PER_VIEW} ticks a view (three base timeouts)"
# The first commit after the heal: FAILED_VIEWS view timers from the back-off at the heal, a
# NEW-VIEW resend round, and one-way delays: the NEW-VIEWs ending the failed views (4), the three
# wasted views' proposal and vote each (6), the first committing view's NEW-VIEWs and proposal
# (2), three more views' vote and proposal (6), a block fetch's request and answer (2), and one
# to spare: 21.
FAILED_VIEWS = 4
LATENCY = 10  # the largest one-way delay once the faults end (hotstuff_cluster: 1..10 ticks)
HOPS = 21
FIRST_PROMISE = (
    f"{FAILED_VIEWS} view timers from the back-off at the heal (two views in progress, the one "
    f"before the silent leader's, the silent leader's), a NEW-VIEW resend and {HOPS} message "
    "delays"
)
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


def timer(backoff: int) -> int:
    """The view timer after `backoff` view timeouts since the last commit (section 4's
    exponential back-off, capped at MAX_BACKOFF doublings)."""
    return TIMEOUT << min(backoff, MAX_BACKOFF)


def first_bound(backoff: int) -> int:
    """FIRST_BOUND: ticks from the heal to every correct replica's commit of a block above the
    views of the heal, when the most view timeouts any correct replica took since its last
    commit or restart was `backoff` at the heal (the module's docstring derives it)."""
    timers = sum(timer(backoff + j) for j in range(FAILED_VIEWS))
    return timers + TIMEOUT + HOPS * LATENCY


class BackOff:
    """Each correct replica's view timeouts since its last commit or restart: the exponent the
    protocol allows its view timer. Counted from its steps (a Timeout action on its view timer's
    tick; a commit of a higher view, or a restart, sets it back to 0), not read from the core's
    own counter, so that a core that keeps its back-off too long cannot raise its own bar."""

    def __init__(self, sim: Simulator[Any]) -> None:
        plugin: HotStuffPlugin = sim.plugin  # type: ignore[assignment]
        self.honest = plugin.honest
        self.timeouts: dict[str, int] = {}
        self.committed: dict[str, int] = {}
        plugin.observers.append(self.observe)

    def observe(self, r: Replica, event: Any, effects: list[Effect]) -> None:
        if r.id not in self.honest:
            return
        if isinstance(event, Restart):
            self.timeouts[r.id] = 0
        top = max((r.block_view(h) for h in r.commits), default=0)
        if top > self.committed.get(r.id, 0):
            self.committed[r.id] = top
            self.timeouts[r.id] = 0
        if (
            isinstance(event, Tick)
            and event.timer == VIEW_TIMER
            and any(isinstance(e, Action) and e.name == "Timeout" for e in effects)
        ):
            self.timeouts[r.id] = self.timeouts.get(r.id, 0) + 1

    def most(self) -> int:
        return max(self.timeouts.values(), default=0)


def _all_past(view: int) -> Callable[[Simulator[Any]], bool]:
    return lambda s: all(committed_view(s, r) > view for r in honest(s))


def _top_view(sim: Simulator[Any]) -> int:
    plugin: HotStuffPlugin = sim.plugin  # type: ignore[assignment]
    return max(plugin.replica(r).view for r in honest(sim))


def first_commit(
    schedule: Schedule, n: int, bugs: frozenset[str], *, record: bool = False
) -> tuple[Simulator[Any], int | None, str | None, int]:
    """A run to its first commit after the heal: (the simulator, ticks from the heal to every
    correct replica's commit of a block above the views of the heal, or None past
    LIVENESS_BOUND, what went wrong otherwise, the back-off at the heal: `BackOff.most`)."""
    sim = cluster(schedule, n, bugs, heal=True, record=record)
    backoff = BackOff(sim)
    healed = schedule.ticks + CHAOS_EVERY
    problem = free_runs.run(sim, schedule, healed, STORM) or free_runs.not_calm(sim)
    at_heal = backoff.most()
    if problem is not None:
        return sim, None, problem, at_heal
    done = _all_past(_top_view(sim))
    problem = free_runs.run(sim, schedule, healed + LIVENESS_BOUND, STORM, done)
    return sim, (sim.now - healed if done(sim) else None), problem, at_heal


def check_recovery(schedule: Schedule, n: int, bugs: frozenset[str]) -> tuple[int, int]:
    """One run: the first commit after the heal within FIRST_BOUND (and, with mutants, against
    the unmutated core's), then the next STEADY_VIEWS views within STEADY_BOUND; CheckFailed if
    not. Returns (the first commit's ticks after the heal, its FIRST_BOUND)."""
    reference: dict[str, int | None] = {}
    measured: list[tuple[int, int]] = []

    def once(record: bool) -> tuple[Simulator[Any], str | None]:
        sim, first, problem, at_heal = first_commit(schedule, n, bugs, record=record)
        bound = first_bound(at_heal)
        if problem is not None:
            return sim, problem
        if first is None or first > bound:
            return sim, Late(
                PROPERTY,
                "HotStuff's correct replicas all committed again",
                first,
                FIRST_PROMISE,
                bound,
                looked=LIVENESS_BOUND,
                detail=f"the back-off at the heal: {at_heal} view timeouts since a commit",
            ).message()
        measured.append((first, bound))
        if bugs:
            if "first" not in reference:
                reference["first"] = first_commit(schedule, n, frozenset())[1]
            ref = reference["first"]
            if ref is not None and first > differential_bound(ref, FACTOR, SLACK):
                return sim, Late(
                    PROPERTY,
                    "HotStuff's correct replicas all committed again",
                    first,
                    f"no later than FIRST_BOUND ({bound:,} ticks), and as an extra check the "
                    f"unmutated core's in this schedule, {ref:,} ticks, {FACTOR} times that and "
                    f"{SLACK} ticks allowed",
                    differential_bound(ref, FACTOR, SLACK),
                ).message()
        resumed = sim.now
        done = _all_past(_top_view(sim) + STEADY_VIEWS)
        problem = free_runs.run(sim, schedule, resumed + STEADY_BOUND, STORM, done)
        if problem is not None or done(sim):
            return sim, problem
        took = looked_on(sim, schedule, STORM, done, resumed, resumed + STEADY_BOUND + LOOK)
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
    return measured[-1]


# Hypothesis: after the faults, 7 replicas (r1 silent) commit again as soon as the unmutated core
# does, and then at the pace of the base timer.
recovery_within_bound = Drawn("recovers", check_recovery, schedules, SHARE, N)
