"""A system's run stopped before its end (meshcheck/systems/run.py), and why.

- SIGINT (Ctrl-C) or SIGTERM while the clients run (`meshcheck cluster test --system FILE`): each
  client ends the operation it is in (completed, or timed out and recorded `info`) and takes no
  other; the nemesis lets go of every fault in force (a pause resumed, a clock set back, a
  network fault lifted; a killed node is not restarted: meshcheck/cluster/strike.py); the nodes
  stop, the network and the lazy file systems go; the history recorded until then and the
  nemesis's log are kept and checked, and the report says the run is partial (partial.txt, the
  table's first row). The command exits 130 (SIGINT) or 143 (SIGTERM), 128 and the signal's
  number as a shell reports a process a signal ended, whatever the checks found: a partial run
  is never a pass.
- The same signal before the clients run (the nodes starting, a leader awaited): nothing was
  recorded; the run's teardown, then the interrupt, as ever (130 or 143).
- A second signal: nothing more is awaited; the teardown only (the run's with-blocks), then the
  interrupt. A signal while the history is checked, after the teardown, interrupts the check.
- A failure of the harness's own while the run goes on (the daemon of a node's lazy file system
  died: meshcheck/faults/lazyfs.py; the nemesis failed): the run is stopped as for a signal,
  its history and nemesis log kept, then the error said in one line (exit 2): nothing is checked,
  since what the nodes did after their disk or the nemesis failed is not the system's doing. One
  that comes after a signal's stop is added to what the report says of the stop (`then ...`).

Jepsen tears a test's database and operating system down in `finally` blocks however the test
ends (jepsen-io/jepsen, jepsen/src/jepsen/core.clj, `with-db`, `with-os`); here the history the
run recorded until it stopped is kept and checked too, marked partial.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

from meshcheck.impl.base.errors import Terminated

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class EarlyStop:
    """Why and when the run stopped early: `signal` (its number) or `failure`, at `at` seconds
    into the run (None: before the clients ran)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.failure: BaseException | None = None
        self.at: float | None = None
        # failures after the stop (a daemon that died while the run stopped): said with it
        self.then: list[BaseException] = []
        self._main: asyncio.Task[Any] | None = None
        self._clock: Callable[[], float] | None = None
        self._actions: tuple[Callable[[], object], ...] = ()

    @property
    def stopped(self) -> bool:
        return self.signal is not None or self.failure is not None

    def attach(self, main: asyncio.Task[Any] | None) -> None:
        """The run's task, cancelled by a stop before the clients run, or by a second one."""
        self._main = main

    def running(self, clock: Callable[[], float], *actions: Callable[[], object]) -> None:
        """The clients run on `clock`: from now a stop calls `actions` (stop the clients, let go
        of the faults) and the run ends in order."""
        self._clock = clock
        self._actions = actions

    def by_signal(self, number: int) -> None:
        if self.stopped:
            self._cancel()
            return
        self.signal = number
        self._stop()

    def by_failure(self, error: BaseException) -> None:
        if self.stopped:
            self.then.append(error)
            return
        self.failure = error
        self._stop()

    def _stop(self) -> None:
        if self._clock is None:
            self._cancel()
            return
        self.at = self._clock()
        for action in self._actions:
            action()

    def _cancel(self) -> None:
        if self._main is not None:
            self._main.cancel()

    def interrupt(self) -> KeyboardInterrupt:
        """What the command line turns into 143 (SIGTERM) or 130 (SIGINT)."""
        return Terminated() if self.signal == signal.SIGTERM else KeyboardInterrupt()

    def describe(self, duration: float) -> str:
        """`interrupted by SIGINT at t=3.2 s of 10 s`."""
        why = signal.Signals(self.signal).name if self.signal is not None else str(self.failure)
        at = "before the clients ran" if self.at is None else f"at t={self.at:.1f} s"
        then = "".join(f"; then {e}" for e in self.then)
        return f"interrupted by {why} {at} of {duration:g} s{then}"

    @contextlib.contextmanager
    def signals(self, loop: asyncio.AbstractEventLoop, wanted: bool) -> Iterator[None]:
        """While the block runs, SIGINT and SIGTERM stop the run (`by_signal`) instead of raising
        where they land (only `wanted`, and only in the main thread, where signals are taken);
        the handlers before it are put back at its end."""
        if not wanted or threading.current_thread() is not threading.main_thread():
            yield
            return
        before = {sig: signal.getsignal(sig) for sig in SIGNALS}
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.by_signal, int(sig))
        try:
            yield
        finally:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
                signal.signal(sig, before[sig])
