"""The one clock a runtime node reads: the monotonic clock in milliseconds (a core's tick), shifted
by an offset a test may set (a skewed clock is the nemesis's clock fault).

Milliseconds because the cores' timing is in ticks of one millisecond (Raft's 150-300 election
timeout and 50 heartbeat: property_tests/raft/targets.py).
"""

from __future__ import annotations

import time

import attrs


@attrs.define
class Clock:
    """`now()` in milliseconds since the process started, plus `offset`, at `rate` times speed."""

    offset: int = 0
    rate: float = 1.0
    _origin: float = attrs.field(factory=time.monotonic, init=False)

    def now(self) -> int:
        return self.offset + int((time.monotonic() - self._origin) * 1000 * self.rate)

    def duration(self, ticks: int) -> float:
        """How long, in seconds of the real clock, `ticks` of this clock last."""
        return ticks / 1000 / self.rate
