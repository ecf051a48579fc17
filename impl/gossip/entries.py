"""Versioned entries and their merge: what a gossip node holds and what it sends.

A node's state is a map from key to `Entry(version, origin, value)`. Two entries for one key are ordered
by their rank `(version, origin, value)`, compared lexicographically: a higher version wins, a tie on
the version is broken by the writer's name and then by the value. The order is total, so the merge of
two states, key by key the entry of higher rank, is the least upper bound of a join-semilattice:
commutative, associative and idempotent for every pair of states (models/gossip.py proves it). That is
why the order in which exchanges arrive, a lost exchange sent again, or a duplicate cannot change where
the nodes converge (Shapiro, Preguica, Baquero and Zawirski, "Conflict-free Replicated Data Types",
SSS 2011, section 2.2: a state-based object whose merge is a join converges).

The value is part of the rank only so that the order stays total when one writer reuses a version
(a writer that lost what it wrote): without it two nodes holding different values under the same
`(version, origin)` would each keep their own, and merges would disagree.

An update writes version one above the highest the writer knows for the key (a Lamport clock per key,
Lamport 1978): it supersedes every entry the writer has seen.

Delta propagation (van Renesse, Dumitriu, Gough and Thomas, "Efficient Reconciliation and Flow Control
for Anti-Entropy Protocols", LADIS 2008): a peer sends its digest, the rank it holds per key, and gets
back exactly the entries of higher rank than its digest's and those for keys it does not hold;
`delta` sends nothing the peer already has (or has something newer of), and everything it lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import TypeAlias

import attrs

Rank: TypeAlias = tuple[int, str, str]
"""An entry's place in the per-key order: (version, origin, value)."""

Digest: TypeAlias = Mapping[str, Rank]
"""What a node holds, as the rank per key: what a pull request carries."""


@attrs.frozen(order=False)
class Entry:
    """One key's value as written by `origin` at `version` (version >= 1)."""

    version: int
    origin: str
    value: str

    def rank(self) -> Rank:
        return (self.version, self.origin, self.value)


State: TypeAlias = Mapping[str, Entry]


def newer(a: Entry, b: Entry) -> bool:
    """`a` supersedes `b`: its rank is strictly higher."""
    return a.rank() > b.rank()


def join(a: Entry, b: Entry) -> Entry:
    """The higher of two entries for one key."""
    return a if a.rank() >= b.rank() else b


def merge(mine: State, theirs: State) -> dict[str, Entry]:
    """Key by key, the higher entry of the two states (the semilattice's join)."""
    merged = dict(mine)
    for key, entry in theirs.items():
        held = merged.get(key)
        merged[key] = entry if held is None else join(held, entry)
    return merged


def merge_all(states: Iterable[State]) -> dict[str, Entry]:
    """The join of any number of states (where gossip converges once every update has spread)."""
    merged: dict[str, Entry] = {}
    for state in states:
        merged = merge(merged, state)
    return merged


def digest(state: State) -> dict[str, Rank]:
    """The rank held per key: all a peer needs to compute the delta for this node."""
    return {key: entry.rank() for key, entry in state.items()}


def delta(mine: State, theirs: Digest) -> dict[str, Entry]:
    """The entries of `mine` the holder of digest `theirs` lacks: keys it does not hold, and keys where
    it holds a lower rank. Nothing it holds at an equal or higher rank is sent."""
    return {
        key: entry for key, entry in mine.items() if key not in theirs or entry.rank() > theirs[key]
    }


def update(state: State, key: str, value: str, origin: str) -> Entry:
    """The entry `origin` writes for `key`: one version above the highest it holds for the key."""
    held = state.get(key)
    return Entry(version=1 if held is None else held.version + 1, origin=origin, value=value)
