"""Clock faults for any process, two ways.

libfaketime (Debian's libfaketime, `make netns`): preloaded into a process (LD_PRELOAD), it answers
the C library's time calls (time, gettimeofday, clock_gettime, and the sleeps) from the real clock
shifted by an offset and run at a rate, read from a file the harness rewrites during the run
(FAKETIME_TIMESTAMP_FILE, re-read on every call: FAKETIME_NO_CACHE). One file per node: `FakeClock`.
It reaches what calls the C library: Python, C, C++, the JVM, `date`; it does not reach a program
that reads the clock without it: Go's runtime (etcd) reads the vDSO directly, and a static binary
has nothing to preload into. The monotonic clock is left real (FAKETIME_DONT_FAKE_MONOTONIC), as
NTP leaves it when it steps the wall clock: a process's timers keep their real durations.

A time namespace (`unshare --time`, Linux 5.6): the kernel adds an offset to CLOCK_MONOTONIC and
CLOCK_BOOTTIME for every process inside, in the vDSO too (time_namespaces(7)), so Go as well; not
CLOCK_REALTIME, and the offsets are fixed once the first process has entered (no change during the
run). `time_namespace` builds the command.
"""

from __future__ import annotations

import glob
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshcheck.cluster.fault_log import FaultLog, die_with_parent
from meshcheck.impl.base.errors import MeshcheckError


class ClockError(MeshcheckError):
    pass


def libfaketime() -> Path | None:
    """Debian's libfaketime.so.1 (any architecture's directory), or None when not installed."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    return Path(found[0]) if found else None


def _spec(offset: float, rate: float) -> str:
    """libfaketime's relative form: "+12.5 x2" is 12.5 s ahead, running twice as fast."""
    if not 0.01 <= rate <= 100:
        raise ClockError(f"a clock rate of {rate} is not between 0.01 and 100")
    return f"{offset:+.6f}" + ("" if rate == 1 else f" x{rate:g}")


class FakeClock:
    """One node's clock under libfaketime: `env()` for the processes started on it, `set()` to
    change its offset and rate while they run."""

    def __init__(self, node: str, directory: Path, log: FaultLog | None = None) -> None:
        library = libfaketime()
        if library is None:
            raise ClockError("libfaketime is not installed: `make netns` (Debian's libfaketime)")
        self.node = node
        self.library = library
        self.file = directory / f"faketime-{node}"
        self.log = log if log is not None else FaultLog()
        self._write(_spec(0, 1))

    def env(self) -> dict[str, str]:
        """The variables that put a process on this clock (add them to its environment)."""
        return {
            "LD_PRELOAD": str(self.library),
            "FAKETIME_TIMESTAMP_FILE": str(self.file),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def set(self, offset: float, rate: float = 1.0) -> None:
        """From now on the node's clock reads `offset` seconds ahead (behind, if negative) of the
        real one, running at `rate`. libfaketime measures a rate's effect from the process's start,
        so a rate other than 1 moves the clock at once by (rate - 1) x the process's age too."""
        spec = _spec(offset, rate)
        self._write(spec)
        self.log.add("clock", (self.node,), spec)

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start `argv` on this clock; it dies with the harness (PR_SET_PDEATHSIG)."""
        env = {**kwargs.pop("env", os.environ), **self.env()}
        return subprocess.Popen(argv, env=env, preexec_fn=die_with_parent, **kwargs)

    def _write(self, spec: str) -> None:
        # a whole file at once (rename), so a process never reads half of one
        handle, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".faketime-")
        with os.fdopen(handle, "w") as out:
            out.write(spec + "\n")
        os.replace(tmp, self.file)


def time_namespace(argv: Sequence[str], monotonic: int = 0, boottime: int = 0) -> list[str]:
    """`argv` run in a new time namespace whose CLOCK_MONOTONIC reads `monotonic` seconds ahead and
    CLOCK_BOOTTIME `boottime` seconds ahead (neither may go below zero)."""
    return [
        "unshare",
        "--time",
        "--fork",
        f"--monotonic={monotonic}",
        f"--boottime={boottime}",
        "--",
        *argv,
    ]
