"""What each row of `meshcheck verify` costs and what its check has caught: CPU-seconds per row,
the kill record (meshcheck/kills.py) and the mutants a row's check has killed, in the table, the
JSON report and the HTML report; and a property test the saturation stop ended says so."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from meshcheck import kills
from meshcheck import verify
from meshcheck.html.from_verify import page_of
from meshcheck.html.render import render
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.mutants_cmd import Attempt
from meshcheck.mutants_cmd import Outcome
from meshcheck.verify import Plan
from meshcheck.verify import Row
from meshcheck.verify import Unit
from tests.test_exercise import JUDGED
from tests.test_exercise import assert_judged

SAFE = "meshcheck.property_tests.raft.free_runs.free_run_safety.<locals>.free_run_is_safe"
FREE3, FREE5 = f"{SAFE}(nodes=3)", f"{SAFE}(nodes=5)"


def _outcomes() -> list[Outcome]:
    """Two mutants: one killed by the 3-node free runs, one by lockstep after free runs missed."""
    return [
        Outcome("a", (Attempt("free runs (3 nodes)", True, 1.0, 5, runs=(FREE3,)),)),
        Outcome(
            "b",
            (
                Attempt("free runs (3 nodes)", False, 2.0, runs=(FREE3,)),
                Attempt("lockstep", True, 0.5, 2, runs=("x.Lockstep",)),
                Attempt("TLC on the spec", True, 0.1, 2, spec=True),
            ),
        ),
    ]


def test_the_record_keeps_each_checks_runs_and_kills_and_only_adds(tmp_path: Path) -> None:
    record = kills.of_outcomes("raft", _outcomes())
    assert record == {
        "raft": {
            "free runs (3 nodes)": kills.Killer(frozenset({FREE3}), frozenset({"a"})),
            "lockstep": kills.Killer(frozenset({"x.Lockstep"}), frozenset({"b"})),
        }
    }
    path = tmp_path / "kills.json"
    kills.add(record, path)
    later = {"raft": {"free runs (3 nodes)": kills.Killer(frozenset({FREE3}), frozenset({"c"}))}}
    merged = kills.add(later, path)
    assert kills.load(path) == merged
    assert merged["raft"]["free runs (3 nodes)"].killed == {"a", "c"}  # ever caught: a union
    assert kills.killed_by_runs(merged, [FREE3]) == ("raft:a", "raft:c")
    assert kills.killed_by_runs(merged, [FREE5]) == ()


def test_a_broken_record_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "kills.json"
    path.write_text('{"version": 1, "protocols": {"raft": {"lockstep": {"runs": 3}}}}')
    with pytest.raises(MeshcheckError, match="not a kill record"):
        kills.load(path)


def test_a_units_row_gets_the_cpu_its_process_spent() -> None:
    def busy() -> list[Row]:
        end = time.process_time() + 0.05
        while time.process_time() < end:
            pass
        return [Row("z3", "spin", "pass", 1, "obligations", 0.05)]

    (row,) = verify.run_costed(Unit("z3", "spin", busy))
    assert row.cpu is not None and row.cpu >= 0.05


def test_rows_get_the_kills_of_the_checks_they_run_and_the_report_shows_cost_and_kills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = Plan(tmp_path, "default", None, tmp_path)
    kills.save(kills.of_outcomes("raft", _outcomes()), tmp_path / "kills" / "raft.json")
    rows = [
        Row(
            "tests",
            "raft/test_free_runs::safe[3]",
            "pass",
            60,
            "examples",
            9.0,
            "",
            8.5,
            runs=(FREE3,),
        ),
        Row(
            "tests",
            "raft/test_free_runs::safe[5]",
            "pass",
            60,
            "examples",
            9.0,
            "",
            8.0,
            runs=(FREE5,),
        ),
        Row("mutants", "raft", "pass", 2, "of 2 killed", 3.0, "", 2.9, ("raft:a", "raft:b")),
    ]
    record = tmp_path / "reports" / "kills.json"
    three, five, mutants = verify.with_kills(rows, plan, record)
    assert three.kills == ("raft:a",) and five.kills == () and mutants.kills == ("raft:a", "raft:b")
    assert "lockstep" in kills.load(record)["raft"]  # this run's kills are kept

    report = tmp_path / "verify.json"
    verify.write_json([three, five, mutants], report, "default")
    doc = json.loads(report.read_text())
    first = doc["checks"][0]
    assert (first["cpu"], first["kills"]) == (8.5, ["raft:a"]) and "runs" not in first
    assert doc["cost"]["tests"] == {"rows": 2, "seconds": 18.0, "cpu": 16.5}
    assert verify.cost_line([three, five, mutants]) == (
        "cost: 19 CPU-s: tests 16 CPU-s (18 s), mutants 3 CPU-s (3 s)"
    )
    table = verify.summarize([three]).splitlines()
    assert table[0].split("|")[7:9] == [" CPU s ", " kills "] and "8.50" in table[2]

    html = render(page_of([three, five, mutants], profile="default", generated="now"))
    assert '<td class="num cpu">8.50</td><td class="kills">1: a</td>' in html
    assert "<th>CPU s</th><th>kills</th>" in html


TINY = textwrap.dedent(
    """
    from hypothesis import given, settings, strategies as st

    from meshcheck import coverage

    @settings(max_examples=200, database=None)
    @given(st.integers(0, 10**9))
    def test_reaches_three_actions(x):
        coverage.actions("toy", [f"a{x % 3}"])
    """
)


def test_a_property_test_the_stop_ended_says_so_with_its_cpu_and_runs(tmp_path: Path) -> None:
    """The default profile (dev) under the project's pytest hooks (property_tests/conftest.py):
    the row counts the examples run, says the stop ended it, and carries its CPU and its run."""
    tests = tmp_path / "property_tests"
    tests.mkdir()
    (tests / "conftest.py").write_text(
        "from meshcheck.property_tests.conftest import (  # noqa: F401\n"
        "    pytest_runtest_call, pytest_sessionstart,\n)\n"
    )
    (tests / "test_tiny.py").write_text(TINY)
    # and, in the same run (one pytest process for both), two tests whose runs were judged
    # (tests/test_exercise.py)
    (tests / "test_judged.py").write_text(JUDGED)
    rows = list(verify.test_rows(tmp_path, "default", tmp_path))
    (row,) = [r for r in rows if r.name.startswith("test_tiny::")]
    assert_judged(rows)
    assert row.result == "pass" and row.unit == "examples" and row.count is not None
    assert row.count < 200 and row.detail == f"saturated: {row.count} of 200 examples"
    assert row.cpu is not None and row.cpu > 0
    assert row.runs == ("test_tiny.test_reaches_three_actions()",)


def test_the_cost_table_of_a_report_and_a_bad_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from meshcheck import cost_table

    three = Row(
        "tests",
        "raft/x::safe[3]",
        "pass",
        81,
        "examples",
        9.0,
        "saturated: 81 of 200 examples",
        12.5,
        ("raft:a",),
    )
    cheap = Row("z3", "raft", "pass", 3, "obligations", 1.0, "", 0.5)
    report = tmp_path / "verify.json"
    verify.write_json([three, cheap], report, "default")
    assert cost_table.main([str(report)]) == 0
    out = capsys.readouterr().out
    kinds, rows = out.split("\n\n")
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in kinds.splitlines()[2:]]
    assert cells == [
        ["tests", "1", "9", "12", "1"],
        ["z3", "1", "1", "0", ""],
        ["all", "2", "10", "13", ""],
    ]
    body = [[c.strip() for c in line.split("|")[1:-1]] for line in rows.splitlines()[2:]]
    # the costliest rows, at least 10 CPU-s: not the proof set
    assert body == [
        [
            "tests",
            "raft/x::safe[3]",
            "12.5",
            "9.0",
            "81 examples (saturated: 81 of 200 examples)",
            "1: a",
        ]
    ]
    report.write_text("[1, 2]")
    assert cost_table.main([str(report)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a verify report" in err[0]


def test_a_broken_kill_record_is_said_and_left_and_the_runs_kills_still_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = Plan(tmp_path, "default", None, tmp_path)
    kills.save(kills.of_outcomes("raft", _outcomes()), tmp_path / "kills" / "raft.json")
    record = tmp_path / "kills.json"
    record.write_text("not json")
    row = Row("tests", "raft/t::safe[3]", "pass", 60, "examples", 9.0, runs=(FREE3,))
    (shown,) = verify.with_kills([row], plan, record)
    assert shown.kills == ("raft:a",)
    assert record.read_text() == "not json"
    assert "kill record not read (left as it is)" in capsys.readouterr().err
