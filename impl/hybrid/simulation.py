"""The hybrid layer in the simulator: the plugin and a cluster builder (like raft_cluster and
pbft_cluster), so free runs get every fault the simulator has.

The trace is coarse for now: one spec step per processed event (`Step(i)`), the refinement mapping
(refinement.py) after it. Splitting a step into the spec's actions (Apply, Switch, Order...) waits
for Hybrid.tla's final vocabulary.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from impl.sim.config import Faults, SimConfig
from impl.sim.effects import Effect, Reply
from impl.sim.events import ClientRequest
from impl.sim.protocol import Segment
from impl.sim.simulator import Simulator
from traces.values import FrozenDict, Value

from .config import HybridConfig
from .entries import ClientOp, Keys
from .machine import COMMITTED
from .node import HybridNode
from .proofs import EvidenceChecker
from .refinement import VARIABLES, Ghost, abstract_state


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
        self.ghost = Ghost()
        self.nodes: dict[str, HybridNode] = {}
        self._requests: dict[int, tuple[str, int]] = {}  # request id -> op key

    def new_node(self, node_id: str, rng: random.Random) -> HybridNode:
        old = self.nodes.get(node_id)
        node = HybridNode(
            HybridConfig(node_id, self.node_ids, **self.options), self.keys, self.checker, rng
        )
        if old is not None:  # a restart keeps what the test made of the node (Byzantine or not)
            node.behaviours, node.pbft_wrapper = old.behaviours, old.pbft_wrapper
            node.tainted = old.tainted
        self.nodes[node_id] = node
        return node

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        if isinstance(event, ClientRequest) and isinstance(event.value, ClientOp):
            node = self.nodes[node_id]
            self._requests[event.request_id] = event.value.key
            self.ghost.submit(event.value.key, node.epoch)
        for e in effects:
            if isinstance(e, Reply) and e.request_id in self._requests:
                status = e.result.get("status") if isinstance(e.result, Mapping) else None
                key = self._requests[e.request_id]
                self.ghost.decide(key, "committed" if status == COMMITTED else "rejected")
        return [Segment("Step", FrozenDict({"i": node_id}), tuple(effects))]

    def message_record(self, message: Any) -> Value:
        return type(getattr(message, "body", message)).__name__

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, HybridNode]) -> None:
        return None

    def abstract_state(
        self, nodes: Mapping[str, HybridNode], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        return abstract_state(nodes, self.honest, self.ghost)

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        if kind == "restart":
            return "Restart", FrozenDict({"i": subject})
        return {"drop": "DropMessage", "duplicate": "DuplicateMessage"}[kind], FrozenDict()


def hybrid_cluster(
    n: int = 4,
    *,
    seed: int = 0,
    clients: Sequence[str] = ("c1",),
    faults: Faults | None = None,
    latency: tuple[int, int] = (1, 10),
    skew: tuple[int, int] = (100, 100),
    record: bool = False,
    **options: Any,
) -> Simulator[HybridNode]:
    """A simulated hybrid cluster of nodes n1..nn; `options` are HybridConfig's. At most f nodes are
    down at once unless `faults.max_down` says otherwise (a BFT epoch needs 2f + 1 up)."""
    ids = [f"n{k}" for k in range(1, n + 1)]
    plugin = HybridPlugin(ids, clients, seed=seed, **options)
    faults = faults if faults is not None else Faults()
    if faults.max_down is None:
        faults = attrs.evolve(faults, max_down=(n - 1) // 3)
    config = SimConfig(seed=seed, latency=latency, skew=skew, faults=faults, record=record)
    return Simulator(plugin, ids, config)
