"""`meshcheck verify` over a small project of its own (tmp_path): the table, the reports, the exit code,
and stored traces replayed against their spec."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from meshcheck import verify
from meshcheck.cli import main
from meshcheck.property_tests.replay import replay_stored
from meshcheck.specs.tlc.check import check
from meshcheck.traces import itf
from tests.command import verify_argv

COUNTER = """---- MODULE Counter ----
EXTENDS Naturals
VARIABLE x
Init == x = 0
Incr == x < LIMIT /\\ x' = x + 1
Reset == x = LIMIT /\\ x' = 0
Next == Incr \\/ Reset
Small == x < 4
TypeOK == x \\in 0..LIMIT
====
"""


def _project(root: Path, limit: int = 6) -> Path:
    specs = root / "specs"
    specs.mkdir(parents=True)
    (specs / "Counter.tla").write_text(COUNTER.replace("LIMIT", str(limit)))
    (specs / "Counter.cfg").write_text(
        f"\\* meshcheck: expect-distinct={limit + 1}\nINIT Init\nNEXT Next\nINVARIANT TypeOK\n"
    )
    (specs / "Counter_small.cfg").write_text(
        "\\* meshcheck: spec=Counter.tla\nINIT Init\nNEXT Next\nINVARIANT Small\n"
    )
    (root / "traces").mkdir()
    return root


def _rows(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines():
        if line.startswith("| ") and not line.startswith("| check"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[1]] = cells
    return rows


# One check after another in this process. The reports, the summary and the exit code are made from
# the rows whatever ran them, and a run on 2 workers (verify's default on this machine) lists the
# rows of a serial one (test_a_parallel_run_lists_the_rows_of_a_serial_run): the pool's two
# processes, each importing meshcheck and starting a JVM, cost the tests below three to eight
# times their checks (measured: 9.0 CPU-s for two of them, 2.4 serial).
SERIAL = ("--workers", "1")


def _verify(root: Path, *extra: str, table: bool = True) -> int:
    wide = ["--table"] if table else []
    return main([*verify_argv(root, "tlc", "traces", workers=SERIAL[1]), *wide, *extra])


def test_the_summary_fits_a_screen_and_shows_each_failure_in_full(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --table, verify ends with one line per protocol (a spec's name for a folder of specs)
    and each failure in full with the command that runs it again; no line over 120 characters."""
    root = _project(tmp_path / "p")
    assert _verify(root, table=False) == 1
    out = capsys.readouterr().out
    assert "| protocol | tlc | failed | seconds |" in out
    lines = out.splitlines()
    counter = [[c.strip() for c in s.split("|")[1:4]] for s in lines if s.startswith("| Counter")]
    assert counter == [["Counter", "1/2", "1"]]
    # what failed first: the violated invariant, named, before where
    failure = lines[lines.index("FAIL invariant Small violated, in tlc Counter_small") :]
    again = next(line for line in failure if line.startswith("  again: "))
    # the report's paths are the test's temporary folder and the checkout's reports/ folder, whose
    # lengths are pytest's and the checkout's, not verify's
    shown = out.replace(str(tmp_path), "/tmp/t").replace(str(Path.cwd()), ".")
    assert "| check" not in out and max(len(line) for line in shown.splitlines()) <= 120
    # the command it prints checks that model alone and says the same: violated, Small
    command = shlex.split(again.removeprefix("  again: "))
    assert command[:2] == ["meshcheck", "check"] and command[2].endswith("Counter_small.cfg")
    monkeypatch.chdir(tmp_path)
    assert main(command[1:]) == 1
    assert "violated: Small" in capsys.readouterr().out


def test_table_reports_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    report, junit = tmp_path / "r.json", tmp_path / "r.xml"
    code = _verify(root, "--json", str(report), "--junit", str(junit))
    rows = _rows(capsys.readouterr().out)
    assert rows["Counter"][2] == "pass" and rows["Counter"][3] == "7 states"
    assert rows["Counter_small"][2] == "FAIL"
    assert rows["Counter_small"][5].startswith("invariant Small violated")
    assert code == 1
    doc = json.loads(report.read_text())
    assert doc["exit"] == 1
    assert [(c["name"], c["result"]) for c in doc["checks"]] == [
        ("Counter", "pass"),
        ("Counter_small", "FAIL"),
    ]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("tlc", "2", "1")


def test_a_changed_state_count_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model whose run holds but whose recorded state count is not TLC's fails in verify, and
    the command verify prints to run it again fails in the same words (it once said holds)."""
    root = _project(tmp_path / "p")
    (root / "specs" / "Counter_small.cfg").unlink()
    assert _verify(root) == 0
    cfg = root / "specs" / "Counter.cfg"
    cfg.write_text(cfg.read_text().replace("expect-distinct=7", "expect-distinct=8"))
    capsys.readouterr()
    assert _verify(root, table=False) == 1
    out = capsys.readouterr().out
    why = "Counter records 8 distinct states (expect-distinct), TLC found 7: the spec or the model"
    assert why in out
    again = next(line for line in out.splitlines() if line.startswith("  again: "))
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(again.removeprefix("  again: "))[1:]) == 1
    assert f"FAIL: {why}" in capsys.readouterr().out


def test_bad_model_is_an_error_not_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path / "p")
    (root / "specs" / "Counter_small.cfg").write_text(
        "\\* meshcheck: spec=Counter.tla\nINIT Init\nNEXT Next\nINVARIANT Tiny\n"
    )
    assert _verify(root) == 2
    rows = _rows(capsys.readouterr().out)
    assert rows["Counter_small"][2] == "error" and "Tiny" in rows["Counter_small"][5]


def _stored_counterexample(root: Path) -> Path:
    """Check Counter_small and store its counterexample as the corpus would, paths relative to root."""
    specs = root / "specs"
    result = check(specs / "Counter.tla", specs / "Counter_small.cfg")
    assert result.trace is not None
    meta = dict(result.trace.meta, spec="specs/Counter.tla", config="specs/Counter_small.cfg")
    path = root / "traces" / "counterexamples" / "Counter-Small.itf.json"
    itf.write(
        type(result.trace)(result.trace.vars, result.trace.steps, result.trace.loop, meta), path
    )
    return path


def _traces(root: Path) -> list[str]:
    """`meshcheck verify` of the project's stored traces alone, serial."""
    return ["verify", "--profile", "default", "--root", str(root), "--only", "traces", *SERIAL]


def test_stored_trace_replays_until_the_spec_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path / "p")
    path = _stored_counterexample(root)
    outcome = replay_stored(path, root=root)
    assert outcome.ok and outcome.steps == 4

    # The fix: Small now holds, so the trace is a behaviour whose last state no longer violates it.
    spec = root / "specs" / "Counter.tla"
    spec.write_text(spec.read_text().replace("Small == x < 4", "Small == x < 10"))
    outcome = replay_stored(path, root=root)
    assert not outcome.ok and "no longer violates Small" in outcome.problem

    # A spec whose Incr adds 2: the stored step x=0 -> x=1 is no step of it any more.
    spec.write_text(COUNTER.replace("LIMIT", "6").replace("x' = x + 1", "x' = x + 2"))
    outcome = replay_stored(path, root=root)
    assert not outcome.ok and outcome.index == 1
    assert "Incr does not lead from state 0 to state 1" in outcome.problem

    assert main([*_traces(root), "--table"]) == 1
    rows = _rows(capsys.readouterr().out)
    assert rows["traces/counterexamples/Counter-Small.itf.json"][2] == "FAIL"
    # the command the summary prints for the row replays the trace and says the same, from the
    # project's folder (the row's name is its path there)
    assert main(_traces(root)) == 1
    out = capsys.readouterr().out
    again = next(line for line in out.splitlines() if line.startswith("  again: "))
    said = "Incr does not lead from state 0 to state 1"
    assert said in out
    monkeypatch.chdir(root)
    assert main(shlex.split(again.removeprefix("  again: "))[1:]) == 1
    replayed = capsys.readouterr().out
    assert replayed.startswith("diverges at step 1: ") and said in replayed


def test_trace_without_its_spec_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path / "p")
    path = _stored_counterexample(root)
    doc = json.loads(path.read_text())
    doc["#meta"]["spec"] = "specs/Gone.tla"
    path.write_text(json.dumps(doc))
    assert main([*_traces(root), "--table"]) == 2
    rows = _rows(capsys.readouterr().out)
    assert (
        "#meta.spec: specs/Gone.tla not found"
        in rows["traces/counterexamples/Counter-Small.itf.json"][5]
    )


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (lambda text: text[: len(text) // 2], "truncated"),  # read whole at the listing
        (lambda text: text.replace('"states"', '"states": 7, "unused"', 1), "unknown key"),
    ],
    ids=["truncated", "states-spoiled"],
)
def test_a_spoiled_stored_trace_is_an_error_row(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spoil: Callable[[str], str],
    said: str,
) -> None:
    """The listing reads only each trace's #meta (itf.read_meta); a trace whose body is spoiled
    is still one error row, from the listing or from its replay, never a pass or a skip."""
    root = _project(tmp_path / "p")
    path = _stored_counterexample(root)
    path.write_text(spoil(path.read_text()))
    assert main([*_traces(root), "--table"]) == 2
    row = _rows(capsys.readouterr().out)["traces/counterexamples/Counter-Small.itf.json"]
    assert row[2] == "error" and said in row[5]


# --- --workers: the same rows on several cores ---------------------------------------------------------

# Collected a then b; under xdist (--dist loadfile) each file goes to its own worker and b's tests
# finish first (a's first test waits for b's last one to have run), so the JUnit report lists them
# first: verify must list them in collection order.
SLOW_FILE = """import os
import time
from pathlib import Path

def test_slow():
    if os.environ.get("PYTEST_XDIST_WORKER"):
        done = Path(__file__).with_name("b-ran")
        deadline = time.monotonic() + 60
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # and b's worker to have reported it

def test_after_slow():
    pass
"""
FAST_FILE = """import os
from pathlib import Path

def test_fast():
    pass

def test_fails():
    Path(__file__).with_name("b-ran").touch()
    assert False, f"worker {os.environ.get('PYTEST_XDIST_WORKER', 'none')}"
"""


def _checks(report: Path) -> list[tuple[str, str, str, int | None, str]]:
    return [
        (c["kind"], c["name"], c["result"], c["count"], c["unit"])
        for c in json.loads(report.read_text())["checks"]
    ]


def test_a_parallel_run_lists_the_rows_of_a_serial_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path / "p")
    _stored_counterexample(root)
    tests = root / "property_tests"
    tests.mkdir()
    (tests / "test_a.py").write_text(SLOW_FILE)
    (tests / "test_b.py").write_text(FAST_FILE)
    reports = {}
    for workers in ("1", "2"):
        (tests / "b-ran").unlink(missing_ok=True)
        reports[workers] = tmp_path / f"w{workers}.json"
        args = verify_argv(root, "tlc", "tests", "traces", workers=workers)
        args += ["--json", str(reports[workers])]
        assert main(args) == 1  # Counter_small is violated, test_fails fails
    out = capsys.readouterr()
    serial, parallel = _checks(reports["1"]), _checks(reports["2"])
    assert parallel == serial
    assert [name for kind, name, *_ in serial if kind == "tests"] == [
        "test_a::test_slow",
        "test_a::test_after_slow",
        "test_b::test_fast",
        "test_b::test_fails",
    ]
    assert [(kind, name) for kind, name, *_ in serial if kind != "tests"] == [
        ("tlc", "Counter"),
        ("tlc", "Counter_small"),
        ("traces", "traces/counterexamples/Counter-Small.itf.json"),
    ]
    # the parallel run did spread the tests over pytest-xdist's workers
    detail = {c["name"]: c["detail"] for c in json.loads(reports["2"].read_text())["checks"]}
    assert "worker gw" in detail["test_b::test_fails"]
    assert "on 2 workers" in out.err


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie waits for its reaper)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize(("workers", "started"), [("1", 1), ("2", 5)])
def test_sigterm_ends_a_run_and_every_process_it_started(
    tmp_path: Path, workers: str, started: int
) -> None:
    """`kill PID` of a verify run reaches only that process; what it started (the pytest run, and
    on 2 workers its two xdist workers and the pool's two workers with their JVMs) must end with
    it, not run on."""
    root = _project(tmp_path / "p")
    tests = root / "property_tests"
    tests.mkdir()
    (tests / "test_a.py").write_text("import time\n\ndef test_sleeps():\n    time.sleep(600)\n")
    (tests / "test_b.py").write_text("def test_passes():\n    pass\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshcheck", *verify_argv(root, "tlc", "tests", workers=workers)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    below = _descendants(proc.pid)
    while len(below) < started and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        below = _descendants(proc.pid)
    assert len(below) >= started, below
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert proc.stderr.read().strip().splitlines()[-1] == "meshcheck: terminated"
    deadline = time.monotonic() + 30
    while any(map(_running, below)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in below if _running(pid)] == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", "expected at least 1, got 0"), ("two", "expected a whole number, got 'two'")],
)
def test_a_bad_worker_count_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, expected: str
) -> None:
    root = _project(tmp_path / "p")
    assert main(["verify", "--profile", "default", "--root", str(root), "--workers", value]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"meshcheck: --workers: {expected}"]


@pytest.mark.slow
def test_a_protocol_verified_on_two_cores_lists_the_rows_of_one_core(tmp_path: Path) -> None:
    """A registered protocol's every kind of check (the quick profile, derandomized: the same
    examples each run), its coverage rows merged from the files the tests wrote."""
    reports = {}
    for workers in ("1", "2"):
        reports[workers] = tmp_path / f"w{workers}.json"
        args = ["verify", "--profile", "quick", "--protocol", "routing", "--workers", workers]
        assert main([*args, "--json", str(reports[workers])]) == 0
    serial = _checks(reports["1"])
    assert _checks(reports["2"]) == serial
    kinds = {kind for kind, *_ in serial}
    assert {"tlc", "tests", "coverage", "mutants"} <= kinds
    details = [
        {
            c["name"]: c["detail"]
            for c in json.loads(reports[w].read_text())["checks"]
            if c["kind"] == "coverage"
        }
        for w in ("1", "2")
    ]
    assert details[0] == details[1]
    assert "actions 0/" not in details[1]["routing"]  # the tests' coverage files were merged


# a property test whose failure is a free run of the reference Raft with a mutant: its message names
# the violated property after a schedule longer than a report's cell
RAFT_BUG_FILE = """from meshcheck.impl.raft import mutants
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.free_runs import check_safety

def test_stale_match_index():
    schedule = Schedule(seed=0, ticks=500, drop=0.0, duplicate=0.0, delay=0.0, partition=0.0)
    check_safety(schedule, 3, frozenset({mutants.STALE_MATCH_INDEX}))
"""


def test_a_failure_names_what_it_violated_first_in_every_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The violated property comes first, whole, in the terminal (the progress line and the
    failure), the table, the JSON, the JUnit XML and the HTML page: a long schedule is what is
    cut, never the property's name."""
    root = _project(tmp_path / "p")
    (root / "specs" / "Counter_small.cfg").unlink()
    tests = root / "property_tests"
    tests.mkdir()
    (tests / "test_raft_bug.py").write_text(RAFT_BUG_FILE)
    report, junit, html = tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "r.html"
    args = ["verify", "--profile", "default", "--root", str(root), "--only", "tests"]
    args += ["--workers", "1", "--json", str(report), "--junit", str(junit), "--html", str(html)]
    assert main(args) == 1
    out = capsys.readouterr()
    first = "action property MatchIndexMonotonic violated"
    (row,) = [c for c in json.loads(report.read_text())["checks"] if c["result"] == "FAIL"]
    assert row["violated"] == "action property MatchIndexMonotonic"
    # then the check's own words, where, and the schedule (cut)
    assert row["detail"].startswith(first + ": violates MatchIndexMonotonic, at step ")
    assert len(row["detail"]) <= verify.DETAIL_WIDTH
    (failed,) = ET.parse(junit).getroot().iter("failure")
    assert failed.get("message", "").startswith(first)
    assert f'<td class="detail">{first}' in html.read_text()
    progress = next(line for line in out.err.splitlines() if "FAIL" in line)
    assert progress.split("FAIL", 1)[1].strip().startswith(first + ": test_raft_bug::")
    assert f"FAIL {first}, in tests test_raft_bug::test_stale_match_index" in out.out.splitlines()
    # the command it prints runs that test alone, from the project's folder, and fails the same
    again = next(line for line in out.out.splitlines() if line.startswith("  again: "))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    done = subprocess.run(
        again.removeprefix("  again: "),
        shell=True,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert first in done.stdout
