"""The meshcheck command run in a process of its own, as a user runs it: `python -m meshcheck`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def meshcheck(
    *args: str, cwd: Path = ROOT, pythonpath: str | None = str(ROOT), timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m meshcheck ARGS` in `cwd`, its output captured, with `pythonpath` as PYTHONPATH
    (this checkout by default; None: this process's environment as it is)."""
    env = None if pythonpath is None else dict(os.environ, PYTHONPATH=pythonpath)
    run = [sys.executable, "-m", "meshcheck", *args]
    return subprocess.run(run, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def verify_argv(root: Path, *only: str, workers: str = "1") -> list[str]:
    """`verify` of the project in `root` on the default profile, on `workers` workers, with only the
    checks of the kinds `only` (every kind when none)."""
    kinds = [arg for kind in only for arg in ("--only", kind)]
    return ["verify", "--profile", "default", "--root", str(root), "--workers", workers, *kinds]
