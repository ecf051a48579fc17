"""`meshcheck verify`'s report: examples the property tests ran, corpus traces replayed on the
implementation, mutants killed out of the total, and the JSON and JUnit files written by default."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from meshcheck import mutants_cmd
from meshcheck import verify
from meshcheck.cli import main
from meshcheck.impl.base.errors import ConfigError
from meshcheck.property_tests import corpus
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.verify import Row

TINY = textwrap.dedent(
    """
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=7, database=None)
    @given(st.integers())
    def test_drawn(n):
        pass

    @settings(max_examples=5, database=None)
    @given(st.integers(0, 10))
    def test_fails_on_any_draw(n):
        assert n < 0

    def test_plain():
        pass

    def test_a_check_runs_hypothesis_inside():
        @settings(max_examples=9, database=None)
        @given(st.integers())
        def inner(n):
            pass

        inner()
        inner()
    """
)


def test_property_test_rows_count_the_examples_hypothesis_ran(tmp_path: Path) -> None:
    tests = tmp_path / "property_tests"
    tests.mkdir()
    (tests / "test_tiny.py").write_text(TINY)
    rows = {r.name: r for r in verify.test_rows(tmp_path, "quick", tmp_path)}
    assert (rows["test_tiny::test_drawn"].count, rows["test_tiny::test_drawn"].unit) == (
        7,
        "examples",
    )
    failing = rows["test_tiny::test_fails_on_any_draw"]
    assert failing.result == "FAIL" and failing.unit == "examples" and failing.count
    assert (rows["test_tiny::test_plain"].count, rows["test_tiny::test_plain"].unit) == (1, "tests")
    assert "7 property-test examples" in verify.totals_line([rows["test_tiny::test_drawn"]])
    # Hypothesis's plugin sees no test of its own in a check's inner run: only the hook counts it
    inner = rows["test_tiny::test_a_check_runs_hypothesis_inside"]
    assert (inner.count, inner.unit) == (1, "tests")


def test_the_project_hook_counts_the_examples_of_a_check_inside_a_test(tmp_path: Path) -> None:
    """property_tests/conftest.py, loaded as the property tests load it, counts every Hypothesis
    run inside a test and puts the total in the JUnit report, where verify reads it."""
    (tmp_path / "test_tiny.py").write_text(TINY)
    report = tmp_path / "report.xml"
    plugins = ["-p", "meshcheck.property_tests.conftest", "-p", "no:cacheprovider"]
    where = ["--rootdir", str(tmp_path), f"--junitxml={report}", str(tmp_path)]
    subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-q", *where],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        check=False,
    )
    examples = verify.hypothesis_examples(ET.parse(report).getroot())
    assert examples["test_tiny.py::test_a_check_runs_hypothesis_inside"] == 18  # two runs of 9
    assert examples["test_tiny.py::test_drawn"] == 7
    assert examples["test_tiny.py::test_fails_on_any_draw"] >= 1
    assert "test_tiny.py::test_plain" not in examples


def _entry(name: str) -> Any:
    (entry,) = (e for e in corpus.entries(["raft"]) if e.path.name == name)
    return entry


def test_a_corpus_trace_holds_on_the_implementation_and_fails_with_its_mutant() -> None:
    row = verify._impl_row(_entry("forget_voted_for.itf.json"), "x")
    assert (row.result, row.count, row.unit) == ("pass", 2, "steps")
    assert row.detail == "fails with forget_voted_for at step 2"
    # a trace that does not catch the mutant named any more must be renewed
    stale = attrs.evolve(
        _entry("forget_voted_for.itf.json"), bugs=frozenset({"read_without_quorum"})
    )
    row = verify._impl_row(stale, "x")
    assert row.result == "FAIL" and "no longer fails with read_without_quorum" in row.detail


def _caught(bugs: frozenset[str], settings: Any) -> None:
    if "caught" in bugs:
        raise CheckFailed("caught", steps=1)


@pytest.mark.parametrize(
    "bugs,result", [({"caught": "x"}, "pass"), ({"caught": "x", "missed": "y"}, "FAIL")]
)
def test_mutant_rows_count_the_killed(
    monkeypatch: pytest.MonkeyPatch, bugs: Mapping[str, str], result: str
) -> None:
    monkeypatch.setattr(mutants_cmd, "with_catalogue", lambda: ("raft",))
    monkeypatch.setattr(
        mutants_cmd, "catalogue", lambda protocol: (bugs, [Check("first", _caught, "")])
    )
    (row,) = verify.mutant_rows("quick")
    assert (row.kind, row.name, row.result, row.count) == ("mutants", "raft", result, 1)
    assert row.unit == f"of {len(bugs)} killed"
    assert row.detail == ("killed by first 1" if result == "pass" else "survived: missed")
    many = "mutant" if len(bugs) == 1 else "mutants"  # "1 of 1 mutant killed" (meshcheck/words.py)
    assert verify.totals_line([row]) == f"1 of {len(bugs)} {many} killed"


def test_the_report_is_written_as_json_and_junit_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into reports/ of the folder the user stands in, whatever --root names (an installed copy's
    root is inside site-packages)."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    project = tmp_path / "project"
    specs = project / "specs"
    specs.mkdir(parents=True)
    (specs / "Tick.tla").write_text(
        "---- MODULE Tick ----\nEXTENDS Naturals\nVARIABLE x\nInit == x = 0\n"
        "Next == x' = (x + 1) % 3\n====\n"
    )
    (specs / "Tick.cfg").write_text("INIT Init\nNEXT Next\n")
    assert main(["verify", "--profile", "default", "--root", str(project), "--only", "tlc"]) == 0
    assert f"report: {here / 'reports' / 'verify.json'}" in capsys.readouterr().out
    assert not (project / "reports").exists()
    doc = json.loads((here / "reports" / "verify.json").read_text())
    assert [(c["kind"], c["name"], c["result"], c["count"]) for c in doc["checks"]] == [
        ("tlc", "Tick", "pass", 3)
    ]
    suite = ET.parse(here / "reports" / "verify.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("name"), suite.get("tests")) == ("tlc", "1")


@pytest.mark.parametrize(
    "error", [ConfigError("mutants: no catalogue"), ImportError("No module named 'x.bugs'")]
)
def test_a_mutant_row_that_cannot_run_or_load_is_an_error_row_with_why(error: Exception) -> None:
    """A catalogue that raises the project's error, or cannot even be imported, gives one error
    row saying why, not a traceback that ends the whole run."""

    def fails() -> Row:
        raise error

    [row] = verify._rows_any("mutants", "toy", fails)
    assert (row.kind, row.name, row.result) == ("mutants", "toy", "error")
    assert str(error) in row.detail


def test_a_run_whose_rows_are_all_skips_checked_nothing_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plug-in with no proof set, verified for its proofs alone: its one row is a skip, which
    is no check passed. The summary says so, the run ends with one line saying nothing was
    checked, and it exits 2 (as `mutants` on no catalogue does), in the JSON report too."""
    from meshcheck import registry
    from meshcheck.protocol import Models
    from meshcheck.protocol import Protocol

    monkeypatch.chdir(tmp_path)
    report = tmp_path / "verify.json"
    bare = Protocol("bare", "its spec and nothing else", Models(spec="RaftPipelined"))
    args = ["verify", "--protocol", "bare", "--profile", "quick", "--only", "z3"]
    with registry.registered(bare):
        code = main([*args, "--workers", "1", "--json", str(report)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "\n0 of 1 check passed, 1 skipped: nothing checked in " in out
    assert "1 of 1 check passed" not in out
    assert err.splitlines()[-1] == (
        "meshcheck: nothing checked: its one row was skipped (a skip's line above says why)"
    )
    doc = json.loads(report.read_text())
    assert doc["exit"] == 2
    assert [(c["kind"], c["result"]) for c in doc["checks"]] == [("z3", "skip")]


def test_a_skip_beside_a_passed_check_is_counted_apart_and_the_run_holds() -> None:
    rows = [
        Row("tests", "test_mine::t", "pass", 1, "tests", 0.1),
        Row("z3", "mine", "skip", None, "", 0.0, "no Z3 proof set (its descriptor's proofs)"),
    ]
    assert verify.exit_code(rows) == 0
    assert verify.exit_code(rows[1:]) == 2 and verify.exit_code([]) == 2
