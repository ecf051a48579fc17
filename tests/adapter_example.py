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

The driver, `CoreDriver`, is installed with meshcheck (impl/adapters/raft_core.py, which lists
the differences between the core and the contract it absorbs), so that the tutorial's package
(docs/tutorial-your-raft.md) can subclass it from outside the tree. The checks are the plug-in
harness's (property_tests/plugin.py), given the example as an `Adapter`: Raft's whole property set,
decided on what `state()` exposes.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import IO
from typing import Any

import hypothesis

from meshcheck.drivers.serve import Served
from meshcheck.drivers.serve import codec_json
from meshcheck.impl.adapters.contract import AdapterPlugin
from meshcheck.impl.adapters.contract import Driver
from meshcheck.impl.adapters.contract import Ghost
from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.adapters.contract import Stamped
from meshcheck.impl.adapters.contract import raft_committed
from meshcheck.impl.adapters.raft_core import HANDLED
from meshcheck.impl.adapters.raft_core import TAKES
from meshcheck.impl.adapters.raft_core import CoreDriver
from meshcheck.impl.adapters.raft_core import core_message
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft import BUGS as RAFT_BUGS
from meshcheck.impl.raft import message_record
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.codec import classes_in
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import SimConfig
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests import plugin as harness
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.directed.target import RaftTarget
from meshcheck.property_tests.directed.target import Wire
from meshcheck.property_tests.directed.target import view_of_state
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import Storm
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.plugin import Adapter
from meshcheck.property_tests.plugin import check_run as plugin_check_run
from meshcheck.property_tests.plugin import checks as plugin_checks
from meshcheck.property_tests.plugin import free_run_check as plugin_free_run_check
from meshcheck.property_tests.plugin import logged_run as plugin_logged_run
from meshcheck.property_tests.plugin import write_log as plugin_write_log
from meshcheck.property_tests.raft.descriptor import RAFT
from meshcheck.property_tests.raft.directed import wire as core_wire
from meshcheck.property_tests.raft.free_runs import read_query
from meshcheck.property_tests.raft.free_runs import unique_write
from meshcheck.property_tests.raft.safety import election_safety
from meshcheck.property_tests.raft.safety import leader_completeness
from meshcheck.property_tests.raft.safety import log_matching
from meshcheck.property_tests.raft.safety import state_machine_safety
from meshcheck.protocol import Models
from meshcheck.protocol import Protocol
from meshcheck.traces.logs import Verdict

__all__ = ["HANDLED", "TAKES", "CoreDriver", "core_message"]

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
    """The simulator's configuration of a free run of the example on `schedule`: the plug-in
    harness's, with faults and writes both ending at `schedule.ticks`, reads as Raft's."""
    return harness.sim_config(schedule, make, read_query, record=record, heal=False)


STORM = Storm(in_flight_per_node=50, events_per_node_tick=1)
INVARIANTS = {
    "ElectionSafety": election_safety,
    "LogMatching": log_matching,
    "LeaderCompleteness": leader_completeness,
    "StateMachineSafety": state_machine_safety,
}


def adapter(driver: type[CoreDriver] = CoreDriver) -> Adapter:
    """The example as a plug-in of the harness (property_tests/plugin.py), on nodes made by
    `driver`; its spec named here, as the example is registered only at run time."""
    return Adapter(NAME, driver, lambda message: message_record(message), spec="Raft")


def check_run(
    schedule: Schedule,
    nodes: int,
    bugs: frozenset[str] = frozenset(),
    *,
    driver: type[CoreDriver] = CoreDriver,
) -> Simulator[Any]:
    """One free run checked with Raft's whole property set (property_tests/plugin.py's
    `check_run`: the invariants and action properties `state()` decides, the liveness promises
    after the faults, the client-history checks)."""
    return plugin_check_run(adapter(driver), schedule, nodes, bugs).sim


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
    """property_tests/plugin.py's `write_log` of the example."""
    return plugin_write_log(adapter(driver), schedule, bugs, out=out)


def logged_run(
    schedule: Schedule, bugs: frozenset[str] = frozenset(), *, driver: type[CoreDriver] = CoreDriver
) -> Verdict:
    """`write_log`'s log read back as a log file is, and validated against Raft.tla."""
    return plugin_logged_run(adapter(driver), schedule, bugs)


def free_run_check(
    bugs: frozenset[str],
    settings: hypothesis.settings,
    *,
    nodes: int,
    driver: type[CoreDriver] = CoreDriver,
) -> None:
    """Hypothesis: free runs of `nodes` adapted nodes (with `bugs` switched on) keep Raft's
    properties."""
    plugin_free_run_check(adapter(driver), bugs, settings, nodes=nodes)


def checks_with(driver: type[CoreDriver] = CoreDriver) -> tuple[Check, ...]:
    """The checks `meshcheck mutants` runs, on nodes made by `driver`."""
    return plugin_checks(adapter(driver))


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
