"""Drawing a `Timeline` as SVG: one vertical lane per node, one row per step, time going down.

Self-contained on purpose: no fonts, scripts or style sheets from anywhere (generic `monospace` and
`sans-serif` families, one inline <style>), so the file opens the same in any browser, offline, and
can be attached to a bug report. Every drawn thing carries its class and `data-*` attributes (the
lane, the step, the sender and receiver), so a test reads the picture back with xml.etree, and a
reader's browser shows each message in full as the tooltip (<title>) of its arrow.
"""

from __future__ import annotations

from collections import defaultdict
from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr

from meshcheck.impl.base.text import format_value
from meshcheck.traces.timeline.events import Message
from meshcheck.traces.timeline.events import Timeline

ROW = 30  # pixels per step
LANE = 190  # pixels between lanes
CHAR = 7.2  # width of a 12px monospace character
LABEL_CHARS = 46  # a step's label is cut to this many characters
TOP = 100  # legend and lane heads above the first step

ROLE_STYLE = {  # lane colour and width by role (Raft's roles, PBFT's statuses)
    "Leader": ("#2e7d32", 5),
    "Candidate": ("#ef6c00", 3),
    "Follower": ("#9e9e9e", 2),
    "normal": ("#9e9e9e", 2),
    "changing": ("#ef6c00", 3),
}
MARK_COLOUR = {
    "crash": "#c62828",
    "restart": "#c62828",
    "recover": "#2e7d32",
    "byzantine": "#c62828",
    "role": "#1565c0",
    "commit": "#2e7d32",
    "request": "#6a1b9a",
    "act": "#1565c0",
}

STYLE = """
text { font-family: monospace; font-size: 12px; }
.small { font-size: 10px; }
.halo { paint-order: stroke; stroke: #ffffff; stroke-width: 3px; stroke-linejoin: round; }
.head { font-family: sans-serif; font-size: 14px; font-weight: bold; }
.title { font-family: sans-serif; font-size: 16px; font-weight: bold; }
line.arrow { stroke: #37474f; stroke-width: 1.3; }
line.arrow.byzantine { stroke: #c62828; stroke-dasharray: 5 3; }
line.arrow.duplicate { stroke-dasharray: 2 2; }
line.inflight { stroke: #90a4ae; stroke-width: 1.2; stroke-dasharray: 4 3; }
line.drop, path.drop { stroke: #c62828; stroke-width: 1.3; fill: none; }
path.drop { stroke-width: 2.5; }
"""


def _x(lanes: dict[str, float], lane: str | None) -> float:
    return lanes.get(lane or "", 0.0)


def _y(step: int | None) -> float:
    return TOP + 2 if step is None else TOP + 12 + step * ROW + ROW / 2


def _attrs(**kv: object) -> str:
    return " ".join(
        f"{k.replace('_', '-')}={quoteattr(str(v))}" for k, v in kv.items() if v is not None
    )


def render(t: Timeline) -> str:
    """The SVG document (text) of a timeline."""
    steps = len(t.labels)
    label_chars = min(
        LABEL_CHARS, max((len(f"{k}  {lab}") for k, lab in enumerate(t.labels)), default=10)
    )
    left = 16 + label_chars * CHAR + 70
    lanes = {lane: left + k * LANE for k, lane in enumerate(t.lanes)}
    width = left + max(len(t.lanes) - 1, 0) * LANE + 290
    height = _y(steps - 1) + ROW + (44 if steps > 25 else 24) + 16
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}">',
        f"<title>{escape(t.title or 'timeline')}</title>",
        f"<style>{STYLE}</style>",
        "<defs>"
        '<marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#37474f"/></marker>'
        '<marker id="headred" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c62828"/></marker>'
        '<marker id="open" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10" fill="none" stroke="#90a4ae"/></marker>'
        "</defs>",
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    out += _legend(t, width)
    out += _rows(t, width, label_chars)
    out += _lanes(t, lanes, steps)
    out += _messages(t, lanes, steps)
    out += _marks(t, lanes, width)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _legend(t: Timeline, width: float) -> list[str]:
    title = escape(t.title or "timeline")
    items = [
        '<g class="legend">',
        f'<text class="title" x="16" y="24">{title}</text>',
        '<text class="small" x="16" y="42">'
        "arrow: a message, from the step that sent it to the step that took it;  "
        "dashed grey: still in flight at the end;  red x: dropped</text>",
        '<text class="small" x="16" y="55">'
        "lane: green and thick while leader, orange while candidate or changing view;  "
        "red: Byzantine;  dotted: crashed;  X crash or restart, o recover;  "
        "dashed line across: partition</text>",
        "</g>",
    ]
    return items


def _rows(t: Timeline, width: float, label_chars: int) -> list[str]:
    out = ['<g class="steps">']
    for k, label in enumerate(t.labels):
        y = _y(k)
        if k % 2 == 1:
            out.append(
                f'<rect x="8" y="{y - ROW / 2:.1f}" width="{width - 16:.0f}" height="{ROW}" fill="#f5f7fa"/>'
            )
        text = f"{k}  {label}"
        if len(text) > label_chars:
            text = text[: label_chars - 3] + "..."
        out.append(
            f'<text class="step" {_attrs(data_step=k)} x="16" y="{y + 4:.1f}">'
            f"<title>{escape(f'step {k}: {label}')}</title>{escape(text)}</text>"
        )
    if t.loop is not None:
        y0, y1 = _y(t.loop) - ROW / 2 + 2, _y(len(t.labels) - 1) + ROW / 2 - 2
        out.append(
            f'<g class="loop" {_attrs(data_step=t.loop)}>'
            f'<path d="M6,{y0:.1f} L2,{y0:.1f} L2,{y1:.1f} L6,{y1:.1f}" stroke="#8e24aa" '
            'stroke-width="2" fill="none"/>'
            f'<text class="small" x="12" y="{y1 + 12:.1f}" fill="#8e24aa">'
            f"loop: back to step {t.loop}, forever</text></g>"
        )
    out.append("</g>")
    return out


def _lanes(t: Timeline, lanes: dict[str, float], steps: int) -> list[str]:
    out = []
    for lane, x in lanes.items():
        byz = lane in t.byzantine
        out.append(
            f'<g class="lane" {_attrs(data_node=lane, data_byzantine="true" if byz else None)}>'
        )
        colour = "#c62828" if byz else "#37474f"
        name = f"{lane} (Byzantine)" if byz else lane
        half = max(46, len(name) * 5)
        out.append(
            f'<rect x="{x - half:.1f}" y="{TOP - 30}" width="{2 * half}" height="24" rx="5" '
            f'fill="#eceff1" stroke="{colour}"/>'
            f'<text class="head" x="{x:.1f}" y="{TOP - 13}" text-anchor="middle" fill="{colour}">'
            f"{escape(name)}</text>"
        )
        roles = t.roles.get(lane, ())
        down = t.down.get(lane, ())
        # from each step to the next, in the role the node holds after it
        for k in range(steps):
            y0 = _y(k) if k else TOP - 10
            y1 = _y(k + 1) if k + 1 < steps else _y(k) + ROW / 2
            role = roles[k] if k < len(roles) else ""
            colour, w = ROLE_STYLE.get(role, ("#9e9e9e", 2))
            dash = ' stroke-dasharray="6 4"' if byz else ""
            if byz:
                colour = "#c62828"
            if k < len(down) and down[k]:  # crashed: a faint dotted line until it recovers
                colour, w, dash = "#cfd8dc", 2, ' stroke-dasharray="2 4"'
                role = "down"
            out.append(
                f'<line class="lifeline" {_attrs(data_step=k, data_role=role or None)} '
                f'x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}" stroke="{colour}" '
                f'stroke-width="{w}"{dash}/>'
            )
        if steps > 25:  # a long chart names its lanes at the foot too
            yb = _y(steps - 1) + ROW / 2 + 16
            out.append(
                f'<text class="head" x="{x:.1f}" y="{yb:.1f}" text-anchor="middle" '
                f'fill="{colour}">{escape(lane)}</text>'
            )
        out.append("</g>")
    return out


def _messages(t: Timeline, lanes: dict[str, float], steps: int) -> list[str]:
    out = ['<g class="messages">']
    labelled: set[tuple[str, int | None, str]] = set()
    # the multicasts of each (sender, step), named together beside one dot
    sends: dict[tuple[str, int | None], list[str]] = defaultdict(list)
    for m in t.messages:
        if m.at is None and m.dest not in lanes and m.label not in sends[(m.src, m.sent)]:
            sends[(m.src, m.sent)].append(m.label)
    named: dict[tuple[str, int | None], int] = {}
    for m in t.messages:
        # one label per send: a message sent to several nodes at once is named once
        # (a Byzantine message is not: its receiver's step says what it needed, the tooltip more)
        show = (m.src, m.sent, m.label) not in labelled and not m.byzantine
        labelled.add((m.src, m.sent, m.label))
        x0, y0 = _x(lanes, m.src), _y(m.sent)
        tip = f"<title>{escape(_tooltip(m))}</title>"
        common = _attrs(data_from=m.src, data_to=m.dest, data_sent=m.sent, data_step=m.at)
        if m.byzantine and m.at is not None:
            x1, y1 = _x(lanes, m.dest), _y(m.at)
            y0 = y1 - ROW * 0.7
            tag = _label(m, x0, y0, x1, y1) if show else ""
            out.append(
                f'<g class="arrow byzantine" {common}>{tip}<line class="arrow byzantine" '
                f'x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" marker-end="url(#headred)"/>'
                f"{tag}</g>"
            )
        elif m.at is not None and m.dest in lanes and not m.dropped:
            x1, y1 = _x(lanes, m.dest), _y(m.at)
            kind = "arrow duplicate" if m.duplicate else "arrow"
            tag = _label(m, x0, y0, x1, y1) if show else ""
            out.append(
                f'<g class="{kind}" {common}>{tip}<line class="{kind}" x1="{x0:.1f}" y1="{y0:.1f}" '
                f'x2="{x1:.1f}" y2="{y1:.1f}" marker-end="url(#head)"/>{tag}</g>'
            )
        elif m.at is not None and m.dropped:
            x1 = x0 + (_x(lanes, m.dest) - x0) * 0.55 if m.dest in lanes else x0 + 40
            y1 = _y(m.at)
            tag = _label(m, x0, y0, x1, y1) if show else ""
            out.append(
                f'<g class="drop" {common}>{tip}<line class="drop" x1="{x0:.1f}" y1="{y0:.1f}" '
                f'x2="{x1:.1f}" y2="{y1:.1f}"/>'
                f'<path class="drop" d="M{x1 - 5:.1f},{y1 - 5:.1f} L{x1 + 5:.1f},{y1 + 5:.1f} '
                f'M{x1 - 5:.1f},{y1 + 5:.1f} L{x1 + 5:.1f},{y1 - 5:.1f}" stroke-width="2.5"/>'
                f"{tag}</g>"
            )
        elif m.dest in lanes:  # sent to one node, never taken: in flight when the trace ends
            x1, y1 = x0 + (_x(lanes, m.dest) - x0) * 0.8, _y(steps - 1) + ROW / 2
            tag = _label(m, x0, y0, x1, y1) if show else ""
            out.append(
                f'<g class="inflight" {common}>{tip}<line class="inflight" x1="{x0:.1f}" '
                f'y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" marker-end="url(#open)"/>'
                f"{tag}</g>"
            )
        else:  # a multicast (PBFT): its send, on the sender's lane (named once per step)
            first = (m.src, m.sent) not in named
            named[(m.src, m.sent)] = named.get((m.src, m.sent), 0) + 1
            text = ", ".join(sends[(m.src, m.sent)]) if first else ""
            out.append(
                f'<g class="send" {common}>{tip}<circle cx="{x0:.1f}" cy="{y0:.1f}" r="4" '
                f'fill="#37474f"/><text class="small halo" x="{x0 - 8:.1f}" y="{y0 + 4:.1f}" '
                f'text-anchor="end">{escape(text)}</text></g>'
            )
    out.append("</g>")
    return out


def _label(m: Message, x0: float, y0: float, x1: float, y1: float) -> str:
    # near the tail, on the arrow: the reader sees which message left where
    fx = 0.28
    x, y = x0 + (x1 - x0) * fx, y0 + (y1 - y0) * fx
    anchor = "start" if x1 >= x0 else "end"
    dx = 4 if x1 >= x0 else -4
    return (
        f'<text class="small halo" x="{x + dx:.1f}" y="{y - 3:.1f}" text-anchor="{anchor}">'
        f"{escape(m.label)}</text>"
    )


def _tooltip(m: Message) -> str:
    when = "before the trace" if m.sent is None else f"step {m.sent}"
    fate = (
        "in flight at the end"
        if m.at is None
        else f"dropped at step {m.at}"
        if m.dropped
        else f"delivered at step {m.at}"
    )
    by = " (Byzantine)" if m.byzantine else " (network copy)" if m.duplicate else ""
    return f"{format_value(m.record)}\nsent {when} by {m.src}{by}, {fate}"


def _marks(t: Timeline, lanes: dict[str, float], width: float) -> list[str]:
    out = ['<g class="marks">']
    slots: dict[tuple[str, int], int] = defaultdict(int)  # badges already at (lane, step)
    for mark in t.marks:
        common = _attrs(data_node=mark.lane, data_step=mark.step)
        tip = f"<title>{escape(f'step {mark.step}: {mark.text}')}</title>"
        y = _y(mark.step)
        if mark.kind == "divergence":  # the step itself, framed, and what differed
            fx0, fx1 = 8.0, width - 8
            text = mark.text if len(mark.text) <= 150 else mark.text[:147] + "..."
            out.append(
                f'<g class="mark divergence" {common}>{tip}<rect x="{fx0:.0f}" y="{y - ROW / 2:.1f}" '
                f'width="{fx1 - fx0:.0f}" height="{ROW}" fill="none" stroke="#c62828" '
                f'stroke-width="2"/><text class="small" x="16" y="{y + ROW / 2 + 13:.1f}" '
                f'fill="#c62828" font-weight="bold">the implementation left the spec here: '
                f"{escape(text)}</text></g>"
            )
            continue
        if mark.lane is None:  # the network: a band across every lane
            x0 = min(lanes.values(), default=0) - 40
            x1 = max(lanes.values(), default=0) + 110
            colour = "#6d4c41" if mark.kind == "partition" else "#00897b"
            out.append(
                f'<g class="mark {mark.kind}" {common}>{tip}<line x1="{x0:.1f}" y1="{y - ROW / 2 + 2:.1f}" '
                f'x2="{x1:.1f}" y2="{y - ROW / 2 + 2:.1f}" stroke="{colour}" stroke-width="2" '
                f'stroke-dasharray="8 4"/><text class="small halo" x="{x1 + 4:.1f}" '
                f'y="{y - ROW / 2 + 6:.1f}" fill="{colour}">{escape(mark.text)}</text></g>'
            )
            continue
        x = _x(lanes, mark.lane)
        colour = MARK_COLOUR.get(mark.kind, "#37474f")
        slot = slots[(mark.lane, mark.step)]
        slots[(mark.lane, mark.step)] += 1
        if mark.kind in ("crash", "restart"):
            shape = (
                f'<path d="M{x - 7:.1f},{y - 7:.1f} L{x + 7:.1f},{y + 7:.1f} M{x - 7:.1f},{y + 7:.1f} '
                f'L{x + 7:.1f},{y - 7:.1f}" stroke="{colour}" stroke-width="3"/>'
            )
        elif mark.kind == "recover":
            shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="none" stroke="{colour}" stroke-width="2.5"/>'
        elif mark.kind == "act":  # a step of this process (a spec no descriptor names)
            shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'
        elif mark.kind == "byzantine":
            shape = (
                f'<path d="M{x:.1f},{y - 8:.1f} L{x + 8:.1f},{y:.1f} L{x:.1f},{y + 8:.1f} '
                f'L{x - 8:.1f},{y:.1f} z" fill="{colour}"/>'
            )
        else:
            shape = ""
        # badges right of the lane, one after another when a step has several
        bx, by = x + 10, y - 6 + slot * 11  # several at one step: one under the other
        # a Byzantine act's message is named on its arrow; the mark only says whose it was
        shown = "byz" if mark.kind == "byzantine" else mark.text
        text = escape(shown if len(shown) <= 24 else shown[:21] + "...")
        weight = (
            ' font-weight="bold"' if mark.kind in ("role", "crash", "restart", "byzantine") else ""
        )
        out.append(
            f'<g class="mark {mark.kind}" {common}>{tip}{shape}<text class="small halo" '
            f'x="{bx:.1f}" y="{by:.1f}" fill="{colour}"{weight}>{text}</text></g>'
        )
    out.append("</g>")
    return out


def html(svg: str, title: str) -> str:
    """The SVG in a page of its own (no external resources)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        "<style>body { margin: 0; background: #ffffff; }</style>\n</head>\n<body>\n"
        f"{svg}</body>\n</html>\n"
    )
