"""The simulated network: a multiset of messages in flight, and which links are cut.

Every message in flight is an `Envelope` with its own id and delivery time, so two equal messages are
two envelopes (the multiset the spec calls `messages`, a bag), and independent random delays reorder
messages between the same two nodes (reordering is inherent, as in the spec). A partition cuts
directed links; a message whose link is cut when it is due is lost, one that is still in flight when
the partition heals arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

import attrs


@attrs.frozen
class Envelope:
    """One message in flight."""

    id: int
    source: str
    dest: str
    message: Any
    sent_at: int
    deliver_at: int
    delayed: int = 0  # extra ticks the delay fault added
    copy_of: int | None = None  # the envelope this one duplicates


class Network:
    """Messages in flight (by envelope id, in sending order) and the cut links."""

    def __init__(self) -> None:
        self._in_flight: dict[int, Envelope] = {}
        self._cut: set[tuple[str, str]] = set()
        self.cuts = 0  # how many times the cut links changed (a mapping's cache of them checks it)

    def put(self, envelope: Envelope) -> None:
        self._in_flight[envelope.id] = envelope

    def take(self, envelope_id: int) -> Envelope | None:
        """Remove and return an envelope (None if it is no longer in flight)."""
        return self._in_flight.pop(envelope_id, None)

    def get(self, envelope_id: int) -> Envelope | None:
        return self._in_flight.get(envelope_id)

    def __iter__(self) -> Iterator[Envelope]:
        return iter(list(self._in_flight.values()))

    def __len__(self) -> int:
        return len(self._in_flight)

    # -- partitions ---------------------------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Cut every link between two different groups, both ways (a symmetric partition)."""
        sets = [sorted(g) for g in groups]
        for a, ga in enumerate(sets):
            for b, gb in enumerate(sets):
                if a != b:
                    self._cut.update((x, y) for x in ga for y in gb)
        self.cuts += 1

    def cut(self, source: str, dest: str) -> None:
        """Cut the link from `source` to `dest` only (a one-way partition)."""
        self._cut.add((source, dest))
        self.cuts += 1

    def heal(self) -> None:
        self._cut.clear()
        self.cuts += 1

    def reachable(self, source: str, dest: str) -> bool:
        return (source, dest) not in self._cut

    @property
    def cut_links(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self._cut))
