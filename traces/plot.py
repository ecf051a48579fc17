"""Small SVG plots for measured claims: line plots and CDFs, one or more panels in one picture.

Hand-written SVG, as traces/timeline/svg.py and traces/history/svg.py: self-contained (generic font
families, one inline <style>, no scripts or remote resources), so GitHub and the documentation site show it and
no plotting library is needed. A figure is a grid of `Panel`s; a panel has linear or log axes, any
number of `Series` (a polyline, optionally with point markers and a dashed stroke) and reference
`Mark`s (a claimed bound as a dashed line with its label) and shaded `Band`s (an interval of x, such
as the time a fault lasted, as Jepsen shades its nemesis); the legend sits under each panel, so it
never covers a curve. A series drawn as points only (`line=False`) is a scatter.

Read back by tests with xml.etree: every series is a `<g class="series" data-label=...>` holding one
`<path>` (and a `<circle>` per point when marked), every mark a `<g class="mark" data-value=...>`,
every band a `<g class="band" data-start=... data-end=...>`, every panel a
`<g class="panel" data-title=...>`.

`cdf(values)` gives the points of an empirical CDF (a step curve), `percentile_points` the points
of a percentile curve (x: percentile, y: value).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Sequence
from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

import attrs

# Okabe and Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/), black last
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

PANEL_W, PANEL_H = 460, 300  # the plot area of one panel, pixels
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 34, 44  # room around the plot area: tick labels, titles
LEGEND_ROW = 18
FIGURE_TOP = 40  # the figure's title and note

STYLE = """
text { font-family: sans-serif; font-size: 11px; fill: #263238; }
.title { font-size: 15px; font-weight: bold; }
.note { font-size: 11px; fill: #546e7a; }
.panel-title { font-size: 13px; font-weight: bold; }
.frame { fill: none; stroke: #37474f; stroke-width: 1; }
.grid { stroke: #eceff1; stroke-width: 1; }
.tick { font-size: 10px; fill: #546e7a; }
.series path { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
.mark line { stroke: #b71c1c; stroke-width: 1.2; stroke-dasharray: 6 4; }
.band rect { fill: #ffe0b2; fill-opacity: 0.55; }
.band text { fill: #8d6e63; font-size: 9px; }
.mark text { fill: #b71c1c; font-size: 10px; }
"""


def _points(points: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    return tuple(points)


def _series(series: Iterable[Series]) -> tuple[Series, ...]:
    return tuple(series)


def _marks(marks: Iterable[Mark]) -> tuple[Mark, ...]:
    return tuple(marks)


def _bands(bands: Iterable[Band]) -> tuple[Band, ...]:
    return tuple(bands)


@attrs.frozen
class Series:
    """One curve: `points` (x, y) in drawing order; `color` None: the palette's next."""

    label: str
    points: tuple[tuple[float, float], ...] = attrs.field(converter=_points)
    color: str | None = None
    dashed: bool = False
    markers: bool = False
    line: bool = True  # False: the points alone (a scatter; give it markers)


@attrs.frozen
class Mark:
    """A reference line: at x = value (axis "x", vertical) or y = value (axis "y", horizontal)."""

    value: float
    label: str
    axis: str = "x"

    def __attrs_post_init__(self) -> None:
        if self.axis not in ("x", "y"):
            raise ValueError(f"a mark's axis is 'x' or 'y', not {self.axis!r}")


@attrs.frozen
class Band:
    """A shaded interval of x, from `start` to `end`, labelled at its top."""

    start: float
    end: float
    label: str = ""


@attrs.frozen
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: tuple[Series, ...] = attrs.field(converter=_series)
    xlog: bool = False
    ylog: bool = False
    xrange: tuple[float, float] | None = None  # None: from the data (and the marks)
    yrange: tuple[float, float] | None = None
    marks: tuple[Mark, ...] = attrs.field(default=(), converter=_marks)
    bands: tuple[Band, ...] = attrs.field(default=(), converter=_bands)


# -- data helpers -------------------------------------------------------------------------------------


def cdf(values: Sequence[float], *, max_points: int = 400) -> tuple[tuple[float, float], ...]:
    """The empirical CDF of `values` as a step curve: for each distinct value v, (v, F before v) and
    (v, F(v)), where F(v) is the share of values at or below v. More than `max_points` distinct
    values: the curve through `max_points` evenly spaced quantiles (the steps are then too small to
    see)."""
    if not values:
        return ()
    ordered = sorted(values)
    n = len(ordered)
    steps: list[tuple[float, float]] = []  # (value, share at or below it), one per distinct value
    for i, v in enumerate(ordered):
        if i + 1 < n and ordered[i + 1] == v:
            continue
        steps.append((v, (i + 1) / n))
    if len(steps) > max_points:
        picked = [steps[round(k * (len(steps) - 1) / (max_points - 1))] for k in range(max_points)]
        return tuple(picked)
    out: list[tuple[float, float]] = []
    before = 0.0
    for v, share in steps:
        out.append((v, before))
        out.append((v, share))
        before = share
    return tuple(out)


def percentile_points(
    values: Sequence[float], ps: Sequence[float] = (50, 75, 90, 95, 99, 99.9, 100)
) -> tuple[tuple[float, float], ...]:
    """(p, nearest-rank p-th percentile of `values`) for each p."""
    if not values:
        return ()
    ordered = sorted(values)
    n = len(ordered)
    return tuple((p, ordered[max(0, math.ceil(p / 100 * n) - 1)]) for p in ps)


# -- axes ---------------------------------------------------------------------------------------------


@attrs.frozen
class _Axis:
    lo: float
    hi: float
    log: bool

    def frac(self, v: float) -> float:
        if self.log:
            return (math.log10(v) - math.log10(self.lo)) / (
                math.log10(self.hi) - math.log10(self.lo)
            )
        return (v - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[tuple[float, str]]:
        if self.log:
            return _log_ticks(self.lo, self.hi)
        return _linear_ticks(self.lo, self.hi)


def _nice_step(span: float, target: int = 6) -> float:
    raw = span / target
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power  # pragma: no cover - the loop always returns


def _label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 and v == int(v):
        return f"{int(v):,}"
    if v == int(v):
        return str(int(v))
    return f"{v:g}"


def _linear_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    step = _nice_step(hi - lo)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append((v, _label(round(v, 10))))
        v += step
    return out


def _log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    out = []
    decades = math.log10(hi) - math.log10(lo)
    multiples = (1, 2, 5) if decades <= 4 else (1,)
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in multiples:
            v = m * 10.0**e
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                out.append((v, _label(v)))
    return out


def _range(
    values: list[float], given: tuple[float, float] | None, log: bool, what: str
) -> tuple[float, float]:
    if given is not None:
        lo, hi = given
    else:
        usable = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
        if not usable:
            lo, hi = (1.0, 10.0) if log else (0.0, 1.0)
        else:
            lo, hi = min(usable), max(usable)
        if log:
            lo, hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
        else:
            lo = min(lo, 0.0) if lo >= 0 else lo
            if hi == lo:
                hi = lo + 1.0
            step = _nice_step(hi - lo)
            hi = math.ceil(hi / step - 1e-9) * step
    if log and lo <= 0:
        raise ValueError(f"a log {what} axis needs a positive range, not {lo}..{hi}")
    if not hi > lo:
        raise ValueError(f"the {what} range must grow: {lo}..{hi}")
    return lo, hi


# -- rendering ----------------------------------------------------------------------------------------


def _panel_height(panel: Panel) -> int:
    return TOP + PANEL_H + BOTTOM + LEGEND_ROW * (len(panel.series) + 1)


def _color(series: Series, index: int) -> str:
    return series.color or PALETTE[index % len(PALETTE)]


def _tick(
    start: tuple[float, float],
    end: tuple[float, float],
    at: tuple[float, float],
    anchor: str,
    text: str,
) -> list[str]:
    """A tick's grid line across the panel and its label."""
    (x1, y1), (x2, y2), (x, y) = start, end, at
    return [
        f'<line class="grid" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>',
        f'<text class="tick" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>',
    ]


def _render_panel(panel: Panel, ox: float, oy: float, clip_id: str) -> list[str]:
    xs = [x for s in panel.series for x, _ in s.points] + [
        m.value for m in panel.marks if m.axis == "x"
    ]
    ys = [y for s in panel.series for _, y in s.points] + [
        m.value for m in panel.marks if m.axis == "y"
    ]
    xa = _Axis(*_range(xs, panel.xrange, panel.xlog, "x"), panel.xlog)
    ya = _Axis(*_range(ys, panel.yrange, panel.ylog, "y"), panel.ylog)
    x0, y0 = ox + LEFT, oy + TOP  # the plot area's top-left corner

    def px(x: float) -> float:
        return x0 + xa.frac(x) * PANEL_W

    def py(y: float) -> float:
        return y0 + (1 - ya.frac(y)) * PANEL_H

    out = [f'<g class="panel" data-title={quoteattr(panel.title)}>']
    out.append(
        f'<clipPath id="{clip_id}"><rect x="{x0:.1f}" y="{y0:.1f}" width="{PANEL_W}" '
        f'height="{PANEL_H}"/></clipPath>'
    )
    out.append(
        f'<text class="panel-title" x="{x0:.1f}" y="{oy + TOP - 12:.1f}">{escape(panel.title)}</text>'
    )
    for v, text in xa.ticks():
        x = px(v)
        out += _tick((x, y0), (x, y0 + PANEL_H), (x, y0 + PANEL_H + 14), "middle", text)
    for v, text in ya.ticks():
        y = py(v)
        out += _tick((x0, y), (x0 + PANEL_W, y), (x0 - 6, y + 3), "end", text)
    out.append(
        f'<rect class="frame" x="{x0:.1f}" y="{y0:.1f}" width="{PANEL_W}" height="{PANEL_H}"/>'
    )
    out.append(
        f'<text x="{x0 + PANEL_W / 2:.1f}" y="{y0 + PANEL_H + 32:.1f}" text-anchor="middle">'
        f"{escape(panel.xlabel)}</text>"
    )
    cy = y0 + PANEL_H / 2
    out.append(
        f'<text x="{ox + 14:.1f}" y="{cy:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 {ox + 14:.1f} {cy:.1f})">{escape(panel.ylabel)}</text>'
    )
    for k, band in enumerate(panel.bands):
        lo, hi = max(band.start, xa.lo), min(band.end, xa.hi)
        if lo >= hi:
            continue
        left, right = px(lo), px(hi)
        out.append(
            f'<g class="band" data-start="{band.start:g}" data-end="{band.end:g}">'
            f'<rect x="{left:.1f}" y="{y0:.1f}" width="{right - left:.1f}" height="{PANEL_H}"/>'
            f'<text x="{left + 2:.1f}" y="{y0 + 10 + 10 * (k % 3):.1f}">{escape(band.label)}</text>'
            "</g>"
        )
    for mark in panel.marks:
        if mark.axis == "x":
            if not xa.lo <= mark.value <= xa.hi:
                continue
            x = px(mark.value)
            line = f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y0 + PANEL_H:.1f}"/>'
            label = f'<text x="{x - 4:.1f}" y="{y0 + 12:.1f}" text-anchor="end">{escape(mark.label)}</text>'
        else:
            if not ya.lo <= mark.value <= ya.hi:
                continue
            y = py(mark.value)
            line = f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x0 + PANEL_W:.1f}" y2="{y:.1f}"/>'
            label = f'<text x="{x0 + 6:.1f}" y="{y - 4:.1f}">{escape(mark.label)}</text>'
        out.append(f'<g class="mark" data-value="{mark.value:g}">{line}{label}</g>')
    for index, series in enumerate(panel.series):
        color = _color(series, index)
        points = [
            (x, y)
            for x, y in series.points
            if math.isfinite(x)
            and math.isfinite(y)
            and (x > 0 or not xa.log)
            and (y > 0 or not ya.log)
        ]
        d = " ".join(
            f"{'M' if k == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for k, (x, y) in enumerate(points)
        )
        dash = ' stroke-dasharray="7 4"' if series.dashed else ""
        out.append(
            f'<g class="series" data-label={quoteattr(series.label)} clip-path="url(#{clip_id})">'
            f"<title>{escape(series.label)}</title>"
            f'<path d="{d if series.line else ""}" stroke="{color}"{dash}/>'
        )
        if series.markers:
            out += [
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>'
                for x, y in points
            ]
        out.append("</g>")
    ly = y0 + PANEL_H + BOTTOM + 4
    for index, series in enumerate(panel.series):
        color = _color(series, index)
        y = ly + LEGEND_ROW * index
        dash = ' stroke-dasharray="7 4"' if series.dashed else ""
        out.append(
            f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x0 + 28:.1f}" y2="{y:.1f}" stroke="{color}" '
            f'stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{x0 + 36:.1f}" y="{y + 4:.1f}">{escape(series.label)}</text>')
    out.append("</g>")
    return out


def render(panels: Sequence[Panel], *, title: str, note: str = "", columns: int = 2) -> str:
    """The figure: `panels` in a grid of `columns`, a title and a one-line note above."""
    if not panels:
        raise ValueError("a figure needs at least one panel")
    columns = max(1, min(columns, len(panels)))
    rows = [list(panels[i : i + columns]) for i in range(0, len(panels), columns)]
    cell_w = LEFT + PANEL_W + RIGHT
    heights = [max(_panel_height(p) for p in row) for row in rows]
    width = cell_w * columns + 20
    height = FIGURE_TOP + sum(heights) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f"<style>{STYLE}</style>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text class="title" x="12" y="20">{escape(title)}</text>',
    ]
    if note:
        out.append(f'<text class="note" x="12" y="35">{escape(note)}</text>')
    oy = float(FIGURE_TOP)
    k = 0
    for row, h in zip(rows, heights, strict=True):
        for col, panel in enumerate(row):
            out += _render_panel(panel, 10 + col * cell_w, oy, f"clip{k}")
            k += 1
        oy += h
    out.append("</svg>")
    return "\n".join(out) + "\n"
