"""What the network-layer and clock faults (netns.py, clock_faults.py) share: the record of each
fault applied, with its time, for a run's report; and how a process they start is tied to the
harness's life, so it dies with the harness even when the harness is killed with SIGKILL."""

from __future__ import annotations

import ctypes
import signal
import time

import attrs

_PR_SET_PDEATHSIG = 1


@attrs.frozen
class FaultRecord:
    """`kind` applied to `nodes` at `at` seconds after the log began (the monotonic clock), `wall`
    the wall clock's reading then (for lining the record up with a system's own logs)."""

    at: float
    wall: float
    kind: str
    nodes: tuple[str, ...]
    detail: str = ""

    def line(self) -> str:
        nodes = ",".join(self.nodes)
        return f"{self.at:8.3f}s  {self.kind:<10} {nodes:<12} {self.detail}".rstrip()


class FaultLog:
    """Every fault applied, in order, stamped when it took effect."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self.records: list[FaultRecord] = []

    def add(self, kind: str, nodes: tuple[str, ...], detail: str = "") -> FaultRecord:
        record = FaultRecord(time.monotonic() - self._start, time.time(), kind, nodes, detail)
        self.records.append(record)
        return record

    def report(self) -> str:
        return "\n".join(r.line() for r in self.records)


def die_with_parent() -> None:
    """A `preexec_fn`: the kernel sends the child SIGKILL when the thread that started it ends
    (prctl PR_SET_PDEATHSIG), so a harness killed with SIGKILL leaves no child behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
