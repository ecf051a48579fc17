"""A Raft log in memory: the entries after the snapshot, indexed from 1 as in the paper.

Index 0 is the empty prefix (term 0). After compaction (section 7) the entries up to `snapshot_index`
are gone; their last term is kept as `snapshot_term`, which is all the consistency check of
AppendEntries needs at the boundary.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import ClassVar

from meshcheck.impl.raft.messages import Entry

_stamps = itertools.count(1)  # versions unique across every log of the process

# Globals that keep no node's state (property_tests/restarts.py, core purity): `_stamps` hands out
# version stamps, unique in the process so that a reader's cache keyed by one never mistakes
# another log for this one; no node's behaviour depends on a stamp's value.
PURE_GLOBALS = ("_stamps",)


class RaftLog:
    # Fields that are process-unique stamps, not state: a node rebuilt from the same persisted
    # state holds other stamps, and is the same node (property_tests/restarts.py).
    PROCESS_STAMPS: ClassVar[tuple[str, ...]] = ("version", "base")

    def __init__(
        self, snapshot_index: int = 0, snapshot_term: int = 0, entries: Iterable[Entry] = ()
    ) -> None:
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
        self.entries: list[Entry] = list(entries)
        # Readers (the refinement mapping) cache by these: `version` is new after every change,
        # `base` only after a change other than an append, so equal bases mean "only appended".
        self.version = next(_stamps)
        self.base = self.version

    @property
    def last_index(self) -> int:
        return self.snapshot_index + len(self.entries)

    @property
    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.snapshot_term

    def term_at(self, index: int) -> int | None:
        """The term of entry `index`: None if it is beyond the log or compacted away."""
        if index == self.snapshot_index:
            return self.snapshot_term
        if self.snapshot_index < index <= self.last_index:
            return self.entries[index - self.snapshot_index - 1].term
        return None

    def first_index_of_term(self, term: int, upto: int) -> int:
        """The first index from the snapshot's on up to `upto` whose entry has term `term`, when
        entry `upto` has it (terms never decrease along a log, so those entries are one run ending
        at `upto`): the fast-backup hint of a rejection (Raft paper, end of section 5.3)."""
        index = upto
        while index > self.snapshot_index and self.term_at(index - 1) == term:
            index -= 1
        return index

    def entry(self, index: int) -> Entry:
        return self.entries[index - self.snapshot_index - 1]

    def slice(self, first: int, stop: int) -> tuple[Entry, ...]:
        """Entries first .. stop-1 (both after the snapshot)."""
        base = self.snapshot_index + 1
        return tuple(self.entries[first - base : stop - base])

    def position(self, index: int) -> int:
        """Where entry `index` sits in `entries` (and in the persisted list)."""
        return index - self.snapshot_index - 1

    def append(self, entries: Iterable[Entry]) -> None:
        self.entries.extend(entries)
        self.version = next(_stamps)

    def truncate_from(self, index: int) -> None:
        """Delete entry `index` and every entry after it (section 5.3: a conflict)."""
        del self.entries[max(0, self.position(index)) :]
        self.version = self.base = next(_stamps)

    def compact(self, index: int, term: int) -> None:
        """Fold entries up to `index` (of term `term`) into the snapshot; keep any entries after it."""
        if index <= self.last_index and self.term_at(index) == term:
            del self.entries[: self.position(index) + 1]
        else:
            self.entries = []
        self.snapshot_index, self.snapshot_term = index, term
        self.version = self.base = next(_stamps)
