"""The `meshcheck` command end to end, in a subprocess, as a user runs it: exit codes, messages, files."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.command import meshcheck

ROOT = Path(__file__).resolve().parent.parent

COUNTER = """---- MODULE Counter ----
EXTENDS Naturals
VARIABLES x, y
Init == x = 0 /\\ y = 0
Incr == x < 10 /\\ x' = x + 1 /\\ UNCHANGED y
Bump(n) == y < 2 /\\ y' = y + n /\\ UNCHANGED x
Next == Incr \\/ \\E n \\in {1} : Bump(n)
Small == x < 4
Spec == Init /\\ [][Next]_<<x, y>>
====
"""


@pytest.fixture
def counter(tmp_path: Path) -> Path:
    (tmp_path / "Counter.tla").write_text(COUNTER)
    (tmp_path / "Counter.cfg").write_text("INIT Init\nNEXT Next\nINVARIANT Small\n")
    return tmp_path / "Counter.tla"


def test_violation_exits_1_writes_itf_that_trace_show_prints(counter: Path, tmp_path: Path) -> None:
    proc = meshcheck("check", str(counter), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "violated: Small" in proc.stdout
    assert "Invariant Small is violated" in proc.stdout  # the one-line reason is always shown
    assert "distinct states found" not in proc.stdout  # TLC's own output: only with -v
    written = tmp_path / "reports" / "counterexamples" / "Counter-Small.itf.json"
    assert f"written to {Path('reports/counterexamples/Counter-Small.itf.json')}" in proc.stdout
    # a user's run never writes into the tracked corpus of traces
    assert not (tmp_path / "traces").exists()
    doc = json.loads(written.read_text())
    assert [s["x"] for s in doc["states"]] == [0, 1, 2, 3, 4]
    assert [s["#meta"]["action"] for s in doc["states"]] == ["Init"] + ["Incr"] * 4

    show = meshcheck("trace", "show", str(written), cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    lines = show.stdout.splitlines()
    assert any(line.startswith("Step 4") and "Incr" in line for line in lines)
    assert "  * x: 3 -> 4" in lines
    # y never changes after the first state, so it is printed once only
    assert sum(line.strip().startswith("* y:") for line in lines) == 1
    # the header names the check and the property the counterexample breaks
    assert "property:  Small" in lines and "check:     model check Counter.cfg" in lines


@pytest.fixture(scope="module")
def holding(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], tuple[Path, subprocess.CompletedProcess[str]]]:
    """`meshcheck check` of a model that holds, with `--workers N` and TLC's output shown: its
    folder and its process, one run per N for the tests below."""

    @functools.cache
    def run(workers: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
        folder = tmp_path_factory.mktemp(f"holds-{workers}")
        (folder / "Counter.tla").write_text(COUNTER)
        (folder / "Ok.cfg").write_text("INIT Init\nNEXT Next\n")
        args = ["--config", "Ok.cfg", "--no-deadlock", "--workers", workers, "-v", "-q"]
        return folder, meshcheck("check", "Counter.tla", *args, cwd=folder)

    return run


def test_holds_exits_0_and_prints_the_summary(
    holding: Callable[[str], tuple[Path, subprocess.CompletedProcess[str]]],
) -> None:
    tmp_path, proc = holding("1")
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| Counter.tla"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "holds"
    assert cells[4] == "33"  # 11 values of x times 3 of y
    assert not (tmp_path / "traces").exists()
    assert not (tmp_path / "states").exists()  # TLC's scratch never lands in the user's tree


def test_out_and_verbose(counter: Path, tmp_path: Path) -> None:
    out = tmp_path / "cx" / "small.json"
    proc = meshcheck("check", str(counter), "--out", str(out), "-v", "-q", cwd=tmp_path)
    assert proc.returncode == 1
    assert out.exists()
    assert "distinct states found" in proc.stdout  # TLC's own output, shown only with -v
    # without -v: test_violation_exits_1_writes_itf_that_trace_show_prints


@pytest.mark.parametrize("workers", ["1", "2"])
def test_workers_sets_tlcs_worker_threads(
    holding: Callable[[str], tuple[Path, subprocess.CompletedProcess[str]]], workers: str
) -> None:
    _, proc = holding(workers)
    assert proc.returncode == 0, proc.stderr
    plural = "" if workers == "1" else "s"
    assert f"with {workers} worker{plural}" in proc.stdout  # TLC's own line


@pytest.mark.parametrize(
    ("files", "args", "expected"),
    [
        ({}, ["Missing.tla"], "Missing.tla: spec not found"),
        ({"Counter.tla": COUNTER}, ["Counter.tla"], "Counter.cfg: model configuration not found"),
        ({"Counter.tla": COUNTER}, ["Counter.tla", "--config", "Nope.cfg"], "Nope.cfg"),
        (
            {"Counter.tla": COUNTER, "Counter.cfg": "INIT Init\nNEXT Next\n"},
            ["Counter.tla", "--workers", "0"],
            "at least 1",
        ),
        ({"Counter.txt": "x"}, ["Counter.txt"], "expected a .tla spec or a .cfg model"),
    ],
)
def test_bad_input_exits_2_with_one_clear_message(
    tmp_path: Path, files: dict[str, str], args: list[str], expected: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = meshcheck("check", *args, "-q", cwd=tmp_path)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_invariant_lists_the_defined_ones(counter: Path, tmp_path: Path) -> None:
    """Bad input too (exit 2, one message, no traceback), and the message lists what is defined."""
    (tmp_path / "Counter.cfg").write_text("INIT Init\nNEXT Next\nINVARIANT Tiny\n")
    proc = meshcheck("check", str(counter), "-q", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Tiny" in proc.stderr and "Small" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_syntax_error_shows_file_line_column(tmp_path: Path) -> None:
    (tmp_path / "Bad.tla").write_text(
        "---- MODULE Bad ----\nVARIABLE x\nInit == x = \nNext == x' = x\n====\n"
    )
    (tmp_path / "Bad.cfg").write_text("INIT Init\nNEXT Next\n")
    proc = meshcheck("check", "Bad.tla", "-q", cwd=tmp_path)
    assert proc.returncode == 2
    first = proc.stderr.strip().splitlines()[0]
    assert "Bad.tla:" in first
    assert ":4:" in first or ":3:" in first  # SANY reports where the expression broke off


def test_corrupt_trace_file_says_where(tmp_path: Path) -> None:
    bad = tmp_path / "bad.itf.json"
    bad.write_text('{"vars": ["x"], "states": [{"x": 1}, {"x": 1.5}]}')
    proc = meshcheck("trace", "show", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert "states[1].x" in proc.stderr
    assert "Traceback" not in proc.stderr
    truncated = tmp_path / "cut.itf.json"
    truncated.write_text('{"vars": ["x"], "states": [{"x": 1}')
    proc = meshcheck("trace", "show", str(truncated), cwd=tmp_path)
    assert proc.returncode == 2 and "cut.itf.json" in proc.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert meshcheck("frobnicate", cwd=tmp_path).returncode == 2
    assert meshcheck("prove", "nosuchproof", cwd=tmp_path).returncode == 2
    assert meshcheck("trace", "show", "nothing-here.json", cwd=tmp_path).returncode == 2


def test_verify_only_offers_every_kind_of_check() -> None:
    from meshcheck import cli
    from meshcheck import verify

    assert cli.VERIFY_KINDS == verify.KINDS


def test_a_reader_that_goes_away_is_no_traceback() -> None:
    """`meshcheck trace show F | head -1`: the reader closes the pipe before the command is done
    writing; it stops quietly (exit 141, as for SIGPIPE), with no traceback on stderr."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    trace = root / "traces" / "raft" / "commit_previous_term.itf.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshcheck", "trace", "show", str(trace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # gone before the first write: every write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_verify_runs_make_verifys_gate_by_default_and_its_help_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`meshcheck verify` with no --profile is `make verify` (the fast gate), not the 20-minute
    whole set; every --profile's help names its default."""
    import argparse

    from meshcheck import cli

    monkeypatch.delenv("MESHCHECK_PROFILE", raising=False)
    parser = cli.build_parser()
    assert parser.parse_args(["verify"]).profile == "fast"
    make = (ROOT / "Makefile").read_text()
    assert "VERIFY_PROFILE ?= fast" in make.replace("VERIFY_PROFILE  ?=", "VERIFY_PROFILE ?=")
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if "--profile" in action.option_strings:
                assert action.help is not None and "default" in action.help, name
                text = action.help.replace(f"{action.default} (the default", "DEFAULT")
                text = text.replace(f"default: {action.default}", "DEFAULT")
                text = text.replace(f"{action.default} (the default;", "DEFAULT")
                assert "DEFAULT" in text, (name, action.help)
