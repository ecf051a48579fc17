"""The refinement mapping: a Raft cluster as a state of specs/Raft.tla.

`abstract_state` is the one function that says what the implementation's state *means* in the spec's
terms; lockstep replay and trace validation compare its result with TLC's states using `==`, so it
produces exactly the Python values of impl/base/values.py, and the spec's normal forms:

- volatile state outside its role is at its initial value (the spec's VolatileNormalForm): votes only
  for a candidate or a pre-candidate (pre-votes); nextIndex, matchIndex, the read record and readFloor only for a leader;
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

from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.growth import differ
from meshcheck.impl.base.growth import extended
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft.messages import entry_record
from meshcheck.impl.raft.messages import message_record as message_record  # re-exported
from meshcheck.impl.raft.node import SNAPSHOT
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.roles import CANDIDATE
from meshcheck.impl.raft.roles import FOLLOWER
from meshcheck.impl.raft.roles import LEADER
from meshcheck.impl.raft.roles import PRE_CANDIDATE
from meshcheck.impl.raft.roles import Role

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
        self.columns: _Columns | None = None  # the last state's per-server variables

    def committed_value(self) -> tuple[FrozenDict, ...]:
        old = self._committed
        if len(old) != len(self.committed):
            added = tuple(self.committed[len(old) :])
            self._committed = old + added
            extended(old, self._committed, added)  # for the trace recorder: no need to compare
        return self._committed

    def log_value(self, node: RaftNode) -> tuple[FrozenDict, ...]:
        log = node.log
        cached = self._logs.get(node.id)
        if cached is not None and cached[0] == log.version:
            return cached[2]
        if cached is not None and cached[1] == log.base:  # only appends since: extend
            added = tuple(map(entry_record, log.entries[len(cached[2]) :]))
            value = cached[2] + added
            extended(cached[2], value, added)  # for the trace recorder: no need to compare
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


# The variables that are functions over servers, in the order of a server's row (`_row`).
_PER_SERVER = tuple(v for v in VARIABLES if v not in ("messages", "committed", "budget"))


def _reads(n: RaftNode) -> FrozenDict:
    if n.role != LEADER:
        return INIT_READ
    r = n.reads
    return FrozenDict({"seq": r.seq, "index": r.index, "acks": r.acks, "served": r.served})


def server_slice(n: RaftNode, value: Callable[[Value], Value] = lambda v: v) -> dict[str, Value]:
    """One server's own variables of Raft.tla (the refinement mapping's, at that server), read
    from the node alone: what a node logs of itself (impl/runtime/nodelog.py). `value` names each
    log entry's value as the log's model does."""
    servers = n.config.servers
    leader = n.role == LEADER
    return {
        "currentTerm": n.term,
        "votedFor": NONE if n.voted_for is None else n.voted_for,
        "log": tuple(FrozenDict({"term": e.term, "value": value(e.value)}) for e in n.log.entries),
        "snapshotIndex": n.log.snapshot_index,
        "snapshotTerm": n.log.snapshot_term,
        "role": n.role,
        "commitIndex": n.commit_index,
        "votesGranted": n.votes_granted if n.role in (CANDIDATE, PRE_CANDIDATE) else frozenset(),
        "nextIndex": FrozenDict(n.next_index if leader else dict.fromkeys(servers, 1)),
        "matchIndex": FrozenDict(n.match_index if leader else dict.fromkeys(servers, 0)),
        "reads": _reads(n),
    }


def _row(
    n: RaftNode, history: History, init_next: FrozenDict, init_match: FrozenDict
) -> tuple[Value, ...]:
    """One server's values of the `_PER_SERVER` variables."""
    role, log = n.role, n.log
    leader = role == LEADER
    return (
        n.term,
        NONE if n.voted_for is None else n.voted_for,
        history.log_value(n),
        log.snapshot_index,
        log.snapshot_term,
        role,
        n.commit_index,
        n.votes_granted if role in (CANDIDATE, PRE_CANDIDATE) else frozenset(),
        FrozenDict(n.next_index) if leader else init_next,
        FrozenDict(n.match_index) if leader else init_match,
        _reads(n),
        history.read_floor(n),
    )


class _Columns:
    """The per-server variables of the last state mapped: each server's row and each variable's
    function over the servers. The mapping runs after every action of a recorded run and one
    action changes one server, so a variable no server's row changed keeps its value object from
    the last state (equal states then compare by identity, and are not built again)."""

    def __init__(self, servers: tuple[str, ...]) -> None:
        self.servers = servers
        self.init_next = FrozenDict(dict.fromkeys(servers, 1))
        self.init_match = FrozenDict(dict.fromkeys(servers, 0))
        self.rows: dict[str, tuple[Value, ...]] = {}
        self.objects: dict[str, RaftNode] = {}  # the node object each row was read from
        self.values: list[FrozenDict] = []
        self.budget: tuple[tuple[int, ...], FrozenDict] | None = None

    def update(
        self, nodes: Mapping[str, RaftNode], history: History, touched: Collection[str] | None
    ) -> list[FrozenDict]:
        """The per-server variables now; `touched`: only those servers stepped since the last
        update (a server whose node object was replaced is read again too)."""
        servers, rows, objects = self.servers, self.rows, self.objects
        if touched is None or not rows or not self.values:
            self.rows = rows = {
                i: _row(nodes[i], history, self.init_next, self.init_match) for i in servers
            }
            self.objects = dict(nodes)
            self.values = [
                FrozenDict({i: rows[i][k] for i in servers}) for k in range(len(_PER_SERVER))
            ]
            return self.values
        # in place: this runs after every action of a recorded run, and each object it makes
        # and keeps is one more for the garbage collector to walk
        moved: set[int] = set()  # the variables a server's row changed
        for i in servers:
            node = nodes[i]
            if i in touched or node is not objects[i]:
                objects[i] = node
                row, before = _row(node, history, self.init_next, self.init_match), rows[i]
                # `differ`, not `!=`: a grown log is a long tuple (impl/base/growth.py)
                changes = [k for k in range(len(_PER_SERVER)) if differ(row[k], before[k])]
                if changes:
                    moved.update(changes)
                    rows[i] = row
        for k in moved:
            self.values[k] = FrozenDict({i: rows[i][k] for i in servers})
        return self.values

    def budget_value(self, numbers: tuple[int, ...]) -> FrozenDict:
        if self.budget is None or self.budget[0] != numbers:
            fault, restart, drop, duplicate, snapshot = numbers
            value = FrozenDict(
                {
                    "fault": fault,
                    "restart": restart,
                    "drop": drop,
                    "duplicate": duplicate,
                    "snapshot": snapshot,
                }
            )
            self.budget = (numbers, value)
        return self.budget[1]


def abstract_state(
    nodes: Mapping[str, RaftNode],
    messages: FrozenDict,
    history: History,
    faults: Mapping[str, int],
    budget: Budget,
    touched: Collection[str] | None = None,
) -> FrozenDict:
    """The spec's variables for a cluster (`nodes` by server id), the bag of messages in flight
    (record -> count), the run's history, the network faults so far ("drop", "duplicate") and the
    model's bounds; `touched`: only those servers stepped since the history last mapped the
    cluster (None: any may have)."""
    servers = tuple(sorted(nodes))
    columns = history.columns
    if columns is None or columns.servers != servers:
        columns = history.columns = _Columns(servers)
    (
        term,
        voted,
        log,
        snapshot_index,
        snapshot_term,
        role,
        commit,
        votes,
        next_index,
        match_index,
        reads,
        floor,
    ) = columns.update(nodes, history, touched)
    drops, duplicates = faults.get("drop", 0), faults.get("duplicate", 0)
    return FrozenDict(
        {
            # An empty bag is the empty function, which TLC and specs/tlc/values.py give as ().
            "messages": messages if messages else (),
            "currentTerm": term,
            "votedFor": voted,
            "log": log,
            "snapshotIndex": snapshot_index,
            "snapshotTerm": snapshot_term,
            "role": role,
            "commitIndex": commit,
            "votesGranted": votes,
            "nextIndex": next_index,
            "matchIndex": match_index,
            "reads": reads,
            "committed": history.committed_value(),
            "readFloor": floor,
            "budget": columns.budget_value(
                (
                    budget.fault - history.restarts - drops - duplicates,
                    budget.restart - history.restarts,
                    budget.drop - drops,
                    budget.duplicate - duplicates,
                    budget.snapshot - history.snapshots,
                )
            ),
        }
    )
