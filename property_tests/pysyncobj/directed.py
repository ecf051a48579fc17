"""PySyncObj (impl/adapters/pysyncobj.py) as a target of the directed scenarios
(property_tests/directed/): its adapted cluster, its messages read in the words of the Raft paper's
Figure 2, its nodes' state as the adapter exposes it (`state()`), and its injected bugs
(property_tests/pysyncobj/bugs.py) in force while a scenario runs.

PySyncObj's messages say less than Figure 2's: its answer to an AppendEntries (`next_node_idx`)
names the follower's next index, not the match, and carries no term; a vote is answered only when
granted (`response_vote`). Its indexes are one above the spec's (its index 1 is a sentinel): the
entries and the match below are the spec's. Its own messages (a command forwarded to the leader,
the answer) are none of Raft's: `wire` is None for them, and no scenario rule touches them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.adapters.contract import Stamped
from meshcheck.impl.adapters.pysyncobj import pysyncobj_cluster
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.directed import run
from meshcheck.property_tests.directed.target import RaftTarget
from meshcheck.property_tests.directed.target import Wire
from meshcheck.property_tests.directed.target import view_of_state
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pysyncobj.bugs import injected
from meshcheck.property_tests.pysyncobj.free_runs import RAFT_ACTIONS
from meshcheck.property_tests.pysyncobj.free_runs import STORM
from meshcheck.property_tests.pysyncobj.free_runs import violated


def cluster(
    nodes: int, seed: int, bugs: frozenset[str], faults: Faults, log: NdjsonLog | None
) -> Simulator[Any]:
    return pysyncobj_cluster(nodes, seed=seed, faults=faults, log=log, actions=RAFT_ACTIONS)


def wire(message: Any) -> Wire | None:
    body = message.body if isinstance(message, Stamped) else message
    if not isinstance(body, Mapping):
        return None
    kind = body.get("type")
    if kind == "append_entries" and "prevLogIdx" in body:
        entries = body.get("entries") or ()
        return Wire("AppendEntriesRequest", entries=tuple((e[1] - 1, e[2]) for e in entries))
    if kind == "next_node_idx":
        success = bool(body["success"])
        return Wire(
            "AppendEntriesResponse",
            success=success,
            match=body["next_node_idx"] - 2 if success else None,
        )
    if kind == "request_vote":
        return Wire("RequestVoteRequest")
    if kind == "response_vote":
        return Wire("RequestVoteResponse", granted=True)
    return None


TARGET = RaftTarget(
    protocol="pysyncobj",
    cluster=cluster,
    wire=wire,
    view=lambda node: view_of_state(node.state()),
    violated=violated,
    storm=STORM,
    spec="RaftPipelined",
    logs="adapter",
    running=injected,
    notes="PySyncObj 0.3.17 through impl/adapters/pysyncobj.py, its own batching",
)


def check_scenario(schedule: Schedule, nodes: int, bugs: frozenset[str]) -> None:
    """One directed scenario (the schedule's knob `scenario`) on PySyncObj: the harness's re-run
    of a recorded failure (`meshcheck trace replay`). CheckFailed when it fails."""
    run.check(TARGET, schedule, nodes, bugs)
