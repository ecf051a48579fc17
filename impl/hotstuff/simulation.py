"""HotStuff in the simulator: the plug-in that names each step in specs/HotStuff.tla's vocabulary,
and a cluster builder.

The nodes are the replicas r1..rN and the client c1. Each replica returns the spec actions a step
was as `Action` effects, each before its own effects; `HotStuffPlugin.split` cuts the effects
there, turns a block's hash in the parameters into the spec's chain, and notes what each action
sent and the replica's spec state after it (`Replica.snapshots`), which `after_step` hands to the
refinement mapping. A step without an action (a request, a block fetch, a stored vote, a Byzantine
replica's step, a crash, a lost or duplicated message) is a stutter: the network is free in the
spec, and a replica persists its spec state before it sends.

Byzantine replicas: `byzantine` maps a replica id to its behaviours (impl/hotstuff/byzantine.py;
the lies to clients of impl/hotstuff/replies.py among them).
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
from meshcheck.impl.base.node import Workload
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hotstuff.byzantine import ByzantineReplica
from meshcheck.impl.hotstuff.client import Client
from meshcheck.impl.hotstuff.client import ClientConfig
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.refinement import VARIABLES
from meshcheck.impl.hotstuff.refinement import Chains
from meshcheck.impl.hotstuff.refinement import History
from meshcheck.impl.hotstuff.refinement import abstract_state
from meshcheck.impl.hotstuff.refinement import message_record
from meshcheck.impl.hotstuff.refinement import sent_records
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.impl.hotstuff.replica import Snapshot
from meshcheck.impl.hotstuff.replies import REPLY_BEHAVIOURS
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import Phases
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.groups import f_down_at_most
from meshcheck.impl.sim.groups import fault_step
from meshcheck.impl.sim.groups import honest_replicas
from meshcheck.impl.sim.protocol import Segment
from meshcheck.impl.sim.simulator import Simulator

Observer = Callable[[Replica, Any, list[Effect]], None]


class HotStuffPlugin:
    """The HotStuff side of `Simulator`: one per simulation (it keeps the run's history)."""

    name = "hotstuff"
    variables = VARIABLES

    def __init__(
        self,
        replicas: Sequence[str],
        clients: Sequence[str] = ("c1",),
        *,
        seed: int = 0,
        byzantine: Mapping[str, Sequence[str]] | None = None,
        workload: Workload | None = None,
        client_timeout: int = 600,
        **options: Any,
    ) -> None:
        self.replicas = tuple(replicas)
        self.clients = tuple(clients)
        self.byzantine = {r: frozenset(b) for r, b in (byzantine or {}).items()}
        self.honest = honest_replicas(self.replicas, self.byzantine)
        self.keys = KeyRing(seed, (*self.replicas, *self.clients))
        self._options = options
        for replica in self.replicas:  # bad options fail here, once
            self._config(replica)
        self._client_configs = {
            c: ClientConfig(
                c,
                self.replicas,
                workload=workload if c == self.clients[0] else None,
                timeout=client_timeout,
                bugs=frozenset(options.get("bugs", ())),
            )
            for c in self.clients
        }
        self.history = History()
        self.chains = Chains(self.lookup)
        self.nodes: dict[str, Any] = {}
        # given every honest replica's step and effects, once the step took effect
        self.observers: list[Observer] = []
        self._stash: dict[str, tuple[Replica, Any, list[Effect]]] = {}
        self._made: dict[str, list[Block]] = {}  # a Byzantine replica's made-up blocks
        self.snapshots: dict[str, Snapshot] = {}
        self._queued: dict[str, deque[tuple[tuple[Value, ...], Snapshot | None]]] = {}

    def _config(self, replica: str) -> HotStuffConfig:
        return HotStuffConfig(replica, self.replicas, self.clients, **self._options)

    def replica(self, node_id: str) -> Replica:
        node = self.nodes[node_id]
        return node.inner if isinstance(node, ByzantineReplica) else node

    def lookup(self, h: bytes) -> Block:
        for node_id in self.replicas:
            if node_id in self.nodes:
                block = self.replica(node_id).blocks.get(h)
                if block is not None:
                    return block
        raise KeyError(f"no replica holds block {h[:4].hex()}")

    def new_node(self, node_id: str, rng: random.Random) -> Any:
        node: Any
        if node_id in self._client_configs:
            node = Client(self._client_configs[node_id], self.keys)
        else:
            replica = Replica(self._config(node_id), self.keys)
            if node_id in self.byzantine:
                made = self._made.setdefault(node_id, [])
                behaviours = self.byzantine[node_id]
                # a generator of its own from the run's, for behaviours that draw (fuzzing, the
                # lies to clients); none drawn for the others, whose runs stay as they were
                draws = "fuzz" in behaviours or bool(behaviours & REPLY_BEHAVIOURS.keys())
                own_rng = random.Random(rng.getrandbits(64)) if draws else None
                node = ByzantineReplica(replica, behaviours, made, own_rng)
            else:
                replica.observers = [self._observe]
                node = replica
        self.nodes[node_id] = node
        return node

    def _observe(self, replica: Replica, event: Any, effects: list[Effect]) -> None:
        # kept until the simulator says the step took effect (`after_step`): a step the node
        # crashes in before its Persist never happened, and the restart's step replaces it
        self._stash[replica.id] = (replica, event, effects)

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        honest = node_id in self.honest
        segments = []
        snapshots = self.nodes[node_id].snapshots if honest else []
        k = 0
        queue = self._queued.setdefault(node_id, deque())
        for action, part in split_actions(effects):
            if action is None or not honest:
                queue.append(((), None))  # after_step is called for this segment too
                segments.append(Segment(None, FrozenDict(), part))
                continue
            records = tuple(
                r
                for e in part
                if isinstance(e, Send)
                for r in sent_records(e.message, node_id, self.chains)
            )
            queue.append((records, snapshots[k]))
            k += 1
            params = dict(action.params)
            if "b" in params:
                params["b"] = self.chains.chain(params["b"])
            segments.append(Segment(action.name, FrozenDict(params), part))
        if all(s.action is None for s in segments):
            for _ in segments:
                queue.pop()
            queue.append(((), None))
            return [Segment(None, FrozenDict(), tuple(e for s in segments for e in s.effects))]
        return segments

    def message_record(self, message: Any) -> Value:
        return message_record(message)

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, Any]) -> None:
        """Called per segment of a recorded step (once per step when not recording, and after a
        crash's restart): the records and the state after the segment's action, if it has one."""
        stashed = self._stash.pop(node_id, None)
        if stashed is not None:  # the step took effect: the monitors may look at it
            for observe in self.observers:
                observe(*stashed)
        queue = self._queued.get(node_id)
        if queue:
            records, snapshot = queue.popleft()
            self.history.add(records)
            if snapshot is not None:
                self.snapshots[node_id] = snapshot

    def abstract_state(
        self, nodes: Mapping[str, Any], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        return abstract_state(self.snapshots, self.replicas, self.honest, self.history, self.chains)

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        return fault_step(kind, subject, drop="LoseMessage")


def hotstuff_cluster(
    n: int = 4,
    *,
    seed: int = 0,
    faults: Faults | Phases | None = None,
    workload: Workload | None = None,
    bugs: frozenset[str] = frozenset(),
    byzantine: Mapping[str, Sequence[str]] | None = None,
    clients: Sequence[str] = ("c1",),
    latency: tuple[int, int] = (1, 10),
    record: bool = True,
    client_timeout: int = 600,
    **options: Any,
) -> Simulator[Any]:
    """A simulated HotStuff group: replicas r1..rn and the client(s). `options` are
    HotStuffConfig's (batch_size, timeout, max_backoff). Chaos crashes spare the clients, and at
    most f replicas are down at once unless `faults.max_down` says otherwise."""
    replicas = [f"r{k}" for k in range(1, n + 1)]
    plugin = HotStuffPlugin(
        replicas,
        clients,
        seed=seed,
        byzantine=byzantine,
        workload=workload,
        client_timeout=client_timeout,
        bugs=frozenset(bugs),
        **options,
    )
    faults = f_down_at_most(faults, n, spare=clients)
    config = SimConfig(seed=seed, latency=latency, faults=faults, workload=None, record=record)
    return Simulator(plugin, (*replicas, *clients), config)
