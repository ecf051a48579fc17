"""`meshcheck verify --html FILE`: verify's rows as a report page (meshcheck/html/page.py).

What the page shows is read from what verify already has: its rows (meshcheck/verify.py's Row, one
per check) for the summary table; the `mutants` rows for the kill matrix; the `coverage` rows for
the coverage charts; and for each failed property test the counterexample pytest wrote to
reports/failures/ (property_tests/record.py: the file is named after the test, and its replay line
is the one `record.replay_command` gives), drawn by meshcheck/traces/timeline.

What the rows do not carry is not invented:

- a `mutants` row says which mutants survived and how many each check killed, not which check
  killed which mutant: when one check killed them all the matrix names it, else each killed cell
  names the checks that killed that protocol's mutants ("lockstep or free_run"). `meshcheck
  mutants`'s `Outcome`s (and a campaign) carry the exact killer: `kills_of` turns those into cells;
- verify's coverage is measured once, at the end of the property tests, so each protocol's chart
  has two points (nothing at the start, what was reached at the end); a campaign adds a point per
  progress report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from meshcheck.html.page import CoveragePoint
from meshcheck.html.page import Failure
from meshcheck.html.page import Kill
from meshcheck.html.page import Page
from meshcheck.html.page import SummaryRow
from meshcheck.html.render import BAD
from meshcheck.html.render import write
from meshcheck.impl.base.errors import MeshcheckError

if TYPE_CHECKING:
    from meshcheck.mutants_cmd import Outcome

MESSAGE_LINES = 12  # a failure's message is cut to its first lines


def summary_of(rows: Iterable[Any]) -> tuple[SummaryRow, ...]:
    """verify's rows (meshcheck/verify.py's Row: the same fields) as summary rows, with their
    cost and kills where they have them."""
    return tuple(
        SummaryRow(
            r.kind,
            r.name,
            r.result,
            r.count,
            r.unit,
            r.seconds,
            r.detail,
            getattr(r, "cpu", None),
            tuple(getattr(r, "kills", ())),
        )
        for r in rows
    )


def _catalogue(protocol: str) -> tuple[str, ...]:
    from meshcheck import mutants_cmd

    try:
        bugs, _ = mutants_cmd.catalogue(protocol)
    except (MeshcheckError, ImportError):
        return ()
    return tuple(bugs)


def kills_of_rows(rows: Iterable[SummaryRow], catalogue: Any = _catalogue) -> tuple[Kill, ...]:
    """The kill matrix's cells read off verify's `mutants` rows: each mutant of the protocol's
    catalogue (`catalogue(protocol)`, in its order), a survivor when the row names it, else
    killed by the check the row names (or the checks, when several killed that protocol's
    mutants). A row that could not run (`error`) gives no cells."""
    kills: list[Kill] = []
    for r in rows:
        if r.kind != "mutants" or r.result not in ("pass", "FAIL"):
            continue
        survived: set[str] = set()
        checks: list[str] = []
        for part in r.detail.split("; "):
            if part.startswith("survived: "):
                survived.update(s.strip() for s in part.removeprefix("survived: ").split(","))
            elif part.startswith("killed by "):
                # "killed by stored traces 6, lockstep 6": a check's name may hold spaces
                for each in part.removeprefix("killed by ").split(", "):
                    check, _, n = each.rpartition(" ")
                    checks.append(check if n.isdigit() and check else each)
        killer = " or ".join(checks) if checks else "killed"
        names = tuple(catalogue(r.name)) or tuple(sorted(survived))
        for mutant in names:
            kills.append(Kill(r.name, mutant, "" if mutant in survived else killer))
    return tuple(kills)


def kills_of(protocol: str, outcomes: Sequence[Outcome]) -> tuple[Kill, ...]:
    """The exact cells of `meshcheck mutants`'s outcomes: each mutant's first killer, its time
    and the length of its counterexample; "" for a survivor."""
    kills = []
    for o in outcomes:
        killer = o.killer
        if killer is None:
            spent = sum(a.seconds for a in o.attempts if not a.spec)
            kills.append(Kill(protocol, o.mutant, "", spent))
        else:
            kills.append(Kill(protocol, o.mutant, killer.check, killer.seconds, killer.steps))
    return tuple(kills)


_ACTIONS = re.compile(r"actions (\d+)/(\d+)")
_RARE = re.compile(r"rare conditions (\d+)/(\d+)")


def coverage_of(rows: Sequence[SummaryRow]) -> tuple[CoveragePoint, ...]:
    """Per protocol with a coverage row: nothing at 0 s, and at the end of its property tests
    (their seconds summed) what they reached: examples, actions fired, states, rare conditions."""
    points: list[CoveragePoint] = []
    for r in rows:
        found = _ACTIONS.search(r.detail) if r.kind == "coverage" else None
        if found is None:
            continue
        protocol = r.name
        tests = [t for t in rows if t.kind == "tests" and t.name.startswith(f"{protocol}/")]
        examples = sum(t.count or 0 for t in tests if t.unit == "examples")
        seconds = sum(t.seconds for t in tests)
        fired, total = int(found.group(1)), int(found.group(2))
        rare = _RARE.search(r.detail)
        hit, rare_total = (int(rare.group(1)), int(rare.group(2))) if rare else (0, 0)
        points.append(CoveragePoint(protocol, 0.0, 0, 0, total, 0, 0, rare_total))
        points.append(
            CoveragePoint(protocol, seconds, examples, fired, total, r.count or 0, hit, rare_total)
        )
    return tuple(points)


def failure_file(row_name: str, folders: Sequence[Path]) -> Path | None:
    """The counterexample pytest wrote for the failed property test `row_name` (verify's name
    for it, `raft/test_lockstep::test_x`), in the first of `folders` that has it."""
    from meshcheck.property_tests.record import file_name

    name = file_name(row_name)
    return next((f / name for f in folders if (f / name).is_file()), None)


def _replay(row: SummaryRow) -> str:
    """The command that re-runs a failed check that left no trace."""
    if row.kind == "tlc":
        return f"meshcheck check {row.name}"
    if row.kind == "tests":
        module, _, test = row.name.partition("::")
        return f"pytest 'property_tests/{module}.py::{test}'"
    if row.kind == "mutants":
        return f"meshcheck mutants {row.name}"
    if row.kind == "z3":
        return f"meshcheck prove {row.name}"
    return "meshcheck verify --only " + row.kind


def failure_of(row: SummaryRow, folders: Sequence[Path], again: str = "") -> Failure:
    """A failed row as a failure: its detail as the message; for a property test that left a
    counterexample, the trace (ITF text), its replay line and its timeline. `again`: the command
    the terminal's summary prints for the row (verify_summary.again), the page's line too."""
    from meshcheck.property_tests.record import replay_command
    from meshcheck.traces import itf
    from meshcheck.traces import timeline
    from meshcheck.traces.timeline.svg import render as draw

    title = f"{row.kind}: {row.name}"
    message = f"{row.result}: {row.detail}" if row.detail else row.result
    path = failure_file(row.name, folders) if row.kind == "tests" else None
    if path is None:
        return Failure(title, message, again or _replay(row))
    try:
        text = path.read_text(encoding="utf-8")
        trace = itf.read(path)
    except (OSError, MeshcheckError) as exc:
        return Failure(
            title, f"{message}\n(its trace {path} could not be read: {exc})", again or _replay(row)
        )
    try:
        svg = draw(timeline.timeline_of(trace, path=path))
    except Exception as exc:  # a picture that cannot be drawn must not lose the rest
        svg = ""
        message += f"\n(no timeline: {type(exc).__name__}: {exc})"
    meta_lines = _divergence(trace.meta)
    if meta_lines:
        message = "\n".join([message, *meta_lines][:MESSAGE_LINES])
    return Failure(title, message, replay_command(path, trace), text, svg)


def _divergence(meta: Any) -> list[str]:
    """The lines of a counterexample's `#meta.divergence` (what a lockstep check said)."""
    found = meta.get("divergence") if hasattr(meta, "get") else None
    if isinstance(found, tuple):
        return [str(line) for line in found]
    return [str(found)] if found else []


def page_of(
    rows: Iterable[Any],
    *,
    profile: str,
    generated: str,
    folders: Sequence[Path] = (),
    title: str = "meshcheck verify",
    notes: Sequence[str] = (),
    seed: int | None = None,
) -> Page:
    """verify's rows as a page: the summary, the kill matrix, coverage, and a failure per failed
    or errored row (property tests with the trace from `folders`), each with the command the
    terminal's summary prints for it."""
    from meshcheck import verify_summary

    rows = list(rows)
    summary = summary_of(rows)
    bad = [r for r in rows if r.result in BAD and hasattr(r, "source")]
    # the command again names a protocol by its specs alone (verify_summary.again)
    areas = verify_summary.Areas(verify_summary.spec_areas() if bad else {})
    agains = {(r.kind, r.name): verify_summary.again(r, profile, seed, areas) for r in bad}
    failures = tuple(
        failure_of(r, folders, agains.get((r.kind, r.name), "")) for r in summary if r.result in BAD
    )
    return Page(
        title=title,
        generated=generated,
        summary=summary,
        kills=kills_of_rows(summary),
        coverage=coverage_of(summary),
        failures=failures,
        notes=(f"profile {profile}", *notes),
    )


def write_report(
    rows: Iterable[Any], path: str | Path, *, profile: str, root: Path, seed: int | None = None
) -> Path:
    """`meshcheck verify --html FILE`: the page of verify's rows written to `path`. The property
    tests' counterexamples are looked for where verify's pytest wrote them (reports/failures/
    under the project) and under the current folder."""
    import datetime
    import os

    from meshcheck.property_tests.record import failures

    folders = list(dict.fromkeys([root / "reports" / "failures", failures()]))
    if os.environ.get("SOURCE_DATE_EPOCH"):  # reproducible builds' convention
        now = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), datetime.UTC)
    else:
        now = datetime.datetime.now(datetime.UTC)
    generated = f"generated by meshcheck verify at {now:%Y-%m-%d %H:%M} UTC"
    page = page_of(rows, profile=profile, generated=generated, folders=folders, seed=seed)
    return write(page, path)


def check_writable(path: str | Path) -> None:
    """Refuse, before verify runs for minutes, a report path that cannot be written: one line
    (MeshcheckError, exit 2). A file this creates to find out is removed again."""
    path = Path(path)
    if path.is_dir():
        raise MeshcheckError(f"{path}: is a folder, not a file for the HTML report")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as err:
        raise MeshcheckError(
            f"{path}: cannot write the HTML report: {err.strerror or err}"
        ) from None
    if not existed:
        path.unlink()
