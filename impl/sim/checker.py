"""The safety checker: what every node applied, and State Machine Safety over it.

Raft's State Machine Safety (Ongaro and Ousterhout, "In Search of an Understandable Consensus
Algorithm", 2014, Figure 3), and PBFT's safety for executed requests (Castro and Liskov, OSDI 1999,
section 4.5): no two nodes apply different values at one index. Every `Apply` effect is checked
against the value first applied at its index by any node; a mismatch is a divergence.

Each node's applied entries are kept in the order it applied them, across crashes: a node that
restarts from a snapshot and applies the entries after it again shows them twice, the second time
with its next incarnation. The per-index view (the last value each node applied at each index) is
kept too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs


@attrs.frozen
class AppliedEntry:
    """One entry a node applied: its index and value, the node's incarnation (0 until its first
    crash, then one more per crash) and the simulated time."""

    index: int
    value: Any
    incarnation: int
    time: int
    # the node's `applied_state()` right after it (impl/base/node.py's AppliedState hook): how many
    # entries its state machine applied and the digest of its state; None without the hook
    state: tuple[int, bytes] | None = None


class SafetyChecker:
    """Applied entries per node, and the divergences found among them."""

    def __init__(self, node_ids: Sequence[str]) -> None:
        self.applied: dict[str, list[AppliedEntry]] = {i: [] for i in node_ids}
        self.applied_by_index: dict[str, dict[int, Any]] = {i: {} for i in node_ids}
        self.first_applied: dict[int, Any] = {}  # index -> the value first applied there, by anyone
        # (node, index, the value first applied there, this node's value)
        self.divergences: list[tuple[str, int, Any, Any]] = []

    def on_apply(
        self,
        node: str,
        index: int,
        value: Any,
        *,
        incarnation: int,
        time: int,
        state: tuple[int, bytes] | None = None,
    ) -> None:
        self.applied[node].append(AppliedEntry(index, value, incarnation, time, state))
        self.applied_by_index[node][index] = value
        first = self.first_applied.setdefault(index, value)
        if first != value:
            self.divergences.append((node, index, first, value))

    def note_state(self, node: str, state: tuple[int, bytes]) -> None:
        """The node's applied state after its latest applied entry (see `AppliedEntry.state`)."""
        entries = self.applied[node]
        entries[-1] = attrs.evolve(entries[-1], state=state)
