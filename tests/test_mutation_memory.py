"""The campaign's memory cap on a mutant's test process (mutation/memory_cap.py): a mutant whose
run grows without bound fails with MemoryError instead of being ended by the OOM killer, which
mutmut files as no verdict; the clean runs are not capped, and a bad setting is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mutation import memory_cap

ROOT = Path(__file__).resolve().parent.parent

_GROW = """
import sys
sys.path.insert(0, {root!r})
from mutation import memory_cap
print(memory_cap.cap({mutant!r}) is not None)
try:
    block = bytearray(1 << 30)  # 1 GB, twice the headroom
    print("allocated")
except MemoryError:
    print("MemoryError")
"""


def _grow(mutant: str) -> list[str]:
    # in a process of its own: a cap is for the rest of the process's life
    proc = subprocess.run(
        [sys.executable, "-c", _GROW.format(root=str(ROOT), mutant=mutant)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"MESHCHECK_MUTANT_MEMORY_GB": "0.5", "PATH": "/usr/bin:/bin"},
    )
    return proc.stdout.split()


def test_a_mutants_run_past_its_headroom_fails_with_memory_error() -> None:
    assert _grow("meshcheck.impl.hybrid.node.xǁHybridNodeǁ_inspect_append__mutmut_27") == [
        "True",
        "MemoryError",
    ]


@pytest.mark.parametrize("run", ["", "stats", "fail", "list_all_tests"])
def test_the_runs_of_no_mutant_are_not_capped(run: str) -> None:
    assert _grow(run) == ["False", "allocated"]


@pytest.mark.parametrize("value", ["six", "0", "-1", "nan"])
def test_a_headroom_that_is_no_positive_number_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHCHECK_MUTANT_MEMORY_GB", value)
    with pytest.raises(ValueError, match="MESHCHECK_MUTANT_MEMORY_GB"):
        memory_cap.headroom()
    # in the campaign's command: one line and exit 2, before any test runs
    proc = subprocess.run(
        [sys.executable, str(ROOT / "mutation" / "run.py"), "run", "rsm"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "MESHCHECK_MUTANT_MEMORY_GB": value},
    )
    assert proc.returncode == 2, proc.stderr[-500:]
    [line] = (proc.stdout + proc.stderr).strip().splitlines()
    assert "MESHCHECK_MUTANT_MEMORY_GB" in line


def test_the_headroom_defaults_to_six_gigabytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESHCHECK_MUTANT_MEMORY_GB", raising=False)
    assert memory_cap.headroom() == 6 * 2**30
