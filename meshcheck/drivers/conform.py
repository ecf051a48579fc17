"""`meshcheck driver conform CMD [ARG ...]`: whether a driver speaks the driver protocol
(docs/driver-protocol.md) well enough for meshcheck to run it, before any check of what it
implements. One table, a row per requirement:

- hello: its name, protocol 1, whether it takes spec actions;
- boot: every node boots from nothing, and what it did is well formed;
- state, applied: each node's state is an object of spec values, its applied count and digest;
- errors: a request for a node outside the cluster and a call the protocol has not are refused with
  an `error` answer, and the driver goes on answering;
- a free run: 2,000 simulated milliseconds of drops, duplicates, delays, crashes and partitions with
  clients writing and reading, through meshcheck's simulator, without a broken answer, with at
  least one node crashed and booted again from what it had written;
- replays: the same run again gives the same steps, states and client history (the driver draws
  its randomness from `boot`'s seed and reads no clock).

Exit 0 when every row passes, 1 when one fails, 2 when the command cannot be started.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from meshcheck import words
from meshcheck.drivers.pipe import DriverProcess
from meshcheck.drivers.pipe import pipe_plugin
from meshcheck.impl.adapters.contract import AdapterError
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.node import Workload
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import SimConfig

NODES = ("s1", "s2", "s3")
TICKS = 2000
FAULTS = Faults(
    drop=0.05,
    duplicate=0.05,
    delay=0.1,
    crash=0.5,
    down_ticks=(100, 400),
    partition=0.3,
    chaos_every=100,
)


@attrs.frozen
class Row:
    requirement: str
    passed: bool
    detail: str


def write_op(n: int) -> Any:
    """The n-th client write of a driver's free run: value n to one of three keys."""
    return to_value(Custom(f"k{n % 3}", n))


def read_query(n: int) -> Any:
    """The n-th client read: the applied count (every fourth), or one of the three keys."""
    return "" if n % 4 == 0 else ("custom", f"k{n % 3}")


def _run(process: DriverProcess, seed: int) -> tuple[list[Any], list[Any], int]:
    """A free run of the driver's cluster: its steps, its client history, its restarts."""
    state = process.call({"call": "state", "node": NODES[0]}, NODES[0]).get("state", {})
    plugin = pipe_plugin(process, NODES, variables=tuple(state))
    workload = Workload(every=20, reads=0.3, make=write_op, query=read_query, until=TICKS)
    sim = Simulator(plugin, NODES, SimConfig(seed=seed, faults=FAULTS, workload=workload))
    sim.run(until=TICKS + 200)
    steps = [(s.action, s.params, s.state) for s in sim.trace().steps]
    history = list(sim.history.history()) if sim.history is not None else []
    return steps, history, sim.fault_counts["restart"]


def _check(name: str, rows: list[Row], test: Callable[[], str]) -> bool:
    try:
        rows.append(Row(name, True, test()))
        return True
    except (AdapterError, AssertionError, MeshcheckError) as exc:
        rows.append(Row(name, False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
        return False


def conform(command: list[str], timeout: float = 10.0) -> list[Row]:
    """The rows of the conformance table for the driver `command` (AdapterError when it cannot be
    started)."""
    rows: list[Row] = []
    with DriverProcess(command, name=command[0], timeout=timeout) as process:

        def hello() -> str:
            process.hello(NODES)
            return f"{process.driver}, protocol 1, take {str(process.takes).lower()}"

        def boot() -> str:
            for node in NODES:
                process.call(
                    {"call": "boot", "node": node, "persisted": {}, "now": 0, "seed": 1}, node
                )
            return f"{words.count(len(NODES), 'node')} from nothing"

        def state() -> str:
            from meshcheck.drivers.wire import spec_value

            for node in NODES:
                answer = process.call({"call": "state", "node": node}, node)
                assert isinstance(answer.get("state"), dict), f"{node}: state is not an object"
                for var, value in answer["state"].items():
                    spec_value(value, f"state.{var}")
                applied = process.call({"call": "applied", "node": node}, node)
                assert isinstance(applied.get("count"), int), f"{node}: applied.count"
                bytes.fromhex(str(applied.get("digest")))
            return f"variables {', '.join(sorted(answer['state'])) or '(none)'}"

        def errors() -> str:
            for request in (
                {"call": "state", "node": "nobody"},
                {"call": "no_such_call", "node": NODES[0]},
            ):
                try:
                    process.call(request, str(request["node"]))
                except AdapterError as exc:
                    assert "the driver says" in str(exc), str(exc)
                else:
                    raise AssertionError(f"{request} answered without an error")
            process.call({"call": "state", "node": NODES[0]}, NODES[0])
            return "an unknown node and an unknown call refused; answers on"

        runs: list[tuple[list[Any], list[Any], int]] = []

        def free_run() -> str:
            runs.append(_run(process, 7))
            steps, history, restarts = runs[0]
            assert restarts > 0, "no node was restarted: the run did not reach a crash"
            return f"{words.count(len(steps), 'step')}, {len(history)} client operations, {restarts} restarts"

        def replays() -> str:
            assert runs, "no free run to replay"
            again = _run(process, 7)
            assert again[0] == runs[0][0], "the same run gave other steps or states"
            assert again[1] == runs[0][1], "the same run gave another client history"
            return "the same steps, states and history"

        for name, test in (
            ("hello", hello),
            ("boot", boot),
            ("state, applied", state),
            ("errors", errors),
            ("a free run", free_run),
            ("replays", replays),
        ):
            if not _check(name, rows, test) and name in ("hello", "boot"):
                break
    return rows


def run_conform(command: list[str], timeout: float) -> int:
    """The table for `meshcheck driver conform` (meshcheck/driver_cmd.py); 0 when it conforms."""
    try:
        rows = conform(command, timeout)
    except AdapterError as exc:
        raise MeshcheckError(str(exc).splitlines()[0]) from None
    width = max(len(r.requirement) for r in rows)
    print(f"| {'requirement'.ljust(width)} | result | detail")
    print(f"|{'-' * (width + 2)}|--------|--------")
    for r in rows:
        print(f"| {r.requirement.ljust(width)} | {'pass' if r.passed else 'FAIL':6} | {r.detail}")
    return 0 if all(r.passed for r in rows) and len(rows) == 6 else 1
