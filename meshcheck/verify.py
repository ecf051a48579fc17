"""`meshcheck verify`: every check the project has, one summary, non-zero exit on any failure.

Five kinds of check, in this order:

    tlc      every TLC model of the registered protocols' specs (meshcheck/registry.py: each
             descriptor's models) that the profile selects, then those of `specs/` no descriptor
             claims (see meshcheck.catalog): states, seconds
    z3       every registered protocol's proof set (meshcheck/proofs.py): obligations proved, seconds
    tests    the registered protocols' Hypothesis property tests (`property_tests/<protocol>`),
             under the profile's Hypothesis settings: the examples each ran (Hypothesis's own
             statistics, from the JUnit report); then a "coverage" row per protocol, what the
             tests reached (meshcheck/coverage.py): distinct states, spec actions fired of the
             descriptor's table, named rare conditions hit of its list, those never hit named
    traces   every stored trace under `traces/` replayed against its spec (each step a spec step),
             and every implementation counterexample of the regression corpus
             (property_tests/corpus.py) replayed against the implementation: it must hold, and fail
             with the mutant it was written for; and every stored client history
             (traces/histories/index.toml) checked for linearizability, with the verdict expected;
             and each registered protocol's log checks (its descriptor's `log_checks`: the
             reference Raft's NDJSON logs validated, full and partial state, broken ones caught,
             docs/logs.md; meshcheck/verify_logs.py); outside the `fast` profile, the runs on
             real processes (the systems' files, the runtime's protocols)
    mutants  per registered protocol with a mutant catalogue, the mutants killed out of the total (the profile's
             Hypothesis budget, first killer only, no shrinking: whether a check kills does not
             depend on it)

`--protocol NAME` (repeatable) keeps only the rows of the registered protocols named: their models,
proofs, property tests, stored traces, log checks and mutants (the models of specs no descriptor
claims, and the systems' rows, are left out); a kind of check a named protocol lacks is one "skip"
row naming the descriptor field that adds it (docs/plugins.md): a skip is no check passed, and a
run whose rows are all skips checked nothing, which it says in one line, exit 2. stdout ends with
a summary per protocol and each failure in full (meshcheck/verify_summary.py; `--table`: the table
of every row instead); the rows are also written as JSON (for dashboards; default
reports/verify.json) and JUnit XML (default reports/verify.xml) in the current folder, never
inside the installed package.

`--workers N` (default: every core) runs the checks on N cores (meshcheck/verify_pool.py): the
property tests in one pytest run spread over N pytest-xdist processes, beside a pool of N processes
for the other units (a TLC model, a proof set, a trace, a mutant matrix each); the table lists the
same rows in the same order as `--workers 1`, which runs every check in this process, one after
another.

`--profile fast` (`make verify`, the 3-minute gate; docs/reference/profiles.md) runs each spec's
one quick model (no temporal property), every proof set, the property tests marked `fast` at the
`fast` Hypothesis budget, and the stored traces, histories and the log checks marked `fast` (the
reference Raft's logs); the mutant matrices, the other log checks and the clusters of processes
(real time, on real processes) are the other profiles' and `make test`'s.

Exit code: 1 if a check failed (a property violated, a proof failed, a test failed, a trace no longer
replays, a mutant survived), 2 if a check could not run (bad input, tool problem), else 0.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import Any

import attrs

from meshcheck import exercise
from meshcheck import table
from meshcheck import verify_summary
from meshcheck import words
from meshcheck.catalog import Model
from meshcheck.catalog import scan
from meshcheck.exercise import VACUOUS
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_USAGE
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.interrupts import sigterm_interrupts
from meshcheck.progress import ProgressPrinter
from meshcheck.property_tests.profiles import HYPOTHESIS
from meshcheck.property_tests.profiles import SEED_ENV

# the rows and units are verify_rows.py's (named here too, where the tests find them)
from meshcheck.verify_rows import Plan as Plan
from meshcheck.verify_rows import Row as Row
from meshcheck.verify_rows import Unit as Unit
from meshcheck.verify_rows import error_unit
from meshcheck.verify_rows import one
from meshcheck.verify_rows import rows_of
from meshcheck.verify_rows import run_costed as run_costed
from meshcheck.verify_rows import run_tracked
from meshcheck.verify_rows import stop_children as stop_children
from meshcheck.verify_rows import timed
from meshcheck.verify_rows import trace_check
from meshcheck.violated import VIOLATED
from meshcheck.violated import Violated
from meshcheck.violated import lead

KINDS = ("tlc", "z3", "tests", "traces", "mutants")  # the coverage rows come with "tests"
# a failure's detail in the table and reports: at most this long, cut after what failed, never in it
DETAIL_WIDTH = 160
FAST = "fast"  # the profile of `make verify`: the 3-minute gate (docs/reference/profiles.md)
FAST_KINDS = ("tlc", "z3", "tests", "traces")  # what it runs unless --only names more
FAST_MARK = "fast"  # the pytest marker of the property tests it runs
# verify profile -> Hypothesis profile
HYPOTHESIS_PROFILE = HYPOTHESIS


def project_root() -> Path:
    """The folder that holds specs/, traces/ and property_tests/: the repository, or the installed
    package `meshcheck` (importlib.resources finds it either way)."""
    return Path(str(files("meshcheck.specs"))).resolve().parent


Chosen = Collection[str] | None  # the protocols `--protocol` names; None: every one


def chosen_protocols(names: list[str] | None) -> Chosen:
    """The protocols `--protocol` names, each checked against the registry (UnknownProtocol,
    exit 2, lists the known ones); None when it names none (every protocol)."""
    from meshcheck import registry

    if not names:
        return None
    return tuple(dict.fromkeys(registry.get(name).name for name in names))


def _mine(name: str, chosen: Chosen) -> bool:
    return chosen is None or name in chosen


def own_project(root: Path) -> bool:
    """Whether `root` is meshcheck's own project (the registered protocols' checks run), not a
    folder of specs (`--root`) of which only what is in it runs."""
    return root.resolve() == project_root().resolve()


def select_models(
    root: Path, profile: str, chosen: Chosen = None
) -> tuple[list[Model], list[MeshcheckError]]:
    """The models `profile` runs: each registered protocol's (its descriptor's models, in the
    order of the registry), then those of root/specs that no descriptor claims (none when
    `chosen` names protocols); for another project (`--root`), the models of its specs/ folder.
    The fast profile runs one model per registered spec (a variant's model of a spec already
    checked, Raft's without the no-op or with pre-vote, is left out) and none of the specs no
    descriptor claims."""
    from meshcheck import registry
    from meshcheck.catalog import protocol_models

    if not own_project(root):
        found, problems = scan(root / "specs", profile)
        return found, list(problems)
    models_run: list[Model] = []
    errors: list[MeshcheckError] = []
    claimed: set[Path] = set()
    for name, protocol in registry.protocols().items():
        if not _mine(name, chosen):
            continue
        for models in protocol.all_models():
            if profile == FAST and any(m.spec.stem == models.spec for m in models_run):
                continue
            try:
                mine = protocol_models(models, profile)
            except MeshcheckError as exc:
                errors.append(exc)
                continue
            models_run.extend(mine)
            claimed.update(m.spec.resolve() for m in mine)
    if chosen is not None or profile == FAST:
        return models_run, errors
    others, problems = scan(root / "specs", profile)
    models_run.extend(m for m in others if m.spec.resolve() not in claimed)
    return models_run, [*errors, *problems]


def tlc_rows(root: Path, profile: str, chosen: Chosen = None) -> Iterator[Row]:
    yield from rows_of(tlc_units(root, profile, chosen))


def tlc_units(root: Path, profile: str, chosen: Chosen = None, *, live: bool = True) -> list[Unit]:
    """A unit per model the profile selects (after a row per model that could not be read);
    `live`: TLC's progress lines on stderr while a model runs (off in a parallel run, whose
    processes would write over each other)."""
    from meshcheck.specs.tlc.check import Outcome
    from meshcheck.specs.tlc.check import check

    found, problems = select_models(root, profile, chosen)
    units: list[Unit] = []
    for problem in problems:
        name = str(problem).split(":", 1)[0].rsplit("/", 1)[-1]
        row = Row("tlc", name, "error", None, "", 0.0, str(problem))
        units.append(Unit("tlc", name, partial(list, [row])))
    for model in found:

        def run(model: Model = model) -> Row:
            printer = ProgressPrinter(f"TLC {model.name}") if live else None
            try:
                r = check(
                    model.spec,
                    model.config,
                    workers=model.workers or 1,
                    deadlock=model.deadlock,
                    progress=printer,
                )
            finally:
                if printer is not None:
                    printer.done()
            if r.outcome is Outcome.HOLDS:
                changed = model.count_changed(r.distinct)
                if changed is not None:
                    return Row("tlc", model.name, "FAIL", r.distinct, "states", r.seconds, changed)
                return Row("tlc", model.name, "pass", r.distinct, "states", r.seconds, r.note)
            if r.outcome is Outcome.VIOLATED and r.violation is not None:
                # a deadlock or an assumption has no name: its kind is what failed
                name = r.violation.name
                what = Violated(r.violation.kind, name) if name else None
                detail = lead(what, "") if what else f"violated: {r.violation.kind}"
                return Row(
                    "tlc",
                    model.name,
                    "FAIL",
                    r.distinct,
                    "states",
                    r.seconds,
                    detail,
                    violated=str(what) if what else r.violation.kind,
                )
            return Row("tlc", model.name, "error", r.distinct, "states", r.seconds, r.message)

        def sourced(run: Callable[[], Row] = run, config: Path = model.config) -> Row:
            return attrs.evolve(run(), source=shown(config))

        units.append(one("tlc", model.name, sourced))
    return units


def shown(path: Path) -> str:
    """A path as a command printed for the user takes it: relative to the current folder when
    under it."""
    here = Path.cwd()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def z3_rows(chosen: Chosen = None) -> Iterator[Row]:
    """Each registered protocol's proof set (its descriptor's `proofs`), by protocol name."""
    yield from rows_of(z3_units(chosen))


def z3_units(chosen: Chosen = None) -> list[Unit]:
    from meshcheck import proofs as registry

    units = [
        one("z3", name, partial(_z3_row, name)) for name in registry.names() if _mine(name, chosen)
    ]
    units.extend(
        _lacking("z3", chosen, registry.names(), "no Z3 proof set (its descriptor's proofs)")
    )
    return units


def _z3_row(name: str) -> Row:
    from meshcheck import proofs as registry

    start = time.perf_counter()
    results = registry.run(name)
    bad = [r for r in results if r.status != "proved"]
    seconds = time.perf_counter() - start
    if not bad:
        return Row("z3", name, "pass", len(results), "obligations", seconds)
    detail = "; ".join(f"{r.name}: {r.status}" for r in bad)
    result = "FAIL" if any(r.status == "failed" for r in bad) else "error"
    return Row("z3", name, result, len(results), "obligations", seconds, detail)


def _lacking(kind: str, chosen: Chosen, have: Collection[str], what: str) -> list[Unit]:
    """A "skip" unit for each protocol `--protocol` names that lacks this kind of check."""
    rows = [
        Row(kind, name, "skip", None, "", 0.0, what) for name in chosen or () if name not in have
    ]
    return [Unit(kind, row.name, partial(list, [row])) for row in rows]


def test_paths(root: Path, chosen: Chosen = None) -> list[str]:
    """What pytest runs: the registered protocols' property tests (each descriptor's
    `property_tests`, relative to the project), or another project's property_tests/ folder."""
    from meshcheck import registry

    if not own_project(root):
        return [str(root / "property_tests")]
    paths = [
        path
        for name, p in registry.protocols().items()
        if _mine(name, chosen)
        for path in p.test_paths(root)[0]
    ]
    return [str(p) for p in paths]


def lacking_tests(root: Path, chosen: Chosen) -> Iterator[Row]:
    """A "skip" row for each protocol `--protocol` names that has no property tests to run."""
    from meshcheck import registry

    for name in chosen or ():
        found, missing = registry.get(name).test_paths(root)
        if not found:
            why = "; ".join(missing) or "its descriptor's property_tests names none"
            detail = f"no property tests ({why}): set property_tests to a module or a path"
            yield Row("tests", name, "skip", 0, "tests", 0.0, detail)


def test_rows(
    root: Path,
    profile: str,
    scratch: Path,
    chosen: Chosen = None,
    workers: int = 1,
    seed: int | None = None,
) -> Iterator[Row]:
    """The property tests in one pytest run, a row per test in collection order; `workers` > 1
    spreads their files over that many pytest-xdist processes (`--dist loadfile`: a file's module
    fixtures, a JVM or a TLC run, are built once), as `make test` does. Derandomized, or seeded
    with `seed` (an exploration: property_tests/profiles.py), and with Python's string hashes
    fixed, so that nothing of the draw depends on the process."""
    from meshcheck import coverage
    from meshcheck import verify_order

    tests = test_paths(root, chosen)
    if own_project(root):
        yield from lacking_tests(root, chosen)
    if not tests:  # pytest with no paths would run the whole project's suite
        if chosen is None or not own_project(root):
            yield Row("tests", "property_tests", "skip", 0, "tests", 0.0, "no property tests")
        return
    report = scratch / "property-tests.xml"
    covered = scratch / "coverage"
    order = scratch / "property-tests.order"
    env = dict(
        os.environ,
        MESHCHECK_HYPOTHESIS=HYPOTHESIS_PROFILE[profile],
        MESHCHECK_COVERAGE="1",
        MESHCHECK_COVERAGE_DIR=str(covered),
        PYTHONHASHSEED="0",
        **{verify_order.ENV: str(order)},
    )
    env.pop(SEED_ENV, None)
    # failures are written under the current folder (property_tests/record.py), not under the
    # folder pytest runs in (the project, or the installed package): their replay lines name
    # files the user has
    env.setdefault("MESHCHECK_FAILURES", str(Path.cwd() / "reports" / "failures"))
    if seed is not None:
        env[SEED_ENV] = str(seed)
        env["MESHCHECK_FAILURES"] = str(explored_failures(seed))
    spread = min(workers, _test_files(tests)) if _has_xdist() else 1
    start = time.perf_counter()
    returncode, stdout, stderr = run_tracked(
        [
            sys.executable,
            "-m",
            "pytest",
            *tests,
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "meshcheck.verify_order",
            "-p",
            "meshcheck.coverage_pytest",
            "-p",
            "meshcheck.failures_pytest",
            "-p",
            "meshcheck.exercise_pytest",
            *(["-m", FAST_MARK] if profile == FAST else []),
            *(["-n", str(spread), "--dist", "loadfile"] if spread > 1 else []),
            f"--junitxml={report}",
            "--rootdir",
            str(root),
        ],
        root,
        env,
    )
    seconds = time.perf_counter() - start
    if returncode == 5:  # pytest: no tests collected
        detail = "no property tests collected"
        if profile == FAST:
            detail = f"no property test marked {FAST_MARK} (pytest.mark.{FAST_MARK})"
        yield Row("tests", "property_tests", "skip", 0, "tests", seconds, detail)
        return
    if not report.exists():
        tail = (stdout + stderr).strip().splitlines()[-3:]
        yield Row("tests", "property_tests", "error", None, "tests", seconds, " / ".join(tail))
        return
    document = ET.parse(report).getroot()
    examples = hypothesis_examples(document)
    position = verify_order.read(order)
    where = verify_order.files(order)
    cases = list(document.iter("testcase"))
    # the order of collection, as one process runs them; xdist reports tests as they finish
    cases.sort(
        key=lambda c: position.get((c.get("classname", ""), c.get("name", "")), len(position))
    )
    for case in cases:
        # "pbft/test_lockstep::test_...": the protocol's folder too, so rows of different
        # protocols' tests of one name stay apart
        module = case.get("classname", "").removeprefix("property_tests.").replace(".", "/")
        name = f"{module}::{case.get('name', '')}"
        # its file as the command that runs it again takes it (verify_summary.again): relative
        # to the project, or whole (a plug-in's, installed elsewhere)
        file = where.get((case.get("classname", ""), case.get("name", "")))
        source = "" if file is None else _shown(file, root)
        ran = examples.get(_nodeid(case))
        count, unit = (ran, "examples") if ran is not None else (1, "tests")
        problem = _first(case, "failure", "error")
        seconds = float(case.get("time", "0"))
        props = _properties(case)
        cpu = float(props["cpu-seconds"]) if "cpu-seconds" in props else None
        runs = (
            tuple(props.get("hypothesis-runs", "").split("\n"))
            if props.get("hypothesis-runs")
            else ()
        )
        if problem is not None:
            said = (problem.get("message") or "failed").splitlines()[0]
            said = said.split("CheckFailed: ", 1)[-1]  # pytest's "module.CheckFailed: message"
            what = Violated.parse(props.get(VIOLATED, "")) or Violated.leading(said)
            message = lead(what, said, DETAIL_WIDTH)
            yield Row(
                "tests",
                name,
                "FAIL",
                count,
                unit,
                seconds,
                message,
                cpu,
                runs=runs,
                violated=str(what) if what else "",
                source=source,
            )
        else:
            result = "skip" if case.find("skipped") is not None else "pass"
            every, said = exercise.read(props.get(exercise.PROPERTY, ""))
            if every and result == "pass":  # its runs held, having exercised nothing: not a pass
                result = VACUOUS
            detail = "; ".join(d for d in (said, _saturated(props)) if d)
            yield Row(
                "tests", name, result, count, unit, seconds, detail, cpu, runs=runs, source=source
            )
    if own_project(root):
        if "PYTEST_CURRENT_TEST" not in os.environ:  # not into a test session's own folder
            coverage.keep(covered, coverage.folder())  # what `meshcheck coverage` then reports
        yield from coverage_rows(covered, chosen)


def _shown(file: Path, root: Path) -> str:
    """A test's file relative to the project `root` when under it, else whole."""
    root = root.resolve()
    return str(file.relative_to(root)) if file.is_relative_to(root) else str(file)


def _properties(case: ET.Element) -> dict[str, str]:
    """A JUnit test case's properties (property_tests/conftest.py writes them), by name."""
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def _saturated(props: dict[str, str]) -> str:
    """The detail of a test whose Hypothesis runs the saturation stop ended early
    (property_tests/saturation.py): "saturated: 71 of 200 examples"."""
    done, _, budget = props.get("hypothesis-saturated", "").partition("/")
    return f"saturated: {done} of {words.count(int(budget), 'example')}" if done and budget else ""


def _has_xdist() -> bool:
    import importlib.util

    return importlib.util.find_spec("xdist") is not None


def _test_files(paths: list[str]) -> int:
    """The test files under `paths` (what xdist's `--dist loadfile` can spread)."""
    found = 0
    for path in map(Path, paths):
        found += 1 if path.is_file() else sum(1 for _ in path.rglob("test_*.py"))
    return found


def coverage_rows(folder: Path, chosen: Chosen = None) -> Iterator[Row]:
    """A row per registered protocol: what its property tests reached (meshcheck/coverage.py,
    merged from the per-test files the run wrote): the distinct states as the count, and in the
    detail the actions fired of its table and the rare conditions hit of its list, naming those
    never hit. A measure, not a check: a condition never hit is shown, and fails nothing; a row
    whose tests took no action of its table is "skip", saying so."""
    from meshcheck import coverage

    start = time.perf_counter()
    merged = coverage.merge_dir(folder) if folder.is_dir() else {}
    for summary in coverage.summaries(merged, None if chosen is None else list(chosen)):
        yield Row(
            "coverage",
            summary.protocol,
            summary.result,
            summary.states,
            "states",
            time.perf_counter() - start,
            summary.line(),
        )
        seen = merged.get(summary.protocol)
        for name, unit, count, detail in coverage.tally_rows(seen):
            row = f"{summary.protocol} {name}"
            yield Row("coverage", row, "pass", count, unit, time.perf_counter() - start, detail)


_PHASE = re.compile(r"during (\w+) phase.*?(\d+) passing, (\d+) failing", re.DOTALL)


def hypothesis_examples(document: ET.Element) -> dict[str, int]:
    """Examples each Hypothesis test ran (passing and failing, every phase but shrinking), by
    pytest node id. property_tests/conftest.py counts them for every test (a check's Hypothesis
    run inside a test too) as the test case's property `hypothesis-examples`; a test without it
    falls back on the statistics Hypothesis's own plugin puts in the report's properties."""
    found: dict[str, int] = {}
    prefix = "hypothesis-statistics-"
    for prop in document.iter("property"):
        name = prop.get("name", "")
        if not name.startswith(prefix):
            continue
        text = base64.b64decode(prop.get("value", "")).decode("utf-8", "replace")
        found[name[len(prefix) :]] = sum(
            int(p) + int(f) for phase, p, f in _PHASE.findall(text) if phase != "shrink"
        )
    for case in document.iter("testcase"):
        for prop in case.iter("property"):
            if prop.get("name") == "hypothesis-examples":
                found[_nodeid(case)] = int(prop.get("value", "0"))
    return found


def _nodeid(case: ET.Element) -> str:
    """The pytest node id of a JUnit test case (property_tests/raft/test_x.py::test_y[a])."""
    classname = case.get("classname", "")
    parts = classname.split(".")
    # classname is the dotted module path, with a class name after it when the test is a method
    path = "/".join(p for p in parts if not p[:1].isupper())
    classes = [p for p in parts if p[:1].isupper()]
    return "::".join([f"{path}.py", *classes, case.get("name", "")])


def _first(element: ET.Element, *tags: str) -> ET.Element | None:
    for tag in tags:
        found = element.find(tag)
        if found is not None:
            return found
    return None


def trace_rows(root: Path, chosen: Chosen = None, profile: str = "quick") -> Iterator[Row]:
    """Each stored trace on its spec (a model trace, or a lockstep path: `#meta.spec`), then each
    corpus entry on the implementation. The stored traces are those under root/traces/ and the
    registered protocols' corpora (a plug-in's are in its own package); with `chosen`, only the
    traces whose `#meta.protocol` is one of them."""
    yield from rows_of(trace_units(root, chosen, profile))


def trace_units(
    root: Path, chosen: Chosen = None, profile: str = "quick", seed: int | None = None
) -> list[Unit]:
    from meshcheck import registry
    from meshcheck.traces import itf

    units: list[Unit] = []
    replayed: set[str] = set()  # the protocols of the stored traces kept
    corpus = _corpus(root, chosen)
    named = {entry.path.resolve(): entry.name for entry in corpus}
    found = {p.resolve(): str(p.relative_to(root)) for p in (root / "traces").rglob("*.itf.json")}
    findings = _findings(root, chosen)
    kept = {entry.path.resolve() for entry in findings}
    for path, name in sorted({**named, **found}.items(), key=lambda item: item[1]):
        try:
            # the #meta alone: each trace listed here is read whole where it is replayed
            meta = itf.read_meta(path)
            listed = chosen is None or meta.get("protocol") in chosen
            replayed_later = "spec" in meta or "protocol" not in meta or path in named
            if listed and not (replayed_later or path in kept):
                itf.read(path)  # replayed nowhere: its format checked here
        except MeshcheckError as exc:
            row = Row("traces", name, "error", None, "", 0.0, str(exc))
            units.append(Unit("traces", name, partial(list, [row])))
            continue
        if chosen is not None and meta.get("protocol") not in chosen:
            continue
        replayed.add(str(meta.get("protocol")))
        # a free run of the implementation is no spec path: only the implementation replays it
        if "spec" in meta or "protocol" not in meta:
            units.append(one("traces", name, partial(_replay_row, path, name, root)))
    for entry in corpus:
        name = f"{entry.name} on the implementation"
        units.append(one("traces", name, partial(_impl_row, entry, name)))
    for entry in findings:
        name = f"{entry.name}{FINDING}"
        units.append(one("traces", name, partial(_finding_row, entry, name)))
    if chosen is None:
        units.extend(history_units(root))
    logs, have_logs = log_check_units(root, chosen, profile, seed)
    units.extend(logs)
    # what the fast profile leaves out: the runs on real processes, which take real time: of each
    # known system whose file has a `[verify]` table (with the checks of its own the table names:
    # meshcheck/verify_systems.py), and of each of the project's cores whose runtime protocol
    # declares its run (meshcheck/verify_cluster.py `clusters`): both lists are data, their
    # members not named here
    more = own_project(root) and profile != FAST
    if systems_run(root, chosen, profile):
        from meshcheck import verify_systems

        units.extend(verify_systems.units(root, profile, seed))
    if more:
        from meshcheck import verify_cluster

        for cluster in verify_cluster.clusters():
            if chosen is None or cluster.protocol in chosen:
                test = partial(verify_cluster.cluster_row, cluster, seed)
                units.append(one("traces", cluster.row, test))
    if own_project(root):
        have = {n for n in chosen or () if registry.get(n).corpus} | replayed | have_logs
        units.extend(_lacking("traces", chosen, have, "no stored traces (its descriptor's corpus)"))
    return units


def log_check_units(
    root: Path, chosen: Chosen, profile: str, seed: int | None
) -> tuple[list[Unit], set[str]]:
    """A row per log check of each registered protocol (its descriptor's `log_checks`, Refs to
    TraceChecks: meshcheck/verify_logs.py holds meshcheck's own), those `chosen`, in the order of
    the registry; the fast profile runs those marked `fast` alone. A Ref that names no TraceCheck
    is an error row. Also the protocols that got a row, which lack no stored-trace check. None for
    another project (`--root`)."""
    from meshcheck import registry

    units: list[Unit] = []
    have: set[str] = set()
    if not own_project(root):
        return units, have
    for name, protocol in registry.protocols().items():
        if not _mine(name, chosen):
            continue
        for ref in protocol.log_checks:
            try:
                check = trace_check(ref, f"protocol {name}: log_checks: {ref}")
            except ConfigError as exc:
                units.append(error_unit("traces", ref, str(exc)))
                have.add(name)
                continue
            if profile == FAST and not check.fast:
                continue
            units.append(one("traces", check.name, partial(check.run, root, profile, seed)))
            have.add(name)
    return units, have


def systems_run(root: Path, chosen: Chosen, profile: str) -> bool:
    """Whether the run has the rows of the systems described by files (meshcheck/verify_systems.py):
    meshcheck's own project, every protocol (a system is none of them), a profile but `fast`."""
    return own_project(root) and chosen is None and profile != FAST


def summary_areas(root: Path, profile: str, chosen: Chosen = None) -> verify_summary.Areas:
    """Where the summary puts each row (meshcheck/verify_summary.py `Areas`), from data alone:
    the registered protocols' specs and log checks (their descriptors), and, when the run has
    them (`systems_run`), the systems' rows and specs (their files' `[verify]` tables). Empty for
    another project (`--root`), whose rows go by their specs' names."""
    from meshcheck import registry

    if not own_project(root):
        return verify_summary.Areas()
    rows: dict[str, str] = {}
    for name, protocol in registry.protocols().items():
        for ref in protocol.log_checks:
            try:
                rows.setdefault(trace_check(ref, ref).name, name)
            except ConfigError:  # its row is an error row named by the Ref
                rows.setdefault(ref, name)
    systems: Mapping[str, str] = {}
    if systems_run(root, chosen, profile):
        from meshcheck import verify_systems

        found = verify_systems.areas()
        systems = found.systems
        rows = {**found.rows, **rows}
    return verify_summary.Areas(verify_summary.spec_areas(), systems, rows)


def history_rows(root: Path) -> Iterator[Row]:
    """Each stored client history (traces/histories/) must get the verdict its index expects from
    the linearizability checker `meshcheck history check` runs."""
    yield from rows_of(history_units(root))


def history_units(root: Path) -> list[Unit]:
    from meshcheck.traces.history import stored

    try:
        histories = stored.entries(stored.folder(root))
    except MeshcheckError as exc:
        row = Row("traces", "histories", "error", None, "", 0.0, str(exc))
        return [Unit("traces", "histories", lambda: [row])]
    units: list[Unit] = []
    for entry in histories:

        def run(entry: stored.Stored = entry) -> Row:
            outcome = stored.check(entry)
            result = "pass" if outcome.ok else "FAIL"
            detail = outcome.verdict
            if not outcome.ok:
                detail = f"{outcome.verdict}, expected {entry.expect}"
            return Row("traces", entry.name, result, outcome.ops, "ops", outcome.seconds, detail)

        units.append(one("traces", entry.name, run))
    return units


def _corpus(root: Path, chosen: Chosen = None) -> list[Any]:
    """The regression corpus of the registered protocols (those chosen), read through their
    harnesses; none for another project (`--root`)."""
    from meshcheck.property_tests import corpus

    return corpus.entries(chosen) if own_project(root) else []


FINDING = " (finding)"  # the name suffix of a finding's row


def _findings(root: Path, chosen: Chosen = None) -> list[Any]:
    """The discrepancies found in third-party implementations (traces/<protocol>/findings/)."""
    from meshcheck.property_tests import corpus

    return corpus.findings(chosen) if own_project(root) else []


def _finding_row(entry: Any, name: str) -> Row:
    """A finding in a third-party implementation must still reproduce on the release it was
    found in: it passes when the run fails as stored, and fails when the run now holds."""
    from meshcheck.property_tests.corpus import replay

    start = time.perf_counter()
    found = replay(entry, frozenset())
    seconds = time.perf_counter() - start
    if found.holds:
        detail = "no longer reproduces: renew or retire it"
        return Row("traces", name, "FAIL", found.steps, "steps", seconds, detail)
    what = found.problem.split("; run ", 1)[0]  # what failed and where, not the schedule
    said = lead(Violated.leading(what), what, DETAIL_WIDTH - len("reproduces: "))
    return Row("traces", name, "pass", found.steps, "steps", seconds, f"reproduces: {said}")


def _impl_row(entry: Any, name: str) -> Row:
    """A corpus entry must hold on the implementation, and fail with its mutant."""
    from meshcheck.property_tests.corpus import replay

    start = time.perf_counter()
    fixed = replay(entry, frozenset())
    if not fixed.holds:
        seconds = time.perf_counter() - start
        what = Violated.leading(fixed.problem)
        detail = lead(what, fixed.problem, DETAIL_WIDTH)
        return Row(
            "traces",
            name,
            "FAIL",
            fixed.steps,
            "steps",
            seconds,
            detail,
            violated=str(what) if what else "",
        )
    detail = ""
    if entry.bugs:
        mutated = replay(entry, entry.bugs)
        if mutated.holds:
            seconds = time.perf_counter() - start
            lost = f"no longer fails with {', '.join(sorted(entry.bugs))}: renew it"
            return Row("traces", name, "FAIL", fixed.steps, "steps", seconds, lost)
        detail = f"fails with {', '.join(sorted(entry.bugs))} at step {mutated.steps}"
    seconds = time.perf_counter() - start
    return Row("traces", name, "pass", fixed.steps, "steps", seconds, detail)


def mutant_rows(profile: str, chosen: Chosen = None) -> Iterator[Row]:
    """Per protocol: how many of its mutants the property checks kill, first killer only."""
    yield from rows_of(mutant_units(profile, chosen))


def mutant_units(profile: str, chosen: Chosen = None, scratch: Path | None = None) -> list[Unit]:
    """A unit per protocol with a catalogue; each writes its kill record (meshcheck/kills.py) to
    `scratch`/kills/<protocol>.json, which the run adds to reports/kills.json."""
    from meshcheck import mutants_cmd

    units = [
        Unit(
            "mutants",
            protocol,
            partial(
                _rows_any, "mutants", protocol, partial(_mutant_row, protocol, profile, scratch)
            ),
        )
        for protocol in mutants_cmd.with_catalogue()
        if _mine(protocol, chosen)
    ]
    what = "no mutant catalogue (its descriptor's bugs and checks)"
    units.extend(_lacking("mutants", chosen, mutants_cmd.with_catalogue(), what))
    return units


def _mutant_row(protocol: str, profile: str, scratch: Path | None) -> Row:
    from meshcheck import kills
    from meshcheck import mutants_cmd

    start = time.perf_counter()
    outcomes = mutants_cmd.run_mutants(protocol, profile=profile, shrink=False, tlc=False)
    seconds = time.perf_counter() - start
    if scratch is not None:
        record = kills.of_outcomes(protocol, outcomes)
        kills.save(record, scratch / "kills" / f"{protocol}.json")
    killed = [o for o in outcomes if o.killer is not None]
    names = tuple(f"{protocol}:{o.mutant}" for o in killed)
    unit = f"of {len(outcomes)} killed"
    survivors = [o.mutant for o in outcomes if o.killer is None]
    if survivors:
        detail = f"survived: {', '.join(survivors)}"
        return Row("mutants", protocol, "FAIL", len(killed), unit, seconds, detail, kills=names)
    by: dict[str, int] = {}
    for o in killed:
        assert o.killer is not None
        by[o.killer.check] = by.get(o.killer.check, 0) + 1
    detail = "killed by " + ", ".join(f"{check} {n}" for check, n in by.items())
    return Row("mutants", protocol, "pass", len(killed), unit, seconds, detail, kills=names)


def _rows_any(kind: str, name: str, fn: Callable[[], Row]) -> list[Row]:
    return [_timed_any(kind, name, fn)]


def _timed_any(kind: str, name: str, fn: Callable[[], Row]) -> Row:
    """As `timed`, and a catalogue that cannot even load (an import error) is an error row."""
    start = time.perf_counter()
    try:
        return timed(kind, name, fn)
    except ImportError as exc:
        return Row(kind, name, "error", None, "", time.perf_counter() - start, f"{exc}")


def _replay_row(path: Path, name: str, root: Path) -> Row:
    from meshcheck.property_tests.replay import replay_stored

    start = time.perf_counter()
    outcome = replay_stored(path, root=root)
    seconds = time.perf_counter() - start
    if outcome.ok:
        return Row("traces", name, "pass", outcome.steps, "steps", seconds)
    return Row("traces", name, "FAIL", outcome.steps, "steps", seconds, outcome.problem)


def explored_failures(seed: int) -> Path:
    """Where an exploration's property tests write their failures: reports/failures/seed-S/ under
    the current folder, apart from other runs', so that `keep_explored` keeps just this run's."""
    return Path.cwd() / "reports" / "failures" / f"seed-{seed}"


def keep_explored(folder: Path, seed: int, corpus: Path) -> list[Path]:
    """Copy each counterexample an exploration with `seed` wrote into the regression corpus of
    its protocol (traces/counterexamples/<protocol>/found-<seed>-<file>), with `#meta.found`
    saying which run found it, so that every later run, derandomized, replays it: it must hold on
    the implementation, and fails until the bug is fixed (then `#meta.fixed` and a row of
    traces/counterexamples/README.md say what it was). `corpus`: traces/counterexamples/."""
    from meshcheck.impl.base.values import FrozenDict
    from meshcheck.traces import itf

    if not folder.is_dir():
        return []
    kept: list[Path] = []
    for path in sorted(folder.glob("*.itf.json")):
        trace = itf.read(path)
        protocol = trace.meta.get("protocol")
        if not isinstance(protocol, str):
            continue
        meta = {**trace.meta, "found": f"meshcheck verify --seed {seed}"}
        target = corpus / protocol / f"found-{seed}-{path.name}"
        kept.append(itf.write(attrs.evolve(trace, meta=FrozenDict(meta)), target))
    return kept


def summarize(rows: list[Row]) -> str:
    body = [
        (
            r.kind,
            r.name,
            r.result,
            f"{table.count(r.count)} {r.unit}".strip() if r.count is not None else "",
            table.seconds(r.seconds),
            r.detail,
            table.seconds(r.cpu) if r.cpu is not None else "",
            str(len(r.kills)) if r.kills else "",
        )
        for r in rows
    ]
    return table.format_table(
        ("check", "name", "result", "states / examples", "seconds", "detail", "CPU s", "kills"),
        body,
        right=(4, 6, 7),
    )


def exit_code(rows: list[Row]) -> int:
    """1 when a check failed; 2 when one could not run, or when nothing was checked (no row, or
    every row a skip: verify_summary.nothing_checked); 1 when a check was vacuous (its runs held
    having exercised almost nothing: meshcheck/exercise.py), as `cluster test` exits 1 on a check
    it could not decide: neither is shown to hold; else 0."""
    if any(r.result == "FAIL" for r in rows):
        return EXIT_VIOLATED
    if any(r.result == "error" for r in rows):
        return EXIT_USAGE
    if verify_summary.nothing_checked(rows):
        return EXIT_USAGE
    if any(r.result == VACUOUS for r in rows):
        return EXIT_VIOLATED
    return EXIT_HOLDS


def seed_text(seed: int | None, again: str = "") -> str:
    """How a run's examples were drawn, as the report says it; `again`, the command that runs the
    same checks with the same seed (verify_summary.run_again; default: every check)."""
    if seed is None:
        return "derandomized (each check's seed a hash of its test)"
    return f"seed {seed} (again: {again or f'meshcheck verify --seed {seed}'})"


def write_json(rows: list[Row], path: Path, profile: str, seed: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "profile": profile,
        "seed": "derandomized" if seed is None else seed,
        "exit": exit_code(rows),
        "cost": cost_by_kind(rows),
        "checks": [attrs.asdict(r, filter=lambda a, _: a.name != "runs") for r in rows],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def write_junit(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suites = ET.Element("testsuites", name="meshcheck verify")
    for kind in (*KINDS, "coverage"):
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
            # a vacuous row, which JUnit has no word for, as a skip that says so: never a pass
            skipped=str(sum(r.result in ("skip", VACUOUS) for r in mine)),
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
            elif r.result == VACUOUS:
                ET.SubElement(case, "skipped", message=f"{VACUOUS}: {r.detail}")
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def stage_units(plan: Plan, kind: str) -> list[Unit]:
    """The units of one stage (a kind of check), in the order the table lists their rows."""
    serial = plan.workers == 1
    if kind == "tlc":
        return tlc_units(plan.root, plan.profile, plan.chosen, live=serial)
    if kind == "z3":
        return z3_units(plan.chosen)
    if kind == "tests":

        def tests() -> list[Row]:
            return list(
                test_rows(
                    plan.root, plan.profile, plan.scratch, plan.chosen, plan.workers, plan.seed
                )
            )

        return [Unit("tests", "property_tests", tests)]
    if kind == "traces":
        return trace_units(plan.root, plan.chosen, plan.profile, plan.seed)
    if kind == "mutants":
        return mutant_units(plan.profile, plan.chosen, plan.scratch)
    raise ConfigError(f"unknown kind of check {kind!r} (known: {', '.join(KINDS)})")


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(text: str | None) -> int:
    """`--workers`: a whole number, at least 1 (1: one check after another in this process);
    none given: every core."""
    if text is None:
        return default_workers()
    try:
        n = int(text)
    except ValueError:
        raise ConfigError(f"--workers: expected a whole number, got {text!r}") from None
    if n < 1:
        raise ConfigError(f"--workers: expected at least 1, got {n}")
    return n


def _say(row: Row, kind: bool = False) -> None:
    what = f"{row.kind:8} " if kind else ""
    head = f"   {what}{row.result:5} "
    failed = verify_summary.what_failed(row)
    if failed:  # what failed first, whole: the name and the rest may be cut
        head += f"{failed}: "
    line = f"{head}{row.name} ({table.seconds(row.seconds)}s) {verify_summary.rest_of(row)}"
    print(verify_summary.clip(line.rstrip(), keep=len(head)), file=sys.stderr, flush=True)


def kinds_run(profile: str, only: Collection[str] | None) -> tuple[str, ...]:
    """The kinds of check a run makes, in the table's order: those `--only` names, else every
    kind the profile runs (all but `fast`'s: no mutant matrices)."""
    if only:
        return tuple(k for k in KINDS if k in only)
    return FAST_KINDS if profile == FAST else KINDS


def run_verify(args: argparse.Namespace) -> int:
    import tempfile

    workers = worker_count(getattr(args, "workers", None))
    root = Path(args.root).resolve() if args.root else project_root()
    kinds = kinds_run(args.profile, args.only)
    chosen = chosen_protocols(getattr(args, "protocol", None))
    seed: int | None = getattr(args, "seed", None)
    if getattr(args, "explore", False):
        import secrets

        seed = secrets.randbelow(2**32)
    again = verify_summary.run_again(args.profile, args.only, getattr(args, "protocol", None), seed)
    if seed is not None:
        print(f"== exploring: {seed_text(seed, again)}", file=sys.stderr, flush=True)
    if chosen is not None and not own_project(root):
        raise MeshcheckError(
            "--protocol picks meshcheck's registered protocols, not --root's specs"
        )
    rows: list[Row] = []
    start = time.perf_counter()
    with sigterm_interrupts(), tempfile.TemporaryDirectory(prefix="meshcheck-verify-") as scratch:
        plan = Plan(
            root,
            args.profile,
            None if chosen is None else tuple(chosen),
            Path(scratch),
            workers,
            seed,
        )
        if workers == 1:
            for kind in kinds:
                print(f"== {kind}", file=sys.stderr, flush=True)
                for unit in stage_units(plan, kind):
                    for row in run_costed(unit):
                        rows.append(row)
                        _say(row)
        else:
            from meshcheck.verify_pool import run_parallel

            print(f"== {', '.join(kinds)} on {workers} workers", file=sys.stderr, flush=True)
            rows = run_parallel(plan, kinds, stage_units, lambda row: _say(row, kind=True))
        rows = with_kills(rows, plan, kill_path(root))
    print()
    if getattr(args, "table", False):
        print(summarize(rows))
    else:
        areas = summary_areas(root, args.profile, chosen)
        only = next(iter(chosen)) if chosen is not None and len(chosen) == 1 else None
        if not verify_summary.nothing_checked(rows):  # a table of no check is no summary
            print(verify_summary.overview(rows, areas, only))
        wrong = verify_summary.failures(rows, args.profile, seed, areas)
        if wrong:
            print("\n" + "\n".join(wrong))
    cost = cost_line(rows)
    if cost:
        print(cost)
    print(
        f"\n{verify_summary.passed_line(rows)} in {time.perf_counter() - start:.1f}s "
        f"(profile {args.profile}; examples {seed_text(seed, again)})"
    )
    totals = totals_line(rows)
    if totals:
        print(totals)
    reports = Path.cwd() / "reports"
    json_path = Path(args.json) if args.json else reports / "verify.json"
    junit_path = Path(args.junit) if args.junit else reports / "verify.xml"
    write_json(rows, json_path, args.profile, seed)
    write_junit(rows, junit_path)
    print(f"report: {json_path}, {junit_path}")
    if getattr(args, "html", None) is not None:
        from meshcheck.html.from_verify import write_report

        page = write_report(rows, args.html, profile=args.profile, root=root, seed=seed)
        print(f"html: {page}")
    if seed is not None and own_project(root):
        corpus = root / "traces" / "counterexamples"
        for path in keep_explored(explored_failures(seed), seed, corpus):
            print(f"kept in the regression corpus: {path.relative_to(root)}")
    if verify_summary.nothing_checked(rows):
        print(verify_summary.nothing_checked_line(rows), file=sys.stderr)
    return exit_code(rows)


def kill_path(root: Path) -> Path | None:
    """Where the kill record is kept (meshcheck/kills.py): reports/kills.json under the current
    folder, for meshcheck's own checks (None for another project's, `--root`)."""
    from meshcheck import kills

    return Path.cwd() / kills.PATH if own_project(root) else None


def with_kills(rows: list[Row], plan: Plan, path: Path | None) -> list[Row]:
    """The run's kills added to the kill record in `path` (meshcheck/kills.py), and each
    property-test row given the mutants its checks have killed: those of the checks whose
    Hypothesis runs it ran too (by the record, this run's `mutants` rows included)."""
    from meshcheck import kills

    found = [kills.load(f) for f in sorted((plan.scratch / "kills").glob("*.json"))]
    if path is None:
        return rows
    try:
        kept = kills.load(path)
    except MeshcheckError as exc:  # the checks' results matter more: say so, keep the file
        print(f"kill record not read (left as it is): {exc}", file=sys.stderr)
        return [
            attrs.evolve(r, kills=kills.killed_by_runs(kills.merge(found), r.runs)) for r in rows
        ]
    record = kills.merge([kept, *found])
    if found:
        kills.save(record, path)
    return [
        attrs.evolve(r, kills=kills.killed_by_runs(record, r.runs)) if r.runs else r for r in rows
    ]


def cost_by_kind(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Per kind of check: its rows' wall-clock seconds summed, and their CPU-seconds (of the rows
    that measured it)."""
    cost: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.kind == "coverage":
            continue
        mine = cost.setdefault(r.kind, {"rows": 0, "seconds": 0.0, "cpu": 0.0})
        mine["rows"] += 1
        mine["seconds"] = round(mine["seconds"] + r.seconds, 3)
        mine["cpu"] = round(mine["cpu"] + (r.cpu or 0.0), 3)
    return cost


def cost_line(rows: list[Row]) -> str:
    """One line: CPU-seconds and wall-clock seconds by kind of check, largest first."""
    cost = sorted(cost_by_kind(rows).items(), key=lambda item: -item[1]["cpu"])
    parts = [f"{kind} {c['cpu']:,.0f} CPU-s ({c['seconds']:,.0f} s)" for kind, c in cost]
    total = sum(c["cpu"] for _, c in cost)
    return f"cost: {total:,.0f} CPU-s: " + ", ".join(parts) if parts else ""


def totals_line(rows: list[Row]) -> str:
    """One line of totals: examples the property tests ran, traces replayed, mutants killed."""
    parts = []
    examples = sum(r.count or 0 for r in rows if r.kind == "tests" and r.unit == "examples")
    if examples:
        parts.append(f"{examples:,} property-test examples")
    traces = [
        r
        for r in rows
        if r.kind == "traces" and r.result != "skip" and not r.name.endswith(FINDING)
    ]
    if traces:
        held = sum(r.result == "pass" for r in traces)
        parts.append(f"{held} of {len(traces)} trace replays held")
    findings = [r for r in rows if r.kind == "traces" and r.name.endswith(FINDING)]
    if findings:
        found = sum(r.result == "pass" for r in findings)
        parts.append(
            f"{found} of {words.count(len(findings), 'finding')} in third-party code reproduced"
        )
    mutants = [r for r in rows if r.kind == "mutants" and r.count is not None]
    if mutants:
        killed = sum(r.count or 0 for r in mutants)
        total = sum(int(r.unit.split()[1]) for r in mutants)
        parts.append(f"{killed} of {words.count(total, 'mutant')} killed")
    return "; ".join(parts)
