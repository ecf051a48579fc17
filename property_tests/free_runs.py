"""What every protocol's free runs share: the `Schedule` of a run, the storm bound, the failure.

A free run lets the simulator's seeded fault injector (impl/sim) drop, duplicate and delay messages,
crash and restart nodes and cut the network while a client sends requests; Hypothesis draws the
run's `Schedule` and shrinks a failing one. The protocol's free_runs.py says which knobs its runs
have besides the faults (Raft's snapshot interval and election timeouts, PBFT's Byzantine replicas
and checkpoint interval, the hybrid layer's Byzantine behaviours and when they start and stop), how
a schedule becomes a cluster, and what must hold.

One storm rule for every protocol (`run`): a mutant can set off a storm (messages in flight that
grow without end, or events that never let the clock move), so a run stops once it has more
messages in flight, or has taken more node events, than a correct cluster ever does (the protocol's
`Storm`, measured), and that is a failure too, reported after the property's own verdict, by the
bound's name: "Storm: 57 messages in flight ..." (meshcheck/violated.py `STORM`), wherever the run
was (a free run, a scripted scenario, a plug-in's run).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

import attrs
import hypothesis
from hypothesis import strategies as st

from meshcheck import coverage
from meshcheck import exercise
from meshcheck.exercise import Exercise
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Phases
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.violated import STORM
from meshcheck.violated import Violated

CHAOS_EVERY = 100  # ticks between chaos rounds (Faults' default): fault phases end on a round

T = TypeVar("T")


@attrs.frozen(init=False, repr=False)
class Schedule:
    """One free run: the simulator's seed, how long faults run and how often each strikes, and the
    protocol's own knobs (`knobs`: client load, node options, Byzantine behaviour). Its repr is the
    Python that rebuilds it, with the knobs as keyword arguments
    (`Schedule(seed=7, ticks=700, drop=0.2, ..., every=50, checkpoint_every=5)`): a failing run's
    `#meta.rerun` keeps it (property_tests/record.py)."""

    seed: int
    ticks: int  # how long faults (and the client) run; a multiple of CHAOS_EVERY
    drop: float = 0.0  # per message
    duplicate: float = 0.0
    delay: float = 0.0
    crash: float = 0.0  # per chaos round
    partition: float = 0.0
    knobs: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    def __init__(
        self,
        seed: int,
        ticks: int,
        drop: float = 0.0,
        duplicate: float = 0.0,
        delay: float = 0.0,
        crash: float = 0.0,
        partition: float = 0.0,
        **knobs: Any,
    ) -> None:
        self.__attrs_init__(seed, ticks, drop, duplicate, delay, crash, partition, dict(knobs))

    def knob(self, name: str, default: T) -> T:
        """The protocol's knob `name`, or its default when the schedule does not set it."""
        value: T = self.knobs.get(name, default)
        return value

    def with_knobs(self, **knobs: Any) -> Schedule:
        """This schedule with some knobs set (the faults and the seed as they are)."""
        fields = attrs.asdict(self, recurse=False, filter=lambda a, _: a.name != "knobs")
        return Schedule(**fields, **{**self.knobs, **knobs})

    def __repr__(self) -> str:
        fields = attrs.asdict(self, recurse=False, filter=lambda a, _: a.name != "knobs")
        shown = [f"{k}={v!r}" for k, v in (*fields.items(), *self.knobs.items())]
        return f"Schedule({', '.join(shown)})"


def ticks(min_ticks: int, max_ticks: int) -> st.SearchStrategy[int]:
    """How long faults run: whole chaos rounds between min_ticks and max_ticks (shrinks short)."""
    rounds = st.integers(min_ticks // CHAOS_EVERY, max_ticks // CHAOS_EVERY)
    return rounds.map(lambda n: n * CHAOS_EVERY)


# The fault rates a free run draws from, each list starting with no fault (Hypothesis shrinks
# towards the first value): per message (drop, duplicate, delay) and per chaos round (crash,
# partition). The scenarios that start from a prefix take the gentler part, without the last value.
RATES = (0.0, 0.02, 0.05, 0.1, 0.2)
CHAOS = (0.0, 0.1, 0.3, 0.6)


def fault_schedules(
    min_ticks: int,
    max_ticks: int,
    *,
    rates: tuple[float, ...] = RATES,
    chaos: tuple[float, ...] = CHAOS,
    one_way: tuple[float, ...] | None = None,
    every: tuple[int, ...],
    **knobs: st.SearchStrategy[Any],
) -> st.SearchStrategy[Schedule]:
    """Schedules whose faults run for whole chaos rounds between min_ticks and max_ticks: a seed,
    drop, duplicate and delay drawn from `rates`, crash and partition from `chaos`, the share of
    one-way partitions from `one_way` (when the protocol's faults have them), the ticks between
    client requests from `every`, then the protocol's own `knobs`, in the order given. Every
    choice shrinks towards the first value listed (the order of the draws is the order here: a
    derandomized profile draws the same schedules as long as it stays so)."""
    rate = st.sampled_from(rates)
    rounds = st.sampled_from(chaos)
    faults: dict[str, st.SearchStrategy[Any]] = {
        "drop": rate,
        "duplicate": rate,
        "delay": rate,
        "crash": rounds,
        "partition": rounds,
    }
    if one_way is not None:
        faults["one_way"] = st.sampled_from(one_way)
    return st.builds(
        Schedule,
        seed=st.integers(0, 2**32 - 1),
        ticks=ticks(min_ticks, max_ticks),
        **faults,
        every=st.sampled_from(every),
        **knobs,
    )


def network_faults(
    ticks: Sequence[int], *, crash: bool = True
) -> dict[str, st.SearchStrategy[Any]]:
    """The faults of the hybrid and routing free runs' schedules, as keyword strategies for
    `st.builds(Schedule, ...)` in the order drawn: a seed, how long faults run (one of `ticks`),
    loss, duplication, crashes (unless `crash` is False) and partitions, each list starting with
    none (Hypothesis shrinks there). The protocol's own knobs follow them."""
    faults: dict[str, st.SearchStrategy[Any]] = {
        "seed": st.integers(0, 2**16),
        "ticks": st.sampled_from(list(ticks)),
        "drop": st.sampled_from([0.0, 0.02, 0.05]),
        "duplicate": st.sampled_from([0.0, 0.02]),
        "crash": st.sampled_from([0.0, 0.1]),
        "partition": st.sampled_from([0.0, 0.05]),
    }
    if not crash:
        del faults["crash"]
    return faults


# The group sizes the BFT free runs draw from (PBFT, HotStuff): 4 to 10, the sizes that are not
# 3f + 1 first, so that Hypothesis shrinks towards 5. Sampled, each as often: st.integers(4, 10)
# draws 4, the size of a row of its own, in 37% of examples (measured over 700).
BFT_SIZES = (5, 6, 8, 9, 7, 10, 4)


def sized(
    schedules: Callable[[int], st.SearchStrategy[Schedule]], sizes: tuple[int, ...] = BFT_SIZES
) -> st.SearchStrategy[tuple[int, Schedule]]:
    """(n, a schedule of n nodes) with n drawn from `sizes`; `schedules(n)` makes the schedules."""
    return st.sampled_from(sizes).flatmap(lambda n: st.tuples(st.just(n), schedules(n)))


def scripted(**knobs: st.SearchStrategy[Any]) -> st.SearchStrategy[Schedule]:
    """Schedules of a scripted scenario (the restart scenarios of each protocol): a seed, then the
    scenario's own knobs in the order given; no fault rates and no ticks, since the script decides
    when each fault strikes."""
    return st.builds(
        lambda seed, **drawn: Schedule(seed=seed, ticks=0, **drawn),
        st.integers(0, 2**16),
        **knobs,
    )


def share(settings: hypothesis.settings, fraction: float, least: int = 3) -> hypothesis.settings:
    """`settings` with a `fraction` of its examples (at least `least`): a free run costs what tens
    to hundreds of lockstep steps cost, so a free-run check takes its share of the profile's budget
    rather than all of it."""
    return hypothesis.settings(
        settings, max_examples=max(least, round(settings.max_examples * fraction))
    )


def schedule_faults(schedule: Schedule, **rest: Any) -> Faults:
    """The simulator's faults of a free run on `schedule`: its drop, duplicate, delay, crash and
    partition rates, and what else the protocol sets (`rest`: one-way share, down times, until)."""
    return Faults(
        drop=schedule.drop,
        duplicate=schedule.duplicate,
        delay=schedule.delay,
        crash=schedule.crash,
        partition=schedule.partition,
        **rest,
    )


def divergence(sim: Simulator[Any]) -> str | None:
    """The first entry two nodes applied differently at the same index, said; None if none."""
    if not sim.divergences:
        return None
    node, index, first, value = sim.divergences[0]
    return f"{node} applied {value!r} at index {index}, where {first!r} was applied before"


def failure(
    message: str,
    schedule: Schedule,
    trace: Trace,
    at: int | None = None,
    violated: Violated | None = None,
) -> CheckFailed:
    """CheckFailed for a run: the counterexample is the trace up to step `at` (default: all of it).
    Its message says what failed first (`violated`, else the property the message names), then
    where, then the schedule that reproduces it: a report that cuts a long message cuts the
    schedule, never the property."""
    if not trace.steps:  # an unrecorded run: the caller runs it again, recorded
        return CheckFailed(f"{message}; run {schedule!r}", steps=0, violated=violated)
    end = len(trace.steps) - 1 if at is None else at
    step = trace.steps[end]
    where = (
        f"step {end} {step.label()} at t={step.meta.get('time')}" if end else "the initial state"
    )
    return CheckFailed(
        f"{message}, at {where}; run {schedule!r}",
        steps=end,
        trace=attrs.evolve(trace, steps=trace.steps[: end + 1]),
        violated=violated,
    )


def recorded_if_failing(run: Callable[[bool], object]) -> None:
    """`run(record)` unrecorded first (recording costs); when that fails (CheckFailed), again
    recorded, for the failure's trace (the same seed gives the same run). Its failure is raised,
    or, when the recorded run holds, the unrecorded one's."""
    try:
        run(False)
    except CheckFailed:
        run(True)
        raise


def unrecorded_first(
    schedule: Schedule,
    once: Callable[[bool], tuple[Simulator[Any], str | None]],
    *,
    judge: bool = False,
) -> Simulator[Any]:
    """Check one run, given as `once(record) -> (simulator, what broke | None)`: unrecorded first
    (recording the trace, with the refinement mapping after every action, is much of a run's
    cost); a run that broke something, or whose implementation raised, is run again, recorded,
    for its counterexample (the same seed gives the same run), raised as CheckFailed. Returns the
    simulator of a run that held, `judged` for what it exercised when `judge` (a free run's)."""
    try:
        sim, problem = once(False)
    except CheckFailed as raised:  # the implementation raised: run it again, recorded
        problem = raised.message
    if problem is not None:
        sim, problem = once(True)
        raise failure(problem or "the run failed unrecorded only", schedule, sim.trace())
    if judge:
        judged(sim, schedule)
    return sim


# A free run's faults as the simulator counts those it carried out (crashes are restarts).
STRUCK = {"drop": "drop", "duplicate": "duplicate", "crash": "restart"}


def exercised(sim: Simulator[Any], schedule: Schedule) -> Exercise:
    """What a free run exercised: the client's writes attempted and committed (answered ok), and
    the kinds of fault its schedule switched on (drop, duplicate, crash, partition: a delay is not
    counted by the simulator) against those that struck at least once."""
    ops = sim.history.history() if sim.history is not None else []
    writes = [o for o in ops if o.kind == "write"]
    planned = [k for k in (*STRUCK, "partition") if getattr(schedule, k) > 0]
    struck = [
        k
        for k in planned
        if (sim.partitions if k == "partition" else sim.fault_counts[STRUCK[k]]) > 0
    ]
    committed = sum(o.status == "ok" for o in writes)
    return Exercise(len(writes), committed, len(planned), len(struck))


def judged(sim: Simulator[Any], schedule: Schedule) -> str | None:
    """A free run that held, judged for what it exercised and noted for the test that ran it
    (meshcheck/exercise.py `note`, read into verify's vacuous column as a plug-in's runs are):
    why it was vacuous, or None. A run without a client history (the simulator recorded none)
    says nothing of its writes, so it is not judged."""
    if sim.history is None:
        return None
    return exercise.note(exercised(sim, schedule))


def not_calm(sim: Simulator[Any]) -> str | None:
    """What still stands between the run and the calm a liveness bound counts from, or None.

    A protocol promises progress only once every fault is over: no message lost, duplicated or
    delayed from then on, every partition healed, every crashed node back up. `Faults.until`
    (impl/sim/config.py) brings all three at once, at the first chaos round at or after it (a
    partition drawn to last longer is healed there, a crashed node restarted), so the liveness
    checks count their bounds from that round; this says so at the moment they start counting,
    rather than have a partition that outlived the faults pass for the protocol's failure."""
    cut = sim.network.cut_links
    down = sorted(n for n, up in sim.up.items() if not up)
    if not cut and not down:
        return None
    parts = ([f"links still cut: {cut}"] if cut else []) + ([f"down: {down}"] if down else [])
    return f"not calm at t={sim.now} after the faults ended ({'; '.join(parts)})"


# -- delay regimes ------------------------------------------------------------------------------
#
# Partial synchrony (Dwork, Lynch and Stockmeyer, "Consensus in the presence of partial synchrony",
# JACM 1988): after some global stabilisation time every message arrives within a bound, and the
# protocol does not know the bound. A view timer shorter than the round trips a view needs under
# that bound ends every view before it decides anything, so PBFT's view-change timeout and
# HotStuff's view timer double with each view that decides nothing (back-off), up to a cap: some
# view then lasts long enough, whatever the bound. The liveness checks that count from the end of
# the faults go back to the network's latency (1..10 ticks), far below every base timeout, where
# the back-off is never needed; a slow phase (`slow_phases`) delays every message by more than the
# protocol's base timeout, loses none, and the protocol's "liveness under slow links" check wants
# progress within it (property_tests/pbft/free_runs.py, property_tests/hotstuff/free_runs.py: each
# says which delays, and why they are long enough to need the back-off and short enough for its cap).
#
# Raft has no slow regime: its randomized election timeout does not back off. The Raft paper's
# timing requirement, broadcastTime << electionTimeout << MTBF (section 5.6), is a precondition of
# its liveness rather than a condition it recovers from: with every message slower than the
# election timeout, candidates time out before their votes come back, and no leader is elected,
# by design.


def slow_phases(storm: Faults, ticks: int, delay_ticks: tuple[int, int]) -> Phases:
    """A run's faults in two phases: `storm` for `ticks` ticks, then, to the end, every message
    held back `delay_ticks` ticks (on top of the latency) and nothing lost, duplicated, crashed or
    cut: the switch heals the network and brings every crashed node back, as `Faults.until` does
    (impl/sim/config.py `Phases`)."""
    return Phases([(ticks, storm), (None, Faults(delay=1.0, delay_ticks=delay_ticks))])


@attrs.frozen
class Storm:
    """What a correct cluster of the protocol never exceeds (measured, with a margin): messages in
    flight per node, node events per node and tick."""

    in_flight_per_node: int
    events_per_node_tick: int

    def run(
        self,
        sim: Simulator[Any],
        schedule: Schedule,
        until: int,
        stop: Callable[[Simulator[Any]], bool] | None = None,
    ) -> str | None:
        """`run` under this storm bound."""
        return run(sim, schedule, until, self, stop)


def run(
    sim: Simulator[Any],
    schedule: Schedule,
    until: int,
    storm: Storm,
    stop: Callable[[Simulator[Any]], bool] | None = None,
) -> str | None:
    """Run the simulation until `until` or `stop`; the implementation failing (an exception) is a
    bug found (CheckFailed). Returns what cut the run short if it went past the storm bound (the
    events bound counts from now, over at least 1000 ticks), else None."""
    nodes = len(sim.node_ids)
    in_flight = storm.in_flight_per_node * nodes
    events = sim.events + storm.events_per_node_tick * nodes * max(until - sim.now, 1000)

    def halt(s: Simulator[Any]) -> bool:
        return len(s.network) > in_flight or s.events > events or (stop is not None and stop(s))

    try:
        sim.run(until=until, stop=halt)
    except MeshcheckError:  # bad input (an adapter naming what the spec lacks): not a bug found
        raise
    except Exception as exc:  # a node or the simulator's contract checks gave up: report it
        raise failure(f"the run raised {type(exc).__name__}: {exc}", schedule, sim.trace()) from exc
    finally:
        coverage.free_run(sim)  # what the run reached (meshcheck/coverage.py), when recording
    if len(sim.network) > in_flight:
        return (
            f"{STORM}: {len(sim.network)} messages in flight "
            f"(a correct cluster keeps under {in_flight})"
        )
    if sim.events > events:
        return (
            f"{STORM}: {sim.events} node events by t={sim.now} "
            f"(a correct cluster takes under {events})"
        )
    return None
