"""TLC's worker threads on one model (`meshcheck check MODEL --workers N`): distinct states per second
with one worker against two.

The model is `specs/Raft.cfg` (374,295 distinct states, invariants only, so the runner keeps the
workers asked for; a model with a PROPERTY runs on one worker whatever is asked: specs/tlc/cfg.py),
or the one BENCH_TLC_MODEL names. The two settings run interleaved, each in a new process (as
`meshcheck check` runs: the JVM start is in the wall time, TLC's own seconds are what the rate is of),
so that a change in the machine's load hits both. A model of a minute is long for `make bench`: the
number of pairs is `runs // 5`, at least one (BENCH_TLC_PAIRS overrides it).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import Row
from meshcheck.verify import project_root

GROUP = "TLC workers"
WORKERS = (1, 2)


def _model() -> Path:
    named = os.environ.get("BENCH_TLC_MODEL")
    return Path(named) if named else project_root() / "specs" / "Raft.cfg"


def _check(model: Path, workers: int) -> tuple[float, int, int]:
    """TLC's seconds, the distinct states and the workers it ran with, from a `meshcheck check`
    run in a new process."""
    code = (
        "import json, sys\n"
        "from meshcheck.check_cmd import resolve_model\n"
        "from meshcheck.specs.tlc.check import check\n"
        "m = resolve_model(sys.argv[1], None)\n"
        "r = check(m.spec, m.config, workers=int(sys.argv[2]), deadlock=m.deadlock)\n"
        "print(json.dumps([r.ok, r.seconds, r.distinct, r.workers, r.message]))\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-tlc-workers-") as cwd:
        done = subprocess.run(
            [sys.executable, "-c", code, str(model), str(workers)],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"TLC on {model.name} failed: {done.stderr.strip()[-500:]}")
    ok, seconds, distinct, ran, message = json.loads(done.stdout.strip().splitlines()[-1])
    if not ok:
        raise RuntimeError(f"{model.name} did not hold: {message}")
    return float(seconds), int(distinct), int(ran)


def bench(runs: int = 5) -> list[Row]:
    model = _model()
    pairs = int(os.environ.get("BENCH_TLC_PAIRS", max(1, runs // 5)))
    rates: dict[int, list[float]] = {n: [] for n in WORKERS}
    times: dict[int, list[float]] = {n: [] for n in WORKERS}
    distinct: set[int] = set()
    for _ in range(pairs):
        for n in WORKERS:
            seconds, states, ran = _check(model, n)
            if ran != n:
                raise RuntimeError(f"{model.name} ran on {ran} workers, not {n} (a PROPERTY?)")
            distinct.add(states)
            times[n].append(seconds)
            rates[n].append(states / seconds)
    if len(distinct) != 1:
        raise RuntimeError(f"the settings counted different distinct states: {sorted(distinct)}")
    states = distinct.pop()
    one = f"{model.stem} --workers 1, distinct states/s"
    rows = [Row(GROUP, f"{model.stem} --workers 1", statistics.median(times[1]), "s", pairs)]
    rows.append(
        Row(
            GROUP,
            f"{model.stem} --workers 2",
            statistics.median(times[2]),
            "s",
            pairs,
            baseline=f"{model.stem} --workers 1",
            ratio=statistics.median(times[1]) / statistics.median(times[2]),
            note=f"{states:,} distinct states",
        )
    )
    rows.append(Row(GROUP, one, statistics.median(rates[1]), "states/s", pairs))
    rows.append(
        Row(
            GROUP,
            f"{model.stem} --workers 2, distinct states/s",
            statistics.median(rates[2]),
            "states/s",
            pairs,
            baseline=one,
            ratio=statistics.median(rates[2]) / statistics.median(rates[1]),
        )
    )
    return rows
