"""What every benchmark returns, and how the table is printed.

A benchmark measures a quantity several times and reports the median. Where it has a baseline (the same
work done another way, measured in the same run on the same machine), the ratio is baseline / subject
for times and subject / baseline for rates, so a ratio above 1 always means "faster than the baseline".
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import attrs


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
    body = []
    for r in rows:
        vs = f"{r.ratio:.2f}x vs {r.baseline}" if r.ratio is not None else ""
        body.append((r.group, r.name, _num(r.median), r.unit, str(r.runs), vs))
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=False)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in body:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def _num(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"
