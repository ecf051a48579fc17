"""How `meshcheck validate`'s search grows as a log says less (traces/logs/validate.py, docs/logs.md).

Workload: three free runs of impl/raft (3 nodes, the budgets of models/Logs.cfg) under drops,
duplications (one message in five), delays, crashes and partitions, 1,200 ticks each; the logs
their nodes would write (traces/logs/reference.py) with every variable a node has, then with one
(matchIndex) and three (matchIndex, nextIndex, votesGranted) of them left out, then with every
variable but no receive naming the message it took (a "blind" log: the validator must infer
which message each receive took, and which were duplicated). Baseline: the full log, whose
frontier stays at a state or two. A ratio below 1: slower than the full log. Each row names the
largest frontier (candidate spec states kept at once) over the three runs.
"""

from __future__ import annotations

import statistics
import time

import attrs

from bench.common import Row
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.free_runs import cluster
from meshcheck.property_tests.raft.free_runs import run
from meshcheck.property_tests.raft.validation import validation_model
from meshcheck.traces.logs import LogRecord
from meshcheck.traces.logs import merge
from meshcheck.traces.logs import reference
from meshcheck.traces.logs.validate import Validator
from meshcheck.traces.logs.validate import stepper_for

GROUP = "Logs"
SEEDS = (2, 4, 7)
ONE = ("matchIndex",)
THREE = ("matchIndex", "nextIndex", "votesGranted")
VARIANTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "every variable": (reference.FULL, True),
    "1 hidden (matchIndex)": (tuple(v for v in reference.FULL if v not in ONE), True),
    "3 hidden (matchIndex, nextIndex, votesGranted)": (
        tuple(v for v in reference.FULL if v not in THREE),
        True,
    ),
    "every variable, receives name no message": (reference.FULL, False),
}


def logs(variables: tuple[str, ...], named: bool) -> list[list[LogRecord]]:
    nodes, values, budget = validation_model()
    out = []
    for seed in SEEDS:
        schedule = Schedule(
            seed=seed, ticks=1200, drop=0.05, duplicate=0.2, delay=0.1, crash=0.1, partition=0.1
        )
        sim = cluster(
            schedule,
            nodes,
            frozenset(),
            make=lambda n: values[(n - 1) % len(values)],
            budget=budget,
        )
        run(sim, schedule, schedule.ticks)
        records = merge(list(reference.records(sim.trace(), "b", variables=variables).values()))
        if not named:
            records = [
                attrs.evolve(r, params={k: v for k, v in r.params.items() if k != "m"})
                if r.action.startswith("Handle")
                else r
                for r in records
            ]
        out.append(records)
    return out


def measure(runs: int, variables: tuple[str, ...], named: bool) -> tuple[float, int, int]:
    """(steps per second, median of runs; the largest frontier; records) over the three logs."""
    batch = logs(variables, named)
    records = sum(len(r) for r in batch)
    rates, largest = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        for rs in batch:
            verdict = Validator(stepper_for("Raft")).run(rs, budget=300)
            assert verdict.verdict == "valid", verdict.render()
            largest = max(largest, verdict.frontier)
        rates.append(records / (time.perf_counter() - start))
    return statistics.median(rates), largest, records


def bench(runs: int) -> list[Row]:
    Validator(stepper_for("Raft"))  # load TLC outside the measurements
    rows = []
    base: float | None = None
    for name, (variables, named) in VARIANTS.items():
        rate, largest, records = measure(runs, variables, named)
        base = rate if base is None else base
        rows.append(
            Row(
                GROUP,
                f"validate, {name}: steps/s (largest frontier {largest}, {records} records)",
                rate,
                "steps/s",
                runs,
                baseline=None if rate == base else "every variable",
                ratio=None if rate == base else rate / base,
            )
        )
    return rows
