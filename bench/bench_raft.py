"""The Raft implementation under the simulator: how fast a 5-node cluster runs.

Events/s counts node events (deliveries, timer firings, client requests) per CPU-second of the whole
simulation (network, timers and faults included); committed writes per CPU-second counts the client
writes acknowledged as applied. The baseline of the other rows is the plain run (no faults, no trace)
measured in the same process: the ratio shows what faults or trace recording cost.
"""

from __future__ import annotations

import time

import attrs

from bench.common import Row
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import to_value
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Workload

GROUP = "Raft sim"
TICKS = 8_000  # simulated time per run; a client write every 2 ticks until the end
FAULTS = Faults(drop=0.02, duplicate=0.02, delay=0.02, crash=0.2, partition=0.1)


@attrs.frozen
class Measured:
    events_per_s: float
    writes_per_s: float


def _op(n: int) -> object:
    return to_value(Custom(f"k{n % 64}", n))


def one_run(
    *, seed: int, faults: Faults | None = None, record: bool = False, ticks: int = TICKS
) -> Measured:
    sim = raft_cluster(
        5,
        seed=seed,
        faults=faults,
        workload=Workload(every=2, make=_op, until=ticks),
        record=record,
    )
    start = time.process_time()
    sim.run(until=ticks)
    cpu = time.process_time() - start
    assert sim.client is not None and not sim.divergences
    return Measured(sim.events / cpu, sim.client.writes_ok / cpu)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def bench(runs: int = 5) -> list[Row]:
    plain = [one_run(seed=k) for k in range(runs)]
    faulty = [one_run(seed=k, faults=FAULTS) for k in range(runs)]
    traced = [one_run(seed=k, record=True, ticks=TICKS // 4) for k in range(runs)]
    base_events = _median([m.events_per_s for m in plain])
    base_writes = _median([m.writes_per_s for m in plain])
    rows = [
        Row(GROUP, "events/s, 5 nodes", base_events, "events/s", runs, note="no faults, no trace"),
        Row(GROUP, "committed writes/CPU-s, 5 nodes", base_writes, "writes/s", runs),
    ]
    for label, measured, note in (
        ("under faults", faulty, "drop, duplicate, delay 2%; crashes; partitions"),
        ("with trace", traced, "refinement mapping after every step"),
    ):
        events = _median([m.events_per_s for m in measured])
        writes = _median([m.writes_per_s for m in measured])
        rows.append(
            Row(
                GROUP,
                f"events/s, 5 nodes, {label}",
                events,
                "events/s",
                runs,
                baseline="events/s, 5 nodes",
                ratio=events / base_events,
                note=note,
            )
        )
        rows.append(
            Row(
                GROUP,
                f"committed writes/CPU-s, {label}",
                writes,
                "writes/s",
                runs,
                baseline="committed writes/CPU-s, 5 nodes",
                ratio=writes / base_writes,
                note=note,
            )
        )
    return rows
