"""The deterministic simulator: one seeded random generator, a logical clock, and every fault.

Theory of operation. Time is an integer number of ticks; the queue (scheduler.py) holds what is due:
message deliveries, timer firings, client requests (workload.py), chaos rounds, heals, restarts and
fault phase switches, in time order, ties broken by the order they were scheduled. Every random
choice is drawn from one `random.Random(seed)` in a fixed order (and each node gets its own generator
derived from the seed by name), so the same seed gives the same run, byte for byte. When nothing is
due before the end of a `run(until=t)` (every node down, say), the clock moves to t.

The parts, as TigerBeetle's simulator splits its cluster, network and state checker: the cluster
(cluster.py) processes one event at one node and applies its effects; the network (network.py)
holds the messages in flight; the fault injector (faults.py) decides which messages are lost,
duplicated or delayed and, in chaos rounds, which node crashes and how the network splits, under the
settings of the current phase (`SimConfig.faults` as `Phases`); the safety checker (checker.py)
sees every applied entry; the recorder (recorder.py) writes the run as a trace in the spec's
vocabulary (`trace()`).

Lockstep drivers force particular actions through `deliver`, `drop`, `duplicate`, `fire`, `inject`,
`restart`, `crash` and `recover`, which record the same steps a free run would, and keep sends out of
the network with `send_filter` (lockstep.py). Scenario tests use the same operations, and
`recover_at` to bring a node back at a given time.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.sim.checker import AppliedEntry
from meshcheck.impl.sim.cluster import Cluster
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.lockstep import SendFilter
from meshcheck.impl.sim.network import Envelope
from meshcheck.impl.sim.protocol import N
from meshcheck.impl.sim.protocol import Plugin
from meshcheck.impl.sim.scheduler import Kind


class Simulator(Cluster[N]):
    """A cluster of protocol nodes under one seed: the one entry point of the simulator."""

    def __init__(self, plugin: Plugin[N], node_ids: Sequence[str], config: SimConfig) -> None:
        super().__init__(plugin, node_ids, config)
        self._phases = config.phases
        self._partitioned = False
        self._partitions = 0  # chaos partitions made (a heal from an earlier one is stale)
        self._chaos_chain = 0  # chaos rounds carry their chain's number; a calm phase ends a chain
        self._chaos_running = False
        if self.faults.faults.any_chaos:
            self._start_chaos()
        if self.client is not None:
            self._schedule(config.workload.every if config.workload else 1, Kind.CLIENT)
        for index, (at, _faults) in enumerate(self._phases[1:], start=1):
            self.scheduler.schedule_at(at, Kind.PHASE, index)

    # -- the public view of the parts ---------------------------------------------------------------

    @property
    def max_down(self) -> int:
        """How many nodes chaos may have down at once, in the current phase."""
        return self.faults.max_down

    @property
    def applied(self) -> dict[str, list[AppliedEntry]]:
        """Per node, the entries it applied in the order it applied them, across restarts."""
        return self.checker.applied

    @property
    def applied_by_index(self) -> dict[str, dict[int, Any]]:
        """Per node, the last value it applied at each index."""
        return self.checker.applied_by_index

    @property
    def first_applied(self) -> dict[int, Any]:
        return self.checker.first_applied

    @property
    def divergences(self) -> list[tuple[str, int, Any, Any]]:
        """(node, index, the value first applied there, this node's value): State Machine Safety."""
        return self.checker.divergences

    @property
    def send_filter(self) -> SendFilter | None:
        """A lockstep driver's filter: a send it refuses never reaches the network (lockstep.py)."""
        return self.lockstep.send_filter

    @send_filter.setter
    def send_filter(self, value: SendFilter | None) -> None:
        self.lockstep.send_filter = value

    @property
    def withheld(self) -> int:
        return self.lockstep.withheld

    @property
    def partitions(self) -> int:
        """The partitions chaos made so far, one-way or both ways (the crashes are
        `fault_counts["restart"]`)."""
        return self._partitions

    # -- running ------------------------------------------------------------------------------------

    def run(
        self,
        *,
        until: int | None = None,
        max_events: int | None = None,
        stop: Callable[[Simulator[N]], bool] | None = None,
    ) -> int:
        """Process what is due in time order; stop at time `until` (the clock then reads `until`,
        even when nothing was due), after `max_events` queue entries, when `stop(sim)` holds, or when
        nothing is left. Returns the number of entries processed."""
        done = 0
        while max_events is None or done < max_events:
            entry = self.scheduler.pop_due(until)
            if entry is None:
                break
            self._dispatch(*entry)
            done += 1
            if stop is not None and stop(self):
                break
        return done

    def _dispatch(self, kind: int, a: Any, b: Any) -> None:
        if kind == Kind.DELIVER:
            envelope = self.network.get(a)
            if envelope is not None:
                self._due(envelope)
        elif kind == Kind.TIMER:
            node, timer = a
            if self.scheduler.take_timer(a, b) and self.up[node]:
                self._process(node, Tick(timer))
        elif kind == Kind.CLIENT:
            self._client_round()
        elif kind == Kind.CHAOS:
            if a == self._chaos_chain:
                self._chaos_round()
        elif kind == Kind.HEAL:
            # A heal is stale when a later chaos partition replaced its own, or when the end of
            # the faults (`_end_chaos`) healed the network already: a "heal" in the fault log after
            # "faults end" would read as a partition that outlived the faults, and none does.
            if a == self._partitions and self._partitioned:
                self.network.heal()
                self._partitioned = False
                self._note("heal")
                self._network_step("heal")
        elif kind == Kind.RECOVER:
            self.recover(a)
        elif kind == Kind.PHASE:
            self._enter_phase(a)

    def _due(self, envelope: Envelope) -> None:
        """A message's delivery time came: the network faults strike here, or it is delivered."""
        source, dest, message = envelope.source, envelope.dest, envelope.message
        now = self.scheduler.now
        if not self.up[dest]:
            self._drop(envelope, "dest down")
        elif not self.network.reachable(source, dest):
            self._drop(envelope, "partition")
        elif self.faults.drops(source, dest, message, now):
            self._drop(envelope, "drop")
        else:
            if self.faults.duplicates(source, dest, message, now):
                self._duplicate(envelope)
            self._deliver(envelope)

    # -- lockstep and scenario operations -----------------------------------------------------------

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
        self.scheduler.cancel_timer(node, timer)
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

    def recover_at(self, node: str, at: int) -> None:
        """Bring `node` back up at time `at` (if it is down then); the clock runs on to it even
        when nothing else is due."""
        if node not in self.up:
            raise ImplError(f"no node {node!r} (nodes: {', '.join(self.node_ids)})")
        if at < self.now:
            raise ImplError(f"cannot schedule a recovery at t={at}: the time is t={self.now}")
        self.scheduler.schedule_at(at, Kind.RECOVER, node)

    def restart(self, node: str) -> None:
        """Crash and recover at once: the spec's Restart(i)."""
        self.crash(node)
        self.recover(node)

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        groups = [sorted(g) for g in groups]
        self.network.partition(groups)
        self._note("partition " + " | ".join(",".join(g) for g in groups))
        self._network_step("partition")

    def cut(self, source: str, dest: str) -> None:
        self.network.cut(source, dest)
        self._note(f"cut {source}->{dest}")

    def heal(self) -> None:
        self.network.heal()
        self._note("heal")
        self._network_step("heal")

    def timer_pending(self, node: str, timer: str) -> bool:
        return self.scheduler.timer_pending(node, timer)

    # -- results ------------------------------------------------------------------------------------

    def trace(self) -> Trace:
        """The run so far in the spec's vocabulary (empty of steps when recording is off)."""
        meta = {
            "source": "impl",
            "protocol": self.plugin.name,
            "seed": self._config.seed,
            "nodes": self.node_ids,
            "faults": tuple(self.fault_log),
        }
        return self.recorder.trace(self.plugin.variables, meta)

    def trace_length(self) -> int:
        """`len(self.trace().steps)`, without building the trace: where a caller's next event's
        steps will start."""
        return len(self.recorder)

    def abstract_state(self) -> FrozenDict:
        """The refinement mapping of the cluster now."""
        return self._abstract()

    # -- internals: phases, chaos and clients -------------------------------------------------------

    def _enter_phase(self, index: int) -> None:
        faults = self._phases[index][1]
        self.faults.enter(faults)
        self._note(f"phase {index}")
        if not faults.any_chaos:
            self._chaos_chain += 1  # the rounds still queued are stale
            self._chaos_running = False
            self._end_chaos("calm")
        elif not self._chaos_running:
            self._start_chaos()

    def _start_chaos(self) -> None:
        self._chaos_running = True
        self._schedule(self.faults.faults.chaos_every, Kind.CHAOS, self._chaos_chain)

    def _end_chaos(self, why: str) -> None:
        """End every fault in force: crashes armed are called off, the network heals, and every
        crashed node comes back up."""
        for node in list(self._down_for):  # chaos crashes armed that have not struck yet
            self._armed.pop(node, None)
        self._down_for.clear()
        self.network.heal()
        self._partitioned = False
        self._note(why)
        self._network_step("heal")
        for node in self.node_ids:
            self.recover(node)  # nothing for a node that is up

    def _chaos_round(self) -> None:
        faults: Faults = self.faults.faults
        if not faults.active(self.now):
            # Faults.until has come: end every fault still in force, and schedule no more rounds.
            self._chaos_running = False
            self._end_chaos("faults end")
            return
        self._schedule(faults.chaos_every, Kind.CHAOS, self._chaos_chain)
        crash = self.faults.crash([i for i in self.node_ids if self.up[i] and i not in self._armed])
        if crash is not None:
            self._armed[crash.victim] = None
            self._down_for[crash.victim] = crash.down_for
        split = self.faults.partition(self._partitioned)
        if split is not None:
            if split.one_way:
                for a in split.side_a:
                    for b in split.side_b:
                        self.network.cut(a, b)
                self._note(f"cut {','.join(split.side_a)} -> {','.join(split.side_b)}")
            else:
                self.partition([split.side_a, split.side_b])
            self._partitioned = True
            self._partitions += 1
            self._schedule(split.heal_after, Kind.HEAL, self._partitions)

    def _client_round(self) -> None:
        assert self.client is not None
        if not self.client.due(self.now):
            return
        self._schedule(self.client.workload.every, Kind.CLIENT)
        request = self.client.next_request([i for i in self.node_ids if self.up[i]])
        if request is not None:
            node, event = request
            if self.up[node]:
                self._process(node, event)
            elif (
                self.history is not None and self.requests_are_ops
            ):  # lost on its way: it may never be answered
                self._invoked(node, event)
