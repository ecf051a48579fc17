"""Percentiles of measured samples and the verdict on a claimed bound: the part every claim shares.

A claim here is "X is under B" (an election under 2 s, a write replicated under 500 ms, gossip
reaching 99% of nodes under 10 s). A sample is one run's (or one operation's) value with the seed of
the run it came from, or None when the run ended before X happened (censored: the run's cap). The
verdict:

- **holds**: every sample is under B;
- **holds with a different constant**: every sample finished, but some are at or over B; the constant
  that does hold is the largest sample rounded up to two significant digits;
- **does not hold**: some run never finished within its cap (no constant is shown to hold), or
  there is no sample at all.

Each names its witness: the seed of the largest sample (or of the first censored run), so the run
can be replayed. Percentiles are nearest-rank (the smallest sample with at least p% of the samples at
or below it), so every percentile reported is a value some run produced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import attrs

Kind = Literal["holds", "holds with a different constant", "does not hold"]
HOLDS: Kind = "holds"
CONSTANT: Kind = "holds with a different constant"
FAILS: Kind = "does not hold"

PERCENTILES = (50.0, 90.0, 99.0)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile `p` (0 < p <= 100) of `values` (not empty)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def round_up(x: float) -> float:
    """`x` rounded up to two significant digits (2,340 -> 2,400; 512 -> 520; 0.0123 -> 0.013)."""
    if x <= 0:
        return x
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return float(math.ceil(round(x / step, 9)) * step)


@attrs.frozen
class Verdict:
    kind: Kind
    bound: float
    witness: int | None  # the seed of the largest sample, or of the first censored run
    constant: float | None = None  # for CONSTANT: the bound the samples do meet
    over: int = 0  # samples at or over the bound
    censored: int = 0  # runs that never finished
    total: int = 0

    def text(self, unit: str = "ms") -> str:
        """One cell: the verdict and its witness."""
        if self.kind == HOLDS:
            return f"holds (max at seed {self.witness})"
        if self.kind == CONSTANT:
            assert self.constant is not None
            return (
                f"holds with a different constant: under {_num(self.constant)} {unit} "
                f"({self.over} of {self.total} at or over {_num(self.bound)} {unit}; "
                f"max at seed {self.witness})"
            )
        if not self.total:
            return "does not hold: no samples"
        return (
            f"does not hold: {self.censored} of {self.total} never finished (seed {self.witness})"
        )


def verdict(samples: Sequence[tuple[float | None, int]], bound: float) -> Verdict:
    """The verdict on "every sample is under `bound`" (see the module's docstring).
    `samples`: (value or None when censored, seed)."""
    if not samples:  # nothing happened to measure (no leader, say): nothing is shown to hold
        return Verdict(FAILS, bound, None)
    censored = [seed for value, seed in samples if value is None]
    done = [(value, seed) for value, seed in samples if value is not None]
    if censored:
        return Verdict(
            FAILS,
            bound,
            censored[0],
            censored=len(censored),
            total=len(samples),
            over=sum(1 for v, _ in done if v >= bound),
        )
    top, seed = max(done, key=lambda vs: vs[0])
    over = sum(1 for v, _ in done if v >= bound)
    if over == 0:
        return Verdict(HOLDS, bound, seed, total=len(samples))
    constant = round_up(top)
    if constant <= top:  # "under" is strict: 2,400 measured needs a bound above it
        constant = round_up(top * 1.0001)
    return Verdict(CONSTANT, bound, seed, constant=constant, over=over, total=len(samples))


@attrs.frozen
class Summary:
    """A claim's samples summarised: how many, p50/p90/p99/max of those that finished, censored."""

    count: int
    censored: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


def summarize(samples: Sequence[tuple[float | None, int]]) -> Summary:
    done = [v for v, _ in samples if v is not None]
    censored = len(samples) - len(done)
    if not done:
        return Summary(len(samples), censored, None, None, None, None)
    p50, p90, p99 = (percentile(done, p) for p in PERCENTILES)
    return Summary(len(samples), censored, p50, p90, p99, max(done))


def _num(x: float) -> str:
    if x == int(x):
        return f"{int(x):,}"
    return f"{x:,.3g}"
