"""The reference core (impl/raft) as a target of the directed scenarios (property_tests/directed/).

The scenarios drive it through the same operations as any implementation behind the adapter: its
simulated cluster (impl/raft/simulation.py's `raft_cluster`), its messages read in Figure 2's words
(`wire`), its nodes' state (`view`). Its NDJSON log is written from the recorded trace
(traces/logs/reference.py), as the core has no adapter of its own.

One setting is the target's, not the scenarios': AppendEntries carry one entry each
(`max_entries=1`), the finest batching the spec allows (Raft.tla's AppendEntries sends any
non-empty prefix). It is what lets a new leader's older entries reach a follower without its
no-op, the state of the Raft paper's Figure 8 (c) that the commit rule of section 5.4.2 is about;
a core that always ships its whole suffix, as PySyncObj does, carries the no-op with them. Log
compaction is off (a snapshot interval beyond any scenario), so a log is the whole history.
"""

from __future__ import annotations

from typing import Any

from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import AppendEntriesResponse
from meshcheck.impl.raft.messages import RequestVoteRequest
from meshcheck.impl.raft.messages import RequestVoteResponse
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.directed import run
from meshcheck.property_tests.directed.target import NodeView
from meshcheck.property_tests.directed.target import RaftTarget
from meshcheck.property_tests.directed.target import Wire
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.free_runs import STORM
from meshcheck.property_tests.raft.safety import violated


def cluster(
    nodes: int, seed: int, bugs: frozenset[str], faults: Faults, log: NdjsonLog | None
) -> Simulator[Any]:
    return raft_cluster(
        nodes, seed=seed, faults=faults, bugs=bugs, max_entries=1, snapshot_interval=10**9
    )


def wire(message: Any) -> Wire | None:
    if isinstance(message, AppendEntriesRequest):
        first = message.prev_log_index + 1
        return Wire(
            "AppendEntriesRequest",
            entries=tuple((first + k, e.term) for k, e in enumerate(message.entries)),
        )
    if isinstance(message, AppendEntriesResponse):
        return Wire("AppendEntriesResponse", success=message.success, match=message.match_index)
    if isinstance(message, RequestVoteRequest):
        return Wire("RequestVoteRequest")
    if isinstance(message, RequestVoteResponse):
        return Wire("RequestVoteResponse", granted=message.vote_granted)
    return None


def view(node: RaftNode) -> NodeView:
    return NodeView(
        term=node.term,
        role=node.role,
        voted_for=node.voted_for,
        log=tuple((e.term, e.value) for e in node.log.entries),
        commit=node.commit_index,
    )


TARGET = RaftTarget(
    protocol="raft",
    cluster=cluster,
    wire=wire,
    view=view,
    violated=violated,
    storm=STORM,
    spec="Raft",
    logs="trace",
    notes="one entry per AppendEntries (max_entries=1), no log compaction",
)


def check_scenario(schedule: Schedule, nodes: int, bugs: frozenset[str]) -> None:
    """One directed scenario (the schedule's knob `scenario`) on the reference core: the harness's
    re-run of a recorded failure (`meshcheck trace replay`). CheckFailed when it fails."""
    run.check(TARGET, schedule, nodes, bugs)
