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
- `Scripted`: a scenario described by its run and its knobs; its `check` of one run is unrecorded
  first and recorded again for its counterexample when it broke (`free_runs.unrecorded_first`),
  the function a harness re-runs a stored run with;
- `Drawn`: the check `meshcheck mutants` runs, Hypothesis drawing the schedules (`scripted`
  ones for a scenario, the protocol's fault schedules for a recovery property) for a share of the
  profile's examples;
- `shortest`: the failing run of a check with the fewest recorded steps among a few small
  schedules, the stored run of a mutant only that check kills;
- `Restarting`: the restart scenario of any protocol, a plug-in's too, from its description alone
  (its calm cluster, storm bound and verdict; which node to restart and what it must catch up
  on, when the defaults do not fit): the cluster applies something, the node crashes, stays down
  a while, restarts and catches up, `cycles` times; a node that does not catch up within the
  bound breaks RestartCatchUp (meshcheck/violated.py), and a failing schedule is reported as
  drawn, not shrunk (`Drawn.shrink`), so a buggy library gets its verdict in a bounded number of
  bounded runs;
- for the tests: `held` (a scenario's unmutated runs, each asserted to hold), `crashes` (the nodes
  a run crashed) and `caught` (a mutant's failure, with its recorded counterexample).

The recovery properties' own bounds, written from each protocol's timers, stay with the protocol
(property_tests/recovery.py says why); what a late recovery reports is shared there (`Late`,
`looked_on`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
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
from meshcheck.violated import CLUSTER_PROGRESS
from meshcheck.violated import RESTART_CATCH_UP
from meshcheck.violated import RESTART_TARGET

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
    STORM: Storm
    LIMIT: int = LIMIT

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

    def wait(
        self, until: Callable[[], bool], what: str, limit: int | None = None, *, bound: str
    ) -> bool:
        """Run until `until()` holds, within `limit` ticks (the script's LIMIT); False, the
        problem noted, if not, led by the name of the `bound` it breaks (one of
        meshcheck/violated.py's WAIT_BOUNDS: "t=4066: LeaderElected: no leader within ...")."""
        limit = self.LIMIT if limit is None else limit
        if self.problem is None and not until():
            self.run_until(self.sim.now + limit, until)
            if self.problem is None and not until():
                self.problem = self.late(f"{bound}: {what}", limit)
        return self.problem is None

    def late(self, what: str, limit: int) -> str:
        """What a wait for `what` that ran out of its `limit` reports."""
        return f"t={self.sim.now}: {what} within {limit} ticks"


def fixed(
    scenario: Callable[[Schedule, frozenset[str], bool], Ran],
) -> Callable[[Schedule, int, frozenset[str], bool], Ran]:
    """A scenario of a fixed size, `scenario(schedule, bugs, record)`, as `Scripted` runs one."""
    return lambda schedule, n, bugs, record: scenario(schedule, bugs, record)


@attrs.frozen
class Scripted:
    """A protocol's scripted scenario, described: `run(schedule, n, bugs, record)` runs it
    (`fixed`: one of a fixed size), on schedules of a seed and its `knobs`, drawn in the order
    given (`free_runs.scripted`); `name`, `fraction` and `n` are its Hypothesis check's (`Drawn`)."""

    name: str
    run: Callable[[Schedule, int, frozenset[str], bool], Ran]
    knobs: Mapping[str, st.SearchStrategy[Any]]
    fraction: float
    n: int = 0
    shrink: bool = True  # whether Hypothesis shrinks a failing schedule (`Drawn.shrink`)

    def check(self, schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
        """One run, unrecorded first; CheckFailed, with the run again recorded for its trace,
        when it found a problem (a harness's rerun of a stored run)."""

        def once(record: bool) -> tuple[Simulator[Any], str | None]:
            ran = self.run(schedule, n, bugs, record)
            return ran.sim, ran.problem

        free_runs.unrecorded_first(schedule, once)

    def schedules(self) -> st.SearchStrategy[Schedule]:
        return free_runs.scripted(**self.knobs)

    def drawn(
        self, bugs: frozenset[str], settings: hypothesis.settings, *, n: int | None = None
    ) -> None:
        """The check `meshcheck mutants` runs: Hypothesis draws the seed and the knobs."""
        drawn = Drawn(self.name, self.check, self.schedules, self.fraction, self.n)
        attrs.evolve(drawn, shrink=self.shrink)(bugs, settings, n=n)


@attrs.frozen
class Drawn:
    """The check `meshcheck mutants PROTOCOL` runs: `check` on `schedules()` drawn by Hypothesis,
    for a `fraction` of the profile's examples (at least `least`), on a cluster of `n` (a
    caller may pass another: `n=`); `name`, the drawn test's, says what holds in each run.
    `shrink=False` reports the first failing schedule as drawn: a check whose schedule is a seed
    and a knob or two gains no shorter run by Hypothesis trying smaller seeds, each a whole run
    (the stored run of a mutant it kills is `shortest`'s), so its verdict comes after at most
    the profile's share of runs and the failing one's replay."""

    name: str
    check: RunCheck
    schedules: Callable[[], st.SearchStrategy[Schedule]]
    fraction: float
    n: int = 0
    least: int = 3
    shrink: bool = True

    def __call__(
        self, bugs: frozenset[str], settings: hypothesis.settings, *, n: int | None = None
    ) -> None:
        size = self.n if n is None else n

        def holds(schedule: Schedule) -> None:
            self.check(schedule, size, bugs)

        holds.__name__ = holds.__qualname__ = self.name
        chosen = share(settings, self.fraction, self.least)
        if not self.shrink:
            phases = [p for p in chosen.phases if p is not hypothesis.Phase.shrink]
            chosen = hypothesis.settings(chosen, phases=phases)
        chosen(given(self.schedules())(holds))()


def shortest(
    protocol: str,
    name: str,
    check: RunCheck,
    schedules: Iterable[Schedule],
    mutant: str,
    n: int,
    holds: Callable[[Schedule], bool] | None = None,
    among: str = "",
) -> tuple[Trace, record.Rerun]:
    """The failing run of `check` (the harness's rerun `name`) with the fewest recorded steps
    among `schedules` (those whose unmutated run `holds`, when given), and its rerun; `among`
    names the schedules when none fails (default: the `name` scenario)."""
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
        raise SystemExit(f"meshcheck: no {among or f'{name} scenario'} kills {mutant}")
    return best


# -- the restart scenario every protocol gets ------------------------------------------------------


def any_node(sim: Simulator[Any], rng: random.Random) -> str:
    """A node drawn from the seed: the default victim of `Restarting`."""
    return rng.choice(list(sim.node_ids))


def applied(sim: Simulator[Any], node: str) -> int:
    """The highest log index `node` has applied (0: none)."""
    return max(sim.applied_by_index[node], default=0)


def applied_as_far(sim: Simulator[Any], node: str, mark: int) -> bool:
    """Whether `node` applied as far as `mark` (the highest index any node had applied when it
    came back), and the others went past it: the default catch-up of `Restarting`."""
    others = [i for i in sim.node_ids if i != node and sim.up[i]]
    return applied(sim, node) >= mark and any(applied(sim, i) > mark for i in others)


@attrs.frozen
class Restarting:
    """The restart scenario of any protocol that describes itself: its calm cluster, whose client
    writes on (`build(schedule, n, bugs, record)`) under its storm bound, and what is its own:
    `victim(sim, rng)`, the node to restart (None: none yet, wait for one: a leader not elected),
    `caught_up(sim, node, mark)`, what the restarted node must catch up on (`mark`: the highest
    index any node had applied when it came back), `verdict(sim)`, its properties at the end, and
    `broken(sim)`, its checks after every step. Each of the schedule's `cycles`: the cluster
    applies something, the victim crashes, stays down `down` ticks, restarts, and catches up,
    each wait within `limit` ticks."""

    build: Callable[[Schedule, int, frozenset[str], bool], Simulator[Any]]
    storm: Storm
    verdict: Callable[[Simulator[Any]], str | None]
    victim: Callable[[Simulator[Any], random.Random], str | None] = any_node
    caught_up: Callable[[Simulator[Any], str, int], bool] = applied_as_far
    broken: Callable[[Simulator[Any]], str | None] = lambda sim: None
    down: tuple[int, int] = (100, 600)
    limit: int = LIMIT

    def scenario(
        self, schedule: Schedule, n: int, bugs: frozenset[str], record: bool
    ) -> Script[Any]:
        """One run; its `problem` is the first thing found broken (None: it held)."""
        s = _Restarted(self, schedule, self.build(schedule, n, bugs, record))
        for _ in range(schedule.knob("cycles", 1)):
            if not self.cycle(s):
                return s
        s.problem = self.verdict(s.sim)
        return s

    def cycle(self, s: Script[Any]) -> bool:
        sim = s.sim
        before = max(applied(sim, i) for i in sim.node_ids)
        if not s.wait(
            lambda: max(applied(sim, i) for i in sim.node_ids) > before,
            "the cluster applied nothing new",
            bound=CLUSTER_PROGRESS,
        ):
            return False
        chosen: list[str] = []  # the victim, once there is one

        def found() -> bool:
            victim = self.victim(sim, s.rng)
            chosen[:] = [victim] if victim is not None else []
            return bool(chosen)

        if not s.wait(found, "no node to restart", bound=RESTART_TARGET):
            return False
        (victim,) = chosen
        sim.crash(victim)
        if not s.pause(*self.down):
            return False
        mark = max(applied(sim, i) for i in sim.node_ids)
        sim.recover(victim)
        return s.wait(
            lambda: self.caught_up(sim, victim, mark),
            f"{victim} did not catch up (index {mark}) after its restart",
            bound=RESTART_CATCH_UP,
        )

    def scripted(self, name: str, fraction: float, n: int) -> Scripted:
        """The scenario as its checks run it: the seed drawn, one cycle or three; a failing
        schedule not shrunk (`Drawn.shrink`: a buggy library's verdict, RestartCatchUp or
        another, comes after a bounded number of runs, each bounded by its waits' `limit`
        and the storm bound)."""
        knobs = {"cycles": st.sampled_from((1, 3))}
        return Scripted(name, self.scenario, knobs, fraction, n, shrink=False)


class _Restarted(Script[Any]):
    salt = "restart"

    def __init__(self, spec: Restarting, schedule: Schedule, sim: Simulator[Any]) -> None:
        super().__init__(schedule, sim)
        self.spec = spec
        self.STORM = spec.storm
        self.LIMIT = spec.limit

    def broken(self) -> str | None:
        return self.spec.broken(self.sim)


def held(scripted: Scripted, n: int, schedules: Iterable[Schedule]) -> Iterator[Any]:
    """Each run of `scripted` on `schedules`, unmutated and unrecorded, asserted to have held (a
    test then asserts that the scenario did what it says)."""
    for schedule in schedules:
        ran = scripted.run(schedule, n, frozenset(), False)
        assert ran.problem is None, f"{schedule!r}: {ran.problem}"
        yield ran


def crashes(sim: Simulator[Any]) -> list[str]:
    """The nodes a run crashed, one per crash, in order (from its fault log)."""
    return [f.split()[-1] for f in sim.fault_log if "crash" in f]


def recorded_failure(
    check: RunCheck, schedule: Schedule, n: int, bugs: frozenset[str]
) -> CheckFailed:
    """The failure `check` raises on `schedule` with `bugs` on, its run recorded (a test's
    "the mutant fails it, with a counterexample"): AssertionError if the run held or its failure
    has no recorded steps."""
    try:
        check(schedule, n, bugs)
    except CheckFailed as failed:
        assert failed.trace is not None and failed.steps > 0, failed.message
        return failed
    raise AssertionError(f"{schedule!r} with {sorted(bugs)}: the check held")


def caught(check: RunCheck, schedule: Schedule, n: int, bugs: frozenset[str]) -> str:
    """What `check` reports on `schedule` with `bugs` on (a test's "the mutant fails it"): the
    message of its failure, which begins with the problem its recorded run found, then where,
    then the schedule; AssertionError if the run held or its failure has no recorded steps."""
    return recorded_failure(check, schedule, n, bugs).message
