"""Drawing a history as SVG: one lane per process, each operation a bar from its invocation to its
completion, labelled `f(input)->output`, the operations of the failing window in red.

Time runs left to right and is drawn by order, not by distance: every distinct invocation or
completion time gets the same width (linearizability depends only on the order of these events),
and the axis is labelled with the times themselves (line numbers of the history file). An `info`
operation never completed: its bar is open, dashed, up to the right edge.

Self-contained, as traces/timeline/svg.py: generic font families and one inline <style>, no
scripts or remote resources. Every bar is a <g class="op"> with `data-index` (the operation's place
in the history), `data-process`, and `conflict` in its class when it belongs to the window, so a
test reads the picture back with xml.etree; its <title> is the operation in full.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Sequence
from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

from meshcheck.traces.history.history import Op
from meshcheck.traces.history.window import label

LANE = 46  # pixels per process lane
LEFT = 110  # lane names
TOP = 78  # title and legend
CHAR = 6.6  # width of an 11px monospace character
MIN_STEP, MAX_STEP = 16.0, 90.0  # pixels per distinct event time
RIGHT = 60  # room for open (info) bars and the last label
SPAN = 560  # a short history is spread over about this many pixels
MIN_WIDTH = 800  # the legend's width

STYLE = """
text { font-family: monospace; font-size: 11px; fill: #263238; }
.title { font-family: sans-serif; font-size: 15px; font-weight: bold; }
.legend { font-family: sans-serif; font-size: 12px; }
.lane-name { font-family: sans-serif; font-size: 12px; font-weight: bold; }
.lane { stroke: #cfd8dc; stroke-width: 1; }
.bar { fill: #b0bec5; stroke: #546e7a; stroke-width: 1; }
.conflict .bar { fill: #ef9a9a; stroke: #c62828; stroke-width: 2; }
.conflict text { fill: #b71c1c; font-weight: bold; }
.info .bar { fill-opacity: 0.35; stroke-dasharray: 4 3; }
.axis { stroke: #37474f; stroke-width: 1; }
.tick { font-size: 10px; fill: #546e7a; }
"""


def render(
    ops: Sequence[Op],
    conflict: Sequence[Op],
    *,
    title: str,
    note: str = "",
) -> str:
    """The SVG of `ops` (which should include `conflict`), the operations of `conflict` marked."""
    marked = {id(o) for o in conflict}
    ops = sorted(ops, key=lambda o: (o.call, o.ret))
    procs = _processes(ops)
    times = sorted({o.call for o in ops} | {o.ret for o in ops if o.ret != math.inf})
    rank = {t: i for i, t in enumerate(times)}
    step = max(_step(ops, rank), min(MAX_STEP, SPAN / max(len(times), 1)))
    axis_end = LEFT + 20 + step * max(len(times) - 1, 1)
    width = max(
        MIN_WIDTH,
        axis_end + RIGHT + max((len(label(o)) * CHAR for o in ops if o.pending), default=0),
    )
    height = TOP + LANE * max(len(procs), 1) + 56

    def x(t: float) -> float:
        return LEFT + 20 + step * rank[t]

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}">',
        f"<style>{STYLE}</style>",
        f'<rect width="{width:.0f}" height="{height}" fill="#ffffff"/>',
        f'<text class="title" x="12" y="22">{escape(title)}</text>',
    ]
    legend_y = 44
    out.append(
        f'<rect x="12" y="{legend_y - 9}" width="22" height="10" fill="#ef9a9a" stroke="#c62828"/>'
        f'<text class="legend" x="40" y="{legend_y}">the smallest non-linearizable window '
        f"({len(conflict)} operations)</text>"
    )
    out.append(
        f'<rect x="330" y="{legend_y - 9}" width="22" height="10" fill="#b0bec5" stroke="#546e7a"/>'
        f'<text class="legend" x="358" y="{legend_y}">other operations</text>'
        f'<rect x="490" y="{legend_y - 9}" width="22" height="10" fill="#b0bec5" '
        f'fill-opacity="0.35" stroke="#546e7a" stroke-dasharray="4 3"/>'
        f'<text class="legend" x="518" y="{legend_y}">info: outcome unknown, never completed</text>'
    )
    if note:
        out.append(f'<text class="legend" x="12" y="{legend_y + 18}">{escape(note)}</text>')
    lane_y = {p: TOP + LANE * i for i, p in enumerate(procs)}
    for p, y in lane_y.items():
        out.append(
            f'<line class="lane" x1="{LEFT}" y1="{y + 34}" x2="{width - 8:.0f}" y2="{y + 34}"/>'
        )
        out.append(f'<text class="lane-name" x="12" y="{y + 30}">process {escape(str(p))}</text>')
    for o in ops:
        out.append(_bar(o, x, lane_y[o.process], axis_end + RIGHT / 2, id(o) in marked))
    out.extend(_axis(times, x, TOP + LANE * max(len(procs), 1) + 8, axis_end))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _processes(ops: Sequence[Op]) -> list[Hashable]:
    procs = list(dict.fromkeys(o.process for o in ops))
    return sorted(
        procs, key=lambda p: (not isinstance(p, int), str(p) if not isinstance(p, int) else p)
    )


def _step(ops: Sequence[Op], rank: dict[float, int]) -> float:
    """Pixels per distinct time: wide enough that a label fits before the same process's next
    operation starts, within MIN_STEP..MAX_STEP (a label that still does not fit is cut)."""
    need = MIN_STEP
    last: dict[Hashable, Op] = {}
    for o in sorted(ops, key=lambda o: o.call):
        prev = last.get(o.process)
        if prev is not None:
            gap = rank[o.call] - rank[prev.call]
            if gap > 0:
                need = max(need, (len(label(prev)) * CHAR + 8) / gap)
        last[o.process] = o
    return min(need, MAX_STEP)


def _bar(o: Op, x: Callable[[float], float], y: float, open_end: float, marked: bool) -> str:
    x0 = x(o.call)
    x1 = open_end if o.pending else (x(o.ret))
    classes = "op" + (" conflict" if marked else "") + (" info" if o.pending else "")
    text = label(o)
    tooltip = (
        f"process {o.process}: {text}, {o.status}, invoked at {o.call:g}, "
        + ("never completed" if o.pending else f"completed at {o.ret:g}")
        + ("" if o.key is None else f", key {o.key}")
    )
    parts = [
        f'<g class="{classes}" data-index="{o.index}" data-process={quoteattr(str(o.process))}>',
        f"<title>{escape(tooltip)}</title>",
        f'<rect class="bar" x="{x0:.1f}" y="{y + 20}" width="{max(x1 - x0, 3):.1f}" height="12" rx="2"/>',
        f'<text x="{x0:.1f}" y="{y + 15}">{escape(text)}</text>',
    ]
    if o.pending:
        parts.append(f'<text x="{x1 + 4:.1f}" y="{y + 30}">?</text>')
    parts.append("</g>")
    return "".join(parts)


def _axis(
    times: Sequence[float], x: Callable[[float], float], y: float, axis_end: float
) -> list[str]:
    out = [f'<line class="axis" x1="{LEFT}" y1="{y}" x2="{axis_end + 20:.0f}" y2="{y}"/>']
    last = -math.inf
    for t in times:
        xt = x(t)
        out.append(f'<line class="axis" x1="{xt:.1f}" y1="{y}" x2="{xt:.1f}" y2="{y + 5}"/>')
        text = f"{t:g}"
        if xt - last >= len(text) * 6 + 8:
            out.append(
                f'<text class="tick" x="{xt:.1f}" y="{y + 17}" text-anchor="middle">{text}</text>'
            )
            last = xt
    out.append(
        f'<text class="tick" x="{LEFT}" y="{y + 34}">time: line of the history file '
        "(each distinct time one step: order, not duration)</text>"
    )
    return out
