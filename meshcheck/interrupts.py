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
        raise Terminated

    before = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
