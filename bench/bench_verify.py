"""`meshcheck verify` on one core against every core (`--workers 1` against `--workers N`, N the cores
this process may use): wall time of the same selection, and whether both listed the same rows.

The selection is `--profile quick --protocol hybrid` (its TLC models, proofs, five property-test
files, traces and mutant matrix: every kind of check), or the flags
BENCH_VERIFY_FLAGS gives (e.g. `--profile quick` for the whole quick profile). The two runs are
interleaved, each a new `meshcheck verify` process, so that a change in the machine's load hits
both; the number of pairs is `runs // 5`, at least one (BENCH_VERIFY_PAIRS overrides it). A pair
whose checks differ (kinds and names) is an error, not a measurement: the parallel run must check
what the serial one checks; a result or count that differs (counts compared on the quick profile
only, the derandomized one) is named in the row's note: a Z3 obligation can reach its wall-clock
timeout on a loaded machine, and a parallel run loads it more.
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row
from meshcheck.verify import default_workers

GROUP = "verify"
FLAGS = "--profile quick --protocol hybrid"


def _verify(flags: list[str], workers: int) -> tuple[float, list[tuple[object, ...]]]:
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as cwd:
        report = Path(cwd) / "verify.json"
        cmd = [sys.executable, "-m", "meshcheck", "verify", *flags, "--workers", str(workers)]
        start = time.perf_counter()
        done = subprocess.run(
            [*cmd, "--json", str(report), "--junit", str(Path(cwd) / "verify.xml")],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        if not report.is_file():
            raise RuntimeError(f"{shlex.join(cmd)} wrote no report: {done.stderr[-500:]}")
        checks = json.loads(report.read_text(encoding="utf-8"))["checks"]
    rows: list[tuple[object, ...]] = [
        (c["kind"], c["name"], c["result"], c["count"], c["unit"]) for c in checks
    ]
    return seconds, rows


def bench(runs: int = 5) -> list[Row]:
    flags = shlex.split(os.environ.get("BENCH_VERIFY_FLAGS", FLAGS))
    pairs = int(os.environ.get("BENCH_VERIFY_PAIRS", max(1, runs // 5)))
    cores = default_workers()
    exact = "quick" in flags  # derandomized (Hypothesis's ci profile): the same counts each run
    times: dict[int, list[float]] = {1: [], cores: []}
    differed: list[str] = []
    for _ in range(pairs):
        serial, rows = _verify(flags, 1)
        parallel, again = _verify(flags, cores)
        if not exact:  # a new random sample each run: the examples counted differ
            rows, again = [r[:3] for r in rows], [r[:3] for r in again]
        if [r[:2] for r in again] != [r[:2] for r in rows]:
            differ = sorted({r[:2] for r in rows} ^ {r[:2] for r in again})[:3]
            raise RuntimeError(f"--workers {cores} listed other checks than --workers 1: {differ}")
        # a result may differ for a reason of the machine's, not of the parallel run's (a
        # property test's random sample, or a budget still counted in wall-clock time)
        differed.extend(f"{r[0]} {r[1]}: {r[2]}" for r in again if r not in rows)
        times[1].append(serial)
        times[cores].append(parallel)
    what = " ".join(flags)
    one = f"verify {what} --workers 1"
    note = f"{len(rows)} rows, the same in both"
    if differed:
        note = f"{len(rows)} rows; differed in the parallel run: {'; '.join(differed[:3])}"
        print(f"  {note}", file=sys.stderr, flush=True)
    return [
        Row(GROUP, one, statistics.median(times[1]), "s", pairs),
        Row(
            GROUP,
            f"verify {what} --workers {cores}",
            statistics.median(times[cores]),
            "s",
            pairs,
            baseline=one,
            ratio=statistics.median(times[1]) / statistics.median(times[cores]),
            note=note,
        ),
    ]
