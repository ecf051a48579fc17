"""TLC under the JVM's default tiered JIT against C1 only (`-XX:TieredStopAtLevel=1`, which `make test`
puts in MESHCHECK_JVM_OPTIONS: specs/tlc/runtime.py).

Two workloads, each in a new Python process (so each starts its own JVM, as a pytest-xdist worker
does), the two settings interleaved so that a change in the machine's load hits both:
- the test suite's kind: 12 checks of a small model (bench/specs/Election.tla, 14,440 distinct states,
  about a second each), each in its own class loader as every check is;
- `make verify`'s kind: one model check of seconds to minutes (specs/ThreatLevel.cfg, 337,055
  distinct states, one worker).
Measured: the CPU time of the process and its JVM (user + system: on 2 cores running 2 test workers,
CPU time is what the suite's wall time is made of), and the wall time.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Row
from meshcheck.specs.tlc.runtime import JVM_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
GROUP = "TLC JIT"
C1 = "-XX:TieredStopAtLevel=1"
SHORT = (ROOT / "bench" / "specs" / "Election.tla", ROOT / "bench" / "specs" / "Election.cfg", 12)
LONG = (ROOT / "specs" / "ThreatLevel.tla", ROOT / "specs" / "ThreatLevel.cfg", 1)

_PROGRAM = """
import sys
from pathlib import Path
from meshcheck.specs.tlc.check import check
spec, cfg, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    r = check(spec, cfg, workers=1, deadlock=False)
    if not r.ok:
        raise SystemExit(f"{spec.name} did not hold: {r.outcome} {r.message}")
"""


def _run(work: tuple[Path, Path, int], options: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one process doing `work` with `options` for its JVM."""
    spec, cfg, n = work
    env = {k: v for k, v in os.environ.items() if not k.startswith(JVM_OPTIONS)}
    if options:
        env[JVM_OPTIONS] = options
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(spec), str(cfg), str(n)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"JIT benchmark run failed: {done.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def _pair(name: str, work: tuple[Path, Path, int], runs: int) -> list[Row]:
    default: list[tuple[float, float]] = []
    c1: list[tuple[float, float]] = []
    for _ in range(runs):
        default.append(_run(work, ""))
        c1.append(_run(work, C1))
    rows: list[Row] = []
    for k, measure in ((0, "CPU"), (1, "wall")):
        base = f"{name}, default JIT, {measure}"
        d, c = (statistics.median(x[k] for x in xs) for xs in (default, c1))
        rows.append(Row(GROUP, base, d, "s", runs))
        rows.append(
            Row(GROUP, f"{name}, C1 only, {measure}", c, "s", runs, baseline=base, ratio=d / c)
        )
    return rows


def bench(runs: int = 5) -> list[Row]:
    return [
        *_pair("12 checks of Election (14,440 states)", SHORT, runs),
        *_pair("1 check of ThreatLevel.cfg (337,055 states)", LONG, min(runs, 3)),
    ]
