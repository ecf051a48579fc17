"""What every protocol's scripted scenarios and recovery properties share: the script's clock and
waits, the check of one run, its Hypothesis check, and its shortest failing run.

A scripted scenario (a leader or client that crashes and restarts, a member that rejoins: docs/
restart-scenarios.md) and a recovery property (property_tests/recovery.py) are each one run of a
protocol's cluster, judged as it goes; what differs between protocols is the cluster, what is
checked along the way, which node is crashed and what it must catch up on. The rest is written
here once:

- `Script`: a scripted run's simulator, its random source (salted with the scenario's name, so
  that two scenarios on one seed draw apart), the first problem found, and the moves every script
  makes: run to a tick (`run_until`), let a few ticks pass (`pause`), wait for a condition within
  a bound (`wait`), each stopping at the first problem the protocol's step-by-step checks find
  (`broken`), under the protocol's storm bound (`STORM`);
- `checked`: the check of one run, unrecorded first and recorded again for its counterexample
  when it broke (`free_runs.unrecorded_first`), the function a harness re-runs a stored run with;
- `Drawn`: the check `meshcheck mutants` runs, Hypothesis drawing the schedules (`scripted`
  ones for a scenario, the protocol's fault schedules for a recovery property) for a share of the
  profile's examples;
- `shortest`: the failing run of a check with the fewest recorded steps among a few small
  schedules, the stored run of a mutant only that check kills.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import ClassVar
from typing import Generic
from typing import Protocol
from typing import TypeVar

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.node import Node
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests import record
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import Storm
from meshcheck.property_tests.free_runs import share

NodeT = TypeVar("NodeT", bound=Node)

# ticks a wait is allowed by default: an election, a view change or a catch-up on a calm network
# of a few nodes takes a few timeouts
LIMIT = 3000

# the check of one run: (schedule, cluster size, mutants), CheckFailed when something broke
RunCheck = Callable[[Schedule, int, frozenset[str]], object]


class Ran(Protocol):
    """What a scripted run leaves: its simulator and the first problem it found (None: it held)."""

    @property
    def sim(self) -> Simulator[Any]: ...

    @property
    def problem(self) -> str | None: ...


class Script(Generic[NodeT]):
    """One scripted run of a protocol's cluster `sim` on `schedule` (see the module's docstring).
    A protocol's script sets `salt` (its scenario's name) and `STORM`, and says what its
    step-by-step checks found (`broken`), and may set its waits' `LIMIT` and say more than the
    bound when a wait runs out (`late`)."""

    salt: ClassVar[str] = ""
    STORM: ClassVar[Storm]
    LIMIT: ClassVar[int] = LIMIT

    def __init__(self, schedule: Schedule, sim: Simulator[NodeT]) -> None:
        self.schedule = schedule
        self.sim = sim
        self.rng = random.Random(f"{schedule.seed}:{self.salt}")
        self.problem: str | None = None

    def failed(self) -> bool:
        return self.problem is not None

    def broken(self) -> str | None:
        """What the protocol's checks along the run found (None: nothing)."""
        return None

    def advance(self, t: int, stop: Callable[[Simulator[Any]], bool]) -> str | None:
        """Run to `t` or `stop`: what cut the run short (the storm bound) or the checks found."""
        return free_runs.run(self.sim, self.schedule, t, self.STORM, stop) or self.broken()

    def run_until(self, t: int, until: Callable[[], bool] | None = None) -> bool:
        """Run to tick `t`, or until `until()` holds, or a problem; False if there is one."""
        if self.problem is None:

            def stop(_: Simulator[Any]) -> bool:
                return self.broken() is not None or (until is not None and until())

            self.problem = self.advance(t, stop)
        return self.problem is None

    def pause(self, lo: int, hi: int) -> bool:
        """Let `lo` to `hi` ticks pass (a step of the script, not a wait for anything)."""
        return self.run_until(self.sim.now + self.rng.randint(lo, hi))

    def wait(self, until: Callable[[], bool], what: str, limit: int | None = None) -> bool:
        """Run until `until()` holds, within `limit` ticks (the script's LIMIT); False, the
        problem noted, if not."""
        limit = self.LIMIT if limit is None else limit
        if self.problem is None and not until():
            self.run_until(self.sim.now + limit, until)
            if self.problem is None and not until():
                self.problem = self.late(what, limit)
        return self.problem is None

    def late(self, what: str, limit: int) -> str:
        """What a wait for `what` that ran out of its `limit` reports."""
        return f"t={self.sim.now}: {what} within {limit} ticks"


def checked(scenario: Callable[[Schedule, int, frozenset[str], bool], Ran]) -> RunCheck:
    """The check of one run of `scenario(schedule, n, bugs, record)`: CheckFailed, with the run
    again recorded for its trace, when it found a problem."""

    def check(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
        def once(record: bool) -> tuple[Simulator[Any], str | None]:
            ran = scenario(schedule, n, bugs, record)
            return ran.sim, ran.problem

        free_runs.unrecorded_first(schedule, once)

    return check


@attrs.frozen
class Drawn:
    """The check `meshcheck mutants PROTOCOL` runs: `check` on `schedules()` drawn by Hypothesis,
    for a `fraction` of the profile's examples (at least `least`), on a cluster of `n` (a
    caller may pass another: `n=`); `name`, the drawn test's, says what holds in each run."""

    name: str
    check: RunCheck
    schedules: Callable[[], st.SearchStrategy[Schedule]]
    fraction: float
    n: int = 0
    least: int = 3

    def __call__(
        self, bugs: frozenset[str], settings: hypothesis.settings, *, n: int | None = None
    ) -> None:
        size = self.n if n is None else n

        def holds(schedule: Schedule) -> None:
            self.check(schedule, size, bugs)

        holds.__name__ = holds.__qualname__ = self.name
        share(settings, self.fraction, self.least)(given(self.schedules())(holds))()


def shortest(
    protocol: str,
    name: str,
    check: RunCheck,
    schedules: Iterable[Schedule],
    mutant: str,
    n: int,
    holds: Callable[[Schedule], bool] | None = None,
) -> tuple[Trace, record.Rerun]:
    """The failing run of `check` (the harness's rerun `name`) with the fewest recorded steps
    among `schedules` (those whose unmutated run `holds`, when given), and its rerun."""
    best: tuple[Trace, record.Rerun] | None = None
    for schedule in schedules:
        try:
            check(schedule, n, frozenset({mutant}))
        except CheckFailed as failed:
            trace = failed.trace
            if trace is None or (best is not None and len(trace.steps) >= len(best[0].steps)):
                continue
            if holds is None or holds(schedule):
                best = (trace, record.Rerun(protocol, name, n, repr(schedule)))
    if best is None:
        raise SystemExit(f"meshcheck: no {name} scenario kills {mutant}")
    return best
