"""Raft in the simulator: the plugin that names each step in the spec's vocabulary, and a cluster
builder.

How one processed event becomes spec actions (`RaftPlugin.split`): the node reports them as `Action`
effects where it takes them (node.py). The event gives the first action
(a delivered message m from j to i is `Handle<m's type>(i, j, m)`, the election timer is `Timeout(i)`,
a client write is `ClientRequest(i, v)`, ...; a heartbeat or `Replicate` has none of its own), and
every AppendEntriesRequest or InstallSnapshotRequest the node sends is an `AppendEntries(i, j)` or
`InstallSnapshot(i, j)` of its own, after it. Sends change nothing in the node (nextIndex moves only on
responses), so the node's state after the event is right for every one of those steps.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import split_actions
from meshcheck.impl.base.node import Workload
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.refinement import VARIABLES
from meshcheck.impl.raft.refinement import Budget
from meshcheck.impl.raft.refinement import History
from meshcheck.impl.raft.refinement import abstract_state
from meshcheck.impl.raft.refinement import message_record
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.groups import fault_step
from meshcheck.impl.sim.protocol import Segment
from meshcheck.impl.sim.simulator import Simulator


class RaftPlugin:
    """The Raft side of `Simulator`: one per simulation (it keeps the run's history)."""

    name = "raft"
    variables = VARIABLES

    def __init__(
        self,
        servers: Sequence[str],
        *,
        election_timeout: tuple[int, int] = (150, 300),
        heartbeat_interval: int = 50,
        snapshot_interval: int = 10_000,
        max_entries: int | None = None,
        leader_noop: bool = True,
        pre_vote: bool = False,
        bugs: frozenset[str] = frozenset(),
        budget: Budget | None = None,
        lossless_restart_is_step: bool = False,
    ) -> None:
        self.servers = tuple(sorted(servers))
        self.budget = budget if budget is not None else Budget()
        self._options: dict[str, Any] = {
            "election_timeout": election_timeout,
            "heartbeat_interval": heartbeat_interval,
            "snapshot_interval": snapshot_interval,
            "max_entries": max_entries,
            "leader_noop": leader_noop,
            "pre_vote": pre_vote,
            "bugs": frozenset(bugs),
        }
        for server in self.servers:  # bad options fail here, once, not at the first restart
            RaftConfig(server, self.servers, **self._options)
        self.history = History(lossless_restart_is_step=lossless_restart_is_step)

    def new_node(self, node_id: str, rng: random.Random) -> RaftNode:
        return RaftNode(RaftConfig(node_id, self.servers, **self._options), rng)

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        # the node reports its spec actions as `Action` effects (node.py): the event's own first,
        # then one AppendEntries(i, j) or InstallSnapshot(i, j) per request it sends
        return [
            Segment(None, FrozenDict(), part)
            if action is None
            else Segment(action.name, action.params, part)
            for action, part in split_actions(effects)
        ]

    def message_record(self, message: Any) -> Value:
        return message_record(message)

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, RaftNode]) -> None:
        self.history.observe(nodes[node_id], event)

    def abstract_state(
        self, nodes: Mapping[str, RaftNode], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        return abstract_state(nodes, messages, self.history, faults, self.budget)

    def abstract_state_since(
        self,
        nodes: Mapping[str, RaftNode],
        messages: FrozenDict,
        faults: Mapping[str, int],
        touched: Collection[str],
    ) -> FrozenDict:
        """`abstract_state`, when only the `touched` nodes stepped since the last mapping."""
        return abstract_state(nodes, messages, self.history, faults, self.budget, touched)

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        return fault_step(kind, subject)


def raft_cluster(
    servers: int | Sequence[str] = 3,
    *,
    seed: int = 0,
    faults: Faults | None = None,
    workload: Workload | None = None,
    latency: tuple[int, int] = (1, 10),
    skew: tuple[int, int] = (100, 100),
    record: bool = True,
    **options: Any,
) -> Simulator[RaftNode]:
    """A simulated Raft cluster: `servers` ids (or a count: s1..sN), `options` as RaftPlugin's (the
    node options of RaftConfig: election_timeout, heartbeat_interval, snapshot_interval,
    max_entries, bugs; and `budget`, the model bounds the refinement mapping counts down from)."""
    ids = [f"s{k}" for k in range(1, servers + 1)] if isinstance(servers, int) else list(servers)
    plugin = RaftPlugin(ids, **options)
    config = SimConfig(
        seed=seed,
        latency=latency,
        skew=skew,
        faults=faults if faults is not None else Faults(),
        workload=workload,
        record=record,
    )
    return Simulator(plugin, plugin.servers, config)
