"""The nemesis's clock fault on a host reached over SSH (remote.py): clock_faults.py's shifted wall
clock, built and set on the host. The library's source (meshcheck/cluster/clock_shift.c) and its
setter's (clock_set.c) are copied into the run's folder there and compiled with the host's C
compiler; each node starts with the library preloaded and a control file of its own, and a shift
runs the setter on the host, which anchors the shift to the host's own real clock (the
controller's may differ). x86-64 Linux hosts with cc or gcc: any other is refused before the run,
in one line."""

from __future__ import annotations

import shlex

from meshcheck.cluster.clock_faults import BILLION
from meshcheck.cluster.clock_faults import SOURCE
from meshcheck.cluster.clock_faults import _check_rate
from meshcheck.cluster.fault_log import FaultLog
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.remote import Remote

SETTER = SOURCE.with_name("clock_set.c")
_FLAGS = "-shared -fPIC -O2 -mgeneral-regs-only -fno-stack-protector"


def build(remote: Remote) -> None:
    """The library and its setter compiled in the run's folder on the host."""
    folder = f"{remote.folder}/clock"
    machine = remote.run("uname -sm").strip()
    if machine != "Linux x86_64":
        raise MeshcheckError(
            f"--nemesis clock: host {remote.host.name} is {machine}: clock shifts need x86-64 Linux"
        )
    compiler = remote.run("command -v cc || command -v gcc || true").strip()
    if not compiler:
        raise MeshcheckError(
            f"--nemesis clock: host {remote.host.name} has no C compiler (cc or gcc) to build the "
            "clock shift library"
        )
    remote.put(f"{folder}/clock_shift.c", SOURCE.read_bytes())
    remote.put(f"{folder}/clock_set.c", SETTER.read_bytes())
    f = shlex.quote(folder)
    c = shlex.quote(compiler)
    remote.run(
        f"cd {f} && {c} {_FLAGS} -o clock_shift.so clock_shift.c && {c} -O2 -o clock_set "
        "clock_set.c",
        timeout=120,
    )


class RemoteClock:
    """One node's clock on its host: `env()` for its processes, `set()` to change it."""

    def __init__(self, node: str, remote: Remote, log: FaultLog | None = None) -> None:
        self.node = node
        self.remote = remote
        self.file = f"{remote.folder}/clock/clock-{node}"
        self.log = log if log is not None else FaultLog()
        remote.put(self.file, bytes(32))

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": f"{self.remote.folder}/clock/clock_shift.so",
            "MESHCHECK_CLOCK_FILE": self.file,
        }

    def set(self, offset: float, rate: float = 1.0) -> None:
        _check_rate(rate)
        self.remote.run(
            f"{shlex.quote(self.remote.folder)}/clock/clock_set {shlex.quote(self.file)} "
            f"{round(offset * BILLION)} {round(rate * BILLION)}"
        )
        self.log.add("clock", (self.node,), f"{offset:+.3f} s at rate {rate:g}")
