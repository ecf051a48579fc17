"""An anomaly as Jepsen reports one: the history's smallest failing window (traces/history/
window.py), drawn (traces/history/svg.py) among what else the clients were doing, and the
nemesis's faults around it, so that a reader sees what broke and under what.

`report` writes `anomaly.txt` and `anomaly.svg` into a run's report folder and returns the text.
The window is found in the report folder's `history.jsonl` as `meshcheck history check` reads it,
by the same function (`window.examine`), with the same model, read semantics and budget: the
replay command the report ends with (`replay_command`) prints the same verdict and the same
window. Each operation is shown by the lines of that file, as the command shows it, and by the
run's clock.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from pathlib import Path

import attrs

from meshcheck.traces.history import jepsen
from meshcheck.traces.history import reads
from meshcheck.traces.history import svg
from meshcheck.traces.history import window
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import where
from meshcheck.traces.history.models import CHECK_BUDGET
from meshcheck.traces.history.models import Model

BEFORE, AFTER = 2.0, 1.0  # seconds of the nemesis's log shown before and after the window
HISTORY = "history.jsonl"


def replay_command(folder: Path, model: Model, *, budget: float, mode: str = "linearizable") -> str:
    """The command that checks the run's history as the run did: its model, its read semantics
    (traces/history/reads.py) and its checker budget."""
    line = f"meshcheck history check {shlex.quote(str(folder / HISTORY))} --model {model.name}"
    if mode != "linearizable":
        line += f" --reads {mode}"
    return line if budget == CHECK_BUDGET else line + f" --budget {budget:g}"


def report(
    ops: Sequence[Op],
    model: Model,
    struck: Sequence[tuple[float, str]],
    folder: Path,
    *,
    title: str,
    budget: float = 30.0,
    documented: str = "",
    mode: str = "linearizable",
) -> str | None:
    """The report of the failing window of the history `ops`, which the run wrote to `folder`'s
    history.jsonl (`jepsen.dumps(ops, model)`); None when it is linearizable or undecided.
    `mode`: the run's reads (serializable: the writes and cas alone are checked).
    `documented` says whether and where the system documents the behaviour."""
    path = folder / HISTORY
    history = jepsen.read(path, model)
    checked = reads.writes_only(history) if mode == "serializable" else history
    try:
        examined = window.examine(checked, model, budget)
    except window.NothingToCheck:
        return None
    found, result = examined.window, examined.result
    if found is None:
        return None
    seconds = jepsen.line_times(ops, model)  # line n's time at index n - 1

    def at(line: float) -> float:
        return seconds[int(line) - 1]

    lo = min(at(o.call) for o in found.ops)
    hi = max(at(o.ret) if o.ret != math.inf else at(o.call) for o in found.ops)
    key = "" if result.partition is None else f", key {result.partition}"
    lines = [
        f"anomaly: not linearizable ({model.name}{key})",
        f"the smallest failing window, {window.plural(len(found.ops), 'operation')}"
        + ("" if found.minimal else " (not proved minimal: the budget ran out)")
        + f", t={lo:.3f}s to t={hi:.3f}s (lines of {HISTORY}, then the run's clock):",
        *(
            f"  {window.span(o)}  t={at(o.call):.3f}s..{'' if o.ret == math.inf else f'{at(o.ret):.3f}s'}"
            f"  {o.process}  "
            f"{window.label(o)}" + (f"  {where(o)}" if o.server else "")
            for o in found.ops
        ),
        f"the nemesis from t={max(0.0, lo - BEFORE):.3f}s to t={hi + AFTER:.3f}s:",
    ]
    around = [(t, what) for t, what in struck if lo - BEFORE <= t <= hi + AFTER]
    lines += [f"  t={t:.3f}s  {what}" for t, what in around] or ["  (no fault struck or ended)"]
    faults_on = _in_force(struck, lo)
    lines.append("in force when the window opened: " + (", ".join(faults_on) or "no fault"))
    if documented:
        lines.append(f"documented: {documented}")
    lines.append(
        f"replay: {replay_command(folder, model, budget=budget, mode=mode)} "
        "(the same verdict and window)"
    )
    text = "\n".join(lines) + "\n"
    (folder / "anomaly.txt").write_text(text, encoding="utf-8")
    # drawn on the run's clock
    clocked = {
        id(o): attrs.evolve(o, call=at(o.call), ret=o.ret if o.ret == math.inf else at(o.ret))
        for o in examined.part
    }
    drawn = [clocked[id(o)] for o in window.context(examined.part, found.ops)]
    marked = [clocked[id(o)] for o in found.ops]
    (folder / "anomaly.svg").write_text(
        svg.render(drawn, marked, title=f"{title}: not linearizable ({model.name}{key})"),
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
