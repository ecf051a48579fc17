"""What recording an ITF trace costs, for every protocol's simulator: node events per CPU-second of
the same seeded run unrecorded and recorded (the refinement mapping after every spec action, the
trace kept for `sim.trace()`), measured in one run; the ratio is recorded / unrecorded (the goal is
0.5 or better), in CPU time and in wall-clock time. The recorded run also builds its `Trace` once
at the end (what a failing free run does to write its counterexample), inside the measured time.

The runs are the free runs' shapes: faults (loss, duplication, delay, crashes, partitions) and a
client writing, for long enough that the trace holds thousands of steps and an unrecorded run
takes half a CPU-second or more (`BENCH_SCALE`).

Then writing and reading ITF (traces/itf.py): a Raft and a PBFT trace of about 1,000 steps,
written with `itf.dumps` and read back with `itf.loads`: seconds of CPU for each, and the text's
megabytes per second.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.common import Row
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import to_value
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload

GROUP = "Trace recording"
FAULTS = Faults(drop=0.02, duplicate=0.02, delay=0.02, crash=0.2, partition=0.1)


Run = tuple[Simulator[Any], Callable[[], None]]  # the simulator, and what runs it


def _op(n: int) -> object:
    return to_value(Custom(f"k{n % 64}", n))


def _until(sim: Simulator[Any], ticks: int) -> Run:
    """The simulator, and its run until `ticks`."""

    def go() -> None:
        sim.run(until=ticks)

    return sim, go


def _raft(seed: int, record: bool, scale: float = 1) -> Run:
    from meshcheck.impl.raft import raft_cluster

    ticks = int(4000 * scale)
    sim = raft_cluster(
        5,
        seed=seed,
        faults=FAULTS,
        workload=Workload(every=2, make=_op, until=ticks),
        record=record,
    )
    return _until(sim, ticks)


def _bft(cluster: Callable[..., Simulator[Any]], ticks: int, seed: int, record: bool) -> Run:
    """A group of 4 replicas and a client writing every 10 ticks (PBFT, HotStuff)."""
    faults = Faults(drop=0.02, duplicate=0.02, delay=0.02, crash=0.1)
    workload = Workload(every=10, make=_op, until=ticks)
    return _until(cluster(4, seed=seed, faults=faults, workload=workload, record=record), ticks)


def _pbft(seed: int, record: bool, scale: float = 1) -> Run:
    from meshcheck.impl.pbft.simulation import pbft_cluster

    return _bft(pbft_cluster, int(3000 * scale), seed, record)


def _hotstuff(seed: int, record: bool, scale: float = 1) -> Run:
    from meshcheck.impl.hotstuff.simulation import hotstuff_cluster

    return _bft(hotstuff_cluster, int(6000 * scale), seed, record)


def _gossip(seed: int, record: bool, scale: float = 1) -> Run:
    from meshcheck.impl.gossip.simulation import gossip_cluster
    from meshcheck.impl.gossip.simulation import status_workload

    ticks = int(20_000 * scale)
    sim = gossip_cluster(
        5, seed=seed, faults=FAULTS, workload=status_workload(("k1", "k2"), every=20, until=ticks),
        keys=("k1", "k2"), interval=200, record=record,
    )  # fmt: skip
    return _until(sim, ticks)


def _hybrid(seed: int, record: bool, scale: float = 1) -> Run:
    from meshcheck.impl.hybrid.consensus import HybridConsensus

    hc = HybridConsensus(4, seed=seed, faults=Faults(drop=0.02, duplicate=0.02), record=record)

    def go() -> None:
        for k in range(int(120 * scale)):
            hc.propose(Custom(f"k{k % 8}", k))

    return hc.sim, go


def _pysyncobj(seed: int, record: bool, scale: float = 1) -> Run:
    from meshcheck.impl.adapters.pysyncobj import pysyncobj_cluster

    ticks = int(4000 * scale)
    sim = pysyncobj_cluster(
        5, seed=seed, faults=FAULTS, workload=Workload(every=5, make=_op, until=ticks),
        record=record,
    )  # fmt: skip
    return _until(sim, ticks)


# protocol -> (seed, record, scale) -> the run; scale 1 is the benchmark's length
PROTOCOLS: dict[str, Callable[[int, bool, float], Run]] = {
    "raft": _raft,
    "pbft": _pbft,
    "hybrid": _hybrid,
    "gossip": _gossip,
    "hotstuff": _hotstuff,
    "pysyncobj": _pysyncobj,
}


# protocol -> the benchmark's scale: each unrecorded run takes about half a CPU-second or more
# (Raft's and gossip's take a tenth and a twentieth at scale 1, too short for a ratio that is not
# the machine's noise; and Raft's recording cost grows with the run's length, which a short run
# hides)
BENCH_SCALE: dict[str, float] = {"raft": 4, "gossip": 10, "pysyncobj": 2}


def one_run(protocol: str, seed: int, record: bool) -> tuple[float, int, float]:
    """Events per CPU-second of one run, the steps of its trace (0 unrecorded), and events per
    wall-clock second."""
    sim, go = PROTOCOLS[protocol](seed, record, BENCH_SCALE.get(protocol, 1))
    start, wall = time.process_time(), time.perf_counter()
    go()
    steps = len(sim.trace().steps)
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    return sim.events / cpu, steps, sim.events / wall


ITF_SCALE = 0.3  # of scale 1: about 1,000 trace steps for Raft and PBFT
ITF_GROUP = "ITF write and read"


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def itf_rows(runs: int = 3) -> list[Row]:
    """Seconds to write and read back a ~1,000-step trace of Raft and of PBFT, and MB/s."""
    from meshcheck.traces import itf

    rows: list[Row] = []
    for protocol in ("raft", "pbft"):
        sim, go = PROTOCOLS[protocol](1, True, ITF_SCALE)
        go()
        trace = sim.trace()
        text = itf.dumps(trace)
        mb = len(text) / 1e6
        what = f"{len(trace.steps)} steps, {mb:.1f} MB"
        for name, fn in (
            ("write", lambda t=trace: itf.dumps(t)),
            ("read", lambda x=text: itf.loads(x)),
        ):
            seconds = statistics.median(_cpu(fn) for _ in range(runs))
            rows.append(Row(ITF_GROUP, f"{protocol}: ITF {name}", seconds, "s", runs, note=what))
            rows.append(Row(ITF_GROUP, f"{protocol}: ITF {name}, MB/s", mb / seconds, "MB/s", runs))
    return rows


def bench(runs: int = 5) -> list[Row]:
    rows: list[Row] = []
    for protocol in PROTOCOLS:
        plain: list[float] = []
        plain_wall: list[float] = []
        recorded: list[float] = []
        recorded_wall: list[float] = []
        steps: list[int] = []
        for k in range(runs):  # interleaved, so that the machine's load falls on both alike
            # a recorded run's trace is freed only by a full collection (the simulator and its
            # plug-in refer to each other): collected here, not inside the next run's timing
            gc.collect()
            rate, _, wall = one_run(protocol, k, False)
            plain.append(rate)
            plain_wall.append(wall)
            gc.collect()
            rate, n, wall = one_run(protocol, k, True)
            recorded.append(rate)
            recorded_wall.append(wall)
            steps.append(n)
        note = f"median {statistics.median(steps):.0f} trace steps"
        for unit, base, rec in (
            ("events/s", plain, recorded),
            ("events/s wall", plain_wall, recorded_wall),
        ):
            name = f"{protocol}: {unit}"
            b, r = statistics.median(base), statistics.median(rec)
            rows.append(Row(GROUP, name, b, unit, runs, note="unrecorded"))
            rows.append(
                Row(
                    GROUP,
                    f"{protocol}: {unit}, recorded",
                    r,
                    unit,
                    runs,
                    baseline=name,
                    ratio=r / b,
                    note=note,
                )
            )
    return rows + itf_rows()
