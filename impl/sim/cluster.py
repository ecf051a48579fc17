"""The cluster: the nodes, their durable stores, and what happens at one node.

Processing an event at a node: the core's `step(event)` returns its effects; the cluster checks the
persist-before-send order (`check_effects`), then applies them in order: `Persist` to the node's durable
store (storage.py), `Send` onto the network (network.py; with a latency, maybe a delay fault),
`SetTimer` into the queue (scheduler.py; scaled by the node's clock rate: per-node skew), `Apply` to
the safety checker (checker.py), `Reply` into the run's record and to the workload's client
(workload.py). A crash may hit between two effects: what was applied stays, the rest is lost, and the
node object (its volatile state) is replaced by a new one built from the durable store alone.

Every spec action taken here goes to the trace recorder (recorder.py). A crash in the middle of a step
is written as steps the spec has: if the step's `Persist` was lost, `Restart(i)` and then the
delivered message dropped; otherwise the whole step, the sends the crash prevented dropped, then
`Restart(i)`. A plug-in whose spec has a crash and a restart as two steps, and partitions and heals
as steps (gossip), says so in its `fault_steps`: the recovery is then recorded too (the node's boot
actions, each a step), and so are the network's partitions and heals (`_network_step`).

`Simulator` (simulator.py) is this plus what drives it: the run loop, fault phases and chaos rounds,
the workload's rounds, and the operations tests and lockstep drivers call.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Generic

import attrs

from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Invoke
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import check_effects
from meshcheck.impl.base.effects import without_actions
from meshcheck.impl.base.errors import ContractViolation
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.node import AppliedState
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.sim.checker import SafetyChecker
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.config import message_kind
from meshcheck.impl.sim.faults import FaultInjector
from meshcheck.impl.sim.history import WORKLOAD
from meshcheck.impl.sim.history import HistoryRecorder
from meshcheck.impl.sim.lockstep import LockstepHooks
from meshcheck.impl.sim.network import Envelope
from meshcheck.impl.sim.network import Network
from meshcheck.impl.sim.protocol import N
from meshcheck.impl.sim.protocol import Plugin
from meshcheck.impl.sim.protocol import Segment
from meshcheck.impl.sim.recorder import TraceRecorder
from meshcheck.impl.sim.scheduler import Kind
from meshcheck.impl.sim.scheduler import Scheduler
from meshcheck.impl.sim.storage import Durable
from meshcheck.impl.sim.workload import Client


class Cluster(Generic[N]):
    """The nodes of one simulation and the parts they act on."""

    def __init__(self, plugin: Plugin[N], node_ids: Sequence[str], config: SimConfig) -> None:
        if len(set(node_ids)) != len(node_ids) or not node_ids:
            raise ImplError(f"a cluster needs distinct node ids, got {list(node_ids)}")
        self.plugin = plugin
        self._config = config
        self.node_ids: tuple[str, ...] = tuple(node_ids)
        self.rng = random.Random(config.seed)
        self.scheduler = Scheduler()
        self.network = Network()
        self.durable: dict[str, Durable] = {i: Durable() for i in self.node_ids}
        self.nodes: dict[str, N] = {}
        self.up: dict[str, bool] = {i: True for i in self.node_ids}
        # each node's clock rate in percent: its timers run this much slower (skew)
        self.rate = {i: self.rng.randint(*config.skew) for i in self.node_ids}
        self.incarnation = dict.fromkeys(self.node_ids, 0)
        self.faults = FaultInjector(self.rng, self.node_ids, config.phases[0][1])
        self.client = (
            Client(config.workload, self.node_ids, random.Random(f"{config.seed}:client"))
            if config.workload is not None
            else None
        )
        # what happened, for tests and benchmarks
        self.events = 0  # events processed by nodes
        self.sent = 0
        self.checker = SafetyChecker(self.node_ids)
        self.replies: list[tuple[str, Reply]] = []
        # the client history (history.py): None when the config turns it off
        self.history: HistoryRecorder | None = HistoryRecorder() if config.history else None
        # each request handed to a node is one client operation of the history, its reply the
        # completion; a client that sends one operation to several nodes and decides from their
        # answers (the hybrid layer's, impl/hybrid/consensus.py) turns this off and records its
        # operations in `history` itself
        self.requests_are_ops = True
        self.fault_log: list[str] = []
        self.fault_counts: dict[str, int] = {"drop": 0, "duplicate": 0, "restart": 0}
        self.lockstep = LockstepHooks()
        # called after every step of every node, the `Restart` that (re)builds one included, with
        # (node id, the node object, the event as the node got it, the effects it returned): an
        # observer only (property_tests/restarts.py shadows each restarted node with a fresh one)
        self.watchers: list[StepWatcher[N]] = []
        self.recorder = TraceRecorder(plugin.name, plugin.message_record, config.record)

        self._envelope_ids = 0
        # node -> crash during its next step, after k effects (None: a random k)
        self._armed: dict[str, int | None] = {}
        self._down_for: dict[str, int] = {}  # node -> ticks it stays down once the armed crash hits
        self._pending_boot: dict[str, list[Effect]] = {}
        # the nodes stepped or rebuilt since the abstract state was last mapped: a plug-in with
        # `abstract_state_since` maps only what those changed when the recorder asks (`_abstract`)
        self._touched: set[str] = set()
        self._since = getattr(plugin, "abstract_state_since", None)

        for i in self.node_ids:
            node = plugin.new_node(i, self._node_rng(i))
            self.nodes[i] = node
            self._apply_plain(i, self._step(i, node, Restart({})))
        self.recorder.init(self._abstract())

    @property
    def config(self) -> SimConfig:
        """The settings the run was built with (read-only: fault settings that change during a run
        are `Phases`)."""
        return self._config

    @property
    def now(self) -> int:
        """The simulated time, in ticks."""
        return self.scheduler.now

    def recover(self, node: str) -> None:
        """Bring a crashed node back up (it restarted from its durable store when it crashed)."""
        if self.up[node]:
            return
        self.up[node] = True
        self._touched.add(node)  # up again: what the mapping reads of it may change
        self._note(f"recover {node}")
        boot = self._pending_boot.pop(node, [])
        if not (self.recorder.enabled and "recover" in self._fault_steps):
            self._apply_plain(node, boot)
            return
        # The plug-in records the recovery as a spec step (`fault_steps`): the boot's actions
        # (its own first: a Restart, then what it sends), each recorded as the run goes
        check_effects(node, boot)
        for segment in self.plugin.split(node, Restart(self.durable[node].view()), boot):
            for effect in segment.effects:
                if isinstance(effect, Send):
                    if not self._withhold(node, effect.message):
                        self._send(node, effect)
                else:
                    self._apply_one(node, effect)
            action, params = segment.action, segment.params
            if action is None:
                action, params = self.plugin.fault_step("recover", node)
            self._record_step(action, params, node, "recover")

    @property
    def _fault_steps(self) -> frozenset[str]:
        """The faults beyond drop, duplicate and crash that the plug-in names a spec step for
        ("recover", "partition", "heal"): none unless it says (its `fault_steps`)."""
        return frozenset(getattr(self.plugin, "fault_steps", ()))

    def _network_step(self, kind: str) -> None:
        """A partition or a heal ("partition", "heal") as the plug-in's spec step, if it names one."""
        if self.recorder.enabled and kind in self._fault_steps:
            action, params = self.plugin.fault_step(kind, None)
            self._record_step(action, params, "", kind, fault=kind)

    def local_time(self, node_id: str) -> int:
        """`node_id`'s clock now: ticks at its own rate (a skewed clock runs slow or fast)."""
        return self.now * 100 // self.rate[node_id]

    # -- processing one event ------------------------------------------------------------------------

    def _require_up(self, node: str) -> None:
        if node not in self.up:
            raise ImplError(f"no node {node!r} (nodes: {', '.join(self.node_ids)})")
        if not self.up[node]:
            raise ImplError(f"{node} is down")

    def _envelope(self, envelope_id: int) -> Envelope:
        envelope = self.network.get(envelope_id)
        if envelope is None:
            raise ImplError(f"no message {envelope_id} in flight")
        return envelope

    def _step(self, node_id: str, node: N, event: Any) -> list[Effect]:
        # Time reaches a core only inside its events: an event with a `now` field carries the
        # node's clock reading (for logs such as PBFT's audit records; a core never reads a clock).
        self._touched.add(node_id)
        kind = type(event)
        timed = _TIMED.get(kind)
        if timed is None:
            timed = _TIMED[kind] = attrs.has(kind) and hasattr(event, "now")
        if timed:
            now = self.local_time(node_id)
            if event.now != now:  # a delivery is built with it already (`_deliver`)
                event = attrs.evolve(event, now=now)
        effects = node.step(event)
        for watch in self.watchers:
            watch(node_id, node, event, effects)
        return effects

    def _process(self, node_id: str, event: Any, envelope: Envelope | None = None) -> None:
        node = self.nodes[node_id]
        reported = self._step(node_id, node, event)
        effects = without_actions(reported)  # `Action`s name the step (split); nothing to carry out
        if (
            self.history is not None
            and self.requests_are_ops
            and isinstance(event, ClientRequest | ClientRead)
            and not any(isinstance(e, Invoke) for e in effects)  # not a client core's own request
        ):
            self._invoked(node_id, event)
        self.events += 1
        persist_at = check_effects(node_id, effects)
        crash_at: int | None = None
        if node_id in self._armed:
            arm = self._armed.pop(node_id)
            crash_at = arm if arm is not None else self.rng.randint(0, len(effects))
        recording = self.recorder.enabled
        # the event's label is for the trace and the fault log only: built when one is written
        # (a recorded step keeps the event and builds its label when the trace is built)
        label = _describe(event, envelope) if crash_at is not None else ""
        if crash_at is not None and persist_at is not None and crash_at <= persist_at:
            # Nothing of the step became durable: the same as a crash just before the event.
            self._crash(node_id, "crash before persist", event=label)
            if envelope is not None:
                self._drop(envelope, "lost in crash")
            return
        if envelope is not None:
            self._take(envelope)
        # Without a trace nobody looks at the spec actions: one segment, and no records to build.
        if recording:
            segments = self.plugin.split(node_id, event, reported)
            if sum(len(s.effects) for s in segments) != len(effects):
                raise ContractViolation(
                    f"{self.plugin.name}: split() lost or invented effects of "
                    f"{_describe(event, envelope)}"
                )
        else:
            segments = [Segment(None, _NO_PARAMS, tuple(effects))]
        k = 0
        applied = 0
        unsent: list[Envelope] = []
        for segment in segments:
            for effect in segment.effects:
                lost = crash_at is not None and k >= crash_at
                if isinstance(effect, Send) and self._withhold(node_id, effect.message):
                    pass
                elif isinstance(effect, Send):
                    sent = self._send(node_id, effect)
                    if lost:
                        unsent.append(sent)
                elif not lost:
                    self._apply_one(node_id, effect)
                    applied += isinstance(effect, Apply)
                k += 1
            self.plugin.after_step(node_id, event, self.nodes)
            if recording:
                self._record_step(
                    segment.action, segment.params, node_id, label or Label(event, envelope)
                )
        core: object = node  # a core may offer the optional AppliedState hook
        if (
            applied
            and crash_at is None
            and self.history is not None
            and isinstance(core, AppliedState)
        ):
            # the core applied the step's entries before returning: its state is the last one's
            self.checker.note_state(node_id, core.applied_state())
        if crash_at is not None:
            for sent in unsent:
                self._drop(sent, "crash before send")
            self._crash(node_id, "crash mid-step", event=label)

    def _apply_plain(self, node_id: str, effects: Sequence[Effect]) -> None:
        check_effects(node_id, effects)
        for effect in effects:
            if isinstance(effect, Send):
                if not self._withhold(node_id, effect.message):
                    self._send(node_id, effect)
            else:
                self._apply_one(node_id, effect)

    def _withhold(self, node_id: str, message: Any) -> bool:
        hooks = self.lockstep
        return hooks.send_filter is not None and hooks.withhold(node_id, message)

    def _apply_one(self, node_id: str, effect: Effect) -> None:
        if isinstance(effect, Persist):
            self.durable[node_id].apply(effect.writes)
        elif isinstance(effect, SetTimer):
            after = -(-effect.after * self.rate[node_id] // 100)  # ceiling: a skewed clock
            self.scheduler.set_timer(node_id, effect.timer, after)
        elif isinstance(effect, CancelTimer):
            self.scheduler.cancel_timer(node_id, effect.timer)
        elif isinstance(effect, Apply):
            self.checker.on_apply(
                node_id,
                effect.index,
                effect.value,
                incarnation=self.incarnation[node_id],
                time=self.now,
            )
        elif isinstance(effect, Reply):
            self.replies.append((node_id, effect))
            if self.client is not None:
                self.client.on_reply(node_id, effect)
            if self.history is not None and self.requests_are_ops:
                # a client core answers its own request; any other node the workload's client
                own = self.history.is_open(node_id, effect.request_id)
                self.history.complete(node_id if own else WORKLOAD, effect, self.now)
        elif isinstance(effect, Invoke):
            if self.history is not None:
                self.history.invoke(
                    node_id, effect.request_id, "write", effect.value, None, self.now
                )
        elif isinstance(effect, Send):  # pragma: no cover - sends go through _send
            self._send(node_id, effect)

    def _send(self, node_id: str, send: Send) -> Envelope:
        if send.dest not in self.up:
            raise ContractViolation(f"{node_id} sent to unknown node {send.dest!r}")
        now = self.scheduler.now
        latency = self.rng.randint(*self._config.latency)
        delayed = self.faults.delay(node_id, send.dest, send.message, now)
        self._envelope_ids += 1
        envelope = Envelope(
            self._envelope_ids,
            node_id,
            send.dest,
            send.message,
            now,
            now + latency + delayed,
            delayed,
        )
        self._put(envelope)
        self.sent += 1
        return envelope

    def _deliver(self, envelope: Envelope) -> None:
        dest = envelope.dest
        event = Deliver(envelope.source, envelope.message, self.local_time(dest))
        self._process(dest, event, envelope)

    def _drop(self, envelope: Envelope, why: str) -> None:
        if self.network.get(envelope.id) is None:
            return
        record = self.recorder.record(envelope.id)
        self._take(envelope)
        self.fault_counts["drop"] += 1
        if self.recorder.enabled:
            action, params = self.plugin.fault_step("drop", record)
            self._record_step(action, params, envelope.dest, f"message {envelope.id}", fault=why)

    def _duplicate(self, envelope: Envelope) -> Envelope:
        self._envelope_ids += 1
        latency = self.rng.randint(*self._config.latency)
        copy = Envelope(
            self._envelope_ids,
            envelope.source,
            envelope.dest,
            envelope.message,
            self.now,
            self.now + latency,
            copy_of=envelope.id,
        )
        self._put(copy)
        self.fault_counts["duplicate"] += 1
        if self.recorder.enabled:
            action, params = self.plugin.fault_step("duplicate", self.recorder.record(copy.id))
            self._record_step(
                action, params, envelope.dest, f"message {envelope.id}", fault="duplicate"
            )
        return copy

    def _put(self, envelope: Envelope) -> None:
        self.network.put(envelope)
        self.scheduler.schedule_at(envelope.deliver_at, Kind.DELIVER, envelope.id)
        if self.recorder.enabled:
            self.recorder.put(envelope)

    def _take(self, envelope: Envelope) -> None:
        self.network.take(envelope.id)
        if self.recorder.enabled:
            self.recorder.take(envelope)

    def _crash(self, node_id: str, why: str, *, event: str = "") -> None:
        """The node loses its memory: a new node object is built from its durable store at once (so
        the refinement of a down node is what it will restart with), and comes up on `recover`."""
        self.up[node_id] = False
        self._armed.pop(node_id, None)
        if node_id in self._down_for:  # a chaos crash: the node comes back by itself
            self._schedule(self._down_for.pop(node_id), Kind.RECOVER, node_id)
        self.scheduler.cancel_timers(node_id)
        self.incarnation[node_id] += 1
        node = self.plugin.new_node(node_id, self._node_rng(node_id))
        self.nodes[node_id] = node
        self._touched.add(node_id)
        restart = Restart(self.durable[node_id].view())
        self._pending_boot[node_id] = self._step(node_id, node, restart)
        self.fault_counts["restart"] += 1
        self.plugin.after_step(node_id, restart, self.nodes)
        self._note(f"{why} {node_id}" + (f" during {event}" if event else ""))
        if self.recorder.enabled:
            action, params = self.plugin.fault_step("restart", node_id)
            self._record_step(action, params, node_id, "crash", fault=why)

    def _invoked(self, node_id: str | None, event: ClientRequest | ClientRead) -> None:
        """The workload's client (or a driver) sent `event` to `node_id` (None: to no node)."""
        assert self.history is not None
        if isinstance(event, ClientRequest):
            self.history.invoke(WORKLOAD, event.request_id, "write", event.value, node_id, self.now)
        else:
            self.history.invoke(WORKLOAD, event.request_id, "read", event.query, node_id, self.now)

    def node_seed(self, node_id: str) -> str:
        """The seed of the random generator `node_id`'s current incarnation was built with (a node
        rebuilt after a crash gets a generator of its own, seeded by its incarnation)."""
        return f"{self._config.seed}:{node_id}:{self.incarnation[node_id]}"

    def _node_rng(self, node_id: str) -> random.Random:
        return random.Random(self.node_seed(node_id))

    # -- queue and trace -------------------------------------------------------------------------------

    def _schedule(self, after: int, kind: int, a: Any = None) -> None:
        self.scheduler.schedule(after, kind, a)

    def _note(self, text: str) -> None:
        self.fault_log.append(f"t={self.now} {text}")
        self.recorder.note(text)

    def _abstract(self, *, since: bool = False) -> FrozenDict:
        """The refinement mapping now; `since` (the recorder, after an action of this cluster's):
        by the plug-in's `abstract_state_since` if it has one, told which nodes stepped."""
        bag = self.recorder.bag(self.network)
        touched, self._touched = self._touched, set()
        if since and self._since is not None:
            state: FrozenDict = self._since(self.nodes, bag, self.fault_counts, touched)
            return state
        return self.plugin.abstract_state(self.nodes, bag, self.fault_counts)

    def _abstract_since(self) -> FrozenDict:
        return self._abstract(since=True)

    def _record_step(
        self,
        action: str | None,
        params: Mapping[str, Value],
        node: str,
        event: str | Label,
        fault: str = "",
    ) -> None:
        self.recorder.step(
            self._abstract_since, action, params, node=node, event=event, now=self.now, fault=fault
        )


# an observer of every step: (node id, node, event, effects), after the node returned them
StepWatcher = Callable[[str, N, Any, list[Effect]], None]

_TIMED: dict[type, bool] = {}  # event type -> whether it has a `now` field (`Cluster._step`)
_NO_PARAMS = FrozenDict()


class Label:
    """An event's label (`_describe`) not built yet: a recorded step keeps this, and the trace
    builds the text when it is asked for (the event and the envelope never change)."""

    __slots__ = ("envelope", "event")

    def __init__(self, event: Any, envelope: Envelope | None) -> None:
        self.event = event
        self.envelope = envelope

    def __str__(self) -> str:
        return _describe(self.event, self.envelope)


def _describe(event: Any, envelope: Envelope | None) -> str:
    """A short label of an event for a trace step's meta."""
    if isinstance(event, Deliver):
        number = f" #{envelope.id}" if envelope is not None else ""
        dest = envelope.dest if envelope else "?"
        return f"Deliver({message_kind(event.message)} {event.source}->{dest}{number})"
    if isinstance(event, Tick):
        return f"Tick({event.timer})"
    if isinstance(event, ClientRequest | ClientRead):
        text = repr(event)
        return text if len(text) <= 120 else text[:117] + "..."
    return type(event).__name__
