"""Campaign throughput: examples per second of `meshcheck campaign` on 1 and 2 local workers
(raft's free runs of 3 nodes, the correct implementation, no database), the speed-up 1 -> 2 and
the parallel efficiency (the speed-up over 2), and CPU-seconds per example.

Each campaign runs in a process of its own, so that its CPU time is that process's and its
workers' (`RUSAGE_CHILDREN` once they have exited): coordinator, workers' start-up and every task,
cut ones included. On a machine shared with other jobs the examples per second say how much of
the cores the campaign got; CPU-seconds per example do not depend on that, and stay flat from 1 to
2 workers when the work spreads without overhead (a rise is the price of the second worker).

`python -m bench.bench_campaign` runs the pair and prints the rows; `SECONDS` is each campaign's
budget (the clock starts once the workers are up; their start-up is reported apart)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import Row

SECONDS = 90.0

_ONE = """
import json, sys, tempfile
from pathlib import Path
from meshcheck.campaign import run
if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as out:
        config = run.Config(
            {seconds}, ("raft",), ("free runs (3 nodes)",), mutants=False, workers={workers},
            out=Path(out), examples=10,
        )
        r = run.run(config)
    print(json.dumps({{"examples": r.total_examples, "seconds": r.seconds, "startup": getattr(r, "startup", 0.0),
                      "task_cpu": getattr(r, "cpu", 0.0), "cut": r.cut, "tasks": r.tasks,
                      "by_worker": len(r.by_worker)}}))
"""


def campaign(workers: int, seconds: float = SECONDS) -> dict[str, float]:
    """One campaign in a fresh process: what run.run reports, and `cpu`, the CPU-seconds of that
    process and its workers together."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "one_campaign.py"
        script.write_text(_ONE.format(seconds=seconds, workers=workers))
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=True
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    got: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    got["cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return got


def bench(runs: int) -> list[Row]:
    one = campaign(1)
    two = campaign(2)
    rate1 = one["examples"] / one["seconds"]
    rate2 = two["examples"] / two["seconds"]
    cpu1 = one["cpu"] / max(1, one["examples"])
    cpu2 = two["cpu"] / max(1, two["examples"])
    speedup = rate2 / rate1 if rate1 else None
    return [
        Row("campaign", "1 worker", rate1, "examples/s", 1, note=_note(one)),
        Row(
            "campaign",
            "2 workers",
            rate2,
            "examples/s",
            1,
            baseline="1 worker",
            ratio=speedup,
            note=f"parallel efficiency {speedup / 2:.0%}; {_note(two)}" if speedup else _note(two),
        ),
        Row("campaign", "1 worker CPU", cpu1 * 1000, "ms CPU/example", 1),
        Row(
            "campaign",
            "2 workers CPU",
            cpu2 * 1000,
            "ms CPU/example",
            1,
            baseline="1 worker CPU",
            ratio=cpu2 / cpu1 if cpu1 else None,
        ),
    ]


def _note(got: dict[str, float]) -> str:
    return (
        f"{got['examples']:.0f} examples in {got['seconds']:.0f} s, {got['cut']:.0f} tasks cut, "
        f"start-up {got['startup']:.1f} s, {got['cpu']:.0f} CPU-s"
    )


if __name__ == "__main__":
    for row in bench(1):
        print(row)
