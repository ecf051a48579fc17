"""What a campaign leaves: one summary table (meshcheck/table.py), its results as JSON, and the
coverage plot (traces/plot.py: distinct states and spec actions against examples run,
one series per protocol)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from meshcheck import coverage
from meshcheck import registry
from meshcheck import table
from meshcheck import words
from meshcheck.campaign.run import CampaignResult
from meshcheck.exercise import VACUOUS
from meshcheck.html.page import SummaryRow
from meshcheck.table import WIDE


def rows(result: CampaignResult) -> list[SummaryRow]:
    """The summary, as the report page's rows: per property check its runs and examples, per
    protocol its kill matrix and its coverage, then each failure."""
    found: list[SummaryRow] = []
    failed = {(f.protocol, f.check) for f in result.failures.values()}
    for (protocol, check), (runs, examples) in result.by_check.items():
        errors = sum(n for e, n in result.errors.items() if e.startswith(f"{protocol}: {check}:"))
        verdict = "FAIL" if (protocol, check) in failed else ("error" if errors else "pass")
        if not runs:
            verdict = "skip"
        detail = f"{words.count(runs, 'run')} with fresh seeds"
        judged, empty = result.judged.get((protocol, check), (0, 0))
        if empty:  # free runs that held having exercised (almost) nothing: meshcheck/exercise.py
            detail += f", {empty} of {words.count(judged, 'free run')} {VACUOUS}"
            if verdict == "pass" and empty == judged:
                verdict = VACUOUS
        if result.config.bugs:
            detail += f", bugs {','.join(result.config.bugs)}"
        found.append(
            SummaryRow(
                "campaign", f"{protocol}: {check}", verdict, examples, "examples", 0.0, detail
            )
        )
    by_protocol: dict[str, list[Any]] = {}
    for cell in result.cells.values():
        by_protocol.setdefault(cell.protocol, []).append(cell)
    survivors = set(result.survivors())
    for protocol, cells in by_protocol.items():
        mutants = list(dict.fromkeys(c.mutant for c in cells))
        killed = [m for m in mutants if any(c.killed for c in cells if c.mutant == m)]
        gone = [m for m in mutants if (protocol, m) in survivors]
        untried = [m for m in mutants if m not in killed and (protocol, m) not in survivors]
        notes = []
        if gone:
            notes.append("survived every check: " + ", ".join(gone))
        if untried:
            notes.append("not every check tried yet: " + ", ".join(untried))
        spent = sum(c.seconds for c in cells)
        found.append(
            SummaryRow(
                "mutants",
                protocol,
                "FAIL" if gone else "pass",
                len(killed),
                f"of {len(mutants)} killed",
                spent,
                "; ".join(notes),
            )
        )
    for protocol in result.config.protocols:
        s = coverage.summarize(registry.get(protocol), result.coverage.get(protocol))
        found.append(SummaryRow("coverage", protocol, "pass", s.states, "states", 0.0, s.line()))
    for f in result.failures.values():
        found.append(
            SummaryRow(
                "failure",
                f"{f.protocol}: {f.check}",
                "FAIL",
                f.count,
                "times",
                0.0,
                # what failed first (the message leads with it); the replay line is printed above
                f.message.splitlines()[0] if f.message else f.replay,
            )
        )
    return found


def vacuous_checks(result: CampaignResult) -> list[str]:
    """The checks ("protocol: check") every free run of which held vacuously (meshcheck/
    exercise.py): the campaign exercised them, and they showed nothing."""
    return [
        f"{protocol}: {check}"
        for (protocol, check), (judged, empty) in result.judged.items()
        if judged and empty == judged
    ]


def render(result: CampaignResult) -> str:
    """The failures (each with its replay line), then the one table."""
    lines = []
    for n, f in enumerate(result.failures.values(), 1):
        seen = f"seen {words.count(f.count, 'time')}"
        lines.append(f"failure {n}: {f.protocol}: {f.check} ({seen})")
        lines += [f"  {line}" for line in f.message.splitlines()[:3]]
        if f.replay:
            lines.append(f"  replay: {f.replay}")
    for error, n in result.errors.items():
        lines.append(f"could not run ({n}x): {error}")
    workers = ", ".join(f"{w} {n:,}" for w, n in sorted(result.by_worker.items()))
    totals = (
        f"{words.count(result.tasks, 'task', commas=True)}, {words.count(result.total_examples, 'example', commas=True)} in {result.seconds:.0f} s "
        f"on {result.workers} workers ({result.config.engine}, started in "
        f"{result.startup:.1f} s); {_cpu(result)}"
    )
    lines += textwrap.wrap(totals, WIDE, subsequent_indent="  ")
    lines += textwrap.wrap(f"examples by worker: {workers}", WIDE, subsequent_indent="  ")
    header = ["kind", "name", "result", "count", "unit", "detail"]
    body = [
        [r.kind, r.name, r.result, table.count(r.count), r.unit, r.detail] for r in rows(result)
    ]
    if lines:
        lines.append("")
    fitted = table.format_fitted(header, body, right=(3,), label=lambda r: f"{r[0]} {r[1]}")
    return "\n".join(lines) + fitted


def _cpu(result: CampaignResult) -> str:
    per = result.cpu / result.total_examples if result.total_examples else 0.0
    return (
        f"{result.cpu:.0f} CPU-s in tasks ({per * 1000:.0f} ms per example), "
        f"{result.cut} cut at the deadline"
    )


def to_json(result: CampaignResult) -> dict[str, Any]:
    c = result.config
    return {
        "config": {
            "seconds": c.seconds,
            "protocols": list(c.protocols),
            "checks": list(c.checks),
            "bugs": list(c.bugs),
            "mutants": c.mutants,
            "workers": result.workers,
            "engine": c.engine,
            "db": c.db,
            "examples_per_task": c.examples,
            "profile": c.profile,
        },
        "seconds": result.seconds,
        "startup_seconds": result.startup,
        "worker_cpu_seconds": result.cpu,
        "tasks": result.tasks,
        "tasks_cut": result.cut,
        "tasks_skipped": result.skipped,
        "examples": dict(result.examples),
        "examples_by_worker": dict(result.by_worker),
        "tasks_by_worker": dict(result.tasks_by_worker),
        "checks": [
            {
                "protocol": p,
                "check": ch,
                "runs": runs,
                "examples": n,
                "free_runs_judged": result.judged.get((p, ch), (0, 0))[0],
                "free_runs_vacuous": result.judged.get((p, ch), (0, 0))[1],
            }
            for (p, ch), (runs, n) in result.by_check.items()
        ],
        "matrix": [
            {
                "protocol": cell.protocol,
                "mutant": cell.mutant,
                "check": cell.check,
                "tries": cell.tries,
                "examples": cell.examples,
                "killed": cell.killed,
                "seconds": cell.kill_seconds if cell.killed else cell.seconds,
                "steps": cell.steps,
                "error": cell.error,
            }
            for cell in result.cells.values()
        ],
        "failures": [
            {
                "protocol": f.protocol,
                "check": f.check,
                "bugs": list(f.bugs),
                "signature": f.signature,
                "count": f.count,
                "steps": f.steps,
                "message": f.message,
                "trace": f.path,
                "replay": f.replay,
                "seeds": f.seeds,
            }
            for f in result.failures.values()
        ],
        "errors": dict(result.errors),
        "coverage": json.loads(coverage.dumps(result.coverage)),
        "coverage_points": [
            {
                "protocol": p.protocol,
                "seconds": p.seconds,
                "examples": p.examples,
                "actions": p.actions,
                "actions_total": p.actions_total,
                "states": p.states,
                "rare": p.rare,
                "rare_total": p.rare_total,
            }
            for p in result.points
        ],
    }


def plot(result: CampaignResult) -> str:
    """The SVG of coverage as it grew: distinct states and actions fired against examples run."""
    from meshcheck.traces.plot import Panel
    from meshcheck.traces.plot import Series
    from meshcheck.traces.plot import render

    states, actions = [], []
    for protocol in result.config.protocols:
        mine = [p for p in result.points if p.protocol == protocol]
        states.append(Series(protocol, [(p.examples, p.states) for p in mine], markers=True))
        actions.append(Series(protocol, [(p.examples, p.actions) for p in mine], markers=True))
    return render(
        [
            Panel("distinct abstract states", "examples run", "states", states),
            Panel("spec actions fired", "examples run", "actions", actions),
        ],
        title="campaign coverage as it grew",
        note=(
            f"{words.count(result.tasks, 'task', commas=True)}, {words.count(result.total_examples, 'example', commas=True)}, {result.seconds:.0f} s, "
            f"{result.workers} workers ({result.config.engine}), merged over every worker"
        ),
    )


def write(result: CampaignResult) -> tuple[Path, Path]:
    """OUT/campaign.json and OUT/coverage.svg."""
    out = result.config.out
    out.mkdir(parents=True, exist_ok=True)
    data = out / "campaign.json"
    data.write_text(json.dumps(to_json(result), indent=1) + "\n")
    svg = out / "coverage.svg"
    svg.write_text(plot(result))
    return data, svg
