"""The hybrid layer in the simulator: the plugin and a cluster builder (like raft_cluster and
pbft_cluster), so free runs get every fault the simulator has.

The trace is in Hybrid.tla's vocabulary, as the nodes report it: a node returns each spec action
it takes as an `Action` effect where it takes it (impl/hybrid/node.py: Order... and Apply(i) for
each entry the spec sees as its machine applies it, Switch(i) where it enters the next epoch,
Submit(o) where it takes a client's op, Reply(o) and Reject(o) where it answers), and `split` cuts
the event's effects there. The refinement mapping only checks the reports
(refinement.reported_steps): a report is a spec step when it changes what the spec sees (the first
honest node to apply an entry orders it), none when the spec's state already holds it, and a step
named UNEXPLAINED (no spec has it; trace validation fails on it) when the reports and the mapped
state disagree. The plugin hands the simulator the state after each segment in turn.

`watchers` are called after every step (a free run's monitor checks the invariants there).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base import quorum
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import split_actions
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.machine import op_name
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.hybrid.refinement import VARIABLES
from meshcheck.impl.hybrid.refinement import Ghost
from meshcheck.impl.hybrid.refinement import abstract_state
from meshcheck.impl.hybrid.refinement import reported_steps
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import Phases
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.groups import f_down_at_most
from meshcheck.impl.sim.groups import fault_step
from meshcheck.impl.sim.protocol import Segment
from meshcheck.impl.sim.simulator import Simulator


class HybridPlugin:
    """The hybrid side of `Simulator`: one per simulation (it keeps the run's ghost history)."""

    name = "hybrid"
    variables: tuple[str, ...] = VARIABLES

    def __init__(
        self,
        nodes: Sequence[str],
        clients: Sequence[str] = ("c1",),
        *,
        seed: int = 0,
        **options: Any,
    ) -> None:
        self.node_ids = tuple(nodes)
        self.keys = Keys(seed, self.node_ids, tuple(clients))
        self.checker = EvidenceChecker(self.keys)
        self.options = options
        for node in self.node_ids:  # bad options fail here, once
            HybridConfig(node, self.node_ids, **options)
        self.honest: set[str] = set(self.node_ids)
        self.ghost = Ghost(self.keys, self.checker, quorum.max_faulty(len(self.node_ids)))
        self.nodes: dict[str, HybridNode] = {}
        # called after every step (a free run's monitor checks the invariants there)
        self.watchers: list[Callable[[str, Any, Mapping[str, HybridNode]], None]] = []
        self._requests: dict[int, tuple[tuple[str, int], int]] = {}  # request id -> (op key, tag)
        self._last: FrozenDict | None = None  # the mapping the trace last recorded
        self._pending: list[FrozenDict] = []  # states of the spec steps split() found
        self._ordered: dict[tuple[str, int], int] = {}  # (node, epoch) -> Order reports so far

    def new_node(self, node_id: str, rng: random.Random) -> HybridNode:
        old = self.nodes.get(node_id)
        node = HybridNode(
            HybridConfig(node_id, self.node_ids, **self.options), self.keys, self.checker, rng
        )
        for held in [k for k in self._ordered if k[0] == node_id]:
            del self._ordered[held]  # a restarted node applies its epochs again from their start
        if old is not None:  # a restart keeps what the test made of the node (Byzantine or not)
            node.behaviours, node.pbft_wrapper = old.behaviours, old.pbft_wrapper
            node.hotstuff_wrapper = old.hotstuff_wrapper
            node.memory = old.memory
            node.tainted = old.tainted
        self.nodes[node_id] = node
        return node

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        self.ghost.catch_up(self._current())
        segments = split_actions(effects)
        request = event if isinstance(event, ClientRequest) else None
        if request is not None and isinstance(request.value, ClientOp):
            self._requests[request.request_id] = (request.value.key, request.value.epoch)
        # what the reports tell the ghost (the client's side of the mapping): a proposal, answers
        for action, part in segments:
            if action is None:
                continue
            if action.name == "Submit" and request is not None:
                op = request.value
                if isinstance(op, ClientOp) and action.params.get("o") == op_name(op.key):
                    self.ghost.submit(op.key, op.epoch, self._current())  # the client's tag
            elif action.name in ("Reply", "Reject") and node_id in self.honest:
                for e in part:
                    if isinstance(e, Reply) and e.request_id in self._requests:
                        key, tag = self._requests[e.request_id]
                        outcome = "committed" if action.name == "Reply" else "rejected"
                        self.ghost.decide(key, outcome, node_id, tag)
        before = self._last
        after = abstract_state(self.nodes, self.honest, self.ghost)
        if before is None:
            return [Segment(None, FrozenDict(), tuple(effects))]
        steps = reported_steps(
            before, after, self.ghost, node_id, node_id in self.honest, segments, self._ordered
        )
        # the simulator asks for the abstract state after each segment: the states in between
        self._pending = [state for _, _, _, state in steps]
        return [Segment(name, params, part) for name, params, part, _ in steps]

    def _current(self) -> int:
        """The highest epoch an honest node is in (Hybrid.tla's Current)."""
        return max((self.nodes[i].epoch for i in self.honest if i in self.nodes), default=1)

    def message_record(self, message: Any) -> Value:
        return type(getattr(message, "body", message)).__name__

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, HybridNode]) -> None:
        for watch in self.watchers:
            watch(node_id, event, nodes)

    def abstract_state(
        self, nodes: Mapping[str, HybridNode], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        if self._pending:
            self._last = self._pending.pop(0)
        else:
            self._last = abstract_state(nodes, self.honest, self.ghost)
        return self._last

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        return fault_step(kind, subject, names_message=False)


def hybrid_cluster(
    n: int = 4,
    *,
    seed: int = 0,
    clients: Sequence[str] = ("c1",),
    faults: Faults | Phases | None = None,
    latency: tuple[int, int] = (1, 10),
    skew: tuple[int, int] = (100, 100),
    record: bool = False,
    **options: Any,
) -> Simulator[HybridNode]:
    """A simulated hybrid cluster of nodes n1..nn; `options` are HybridConfig's. At most f nodes are
    down at once unless `faults.max_down` says otherwise (a BFT epoch needs 2f + 1 up)."""
    ids = [f"n{k}" for k in range(1, n + 1)]
    plugin = HybridPlugin(ids, clients, seed=seed, **options)
    faults = f_down_at_most(faults, n)
    config = SimConfig(seed=seed, latency=latency, skew=skew, faults=faults, record=record)
    return Simulator(plugin, ids, config)
