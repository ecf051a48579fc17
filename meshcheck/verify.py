"""`meshcheck verify`: every check the project has, one summary table, non-zero exit on any failure.

Four kinds of check, in this order:

    tlc     every TLC model of `specs/` that the profile selects (see meshcheck.catalog)
    z3      every proof set of `models/` (models.registry)
    tests   the Hypothesis property tests of `property_tests/`, under the profile's Hypothesis settings
    traces  every stored trace under `traces/` replayed against its spec (each step a spec step)

Exit code: 1 if a check failed (a property violated, a proof failed, a test failed, a trace no longer
replays), 2 if a check could not run (bad input, tool problem), else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from meshcheck import table
from meshcheck.catalog import Model, scan
from meshcheck.errors import EXIT_HOLDS, EXIT_USAGE, EXIT_VIOLATED, MeshcheckError
from meshcheck.progress import ProgressPrinter
from property_tests.profiles import HYPOTHESIS

KINDS = ("tlc", "z3", "tests", "traces")
# verify profile -> Hypothesis profile
HYPOTHESIS_PROFILE = HYPOTHESIS


@attrs.frozen
class Row:
    kind: str
    name: str
    result: str  # "pass" | "FAIL" | "error" | "skip"
    count: int | None
    unit: str  # what count counts: "states", "obligations", "tests", "traces"
    seconds: float
    detail: str = ""


def project_root() -> Path:
    from specs import SPEC_DIR

    return SPEC_DIR.parent


def _timed(kind: str, name: str, fn: Callable[[], Row]) -> Row:
    start = time.perf_counter()
    try:
        return fn()
    except MeshcheckError as exc:
        return Row(kind, name, "error", None, "", time.perf_counter() - start, str(exc))


def tlc_rows(root: Path, profile: str) -> Iterator[Row]:
    from specs.tlc.check import Outcome, check

    found, problems = scan(root / "specs", profile)
    for problem in problems:
        yield Row(
            "tlc",
            str(problem).split(":", 1)[0].rsplit("/", 1)[-1],
            "error",
            None,
            "",
            0.0,
            str(problem),
        )
    for model in found:

        def run(model: Model = model) -> Row:
            printer = ProgressPrinter(f"TLC {model.name}")
            try:
                r = check(
                    model.spec,
                    model.config,
                    workers=model.workers or 1,
                    deadlock=model.deadlock,
                    progress=printer,
                )
            finally:
                printer.done()
            if r.outcome is Outcome.HOLDS:
                if model.expect_distinct is not None and r.distinct != model.expect_distinct:
                    return Row(
                        "tlc",
                        model.name,
                        "FAIL",
                        r.distinct,
                        "states",
                        r.seconds,
                        f"recorded {model.expect_distinct:,} distinct states, found {r.distinct:,}",
                    )
                return Row("tlc", model.name, "pass", r.distinct, "states", r.seconds)
            if r.outcome is Outcome.VIOLATED and r.violation is not None:
                what = r.violation.name or r.violation.kind
                return Row(
                    "tlc", model.name, "FAIL", r.distinct, "states", r.seconds, f"violated: {what}"
                )
            return Row("tlc", model.name, "error", r.distinct, "states", r.seconds, r.message)

        yield _timed("tlc", model.name, run)


def z3_rows() -> Iterator[Row]:
    from models.registry import PROOF_SETS

    for name, prove in sorted(PROOF_SETS.items()):

        def run(name: str = name, prove: Callable[[], list] = prove) -> Row:  # type: ignore[type-arg]
            start = time.perf_counter()
            results = prove()
            bad = [r for r in results if r.status != "proved"]
            seconds = time.perf_counter() - start
            if not bad:
                return Row("z3", name, "pass", len(results), "obligations", seconds)
            detail = "; ".join(f"{r.name}: {r.status}" for r in bad)
            result = "FAIL" if any(r.status == "failed" for r in bad) else "error"
            return Row("z3", name, result, len(results), "obligations", seconds, detail)

        yield _timed("z3", name, run)


def test_rows(root: Path, profile: str, scratch: Path) -> Iterator[Row]:
    tests = root / "property_tests"
    report = scratch / "property-tests.xml"
    env = dict(os.environ, MESHCHECK_HYPOTHESIS=HYPOTHESIS_PROFILE[profile])
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tests),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "--rootdir",
            str(root),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode == 5:  # pytest: no tests collected
        yield Row(
            "tests", "property_tests", "skip", 0, "tests", seconds, "no property tests collected"
        )
        return
    if not report.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        yield Row("tests", "property_tests", "error", None, "tests", seconds, " / ".join(tail))
        return
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name', '')}"
        problem = _first(case, "failure", "error")
        if problem is not None:
            message = (problem.get("message") or "failed").splitlines()[0][:160]
            yield Row("tests", name, "FAIL", 1, "tests", float(case.get("time", "0")), message)
        else:
            result = "skip" if case.find("skipped") is not None else "pass"
            yield Row("tests", name, result, 1, "tests", float(case.get("time", "0")))


def _first(element: ET.Element, *tags: str) -> ET.Element | None:
    for tag in tags:
        found = element.find(tag)
        if found is not None:
            return found
    return None


def trace_rows(root: Path) -> Iterator[Row]:
    for path in sorted((root / "traces").rglob("*.itf.json")):
        name = str(path.relative_to(root))
        yield _timed("traces", name, lambda path=path, name=name: _replay_row(path, name, root))  # type: ignore[misc]


def _replay_row(path: Path, name: str, root: Path) -> Row:
    from traces.replay import replay_stored

    start = time.perf_counter()
    outcome = replay_stored(path, root=root)
    seconds = time.perf_counter() - start
    if outcome.ok:
        return Row("traces", name, "pass", outcome.steps, "steps", seconds)
    return Row("traces", name, "FAIL", outcome.steps, "steps", seconds, outcome.problem)


def summarize(rows: list[Row]) -> str:
    body = [
        (
            r.kind,
            r.name,
            r.result,
            f"{table.count(r.count)} {r.unit}".strip() if r.count is not None else "",
            table.seconds(r.seconds),
            r.detail,
        )
        for r in rows
    ]
    return table.format_table(
        ("check", "name", "result", "states / examples", "seconds", "detail"), body, right=(4,)
    )


def exit_code(rows: list[Row]) -> int:
    if any(r.result == "FAIL" for r in rows):
        return EXIT_VIOLATED
    if any(r.result == "error" for r in rows):
        return EXIT_USAGE
    return EXIT_HOLDS


def write_json(rows: list[Row], path: Path, profile: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"profile": profile, "exit": exit_code(rows), "checks": [attrs.asdict(r) for r in rows]}
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def write_junit(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suites = ET.Element("testsuites", name="meshcheck verify")
    for kind in KINDS:
        mine = [r for r in rows if r.kind == kind]
        if not mine:
            continue
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=kind,
            tests=str(len(mine)),
            failures=str(sum(r.result == "FAIL" for r in mine)),
            errors=str(sum(r.result == "error" for r in mine)),
            skipped=str(sum(r.result == "skip" for r in mine)),
            time=f"{sum(r.seconds for r in mine):.3f}",
        )
        for r in mine:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"meshcheck.{kind}",
                name=r.name,
                time=f"{r.seconds:.3f}",
            )
            if r.result == "FAIL":
                ET.SubElement(case, "failure", message=r.detail)
            elif r.result == "error":
                ET.SubElement(case, "error", message=r.detail)
            elif r.result == "skip":
                ET.SubElement(case, "skipped", message=r.detail)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def run_verify(args: argparse.Namespace) -> int:
    import tempfile

    root = Path(args.root).resolve() if args.root else project_root()
    kinds = tuple(args.only) if args.only else KINDS
    rows: list[Row] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="meshcheck-verify-") as scratch:
        stages: list[tuple[str, Callable[[], Iterator[Row]]]] = [
            ("tlc", lambda: tlc_rows(root, args.profile)),
            ("z3", z3_rows),
            ("tests", lambda: test_rows(root, args.profile, Path(scratch))),
            ("traces", lambda: trace_rows(root)),
        ]
        for kind, stage in stages:
            if kind not in kinds:
                continue
            print(f"== {kind}", file=sys.stderr, flush=True)
            for row in stage():
                rows.append(row)
                print(
                    f"   {row.result:5} {row.name} ({table.seconds(row.seconds)}s) {row.detail}".rstrip(),
                    file=sys.stderr,
                    flush=True,
                )
    print()
    print(summarize(rows))
    failed = sum(r.result in ("FAIL", "error") for r in rows)
    print(
        f"\n{len(rows) - failed} of {len(rows)} checks passed in {time.perf_counter() - start:.1f}s "
        f"(profile {args.profile})"
    )
    if args.json:
        write_json(rows, Path(args.json), args.profile)
    if args.junit:
        write_junit(rows, Path(args.junit))
    return exit_code(rows)
