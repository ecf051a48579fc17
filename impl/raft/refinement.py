"""The refinement mapping: a Raft cluster as a state of specs/Raft.tla.

`abstract_state` is the one function that says what the implementation's state *means* in the spec's
terms; lockstep replay and trace validation compare its result with TLC's states using `==`, so it
produces exactly the Python values of impl/base/values.py, and the spec's normal forms:

- volatile state outside its role is at its initial value (the spec's VolatileNormalForm): votes only
  for a candidate; nextIndex, matchIndex, the read record and readFloor only for a leader;
- the message bag holds positive counts only;
- `log[i]` holds the entries after i's snapshot, as in the spec.

Two spec variables are history that no server holds: `committed` (every entry ever committed, with the
term it was committed in) and `readFloor` (how much was committed when the leader's current read was
registered). `History` computes them from the run, step by step, exactly as the spec's actions do.

One more is the model's, not the protocol's: `budget`, what is left of the model's bounds on faults in
all, restarts, drops, duplicates and snapshots (the spec counts down from its Max* constants). The mapping needs those
constants (`Budget`, large by default, the validation model's values when a trace is checked against
a bounded model). A crash that loses nothing (a follower whose commitIndex is its snapshot's) maps to
a stutter, which the spec always allows, rather than to a Restart step that would spend the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from meshcheck.impl.base.events import Restart, Tick
from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.impl.raft.messages import (
    entry_record,
)
from meshcheck.impl.raft.messages import message_record as message_record  # re-exported
from meshcheck.impl.raft.node import SNAPSHOT, RaftNode
from meshcheck.impl.raft.roles import CANDIDATE, FOLLOWER, LEADER, Role

VARIABLES: tuple[str, ...] = (
    "messages",
    "currentTerm",
    "votedFor",
    "log",
    "snapshotIndex",
    "snapshotTerm",
    "role",
    "commitIndex",
    "votesGranted",
    "nextIndex",
    "matchIndex",
    "reads",
    "committed",
    "readFloor",
    "budget",
)

NONE = "None"  # the spec's "no vote"
INIT_READ = FrozenDict({"seq": 0, "index": 0, "acks": frozenset(), "served": False})


@attrs.frozen
class Budget:
    """The model's bounds (the spec's MaxFaults, MaxRestarts, MaxDrops, MaxDuplicates, MaxSnapshots)."""

    fault: int = 1_000_000  # restarts, drops and duplicates together
    restart: int = 1_000_000
    drop: int = 1_000_000
    duplicate: int = 1_000_000
    snapshot: int = 1_000_000


class History:
    """What the spec remembers and no server holds, updated after every step (`observe` the node
    that stepped, with its event)."""

    def __init__(self, *, lossless_restart_is_step: bool = False) -> None:
        self.lossless_restart_is_step = lossless_restart_is_step
        self.committed: list[FrozenDict] = []  # [entry |-> e, term |-> t], index order
        self.restarts = 0  # Restart steps: crashes that lost volatile state
        self.snapshots = 0  # TakeSnapshot steps
        self._floors: dict[str, tuple[int, int, int]] = {}  # node -> (term, read seq, floor)
        self._last: dict[str, tuple[Role, int, int]] = {}  # node -> (role, commit, snapshot index)
        # The mapping runs after every step: the parts that rarely change are built once, and the
        # same objects then also make comparing two states cheap (equality checks identity first).
        self._committed: tuple[FrozenDict, ...] = ()
        # node -> (log version, log base, the log's value)
        self._logs: dict[str, tuple[int, int, tuple[FrozenDict, ...]]] = {}

    def committed_value(self) -> tuple[FrozenDict, ...]:
        if len(self._committed) != len(self.committed):
            self._committed = tuple(self.committed)
        return self._committed

    def log_value(self, node: RaftNode) -> tuple[FrozenDict, ...]:
        log = node.log
        cached = self._logs.get(node.id)
        if cached is not None and cached[0] == log.version:
            return cached[2]
        if cached is not None and cached[1] == log.base:  # only appends since: extend
            value = cached[2] + tuple(map(entry_record, log.entries[len(cached[2]) :]))
        else:
            value = tuple(map(entry_record, log.entries))
        self._logs[node.id] = (log.version, log.base, value)
        return value

    def observe(self, node: RaftNode, event: Any) -> None:
        role, commit, snapshot = self._last.get(node.id, (FOLLOWER, 0, 0))
        if isinstance(event, Restart):
            if self.lossless_restart_is_step or role != FOLLOWER or commit > snapshot:
                self.restarts += 1
        elif (
            isinstance(event, Tick)
            and event.timer == SNAPSHOT
            and node.log.snapshot_index > snapshot
        ):
            self.snapshots += 1
        self._last[node.id] = (node.role, node.commit_index, node.log.snapshot_index)
        # readFloor first: the spec's ClientRead reads Len(committed) before anything else changes.
        if node.role == LEADER and node.reads.seq > 0:
            floor = self._floors.get(node.id)
            if floor is None or floor[:2] != (node.term, node.reads.seq):
                self._floors[node.id] = (node.term, node.reads.seq, len(self.committed))
        # committed: the spec's ExtendCommitted(log, snapshotIndex, commitIndex, currentTerm).
        have = len(self.committed)
        upto = min(node.commit_index, node.log.last_index)
        if upto > have >= node.log.snapshot_index:
            for k in range(have + 1, upto + 1):
                self.committed.append(
                    FrozenDict({"entry": entry_record(node.log.entry(k)), "term": node.term})
                )

    def read_floor(self, node: RaftNode) -> int:
        if node.role != LEADER or node.reads.seq == 0:
            return 0
        floor = self._floors.get(node.id)
        return floor[2] if floor is not None and floor[:2] == (node.term, node.reads.seq) else 0


def abstract_state(
    nodes: Mapping[str, RaftNode],
    messages: FrozenDict,
    history: History,
    faults: Mapping[str, int],
    budget: Budget,
) -> FrozenDict:
    """The spec's variables for a cluster (`nodes` by server id), the bag of messages in flight
    (record -> count), the run's history, the network faults so far ("drop", "duplicate") and the
    model's bounds."""
    servers = sorted(nodes)
    drops, duplicates = faults.get("drop", 0), faults.get("duplicate", 0)
    init_next = FrozenDict(dict.fromkeys(servers, 1))
    init_match = FrozenDict(dict.fromkeys(servers, 0))

    def per_server(f: Callable[[RaftNode], Value]) -> FrozenDict:
        return FrozenDict({i: f(nodes[i]) for i in servers})

    def reads(n: RaftNode) -> FrozenDict:
        if n.role != LEADER:
            return INIT_READ
        r = n.reads
        return FrozenDict({"seq": r.seq, "index": r.index, "acks": r.acks, "served": r.served})

    return FrozenDict(
        {
            # An empty bag is the empty function, which TLC and specs/tlc/values.py give as ().
            "messages": messages if messages else (),
            "currentTerm": per_server(lambda n: n.term),
            "votedFor": per_server(lambda n: NONE if n.voted_for is None else n.voted_for),
            "log": per_server(history.log_value),
            "snapshotIndex": per_server(lambda n: n.log.snapshot_index),
            "snapshotTerm": per_server(lambda n: n.log.snapshot_term),
            "role": per_server(lambda n: n.role),
            "commitIndex": per_server(lambda n: n.commit_index),
            "votesGranted": per_server(
                lambda n: n.votes_granted if n.role == CANDIDATE else frozenset()
            ),
            "nextIndex": per_server(
                lambda n: FrozenDict(n.next_index) if n.role == LEADER else init_next
            ),
            "matchIndex": per_server(
                lambda n: FrozenDict(n.match_index) if n.role == LEADER else init_match
            ),
            "reads": per_server(reads),
            "committed": history.committed_value(),
            "readFloor": per_server(history.read_floor),
            "budget": FrozenDict(
                {
                    "fault": budget.fault - history.restarts - drops - duplicates,
                    "restart": budget.restart - history.restarts,
                    "drop": budget.drop - drops,
                    "duplicate": budget.duplicate - duplicates,
                    "snapshot": budget.snapshot - history.snapshots,
                }
            ),
        }
    )
