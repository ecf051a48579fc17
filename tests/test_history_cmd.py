"""`meshcheck history check` end to end, in a subprocess: one test per exit code."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests import command


def meshcheck(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command with this process's environment as it is."""
    return command.meshcheck(*args, cwd=cwd, pythonpath=None, timeout=120)


def write(tmp_path: Path, events: list[dict[str, Any]], name: str = "h.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def ev(process: int | str, type: str, f: str, value: Any) -> dict[str, Any]:
    return {"process": process, "type": type, "f": f, "value": value}


def test_linearizable_history_exits_0(tmp_path: Path) -> None:
    h = write(
        tmp_path,
        [
            ev(0, "invoke", "write", 1),
            ev(1, "invoke", "write", 2),
            ev(0, "ok", "write", 1),
            ev(1, "ok", "write", 2),
            ev("nemesis", "info", "start", None),
            ev(2, "invoke", "read", None),
            ev(2, "ok", "read", 1),  # either write may be last
            ev(0, "invoke", "cas", [1, 3]),
            ev(0, "info", "cas", [1, 3]),  # may or may not have happened
            ev(1, "invoke", "read", None),
            ev(1, "ok", "read", 3),
        ],
    )
    done = meshcheck("history", "check", str(h), "--model", "cas-register", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "linearizable (cas-register model, 5 operations" in done.stdout


def test_stale_read_exits_1_and_prints_the_window(tmp_path: Path) -> None:
    h = write(
        tmp_path,
        [
            ev(0, "invoke", "write", 1),
            ev(0, "ok", "write", 1),
            ev(0, "invoke", "write", 2),
            ev(0, "ok", "write", 2),
            ev(1, "invoke", "read", None),
            ev(1, "ok", "read", 1),  # stale: write 2 completed on line 4
            ev(2, "invoke", "read", None),
            ev(2, "ok", "read", 2),
        ],
    )
    done = meshcheck("history", "check", str(h), "--model", "register", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "not linearizable" in out
    assert "smallest non-linearizable window: 3 operations (of 3 invoked before line 7)" in out
    window, counted = out.split("\nwrites: ")
    rows = [line.split() for line in window.splitlines() if line.startswith("  ")][1:]
    assert rows == [
        ["0", "write(1)", "1..2", "ok"],
        ["0", "write(2)", "3..4", "ok"],
        ["1", "read()->1", "5..6", "ok"],
    ]
    # what was lost: write(2), which the stale read disproves
    assert counted.startswith("2 acknowledged, 1 lost, 0 of 0 indeterminate recovered"), out
    assert (
        "lost: 0 wrote 2 (lines 3..4); 1 read 1 after it (lines 5..6), a value only writes done"
        in counted
    )


def test_kv_with_jepsen_tuples_names_the_failing_key(tmp_path: Path) -> None:
    h = write(
        tmp_path,
        [
            ev(0, "invoke", "write", ["x", 1]),
            ev(0, "ok", "write", ["x", 1]),
            ev(1, "invoke", "write", ["y", 5]),
            ev(1, "ok", "write", ["y", 5]),
            ev(0, "invoke", "read", ["x", None]),
            ev(0, "ok", "read", ["x", 1]),
            {"process": 1, "type": "invoke", "f": "read", "key": "y", "value": None},
            {"process": 1, "type": "ok", "f": "read", "key": "y", "value": 4},
        ],
    )
    done = meshcheck("history", "check", str(h), "--model", "kv", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'key "y"' in done.stdout


def test_malformed_input_exits_2_naming_line_and_field(tmp_path: Path) -> None:
    h = write(tmp_path, [ev(0, "invoke", "write", 1), ev(0, "done", "write", 1)])
    done = meshcheck("history", "check", str(h), "--model", "register", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (f'meshcheck: {h}:2: field "type": expected invoke, ok, fail or info\n')
    assert done.stdout == ""
    bad_f = write(tmp_path, [ev(0, "invoke", "cas", [1, 2])], "f.jsonl")
    done = meshcheck("history", "check", str(bad_f), "--model", "register", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f'meshcheck: {bad_f}:1: field "f": expected read or write for the register model\n'
    )
    not_json = tmp_path / "n.jsonl"
    not_json.write_text('{"process": 0}\n{oops\n')
    done = meshcheck("history", "check", str(not_json), "--model", "register", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f'meshcheck: {not_json}:1: field "type"')
    assert "Traceback" not in done.stderr


def test_out_of_budget_exits_2_with_the_proved_prefix(tmp_path: Path) -> None:
    n = 40
    events = [ev(p, "invoke", "write", p) for p in range(n)]
    for i in range(n):
        events += [ev(n + i, "invoke", "read", None), ev(n + i, "ok", "read", i)]
    h = write(tmp_path, events)
    done = meshcheck(
        "history", "check", str(h), "--model", "register", "--budget", "0.3", cwd=tmp_path
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown" in done.stdout
    assert "nothing is claimed about the rest" in done.stdout


def test_a_history_with_nothing_to_check_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """No operations, or only failed ones and pending reads: no verdict is owed, and none is
    given (before, an empty file was "linearizable, 0 operations", exit 0)."""
    empty = write(tmp_path, [], "empty.jsonl")
    failed = write(
        tmp_path,
        [
            ev(0, "invoke", "write", 1),
            ev(0, "fail", "write", 1),
            ev(1, "invoke", "read", None),  # never completes: a pending read
        ],
        "failed.jsonl",
    )
    for path, why in (
        (empty, "the history has no operations: nothing to check"),
        (
            failed,
            "nothing to check among its 2 operations: 1 failed operation (no effect), 1 pending read (observed nothing)",
        ),
    ):
        done = meshcheck("history", "check", str(path), "--model", "register", cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1 and why in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_one_operation_is_singular(tmp_path: Path) -> None:
    h = write(tmp_path, [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1)])
    done = meshcheck("history", "check", str(h), "--model", "register", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(register model, 1 operation, " in done.stdout
    corrupt = write(
        tmp_path, [ev(0, "invoke", "read", None), ev(0, "ok", "read", 9)], "corrupt.jsonl"
    )
    done = meshcheck("history", "check", str(corrupt), "--model", "register", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "window: 1 operation (of 1 invoked" in done.stdout
