"""The pictures of a cluster test's report folder, as Jepsen draws its runs: `latency.svg`, each
operation's latency against the time it was invoked with the nemesis's faults shaded, and
`timeline.svg`, the history's operations per client process (traces/history/svg.py, as `meshcheck
history check --out` draws it).
"""

from __future__ import annotations

from collections.abc import Sequence

from meshcheck import words
from meshcheck.cluster.workload import History
from meshcheck.traces.history import svg
from meshcheck.traces.plot import Band
from meshcheck.traces.plot import Panel
from meshcheck.traces.plot import Series
from meshcheck.traces.plot import render

TIMELINE_OPS = 400  # the timeline draws the first this many operations (the lanes stay readable)
STATUSES = (("ok", "#0072B2"), ("info", "#D55E00"))  # fail: refused at once, not a latency


def fault_bands(struck: Sequence[tuple[float, str]]) -> list[Band]:
    """Each fault from when it struck to when it was undone (the nemesis's log: "kill n2" then
    "kill n2 undone"); a fault never undone runs to the last entry."""
    bands: list[Band] = []
    ordered = sorted(struck)
    end = max((t for t, _ in ordered), default=0.0)
    for k, (t, what) in enumerate(ordered):
        if what.endswith(" undone"):
            continue
        undone = next((u for u, w in ordered[k + 1 :] if w == f"{what} undone"), end)
        bands.append(Band(t, undone, what))
    return bands


def latency_svg(history: History, struck: Sequence[tuple[float, str]], *, title: str) -> str:
    series = [
        Series(
            f"{status} ({sum(1 for _, _, s in history.latencies if s == status)})",
            [
                (call, max(seconds * 1000, 0.01))
                for call, seconds, s in history.latencies
                if s == status
            ],
            color=color,
            markers=True,
            line=False,
        )
        for status, color in STATUSES
    ]
    panel = Panel(
        "latency of each operation",
        "invoked at (s)",
        "latency (ms)",
        series,
        ylog=True,
        bands=fault_bands(struck),
    )
    note = "info: no answer within the client's timeout (plotted at the time it waited)"
    return render([panel], title=title, note=note, columns=1)


def timeline_svg(history: History, *, title: str) -> str:
    ops = [o for o in history.ops if o.status != "fail"][:TIMELINE_OPS]
    note = "" if len(ops) == len(history.ops) else f"the first {words.count(len(ops), 'operation')}"
    return svg.render(ops, [], title=title, note=note)
