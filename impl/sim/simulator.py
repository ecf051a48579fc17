"""The deterministic simulator: one seeded random generator, a logical clock, and every fault.

Theory of operation. Time is an integer number of ticks. A priority queue holds what is due: message
deliveries, timer firings, client requests, chaos rounds (crashes, partitions) and restarts, ordered by
(time, sequence number), so ties are broken by the order things were scheduled and never by hashing.
Every random choice is drawn from one `random.Random(seed)` in a fixed order (and each node gets its own
generator derived from the seed by name), so the same seed gives the same run, byte for byte.

Processing an event at a node: the core's `step(event)` returns its effects; the simulator checks the
persist-before-send order (`check_effects`), then applies them in order: `Persist` to the node's durable
store, `Send` onto the network (with a latency, maybe a delay fault), `SetTimer` into the queue (scaled by
the node's clock rate: per-node skew), `Apply` and `Reply` into the run's record. A crash may hit between
two effects: what was applied stays, the rest is lost, and the node object (its volatile state) is
replaced by a new one built from the durable store alone.

The trace (`trace()`) is the run in the spec's vocabulary: after each spec action (a `Segment` of a
step, a dropped or duplicated message, a restart) the plugin's refinement mapping gives the abstract
state; steps that leave it unchanged are stutters and are not recorded. A crash in the middle of a step
is written as steps the spec has: if the step's `Persist` was lost, `Restart(i)` and then the delivered
message dropped; otherwise the whole step, the sends the crash prevented dropped, then `Restart(i)`.

Lockstep drivers force particular actions through `deliver`, `drop`, `duplicate`, `fire`, `inject`,
`restart`, `crash` and `recover`, which record the same steps a free run would.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic

import attrs

from meshcheck.impl.base.effects import (
    Apply,
    CancelTimer,
    Effect,
    Persist,
    Reply,
    Send,
    SetTimer,
    check_effects,
    without_actions,
)
from meshcheck.impl.base.errors import ContractViolation, ImplError
from meshcheck.impl.base.events import ClientRead, ClientRequest, Deliver, Restart, Tick
from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.impl.sim.client import Client
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.network import Envelope, Network
from meshcheck.impl.sim.protocol import N, Plugin, Segment
from meshcheck.impl.sim.storage import Durable
from meshcheck.traces.model import INIT, Step, Trace

# kinds of queue entries
_DELIVER, _TIMER, _CLIENT, _CHAOS, _HEAL, _RECOVER = range(6)


class Simulator(Generic[N]):
    """A cluster of protocol nodes under one seed."""

    def __init__(self, plugin: Plugin[N], node_ids: Sequence[str], config: SimConfig) -> None:
        if len(set(node_ids)) != len(node_ids) or not node_ids:
            raise ImplError(f"a cluster needs distinct node ids, got {list(node_ids)}")
        self.plugin = plugin
        self.config = config
        self.node_ids: tuple[str, ...] = tuple(node_ids)
        self.rng = random.Random(config.seed)
        self.now = 0
        self.network = Network()
        self.durable: dict[str, Durable] = {i: Durable() for i in self.node_ids}
        self.nodes: dict[str, N] = {}
        self.up: dict[str, bool] = {i: True for i in self.node_ids}
        # each node's clock rate in percent: its timers run this much slower (skew)
        self.rate = {i: self.rng.randint(*config.skew) for i in self.node_ids}
        self.incarnation = dict.fromkeys(self.node_ids, 0)
        faults = config.faults
        self.max_down = faults.max_down if faults.max_down is not None else (len(node_ids) - 1) // 2
        self.client = (
            Client(config.workload, self.node_ids, random.Random(f"{config.seed}:client"))
            if config.workload is not None
            else None
        )
        # what happened, for tests and benchmarks
        self.events = 0  # events processed by nodes
        self.sent = 0
        self.applied: dict[str, dict[int, Any]] = {i: {} for i in self.node_ids}
        self.first_applied: dict[int, Any] = {}  # index -> the value first applied there, by anyone
        # (node, index, the value first applied there, this node's value): State Machine Safety
        self.divergences: list[tuple[str, int, Any, Any]] = []
        self.replies: list[tuple[str, Reply]] = []
        self.fault_log: list[str] = []
        self.fault_counts: dict[str, int] = {"drop": 0, "duplicate": 0, "restart": 0}
        # A lockstep driver sends only what the spec's step sends: a send this refuses (node,
        # message) never reaches the network, and is not a fault (`withheld` counts them).
        self.send_filter: Callable[[str, Any], bool] | None = None
        self.withheld = 0

        self._queue: list[tuple[int, int, int, Any, Any]] = []
        self._seq = 0
        self._envelope_ids = 0
        # (node, timer) -> the generation of the pending one (a replaced timer's entry is skipped)
        self._timers: dict[tuple[str, str], int] = {}
        self._timer_gen = 0
        # node -> crash during its next step, after k effects (None: a random k)
        self._armed: dict[str, int | None] = {}
        self._down_for: dict[str, int] = {}  # node -> ticks it stays down once the armed crash hits
        self._pending_boot: dict[str, list[Effect]] = {}
        self._partitioned = False
        # the trace
        self._record = config.record
        self._records: dict[int, Value] = {}  # envelope id -> message record
        self._bag: Counter[Value] = Counter()
        self._steps: list[Step] = []
        self._state: FrozenDict | None = None
        self._notes: list[str] = []  # faults to mention in the next recorded step

        for i in self.node_ids:
            node = plugin.new_node(i, self._node_rng(i))
            self.nodes[i] = node
            self._apply_plain(i, self._step(i, node, Restart({})))
        if self._record:
            self._state = self._abstract()
            self._steps.append(Step(self._state, INIT, FrozenDict(), FrozenDict({"time": 0})))
        if faults.any_chaos:
            self._schedule(faults.chaos_every, _CHAOS)
        if self.client is not None:
            self._schedule(config.workload.every if config.workload else 1, _CLIENT)

    # -- running ------------------------------------------------------------------------------------

    def run(
        self,
        *,
        until: int | None = None,
        max_events: int | None = None,
        stop: Callable[[Simulator[N]], bool] | None = None,
    ) -> int:
        """Process what is due in time order; stop at time `until`, after `max_events` queue entries,
        when `stop(sim)` holds, or when nothing is left. Returns the number of entries processed."""
        done = 0
        while self._queue:
            if max_events is not None and done >= max_events:
                break
            if until is not None and self._queue[0][0] > until:
                self.now = max(self.now, until)
                break
            at, _seq, kind, a, b = heapq.heappop(self._queue)
            self.now = max(self.now, at)
            self._dispatch(kind, a, b)
            done += 1
            if stop is not None and stop(self):
                break
        return done

    def _dispatch(self, kind: int, a: Any, b: Any) -> None:
        if kind == _DELIVER:
            envelope = self.network.get(a)
            if envelope is not None:
                self._due(envelope)
        elif kind == _TIMER:
            node, timer = a
            if self._timers.get(a) == b:
                del self._timers[a]
                if self.up[node]:
                    self._process(node, Tick(timer))
        elif kind == _CLIENT:
            self._client_round()
        elif kind == _CHAOS:
            self._chaos_round()
        elif kind == _HEAL:
            self.network.heal()
            self._partitioned = False
            self._note("heal")
        elif kind == _RECOVER:
            self.recover(a)

    def _due(self, envelope: Envelope) -> None:
        """A message's delivery time came: the network faults strike here, or it is delivered."""
        faults = self.config.faults
        active = faults.active(self.now)
        if not self.up[envelope.dest]:
            self._drop(envelope, "dest down")
        elif not self.network.reachable(envelope.source, envelope.dest):
            self._drop(envelope, "partition")
        elif active and faults.drop and self.rng.random() < faults.drop:
            self._drop(envelope, "drop")
        else:
            if active and faults.duplicate and self.rng.random() < faults.duplicate:
                self._duplicate(envelope)
            self._deliver(envelope)

    # -- lockstep operations ------------------------------------------------------------------------

    def in_flight(self) -> list[Envelope]:
        """Every message in flight, in sending order."""
        return list(self.network)

    def find(self, record: Value) -> list[Envelope]:
        """The envelopes in flight whose message is `record` in the spec's terms."""
        return [e for e in self.network if self.plugin.message_record(e.message) == record]

    def deliver(self, envelope_id: int) -> None:
        """Deliver this message now, whatever its delivery time, partitions or faults."""
        envelope = self._envelope(envelope_id)
        if not self.up[envelope.dest]:
            raise ImplError(f"cannot deliver message {envelope_id}: {envelope.dest} is down")
        self._deliver(envelope)

    def drop(self, envelope_id: int) -> None:
        """Lose this message (the spec's DropMessage)."""
        self._drop(self._envelope(envelope_id), "drop")

    def duplicate(self, envelope_id: int) -> int:
        """Put a second copy of this message in flight (DuplicateMessage); returns the copy's id."""
        return self._duplicate(self._envelope(envelope_id)).id

    def fire(self, node: str, timer: str) -> None:
        """Fire `node`'s timer now (pending or not): e.g. its election timeout."""
        self._require_up(node)
        self._timers.pop((node, timer), None)
        self._process(node, Tick(timer))

    def inject(self, node: str, event: Any) -> None:
        """Hand any event to `node` now (a client request, or a protocol's own event)."""
        self._require_up(node)
        self._process(node, event)

    def crash(self, node: str, *, after_effects: int | None = None) -> None:
        """Crash `node` now (after_effects=None), or during its next step after that many effects
        (more effects than the step has: after all of them)."""
        self._require_up(node)
        if after_effects is None:
            self._crash(node, "crash")
        else:
            self._armed[node] = after_effects

    def recover(self, node: str) -> None:
        """Bring a crashed node back up (it restarted from its durable store when it crashed)."""
        if self.up[node]:
            return
        self.up[node] = True
        self._note(f"recover {node}")
        self._apply_plain(node, self._pending_boot.pop(node, []))

    def restart(self, node: str) -> None:
        """Crash and recover at once: the spec's Restart(i)."""
        self.crash(node)
        self.recover(node)

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        groups = [sorted(g) for g in groups]
        self.network.partition(groups)
        self._note("partition " + " | ".join(",".join(g) for g in groups))

    def cut(self, source: str, dest: str) -> None:
        self.network.cut(source, dest)
        self._note(f"cut {source}->{dest}")

    def heal(self) -> None:
        self.network.heal()
        self._note("heal")

    def timer_pending(self, node: str, timer: str) -> bool:
        return (node, timer) in self._timers

    # -- results ------------------------------------------------------------------------------------

    def trace(self) -> Trace:
        """The run so far in the spec's vocabulary (empty of steps when recording is off)."""
        meta = {
            "source": "impl",
            "protocol": self.plugin.name,
            "seed": self.config.seed,
            "nodes": self.node_ids,
            "faults": tuple(self.fault_log),
        }
        return Trace(vars=self.plugin.variables, steps=tuple(self._steps), meta=FrozenDict(meta))

    def abstract_state(self) -> FrozenDict:
        """The refinement mapping of the cluster now."""
        return self._abstract()

    # -- internals: processing one event ------------------------------------------------------------

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

    def local_time(self, node_id: str) -> int:
        """`node_id`'s clock now: ticks at its own rate (a skewed clock runs slow or fast)."""
        return self.now * 100 // self.rate[node_id]

    def _step(self, node_id: str, node: N, event: Any) -> list[Effect]:
        # Time reaches a core only inside its events: an event with a `now` field carries the
        # node's clock reading (for logs such as PBFT's audit records; a core never reads a clock).
        if attrs.has(type(event)) and hasattr(event, "now"):
            event = attrs.evolve(event, now=self.local_time(node_id))
        return node.step(event)

    def _process(self, node_id: str, event: Any, envelope: Envelope | None = None) -> None:
        node = self.nodes[node_id]
        reported = self._step(node_id, node, event)
        effects = without_actions(reported)  # `Action`s name the step (split); nothing to carry out
        self.events += 1
        persist_at = check_effects(node_id, effects)
        crash_at: int | None = None
        if node_id in self._armed:
            arm = self._armed.pop(node_id)
            crash_at = arm if arm is not None else self.rng.randint(0, len(effects))
        label = _describe(event, envelope)
        if crash_at is not None and persist_at is not None and crash_at <= persist_at:
            # Nothing of the step became durable: the same as a crash just before the event.
            self._crash(node_id, "crash before persist", event=label)
            if envelope is not None:
                self._drop(envelope, "lost in crash")
            return
        if envelope is not None:
            self._take(envelope)
        # Without a trace nobody looks at the spec actions: one segment, and no records to build.
        segments = (
            self.plugin.split(node_id, event, reported)
            if self._record
            else [Segment(None, FrozenDict(), tuple(effects))]
        )
        if sum(len(s.effects) for s in segments) != len(effects):
            raise ContractViolation(
                f"{self.plugin.name}: split() lost or invented effects of {label}"
            )
        k = 0
        unsent: list[Envelope] = []
        for segment in segments:
            for effect in segment.effects:
                lost = crash_at is not None and k >= crash_at
                if isinstance(effect, Send) and self._withhold(node_id, effect):
                    pass
                elif isinstance(effect, Send):
                    sent = self._send(node_id, effect)
                    if lost:
                        unsent.append(sent)
                elif not lost:
                    self._apply_one(node_id, effect)
                k += 1
            self.plugin.after_step(node_id, event, self.nodes)
            self._record_step(segment.action, segment.params, node_id, label)
        if crash_at is not None:
            for sent in unsent:
                self._drop(sent, "crash before send")
            self._crash(node_id, "crash mid-step", event=label)

    def _apply_plain(self, node_id: str, effects: Sequence[Effect]) -> None:
        check_effects(node_id, effects)
        for effect in effects:
            if isinstance(effect, Send):
                if not self._withhold(node_id, effect):
                    self._send(node_id, effect)
            else:
                self._apply_one(node_id, effect)

    def _withhold(self, node_id: str, send: Send) -> bool:
        if self.send_filter is None or self.send_filter(node_id, send.message):
            return False
        self.withheld += 1
        return True

    def _apply_one(self, node_id: str, effect: Effect) -> None:
        if isinstance(effect, Persist):
            self.durable[node_id].apply(effect.writes)
        elif isinstance(effect, SetTimer):
            self._timer_gen += 1
            key = (node_id, effect.timer)
            self._timers[key] = self._timer_gen
            after = -(-effect.after * self.rate[node_id] // 100)  # ceiling: a skewed clock
            self._schedule(after, _TIMER, key, self._timer_gen)
        elif isinstance(effect, CancelTimer):
            self._timers.pop((node_id, effect.timer), None)
        elif isinstance(effect, Apply):
            self.applied[node_id][effect.index] = effect.value
            first = self.first_applied.setdefault(effect.index, effect.value)
            if first != effect.value:
                self.divergences.append((node_id, effect.index, first, effect.value))
        elif isinstance(effect, Reply):
            self.replies.append((node_id, effect))
            if self.client is not None:
                self.client.on_reply(node_id, effect)
        elif isinstance(effect, Send):  # pragma: no cover - sends go through _send
            self._send(node_id, effect)

    def _send(self, node_id: str, send: Send) -> Envelope:
        if send.dest not in self.up:
            raise ContractViolation(f"{node_id} sent to unknown node {send.dest!r}")
        latency = self.rng.randint(*self.config.latency)
        faults = self.config.faults
        delayed = 0
        if faults.delay and faults.active(self.now) and self.rng.random() < faults.delay:
            delayed = self.rng.randint(*faults.delay_ticks)
        self._envelope_ids += 1
        envelope = Envelope(
            self._envelope_ids,
            node_id,
            send.dest,
            send.message,
            self.now,
            self.now + latency + delayed,
            delayed,
        )
        self._put(envelope)
        self.sent += 1
        return envelope

    def _deliver(self, envelope: Envelope) -> None:
        self._process(envelope.dest, Deliver(envelope.source, envelope.message), envelope)

    def _drop(self, envelope: Envelope, why: str) -> None:
        if self.network.get(envelope.id) is None:
            return
        record = self._records.get(envelope.id)
        self._take(envelope)
        self.fault_counts["drop"] += 1
        if self._record:
            action, params = self.plugin.fault_step("drop", record)
            self._record_step(action, params, envelope.dest, f"message {envelope.id}", fault=why)

    def _duplicate(self, envelope: Envelope) -> Envelope:
        self._envelope_ids += 1
        latency = self.rng.randint(*self.config.latency)
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
        if self._record:
            action, params = self.plugin.fault_step("duplicate", self._records[copy.id])
            self._record_step(
                action, params, envelope.dest, f"message {envelope.id}", fault="duplicate"
            )
        return copy

    def _put(self, envelope: Envelope) -> None:
        self.network.put(envelope)
        self._schedule_at(envelope.deliver_at, _DELIVER, envelope.id)
        if self._record:
            record = self.plugin.message_record(envelope.message)
            self._records[envelope.id] = record
            self._bag[record] += 1

    def _take(self, envelope: Envelope) -> None:
        self.network.take(envelope.id)
        if self._record:
            record = self._records.pop(envelope.id)
            self._bag[record] -= 1
            if not self._bag[record]:
                del self._bag[record]

    def _crash(self, node_id: str, why: str, *, event: str = "") -> None:
        """The node loses its memory: a new node object is built from its durable store at once (so
        the refinement of a down node is what it will restart with), and comes up on `recover`."""
        self.up[node_id] = False
        self._armed.pop(node_id, None)
        if node_id in self._down_for:  # a chaos crash: the node comes back by itself
            self._schedule(self._down_for.pop(node_id), _RECOVER, node_id)
        for key in [k for k in self._timers if k[0] == node_id]:
            del self._timers[key]
        self.incarnation[node_id] += 1
        node = self.plugin.new_node(node_id, self._node_rng(node_id))
        self.nodes[node_id] = node
        restart = Restart(self.durable[node_id].view())
        self._pending_boot[node_id] = self._step(node_id, node, restart)
        self.fault_counts["restart"] += 1
        self.plugin.after_step(node_id, restart, self.nodes)
        self._note(f"{why} {node_id}" + (f" during {event}" if event else ""))
        if self._record:
            action, params = self.plugin.fault_step("restart", node_id)
            self._record_step(action, params, node_id, "crash", fault=why)

    def _node_rng(self, node_id: str) -> random.Random:
        return random.Random(f"{self.config.seed}:{node_id}:{self.incarnation[node_id]}")

    # -- internals: chaos and clients ---------------------------------------------------------------

    def _chaos_round(self) -> None:
        faults = self.config.faults
        if not faults.active(self.now):
            # Faults.until has come: end every fault still in force, and schedule no more rounds.
            for node in list(self._down_for):  # chaos crashes armed that have not struck yet
                self._armed.pop(node, None)
            self._down_for.clear()
            self.network.heal()
            self._partitioned = False
            self._note("faults end")
            for node in self.node_ids:
                self.recover(node)  # nothing for a node that is up
            return
        self._schedule(faults.chaos_every, _CHAOS)
        up = [i for i in self.node_ids if self.up[i] and i not in self._armed]
        down = len(self.node_ids) - len(up)
        crashable = [i for i in up if i not in faults.spare]
        if faults.crash and self.rng.random() < faults.crash and down < self.max_down and crashable:
            victim = self.rng.choice(crashable)
            self._armed[victim] = None
            self._down_for[victim] = self.rng.randint(*faults.down_ticks)
        if faults.partition and not self._partitioned and self.rng.random() < faults.partition:
            nodes = list(self.node_ids)
            self.rng.shuffle(nodes)
            cut = self.rng.randint(1, len(nodes) - 1) if len(nodes) > 1 else 1
            side_a, side_b = sorted(nodes[:cut]), sorted(nodes[cut:])
            if self.rng.random() < faults.one_way:
                for a in side_a:
                    for b in side_b:
                        self.network.cut(a, b)
                self._note(f"cut {','.join(side_a)} -> {','.join(side_b)}")
            else:
                self.partition([side_a, side_b])
            self._partitioned = True
            self._schedule(self.rng.randint(*faults.partition_ticks), _HEAL)

    def _client_round(self) -> None:
        assert self.client is not None
        workload = self.client.workload
        if workload.until is not None and self.now > workload.until:
            return
        self._schedule(workload.every, _CLIENT)
        request = self.client.next_request([i for i in self.node_ids if self.up[i]])
        if request is not None:
            node, event = request
            if self.up[node]:
                self._process(node, event)

    # -- internals: queue and trace -----------------------------------------------------------------

    def _schedule(self, after: int, kind: int, a: Any = None, b: Any = None) -> None:
        self._schedule_at(self.now + after, kind, a, b)

    def _schedule_at(self, at: int, kind: int, a: Any = None, b: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, kind, a, b))

    def _note(self, text: str) -> None:
        line = f"t={self.now} {text}"
        self.fault_log.append(line)
        if self._record:
            self._notes.append(text)

    def _abstract(self) -> FrozenDict:
        if self._record:
            bag = FrozenDict(self._bag)
        else:  # not kept up to date without a trace: count the envelopes in flight now
            bag = FrozenDict(Counter(self.plugin.message_record(e.message) for e in self.network))
        return self.plugin.abstract_state(self.nodes, bag, self.fault_counts)

    def _record_step(
        self,
        action: str | None,
        params: Mapping[str, Value],
        node: str,
        event: str,
        fault: str = "",
    ) -> None:
        if not self._record:
            return
        state = self._abstract()
        if state == self._state:
            return  # a stutter: nothing the spec can see changed
        if action is None:
            raise ContractViolation(
                f"{self.plugin.name}: {event} at {node} changed the abstract state but names no spec action"
            )
        meta: dict[str, Value] = {"node": node, "time": self.now, "event": event}
        if fault:
            meta["fault"] = fault
        if self._notes:
            meta["faults"] = tuple(self._notes)
            self._notes = []
        self._state = state
        self._steps.append(Step(state, action, FrozenDict(params), FrozenDict(meta)))


def _describe(event: Any, envelope: Envelope | None) -> str:
    """A short label of an event for a trace step's meta."""
    if isinstance(event, Deliver):
        number = f" #{envelope.id}" if envelope is not None else ""
        # a signed envelope (PBFT's) is named by what it carries
        message = getattr(event.message, "body", event.message)
        return f"Deliver({type(message).__name__} {event.source}->{envelope.dest if envelope else '?'}{number})"
    if isinstance(event, Tick):
        return f"Tick({event.timer})"
    if isinstance(event, ClientRequest | ClientRead):
        text = repr(event)
        return text if len(text) <= 120 else text[:117] + "..."
    return type(event).__name__
