"""Clock faults for any process, two ways.

A shifted wall clock (clock_shift.c, preloaded with LD_PRELOAD into every process of a node): it
redirects the process's own copy of the vDSO's clock_gettime, gettimeofday and time (vdso(7)) to code
that reads the real clock by the system call and shifts it by the anchors in a control file, mapped
shared, that `ShiftedClock.set` rewrites under a sequence count during the run: an offset and a
rate. Everything that reads the clock through the vDSO sees it: the C library's callers (Python, the
JVM, Node.js, C, `date`) and Go's runtime (etcd, nats-server), which calls the vDSO itself and which
libfaketime, replacing the C library's functions, never reached. A static binary that is not Go
has nothing to preload into. The monotonic clocks stay real, as they do when NTP or an operator
steps the wall clock and as Jepsen's clock nemesis leaves them: the kernel measures sleeps and
timers on its own monotonic clock whatever a process reads, so a monotonic clock shifted in the
process alone would make every absolute deadline wrong (docs/network-faults.md, "Clock faults").

The library is compiled on first use with the machine's C compiler (`make netns` installs Debian's
gcc) into a cache directory, under a name that carries its source's hash. x86-64 Linux only: the
redirect is that architecture's code.

A time namespace (`unshare --time`, Linux 5.6): the kernel adds an offset to CLOCK_MONOTONIC and
CLOCK_BOOTTIME for every process inside, in the vDSO too (time_namespaces(7)); not CLOCK_REALTIME,
and the offsets are fixed once the first process has entered (no change during the run).
`time_namespace` builds the command.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import platform
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshcheck.cluster.fault_log import FaultLog
from meshcheck.cluster.fault_log import die_with_parent
from meshcheck.impl.base.errors import MeshcheckError

SOURCE = Path(__file__).with_name("clock_shift.c")
# seq, anchor_real, anchor_fake, rate_ppb (clock_shift.c's struct control)
LAYOUT = struct.Struct("<4q")
BILLION = 1_000_000_000
RATES = (0.01, 100.0)
PT_INTERP = 3  # elf(5): the program header that names the dynamic loader


class ClockError(MeshcheckError):
    pass


def _cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "meshcheck"


def unavailable() -> str | None:
    """Why the library cannot be built or used here, or None."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"clock shifts need x86-64 Linux, not {platform.system()} {platform.machine()}"
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        return "no C compiler to build the clock shift library: `make netns` (Debian's gcc)"
    return None


def library() -> Path:
    """The compiled library, built now if this source's build is not cached."""
    why = unavailable()
    if why is not None:
        raise ClockError(why)
    source = SOURCE.read_bytes()
    built = _cache() / f"clock_shift-{hashlib.sha256(source).hexdigest()[:16]}.so"
    if built.exists():
        return built
    built.parent.mkdir(parents=True, exist_ok=True)
    compiler = shutil.which("cc") or shutil.which("gcc") or "cc"
    handle, tmp = tempfile.mkstemp(dir=built.parent, prefix=".clock_shift-", suffix=".so")
    os.close(handle)
    argv = [compiler, "-shared", "-fPIC", "-O2", "-mgeneral-regs-only", "-fno-stack-protector"]
    done = subprocess.run(
        [*argv, "-o", tmp, str(SOURCE)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        os.unlink(tmp)
        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        raise ClockError(f"could not build {SOURCE.name}: {first}")
    os.replace(tmp, built)  # another process building the same source wrote the same bytes
    return built


def unreachable(program: str) -> str | None:
    """Why a process of `program` (a path, or a name on PATH) cannot be put on a shifted clock, or
    None: a static ELF binary (no PT_INTERP header: no dynamic loader to preload the library) runs
    on the real clock whatever its environment says. A script is judged by its interpreter's
    binary when it is run as one (`node server.js`); a `#!` script is taken as reachable."""
    found = shutil.which(program) or program
    try:
        with open(found, "rb") as handle:
            header = handle.read(64)
            if header[:4] != b"\x7fELF" or header[4] != 2:  # a script, or not 64-bit ELF
                return None
            (phoff,) = struct.unpack_from("<Q", header, 32)
            phentsize, phnum = struct.unpack_from("<HH", header, 54)
            handle.seek(phoff)
            table = handle.read(phentsize * phnum)
    except OSError:
        return None  # not found here: the node's start says so
    types = [struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)]
    if PT_INTERP in types:
        return None
    return f"{found} is a static binary: nothing can be preloaded into it to shift its clock"


def _check_rate(rate: float) -> None:
    if not RATES[0] <= rate <= RATES[1]:
        raise ClockError(f"a clock rate of {rate:g} is not between {RATES[0]} and {RATES[1]:g}")


class ShiftedClock:
    """One node's clock: `env()` for the processes started on it, `set()` to change its offset
    and rate while they run. Until the first `set` the node reads the real clock."""

    def __init__(self, node: str, directory: Path, log: FaultLog | None = None) -> None:
        self.node = node
        self.library = library()
        self.file = directory / f"clock-{node}"
        self.log = log if log is not None else FaultLog()
        self.file.write_bytes(bytes(LAYOUT.size))
        with self.file.open("r+b") as handle:
            self._map = mmap.mmap(handle.fileno(), LAYOUT.size)
        self._seq = 0

    def env(self) -> dict[str, str]:
        """The variables that put a process on this clock (add them to its environment)."""
        preload = " ".join(p for p in (str(self.library), os.environ.get("LD_PRELOAD", "")) if p)
        return {"LD_PRELOAD": preload, "MESHCHECK_CLOCK_FILE": str(self.file)}

    def set(self, offset: float, rate: float = 1.0) -> None:
        """From now on the node's wall clock reads `offset` seconds ahead (behind, if negative) of
        the real one and runs at `rate`."""
        _check_rate(rate)
        real = time.clock_gettime_ns(time.CLOCK_REALTIME)
        self._write(real, real + round(offset * BILLION), round(rate * BILLION))
        self.log.add("clock", (self.node,), f"{offset:+.3f} s at rate {rate:g}")

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start `argv` on this clock; it dies with the harness (PR_SET_PDEATHSIG)."""
        env = {**kwargs.pop("env", os.environ), **self.env()}
        return subprocess.Popen(argv, env=env, preexec_fn=die_with_parent, **kwargs)

    def close(self) -> None:
        self._map.close()

    def _write(self, anchor_real: int, anchor_fake: int, rate_ppb: int) -> None:
        # odd while the words change; a reader retries until it sees the same even count twice
        self._seq += 1
        self._map[:8] = struct.pack("<q", self._seq)
        self._map[8:] = struct.pack("<3q", anchor_real, anchor_fake, rate_ppb)
        self._seq += 1
        self._map[:8] = struct.pack("<q", self._seq)


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
