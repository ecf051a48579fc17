"""TLC in this process (`specs.tlc.check.check`) against TLC's own command line in a new JVM.

The same spec and model (bench/specs/Election.tla, 14,440 distinct states) checked both ways, one worker,
deadlock checking off, the two kinds of run interleaved so that a change in the machine's load hits both.
Times are wall clock end to end: for the command line that includes starting a JVM, which is what every
`java -jar` run pays; in-process the JVM is already up (started once per process, reported apart when
this benchmark is the one that starts it).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import Row
from meshcheck.specs.tlc.check import check
from meshcheck.specs.tlc.java import find_jar
from meshcheck.specs.tlc.java import find_java

SPEC = Path(__file__).resolve().parent / "specs" / "Election.tla"
CONFIG = SPEC.with_suffix(".cfg")
GROUP = "TLC"
CLI = "java -jar tla2tools.jar"
IN_PROCESS = "check() in-process"

_COUNTS = re.compile(r"(\d+) states generated, (\d+) distinct states found")


def _in_process() -> tuple[float, int]:
    start = time.perf_counter()
    r = check(SPEC, CONFIG, workers=1, deadlock=False)
    seconds = time.perf_counter() - start
    if not r.ok:
        raise RuntimeError(f"benchmark spec did not hold in-process: {r.outcome} {r.message}")
    return seconds, r.distinct


def _command_line() -> tuple[float, int]:
    java = find_java().home / "bin" / "java"
    with tempfile.TemporaryDirectory(prefix="bench-tlc-") as meta:
        cmd = [
            str(java),
            "-XX:+UseParallelGC",
            "-Xss16m",
            "-jar",
            str(find_jar()),
            "-workers",
            "1",
            "-deadlock",
            "-metadir",
            meta,
            "-config",
            CONFIG.name,
            SPEC.stem,
        ]
        start = time.perf_counter()
        done = subprocess.run(
            cmd, cwd=SPEC.parent, capture_output=True, text=True, timeout=600, check=False
        )
        seconds = time.perf_counter() - start
    m = _COUNTS.search(done.stdout)
    if done.returncode != 0 or m is None:
        raise RuntimeError(f"{CLI} failed (exit {done.returncode}): {done.stdout[-500:]}")
    return seconds, int(m.group(2))


def bench(runs: int = 5) -> list[Row]:
    import jpype

    rows: list[Row] = []
    if not jpype.isJVMStarted():
        first, _ = _in_process()
        rows.append(
            Row(GROUP, f"{IN_PROCESS}, first (starts the JVM)", first, "s", 1, note="not in median")
        )
    cli_times: list[float] = []
    own_times: list[float] = []
    distinct = set()
    for _ in range(runs):
        t, d = _command_line()
        cli_times.append(t)
        distinct.add(d)
        t, d = _in_process()
        own_times.append(t)
        distinct.add(d)
    if len(distinct) != 1:
        raise RuntimeError(f"the two ways counted different distinct states: {sorted(distinct)}")
    states = distinct.pop()
    cli = statistics.median(cli_times)
    own = statistics.median(own_times)
    cli_rate = statistics.median(states / t for t in cli_times)
    own_rate = statistics.median(states / t for t in own_times)
    note = f"{states:,} distinct states, 1 worker"
    rows += [
        Row(GROUP, CLI, cli, "s", runs, note=note),
        Row(GROUP, IN_PROCESS, own, "s", runs, baseline=CLI, ratio=cli / own, note=note),
        Row(GROUP, f"{CLI}, distinct states/s", cli_rate, "states/s", runs),
        Row(
            GROUP,
            f"{IN_PROCESS}, distinct states/s",
            own_rate,
            "states/s",
            runs,
            baseline=f"{CLI}, distinct states/s",
            ratio=own_rate / cli_rate,
        ),
    ]
    return rows
