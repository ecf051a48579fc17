"""A protocol's log checks in `meshcheck verify` (its descriptor's `log_checks`, each a Ref to a
meshcheck.verify_rows.TraceCheck; meshcheck/verify_logs.py holds meshcheck's own): a "traces" row
of its protocol's, kept by `--protocol` with it and left out with another, in the fast profile
only when marked `fast`, and counted in its protocol's line of the summary."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from meshcheck import registry
from meshcheck import verify_summary
from meshcheck.cli import main
from meshcheck.protocol import Models
from meshcheck.protocol import Protocol
from meshcheck.traces import itf
from meshcheck.verify import log_check_units
from meshcheck.verify import project_root
from meshcheck.verify import summary_areas
from meshcheck.verify import trace_units
from meshcheck.verify_logs import LOG_ROW
from meshcheck.verify_logs import PYSYNCOBJ_LOG_ROW
from meshcheck.verify_rows import Row
from meshcheck.verify_rows import TraceCheck

ROOT = project_root()
QUICK_ROW = "toy's logs validated"
LONG_ROW = "toy's long logs validated"


def _quick(root: Path, profile: str, seed: int | None) -> Row:
    return Row("traces", QUICK_ROW, "pass", 3, "steps", 0.0, f"profile {profile}, seed {seed}")


def _long(root: Path, profile: str, seed: int | None) -> Row:
    return Row("traces", LONG_ROW, "pass", 30, "steps", 0.0)


QUICK = TraceCheck(QUICK_ROW, _quick, fast=True)
LONG = TraceCheck(LONG_ROW, _long)
NOT_A_CHECK = "a string"

TOY = Protocol(
    "toylogs",
    "a protocol with two log checks and no corpus",
    Models(spec="Raft"),
    log_checks=("tests.test_verify_logs:QUICK", "tests.test_verify_logs:LONG"),
)
OTHER = Protocol("toyother", "another protocol, with neither", Models(spec="Raft"))


def _names(chosen: tuple[str, ...], profile: str) -> list[str]:
    """The log checks' rows alone (trace_units' other rows read every stored trace: seconds)."""
    return [u.name for u in log_check_units(ROOT, chosen, profile, None)[0]]


def test_a_protocols_log_checks_are_its_rows_and_no_other_protocols(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # trace_units reads every stored trace whole to learn its protocol: both calls below read the
    # same files, parsed once here (2 to 3 CPU-s a call)
    monkeypatch.setattr(itf, "read", functools.cache(itf.read))
    with registry.registered(TOY), registry.registered(OTHER):
        mine = trace_units(ROOT, ("toylogs",), "quick", 7)
        assert [u.name for u in mine] == [QUICK_ROW, LONG_ROW]  # none lacks: no skip row
        assert [r.detail for u in mine[:1] for r in u.run()] == ["profile quick, seed 7"]
        # the fast profile runs the check marked fast alone
        assert _names(("toylogs",), "fast") == [QUICK_ROW]
        # another protocol's run leaves them out
        assert [u.name for u in trace_units(ROOT, ("toyother",), "quick")] == ["toyother"]
        assert _names(("raft",), "default") == [LOG_ROW]
        assert _names(("raft", "toylogs"), "default") == [LOG_ROW, QUICK_ROW, LONG_ROW]
        assert _names(("pysyncobj",), "default") == [PYSYNCOBJ_LOG_ROW]
        assert _names(("pysyncobj",), "fast") == []  # its logs are not in the gate
        # and a row goes with its protocol in the summary
        areas = summary_areas(ROOT, "quick", ("toylogs",))
        row = Row("traces", LONG_ROW, "pass", 30, "steps", 0.0)
        assert verify_summary.area(row, areas) == "toylogs"
    assert verify_summary.area(Row("traces", LOG_ROW, "pass", 1, "", 0.0), areas) == "raft"


def test_a_ref_that_names_no_trace_check_is_one_error_row() -> None:
    ref = "tests.test_verify_logs:NOT_A_CHECK"
    broken = Protocol(
        "toybroken", "a log check that is none", Models(spec="Raft"), log_checks=(ref,)
    )
    with registry.registered(broken):
        units, have = log_check_units(ROOT, ("toybroken",), "fast", None)
    assert [u.name for u in units] == [ref] and have == {"toybroken"}
    [row] = units[0].run()
    assert (row.result, row.detail) == (
        "error",
        f"protocol toybroken: log_checks: {ref} is a str, not a TraceCheck",
    )


def test_verify_protocol_runs_its_log_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the reports
    argv = ["verify", "--profile", "quick", "--only", "traces", "--workers", "1", "--table"]
    with registry.registered(TOY):
        assert main([*argv, "--protocol", "toylogs"]) == 0
    rows = [line.split("|")[1:4] for line in capsys.readouterr().out.splitlines()]
    assert [[c.strip() for c in r] for r in rows if r and r[0].strip() == "traces"] == [
        ["traces", QUICK_ROW, "pass"],
        ["traces", LONG_ROW, "pass"],
    ]
