"""`HybridConsensus`: the issue's facade over a simulated hybrid cluster.

`propose(op)` signs the op as the client, tagged with the epoch the client believes current (`epoch`:
1 at first, then what the answers taught it), hands it to every node that is up (but those the
network cuts the client off from, `sim.cut(client, node)`: the request is lost), and runs the
simulator until f + 1 nodes gave the same answer (at least one of them honest, as a PBFT client
accepts a result: Castro and Liskov, section 4.1): committed, with its result, epoch and position in
the history, or rejected: "epoch e ended", the op's epoch ended without it (its switch entry left
the op out; a node proposes an op only in the epoch of its tag, so that proposal never commits).
After a rejection the client's epoch is e + 1 (an honest node left epoch e, so e + 1 exists), and it
may propose the op again there, `propose(op, seq=decision.seq)`; the state machine applies each
(client, seq) once, so a retry of an op that did commit gets its first result. A request that gets
no answer within `resend_every` ticks is sent again.

`bft` chooses the protocol of the BFT epochs: "pbft" (the default) or "hotstuff" (impl/hybrid/bft.py;
anything else is an ImplError naming the choices).

Also: `current_protocol()`, `threat_level()`, `metrics()`, and the test's levers: Byzantine
behaviour switched on and off mid-stream (`make_byzantine`, `make_honest`), crashes, running
the clock (`run`), and a script's turn before each send of a proposal (`before_send`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.node import Node
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hybrid.bft import BFT_PROTOCOLS
from meshcheck.impl.hybrid.bft import PBFT
from meshcheck.impl.hybrid.bft import HybridHotStuff
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.hybrid.machine import REJECTED
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.simulation import HybridPlugin
from meshcheck.impl.hybrid.simulation import hybrid_cluster
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.rsm.ops import Op
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import Phases
from meshcheck.impl.sim.simulator import Simulator


@attrs.frozen
class Decision:
    """What `propose` learned about the op (client, seq)."""

    client: str
    seq: int
    status: str  # COMMITTED or REJECTED
    result: Value = None
    epoch: int | None = None
    position: int | None = None
    reason: str = ""
    time: int = 0
    tag: int = 1  # the epoch the client proposed it in
    ended: int | None = None  # rejected: the epoch that ended without it

    @property
    def committed(self) -> bool:
        return self.status == COMMITTED

    @property
    def key(self) -> tuple[str, int]:
        return (self.client, self.seq)

    @property
    def learned(self) -> int:
        """The epoch this answer shows the cluster reached: the one the op committed in, or the one
        after the epoch that ended without it."""
        if self.committed:
            return self.epoch if self.epoch is not None else self.tag
        return self.ended + 1 if self.ended is not None else self.tag


class HybridConsensus:
    """A simulated hybrid cluster with a client in front of it."""

    def __init__(
        self,
        n: int = 4,
        *,
        seed: int = 0,
        client: str = "c1",
        faults: Faults | Phases | None = None,
        resend_every: int = 400,
        give_up_after: int = 20_000,
        bft: str = PBFT,
        **options: Any,
    ) -> None:
        if bft not in BFT_PROTOCOLS:
            raise ImplError(f"unknown BFT protocol {bft!r} (choices: {', '.join(BFT_PROTOCOLS)})")
        self.bft = bft
        self.sim: Simulator[HybridNode] = hybrid_cluster(
            n, seed=seed, clients=(client,), faults=faults, bft=bft, **options
        )
        # The client history (impl/sim/history.py) holds one operation per proposal, not one per
        # node asked: its invocation when `propose` starts, its completion the decision (ok with
        # the op's result; fail when rejected, which the hybrid design makes final for that
        # (op, epoch) proposal; none when the client gave up: info).
        self.sim.requests_are_ops = False
        # the history's request id -> (client, seq, epoch) of that proposal: its tag, or once it
        # is answered committed the epoch it committed in (how the node's `Apply` names it)
        self.proposals: dict[int, tuple[str, int, int]] = {}
        plugin = self.sim.plugin
        assert isinstance(plugin, HybridPlugin)
        self.plugin = plugin
        self.keys = plugin.keys
        self.client = client
        self.f = (n - 1) // 3
        self.resend_every = resend_every
        self.give_up_after = give_up_after
        self.byzantine: set[str] = set()  # nodes that were ever Byzantine
        self.decisions: list[Decision] = []
        self.submitted = 0
        self.epoch = 1  # the epoch the client tags its ops with: the latest it heard of
        # called with the signed op before each send of it (the first and every resend): a test's
        # script acts there, between the client's sends, the clock stopped for the client
        self.before_send: list[Callable[[ClientOp], None]] = []
        self._seq = 0
        self._request_ids = 0

    @property
    def nodes(self) -> dict[str, HybridNode]:
        return self.sim.nodes

    @property
    def honest(self) -> list[str]:
        return [i for i in self.sim.node_ids if i not in self.byzantine]

    # -- proposing ---------------------------------------------------------------------------------

    def propose(self, op: Op | Value, *, seq: int | None = None) -> Decision:
        """Propose `op` (an impl.rsm operation or its encoded value) in the client's epoch; the
        decision (see the module doc). `seq` resubmits an earlier op under its sequence number."""
        if seq is None:
            self._seq += 1
            seq = self._seq
        value = to_value(op) if not isinstance(op, FrozenDict | str | int | tuple) else op
        signed = self.keys.sign_op(ClientOp(self.client, seq, value, self.epoch))
        self.submitted += 1
        proposal = len(self.proposals) + 1
        self.proposals[proposal] = (self.client, seq, self.epoch)
        if self.sim.history is not None:
            self.sim.history.invoke(self.client, proposal, "write", value, None, self.sim.now)
        self._first_reply = len(self.sim.replies)
        start = self.sim.now
        decided: list[Decision] = []
        ids: dict[int, str] = {}

        def done(_sim: Simulator[HybridNode]) -> bool:
            return self._decide(ids, signed, decided)

        while self.sim.now - start < self.give_up_after:
            for script in self.before_send:
                script(signed)
            ids.update(self._send(signed))
            self.sim.run(until=self.sim.now + self.resend_every, stop=done)
            if decided:
                decision = decided[0]
                self.decisions.append(decision)
                if decision.committed and decision.epoch is not None:
                    # where it took effect: a retry of an op committed before gets that epoch
                    self.proposals[proposal] = (self.client, seq, decision.epoch)
                if self.sim.history is not None:
                    answer = (
                        Reply(proposal, decision.result)
                        if decision.committed
                        else Reply(proposal, error=f"{REJECTED}: {decision.reason or '?'}")
                    )
                    self.sim.history.complete(self.client, answer, self.sim.now)
                self.epoch = max(self.epoch, decision.learned)
                return decision
        raise ImplError(f"no decision on {self.client}/{seq} in {self.give_up_after} ticks")

    def _send(self, op: ClientOp) -> dict[int, str]:
        ids: dict[int, str] = {}
        for node in self.sim.node_ids:
            if self.sim.up[node] and self.sim.network.reachable(self.client, node):
                self._request_ids += 1
                ids[self._request_ids] = node
                self.sim.inject(node, ClientRequest(op, self._request_ids))
        return ids

    def _decide(self, ids: dict[int, str], op: ClientOp, out: list[Decision]) -> bool:
        votes: dict[tuple[str, Value], set[str]] = {}
        for node, reply in self.sim.replies[self._first_reply :]:
            if ids.get(reply.request_id) == node:
                votes.setdefault((reply.error, reply.result), set()).add(node)
        for (error, result), voters in votes.items():
            if quorum.reaches(voters, quorum.one_correct(self.f)):
                out.append(self._decision(op, error, result))
                return True
        return False

    def _decision(self, op: ClientOp, error: str, result: Value) -> Decision:
        record = result if isinstance(result, FrozenDict) else FrozenDict()
        if not error and record.get("status") == COMMITTED:
            return Decision(
                op.client,
                op.seq,
                COMMITTED,
                record.get("result"),
                record.get("epoch"),
                record.get("position"),
                time=self.sim.now,
                tag=op.epoch,
            )
        reason = str(record.get("reason", error))
        ended = record.get("ended")
        return Decision(
            op.client,
            op.seq,
            REJECTED,
            reason=reason,
            time=self.sim.now,
            tag=op.epoch,
            ended=ended if isinstance(ended, int) else None,
        )

    # -- reading the cluster ------------------------------------------------------------------------

    def _lead(self) -> HybridNode:
        """The honest node furthest along the committed history (the cluster's present)."""
        up = [self.nodes[i] for i in self.honest if self.sim.up[i]] or [
            self.nodes[i] for i in self.honest
        ]
        return max(up, key=lambda n: (n.epoch, n.machine.entries, n.id))

    def raft_leader(self) -> str | None:
        """The node an honest majority follows in the current Raft epoch (None in a BFT epoch)."""
        lead = self._lead()
        leader = getattr(lead.current.core, "leader", None)
        return leader if isinstance(leader, str) else None

    def current_protocol(self) -> str:
        return self._lead().current_protocol()

    def threat_level(self) -> str:
        return self._lead().level.title

    def metrics(self) -> dict[str, Any]:
        lead = self._lead()
        decided = Counter(d.status for d in self.decisions)
        return {
            "submitted": self.submitted,
            "committed": decided[COMMITTED],
            "rejected": decided[REJECTED],
            "switches": lead.epoch - 1,
            "epochs": dict(sorted(lead.protocols.items())),
            "evidence": lead.threat.evidence_by_kind(),
            "evidence_refused": lead.threat.refused,
            "level_history": [(t, level.title) for t, level in lead.threat.history],
            "time": self.sim.now,
            "events": self.sim.events,
        }

    # -- levers for tests ---------------------------------------------------------------------------

    def run(self, ticks: int) -> None:
        self.sim.run(until=self.sim.now + ticks)

    def make_byzantine(
        self,
        node: str,
        *behaviours: Any,
        pbft: Callable[[Replica], Node] | None = None,
        hotstuff: Callable[[HybridHotStuff], Node] | None = None,
    ) -> None:
        """From now on `node` misbehaves: `behaviours` (impl/hybrid/byzantine.py) on its output,
        `pbft` (e.g. impl.pbft.byzantine.corrupt(Equivocate())) around its PBFT cores and
        `hotstuff` (e.g. impl.hotstuff.byzantine.ByzantineReplica(core, ["equivocate"])) around
        its HotStuff cores."""
        target = self.nodes[node]
        self.byzantine.add(node)
        self.plugin.honest.discard(node)
        target.tainted = True
        target.behaviours = list(behaviours)
        target.pbft_wrapper = pbft
        target.hotstuff_wrapper = hotstuff
        for instance in target.instances.values():
            if instance.bft is not None:
                wrapper = target.bft_wrapper(instance)
                instance.runner = wrapper(instance.core) if wrapper is not None else instance.core

    def make_honest(self, node: str) -> None:
        """Take the behaviours away (the node stays out of `honest`: its past is not the service's)."""
        target = self.nodes[node]
        target.behaviours = []
        target.pbft_wrapper = None
        target.hotstuff_wrapper = None
        for instance in target.instances.values():
            instance.runner = instance.core

    def histories(
        self, nodes: Iterable[str] | None = None
    ) -> dict[str, tuple[tuple[str, int], ...]]:
        return {i: self.nodes[i].history for i in (nodes if nodes is not None else self.honest)}
