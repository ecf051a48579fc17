"""A pytest plugin for the mutation campaign (pyproject.toml's `pytest_add_cli_args`): a cap on
the memory of each mutant's test process.

Some mutants make a run grow without bound rather than fail: a follower of the hybrid layer that
files every entry of an AppendEntries under one index reports an equivocation on each message,
and the evidence it proposes carries the messages, so a simulated run's memory grows by gigabytes
a second. mutmut bounds a mutant's CPU time (RLIMIT_CPU), not its memory: such a test process
reached 24 GB, the kernel's OOM killer ended it (SIGKILL, which mutmut files as "segfault", no
verdict), and it could as well have ended the other worker or the campaign. Under the cap the
allocation that crosses it raises MemoryError, the test fails, and the mutant is killed.

The cap is on the data segment (RLIMIT_DATA: since Linux 4.7 every private writable mapping,
so the interpreter's heap and what a JVM commits, not the address space a JVM only reserves for
its heap, which RLIMIT_AS would count and refuse): the process's data when its tests start plus
`MESHCHECK_MUTANT_MEMORY_GB` (default 6), room for any run the clean code makes (TLC in the same
process included) and less than the machine holds for two workers. Only a mutant's run is capped
(mutmut's MUTANT_UNDER_TEST names it), not the clean runs and statistics of the start-up.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

# mutmut's own values of MUTANT_UNDER_TEST, for the runs that test no mutant
NOT_A_MUTANT = frozenset({"", "fail", "stats", "list_all_tests", "mutant_generation"})
DEFAULT_GB = 6.0


def data_size() -> int:
    """This process's data segment now, in bytes (VmData of /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmData:"):
            return int(line.split()[1]) * 1024
    raise OSError("no VmData in /proc/self/status")


def headroom() -> int:
    """The headroom in bytes (ValueError, with one line saying why, for a bad setting)."""
    text = os.environ.get("MESHCHECK_MUTANT_MEMORY_GB", "")
    try:
        gb = float(text) if text else DEFAULT_GB
    except ValueError:
        raise ValueError(
            f"MESHCHECK_MUTANT_MEMORY_GB={text!r}: not a number of gigabytes"
        ) from None
    if not gb > 0:
        raise ValueError(f"MESHCHECK_MUTANT_MEMORY_GB={text!r}: must be above 0")
    return int(gb * 2**30)


def cap(mutant: str) -> int | None:
    """Cap the data segment for the run of `mutant`; the cap set (None: no mutant, no cap)."""
    if mutant in NOT_A_MUTANT:
        return None
    limit = data_size() + headroom()
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return limit


def pytest_configure(config: pytest.Config) -> None:
    try:
        cap(os.environ.get("MUTANT_UNDER_TEST", ""))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
