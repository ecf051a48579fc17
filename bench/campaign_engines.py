"""Ray against Dask distributed with 2 local workers (docs/campaigns.md): start-up, overhead per
task, examples per second. `python bench/campaign_engines.py dask ray` (each engine installed)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from meshcheck.campaign import engines
from meshcheck.campaign import run
from meshcheck.campaign.tasks import Task


def _tasks(n: int) -> list[Task]:
    return [Task(i, "property", "raft", "stored traces", (), i, 1) for i in range(n)]


def _drain(engine: engines.Engine, handles: list[object]) -> float:
    work = 0.0
    while handles:
        for h in engine.wait(handles, 60):
            handles.remove(h)
            work += engine.result(h).seconds
    return work


def main(names: list[str]) -> None:
    for name in names:
        t = time.perf_counter()
        engine = engines.start(name, 2)
        up = time.perf_counter() - t
        _drain(engine, [engine.submit(task) for task in _tasks(2)])  # both workers warm
        t = time.perf_counter()
        work = _drain(engine, [engine.submit(task) for task in _tasks(40)])
        wall = time.perf_counter() - t
        engine.close()
        config = run.Config(
            40, ("raft",), ("free runs (3 nodes)",), (), False, 2, name, None, "",
            Path("reports") / f"campaign-{name}", 10,
        )  # fmt: skip
        r = run.run(config)
        print(
            f"{name}: start {up:.1f} s; 40 tasks {wall:.2f} s wall, work {work:.2f} s, "
            f"overhead {(wall * 2 - work) / 40 * 1000:.0f} ms/task; "
            f"{r.total_examples / r.seconds:.1f} examples/s",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
