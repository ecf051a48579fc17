"""tests/cost_profile.py, `make test-cost`'s plug-in: each test's phases measured, a child
process's CPU counted in the test that reaped it, one table per file, bad input one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import HEAVY_FIRST
from tests.cost_profile import main

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = """
import subprocess, sys, time

def test_busy_child():
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)

def test_sleeps():
    time.sleep(0.3)
"""


def test_a_run_writes_each_phase_and_the_table_sums_them(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    cost = tmp_path / "cost.jsonl"
    env = {**os.environ, "MESHCHECK_TEST_COST": str(cost), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.cost_profile", "-p", "no:cacheprovider",
         "test_sample.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [json.loads(line) for line in cost.read_text().splitlines()]
    assert sorted({r["phase"] for r in rows}) == ["call", "setup", "teardown"]
    assert len(rows) == 6
    call = {r["test"].split("::")[1]: r for r in rows if r["phase"] == "call"}
    # the child's CPU is the test's; a sleep is wall time, not CPU
    assert call["test_busy_child"]["cpu"] > 0.1
    assert call["test_sleeps"]["wall"] >= 0.3 > call["test_sleeps"]["cpu"] + 0.2
    assert main([str(cost)]) == 0


def test_the_table_is_heaviest_first_and_bad_input_is_one_line(tmp_path: Path) -> None:
    cost = tmp_path / "cost.jsonl"
    lines = [
        {"test": "a.py::t1", "phase": "call", "wall": 1.0, "cpu": 1.0},
        {"test": "b.py::t1", "phase": "call", "wall": 2.0, "cpu": 3.0},
        {"test": "b.py::t1", "phase": "setup", "wall": 1.0, "cpu": 1.0},
    ]
    cost.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = subprocess.run(
        [sys.executable, "-m", "tests.cost_profile", str(cost), "1"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    table = out.splitlines()
    assert table[2] == "| b.py | 1 | 3.0 | 4.0 | 80.0% |"
    assert table[3] == "| 1 other files | 1 | 1.0 | 1.0 | 20.0% |"
    assert table[4] == "| all 2 files | 2 | 4.0 | 5.0 | 100% |"
    cost.write_text("not json\n")
    for argv in ([str(cost)], [str(tmp_path / "none")], [str(cost), "x"]):
        bad = subprocess.run(
            [sys.executable, "-m", "tests.cost_profile", *argv],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr


def test_the_order_is_the_files_that_held_a_worker_longest(tmp_path: Path) -> None:
    """`--order`: by wall seconds (a worker is busy for them, CPU or not), one path a line."""
    cost = tmp_path / "cost.jsonl"
    lines = [
        {"test": "cpu.py::t1", "phase": "call", "wall": 2.0, "cpu": 2.0},
        {"test": "sleeps.py::t1", "phase": "call", "wall": 3.0, "cpu": 0.1},
        {"test": "small.py::t1", "phase": "call", "wall": 0.5, "cpu": 0.5},
    ]
    cost.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = subprocess.run(
        [sys.executable, "-m", "tests.cost_profile", str(cost), "--order", "2"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.splitlines() == ["sleeps.py", "cpu.py"]
    bad = subprocess.run(
        [sys.executable, "-m", "tests.cost_profile", str(cost), "--order", "x"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr


def test_every_file_of_the_order_is_a_test_file() -> None:
    """tests/heavy_first.txt names files that exist: a file renamed or gone must leave the list,
    or it would silently run at the end again."""
    assert HEAVY_FIRST and len(set(HEAVY_FIRST)) == len(HEAVY_FIRST)
    missing = [p for p in HEAVY_FIRST if not (ROOT / p).is_file()]
    assert not missing, f"tests/heavy_first.txt names files that are not there: {missing}"


def test_the_workers_ends_and_the_tail_are_said_below_the_table(tmp_path: Path) -> None:
    """gw0 ends at 10 s, gw1 at 4 s: the last 6 s gw0 ran alone. A file of the old format, without
    the workers, prints the table alone."""
    cost = tmp_path / "cost.jsonl"
    lines = [
        {"test": "a.py::t1", "phase": "call", "wall": 4.0, "cpu": 4.0, "worker": "gw1", "end": 104.0},
        {"test": "b.py::t1", "phase": "call", "wall": 2.0, "cpu": 2.0, "worker": "gw0", "end": 102.0},
        {"test": "c.py::t1", "phase": "call", "wall": 8.0, "cpu": 1.0, "worker": "gw0", "end": 110.0},
    ]  # fmt: skip
    cost.write_text("".join(json.dumps(line) + "\n" for line in lines))

    def said() -> str:
        return subprocess.run(
            [sys.executable, "-m", "tests.cost_profile", str(cost)],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.splitlines()[-1]  # fmt: skip

    assert said() == (
        "workers: gw0 busy 10.0 s, ended at 10.0 s, gw1 busy 4.0 s, ended at 4.0 s; "
        "the tail, one worker alone: 6.0 s"
    )
    old = [{k: v for k, v in line.items() if k not in ("worker", "end")} for line in lines]
    cost.write_text("".join(json.dumps(line) + "\n" for line in old))
    assert said().startswith("| all 3 files |")
