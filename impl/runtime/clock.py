"""The one clock a runtime node reads: the monotonic clock in milliseconds (a core's tick), with a
skew the nemesis may set (its clock fault): a jump (`offset`, added to the reading from now on) and
a rate (a clock that runs fast or slow, so the node's timers fire early or late).

Milliseconds because the cores' timing is in ticks of one millisecond (Raft's 150-300 election
timeout and 50 heartbeat: property_tests/raft/targets.py).
"""

from __future__ import annotations

import time

from meshcheck.impl.base.errors import ImplError


class Clock:
    """`now()` in milliseconds: the reading at the last change, plus the time since at `rate`."""

    def __init__(self) -> None:
        self._base = 0.0  # the reading, in milliseconds, at `_since`
        self._since = time.monotonic()
        self.rate = 1.0

    def now(self) -> int:
        return int(self._base + (time.monotonic() - self._since) * 1000 * self.rate)

    def skew(self, offset: int, rate: float) -> None:
        """From now on: the reading jumps by `offset` milliseconds and runs at `rate`."""
        if not 0.1 <= rate <= 10:
            raise ImplError(f"a clock rate of {rate} is not between 0.1 and 10")
        self._base = self.now() + offset
        self._since = time.monotonic()
        self.rate = rate

    def duration(self, ticks: int) -> float:
        """How long, in seconds of the real clock, `ticks` of this clock last."""
        return ticks / 1000 / self.rate
