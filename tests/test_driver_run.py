"""`meshcheck driver run` (meshcheck/driver_cmd.py): a Raft driver's free runs under faults, Raft.tla's
invariants on every step and the clients' history at the end, one row per seed. etcd's Raft driver
holds; the same driver serving reads anywhere fails on a seed, and that seed alone fails again;
a driver with no Raft variables is one line and exit 2 (bad input: tests/test_driver_input.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from meshcheck.cli import main

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / ".build" / "etcd-raft-driver"


@pytest.fixture(scope="module")
def etcd_raft() -> str:
    subprocess.run(["make", "-s", "-C", str(ROOT), "etcd-raft"], capture_output=True, check=False)
    if not DRIVER.exists():
        pytest.skip("make etcd-raft built no driver")
    return str(DRIVER)


def test_etcds_raft_holds_on_every_seed(etcd_raft: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["driver", "run", "--seeds", "4", etcd_raft]) == 0
    out = capsys.readouterr().out
    assert "invariants ElectionSafety, LogMatching, LeaderCompleteness, StateMachineSafety" in out
    assert out.count("| holds ") == 4 and "4 of 4 runs hold" in out


def test_a_failure_names_its_seed_and_that_seed_fails_again(
    etcd_raft: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["driver", "run", "--seeds", "13", etcd_raft, "--bug", "reads-anywhere"]) == 1
    out = capsys.readouterr().out
    assert "first failure, seed 13: linearizable: not linearizable" in out, out
    again = next(line for line in out.splitlines() if line.startswith("again: "))
    assert again.endswith("--seed 13 --ticks 1500 --nodes 3 " + etcd_raft + " --bug reads-anywhere")
    assert main(["driver", "run", "--seed", "13", etcd_raft, "--bug", "reads-anywhere"]) == 1
    assert "first failure, seed 13: linearizable" in capsys.readouterr().out


def test_a_driver_without_raft_variables_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("node") is None:
        pytest.skip("no Node.js: make nodejs")
    toy = str(ROOT / "drivers" / "toy-counter" / "driver.js")
    assert main(["driver", "run", "node", toy]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "driver run checks Raft drivers: node's state has count" in err[0]
