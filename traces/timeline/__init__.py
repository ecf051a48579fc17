"""`meshcheck trace timeline`: a trace drawn as a message-sequence chart (SVG, or HTML around it).

`events.py` reads the chart off the trace (lanes, messages sent and delivered, drops, faults, role
and term changes, Byzantine acts); `svg.py` draws it. The two halves meet in `Timeline`, which the
tests check against the trace before they check the picture.
"""

from __future__ import annotations

import os
from pathlib import Path

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.traces.timeline.events import Mark
from meshcheck.traces.timeline.events import Message
from meshcheck.traces.timeline.events import Timeline
from meshcheck.traces.timeline.events import byzantine_of
from meshcheck.traces.timeline.events import derive
from meshcheck.traces.timeline.svg import html
from meshcheck.traces.timeline.svg import render

__all__ = ["Mark", "Message", "Timeline", "derive", "render_file", "timeline_of", "write"]

FORMATS = (".svg", ".html", ".htm")


def timeline_of(trace: Trace, *, path: Path | None = None) -> Timeline:
    """The timeline of a trace (its title: the file's name and what the trace shows)."""
    title = path.name if path is not None else "trace"
    violation = trace.meta.get("violation")
    bugs = trace.meta.get("bugs")
    if isinstance(bugs, tuple) and bugs:
        title += f"  (mutant: {', '.join(str(b) for b in bugs)})"
    elif isinstance(violation, FrozenDict) and violation.get("name"):
        title += f"  ({violation.get('kind')} {violation.get('name')} violated)"
    return derive(trace, title=title, byzantine=byzantine_of(trace, path))


def render_file(trace: Trace, out: Path, *, path: Path | None = None) -> str:
    """The text of the file `out` names (SVG or HTML by its suffix)."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise MeshcheckError(
            f"{out}: the timeline is written as .svg or .html, not {suffix or 'no suffix'}"
        )
    t = timeline_of(trace, path=path)
    svg = render(t)
    return svg if suffix == ".svg" else html(svg, t.title)


def write(trace: Trace, out: str | Path, *, source: str | Path | None = None) -> Path:
    """Write the timeline of `trace` to `out` (.svg or .html), whole or not at all."""
    out = Path(out)
    text = render_file(trace, out, path=Path(source) if source is not None else None)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as err:
        raise MeshcheckError(f"{out}: cannot write the timeline: {err.strerror or err}") from None
    return out
