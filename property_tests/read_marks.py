"""How far a watcher has read each node's growing list (a replica's audit records, a node's
reports): the rejection oracles judge each entry once. A restarted node is a new object whose list
is restored from its store, so the mark counts for the object it was set on only, and a new one is
read from its start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class ReadMarks:
    """Per node: the object read and how many of its entries."""

    def __init__(self) -> None:
        self._marks: dict[str, tuple[int, int]] = {}

    def unread(self, node_id: str, node: object, entries: Sequence[T]) -> Sequence[T]:
        """The entries of `node` past its mark (all of them when the mark is another object's:
        the node restarted)."""
        mark, read = self._marks.get(node_id, (id(node), 0))
        return entries[read:] if mark == id(node) else entries

    def read(self, node_id: str, node: object, count: int) -> None:
        """Mark the first `count` entries of `node` read."""
        self._marks[node_id] = (id(node), count)
