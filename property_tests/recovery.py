"""Recovery within the bound the protocol promises, for every protocol's free runs.

The liveness checks after healing (property_tests/<protocol>/free_runs.py) ask that progress
comes back within a loose bound: seconds of simulated time, set far above what a correct core
takes so that no correct run ever fails it. A core that recovers 10 or 25 times later than the
protocol allows passes them: a replica that fell behind and waits for a view change instead of
fetching the state (a checkpoint and its state transfer), a pacemaker whose back-off outlives the
heal, a leader that ships a follower's backlog an entry a round trip. Each protocol's
recovery property holds each recovery to what the protocol promises, written in the core's own
timing:

- PBFT, CatchUpByStateTransfer (property_tests/pbft/recovery.py): a replica behind the group's
  stable checkpoint when the faults end reaches it within a few status rounds, by the state
  transfer of a checkpoint its peers send back, without waiting for a view change;
- HotStuff, RecoveryWithinBound (property_tests/hotstuff/recovery.py): the first commit after
  the heal within three view timers from the back-off the faults left (the view in progress, the
  one before the silent leader's, the silent leader's: each doubled once more, counted from the
  replicas' steps) and message delays; once commits resume, the pacemaker is back at its base
  timer, so the next views commit at that pace. With mutants, an extra check narrows the first
  commit's bound to the unmutated core's in the same schedule (`differential_bound`): never the
  bar itself, since a bug in the core would move it;
- Raft, RecoveryWithinBound (property_tests/raft/recovery.py): a leader within two election
  rounds of the heal, and every node caught up within two heartbeats and a few round trips of
  the election of the leader it converges under.

A failure names the property first, then the numbers: what recovered, when, and what was
promised (`Late.message`); a run past its bound goes on a while to say when it recovered
(`looked_on`). Each property's Hypothesis check is a `Drawn` (property_tests/scenarios.py), as the
scripted scenarios' are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import attrs
import hypothesis
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import Storm

T = TypeVar("T")
S = TypeVar("S")

# How many drawn runs of the unmutated core the measurement of each recovery property's false
# alarms takes (the slow tests of property_tests/<protocol>/test_recovery.py): none may fail.
MEASURED_RUNS = 200


@attrs.frozen
class Late:
    """A recovery that took longer than promised: `prop` (the property's name), `what` recovered
    `took` ticks after `since` (None: not by the end of the run, `looked` ticks after it), with
    `detail` on the state it started from, against the `promise` of `bound` ticks; `how` says
    what brought it at last (or what did not come)."""

    prop: str
    what: str
    took: int | None
    promise: str
    bound: int
    looked: int = 0
    since: str = "the heal"
    detail: str = ""
    how: str = ""

    def message(self) -> str:
        when = (
            f"{self.took:,} ticks after {self.since}"
            if self.took is not None
            else f"not within {self.looked:,} ticks of {self.since}"
        )
        detail = f" ({self.detail})" if self.detail else ""
        tail = f"; {self.how}" if self.how else ""
        return (
            f"{self.prop}: {self.what} {when}{detail}; the protocol promises {self.promise} "
            f"({self.bound:,} ticks){tail}"
        )


def within(took: int | None, bound: int) -> bool:
    """Whether a recovery that took `took` ticks (None: never) kept to `bound`."""
    return took is not None and took <= bound


def looked_on(
    sim: Simulator[Any],
    schedule: Schedule,
    storm: Storm,
    done: Callable[[Simulator[Any]], bool],
    since: int,
    until: int,
) -> int | None:
    """A late recovery's run on to tick `until` (past its bound, to say when it recovered), stopped
    once `done`: the ticks from `since` to then, None if not by `until`."""
    free_runs.run(sim, schedule, until, storm, done)
    return sim.now - since if done(sim) else None


def differential_bound(reference: int, factor: int, slack: int) -> int:
    """The bound a mutated core's recovery is held to where the protocol states none: `factor`
    times the unmutated core's recovery in the same schedule (the same seed, the same faults),
    plus `slack` ticks for the runs' own divergence (a mutant changes the messages, so the
    seeded draws after it differ)."""
    return factor * reference + slack


def measure(strategy: st.SearchStrategy[S], check: Callable[[S], T], runs: int) -> list[T]:
    """`check` over `runs` drawn schedules of `strategy`, the unmutated core's false-alarm
    measurement: every run must pass (a failure raises, unshrunk, with its run's CheckFailed);
    returns what each run measured. Derandomized, so that a run of the slow tests draws what the
    last one drew (Hypothesis also draws constants from the modules loaded, so a process that
    loaded others may draw a few runs differently)."""
    measured: list[T] = []

    @hypothesis.settings(
        max_examples=runs,
        database=None,
        deadline=None,
        derandomize=True,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def each(schedule: S) -> None:
        measured.append(check(schedule))

    each()
    return measured


def ticks_in(pattern: str, message: str) -> int | None:
    """The tick count `pattern`'s first group finds in a `Late.message` (written with thousands
    separators), None if it is not there (a run that never recovered reads "not within"). The
    properties' tests hold what they find between the protocol's bound and the liveness target
    rather than pinning the count a seeded run of today's core happens to give."""
    found = re.search(pattern, message)
    return int(found.group(1).replace(",", "")) if found is not None else None
