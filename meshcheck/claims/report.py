"""What every claim check prints: a progress line while it runs, and one summary table.

The gossip claims use the same pieces (`Ticker`, `Row`, `table`), so every `meshcheck claims ...`
subcommand reports alike: claim, the condition measured under, how many samples, p50/p90/p99/max of
those, and the verdict with its witness seed (meshcheck/claims/verdict.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import IO

import attrs

from meshcheck import table
from meshcheck.claims.verdict import Summary
from meshcheck.claims.verdict import Verdict
from meshcheck.claims.verdict import summarize
from meshcheck.claims.verdict import verdict


class Ticker:
    """A progress line on stderr: rewritten in place on a terminal (at most 5 times a second),
    otherwise printed every `every` seconds so that a log shows the run is alive."""

    def __init__(self, label: str, *, stream: IO[str] | None = None, every: float = 10.0) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self.started = time.monotonic()
        self._last = 0.0 if self.tty else self.started
        self._shown = False

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last < (0.2 if self.tty else self.every):
            return
        self._last = now
        line = f"{self.label}: {text}, {now - self.started:.0f} s"
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
            self._shown = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        """Clear the in-place line before the result is printed."""
        if self.tty and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


@attrs.frozen
class Row:
    """One claim under one condition, judged."""

    claim: str
    condition: str
    summary: Summary
    verdict: Verdict
    unit: str = "ms"


def judge(
    claim: str,
    condition: str,
    samples: Sequence[tuple[float | None, int]],
    bound: float,
    unit: str = "ms",
) -> Row:
    return Row(claim, condition, summarize(samples), verdict(samples, bound), unit)


def _value(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 10 or x == int(x) else f"{x:.2f}"


def format_rows(rows: Sequence[Row]) -> str:
    """Per claim, its name and a table of its conditions (samples, percentiles, verdict); a verdict
    too long for the line (table.WIDE) is printed whole under its claim's table."""
    header = ("condition", "samples", "p50", "p90", "p99", "max", "verdict")
    parts = []
    for claim in dict.fromkeys(r.claim for r in rows):
        body = [
            (
                r.condition,
                f"{r.summary.count:,}",
                _value(r.summary.p50),
                _value(r.summary.p90),
                _value(r.summary.p99),
                _value(r.summary.max),
                r.verdict.text(r.unit),
            )
            for r in rows
            if r.claim == claim
        ]
        fitted = table.format_fitted(header, body, right=(1, 2, 3, 4, 5), label=labelled(claim))
        parts.append(f"{claim}\n{fitted}")
    return "\n\n".join(parts)


def labelled(claim: str) -> Callable[[Sequence[str]], str]:
    """How a claim's verdict printed under its table names its row: the claim, the condition."""
    return lambda row: f"{claim}, {row[0]}"
