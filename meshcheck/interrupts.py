"""SIGTERM as an interrupt, for the commands that start processes (`verify`, `cluster`)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from meshcheck.impl.base.errors import Terminated


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM raises `Terminated` (a KeyboardInterrupt) in the main thread.
    Ctrl-C reaches every process of the terminal's process group; a SIGTERM sent to this process
    alone (`kill PID`, a supervisor) would end it at once and leave its pytest run and its pool's
    workers running, each with a JVM. As an interrupt it unwinds the run, which ends them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, frame: object) -> None:
        if _held:  # a step that must not be cut in two: raised as it ends (`held`)
            _held[-1] = True
            return
        raise Terminated

    before = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


# one entry per `held` block under way (innermost last): whether a SIGTERM came in it
_held: list[bool] = []


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A SIGTERM that comes while the block runs raises `Terminated` as the block ends, not inside
    it: for a step that must not be cut in two, such as starting a process and recording it as one
    to end. Cut inside `subprocess.Popen`, after the fork and before it returns, the child ran on
    with nobody to end it (a verify run's pytest, once, on a loaded machine)."""
    _held.append(False)
    came = False
    try:
        yield
    finally:
        came = _held.pop()
    if came:
        raise Terminated
