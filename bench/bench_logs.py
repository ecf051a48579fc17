"""How fast `meshcheck validate` checks an NDJSON log (traces/logs/, docs/logs.md).

Workload: one free run of impl/raft (3 nodes, the budgets of models/Logs.cfg, the validator's
model: a run this long drops more messages than models/Validate.cfg allows) under drops,
duplicates, delays, crashes and partitions, long enough for its nodes to take EVENTS steps; the
logs those nodes would write (traces/logs/reference.py), merged, cut to exactly EVENTS records:
with every variable a node has (full) and with the five most implementations expose (partial:
currentTerm, votedFor, role, log, commitIndex). Neither says which messages the network dropped
or duplicated: the validator infers those steps.

Baseline: trace validation of the same run's first steps, up to its EVENTS-th node step
(property_tests/validation.py, as the property test runs it but under models/Logs.cfg: every
variable of the spec known at every step, the network's steps included), measured once in the same
process (it takes about ten times as long as the log's). A ratio above 1:
the log is validated faster than the full trace is.

The first validation also loads TLC (a second or more); it is measured apart, not in the median.
"""

from __future__ import annotations

import statistics
import time
from importlib import resources
from pathlib import Path

import attrs

from bench.common import Row
from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.raft import Budget
from meshcheck.property_tests import validation
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.free_runs import cluster
from meshcheck.property_tests.raft.free_runs import run
from meshcheck.property_tests.raft.validation import VALIDATION
from meshcheck.property_tests.raft.validation import validation_model
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.traces.logs import format as logformat
from meshcheck.traces.logs import reference
from meshcheck.traces.logs.validate import SPECS
from meshcheck.traces.logs.validate import Validator
from meshcheck.traces.logs.validate import Verdict
from meshcheck.traces.logs.validate import stepper_for

GROUP = "Logs"
EVENTS = 10_000
SCHEDULE = Schedule(
    seed=5, ticks=90_000, drop=0.05, duplicate=0.1, delay=0.1, crash=0.3, partition=0.3
)


def workload() -> Trace:
    """The run's trace up to its EVENTS-th node step (the hidden network steps not counted)."""
    nodes, values, _ = validation_model()
    constants = read_cfg(logs_model()).values()
    budget = Budget(
        fault=constants["MaxFaults"],
        restart=constants["MaxRestarts"],
        drop=constants["MaxDrops"],
        duplicate=constants["MaxDuplicates"],
        snapshot=constants["MaxSnapshots"],
    )
    sim = cluster(
        SCHEDULE, nodes, frozenset(), make=lambda n: values[(n - 1) % len(values)], budget=budget
    )
    run(sim, SCHEDULE, SCHEDULE.ticks)
    trace = sim.trace()
    taken = 0
    for k, step in enumerate(trace.steps):
        if step.action not in reference.HIDDEN and step.action != INIT:
            taken += 1
            if taken == EVENTS:
                return attrs.evolve(trace, steps=trace.steps[: k + 1])
    raise AssertionError(f"the run took {taken} node steps, fewer than {EVENTS}")


def logs_model() -> Path:
    (_, (package, path)) = SPECS["Raft"]
    return Path(str(resources.files(package).joinpath(path)))


def logged(trace: Trace, variables: tuple[str, ...]) -> list[logformat.LogRecord]:
    records = logformat.merge(list(reference.records(trace, "bench", variables=variables).values()))
    assert len(records) == EVENTS, len(records)
    return records


def _validate(records: list[logformat.LogRecord]) -> tuple[float, Verdict]:
    start = time.perf_counter()
    verdict = Validator(stepper_for("Raft")).run(records)
    return time.perf_counter() - start, verdict


def _trace_validation(trace: Trace) -> float:
    start = time.perf_counter()
    bad = validation.first_bad_step(trace, stepper_for("Raft"), VALIDATION)
    seconds = time.perf_counter() - start
    assert bad is None, bad
    return seconds


def bench(runs: int) -> list[Row]:
    trace = workload()
    logs = {"full": logged(trace, reference.FULL), "partial": logged(trace, reference.PARTIAL)}
    _validate(logs["partial"][:50])  # load TLC
    _trace_validation(attrs.evolve(trace, steps=trace.steps[:50]))
    base = _trace_validation(trace)  # once: it takes ten times as long as a log
    rows = []
    for name, records in logs.items():
        measured = [_validate(records) for _ in range(runs)]
        seconds = statistics.median(t for t, _ in measured)
        verdict = measured[0][1]
        rows.append(
            Row(
                GROUP,
                f"validate a {EVENTS:,}-event Raft log, {name} state ({verdict.verdict}, "
                f"{verdict.dropped} messages dropped, {verdict.hidden} network steps inferred)",
                seconds,
                "s",
                runs,
                baseline=f"trace validation of the run's {len(trace.steps):,} steps (1 run)",
                ratio=base / seconds,
            )
        )
        rows.append(
            Row(
                GROUP,
                f"validate, {name} state: steps per second",
                EVENTS / seconds,
                "steps/s",
                runs,
            )
        )
    return rows
