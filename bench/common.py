"""What every benchmark returns, and how the table is printed.

A benchmark measures a quantity several times and reports the median. Where it has a baseline (the same
work done another way, measured in the same run on the same machine), the ratio is baseline / subject
for times and subject / baseline for rates, so a ratio above 1 always means "faster than the baseline".
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from collections.abc import Sequence

import attrs

from meshcheck import table


@attrs.frozen
class Row:
    group: str  # e.g. "TLC", "Stepper", "Raft sim"
    name: str  # what was measured
    median: float
    unit: str  # "s", "steps/s", ...
    runs: int
    baseline: str | None = None  # the name of the row this one is compared with
    ratio: float | None = None
    note: str = ""


def median_of(runs: int, fn: Callable[[], float]) -> float:
    """The median of `runs` calls of fn (each returns one measurement)."""
    return statistics.median(fn() for _ in range(runs))


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of fn takes (process-wide wall clock of this run)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def format_table(rows: Sequence[Row]) -> str:
    header = ("group", "benchmark", "median", "unit", "runs", "vs baseline")
    body = [
        (
            r.group,
            r.name,
            _num(r.median),
            r.unit,
            str(r.runs),
            f"{r.ratio:.2f}x vs {r.baseline}" if r.ratio is not None else "",
        )
        for r in rows
    ]
    return table.format_table(header, body, right=(2, 4))


def _num(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"
