"""The simulator's event queue and logical clock, and the nodes' pending timers.

Time is an integer number of ticks. The queue holds what is due, ordered by (time, sequence number):
ties are broken by the order things were scheduled, never by hashing, so a run does not depend on
Python's per-process string hashes. The clock only moves forward: to the time of the entry taken,
or to the end of a `run(until=...)` when nothing is due before it.

A timer is a queue entry plus a generation: setting a node's timer again, cancelling it, or the
node crashing makes the entry already queued stale, and a stale entry is skipped when it comes up.
"""

from __future__ import annotations

import heapq
from typing import Any


class Kind:
    """What a queue entry is: plain ints, compared on every event (an enum's are slower to read).
    Entries are ordered by time and sequence only."""

    DELIVER = 0  # a message's delivery time: a = envelope id
    TIMER = 1  # a = (node, timer), b = its generation
    CLIENT = 2  # the workload's next request
    CHAOS = 3  # a chaos round: a = the chain it belongs to
    HEAL = 4  # a chaos partition ends: a = its number
    RECOVER = 5  # a = the node that comes back up
    PHASE = 6  # a = the index of the fault phase that begins


class Scheduler:
    """The queue of what is due and the clock (`now`)."""

    def __init__(self) -> None:
        self.now = 0
        self._queue: list[tuple[int, int, int, Any, Any]] = []
        self._seq = 0
        # (node, timer) -> the generation of the pending one (a replaced timer's entry is skipped)
        self._timers: dict[tuple[str, str], int] = {}
        self._timer_gen = 0

    def schedule(self, after: int, kind: int, a: Any = None, b: Any = None) -> None:
        self.schedule_at(self.now + after, kind, a, b)

    def schedule_at(self, at: int, kind: int, a: Any = None, b: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, kind, a, b))

    def next_time(self) -> int | None:
        """When the next entry is due (None: nothing queued)."""
        return self._queue[0][0] if self._queue else None

    def pop_due(self, until: int | None) -> tuple[int, Any, Any] | None:
        """Take the next entry due at or before `until` (None: any) and move the clock to its time;
        None when there is none (the clock then moves to `until`)."""
        queue = self._queue
        if not queue or (until is not None and queue[0][0] > until):
            if until is not None and until > self.now:
                self.now = until
            return None
        at, _seq, kind, a, b = heapq.heappop(queue)
        if at > self.now:
            self.now = at
        return kind, a, b

    def __len__(self) -> int:
        return len(self._queue)

    # -- timers -------------------------------------------------------------------------------------

    def set_timer(self, node: str, timer: str, after: int) -> None:
        """(Re)start `node`'s `timer` to fire `after` ticks from now."""
        self._timer_gen += 1
        key = (node, timer)
        self._timers[key] = self._timer_gen
        self.schedule(after, Kind.TIMER, key, self._timer_gen)

    def cancel_timer(self, node: str, timer: str) -> None:
        self._timers.pop((node, timer), None)

    def cancel_timers(self, node: str) -> None:
        """Every timer of `node` (it crashed)."""
        for key in [k for k in self._timers if k[0] == node]:
            del self._timers[key]

    def take_timer(self, key: tuple[str, str], generation: int) -> bool:
        """Whether this queued timer entry is still the pending one; if so it is no longer pending."""
        if self._timers.get(key) != generation:
            return False
        del self._timers[key]
        return True

    def timer_pending(self, node: str, timer: str) -> bool:
        return (node, timer) in self._timers
