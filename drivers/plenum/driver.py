"""The driver of Indy Plenum's consensus services: plenum's replicas behind the driver protocol.

Run inside .venv-plenum (`make plenum`), by the harness (property_tests/plenum/), never by hand:

    .venv-plenum/bin/python drivers/plenum/driver.py [--bug NAME ...]

It speaks docs/driver-protocol.md (one JSON request a line on stdin, one answer a line on stdout)
and hosts one pool of plenum's ReplicaService replicas (real OrderingService, CheckpointService,
ViewChangeService, ViewChangeTriggerService, PrimaryConnectionMonitorService), built as plenum's
own SimPool builds them (drivers/plenum/bls_free_pool.py), with three things handed to the harness:

- delivery: every message a replica sends goes through plenum's wire round trip (SimPool's
  serialise and deserialise) and then, instead of SimNetwork's timer, into the answer's `sends`,
  as plenum's own JSON (`op` and the fields); the harness decides when, whether and how often it
  comes back as `deliver`, which hands it to the addressee's ExternalBus as ZStack would;
- time: each replica has a MockTimer of its own, set to the request's `now` (milliseconds, plenum
  counts seconds) before the request is served, which runs what plenum scheduled until then; the
  answer's `timers` is `["plenum", ms]`, when the replica's next scheduled callback is due;
- connections: `connections` (an extra call: {"call": "connections", "node", "connected": [...],
  "now"}) tells a replica which peers its transport reaches, as ZStack's connection events do;
  plenum's PrimaryConnectionMonitorService starts a view change from that.

`hello` takes, besides `protocol` and `nodes` (plenum's own names: Alpha, Beta, ...), `byzantine`:
{node: behaviour}, the replicas whose sends this driver rewrites (BEHAVIOURS, below). Each answer's
`applied` is what the replica ordered ([pp_seq_no, {"view", "digest", "requests"}, null]); `state`
gives PBFT.tla's variables of the replica (`view`, `status`, `executed`, `stable`). Each send's
`record` is the message in PBFT.tla's vocabulary (`type`, `view`, `seq`, `req`, `src`, ...).

`--bug NAME` (every cluster) or hello's `bugs` (that cluster) patches plenum's code in this process: the
mutants the harness must catch, BUGS.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import random
import sys
import traceback
from functools import partial
from pathlib import Path
from typing import Any

MAX_BATCH_SIZE = 2
CHK_FREQ = 2
LOG_SIZE = 3 * CHK_FREQ
BATCH_EVERY = 1.0  # seconds: the primary's batch timer (plenum's sim: order_requests every second)

BEHAVIOURS = {
    "equivocate": "as primary, another PrePrepare at the same (view, seq) to the backups after the "
    "first: its requests in another order, or (one request) stamped a second later, with the "
    "digest plenum computes for it",
    "withhold": "sends no Prepare, Commit or Checkpoint (withheld votes)",
    "forge": "every Prepare it sends names another digest, every Commit the next sequence number "
    "(votes for batches that were never pre-prepared)",
    "replay": "sends each PrePrepare, Prepare and Commit again with the view above (a replay "
    "into a later view)",
    "equivocate-and-commit": "equivocates as equivocate does (a batch of one: another request it "
    "holds, when it holds one), the other batch with the roots it has, and sends each backup a "
    "Commit with its PrePrepare (plenum's Commit names no digest: it counts for both batches)",
}
BUGS = {
    "commit-on-f-prepares": "plenum's prepare quorum is f, not n - f - 1 (Quorums.prepare): a "
    "replica commits on f prepares",
    "order-on-f-commits": "plenum's commit quorum is f + 1, not n - f (Quorums.commit): a replica "
    "orders on f + 1 commits",
    "new-view-drops-prepared": "plenum's NewView leaves out the highest batch the ViewChanges "
    "prove prepared (NewViewBuilder.calc_batches): the new view forgets a prepared certificate",
}


# the suspicions of a PrePrepare that make a Node vote for a view change (node.py,
# reportSuspiciousNode): their codes, from plenum's Suspicions
PRIMARY_SUSPICION_NAMES = (
    "PPR_DIGEST_WRONG", "PPR_REJECT_WRONG", "PPR_TXN_WRONG", "PPR_STATE_WRONG",
    "PPR_PLUGIN_EXCEPTION", "PPR_SUB_SEQ_NO_WRONG", "PPR_NOT_FINAL", "PPR_WITH_ORDERED_REQUEST",
    "PPR_AUDIT_TXN_ROOT_HASH_WRONG", "PPR_BLS_MULTISIG_WRONG", "PPR_TIME_WRONG",
)  # fmt: skip
PRIMARY_SUSPICIONS: set[int] = set()


class Refused(Exception):
    """A request the driver refuses: the answer is {"error": text}."""


ACTIVE: set[str] = set()  # the bugs of this cluster: the command line's and hello's


def _patch() -> None:
    """Install the bugs' patches into plenum, each on while its name is in ACTIVE."""
    from plenum.server.consensus.view_change_service import NewViewBuilder  # type: ignore[import-not-found]
    from plenum.server.quorums import Quorum  # type: ignore[import-not-found]
    from plenum.server.quorums import Quorums

    original = Quorums.__init__

    def patched(self: Any, n: int) -> None:
        original(self, n)
        if "commit-on-f-prepares" in ACTIVE:
            self.prepare = Quorum(self.f)
        if "order-on-f-commits" in ACTIVE:
            self.commit = Quorum(self.f + 1)

    Quorums.__init__ = patched

    calc_batches = NewViewBuilder.calc_batches

    def dropping(self: Any, cp: Any, vcs: Any) -> Any:
        batches = calc_batches(self, cp, vcs)
        if "new-view-drops-prepared" in ACTIVE and batches:
            return batches[:-1]
        return batches

    NewViewBuilder.calc_batches = dropping


def _record(msg: Any, src: str) -> dict[str, Any]:
    """The message as PBFT.tla's record (plenum's fields under the spec's names)."""
    from plenum.common.messages.node_messages import Checkpoint  # type: ignore[import-not-found]
    from plenum.common.messages.node_messages import Commit
    from plenum.common.messages.node_messages import MessageRep
    from plenum.common.messages.node_messages import NewView
    from plenum.common.messages.node_messages import Prepare
    from plenum.common.messages.node_messages import PrePrepare
    from plenum.common.messages.node_messages import ViewChange
    from plenum.common.messages.node_messages import ViewChangeAck

    if isinstance(msg, PrePrepare | Prepare | Commit):
        kind = type(msg).__name__
        digest = getattr(msg, "digest", None)
        record = {"type": kind, "view": msg.viewNo, "seq": msg.ppSeqNo, "req": digest, "src": src}
        if isinstance(msg, PrePrepare):
            record["reqs"] = list(msg.reqIdr)  # the batch's requests, which its digest stands for
        return record
    if isinstance(msg, Checkpoint):
        return {"type": "Checkpoint", "seq": msg.seqNoEnd, "digest": msg.digest, "src": src}
    if isinstance(msg, ViewChange):
        prepared = [[b.pp_view_no, b.pp_seq_no, b.pp_digest] for b in msg.prepared]
        return {
            "type": "ViewChange", "view": msg.viewNo, "ckpt": msg.stableCheckpoint,
            "prepared": prepared, "src": src,
        }  # fmt: skip
    if isinstance(msg, NewView):
        pre = [[b.pp_view_no, b.pp_seq_no, b.pp_digest] for b in msg.batches]
        ckpt = msg.checkpoint.seqNoEnd if msg.checkpoint is not None else None
        return {"type": "NewView", "view": msg.viewNo, "ckpt": ckpt, "pre": pre, "src": src}
    if isinstance(msg, MessageRep):
        what = REPLIED.get(msg.msg_type)
        inner = msg.msg
        if what is None or not isinstance(inner, dict):
            return {"type": "MessageRep", "of": msg.msg_type, "src": src}
        of = {
            "type": what, "view": inner.get("viewNo"), "seq": inner.get("ppSeqNo"),
            "req": inner.get("digest"), "src": src,
        }  # fmt: skip
        if what == "PrePrepare":
            of["reqs"] = list(inner.get("reqIdr") or [])
        return {"type": "MessageRep", "of": msg.msg_type, "msg": of, "src": src}
    if isinstance(msg, ViewChangeAck):
        return {"type": "ViewChangeAck", "view": msg.viewNo, "of": msg.name, "src": src}
    return {"type": type(msg).__name__, "src": src}


# the 3PC messages a MessageRep may carry (plenum's msg_type): the record gives what it carries
REPLIED = {"PREPREPARE": "PrePrepare", "PREPARE": "Prepare", "COMMIT": "Commit"}

# each message type's PBFT.tla action: the step that sends it
ACTION_OF = {
    "PrePrepare": "PrePrepare",
    "Prepare": "Prepare",
    "Commit": "Commit",
    "Checkpoint": "Execute",  # PBFT.tla's Execute sends the checkpoint message at every K-th
    "ViewChange": "StartViewChange",
    "NewView": "NewView",
}


def _as_1_13(replica: Any, timer: Any) -> None:
    """1.12.1's ReplicaService leaves three things to the Node that 1.13.1's does itself: its
    OrderingService takes batch times from the wall clock (get_utc_epoch, ordering_service.py's
    own TODO) and no ledger is registered with its FreshnessChecker (the Node's Replica does:
    replica.py `register_ledger`), so it never sends a freshness batch; and it has no
    PrimaryConnectionMonitorService (the Node's Replica builds it). All three as 1.13.1's
    ReplicaService does them (its get_time_for_3pc_batch), on the replica's simulated clock."""

    def clock() -> int:
        return int(timer.get_current_time()) + 1550000000

    from plenum.common.constants import CONFIG_LEDGER_ID  # type: ignore[import-not-found]
    from plenum.common.constants import DOMAIN_LEDGER_ID
    from plenum.common.constants import POOL_LEDGER_ID

    orderer = replica._orderer
    orderer.get_time_for_3pc_batch = clock
    for ledger_id in (POOL_LEDGER_ID, DOMAIN_LEDGER_ID, CONFIG_LEDGER_ID):  # 1.13.1's three
        orderer._freshness_checker.register_ledger(ledger_id=ledger_id, initial_time=clock())
    if not hasattr(replica, "_primary_connection_monitor"):
        # 1.12.1's Node's Replica builds it (replica.py _init_primary_connection_monitor_service),
        # its ReplicaService does not: without it a crashed primary is never replaced
        from plenum.common.messages.internal_messages import PrimarySelected  # type: ignore[import-not-found]
        from plenum.server.consensus.monitoring.primary_connection_monitor_service import (  # type: ignore[import-not-found]
            PrimaryConnectionMonitorService,
        )

        replica._primary_connection_monitor = PrimaryConnectionMonitorService(
            data=replica._data, timer=timer, bus=replica._internal_bus, network=replica._network
        )
        # built after the pool's connections were made, it heard none: the Node tells its
        # master replica the primary is selected once it is (node.py, primary_selected)
        replica._internal_bus.send(PrimarySelected())


class _Deliveries:
    """1.12.1's SimNetwork timer: what it schedules is a delivery, handed to the harness instead."""

    def __init__(self, pool: Pool, network: Any) -> None:
        self.pool = pool
        self.peers = {id(bus): name for name, bus in network._peers.items()}

    def schedule(self, delay: float, callback: Any) -> None:
        msg, frm = callback.args
        self.pool._sent(delay, msg, frm, self.peers[id(callback.func.__self__)])


class Pool:
    """One cluster: plenum's replicas, their timers, what each did since its last answer."""

    def __init__(self, nodes: list[str], byzantine: dict[str, str], batch: int) -> None:
        import bls_free_pool  # beside this file
        from plenum.common.messages.internal_messages import NewViewAccepted
        from plenum.common.messages.internal_messages import RaisedSuspicion
        from plenum.common.messages.node_messages import Ordered
        from plenum.common.startable import Mode  # type: ignore[import-not-found]
        from plenum.common.startable import Status
        from plenum.common.timer import RepeatingTimer  # type: ignore[import-not-found]
        from plenum.server.consensus.utils import replica_name_to_node_name  # type: ignore[import-not-found]
        from plenum.test.consensus.helper import SimPool  # type: ignore[import-not-found]
        from plenum.test.greek import genNodeNames  # type: ignore[import-not-found]
        from plenum.test.helper import MockTimer  # type: ignore[import-not-found]
        from plenum.test.simulation.sim_random import DefaultSimRandom  # type: ignore[import-not-found]

        bls_free_pool.install()
        expected = list(genNodeNames(len(nodes)))
        if nodes != expected:
            raise Refused(f"hello.nodes: plenum's pool of {len(nodes)} is {', '.join(expected)}")
        for name, behaviour in byzantine.items():
            if name not in nodes:
                raise Refused(f"hello.byzantine: {name!r} is not a node of this cluster")
            if behaviour not in BEHAVIOURS:
                raise Refused(
                    f"hello.byzantine: no behaviour {behaviour!r} ({', '.join(BEHAVIOURS)})"
                )
        self.byzantine = byzantine
        self.forged: dict[tuple[str, int, int], Any] = {}  # equivocate-and-commit's PrePrepares
        self.roots_before: dict[tuple[int, int], Any] = {}
        self.timers: dict[str, Any] = {name: MockTimer() for name in nodes}
        self.stable: dict[str, int] = {}
        timers = self.timers
        takes_view = "view_no" in inspect.signature(SimPool.add_new_node).parameters

        class HarnessPool(SimPool):  # type: ignore[misc]
            """SimPool in view 0 with a MockTimer for each replica."""

            def add_new_node(self, name: str, view_no: int | None = None) -> None:
                self._timer = timers[name]
                if takes_view:  # 1.13.1 draws the pool's first view; 1.12.1 starts in view 0
                    super().add_new_node(name, 0)
                else:
                    super().add_new_node(name)

        random.seed(0)  # plenum's helpers draw from the global generator in places
        self.pool = HarnessPool(len(nodes), DefaultSimRandom(0))
        self.replicas = {replica_name_to_node_name(r.name): r for r in self.pool.nodes}
        self.out: dict[str, dict[str, list[Any]]] = {n: self._empty() for n in nodes}
        network = self.pool.network
        if hasattr(network, "_processing_chain"):  # 1.13.1: every send passes through it
            network._processing_chain._schedule_delivery = self._sent
        else:  # 1.12.1: SimNetwork schedules each delivery on its timer
            network._timer = _Deliveries(self, network)
        for name, replica in self.replicas.items():
            config = replica._orderer._config
            config.Max3PCBatchSize = batch
            config.CHK_FREQ = CHK_FREQ
            config.LOG_SIZE = LOG_SIZE
            replica._data.node_mode = Mode.participating
            # a Node sets this once connected to a quorum: its monitors then propose view changes
            replica._data.node_status = Status.started
            replica._orderer._network._connecteds = {n for n in nodes if n != name}
            replica._internal_bus.subscribe(Ordered, partial(self._ordered, name))
            # the Node's part (plenum/server/node.py, _process_new_view_accepted and
            # primary_selected): a new view accepted tells the master's monitors its primary
            replica._internal_bus.subscribe(NewViewAccepted, partial(self._new_view, name))
            # ... and a suspicion of the primary's PrePrepare is a vote for a view change
            # (node.py, reportSuspiciousNode, through replica.py's report_suspicious_node)
            replica._internal_bus.subscribe(RaisedSuspicion, partial(self._suspicion, name))
            RepeatingTimer(timers[name], BATCH_EVERY, partial(self._batch, name))
            if byzantine.get(name) == "equivocate-and-commit":
                self._keep_roots_before(name)
            if not hasattr(replica, "get_time_for_3pc_batch"):
                _as_1_13(replica, timers[name])

    @staticmethod
    def _empty() -> dict[str, list[Any]]:
        return {"sends": [], "applied": [], "steps": []}

    def _sent(self, _delay: float, msg: Any, frm: str, dst: str) -> None:
        from plenum.common.batched import Batched  # type: ignore[import-not-found]
        from plenum.server.consensus.utils import replica_name_to_node_name
        from stp_zmq.zstack import ZStack  # type: ignore[import-not-found]

        src = replica_name_to_node_name(frm)
        for out in self._rewrite(src, msg, dst):
            wire = ZStack.deserializeMsg(ZStack.serializeMsg(Batched().prepForSending(out)))
            record = _record(out, src)
            sends = self.out[src]["sends"]
            sends.append({"to": dst, "message": wire, "record": record})
            action = ACTION_OF.get(record["type"])
            step: dict[str, Any] = {"action": action or record["type"], "sends": [len(sends) - 1]}
            step["params"] = {"i": src}
            if action is None:
                step["in_spec"] = False
            self.out[src]["steps"].append(step)

    def _rewrite(self, src: str, msg: Any, dst: str) -> list[Any]:
        """What a Byzantine `src` sends instead of `msg` to `dst` (BEHAVIOURS)."""
        from plenum.common.messages.node_messages import Checkpoint
        from plenum.common.messages.node_messages import Commit
        from plenum.common.messages.node_messages import Prepare
        from plenum.common.messages.node_messages import PrePrepare
        from plenum.server.consensus.utils import get_original_viewno

        behaviour = self.byzantine.get(src)
        if behaviour is None:
            return [msg]
        if behaviour == "withhold":
            return [] if isinstance(msg, Prepare | Commit | Checkpoint) else [msg]
        if behaviour == "forge" and isinstance(msg, Prepare):
            return [msg.__class__(**{**msg._asdict(), "digest": "f" * 64})]
        if behaviour == "forge" and isinstance(msg, Commit):  # plenum's Commit has no digest
            return [msg.__class__(**{**msg._asdict(), "ppSeqNo": msg.ppSeqNo + 1})]
        if behaviour == "replay" and isinstance(msg, PrePrepare | Prepare | Commit):
            return [msg, msg.__class__(**{**msg._asdict(), "viewNo": msg.viewNo + 1})]
        equivocates = behaviour in ("equivocate", "equivocate-and-commit")
        if equivocates and isinstance(msg, PrePrepare) and msg.reqIdr:
            commit = Commit(msg.instId, msg.viewNo, msg.ppSeqNo)
            also = [commit] if behaviour == "equivocate-and-commit" else []
            backups = sorted(n for n in self.replicas if n != src)
            if dst != backups[0]:
                # another batch at the same (view, seq): its requests in another order, or, one
                # request, stamped a second later; its digest computed as plenum computes it
                orderer = self.replicas[src]._orderer
                reqs = list(reversed(msg.reqIdr))
                stamp = msg.ppTime + (1 if len(reqs) == 1 else 0)
                queued = [k for k in orderer.requestQueues.get(msg.ledgerId, ()) if k not in reqs]
                if behaviour == "equivocate-and-commit" and len(reqs) == 1 and queued:
                    # one request: another the primary holds, so that the batches differ in
                    # what they order, not only in their time
                    reqs, stamp = [queued[0]], msg.ppTime
                digest = orderer.generate_pp_digest(reqs, get_original_viewno(msg), stamp)
                other = {"reqIdr": reqs, "digest": digest, "ppTime": stamp}
                forged = msg.__class__(**{**msg._asdict(), **other})
                if behaviour == "equivocate-and-commit":
                    key = (src, msg.viewNo, msg.ppSeqNo)
                    if key not in self.forged:
                        self.forged[key] = self._with_its_roots(src, msg, forged)
                    forged = self.forged[key]
                return [forged, *also]
            return [msg, *also]
        return [msg]

    def _with_its_roots(self, src: str, msg: Any, other: Any) -> Any:
        """`other` with the state, ledger and audit roots its batch has, as the primary `src`
        computes them: msg's batch reverted, other's applied and its roots read, then reverted,
        and msg's applied again, the way plenum's backups apply and revert a PrePrepare
        (OrderingService._apply_and_validate_applied_pre_prepare). Backups check the roots
        (_validate_applied_pre_prepare), so without them they would reject `other`."""
        from plenum.common.constants import AUDIT_LEDGER_ID

        orderer = self.replicas[src]._orderer
        before = self.roots_before[(msg.viewNo, msg.ppSeqNo)]
        count = len(msg.reqIdr)
        orderer._revert(msg.ledgerId, before, count)
        orderer._apply_pre_prepare(other)
        roots = {
            "stateRootHash": orderer.get_state_root_hash(msg.ledgerId),
            "txnRootHash": orderer.get_txn_root_hash(msg.ledgerId),
            "auditTxnRootHash": orderer.get_txn_root_hash(AUDIT_LEDGER_ID),
        }
        orderer._revert(msg.ledgerId, before, count)
        orderer._apply_pre_prepare(msg)
        return other.__class__(**{**other._asdict(), **roots})

    def _keep_roots_before(self, node: str) -> None:
        """Wrap `node`'s create_3pc_batch to keep each batch's state root before it is applied
        (what _with_its_roots reverts to)."""
        orderer = self.replicas[node]._orderer
        create = orderer.create_3pc_batch

        def create_keeping_root(ledger_id: Any) -> Any:
            before = orderer.get_state_root_hash(ledger_id, to_str=False)
            pp = create(ledger_id)
            self.roots_before[(pp.viewNo, pp.ppSeqNo)] = before
            return pp

        orderer.create_3pc_batch = create_keeping_root

    def _ordered(self, node: str, msg: Any, *_: Any) -> None:
        batch = {"view": msg.viewNo, "digest": msg.digest, "requests": list(msg.valid_reqIdr)}
        self.out[node]["applied"].append([msg.ppSeqNo, batch, None])
        step = {"action": "Execute", "params": {"i": node, "seq": msg.ppSeqNo}, "sends": []}
        self.out[node]["steps"].append(step)

    def _new_view(self, node: str, _msg: Any) -> None:
        from plenum.common.messages.internal_messages import PrimarySelected

        self.replicas[node]._internal_bus.send(PrimarySelected())

    def _suspicion(self, node: str, msg: Any) -> None:
        from plenum.common.messages.internal_messages import VoteForViewChange
        from plenum.server.suspicion_codes import Suspicions  # type: ignore[import-not-found]

        if msg.inst_id == 0 and msg.ex.code in PRIMARY_SUSPICIONS:
            vote = VoteForViewChange(Suspicions.get_by_code(msg.ex.code))
            self.replicas[node]._internal_bus.send(vote)

    def _batch(self, node: str) -> None:
        replica = self.replicas[node]
        if replica._data.is_primary and not replica._data.waiting_for_new_view:
            replica._orderer.send_3pc_batch()
        replica._orderer.dequeue_pre_prepares()

    def node(self, request: dict[str, Any]) -> str:
        node = request.get("node")
        if node not in self.replicas:
            raise Refused(
                f"{request.get('call')}.node: {node!r} is not a node of this cluster "
                f"({', '.join(self.replicas)})"
            )
        return str(node)

    def at(self, node: str, now: Any) -> None:
        if not isinstance(now, int) or now < 0:
            raise Refused(f"now: {now!r} is not a non-negative integer (milliseconds)")
        timer = self.timers[node]
        seconds = now / 1000
        if seconds > timer.get_current_time():
            timer.set_time(seconds)

    def done(self, node: str) -> dict[str, Any]:
        stable = self.replicas[node]._data.stable_checkpoint
        if stable != self.stable.get(node, 0):
            self.stable[node] = stable
            step = {"action": "StableCheckpoint", "params": {"i": node, "n": stable}, "sends": []}
            self.out[node]["steps"].append(step)
        out = self.out[node]
        self.out[node] = self._empty()
        timer = self.timers[node]
        answer: dict[str, Any] = {k: v for k, v in out.items() if v}
        if timer._events:
            due = timer._next_timestamp() - timer.get_current_time()
            answer["timers"] = [["plenum", max(1, round(due * 1000))]]
        return answer

    def deliver(self, node: str, source: str, message: Any) -> None:
        from plenum.common.messages.node_message_factory import node_message_factory  # type: ignore[import-not-found]

        if source not in self.replicas:
            raise Refused(f"deliver.source: {source!r} is not a node of this cluster")
        try:
            msg = node_message_factory.get_instance(**message)
        except Exception as exc:  # plenum's validation raises many kinds
            raise Refused(f"deliver.message: not a plenum message: {exc}") from None
        replica = self.replicas[node]
        replica._network.process_incoming(msg, f"{source}:0")
        replica._orderer.dequeue_pre_prepares()

    def submit(self, node: str, request_id: Any, value: Any) -> None:
        from plenum.common.constants import CURRENT_PROTOCOL_VERSION
        from plenum.common.request import ReqKey  # type: ignore[import-not-found]
        from plenum.common.request import Request

        if not isinstance(request_id, int) or request_id < 1:
            raise Refused(f"submit.request: {request_id!r} is not a positive integer")
        amount = value.get("amount", request_id) if isinstance(value, dict) else request_id
        request = Request(
            operation={"type": "buy", "amount": amount},
            reqId=request_id,
            protocolVersion=CURRENT_PROTOCOL_VERSION,
        )
        replica = self.replicas[node]
        faulty = (len(self.replicas) - 1) // 3
        # as plenum's SimPool.sim_send_requests: the request propagated and finalised at this node
        replica._data.requests.add(request)
        replica._data.requests.mark_as_forwarded(request, faulty + 1)
        replica._data.requests.set_finalised(request)
        replica.ready_for_3pc(ReqKey(request.key))
        self.out[node].setdefault("requests", []).append([request_id, request.key])

    def state(self, node: str) -> dict[str, Any]:
        data = self.replicas[node]._data
        return {
            "view": data.view_no,
            "status": "changing" if data.waiting_for_new_view else "normal",
            "executed": list(data.last_ordered_3pc),
            "stable": data.stable_checkpoint,
            "primary": data.primary_name.split(":")[0] if data.primary_name else None,
        }


TIMEOUTS = (
    "ToleratePrimaryDisconnection", "INITIAL_PROPOSE_VIEW_CHANGE_TIMEOUT", "NEW_VIEW_TIMEOUT",
    "STATE_FRESHNESS_UPDATE_INTERVAL", "ACCEPTABLE_FRESHNESS_INTERVALS_COUNT",
)  # fmt: skip


def _version() -> str:
    """The plenum release this process imported (its package's own version file)."""
    import plenum  # type: ignore[import-not-found]

    return str(getattr(plenum, "__version__", "unknown"))


def _timeouts() -> dict[str, Any]:
    """plenum's own timeouts (plenum/config.py, seconds), which the liveness bound is made of."""
    from plenum.common.config_util import getConfig  # type: ignore[import-not-found]

    config = getConfig()
    return {name: getattr(config, name) for name in TIMEOUTS}


def serve(bugs: list[str]) -> int:
    pool: Pool | None = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise Refused("a request is a JSON object")
            answer = _answer(request, pool, bugs)
            if isinstance(answer, Pool):
                pool, answer = answer, {
                    "driver": "plenum", "protocol": 1, "take": False, "config": _timeouts(),
                    "version": _version(),
                }  # fmt: skip
        except Refused as exc:
            answer = {"error": str(exc)}
        except json.JSONDecodeError as exc:
            answer = {"error": f"not JSON: {exc}"}
        except Exception as exc:  # plenum itself raised: the run stops on this answer
            traceback.print_exc(file=sys.stderr)
            where = traceback.extract_tb(exc.__traceback__)[-1]
            at = f"{Path(where.filename).name}:{where.lineno}"
            answer = {"error": f"plenum raised {type(exc).__name__} at {at}: {exc}"}
        sys.stdout.write(json.dumps(answer, sort_keys=True) + "\n")
        sys.stdout.flush()
    return 0


def _answer(request: dict[str, Any], pool: Pool | None, bugs: list[str]) -> Any:
    call = request.get("call")
    if call == "hello":
        if request.get("protocol") != 1:
            raise Refused("hello.protocol: this driver speaks protocol 1")
        nodes, byzantine = request.get("nodes"), request.get("byzantine", {})
        if not isinstance(nodes, list) or not isinstance(byzantine, dict):
            raise Refused("hello: nodes is a list of names, byzantine an object")
        asked = request.get("bugs", [])
        unknown = [b for b in asked if b not in BUGS] if isinstance(asked, list) else [asked]
        if unknown:
            raise Refused(f"hello.bugs: no bug {unknown[0]!r} (known: {', '.join(BUGS)})")
        ACTIVE.clear()
        ACTIVE.update(bugs, asked)
        batch = request.get("batch", MAX_BATCH_SIZE)
        if not isinstance(batch, int) or batch < 1:
            raise Refused("hello.batch: the requests a batch holds at most, a positive integer")
        byzantine = {str(k): str(v) for k, v in byzantine.items()}
        return Pool([str(n) for n in nodes], byzantine, batch)
    if pool is None:
        raise Refused(f"{call}: no cluster yet (hello first)")
    if call not in ("boot", "deliver", "fire", "submit", "connections", "state", "applied"):
        raise Refused(f"no call {call!r} (take: plenum's services take no single spec action)")
    node = pool.node(request)
    if call == "state":
        return {"state": pool.state(node)}
    if call == "applied":
        last = pool.replicas[node]._data.last_ordered_3pc
        return {"count": last[1], "digest": f"{last[0]}-{last[1]}"}
    pool.at(node, request.get("now"))
    if call == "deliver":
        pool.deliver(node, str(request.get("source")), request.get("message"))
    elif call == "submit":
        pool.submit(node, request.get("request"), request.get("value"))
    elif call == "connections":
        connected = request.get("connected")
        if not isinstance(connected, list):
            raise Refused("connections.connected: a list of node names")
        pool.replicas[node]._network.update_connecteds({str(c) for c in connected})
    elif call == "boot" and request.get("persisted"):
        raise Refused(
            "boot: plenum's simulated replicas keep nothing durable (no restart from disk)"
        )
    # fire: the timer was set to `now` above, which ran what was due
    return {"done": pool.done(node)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bug", action="append", default=[], help=f"one of {', '.join(BUGS)}")
    args = parser.parse_args(argv)
    unknown = [b for b in args.bug if b not in BUGS]
    if unknown:
        parser.exit(2, f"driver.py: no bug {unknown[0]!r} (known: {', '.join(BUGS)})\n")
    # plenum logs every step through the root logger; stdout is for the answers alone
    logging.disable(logging.WARNING)
    import old_releases  # beside this file: what 1.12.1 imports that .venv-plenum lacks

    old_releases.install()
    from plenum.server.suspicion_codes import Suspicions

    PRIMARY_SUSPICIONS.update(getattr(Suspicions, name).code for name in PRIMARY_SUSPICION_NAMES)
    _patch()
    return serve(args.bug)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
