"""An anomaly as Jepsen reports one: the history's smallest failing window (traces/history/
window.py), drawn (traces/history/svg.py) among what else the clients were doing, and the
nemesis's faults around it, so that a reader sees what broke and under what.

`report` writes `anomaly.txt` and `anomaly.svg` into a run's report folder and returns the text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from meshcheck.traces.history import checker, svg, window
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import Model

BEFORE, AFTER = 2.0, 1.0  # seconds of the nemesis's log shown before and after the window


def report(
    ops: Sequence[Op],
    model: Model,
    struck: Sequence[tuple[float, str]],
    folder: Path,
    *,
    title: str,
    budget: float = 30.0,
    documented: str = "",
) -> str | None:
    """The report of the history's failing window (None when it is linearizable or undecided);
    `documented` says whether and where the system documents the behaviour."""
    result = checker.check(list(ops), model, budget)
    if result.verdict != "not linearizable":
        return None
    part = window.part_of(result, list(ops), model)
    found = window.smallest(part, model, budget)
    lo = min(o.call for o in found.ops)
    hi = max(o.ret if o.ret != math.inf else o.call for o in found.ops)
    key = "" if result.partition is None else f", key {result.partition}"
    lines = [
        f"anomaly: not linearizable ({model.name}{key})",
        f"the smallest failing window, {len(found.ops)} operations"
        + ("" if found.minimal else " (not proved minimal: the budget ran out)")
        + f", t={lo:.3f}s to t={hi:.3f}s:",
        *(f"  {window.span(o)}  {o.process}  {window.label(o)}" for o in found.ops),
        f"the nemesis from t={lo - BEFORE:.3f}s to t={hi + AFTER:.3f}s:",
    ]
    around = [(t, what) for t, what in struck if lo - BEFORE <= t <= hi + AFTER]
    lines += [f"  t={t:.3f}s  {what}" for t, what in around] or ["  (no fault struck or ended)"]
    faults_on = _in_force(struck, lo)
    lines.append("in force when the window opened: " + (", ".join(faults_on) or "no fault"))
    if documented:
        lines.append(f"documented: {documented}")
    text = "\n".join(lines) + "\n"
    (folder / "anomaly.txt").write_text(text, encoding="utf-8")
    drawn = window.context(part, found.ops)
    (folder / "anomaly.svg").write_text(
        svg.render(drawn, found.ops, title=f"{title}: not linearizable ({model.name}{key})"),
        encoding="utf-8",
    )
    return text


def _in_force(struck: Sequence[tuple[float, str]], at: float) -> list[str]:
    """The faults struck before `at` and not undone by then."""
    on: dict[str, float] = {}
    for t, what in sorted(struck):
        if t > at:
            break
        if what.endswith(" undone"):
            on.pop(what.removesuffix(" undone"), None)
        else:
            on[what] = t
    return [f"{what} (since t={t:.3f}s)" for what, t in on.items()]
