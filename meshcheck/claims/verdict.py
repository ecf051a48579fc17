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

from meshcheck import words

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


# -- growth claims: "X is O(log N)" ---------------------------------------------------------------------


@attrs.frozen
class Fit:
    """Least-squares fits of samples y against the size N: y = a + b log2 N, and y = c + d N.
    `rss_*`: the residual sums of squares; `r2_*`: the share of the variance each explains."""

    a: float
    b: float
    c: float
    d: float
    rss_log: float
    rss_linear: float
    r2_log: float
    r2_linear: float
    sizes: tuple[int, ...]

    @property
    def logarithmic(self) -> bool:
        """The logarithmic fit leaves less unexplained than the linear one."""
        return self.rss_log < self.rss_linear

    def text(self, unit: str = "") -> str:
        u = f" {unit}" if unit else ""
        return (
            f"{self.a:.2f} + {self.b:.2f}{u} x log2 N (R2 {self.r2_log:.3f}) against "
            f"{self.c:.2f} + {self.d:.2g}{u} x N (R2 {self.r2_linear:.3f})"
        )


def _line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Intercept, slope and residual sum of squares of the least-squares line through (x, y)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    icept = my - slope * mx
    rss = sum((y - icept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return icept, slope, rss


def fit_log(samples: Sequence[tuple[int, float]]) -> Fit:
    """Fit (N, y) samples (at least two sizes) both ways (see `Fit`)."""
    sizes = tuple(sorted({n for n, _ in samples}))
    if len(sizes) < 2:
        raise ValueError("a growth fit needs samples at two sizes at least")
    if min(sizes) < 2:
        raise ValueError("log2 N needs N of 2 or more")
    ys = [y for _, y in samples]
    a, b, rss_log = _line([math.log2(n) for n, _ in samples], ys)
    c, d, rss_lin = _line([float(n) for n, _ in samples], ys)
    my = sum(ys) / len(ys)
    tss = sum((y - my) ** 2 for y in ys)
    r2 = (lambda rss: 1.0 - rss / tss) if tss else (lambda rss: 1.0)
    return Fit(a, b, c, d, rss_log, rss_lin, r2(rss_log), r2(rss_lin), sizes)


@attrs.frozen
class GrowthVerdict:
    """The verdict on "y is O(log N)" over the sizes measured, and the constant that held there:
    every sample is at most `constant` x log2 N (`witness`: the seed of the sample that sets it,
    at size `at`)."""

    kind: Kind
    fit: Fit | None
    constant: float | None
    witness: int | None
    at: int | None
    censored: int = 0

    def text(self) -> str:
        if self.fit is None or self.constant is None:
            return (
                f"does not hold: {words.count(self.censored, 'run')} never finished (seed {self.witness}, "
                f"N = {self.at})"
                if self.censored
                else "does not hold: samples at fewer than three sizes"
            )
        if self.kind == HOLDS:
            return (
                f"holds: logarithmic fits better than linear; at most {self.constant:.2f} x "
                f"log2 N (max at seed {self.witness}, N = {self.at:,})"
            )
        return (
            f"does not hold: linear fits better than logarithmic (largest at seed "
            f"{self.witness}, N = {self.at:,})"
        )


def log_verdict(samples: Sequence[tuple[int, float | None, int]]) -> GrowthVerdict:
    """The verdict on "y is O(log N)" from (N, y or None when censored, seed) samples.

    A finite set of sizes cannot prove an asymptotic bound; what is judged is the shape over the
    sizes measured: **holds** when y = a + b log2 N fits the samples better (smaller residual sum
    of squares) than y = c + d N, with the constant max(y / log2 N) that held at every size and its
    witness; **does not hold** when the linear fit is better (witness: the largest sample at the
    largest size), when a run never finished (the first censored one), or with samples at fewer
    than three sizes (two points fit any line: the comparison would say nothing)."""
    censored = [(n, seed) for n, y, seed in samples if y is None]
    if censored:
        n, seed = censored[0]
        return GrowthVerdict(FAILS, None, None, seed, n, censored=len(censored))
    done = [(n, y, seed) for n, y, seed in samples if y is not None]
    if len({n for n, _, _ in done}) < 3:
        return GrowthVerdict(FAILS, None, None, None, None)
    fit = fit_log([(n, y) for n, y, _ in done])
    n, y, seed = max(done, key=lambda s: s[1] / math.log2(s[0]))
    constant = y / math.log2(n)
    if fit.logarithmic:
        return GrowthVerdict(HOLDS, fit, constant, seed, n)
    top = max(n for n, _, _ in done)
    _, _, worst = max((s for s in done if s[0] == top), key=lambda s: s[1])
    return GrowthVerdict(FAILS, fit, constant, worst, top)
