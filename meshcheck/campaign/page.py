"""A campaign's report page: `build(result) -> meshcheck.html.page.Page`, plain values for the
HTML renderer (the summary table, the kill matrix, coverage as it grew, each failure folded, with
its counterexample as ITF, drawn as a timeline, and its replay line)."""

from __future__ import annotations

import datetime

from meshcheck import words
from meshcheck.campaign import report
from meshcheck.campaign.run import CampaignResult
from meshcheck.campaign.run import Cell
from meshcheck.html.page import Failure
from meshcheck.html.page import Kill
from meshcheck.html.page import Page


def build(result: CampaignResult, *, generated: str | None = None) -> Page:
    c = result.config
    kills = []
    for (protocol, mutant), cells in _by_mutant(result).items():
        killers = [cell for cell in cells if cell.killed]
        first = killers[0] if killers else None  # the first check in the protocol's order
        kills.append(
            Kill(
                protocol,
                mutant,
                first.check if first else "",
                first.kill_seconds if first else sum(cell.seconds for cell in cells),
                first.steps if first else None,
            )
        )
    failures = tuple(
        Failure(
            f"{f.protocol}: {f.check}",
            f.message,
            f.replay,
            f.itf,
            _timeline(f.itf),
            f.count,
        )
        for f in result.failures.values()
    )
    stamp = generated or (
        f"meshcheck campaign, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )
    notes = (
        f"protocols: {', '.join(c.protocols)}"
        + (f"; bugs on: {', '.join(c.bugs)}" if c.bugs else ""),
        f"{result.workers} workers on {c.engine}; example database: {c.db or 'none'}",
        f"{words.count(result.tasks, 'task', commas=True)} of {words.count(c.examples, 'example')} each (profile {c.profile}), fresh seeds; "
        f"{words.count(result.total_examples, 'example', commas=True)} in {result.seconds:.0f} s",
    )
    return Page(
        title="meshcheck campaign",
        generated=stamp,
        summary=tuple(report.rows(result)),
        kills=tuple(kills),
        coverage=tuple(result.points),
        failures=failures,
        notes=notes,
    )


def _by_mutant(result: CampaignResult) -> dict[tuple[str, str], list[Cell]]:
    found: dict[tuple[str, str], list[Cell]] = {}
    for cell in result.cells.values():
        found.setdefault((cell.protocol, cell.mutant), []).append(cell)
    return found


def _timeline(text: str) -> str:
    """The counterexample drawn (traces/timeline), or "" when there is none or it cannot be."""
    if not text:
        return ""
    from meshcheck.traces import itf
    from meshcheck.traces.timeline import render_file

    try:
        from pathlib import Path

        return render_file(itf.loads(text), Path("failure.svg"))
    except Exception:  # a trace the timeline cannot lay out: the page still shows the ITF text
        return ""
