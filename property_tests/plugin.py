"""The checks of a plug-in: an implementation meshcheck did not write, put under its checks from a
package of its own (docs/plugins.md, docs/tutorial-your-raft.md). This module is public API: what a
plug-in's tests and descriptor call.

A plug-in hands the harness an `Adapter`: its protocol's name, a factory of its nodes' drivers
(impl/adapters/contract.py's `Driver`) and its `message_record`. Everything else comes from its
descriptor: the spec it names (`Models(spec=...)`) gives the spec's action table
(`registry.actions_of`) and its shape (property_tests/shapes.py), the property set every
implementation of that spec is checked with. Its pace (election timeout, heartbeat) and its storm
bound are the reference core's unless the `Adapter` declares its own (`timing`, `storm`), and
every check below runs at them. `check_run` checks all of it on one free run, with no property
named by the plug-in:

- after every step, every state invariant of the shape whose variables the adapter's `state()`
  gives (Raft: ElectionSafety, LogMatching, LeaderCompleteness, StateMachineSafety, and with more
  variables exposed ReadLinearizable, MatchIndexBounded, NextIndexAboveMatch);
- on every step, every action property of the shape whose variables it gives (Raft:
  CommitIndexMonotonic, and MatchIndexMonotonic when `state()` gives matchIndex);
- no two nodes applying different values at one index;
- the shape's liveness promises once the faults end (Raft: EventuallyLeader,
  LeaderCommitsStoredEntries, EventuallyAllCommitted; property_tests/raft/promises.py), the
  client writing on;
- the client-history checks (property_tests/histories.py), judging the implementation's own
  answers (`own_answers`: a write is the record {"op": "Custom", "key": k, "value": v}, a read
  the query ("custom", k), answered with the value last written, or a mapping holding it under
  "value"), so that an implementation keeps its own state machine.

A property over a variable `state()` does not give is undecided, never guessed: `Checked.undecided`
lists each with what it needs. A failing run raises `CheckFailed` with the schedule that rebuilds
it, the step, and the property's name first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from collections.abc import Mapping
from functools import partial
from typing import IO
from typing import Any
from typing import Protocol

import attrs
import hypothesis
from hypothesis import given

from meshcheck import exercise
from meshcheck import registry
from meshcheck.exercise import Exercise
from meshcheck.impl.adapters.contract import AdapterPlugin
from meshcheck.impl.adapters.contract import Driver
from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.adapters.contract import Stamped
from meshcheck.impl.adapters.contract import frozen
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.sim import ClientOp
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import SimConfig
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.directed.target import REFERENCE
from meshcheck.property_tests.directed.target import RaftTarget
from meshcheck.property_tests.directed.target import Wire
from meshcheck.property_tests.directed.target import view_of_state
from meshcheck.property_tests.free_runs import CHAOS_EVERY
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import Storm
from meshcheck.property_tests.free_runs import exercised
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.histories import BUDGET
from meshcheck.property_tests.histories import GUARD_SECONDS
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.raft.free_runs import schedules
from meshcheck.property_tests.raft.free_runs import unique_write
from meshcheck.property_tests.raft.targets import Timing
from meshcheck.property_tests.scenarios import Restarting
from meshcheck.property_tests.shapes import Property
from meshcheck.property_tests.shapes import Shape
from meshcheck.property_tests.shapes import shape_of
from meshcheck.protocol import Models
from meshcheck.protocol import Protocol as Descriptor
from meshcheck.traces.history.checker import check as check_linearizable
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import MODELS
from meshcheck.traces.logs import Verdict
from meshcheck.traces.logs import loads
from meshcheck.traces.logs import validate
from meshcheck.violated import ACTION_PROPERTY
from meshcheck.violated import HISTORY_ANOMALY
from meshcheck.violated import INVARIANT
from meshcheck.violated import LIVENESS_BOUND
from meshcheck.violated import Violated

__all__ = [
    "STORM",
    "Adapter",
    "Checked",
    "Storm",
    "Timing",
    "check_run",
    "checks",
    "cluster",
    "election_timeouts",
    "free_run_check",
    "logged_run",
    "own_answers",
    "target",
    "write_log",
]


class DriverFactory(Protocol):
    """How a plug-in makes one node's driver: its id, the cluster's ids, the bugs switched on and
    the election timeout range the run asks for (ticks)."""

    def __call__(
        self, node_id: str, servers: tuple[str, ...], bugs: frozenset[str], timeout: tuple[int, int]
    ) -> Driver: ...


# What a correct cluster never exceeds (property_tests/free_runs.py `Storm`): Raft's bound, every
# plug-in's unless its `Adapter` declares its own.
STORM = Storm(in_flight_per_node=50, events_per_node_tick=1)


@attrs.frozen
class Adapter:
    """A plug-in as the harness drives it: `protocol`, the name its descriptor is registered under
    (its entry point); `driver`, its nodes' driver factory (a driver class taking `(node_id,
    servers, bugs, timeout)`); `message_record`, its messages as the spec's records. `spec` names
    the spec for a plug-in not registered (tests); None: its descriptor's.

    `timing` and `storm` describe how the library runs, when the reference core's do not fit it:
    its pace (`Timing(election_timeout=(lo, hi), heartbeat=h)`, in ticks: the election timeout
    its nodes are given and the heartbeat it keeps) and what a correct cluster of it never
    exceeds (`Storm`). Every check of the harness takes them from here: its free runs (the
    election timeouts their schedules draw, the liveness promises' bounds, the storm bound) and
    its directed scenarios (`target`: their waits and their CommitLiveness bound)."""

    protocol: str
    driver: DriverFactory
    message_record: Callable[[Any], Value]
    spec: str | None = None
    timing: Timing = REFERENCE
    storm: Storm = STORM

    def descriptor(self) -> Descriptor:
        if self.spec is not None:
            return Descriptor(self.protocol, self.protocol, Models(spec=self.spec))
        return registry.get(self.protocol)

    def shape(self) -> Shape:
        """The property set of the spec its descriptor names (an empty one for a spec with none)."""
        spec = self.descriptor().models.spec
        return shape_of(spec) or Shape(name=spec, variables=())


# Ticks a run without liveness promises goes on after its faults, for what was in flight to land.
SETTLE = 500
KEYS = 3  # the keys the client writes and reads (property_tests/raft/free_runs.py's unique_write)


def query(n: int) -> Any:
    """The n-th client read: one of the keys the writes set (never the applied count, which only
    meshcheck's own state machine answers)."""
    return ("custom", f"k{n % KEYS}")


def adapter_plugin(
    adapter: Adapter,
    servers: tuple[str, ...],
    bugs: frozenset[str] = frozenset(),
    *,
    log: NdjsonLog | None = None,
    timeout: tuple[int, int] | None = None,
) -> AdapterPlugin:
    """The simulator plug-in of `adapter`'s nodes, with its shape's variables and ghosts and its
    spec's action table. `timeout`: the election timeout its nodes are given (default: its
    pace's, `Adapter.timing`)."""
    descriptor = adapter.descriptor()
    shape = adapter.shape()
    chosen = adapter.timing.election_timeout if timeout is None else timeout

    def make(i: str) -> Driver:
        return adapter.driver(i, servers, bugs, chosen)

    return AdapterPlugin(
        adapter.protocol,
        make,
        adapter.message_record,
        variables=shape.variables,
        ghosts=shape.ghosts,
        log=log,
        actions={a.name: a.params for a in registry.actions_of(descriptor)} or None,
        spec=descriptor.models.spec,
        defaults=shape.defaults,
    )


def cluster(
    adapter: Adapter,
    schedule: Schedule,
    nodes: int,
    bugs: frozenset[str] = frozenset(),
    *,
    log: NdjsonLog | None = None,
    make: Callable[[int], Any] = unique_write,
    heal: bool = True,
    record: bool = True,
) -> Simulator[Any]:
    """The simulated cluster of a schedule: faults for `schedule.ticks` ticks, then (heal=True)
    none, every partition healed and every node up; the client writes on after the faults. Its
    nodes' election timeout is the schedule's, else the adapter's pace's (`Adapter.timing`)."""
    servers = tuple(f"s{k}" for k in range(1, nodes + 1))
    timeout = run_timing(adapter, schedule).election_timeout
    config = sim_config(schedule, make, query, record=record, heal=heal)
    return Simulator(
        adapter_plugin(adapter, servers, bugs, log=log, timeout=timeout), servers, config
    )


def sim_config(
    schedule: Schedule,
    make: Callable[[int], Any] = unique_write,
    reads: Callable[[int], Any] = query,
    *,
    record: bool = True,
    heal: bool = True,
) -> SimConfig:
    """The simulator's configuration of a free run on `schedule`: its faults for `schedule.ticks`
    ticks, then (heal=True) none while the client writes on; heal=False: faults and writes both
    end at `schedule.ticks`."""
    faults = free_runs.schedule_faults(
        schedule,
        one_way=schedule.knob("one_way", 0.5),
        down_ticks=schedule.knob("down", (200, 2000)),
        chaos_every=CHAOS_EVERY,
        until=schedule.ticks if heal else None,
    )
    workload = Workload(
        every=schedule.knob("every", 20),
        reads=schedule.knob("reads", 0.0),
        make=make,
        query=reads,
        until=None if heal else schedule.ticks,
    )
    return SimConfig(seed=schedule.seed, faults=faults, workload=workload, record=record)


def run_timing(adapter: Adapter, schedule: Schedule) -> Timing:
    """The pace of a free run of `adapter` on `schedule`: the adapter's (`Adapter.timing`), with
    the election timeout the schedule draws, when it draws one."""
    timeout = schedule.knob("timeout", adapter.timing.election_timeout)
    return attrs.evolve(adapter.timing, election_timeout=timeout)


def election_timeouts(timing: Timing) -> tuple[tuple[int, int], ...]:
    """The election timeouts a plug-in's free runs draw from, at its pace: its own, and a narrow
    range at its low end (a fifteenth of its width, 150..160 ticks at the reference core's
    150..300), so that candidates often run in one term (split votes), as the reference core's
    free runs draw (property_tests/raft/free_runs.py's `schedules`)."""
    low, high = timing.election_timeout
    return ((low, high), (low, low + max(1, (high - low) // 15)))


@attrs.frozen
class Checked:
    """A run that held: its simulator, the properties it decided and those it could not (each
    "Name (needs v)": a variable the adapter's state() does not give), what it exercised, and why
    that was too little to count as a pass (`vacuous`: meshcheck/exercise.py), or None."""

    sim: Simulator[Any]
    decided: tuple[str, ...]
    undecided: tuple[str, ...]
    exercise: Exercise
    vacuous: str | None


class _Safety:
    """The shape's decided invariants and action properties over a trace, step by step."""

    def __init__(self, shape: Shape, invariants: list[Property], transitions: list[Property]):
        self.shape, self.invariants, self.transitions = shape, invariants, transitions
        self.checked = 0

    def look(self, sim: Simulator[Any], schedule: Schedule) -> None:
        trace = sim.trace()
        steps = trace.steps
        for k in range(self.checked, len(steps)):
            step, before = steps[k], steps[k - 1].state if k else None
            names = self.shape.violated(self.invariants, step.state, before)
            kind = INVARIANT if names else ACTION_PROPERTY  # what failed, said first
            if before is not None:
                names += self.shape.broken(
                    self.transitions, before, step.state, step.action, step.params
                )
            if names:
                what = Violated(kind, ", ".join(names))
                raise failure(f"violates {', '.join(names)}", schedule, trace, k, violated=what)
        self.checked = len(steps)


def check_run(
    adapter: Adapter, schedule: Schedule, nodes: int = 3, bugs: frozenset[str] = frozenset()
) -> Checked:
    """One free run of `adapter` (with `bugs` switched on) checked with its shape's whole property
    set (see the module's docstring); CheckFailed on the first property it breaks."""
    shape = adapter.shape()
    sim = cluster(adapter, schedule, nodes, bugs)
    exposed = frozenset(sim.trace().steps[0].state)
    invariants, transitions = shape.decided(exposed)
    promises = shape.liveness
    live = promises is not None and set(promises.reads) <= exposed
    decided = [p.name for p in (*invariants, *transitions)]
    undecided = shape.undecided(exposed)
    if promises is not None:
        (decided if live else undecided).extend(
            promises.names
            if live
            else [f"{n} (needs {', '.join(promises.reads)})" for n in promises.names]
        )
    safety = _Safety(shape, invariants, transitions)
    healed, storm = schedule.ticks, adapter.storm
    overload = free_runs.run(sim, schedule, healed, storm)
    safety.look(sim, schedule)
    broken: str | None = None
    if overload is None and live and promises is not None:
        restless = free_runs.not_calm(sim)
        if restless is not None:
            raise failure(restless, schedule, sim.trace())
        limits = promises.bounds(run_timing(adapter, schedule), _nodes_state(sim))
        watch = promises.watch(limits)
        seen = [-1]  # the last tick the promises were looked at: once a tick is enough

        def kept(s: Simulator[Any]) -> bool:
            if s.now == seen[0]:
                return False
            seen[0] = s.now
            return watch.see(_nodes_state(s), s.now - healed)

        overload = free_runs.run(sim, schedule, healed + watch.limit + 1, storm, stop=kept)
        watch.end(_nodes_state(sim))
        broken = watch.broken
    elif overload is None:
        overload = free_runs.run(sim, schedule, healed + SETTLE, storm)
    safety.look(sim, schedule)
    trace = sim.trace()
    diverged = free_runs.divergence(sim)
    if diverged is not None:
        raise failure(
            diverged,
            schedule,
            trace,
        )
    if overload is not None:  # "Storm: ...", the bound's name (free_runs.run)
        raise failure(overload, schedule, trace)
    problem = check_history(sim, linearize=own_answers)
    if problem is None and broken is not None:  # a liveness promise, "Name: what"
        what = Violated(LIVENESS_BOUND, broken.split(":", 1)[0])
        raise failure(broken, schedule, trace, violated=what)
    if problem is not None:  # "check name: what", as the reference core's free runs name it
        anomaly = Violated(HISTORY_ANOMALY, problem.split(": ", 1)[0])
        raise failure(problem, schedule, trace, violated=anomaly)
    done = exercised(sim, schedule)
    return Checked(sim, tuple(decided), tuple(undecided), done, exercise.note(done))


def _nodes_state(sim: Simulator[Any]) -> FrozenDict:
    """The spec's variables of the nodes (without the messages in flight: cheaper)."""
    state: FrozenDict = sim.plugin.abstract_state(sim.nodes, FrozenDict(), {})
    return state


def _answer(result: Any) -> Any:
    """A read's answer as the value read: the value itself, or a mapping's "value" (None: absent,
    as a mapping saying not ok)."""
    if isinstance(result, Mapping):
        if result.get("ok") is False:
            return None
        return result.get("value")
    return result


def _key_op(o: ClientOp, index: int) -> Op | None:
    """A client operation as the key-value model's: a Custom write's key and value, a read's key
    and the value it returned; None for an operation that is neither."""
    if o.kind == "write":
        if not (isinstance(o.value, FrozenDict) and o.value.get("op") == "Custom"):
            return None
        key, value, output = o.value.get("key"), o.value.get("value"), None
    else:
        if not (isinstance(o.value, tuple) and len(o.value) == 2 and o.value[0] == "custom"):
            return None
        key, value, output = o.value[1], None, _answer(o.result) if o.status == "ok" else None
    pending = o.status == "info" or o.ret is None
    ret = math.inf if pending else o.ret
    assert ret is not None
    status = "info" if pending else o.status
    return Op(o.process, o.kind, value, output, o.call, ret, status, key, index)


def own_answers(sim: Simulator[Any]) -> str | None:
    """`linearizable`, on the implementation's own answers: the history as a map of registers
    (the `kv` model), each key's writes and reads checked apart; a write's answer is not judged,
    a read's must be the value of the last write linearized before it."""
    assert sim.history is not None, "the run kept no client history (SimConfig.history)"
    ops: list[Op] = []
    for o in sim.history.history():
        op = _key_op(o, len(ops))
        if op is not None and op.status != "fail":
            ops.append(op)
    result = check_linearizable(ops, MODELS["kv"], GUARD_SECONDS, configurations=BUDGET)
    if result.verdict == "linearizable":
        return None
    if result.verdict == "unknown":
        return f"linearizable: unknown within {BUDGET:,} configurations ({result.ops} operations)"
    window = "; ".join(
        f"{o.process}#{o.index} {o.f} {o.key} {o.input!r} -> {o.status} {o.output!r}"
        for o in result.window[-6:]
    )
    return f"linearizable: not linearizable (key {result.partition!r}): ... {window}"


def free_run_check(
    adapter: Adapter,
    bugs: frozenset[str],
    settings: hypothesis.settings,
    *,
    nodes: int = 3,
) -> None:
    """Hypothesis: free runs of `nodes` nodes of `adapter` (with `bugs`) keep every property of
    its shape (`check_run`), on schedules Hypothesis draws and shrinks, their election timeouts
    drawn at its pace (`election_timeouts`)."""

    @settings
    @given(schedules(500, 2000, timeouts=election_timeouts(adapter.timing)))
    def plugin_run_holds(schedule: Schedule) -> None:
        check_run(adapter, schedule, nodes, bugs)

    plugin_run_holds()


def restarting(adapter: Adapter) -> Restarting:
    """The restart scenario every protocol gets (property_tests/scenarios.py), for the plug-in: its
    calm cluster at its own pace and storm bound, a node crashed and restarted, held to catching
    up on what the others applied while it was down, then the runs' end checks: its nodes agree,
    and its client history is linearizable by its own answers (`own_answers`). Any up node is
    restarted (`attrs.evolve(..., victim=...)` chooses another: its leader, say)."""
    return Restarting(
        build=lambda schedule, n, bugs, record: cluster(adapter, schedule, n, bugs, record=record),
        storm=adapter.storm,
        verdict=restart_verdict,
    )


def restart_verdict(sim: Simulator[Any]) -> str | None:
    """What a plug-in's restart scenario holds at its end (`restarting`)."""
    return free_runs.divergence(sim) or check_history(sim, linearize=own_answers)


def checks(adapter: Adapter, nodes: int = 3) -> tuple[Check, ...]:
    """The checks `meshcheck mutants` runs on the plug-in (its descriptor's `checks`): its free
    runs, and the restart scenario every protocol gets (`restarting`)."""
    restart = restarting(adapter).scripted("restarted_node_catches_up", 1 / 10, nodes)
    return (
        Check(
            f"free runs ({nodes} nodes)",
            lambda bugs, settings: free_run_check(adapter, bugs, settings, nodes=nodes),
            "random faults, then healing: the shape's invariants, action properties, liveness "
            "promises and the client histories",
        ),
        Check(
            f"restart ({nodes} nodes)",
            restart.drawn,
            "a node crashed and restarted, one cycle or three: it catches up on what the others "
            "applied, the nodes agree, the client history is linearizable",
        ),
    )


def write_log(
    adapter: Adapter,
    schedule: Schedule,
    bugs: frozenset[str] = frozenset(),
    *,
    out: IO[str] | None = None,
) -> NdjsonLog:
    """One free run of the validation model's servers, writing the model's values (the shape's
    `log_model`: Raft.tla's property_tests/raft/models/Validate.cfg), and its NDJSON log (what each node logged): to `out` when given,
    else kept in the log's `records`."""
    shape = adapter.shape()
    if shape.log_model is None:
        raise MeshcheckError(f"{adapter.protocol}: the {shape.name} shape has no validation model")
    nodes, values = shape.log_model()
    log = NdjsonLog(f"seed-{schedule.seed}", out)
    sim = cluster(
        adapter,
        schedule,
        nodes,
        bugs,
        log=log,
        make=lambda n: values[(n - 1) % len(values)],
        heal=False,
        record=False,
    )
    free_runs.run(sim, schedule, schedule.ticks + SETTLE, adapter.storm)
    return log


def logged_run(adapter: Adapter, schedule: Schedule, bugs: frozenset[str] = frozenset()) -> Verdict:
    """`write_log`'s log read back as a log file is, and validated against the spec."""
    log = write_log(adapter, schedule, bugs)
    records = [loads(json.dumps(r), f"{log.run}:{n}") for n, r in enumerate(log.records, 1)]
    return validate(records, spec=adapter.descriptor().models.spec)


# -- the directed scenarios (property_tests/directed/): a Raft-shaped plug-in as their target ------


def record_wire(record: Value) -> Wire | None:
    """A message's spec record (Raft.tla's) as the scenarios read it."""
    if not isinstance(record, Mapping):
        return None
    kind = record.get("mtype")
    if kind == "AppendEntriesRequest":
        first = int(record["mprevLogIndex"]) + 1
        entries = record.get("mentries", ())
        assert isinstance(entries, tuple)
        return Wire(kind, entries=tuple((first + k, int(e["term"])) for k, e in enumerate(entries)))
    if kind == "AppendEntriesResponse":
        return Wire(kind, success=bool(record["msuccess"]), match=int(record["mmatchIndex"]))
    if kind == "RequestVoteRequest":
        return Wire(kind)
    if kind == "RequestVoteResponse":
        return Wire(kind, granted=bool(record["mvoteGranted"]))
    return None


def _directed_cluster(
    adapter: Adapter,
    timing: Timing,
    nodes: int,
    seed: int,
    bugs: frozenset[str],
    faults: Faults,
    log: NdjsonLog | None,
) -> Simulator[Any]:
    servers = tuple(f"s{k}" for k in range(1, nodes + 1))
    plugin = adapter_plugin(adapter, servers, bugs, log=log, timeout=timing.election_timeout)
    return Simulator(plugin, servers, SimConfig(seed=seed, faults=faults))


def target(
    adapter: Adapter, notes: str = "", *, storm: Storm | None = None, timing: Timing | None = None
) -> RaftTarget:
    """The directed scenarios' target of a Raft-shaped plug-in (`meshcheck scenarios`): its
    messages read through `message_record`, its nodes through `state()`, the shape's decided
    invariants after every step (and its action properties on every step, property_tests/
    directed/run.py), its client answers judged as its own (`own_answers`). `storm`: what a
    correct cluster of it never exceeds; `timing`: its pace, a `Timing(election_timeout=(lo, hi),
    heartbeat=h)` (the election timeout its nodes are given, its heartbeat, in ticks), which the
    scenarios' waits and their CommitLiveness bound derive from. Both default to what the adapter
    declares (`Adapter.storm`, `Adapter.timing`: Raft's bound, `STORM`, and the reference core's
    pace, elections of 150..300 ticks and a heartbeat every 50, unless it declares its own)."""
    shape = adapter.shape()
    storm = adapter.storm if storm is None else storm
    timing = adapter.timing if timing is None else timing

    def wire(message: Any) -> Wire | None:
        body = message.body if isinstance(message, Stamped) else message
        return record_wire(frozen(adapter.message_record(body)))

    def violated(state: Mapping[str, Value], safe: Mapping[str, Value] | None) -> list[str]:
        invariants, _ = shape.decided(frozenset(state))
        return shape.violated(invariants, state, safe)

    return RaftTarget(
        protocol=adapter.protocol,
        cluster=partial(_directed_cluster, adapter, timing),
        wire=wire,
        view=lambda node: view_of_state(node.state()),
        violated=violated,
        storm=storm,
        spec=adapter.descriptor().models.spec,
        logs="adapter",
        notes=notes or f"{adapter.protocol} through the adapter contract",
        linearize=own_answers,
        timing=timing,
    )
