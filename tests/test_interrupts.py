"""SIGTERM as an interrupt (meshcheck/interrupts.py): raised at once, or, inside `held`, as the block
ends; and a verify run's pytest started just as the SIGTERM comes is still ended with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from meshcheck import verify_rows
from meshcheck.impl.base.errors import Terminated
from meshcheck.interrupts import held
from meshcheck.interrupts import sigterm_interrupts


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)  # the handler runs at the next bytecode of the main thread


def test_a_sigterm_is_raised_at_once_outside_held() -> None:
    with sigterm_interrupts(), pytest.raises(Terminated):
        _sigterm()
        pytest.fail("not interrupted")


def test_a_sigterm_inside_held_is_raised_as_the_block_ends() -> None:
    reached = False
    with sigterm_interrupts(), pytest.raises(Terminated), held():
        _sigterm()
        reached = True
    assert reached


def test_a_pytest_started_as_the_sigterm_comes_is_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SIGTERM lands inside `subprocess.Popen`, after the child exists and before it returns:
    the child must not run on (before `held`, it slept its ten minutes, recorded nowhere)."""
    started: list[subprocess.Popen[str]] = []
    real = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[str]:
        proc = real(*args, **kwargs)
        started.append(proc)
        _sigterm()
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen)  # the module verify_rows.py calls it through
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    with sigterm_interrupts(), pytest.raises(Terminated):
        verify_rows.run_tracked(sleeper, tmp_path, dict(os.environ))
    assert len(started) == 1
    assert started[0].poll() is not None  # ended, and waited for
    assert not verify_rows._RUNNING
