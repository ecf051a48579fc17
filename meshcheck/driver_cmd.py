"""`meshcheck driver`: implementations in other languages, through the driver protocol
(docs/driver-protocol.md).

- `driver conform CMD [ARG ...]`: whether the driver speaks the protocol (meshcheck/drivers/
  conform.py).
- `driver run [--seeds N] [--ticks T] [--nodes N] CMD [ARG ...]`: a Raft implementation's free
  runs under the simulator's faults, one per seed: on every step Raft.tla's safety invariants that
  the driver's state can be read for (property_tests/raft/safety.py: ElectionSafety with `role` and
  `currentTerm`, LogMatching with `log`, ...), and at the end the clients' history
  (property_tests/histories.py: linearizable, at most once, no answer withdrawn, the nodes' states
  equal). One row per seed, then the first failure in full with the seed that replays it.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING
from typing import Any

from meshcheck import options
from meshcheck import words
from meshcheck.impl.base.errors import MeshcheckError

if TYPE_CHECKING:
    from meshcheck.drivers.pipe import DriverProcess
    from meshcheck.impl.base.trace import Trace

SEEDS = 10
TICKS = 1500
CALM = 500  # ticks after the faults stop, in which the clients' last operations complete


def add_parser(sub: Any) -> None:
    d = sub.add_parser(
        "driver", help="implementations in other languages (docs/driver-protocol.md)"
    )
    dsub = d.add_subparsers(dest="driver_command", required=True)
    c = dsub.add_parser(
        "conform", help="whether a driver speaks the driver protocol: one table, exit 0 or 1"
    )
    c.add_argument("--timeout", type=float, default=10.0, help="seconds per answer (default 10)")
    c.add_argument("driver", nargs=argparse.REMAINDER, metavar="CMD [ARG ...]", help="the driver")
    r = dsub.add_parser(
        "run",
        help="a Raft driver's free runs under faults: Raft.tla's invariants on every step, the "
        "clients' history at the end",
    )
    r.add_argument("--seeds", default=str(SEEDS), help=f"runs, seeds 1..N (default {SEEDS})")
    r.add_argument("--seed", help="one run, of this seed (a failure's replay)")
    r.add_argument("--ticks", default=str(TICKS), help=f"milliseconds of faults (default {TICKS})")
    r.add_argument("--nodes", default="3", help="cluster size (default 3)")
    r.add_argument("--timeout", type=float, default=30.0, help="seconds per answer (default 30)")
    r.add_argument("driver", nargs=argparse.REMAINDER, metavar="CMD [ARG ...]", help="the driver")


def run_driver_cmd(args: argparse.Namespace) -> int:
    command = [a for a in args.driver if a != "--"]
    if not command:
        raise MeshcheckError(
            f"driver {args.driver_command}: give the driver's command (CMD [ARG ...])"
        )
    if args.timeout <= 0:
        raise MeshcheckError(f"--timeout: expected seconds above 0, got {args.timeout}")
    if args.driver_command == "conform":
        from meshcheck.drivers.conform import run_conform

        return run_conform(command, args.timeout)
    nodes = options.whole("nodes", args.nodes, 1, 9)
    ticks = options.whole("ticks", args.ticks, 100, 1_000_000)
    seeds = (
        [options.whole("seed", args.seed, 0, 2**32 - 1)]
        if args.seed is not None
        else list(range(1, options.whole("seeds", args.seeds, 1, 10_000) + 1))
    )
    return _run(command, args.timeout, nodes, ticks, seeds)


def _run(command: list[str], timeout: float, nodes: int, ticks: int, seeds: list[int]) -> int:
    """Each seed's free run of the driver, then one table and the first failure's command."""
    from meshcheck.drivers.pipe import DriverProcess
    from meshcheck.impl.adapters.contract import AdapterError

    names = tuple(f"s{k}" for k in range(1, nodes + 1))
    rows: list[tuple[str, ...]] = []
    first: str | None = None
    try:
        with DriverProcess(command, name=command[0], timeout=timeout) as process:
            variables, checked = _invariants(process, names, command[0])
            for seed in seeds:
                row, problem = _one_run(process, names, variables, checked, seed, ticks)
                rows.append(row)
                if problem is not None and first is None:
                    first = f"seed {seed}: {problem}"
    except AdapterError as exc:
        raise MeshcheckError(str(exc).splitlines()[0]) from None
    return _report(command, nodes, ticks, checked, rows, first)


def _invariants(
    process: DriverProcess, names: tuple[str, ...], name: str
) -> tuple[tuple[str, ...], list[str]]:
    """The variables the driver's state gives (one node booted to ask), and the safety invariants
    of Raft.tla that they are enough to check; none is bad input."""
    from meshcheck.property_tests.raft import safety

    process.hello(names)
    process.call({"call": "boot", "node": names[0], "persisted": {}, "now": 0, "seed": 1}, names[0])
    shown = process.call({"call": "state", "node": names[0]}, names[0]).get("state", {})
    variables = tuple(shown)
    checked = [
        n
        for n, reads in safety.READS.items()
        if all(v in variables or v == "committed" for v in reads)
    ]
    if not checked:
        raise MeshcheckError(
            f"driver run checks Raft drivers: {name}'s state has "
            f"{', '.join(variables) or 'no variable'}, none of Raft.tla's invariants' "
            "(role, currentTerm, log, snapshotIndex, snapshotTerm, commitIndex)"
        )
    return variables, checked


def _one_run(
    process: DriverProcess,
    names: tuple[str, ...],
    variables: tuple[str, ...],
    checked: list[str],
    seed: int,
    ticks: int,
) -> tuple[tuple[str, ...], str | None]:
    """One seed's free run under faults: its table row, and what went wrong (None: it holds)."""
    from meshcheck.drivers.conform import read_query
    from meshcheck.drivers.conform import write_op
    from meshcheck.drivers.pipe import pipe_plugin
    from meshcheck.impl.adapters.contract import AdapterError
    from meshcheck.impl.adapters.contract import Ghost
    from meshcheck.impl.adapters.contract import raft_committed
    from meshcheck.impl.base.node import Workload
    from meshcheck.impl.sim import Simulator
    from meshcheck.impl.sim.config import Faults
    from meshcheck.impl.sim.config import SimConfig
    from meshcheck.property_tests.histories import check_history

    faults = Faults(
        drop=0.05, duplicate=0.05, delay=0.1, crash=0.3, partition=0.3, down_ticks=(200, 2000),
        until=ticks,
    )  # fmt: skip
    workload = Workload(every=20, reads=0.3, make=write_op, query=read_query, until=ticks)
    started = time.monotonic()
    ghosts = (Ghost("committed", (), raft_committed),)
    plugin = pipe_plugin(process, names, variables=variables, ghosts=ghosts, spec="Raft")
    sim = Simulator(plugin, names, SimConfig(seed=seed, faults=faults, workload=workload))
    problem: str | None = None
    try:
        sim.run(until=ticks + CALM)
    except AdapterError as exc:
        problem = str(exc).splitlines()[0]
    trace = sim.trace()
    problem = problem or _first_violation(trace, checked) or check_history(sim)
    history = sim.history.history() if sim.history is not None else ()
    ok = sum(1 for o in history if o.status == "ok")
    verdict = "holds" if problem is None else "FAIL"
    seconds = f"{time.monotonic() - started:.1f}"
    return (str(seed), str(len(trace.steps)), f"{ok} of {len(history)}", verdict, seconds), problem


def _first_violation(trace: Trace, checked: list[str]) -> str | None:
    """The first step whose state breaks one of the checked invariants, said in one line."""
    from meshcheck.property_tests.raft import safety

    for k in range(1, len(trace.steps)):
        broken = [n for n in checked if not safety.INVARIANTS[n](trace.steps[k].state)]
        if broken:
            step = trace.steps[k]
            return (
                f"step {k} {step.action} at t={step.meta.get('time', '?')}: "
                f"violates {', '.join(broken)}"
            )
    return None


def _report(
    command: list[str],
    nodes: int,
    ticks: int,
    checked: list[str],
    rows: list[tuple[str, ...]],
    first: str | None,
) -> int:
    """The table, the count, and the first failure with the command that runs its seed again."""
    from meshcheck.table import format_table

    print(
        f"driver run: {' '.join(command)}, {words.count(nodes, 'node')}, {ticks} ms of faults, "
        f"invariants {', '.join(checked) or 'none (no Raft variables in its state)'}"
    )
    print(format_table(("seed", "steps", "operations ok", "verdict", "seconds"), rows))
    failed = sum(1 for r in rows if r[3] == "FAIL")
    print(f"{len(rows) - failed} of {words.count(len(rows), 'run')} hold")
    if first is None:
        return 0
    print(f"first failure, {first}")
    again = first.split(":")[0].removeprefix("seed ")
    print(
        f"again: meshcheck driver run --seed {again} --ticks {ticks} --nodes {nodes} "
        + " ".join(command)
    )
    return 1
