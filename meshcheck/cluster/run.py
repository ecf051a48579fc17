"""One cluster test: start the nodes behind their link proxies, run the clients and the nemesis for
the run's time, stop everything, check, report (one `Layer`: meshcheck/cluster/layer.py).

Everything the run starts ends with it: the node processes through `LocalCluster` (a context
manager, and the parent-death signal: impl/runtime/launcher.py), the proxies and clients with the
asyncio loop. The report folder holds the history (`history.jsonl`, the shape `meshcheck history
check` reads) and its pictures (figures.py), the nemesis's plan, every node's output, and its state
file.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meshcheck import words
from meshcheck.cluster.layer import Layer
from meshcheck.cluster.options import Options
from meshcheck.cluster.options import Outcome
from meshcheck.cluster.options import node_names
from meshcheck.cluster.workload import History

__all__ = ["Options", "Outcome", "latency_ms", "node_names", "run", "summary_rows"]

Progress = Callable[[str], None]


async def _run(options: Options, folder: Path, progress: Progress) -> Outcome:
    layer = Layer(options, folder)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        stack.callback(layer.leave_network)  # however the run ends (a namespace network's)
        stack.enter_context(layer.disks)  # unmounted once the nodes ended (a power failure's)
        stack.enter_context(layer.cluster)
        try:
            await layer.start()
            loop = asyncio.get_running_loop()
            t0 = loop.time()

            def clock() -> float:
                return loop.time() - t0

            clients = await layer.open_clients(clock)
            layer.strike(clock)
            watch = loop.create_task(progress_lines(clients.history, options.time, clock, progress))
            await clients.run(options.time)
            tail = await layer.calm(clock)
            if tail:
                await clients.run(tail)
            watch.cancel()
            await layer.settle(clock, progress)
        finally:
            await layer.close()
    return layer.check(time.monotonic() - started, progress)


async def progress_lines(
    history: History, duration: float, clock: Callable[[], float], progress: Progress
) -> None:
    """A progress line a second while the clients run (cancelled when they end)."""
    while True:
        await asyncio.sleep(1.0)
        progress(
            f"t={clock():5.1f}/{duration:.0f}s  ok {history.count('ok')}  "
            f"fail {history.count('fail')}  info {history.count('info')}"
        )


def run(options: Options, folder: Path, progress: Progress = lambda _: None) -> Outcome:
    folder.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(options, folder, progress))


def latency_ms(history: History) -> dict[str, float]:
    """p50, p99 and max of the ok operations' latencies, in milliseconds."""
    ok = sorted(s * 1000 for _, s, status in history.latencies if status == "ok")
    if not ok:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan}
    return {
        "p50": statistics.median(ok),
        "p99": ok[min(len(ok) - 1, int(len(ok) * 0.99))],
        "max": ok[-1],
    }


def summary_rows(outcome: Outcome) -> list[dict[str, Any]]:
    """The run's one table: the operations, the latencies, each check's verdict."""
    h = outcome.history
    lat = latency_ms(h)
    rows: list[dict[str, Any]] = [
        {
            "what": "operations",
            "result": f"ok {h.count('ok')}, fail {h.count('fail')}, info {h.count('info')}",
            "detail": f"{len(h.ops) / outcome.options.time:.0f}/s over {outcome.options.time:.0f} s",
        },
        {
            "what": "latency (ok)",
            "result": f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms",
            "detail": f"max {lat['max']:.1f} ms",
        },
        {
            "what": "nemesis",
            "result": f"{words.count(len(outcome.plan), 'fault')}",
            "detail": f"frames {outcome.frames[0]}, dropped {outcome.frames[1]}",
        },
    ]
    for v in outcome.verdicts:
        result = {True: "holds", False: "VIOLATED", None: "unknown"}[v.holds]
        rows.append({"what": v.check, "result": result, "detail": v.detail})
    return rows
