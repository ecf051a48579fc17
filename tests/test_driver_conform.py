"""`meshcheck driver conform` (meshcheck/drivers/conform.py): a driver in another language than
Python or Go, the toy counter in JavaScript (drivers/toy-counter/driver.js), passes every row; the
same toy made to read a clock fails the replay row, and made to answer a request for an unknown
node fails the errors row; etcd's Raft driver passes. Bad input: tests/test_driver_input.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from meshcheck.cli import main

ROOT = Path(__file__).resolve().parents[1]
TOY = ["node", str(ROOT / "drivers" / "toy-counter" / "driver.js")]
ROWS = ("hello", "boot", "state, applied", "errors", "a free run", "replays")


@pytest.fixture(scope="module")
def node() -> str:
    if shutil.which("node") is None:
        subprocess.run(["make", "-s", "-C", str(ROOT), "nodejs"], check=False)
    found = shutil.which("node")
    if found is None:
        pytest.skip("no Node.js: make nodejs could not install Debian's nodejs")
    return found


def _rows(printed: str) -> dict[str, str]:
    rows = {}
    for line in printed.splitlines()[2:]:
        requirement, result, _detail = (c.strip() for c in line.strip("|").split("|", 2))
        rows[requirement] = result
    return rows


def test_the_javascript_toy_conforms(node: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["driver", "conform", *TOY]) == 0
    rows = _rows(capsys.readouterr().out)
    assert tuple(rows) == ROWS and set(rows.values()) == {"pass"}, rows


@pytest.mark.parametrize(("bug", "fails"), [("clock", "replays"), ("silent", "errors")])
def test_a_toy_that_breaks_the_protocol_fails_its_row(
    node: str, bug: str, fails: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["driver", "conform", *TOY, "--bug", bug]) == 1
    rows = _rows(capsys.readouterr().out)
    assert rows[fails] == "FAIL" and [r for r, v in rows.items() if v == "FAIL"] == [fails], rows


def test_etcds_raft_driver_conforms(capsys: pytest.CaptureFixture[str]) -> None:
    driver = ROOT / ".build" / "etcd-raft-driver"
    subprocess.run(["make", "-s", "-C", str(ROOT), "etcd-raft"], capture_output=True, check=False)
    if not driver.exists():
        pytest.skip("make etcd-raft built no driver")
    assert main(["driver", "conform", str(driver)]) == 0
    assert set(_rows(capsys.readouterr().out).values()) == {"pass"}
