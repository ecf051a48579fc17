"""The worked example of docs/adding-an-implementation.md: a second implementation of
specs/Raft.tla put under meshcheck by one adapter file, this one.

The implementation is meshcheck's own sans-IO Raft core (impl/raft/node.py), treated as a third
party would treat a library it did not write: it is created, stepped and read only through the
adapter contract (impl/adapters/contract.py's `Driver`: boot, deliver, fire, submit, collect,
state), never through impl/raft's simulator plug-in or refinement mapping. Everything else is the
shared machinery: `AdapterPlugin` makes the driver a simulator plug-in, the simulator brings the
faults (drops, duplicates, delays, partitions, crashes and restarts), property_tests/histories.py
checks the client history, property_tests/raft/safety.py the spec's invariants on what `state()`
exposes, and traces/logs validates the run's NDJSON log (`NdjsonLog`) against Raft.tla with
partial state. The descriptor at the end is registered at run time
(`meshcheck.registry.registered(EXAMPLE)`, tests/test_adapter_example.py), after which
`meshcheck mutants raft-adapter` measures the checks against impl/raft's catalogue mutants.

Differences between the core and the contract, which the adapter absorbs (what a third party's
adapter documents here):

- the core cancels timers (`CancelTimer`); the contract only sets them (`Collected.timers`). The
  driver keeps the set of timers the core has armed and ignores a firing of one it cancelled;
- the core names its spec actions itself (`Action` effects, with the message as `m`); the driver
  turns each into a `SpecStep` owning the sends that follow it;
- the core reports a client operation it turns away (not the leader) as ClientRequest or
  ClientRead, a step that changes nothing; the spec's actions need a leader, so the driver marks
  it as no spec step (`in_spec=False`: named in traces, left out of the NDJSON log);
- `state()` exposes what a library typically can: currentTerm, votedFor, role, log, commitIndex,
  snapshotIndex and snapshotTerm. votesGranted, nextIndex, matchIndex and the read records are
  left out: unknown to every check (a partial refinement). The ghost `committed` is the plugin's
  (`raft_committed`); log compaction is off (snapshot interval beyond any run here), which that
  ghost assumes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from functools import partial
from typing import IO, Any

import hypothesis
from hypothesis import given

from meshcheck.drivers.serve import Served, codec_json
from meshcheck.impl.adapters.contract import (
    AdapterPlugin,
    Collected,
    Driver,
    Ghost,
    NdjsonLog,
    SpecStep,
    Stamped,
    raft_committed,
)
from meshcheck.impl.base.effects import (
    Action,
    Apply,
    CancelTimer,
    Effect,
    Persist,
    Reply,
    Send,
    SetTimer,
    Write,
    split_actions,
)
from meshcheck.impl.base.events import ClientRead, ClientRequest, Deliver, Restart, Tick
from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.impl.raft import BUGS as RAFT_BUGS
from meshcheck.impl.raft import RaftConfig, RaftNode, message_record
from meshcheck.impl.raft.messages import (
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
)
from meshcheck.impl.raft.node import ELECTION, Replicate
from meshcheck.impl.runtime.codec import Codec, classes_in
from meshcheck.impl.sim import Faults, SimConfig, Simulator, Workload
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.directed.target import RaftTarget, Wire, view_of_state
from meshcheck.property_tests.free_runs import CHAOS_EVERY, Schedule, Storm, failure
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.raft.descriptor import RAFT
from meshcheck.property_tests.raft.directed import wire as core_wire
from meshcheck.property_tests.raft.free_runs import read_query, schedules, unique_write
from meshcheck.property_tests.raft.safety import (
    election_safety,
    leader_completeness,
    log_matching,
    state_machine_safety,
)
from meshcheck.property_tests.raft.validation import validation_model
from meshcheck.protocol import Models, Protocol
from meshcheck.traces.logs import Verdict, loads, validate

NAME = "raft-adapter"
# Raft.tla's variables the refinement maps: what state() exposes, and the ghost the plugin keeps
VARIABLES = (
    "messages",
    "currentTerm",
    "votedFor",
    "log",
    "snapshotIndex",
    "snapshotTerm",
    "role",
    "commitIndex",
    "committed",
)
BUGS = RAFT_BUGS  # the implementation's known bugs: the mutants `meshcheck mutants` switches on


class CoreDriver:
    """One impl/raft node behind the contract (a `Driver`)."""

    def __init__(
        self,
        node_id: str,
        servers: tuple[str, ...],
        bugs: frozenset[str],
        timeout: tuple[int, int] = (150, 300),
    ) -> None:
        self.id = node_id
        self.config = RaftConfig(
            node_id, servers, election_timeout=timeout, snapshot_interval=10**9, bugs=bugs
        )
        self.node: RaftNode | None = None
        self.out: list[Effect] = []
        self.armed: set[str] = set()  # the timers the core has set and not cancelled
        self.requests = 0  # client requests made by `take`

    def _step(self, event: Any) -> None:
        assert self.node is not None
        self.out.extend(self.node.step(event))

    def boot(self, persisted: Mapping[str, Any], now: int, rng: random.Random) -> None:
        self.node, self.out, self.armed = RaftNode(self.config, rng), [], set()
        self._step(Restart(persisted, now))

    def deliver(self, source: str, message: Any, now: int) -> None:
        self._step(Deliver(source, message, now))

    def fire(self, timer: str, now: int) -> None:
        if timer in self.armed:  # a timer the core cancelled fires here as nothing
            self.armed.discard(timer)
            self._step(Tick(timer, now))

    def submit(self, request_id: int, value: Any, read: bool, now: int) -> None:
        if read:
            self._step(ClientRead(value, request_id, now))
        else:
            self._step(ClientRequest(value, request_id, now))

    def take(self, action: str, params: Mapping[str, Value], now: int) -> bool:
        """The spec action `action(params)` alone (a `StepDriver`, for adapted lockstep): the
        core's election timer for Timeout, a client write, `Replicate(j, entries=n)` for an
        AppendEntries of n entries (the core sends to one peer on request), and the spec's
        message `m` made the core's own and delivered for a HandleX. InstallSnapshot,
        TakeSnapshot, the reads and Restart are not taken here (False): the example runs without
        compaction and keeps no durable store of its own to restart from."""
        m = params.get("m")
        if params.get("i") != self.id:
            return False
        if action == "Timeout":
            self._step(Tick(ELECTION, now))
        elif action == "ClientRequest":
            self.requests += 1
            self._step(ClientRequest(params["v"], self.requests, now))
        elif action == "AppendEntries" and isinstance(m, Mapping):
            entries = m["mentries"]
            count = len(entries) if isinstance(entries, tuple) else None
            self._step(Replicate(str(params["j"]), entries=count))
        elif action in HANDLED and isinstance(m, Mapping) and m.get("mtype") == HANDLED[action]:
            self._step(Deliver(str(params["j"]), core_message(m), now))
        else:
            return False
        return any(isinstance(e, Action) and e.name == action for e in self.out)

    def collect(self, event: Any) -> Collected:
        writes: list[Write] = []
        sends: list[tuple[str, Any]] = []
        applied: list[tuple[int, Any, Any]] = []
        replies: list[Reply] = []
        timers: list[SetTimer] = []
        steps: list[SpecStep] = []
        for action, part in split_actions(self.out):
            owned: list[int] = []
            for e in part:
                if isinstance(e, Persist):
                    writes.extend(e.writes)
                elif isinstance(e, Send):
                    owned.append(len(sends))
                    sends.append((e.dest, e.message))
                elif isinstance(e, Apply):
                    applied.append((e.index, e.value, e.result))
                elif isinstance(e, Reply):
                    replies.append(e)
                elif isinstance(e, SetTimer):
                    self.armed.add(e.timer)
                    timers.append(e)
                elif isinstance(e, CancelTimer):
                    self.armed.discard(e.timer)
            if isinstance(action, Action):
                # a client operation the node turned away (not the leader) changes nothing: the
                # spec has no such step (its ClientRequest needs a leader), so it is not logged
                refused = action.name in ("ClientRequest", "ClientRead") and any(
                    isinstance(e, Reply) and not e.ok for e in part
                )
                steps.append(
                    SpecStep(action.name, action.params, tuple(owned), in_spec=not refused)
                )
        self.out = []
        return Collected(
            tuple(writes), tuple(sends), tuple(applied), tuple(replies), tuple(timers), tuple(steps)
        )

    def state(self) -> Mapping[str, Value]:
        n = self.node
        assert n is not None
        return {
            "currentTerm": n.term,
            "votedFor": "None" if n.voted_for is None else n.voted_for,
            "role": n.role,
            "log": tuple(FrozenDict({"term": e.term, "value": e.value}) for e in n.log.entries),
            "commitIndex": n.commit_index,
            "snapshotIndex": n.log.snapshot_index,
            "snapshotTerm": n.log.snapshot_term,
        }

    def applied_state(self) -> tuple[int, bytes]:
        assert self.node is not None
        return self.node.applied_state()


# The spec's handlers `take` delivers their message to, by the message's type
HANDLED = {
    "HandleRequestVoteRequest": "RequestVoteRequest",
    "HandleRequestVoteResponse": "RequestVoteResponse",
    "HandleAppendEntriesRequest": "AppendEntriesRequest",
    "HandleAppendEntriesResponse": "AppendEntriesResponse",
}
# The actions `take` takes (adapted lockstep offers only these) besides the network's faults
TAKES = ("Timeout", "ClientRequest", "AppendEntries", *HANDLED, "DropMessage", "DuplicateMessage")


def core_message(m: Mapping[str, Value]) -> Message:
    """The spec's record of a message (`message_record`'s image) as the core's message."""
    kind, src, dst, term = m["mtype"], str(m["msource"]), str(m["mdest"]), int(m["mterm"])
    if kind == "RequestVoteRequest":
        return RequestVoteRequest(src, dst, term, int(m["mlastLogTerm"]), int(m["mlastLogIndex"]))
    if kind == "RequestVoteResponse":
        return RequestVoteResponse(src, dst, term, bool(m["mvoteGranted"]))
    if kind == "AppendEntriesRequest":
        entries = m["mentries"]
        assert isinstance(entries, tuple)
        return AppendEntriesRequest(
            src,
            dst,
            term,
            int(m["mprevLogIndex"]),
            int(m["mprevLogTerm"]),
            tuple(Entry(int(e["term"]), e["value"]) for e in entries),
            int(m["mcommitIndex"]),
            int(m["mreadSeq"]),
        )
    if kind == "AppendEntriesResponse":
        return AppendEntriesResponse(
            src,
            dst,
            term,
            bool(m["msuccess"]),
            int(m["mmatchIndex"]),
            int(m["mreadSeq"]),
            int(m["mconflictTerm"]),
            int(m["mconflictIndex"]),
        )
    raise ValueError(f"no core message for the spec's {kind}")


def plugin(
    servers: tuple[str, ...],
    bugs: frozenset[str] = frozenset(),
    *,
    log: NdjsonLog | None = None,
    driver: type[CoreDriver] = CoreDriver,
    timeout: tuple[int, int] = (150, 300),
) -> AdapterPlugin:
    def make(i: str) -> Driver:
        return driver(i, servers, bugs, timeout)

    return AdapterPlugin(
        NAME,
        make,
        message_record,
        variables=VARIABLES,
        ghosts=(Ghost("committed", (), raft_committed),),
        log=log,
        actions={a.name: a.params for a in RAFT.actions},
        spec="Raft",
    )


def cluster(
    schedule: Schedule,
    nodes: int,
    bugs: frozenset[str] = frozenset(),
    *,
    log: NdjsonLog | None = None,
    make: Any = unique_write,
    driver: type[CoreDriver] = CoreDriver,
    record: bool = True,
) -> Simulator[Any]:
    servers = tuple(f"s{k}" for k in range(1, nodes + 1))
    timeout = schedule.knob("timeout", (150, 300))
    return Simulator(
        plugin(servers, bugs, log=log, driver=driver, timeout=timeout),
        servers,
        sim_config(schedule, make, record),
    )


def sim_config(schedule: Schedule, make: Any = unique_write, record: bool = True) -> SimConfig:
    """The simulator's configuration of a free run of the example on `schedule`."""
    faults = Faults(
        drop=schedule.drop,
        duplicate=schedule.duplicate,
        delay=schedule.delay,
        crash=schedule.crash,
        partition=schedule.partition,
        one_way=schedule.knob("one_way", 0.5),
        down_ticks=schedule.knob("down", (200, 2000)),
        chaos_every=CHAOS_EVERY,
    )
    workload = Workload(
        every=schedule.knob("every", 20),
        reads=schedule.knob("reads", 0.0),
        make=make,
        query=read_query,
        until=schedule.ticks,
    )
    return SimConfig(seed=schedule.seed, faults=faults, workload=workload, record=record)


STORM = Storm(in_flight_per_node=50, events_per_node_tick=1)
INVARIANTS = {
    "ElectionSafety": election_safety,
    "LogMatching": log_matching,
    "LeaderCompleteness": leader_completeness,
    "StateMachineSafety": state_machine_safety,
}


def check_run(
    schedule: Schedule,
    nodes: int,
    bugs: frozenset[str] = frozenset(),
    *,
    driver: type[CoreDriver] = CoreDriver,
) -> Simulator[Any]:
    """One free run: Raft.tla's invariants after every step (on what the adapter exposes), no two
    nodes applying different values at one index, then the client-history checks."""
    return check_sim(cluster(schedule, nodes, bugs, driver=driver), schedule)


def check_sim(sim: Simulator[Any], schedule: Schedule) -> Simulator[Any]:
    """`check_run` on a cluster already made (the driver protocol's, tests/test_driver_protocol.py)."""
    overload = free_runs.run(sim, schedule, schedule.ticks + 500, STORM)
    trace = sim.trace()
    for k in range(1, len(trace.steps)):
        broken = [n for n, holds in INVARIANTS.items() if not holds(trace.steps[k].state)]
        if broken:
            raise failure(f"violates {', '.join(broken)}", schedule, trace, k)
    if sim.divergences:
        raise failure(f"divergence {sim.divergences[0]!r}", schedule, trace)
    problem = overload or check_history(sim)
    if problem is not None:
        raise failure(problem, schedule, trace)
    return sim


def write_log(
    schedule: Schedule,
    bugs: frozenset[str] = frozenset(),
    *,
    driver: type[CoreDriver] = CoreDriver,
    out: IO[str] | None = None,
) -> NdjsonLog:
    """One free run of the validation model's servers, writing the model's values, and its NDJSON
    log (what each node logged): to `out` when given, else kept in the log's `records`."""
    nodes, values, _ = validation_model()
    log = NdjsonLog(f"seed-{schedule.seed}", out)
    sim = cluster(
        schedule,
        nodes,
        bugs,
        log=log,
        make=lambda n: values[(n - 1) % len(values)],
        driver=driver,
        record=False,
    )
    free_runs.run(sim, schedule, schedule.ticks + 500, STORM)
    return log


def logged_run(
    schedule: Schedule, bugs: frozenset[str] = frozenset(), *, driver: type[CoreDriver] = CoreDriver
) -> Verdict:
    """`write_log`'s log read back as a log file is, and validated against Raft.tla."""
    log = write_log(schedule, bugs, driver=driver)
    records = [loads(json.dumps(r), f"{log.run}:{n}") for n, r in enumerate(log.records, 1)]
    return validate(records, spec="Raft")


def free_run_check(
    bugs: frozenset[str],
    settings: hypothesis.settings,
    *,
    nodes: int,
    driver: type[CoreDriver] = CoreDriver,
) -> None:
    """Hypothesis: free runs of `nodes` adapted nodes (with `bugs` switched on) stay safe."""

    @settings
    @given(schedules(500, 2000))
    def adapted_run_is_safe(schedule: Schedule) -> None:
        check_run(schedule, nodes, bugs, driver=driver)

    adapted_run_is_safe()


def checks_with(driver: type[CoreDriver] = CoreDriver) -> tuple[Check, ...]:
    """The checks `meshcheck mutants` runs, on nodes made by `driver`."""
    return (
        Check(
            "free runs (3 nodes)",
            partial(free_run_check, nodes=3, driver=driver),
            "the adapted core under random faults: Raft's invariants and the client histories",
        ),
    )


CHECKS = checks_with()


# -- the directed scenarios (property_tests/directed/): the adapted core as a Raft-shaped target --


def directed_cluster(
    nodes: int,
    seed: int,
    bugs: frozenset[str],
    faults: Faults,
    log: NdjsonLog | None,
    *,
    driver: type[CoreDriver] = CoreDriver,
) -> Simulator[Any]:
    servers = tuple(f"s{k}" for k in range(1, nodes + 1))
    config = SimConfig(seed=seed, faults=faults)
    return Simulator(plugin(servers, bugs, log=log, driver=driver), servers, config)


def directed_wire(message: Any) -> Wire | None:
    """The core's messages, unwrapped from the adapter's `Stamped`, as the reference core's
    target reads them (the same classes)."""
    return core_wire(message.body if isinstance(message, Stamped) else message)


def directed_violated(state: Mapping[str, Value], safe: Mapping[str, Value] | None) -> list[str]:
    return [name for name, holds in INVARIANTS.items() if not holds(state)]


def target_with(driver: type[CoreDriver] = CoreDriver, protocol: str = NAME) -> RaftTarget:
    """The directed scenarios' target, on nodes made by `driver`, registered as `protocol`."""
    return RaftTarget(
        protocol=protocol,
        cluster=partial(directed_cluster, driver=driver),
        wire=directed_wire,
        view=lambda node: view_of_state(node.state()),
        violated=directed_violated,
        storm=STORM,
        spec="Raft",
        logs="adapter",
        notes="impl/raft through the adapter contract, whole batches",
    )


TARGET = target_with()

EXAMPLE = Protocol(
    name=NAME,
    title="impl/raft driven only through the adapter contract (docs/adding-an-implementation.md)",
    models=Models(spec="Raft"),
    actions=RAFT.actions,
    bugs="tests.adapter_example:BUGS",
    checks="tests.adapter_example:CHECKS",
    directed="tests.adapter_example:TARGET",
)


def served(args: list[str]) -> Served:
    """The example's driver over the driver protocol (`python -m meshcheck.drivers
    tests.adapter_example:served [MUTANT | timeout=LO,HI ...]`, docs/driver-protocol.md): the
    core's messages and durable values as the runtime's tagged JSON, each message's spec record
    with it."""
    timeout = (150, 300)
    bugs: set[str] = set()
    for arg in args:  # MUTANT or timeout=LO,HI (the election timeout, ticks)
        if arg.startswith("timeout="):
            lo, hi = arg.removeprefix("timeout=").split(",")
            timeout = (int(lo), int(hi))
        elif arg in BUGS:
            bugs.add(arg)
        else:
            raise ValueError(f"no mutant {arg!r}")
    codec = Codec(classes_in("meshcheck.impl.raft.messages", "meshcheck.impl.rsm.ops"))
    encode, decode = codec_json(codec)

    def make(node: str, nodes: tuple[str, ...]) -> Driver:
        return CoreDriver(node, nodes, frozenset(bugs), timeout)

    return Served(NAME, make, encode, decode, message_record, takes=True)
