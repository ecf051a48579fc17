"""PySyncObj under the simulator, through the adapter (impl/adapters/pysyncobj.py): simulated node
events per CPU-second of a 5-node cluster with a client writing every 5 ticks, plain (no trace, no
log), with the ITF trace recorded (the refinement mapping after every step), and with the NDJSON
log of trace validation written (to memory), and with that log also validated against
specs/RaftPipelined.tla, Raft.tla with the pipelined AppendEntries PySyncObj sends
(traces/logs/validate.py: events over run plus validation CPU time). The plain run is the baseline
of the others. The validated runs are calm (no loss, crash or partition, FIFO links), so that
every one of them validates and the two rows time the same work (docs/pysyncobj.md).
"""

from __future__ import annotations

import json
import statistics
import time

from bench.common import Row
from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.adapters.pysyncobj import pysyncobj_cluster
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import to_value
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Workload
from meshcheck.traces.logs.format import loads
from meshcheck.traces.logs.validate import validate

GROUP = "PySyncObj sim"
TICKS = 4_000
SPEC = "RaftPipelined"  # the spec PySyncObj's logs are validated against
FAULTS = Faults(drop=0.02, duplicate=0.02, delay=0.02, crash=0.2, partition=0.1)


def _op(n: int) -> object:
    return to_value(Custom(f"k{n % 64}", n))


def one_run(*, seed: int, record: bool = False, log: bool = False) -> float:
    sim = pysyncobj_cluster(
        5,
        seed=seed,
        faults=FAULTS,
        workload=Workload(every=5, make=_op, until=TICKS),
        record=record,
        log=NdjsonLog(f"seed-{seed}") if log else None,
    )
    start = time.process_time()
    sim.run(until=TICKS)
    cpu = time.process_time() - start
    return sim.events / cpu


def validated_run(*, seed: int, validate_log: bool) -> float:
    """Events per CPU-second of a calm 3-node run (the validation model's servers) writing its
    NDJSON log, with the log validated too when `validate_log`."""
    log = NdjsonLog(f"seed-{seed}")
    sim = pysyncobj_cluster(
        3, seed=seed, workload=Workload(every=5, make=_op, until=TICKS), record=False, log=log,
        latency=(5, 5),
    )  # fmt: skip
    start = time.process_time()
    sim.run(until=TICKS)
    if validate_log:
        records = [loads(json.dumps(r), f"{r['node']}:{k + 1}") for k, r in enumerate(log.records)]
        verdict = validate(records, spec=SPEC)
        assert verdict.ok, verdict.render()
    return sim.events / (time.process_time() - start)


def bench(runs: int = 5) -> list[Row]:
    plain = statistics.median(one_run(seed=k) for k in range(runs))
    rows = [
        Row(GROUP, "events/s, 5 nodes", plain, "events/s", runs, note="faults; no trace, no log")
    ]
    for label, kwargs in (
        ("with ITF trace", {"record": True}),
        ("with NDJSON log", {"log": True}),
    ):
        rate = statistics.median(one_run(seed=k, **kwargs) for k in range(runs))
        rows.append(
            Row(
                GROUP,
                f"events/s, 5 nodes, {label}",
                rate,
                "events/s",
                runs,
                baseline="events/s, 5 nodes",
                ratio=rate / plain,
            )
        )
    validate((), spec=SPEC)  # TLC's start, once, outside the measured runs
    logged = statistics.median(validated_run(seed=k, validate_log=False) for k in range(runs))
    checked = statistics.median(validated_run(seed=k, validate_log=True) for k in range(runs))
    rows.append(
        Row(GROUP, "events/s, 3 nodes calm, NDJSON log", logged, "events/s", runs, note="no faults")
    )
    rows.append(
        Row(
            GROUP,
            "events/s, 3 nodes calm, NDJSON + validate",
            checked,
            "events/s",
            runs,
            baseline="events/s, 3 nodes calm, NDJSON log",
            ratio=checked / logged,
        )
    )
    return rows
