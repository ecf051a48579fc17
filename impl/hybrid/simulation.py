"""The hybrid layer in the simulator: the plugin and a cluster builder (like raft_cluster and
pbft_cluster), so free runs get every fault the simulator has.

The trace is in Hybrid.tla's vocabulary: one processed event may be several spec steps (a node
that learns of three committed entries applies them at once, the first node to apply an entry also
makes the chain grow, a switch follows the switch entry, the client hears back), so `split` names
each (refinement.spec_steps: Order..., Apply(i), Switch(i), Submit(o), Reply(o), Reject(o)) and
the plugin hands the simulator the state after each in turn (the simulator asks for the abstract
state once per segment; the last is the mapping of the cluster after the event). The effects all
go with the first segment. A change the steps cannot explain is one step named "Step", which no
spec has: trace validation (property_tests/hybrid/validation.py) reports it.

`watchers` are called after every step (a free run's monitor checks the invariants there).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.base.effects import Effect, Reply
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import ClientOp, Keys
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.hybrid.refinement import VARIABLES, Ghost, abstract_state, spec_steps
from meshcheck.impl.sim.config import Faults, SimConfig
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
        node = self.nodes[node_id]
        self.ghost.catch_up(self._current())
        if isinstance(event, ClientRequest) and isinstance(event.value, ClientOp):
            op = event.value
            self._requests[event.request_id] = (op.key, op.epoch)
            if node.started and self.keys.op_ok(op):
                self.ghost.submit(op.key, op.epoch, self._current())  # the client's tag
        for e in effects:
            if isinstance(e, Reply) and e.request_id in self._requests and node_id in self.honest:
                status = e.result.get("status") if isinstance(e.result, Mapping) else None
                key, tag = self._requests[e.request_id]
                outcome = "committed" if status == COMMITTED else "rejected"
                self.ghost.decide(key, outcome, node_id, tag)
        before = self._last
        after = abstract_state(self.nodes, self.honest, self.ghost)
        steps = spec_steps(before, after, self.ghost) if before is not None else []
        if not steps:
            return [Segment(None, FrozenDict(), tuple(effects))]
        # the simulator asks for the abstract state after each segment: the states in between
        self._pending = [state for _, _, state in steps]
        return [
            Segment(action, params, tuple(effects) if k == 0 else ())
            for k, (action, params, _) in enumerate(steps)
        ]

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
