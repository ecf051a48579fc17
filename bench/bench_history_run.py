"""What checking a whole real run's history costs: a run of a real system recorded by the generic
runner (meshcheck/systems/run.py), its history.jsonl checked by `meshcheck history check` in a
process of its own, as a user replays it (the command the run's report ends with).

The system: etcd (its file, meshcheck/systems/known/etcd.toml), which reaches about 1,500
operations a second here where the project's own Raft cores reach about 250 (docs/cluster.md);
three members on loopback, 40 clients in closed loops on the registers workload (five keys), kill
and pause faults from seed 1, for SECONDS. The rows: the check's wall seconds (median of `runs`
checks of the one history), with its CPU seconds and peak memory in the note, and the operations
checked. docs/performance.md's 100,000-operation row is the same at `--time 60`, run by hand (a
minute of etcd and a minute or more of checking: too long for `make bench`); the commands are there.

Without etcd installed (`make etcd`) the module says so on stderr and gives no row.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row
from meshcheck.systems import run as systems_run
from meshcheck.systems.registry import System
from meshcheck.systems.registry import resolve

GROUP = "History"
SECONDS = 10.0
CLIENTS = 40
SYSTEM = "etcd"


def record(system: System, folder: Path, seconds: float) -> int:
    """A run of `system` under kill and pause faults; the number of operations it recorded."""
    options = systems_run.RunOptions(
        nodes=3,
        time=seconds,
        nemesis=("kill", "pause"),
        rate=100_000.0,
        clients=CLIENTS,
        seed=1,
        network="loopback",
        validate=False,
    )
    outcome = systems_run.run(system, options, folder, lambda _: None)
    return len(outcome.history.ops)


def check(history: Path) -> tuple[float, float, float, int]:
    """`meshcheck history check` of `history` in a child process: wall seconds, CPU seconds,
    the child's peak resident memory in MiB, its exit status."""
    meshcheck = Path(sys.executable).with_name("meshcheck")
    command = [str(meshcheck), "history", "check", str(history), "--model", "kv", "--budget", "600"]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)  # this child's own usage, not every child's
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, child.returncode


def bench(runs: int) -> list[Row]:
    if shutil.which(SYSTEM) is None:
        print(
            f"  bench_history_run: {SYSTEM} is not installed (`make etcd`): no row", file=sys.stderr
        )
        return []
    system = resolve(SYSTEM)
    assert isinstance(system, System)
    with tempfile.TemporaryDirectory(prefix="meshcheck-bench-history-run-") as scratch:
        folder = Path(scratch)
        ops = record(system, folder, SECONDS)
        got = [check(folder / "history.jsonl") for _ in range(min(runs, 3))]
    wall = statistics.median(g[0] for g in got)
    cpu = statistics.median(g[1] for g in got)
    rss = max(g[2] for g in got)
    verdicts = {0: "linearizable", 1: "NOT linearizable", 2: "unknown"}
    said = ", ".join(sorted({verdicts.get(g[3], f"exit {g[3]}") for g in got}))
    return [
        Row(
            GROUP,
            f"a real run's whole history: {SYSTEM}, 3 members, {CLIENTS} clients, kill and pause, "
            f"{SECONDS:g} s, {ops:,} operations, `meshcheck history check --model kv`",
            wall,
            "s",
            len(got),
            note=f"{said}; CPU {cpu:.2f} s, peak memory {rss:.0f} MiB (the child's); "
            f"{ops / wall:,.0f} operations checked a second",
        )
    ]
