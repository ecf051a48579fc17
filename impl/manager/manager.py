"""`Manager`: one entry point for operations of every type, routed by type across the three layers.

`submit(op_type, data)` looks the type up in the routing table (impl/manager/routing.py) and hands
the operation to its layer:

- critical -> a simulated PBFT cluster (impl/pbft: replicas r1..rN and the client c1), decided when
  the client accepted f+1 matching replies (Castro and Liskov, OSDI 1999, section 4.1: at least one
  of them from a correct replica, which executed it after a commit quorum of 2f+1). Whatever the
  threat level: the table does not read it.
- coordination -> the hybrid dispatcher (impl/hybrid's `HybridConsensus`): the operation is tagged
  with the client's epoch and decided by that epoch's protocol, Raft while the threat level is
  None, Low or Medium and BFT at High and Critical, so coordination escalates with the level. An
  operation whose epoch ended without it is answered "rejected" by the dispatcher; the manager
  proposes it again under its sequence number (the dispatcher applies a (client, seq) once), up
  to `retries` times, then answers "not decided".
- status -> the gossip layer: written at once by a gossip node, never waiting on consensus,
  answered "gossiped, not agreed".

A type the table does not have raises `UnknownOperationType` (an ImplError naming the type and the
known ones) before anything is routed: no layer sees it, and `refused` keeps it.

Each answer (`Answer`) names the layer, how it was decided (a BFT quorum, a Raft majority, gossiped
and not agreed) and where the layer holds it, so a check can find it there.

Deterministic: one seed draws each layer's seed, in a fixed order, and each layer is a seeded
simulation; the manager keeps one clock, the latest any layer reached, and brings a consensus layer
up to it before handing it an operation (a status write takes no time).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.gossip.node import IN
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.simulation import gossip_cluster
from meshcheck.impl.hybrid.consensus import Decision
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.manager import mutants
from meshcheck.impl.manager.routing import Answer
from meshcheck.impl.manager.routing import How
from meshcheck.impl.manager.routing import Layer
from meshcheck.impl.manager.routing import NoAnswer
from meshcheck.impl.manager.routing import OpType
from meshcheck.impl.manager.routing import hybrid_agreed
from meshcheck.impl.manager.routing import op_type
from meshcheck.impl.manager.routing import route
from meshcheck.impl.manager.routing import status_agreed
from meshcheck.impl.pbft.client import Client
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import request_name
from meshcheck.impl.pbft.simulation import Wrapper
from meshcheck.impl.pbft.simulation import pbft_cluster
from meshcheck.impl.rsm.ops import ApplyPolicy
from meshcheck.impl.rsm.ops import CreateCase
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import DeployOverlay
from meshcheck.impl.rsm.ops import Op
from meshcheck.impl.rsm.ops import UpdateCaseState
from meshcheck.impl.rsm.ops import freeze_json
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import Phases
from meshcheck.impl.sim.simulator import Simulator

CLIENT = "c1"  # the manager's client in the PBFT cluster and in the hybrid cluster

# PBFT timing for the manager's cluster (the free runs' of property_tests/pbft: a view change
# that executes nothing doubles its timeout, up to the cap)
PBFT_TIMING: dict[str, Any] = {
    "view_change_timeout": 150,
    "view_change_timeout_cap": 1200,
    "client_timeout": 300,
    "retransmit_every": 50,
}


def _status(op_id: int, value: Value) -> tuple[str, str]:
    """A status write's (key, value): a pair, or a record of one key; the value as text."""
    pair: tuple[Value, ...] | None = None
    if isinstance(value, tuple) and len(value) == 2:
        pair = value
    elif isinstance(value, FrozenDict) and len(value) == 1:
        pair = next(iter(value.items()))
    if pair is None or not isinstance(pair[0], str) or not isinstance(pair[1], str | int | bool):
        raise ImplError(
            f"op {op_id}: a status write is (key, value) or {{key: value}} with a text or number "
            f"value, not {value!r}"
        )
    return pair[0], str(pair[1])


@attrs.frozen
class Refused:
    """An operation of an unknown type, as it was submitted: kept, not lost."""

    id: int
    given: object
    data: Any  # as given
    time: int


def log_value(data: Op | Any) -> Value:
    """An operation's data as the layers take it: an impl/rsm operation as its log value; any
    other data as frozen JSON-like data."""
    if isinstance(data, CreateCase | UpdateCaseState | ApplyPolicy | DeployOverlay | Custom):
        return to_value(data)
    if isinstance(data, FrozenDict):
        return data
    return freeze_json(data, "data")


class Manager:
    """Routes each operation by its type: critical to PBFT, coordination to the hybrid dispatcher,
    status to gossip (see the module doc)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        pbft_n: int = 4,
        hybrid_n: int = 4,
        faults: Faults | Phases | None = None,
        bugs: frozenset[str] = frozenset(),
        pbft_bugs: frozenset[str] = frozenset(),
        hybrid_bugs: frozenset[str] = frozenset(),
        gossip_bugs: frozenset[str] = frozenset(),
        gossip_n: int = 5,
        pbft_byzantine: Mapping[str, Wrapper] | None = None,
        give_up_after: int = 20_000,
        retries: int = 4,
        record: bool = False,
    ) -> None:
        unknown = sorted(set(bugs) - set(mutants.BUGS))
        if unknown:
            raise ImplError(
                f"no manager mutant {', '.join(unknown)} (mutants: {', '.join(mutants.BUGS)})"
            )
        self.bugs = frozenset(bugs)
        draw = random.Random(seed)
        self.seeds = {layer: draw.getrandbits(32) for layer in Layer}  # in a fixed order
        self.seed = seed
        self.pbft: Simulator[Any] = pbft_cluster(
            pbft_n,
            seed=self.seeds[Layer.PBFT],
            faults=faults,
            clients=(CLIENT,),
            byzantine=pbft_byzantine,
            bugs=pbft_bugs,
            record=record,
            **PBFT_TIMING,
        )
        self.pbft_f = (pbft_n - 1) // 3
        self.hybrid = HybridConsensus(
            hybrid_n,
            seed=self.seeds[Layer.HYBRID],
            client=CLIENT,
            faults=faults,
            bugs=hybrid_bugs,
            record=record,
            give_up_after=give_up_after,
        )
        self.gossip: Simulator[GossipNode] = gossip_cluster(
            gossip_n,
            seed=self.seeds[Layer.GOSSIP],
            faults=faults,
            bugs=gossip_bugs,
            record=record,
        )
        self._gossip_requests = 0
        self._pbft_requests: dict[int, Value] = {}  # the PBFT client's timestamp -> request name
        self._first_down = False  # the mutant status_node_down_kept's memory
        self.give_up_after = give_up_after
        self.retries = retries
        self.now = 0
        self.answers: list[Answer] = []
        self.refused: list[Refused] = []
        # operations a layer has not answered within the bound: (id, type, layer, where)
        self.pending: list[tuple[int, OpType, Layer, tuple[Value, ...]]] = []
        self.submitted: dict[int, tuple[OpType, Value]] = {}
        # what the manager did, as Routing.tla's actions (name, parameters), in order
        self.steps: list[tuple[str, FrozenDict]] = []
        self._level = "None"
        self._ids = 0

    # -- the entry point ----------------------------------------------------------------------------

    def submit(self, given: OpType | str, data: Op | Value) -> Answer:
        """Route the operation by its type and return the layer's answer. UnknownOperationType for a
        type the routing table does not have (nothing is routed); NoAnswer when its layer did not
        answer within `give_up_after` ticks (the layer still holds it: `pending`)."""
        self._ids += 1
        op_id = self._ids
        try:
            kind = op_type(given, self.bugs)
        except ImplError:
            self.refused.append(Refused(op_id, given, data, self.now))
            self._step("Submit", o=op_id, t="unknown")
            self._step("Refuse", o=op_id)
            raise
        value = log_value(data)
        self.submitted[op_id] = (kind, value)
        level = self.hybrid.threat_level()
        if level != self._level:
            self._level = level
            self._step("LevelChange", l=level)
        self._step("Submit", o=op_id, t=kind.value)
        layer = route(kind, level, self.bugs)
        self._step("Route", o=op_id)
        if layer is Layer.PBFT:
            answer = self._pbft(op_id, kind, value, level)
        elif layer is Layer.HYBRID:
            answer = self._hybrid(op_id, kind, value, level)
        else:
            answer = self._gossip(op_id, kind, value, level)
        self.answers.append(answer)
        decided = {How.BFT_QUORUM: "DecideBFT", How.RAFT_MAJORITY: "DecideRaft"}
        self._step(
            decided.get(answer.how, "GossipWrite" if answer.how is How.GOSSIPED else "Reject"),
            o=op_id,
        )
        return answer

    def _step(self, name: str, **params: Value) -> None:
        self.steps.append((name, FrozenDict(params)))

    # -- the layers -----------------------------------------------------------------------------------

    def _catch_up(self, sim: Simulator[Any]) -> None:
        if sim.now < self.now:
            sim.run(until=self.now)

    def _pbft(self, op_id: int, kind: OpType, value: Value, level: str) -> Answer:
        sim = self.pbft
        self._catch_up(sim)
        client = sim.nodes[CLIENT]
        assert isinstance(client, Client)
        start = len(sim.replies)
        sim.inject(CLIENT, ClientRequest(value))
        timestamp = client.timestamp
        self._pbft_requests[timestamp] = request_name(Request(CLIENT, timestamp, value))
        where: tuple[Value, ...] = (CLIENT, timestamp)

        def answered(s: Simulator[Any]) -> bool:
            return self._pbft_reply(s, start, timestamp) is not None

        sim.run(until=sim.now + self.give_up_after, stop=answered)
        self.now = max(self.now, sim.now)
        reply = self._pbft_reply(sim, start, timestamp)
        if reply is None:
            self.pending.append((op_id, kind, Layer.PBFT, where))
            raise NoAnswer(f"op {op_id}: PBFT gave no answer in {self.give_up_after} ticks")
        # the request the reply answers, and the sequence number the client accepted it at
        answered_ts = reply.request_id
        name = self._pbft_requests[answered_ts]
        seq = next(n for n, r in reversed(client.accepted) if r == name)
        return Answer(
            op_id,
            kind,
            Layer.PBFT,
            How.BFT_QUORUM,
            True,
            reply.result,
            level=level,
            time=self.now,
            detail=f"sequence number {seq}, {self.pbft_f + 1} matching replies",
            where=(CLIENT, answered_ts, seq),
        )

    def _pbft_reply(self, sim: Simulator[Any], start: int, timestamp: int) -> Reply | None:
        """The reply the PBFT client accepted, since the `start`-th, to its request `timestamp`.
        Not merely the first it accepted: a request that had no answer within the bound (NoAnswer)
        is still the client's, which keeps sending it, and its reply may come while a later
        operation waits (property_tests/routing/answers.py holds every answer to its operation)."""
        for node, reply in sim.replies[start:]:
            if node == CLIENT and (
                reply.request_id == timestamp or mutants.REPLY_OF_ANOTHER_REQUEST in self.bugs
            ):
                return reply
        return None

    def _hybrid(self, op_id: int, kind: OpType, value: Value, level: str) -> Answer:
        hc = self.hybrid
        self._catch_up(hc.sim)
        seq: int | None = None
        decision: Decision | None = None
        for _attempt in range(self.retries + 1):
            try:
                decision = hc.propose(value, seq=seq)
            except ImplError:
                self.now = max(self.now, hc.sim.now)
                _client, last, _epoch = hc.proposals[max(hc.proposals)]
                where = (CLIENT, last)
                self.pending.append((op_id, kind, Layer.HYBRID, where))
                raise NoAnswer(
                    f"op {op_id}: the hybrid dispatcher gave no answer in {hc.give_up_after} ticks"
                ) from None
            self.now = max(self.now, hc.sim.now)
            seq = decision.seq
            if hybrid_agreed(decision.status, self.bugs):
                break
        assert decision is not None
        agreed = hybrid_agreed(decision.status, self.bugs)
        if not agreed:
            return Answer(
                op_id,
                kind,
                Layer.HYBRID,
                How.NOT_DECIDED,
                False,
                None,
                level=level,
                time=self.now,
                detail=f"rejected {self.retries + 1} times: {decision.reason}",
                where=(decision.client, decision.seq, decision.tag),
            )
        epoch = decision.epoch if decision.epoch is not None else decision.tag
        protocol = self.epoch_protocol(epoch)
        how = How.BFT_QUORUM if protocol == BFT else How.RAFT_MAJORITY
        return Answer(
            op_id,
            kind,
            Layer.HYBRID,
            how,
            True,
            decision.result,
            level=level,
            time=self.now,
            detail=f"epoch {epoch} ({protocol}), position {decision.position}",
            where=(decision.client, decision.seq, epoch),
        )

    def epoch_protocol(self, epoch: int) -> str:
        """The protocol of the hybrid dispatcher's epoch `epoch`, as the honest nodes that entered
        it recorded it (they agree: Hybrid.tla's AgreedProtocolPerEpoch)."""
        for node in self.hybrid.honest:
            protocol = self.hybrid.nodes[node].protocols.get(epoch)
            if protocol is not None:
                return protocol
        return "?"

    def _gossip(self, op_id: int, kind: OpType, value: Value, level: str) -> Answer:
        """A status write: a gossip node in the cluster takes it at once (Update(i, k, v): one
        version above what it holds for the key) and spreads it in its rounds. Nothing waits on
        consensus: the consensus layers are not run, and the answer is "gossiped, not agreed"."""
        key, text = _status(op_id, value)
        sim = self.gossip
        self._catch_up(sim)  # the gossip layer's own rounds up to the manager's clock
        if mutants.STATUS_NODE_DOWN_KEPT in self.bugs:
            first = sim.node_ids[0]
            self._first_down = self._first_down or not sim.up[first]
            if self._first_down:
                raise NoAnswer(f"op {op_id}: gossip node {first} is down")
        node = next(
            (i for i in sim.node_ids if sim.up[i] and sim.nodes[i].status == IN),
            None,
        )
        if node is None:
            raise NoAnswer(f"op {op_id}: no gossip node is up to take the status write")
        self._gossip_requests += 1
        rid = self._gossip_requests
        start = len(sim.replies)
        sim.inject(node, ClientRequest((key, text), rid))
        reply = next((r for i, r in sim.replies[start:] if i == node and r.request_id == rid), None)
        if reply is None:  # the node crashed while it took the write (a fault armed before)
            self.pending.append((op_id, kind, Layer.GOSSIP, (node, key)))
            raise NoAnswer(f"op {op_id}: gossip node {node} crashed before it answered")
        if reply.error:
            raise ImplError(f"op {op_id}: gossip node {node}: {reply.error}")
        entry = sim.nodes[node].own[key]
        return Answer(
            op_id,
            kind,
            Layer.GOSSIP,
            How.GOSSIPED,
            status_agreed(self.bugs),  # agreed: never, but for the mutant
            text,
            level=level,
            time=self.now,
            detail=f"written at {node}, version {entry.version}",
            where=(node, key, entry.version),
        )

    # -- reading -----------------------------------------------------------------------------------

    def threat_level(self) -> str:
        return self.hybrid.threat_level()

    def metrics(self) -> dict[str, Any]:
        agreed = sum(1 for a in self.answers if a.agreed)
        by_layer: dict[str, int] = {}
        for a in self.answers:
            by_layer[a.layer.value] = by_layer.get(a.layer.value, 0) + 1
        return {
            "submitted": len(self.submitted),
            "answered": len(self.answers),
            "agreed": agreed,
            "refused": len(self.refused),
            "pending": len(self.pending),
            "by_layer": by_layer,
            "threat_level": self.threat_level(),
            "time": self.now,
        }
