"""A seeded run must print the same bytes in every process: Python randomises str hashes per
process (PYTHONHASHSEED), so nothing in a run may depend on set order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def printed_under_hash_seeds(code: str) -> set[str]:
    """What `python -c CODE ROOT` prints in a process of its own under PYTHONHASHSEED 1, and under
    2 (each must exit 0): one text when the run does not depend on string hashing."""
    printed = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = [sys.executable, "-c", code, str(ROOT)]
        out = subprocess.run(run, capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        printed.add(out.stdout)
    return printed
