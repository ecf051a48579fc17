"""PBFT in the simulator: the plugin that names each step in the spec's vocabulary, and a group
builder.

The nodes are the replicas r1..rN and the client (c1), a node like the others: its requests come
from a workload and the replies go to it. Each core returns the spec actions a step was as `Action`
effects, each before its own effects (actions.py); `PbftPlugin.split` cuts the effects there and
notes what each action sent, which `after_step` adds to the spec's msgs. A step without an action
(a stored message, a status exchange, a retransmission, a Byzantine replica's step) is a stutter.
Network faults and crashes are stutters too: msgs is what was sent, and a replica persists what it
vouched for before it sends.

Byzantine replicas: `byzantine` maps a replica id to a factory that wraps the honest core built for
it (and may use its keys to sign whatever it likes in its own name); a wrapper with an `rng`
attribute gets the node's seeded generator, so that its choices are the run's seed's too. Their
state is not mapped and their messages are not in msgs; the spec has them as ByzMsgs.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import split_actions
from meshcheck.impl.base.node import Node
from meshcheck.impl.base.node import Workload
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft.client import Client
from meshcheck.impl.pbft.client import ClientConfig
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.refinement import VARIABLES
from meshcheck.impl.pbft.refinement import History
from meshcheck.impl.pbft.refinement import abstract_state
from meshcheck.impl.pbft.refinement import message_record
from meshcheck.impl.pbft.refinement import sent_records
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import Phases
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.groups import f_down_at_most
from meshcheck.impl.sim.groups import fault_step
from meshcheck.impl.sim.groups import honest_replicas
from meshcheck.impl.sim.protocol import Segment
from meshcheck.impl.sim.simulator import Simulator

Wrapper = Callable[[Replica], Node]


class PbftPlugin:
    """The PBFT side of `Simulator`: one per simulation (it keeps the run's history)."""

    name = "pbft"
    variables = VARIABLES

    def __init__(
        self,
        replicas: Sequence[str],
        clients: Sequence[str] = ("c1",),
        *,
        seed: int = 0,
        byzantine: Mapping[str, Wrapper] | None = None,
        workload: Workload | None = None,
        client_timeout: int = 600,
        max_outstanding: int | None = None,
        **options: Any,
    ) -> None:
        self.replicas = tuple(replicas)
        self.clients = tuple(clients)
        self.byzantine = dict(byzantine or {})
        self.honest = honest_replicas(self.replicas, self.byzantine)
        self.keys = KeyRing(seed, (*self.replicas, *self.clients))
        self._options = options
        for replica in self.replicas:  # bad options fail here, once, not at the first restart
            self._config(replica)
        self._client_configs = {
            c: ClientConfig(
                c,
                self.replicas,
                workload=workload if c == self.clients[0] else None,
                timeout=client_timeout,
                max_outstanding=max_outstanding,
                bugs=frozenset(options.get("bugs", ())),
            )
            for c in self.clients
        }
        self.history = History()
        self.nodes: dict[str, Any] = {}  # the object the simulator runs for each id now
        # called after every step with (node, event, nodes): a free run's oracles look there
        self.watchers: list[Callable[[str, Any, Mapping[str, Any]], None]] = []
        self._sent: dict[str, deque[tuple[Value, ...]]] = {}

    def _config(self, replica: str) -> PbftConfig:
        return PbftConfig(replica, self.replicas, self.clients, **self._options)

    def new_node(self, node_id: str, rng: random.Random) -> Any:
        node: Any
        if node_id in self._client_configs:
            node = Client(self._client_configs[node_id], self.keys)
        else:
            node = Replica(self._config(node_id), self.keys)
            if node_id in self.byzantine:
                node = self.byzantine[node_id](node)
                if hasattr(node, "rng"):  # the node's seeded generator: a run is its seed's
                    node.rng = rng
        self.nodes[node_id] = node
        return node

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        # the cores report their spec actions as `Action` effects (actions.py); a Byzantine
        # replica's steps are not the spec's
        honest = node_id not in self.byzantine
        segments = []
        for action, part in split_actions(effects):
            if action is None or not honest:
                segments.append(Segment(None, FrozenDict(), part))
                continue
            records = tuple(
                r for e in part if isinstance(e, Send) for r in sent_records(e.message, node_id)
            )
            self._sent.setdefault(node_id, deque()).append(records)
            segments.append(Segment(action.name, action.params, part))
        if all(s.action is None for s in segments):
            self._sent.setdefault(node_id, deque()).append(())
            return [Segment(None, FrozenDict(), tuple(e for s in segments for e in s.effects))]
        return segments

    def message_record(self, message: Any) -> Value:
        return message_record(message)

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, Any]) -> None:
        queue = self._sent.get(node_id)
        if queue:
            self.history.add(queue.popleft())
        for watch in self.watchers:
            watch(node_id, event, nodes)

    def abstract_state(
        self, nodes: Mapping[str, Any], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        client = self.clients[0] if self.clients else None
        return abstract_state(nodes, self.replicas, self.honest, client, self.history)

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        return fault_step(kind, subject)


def pbft_cluster(
    n: int = 4,
    *,
    seed: int = 0,
    faults: Faults | Phases | None = None,
    workload: Workload | None = None,
    bugs: frozenset[str] = frozenset(),
    batch_size: int = 1,
    byzantine: Mapping[str, Wrapper] | None = None,
    clients: Sequence[str] = ("c1",),
    crash_client: bool = False,
    latency: tuple[int, int] = (1, 10),
    skew: tuple[int, int] = (100, 100),
    record: bool = True,
    **options: Any,
) -> Simulator[Any]:
    """A simulated PBFT group: replicas r1..rn and the client(s). `options` are PbftConfig's
    (batch_delay, checkpoint_every, window, view_change_timeout, ...) and the client's
    (client_timeout, max_outstanding). Chaos crashes spare the client unless `crash_client`, and at
    most f replicas are down at once unless `faults.max_down` says otherwise."""
    replicas = [f"r{k}" for k in range(1, n + 1)]
    plugin = PbftPlugin(
        replicas,
        clients,
        seed=seed,
        byzantine=byzantine,
        workload=workload,
        bugs=frozenset(bugs),
        batch_size=batch_size,
        **options,
    )
    faults = f_down_at_most(faults, n, spare=() if crash_client else clients)
    config = SimConfig(
        seed=seed, latency=latency, skew=skew, faults=faults, workload=None, record=record
    )
    return Simulator(plugin, (*replicas, *clients), config)
