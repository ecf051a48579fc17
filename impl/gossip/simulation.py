"""Gossip in the simulator (meshcheck.impl.sim): the plug-in and a cluster builder.

The cluster is `initial` nodes in the cluster from the start and `spares` outside it, which a test
or a free run brings in with `JoinVia(seed)` and out with `LeaveCluster()` (`sim.inject`). A status
write is the workload's `ClientRequest((key, value))`, a status read its `ClientRead(key)`
(`status_workload`).

The plug-in keeps what the refinement mapping (impl/gossip/refinement.py) needs beyond the nodes:
every write (`written`, for Gossip.tla's history variable and the checks' "no invented values"),
and which nodes are up (the simulator's own table, bound by `attach`). Observers (the free runs'
monitor, property_tests/gossip/) see each processed event once, after it, with the node's clock.

Spec actions of faults (Gossip.tla's, which take no parameter but the node): a lost message is
`LoseMessage`, a duplicate `DuplicateMessage`, a crash of a member `Crash(i)`, its recovery
`Restart(i)` (then the pulls it catches up with), a partition `Partition` and a heal `Heal` (the
plug-in's `fault_steps`: impl/sim/cluster.py records them). A message delivered to a node that is
not a member is lost (`LoseMessage`). What the run spent of the model's budgets (`Spent`: losses
of deliverable messages, duplicates, crashes, partitions, joins and leaves) is counted here, for
the refinement mapping's `budget`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import split_actions
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.growth import extended
from meshcheck.impl.base.node import Workload
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.gossip import refinement
from meshcheck.impl.gossip.config import GossipConfig
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.messages import Pull
from meshcheck.impl.gossip.messages import Push
from meshcheck.impl.gossip.node import IN
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.phi import PhiConfig
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import Phases
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.protocol import Segment
from meshcheck.impl.sim.simulator import Simulator

Observer = Callable[[str, Any, Mapping[str, GossipNode], int], None]


def node_names(n: int, prefix: str = "n") -> tuple[str, ...]:
    width = len(str(n))
    return tuple(f"{prefix}{k:0{width}d}" for k in range(1, n + 1))


def status_workload(
    keys: Sequence[str], *, every: int = 50, reads: float = 0.2, until: int | None = None
) -> Workload:
    """Status writes `(key, "v<n>")` to the keys in turn, and reads of them."""
    ks = tuple(keys)

    def make(n: int) -> tuple[str, str]:
        return (ks[n % len(ks)], f"v{n}")

    def query(n: int) -> str:
        return ks[n % len(ks)]

    return Workload(every=every, reads=reads, make=make, query=query, until=until)


class GossipPlugin:
    """The gossip side of `Simulator`."""

    name = "gossip"
    variables: tuple[str, ...] = refinement.VARIABLES
    fault_steps = frozenset({"recover", "partition", "heal"})

    def __init__(
        self,
        initial: Sequence[str],
        *,
        keys: Sequence[str] = ("k1", "k2"),
        interval: int = 1000,
        fanout: int = 3,
        phi: PhiConfig | None = None,
        evict_after: int = 5000,
        bugs: frozenset[str] = frozenset(),
        budget: refinement.Budget | None = None,
    ) -> None:
        self.initial = tuple(sorted(initial))  # sorted: the ring is the order of names
        self.keys = tuple(keys)
        self.interval = interval
        self.fanout = fanout
        self.phi = phi or PhiConfig()
        self.evict_after = evict_after
        self.bugs = bugs
        self.budget = budget or refinement.Budget()
        self.spent = refinement.Spent()
        self.written: list[tuple[str, Entry]] = []  # every status write (key, entry), in order
        # the spec's `written` of `written`, rebuilt only when it grew: the mapping runs after
        # every action of a recorded run, and the writes only ever grow
        self._written_value: frozenset[FrozenDict] = frozenset()
        self._written_count = 0
        # each node's entries, own writes and view as last mapped, and the node object read
        self._rows: dict[str, tuple[Value, Value, Value]] = {}
        self._row_of: dict[str, GossipNode] = {}
        # the last mapping's `row_columns` and `msgs`, with the bag they came from: an event
        # changes one node's row or none (`_stale`: the columns a row changed since, None: every
        # one, or the nodes changed), and the bag is the same object until it changes
        self._columns: list[Value] = []
        self._stale: set[int] | None = None
        self._msgs: tuple[FrozenDict, Value] | None = None
        # each node's (alive, crashed) as last mapped, and the values of `alive` and `crashed`
        # built from them (None: build again); a node's change only when it steps, crashes, is
        # rebuilt or comes back up, which the simulator reports as touching it
        self._flags: dict[str, tuple[bool, bool]] = {}
        self._status: tuple[frozenset[str], frozenset[str]] | None = None
        # `cut` as last computed, and the network's count of cut changes it was computed at
        self._cut: tuple[int, frozenset[str]] | None = None
        self._budget: tuple[tuple[int, ...], FrozenDict] | None = None  # `budget`, and the spent
        self.observers: list[Observer] = []
        self.up: Mapping[str, bool] = {}
        self._sim: Simulator[GossipNode] | None = None
        self._last: object = None

    def attach(self, sim: Simulator[GossipNode]) -> None:
        """Bind the simulator whose nodes this plug-in maps (its table of nodes up, its clocks)."""
        self._sim = sim
        self.up = sim.up

    def new_node(self, node_id: str, rng: random.Random) -> GossipNode:
        config = GossipConfig(
            node_id,
            self.initial,
            interval=self.interval,
            fanout=self.fanout,
            phi=self.phi,
            evict_after=self.evict_after,
            bugs=self.bugs,
        )
        return GossipNode(config, rng)

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        segments = [
            Segment(None if a is None else a.name, FrozenDict() if a is None else a.params, part)
            for a, part in split_actions(effects)
        ]
        if (
            isinstance(event, Deliver)
            and isinstance(event.message, Push | Pull)
            and segments[0].action is None
        ):
            # a push or pull the node does not take (it is not a member): the network lost it
            segments[0] = attrs.evolve(segments[0], action="LoseMessage")
        for segment in segments:
            if segment.action in ("Join", "Leave"):
                self.spent.churn += 1
        return segments

    def message_record(self, message: Any) -> Value:
        return refinement.message_record(message)

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, GossipNode]) -> None:
        if event is self._last:  # called once per spec action of the event: act once
            return
        self._last = event
        node = nodes[node_id]
        if isinstance(event, ClientRequest) and node.status == IN:
            value = event.value
            if isinstance(value, tuple) and len(value) == 2:
                held = node.own.get(value[0])
                if held is not None and held.value == value[1] and held.origin == node_id:
                    self.written.append((value[0], held))
        if self.observers:
            now = self._sim.local_time(node_id) if self._sim is not None else 0
            for observe in self.observers:
                observe(node_id, event, nodes, now)

    def abstract_state(
        self, nodes: Mapping[str, GossipNode], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        # before `attach` (the simulator's initial state), every node is up
        up = self.up if self._sim is not None else dict.fromkeys(nodes, True)
        self._rows = {i: refinement.node_row(n, up[i], self.keys) for i, n in nodes.items()}
        self._row_of = dict(nodes)
        self._stale = None
        self._flags = {i: _flags(n, up[i]) for i, n in nodes.items()}
        self._status = None
        return self._mapped(nodes, up, messages)

    def abstract_state_since(
        self,
        nodes: Mapping[str, GossipNode],
        messages: FrozenDict,
        faults: Mapping[str, int],
        touched: Collection[str],
    ) -> FrozenDict:
        """`abstract_state`, when only the `touched` nodes stepped, were rebuilt or came back up
        since the last mapping: the other nodes' entries, own writes and views are the last ones."""
        up = self.up if self._sim is not None else dict.fromkeys(nodes, True)
        if self._rows.keys() != nodes.keys():
            return self.abstract_state(nodes, messages, faults)
        flags, rows, stale = self._flags, self._rows, self._stale
        for i, n in nodes.items():
            if i in touched or n is not self._row_of[i]:
                row, before = refinement.node_row(n, up[i], self.keys), rows[i]
                if stale is not None:
                    for k in range(3):
                        if row[k] is not before[k] and row[k] != before[k]:
                            stale.add(k)
                rows[i] = row
                self._row_of[i] = n
                now = _flags(n, up[i])
                if flags[i] != now:
                    flags[i] = now
                    self._status = None
        return self._mapped(nodes, up, messages)

    def _mapped(
        self, nodes: Mapping[str, GossipNode], up: Mapping[str, bool], messages: FrozenDict
    ) -> FrozenDict:
        rows, stale = self._rows, self._stale
        if stale is None or list(rows) != list(nodes):
            self._columns = list(refinement.row_columns({i: rows[i] for i in nodes}))
        elif stale:
            # only the variables a row changed: the others keep their objects (cheap to compare)
            for k in stale:
                self._columns[k] = FrozenDict({i: rows[i][k] for i in nodes})
        self._stale = set()
        if self._msgs is None or self._msgs[0] is not messages:
            self._msgs = (messages, refinement.msgs_of(messages))
        if self._status is None:
            flags = self._flags
            self._status = (
                frozenset(i for i in nodes if flags[i][0]),
                frozenset(i for i in nodes if flags[i][1]),
            )
        spent = self.spent
        numbers = (spent.loss, spent.duplicate, spent.crash, spent.partition, spent.churn)
        if self._budget is None or self._budget[0] != numbers:
            self._budget = (numbers, refinement.budget_of(self.budget, spent))
        return refinement.abstract_state(
            nodes,
            up,
            messages,
            self.keys,
            self.written_value(),
            cut=self.cut(),
            columns=(*self._columns, self._msgs[1]),
            status=self._status,
            budget_value=self._budget[1],
        )

    def written_value(self) -> frozenset[FrozenDict]:
        """Gossip.tla's `written`: the records of every write so far (`refinement.written_of`)."""
        if self._written_count != len(self.written):
            fresh = refinement.written_of(self.written[self._written_count :])
            old, self._written_value = self._written_value, self._written_value | fresh
            # the trace recorder keeps what was added without comparing the sets
            extended(old, self._written_value, fresh - old)  # (impl/base/growth.py)
            self._written_count = len(self.written)
        return self._written_value

    def cut(self) -> frozenset[str]:
        """Gossip.tla's `cut`: the nodes on the other side of a two-way partition from the first
        seed. A one-way cut (the simulator's asymmetric partition) is no partition of the spec's:
        the spec's network splits in two; what a one-way cut does to messages, losing those that
        cross it in its direction, the trace records as LoseMessage steps."""
        if self._sim is None or not self.initial:
            return frozenset()
        network, ref = self._sim.network, self.initial[0]
        if self._cut is None or self._cut[0] != network.cuts:  # computed once per change of links
            cut = frozenset(
                j
                for j in self._sim.node_ids
                if j != ref and not network.reachable(ref, j) and not network.reachable(j, ref)
            )
            self._cut = (network.cuts, cut)
        return self._cut[1]

    def deliverable(self, record: Value) -> bool:
        """Gossip.tla's `Deliverable(m)`: its receiver is a live member on its sender's side."""
        sim = self._sim
        if sim is None or not refinement.is_spec_message(record):
            return False
        assert isinstance(record, FrozenDict)
        source, dest = str(record["from"]), str(record["to"])
        cut = self.cut()
        return refinement.is_alive(sim.nodes[dest], sim.up[dest]) and (
            (source in cut) == (dest in cut)
        )

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        if kind == "restart":
            node = self._sim.nodes[str(subject)] if self._sim is not None else None
            if node is not None and node.status == IN:
                self.spent.crash += 1
            return "Crash", FrozenDict({"i": subject})
        if kind == "recover":
            return "Restart", FrozenDict({"i": subject})
        if kind == "partition":
            self.spent.partition += 1
            return "Partition", FrozenDict()
        if kind == "heal":
            return "Heal", FrozenDict()
        if kind == "drop":
            if self.deliverable(subject):
                self.spent.loss += 1
            return "LoseMessage", FrozenDict()
        if refinement.is_spec_message(subject):
            self.spent.duplicate += 1
        return "DuplicateMessage", FrozenDict()


def _flags(node: GossipNode, up: bool) -> tuple[bool, bool]:
    """Whether the node is in `alive` (a member up) and in `crashed` (a member down)."""
    member = node.status == IN
    return up and member, not up and member


def gossip_cluster(
    nodes: int | Sequence[str] = 5,
    *,
    spares: int | Sequence[str] = 0,
    seed: int = 0,
    faults: Faults | Phases | None = None,
    workload: Workload | None = None,
    keys: Sequence[str] = ("k1", "k2"),
    latency: tuple[int, int] = (1, 10),
    skew: tuple[int, int] = (100, 100),
    interval: int = 1000,
    fanout: int = 3,
    phi: PhiConfig | None = None,
    evict_after: int = 5000,
    bugs: frozenset[str] = frozenset(),
    record: bool = True,
    history: bool = True,
    budget: refinement.Budget | None = None,
) -> Simulator[GossipNode]:
    """A simulated gossip cluster: `nodes` members from the start (a count: n01, n02, ...) and
    `spares` outside it (a count: s1, s2, ...)."""
    initial = node_names(nodes) if isinstance(nodes, int) else tuple(nodes)
    outside = node_names(spares, "s") if isinstance(spares, int) else tuple(spares)
    plugin = GossipPlugin(
        initial,
        keys=keys,
        interval=interval,
        fanout=fanout,
        phi=phi,
        evict_after=evict_after,
        bugs=bugs,
        budget=budget,
    )
    config = SimConfig(
        seed=seed,
        latency=latency,
        skew=skew,
        faults=faults if faults is not None else Faults(),
        workload=workload,
        record=record,
        history=history,
    )
    sim: Simulator[GossipNode] = Simulator(plugin, (*initial, *outside), config)
    plugin.attach(sim)
    return sim
