"""The manager on real clusters: three layers as processes, one router in front of them.

`meshcheck cluster test --protocol manager` starts the design's three layers, each a cluster of
its own (meshcheck/cluster/layer.py) with its own link proxies and its own nemesis: PBFT for
critical operations, the hybrid dispatcher for coordination (Raft epochs, BFT epochs once the
threat level reaches High), gossip for status. In front of them run the manager's clients: each
draws an operation type, looks it up with the manager's own code (impl/manager/routing.py
`op_type` and `route`, the same functions `Manager` calls in the simulator) and hands the operation
to the layer the table names, through that layer's clients. One operation in twenty is of a type
the manager does not know (a misspelling), which it must refuse.

Each layer's history is checked as its own cluster test checks it (linearizable for PBFT and the
hybrid dispatcher, convergence for gossip; state files; PBFT's logs against PBFT.tla). The router's
answers are checked against specs/Routing.tla's invariants, by the same names:

- CriticalOnlyByBFT: a critical operation is decided only by PBFT's quorum;
- CoordinationByEpoch: a coordination operation is decided by the hybrid dispatcher, by the
  protocol of the epoch that committed it (Routing.tla's `how[o] = mode[tag[o]]`);
- StatusNeverAgreed: a status operation goes to gossip and is never answered as agreed;
- UnknownRefused: a type the manager does not know is refused and goes nowhere;
- AgreedMeansDecided: "agreed" only for what a quorum decided (the dispatcher's "committed").

The router is harness code: the manager holds no replicated state (impl/manager/manager.py), so in
a deployment it lives in each client; the layers' nodes are the processes under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

import attrs

from meshcheck import words
from meshcheck.cluster import checks
from meshcheck.cluster import routing_log
from meshcheck.cluster.layer import Clock
from meshcheck.cluster.layer import Layer
from meshcheck.cluster.layer import Progress
from meshcheck.cluster.options import Options
from meshcheck.cluster.options import Outcome
from meshcheck.cluster.options import node_names
from meshcheck.cluster.quorum_clients import QuorumClients
from meshcheck.cluster.quorum_clients import Session as QuorumSession
from meshcheck.cluster.workload import Clients
from meshcheck.cluster.workload import MemberClients
from meshcheck.cluster.workload import Session
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.manager.mutants import BUGS
from meshcheck.impl.manager.routing import Layer as LayerName
from meshcheck.impl.manager.routing import OpType
from meshcheck.impl.manager.routing import UnknownOperationType
from meshcheck.impl.manager.routing import hybrid_agreed
from meshcheck.impl.manager.routing import op_type
from meshcheck.impl.manager.routing import route
from meshcheck.impl.manager.routing import status_agreed
from meshcheck.impl.runtime.member import Member

__all__ = ["Router", "layer_options", "node_names", "routing_verdicts", "run", "summary_rows"]

UNKNOWN_EVERY = 20  # one operation in this many is of a type the manager does not know
# types no one defined: a misspelling, a capital, an invented one (the manager must refuse each)
MISSPELT = ("critcal", "Status", "audit")
KNOWN = tuple(t.value for t in OpType)
WORKLOADS = {LayerName.PBFT: "registers", LayerName.HYBRID: "registers", LayerName.GOSSIP: "status"}


@attrs.frozen
class Routed:
    """One operation the router took: the type it was given, the type the manager read it as
    ("unknown" when refused), where it went, what its submitter was told and how it was decided
    (Routing.tla's `answer` and `how`), the threat level when it was routed, the hybrid epoch that
    committed it and whether that was a commit, and its place in its layer's history."""

    id: int
    given: str
    type: str
    layer: str  # "pbft", "hybrid", "gossip"; "" when refused
    answer: str  # "agreed", "gossiped", "refused", "fail", "info"
    how: str  # "bft", "raft", "gossip"; "" when nothing decided it (or its epoch is not known)
    level: str
    call: float
    ret: float
    epoch: int = 0
    committed: bool = False
    index: int = -1  # in the layer's history


@attrs.frozen
class RoutedOutcome:
    """The three layers' outcomes, the router's operations, and the routing checks."""

    options: Options
    layers: dict[str, Outcome]
    routed: tuple[Routed, ...]
    verdicts: tuple[checks.Verdict, ...]
    seconds: float

    @property
    def holds(self) -> bool:
        return all(v.holds for v in self.verdicts) and all(o.holds for o in self.layers.values())


def layer_options(options: Options) -> dict[LayerName, Options]:
    """Each layer's cluster, as the manager's options ask: the same nodes (at least 3f+1 = 4 for
    the BFT layers), time, nemesis, clients and TLS; a seed each, drawn from the run's in a fixed
    order (as `Manager` draws its simulations'); the hybrid dispatcher's Byzantine nodes."""
    draw = random.Random(options.seed)
    seeds = {layer: draw.getrandbits(32) for layer in LayerName}
    out = {}
    for layer in LayerName:
        out[layer] = attrs.evolve(
            options,
            protocol=layer.value,
            nodes=max(options.nodes, 4) if layer is not LayerName.GOSSIP else options.nodes,
            workload=WORKLOADS[layer],
            seed=seeds[layer],
            bugs=frozenset(),
            byzantine=options.byzantine if layer is LayerName.HYBRID else (),
            # the router reads the threat level and each epoch's protocol off the hybrid nodes
            sample=layer is LayerName.HYBRID or options.sample,
            plan=None,
        )
    return out


def level_of(layer: Layer) -> str:
    """The threat level the hybrid nodes last reported (inspection.py samples), "None" before any."""
    honest = {n for n in layer.names if n not in dict(layer.options.byzantine)}
    for s in reversed(layer.samples[-20:]):
        if s.node in honest and isinstance(s.seen.get("level"), str):
            return str(s.seen["level"])
    return "None"


def epoch_protocols(layer: Layer) -> dict[int, str]:
    """Each epoch's kind of protocol, "raft" or "bft", as the honest hybrid nodes in it reported
    it (inspection.py samples) or, for an epoch too short to be sampled, as their disks hold it
    (read back by `Layer.check`: an instance that executed batches or stored blocks is BFT's)."""
    honest = {n for n in layer.names if n not in dict(layer.options.byzantine)}
    out: dict[int, str] = {}
    for s in layer.samples:
        epoch, protocol = s.seen.get("epoch"), s.seen.get("protocol")
        if s.node in honest and isinstance(epoch, int) and protocol:
            out.setdefault(epoch, "raft" if protocol == "raft" else "bft")
    for node in honest:
        for epoch in checks.bft_epochs(layer.persisted.get(node, {})):
            out.setdefault(epoch, "bft")
    return out


class Router:
    """`count` clients of the manager, one operation in flight each, together at about `rate` a
    second, routing by type into the three layers' clients."""

    def __init__(
        self,
        pbft: MemberClients,
        hybrid: QuorumClients,
        gossip: Clients,
        *,
        members: Sequence[Member],
        count: int,
        rate: float,
        seed: int,
        clock: Clock,
        level: Callable[[], str],
        bugs: frozenset[str],
    ) -> None:
        self._pbft, self._hybrid, self._gossip = pbft, hybrid, gossip
        self._members = list(members)
        self._count = count
        self._gap = count / rate
        self._rng = random.Random(f"router:{seed}")
        self._clock = clock
        self._level = level
        self._bugs = bugs
        self._ids = itertools.count(1)
        self._round = 0
        self.routed: list[Routed] = []

    async def run(self, until: float) -> None:
        self._round += 1
        await asyncio.gather(*(self._client(k, until) for k in range(self._count)))

    async def _client(self, k: int, until: float) -> None:
        status = self._gossip.session(f"c{k + 1}.{self._round}")
        coordination = self._hybrid.session(f"c{k + 1}")
        member = self._members[k]
        try:
            while self._clock() < until:
                await self._one(member, coordination, status, until)
                await asyncio.sleep(self._rng.uniform(0, 2 * self._gap))
        finally:
            await status.client.close()
            await coordination.client.close()

    async def _one(
        self, member: Member, coordination: QuorumSession, status: Session, until: float
    ) -> None:
        op_id = next(self._ids)
        if op_id % UNKNOWN_EVERY == 7:
            given = self._rng.choice(MISSPELT)
        else:
            given = self._rng.choice(KNOWN)
        call = self._clock()
        try:
            kind = op_type(given, self._bugs)  # the manager's code
        except UnknownOperationType:
            self.routed.append(Routed(op_id, given, "unknown", "", "refused", "", "", call, call))
            return
        level = self._level()
        layer = route(kind, level, self._bugs)  # the manager's code
        typed = kind.value if given in KNOWN else "unknown"
        if layer is LayerName.PBFT:
            op = await self._pbft.one(member, until)
            ok = op.status == "ok"
            self.routed.append(Routed(op_id, given, typed, layer.value, "agreed" if ok else "info",
                                      "bft" if ok else "", level, call, self._clock(),
                                      index=op.index))  # fmt: skip
        elif layer is LayerName.HYBRID:
            op, record = await self._hybrid.one(coordination)
            self.routed.append(
                self._coordination(op_id, given, typed, level, call, record, op.index)
            )
        else:
            op = await self._gossip.one(status, until)
            answer: str = op.status
            if op.status == "ok":
                answer = "agreed" if status_agreed(self._bugs) else "gossiped"
            self.routed.append(Routed(op_id, given, typed, layer.value, answer, "gossip", level,
                                      call, self._clock(), index=op.index))  # fmt: skip

    def _coordination(
        self,
        op_id: int,
        given: str,
        typed: str,
        level: str,
        call: float,
        record: FrozenDict | None,
        index: int,
    ) -> Routed:
        ret = self._clock()
        if record is None:
            return Routed(op_id, given, typed, "hybrid", "info", "", level, call, ret, index=index)
        status = record.get("status")
        epoch = record.get("epoch", record.get("ended", 0))
        answer = "agreed" if hybrid_agreed(status, self._bugs) else "rejected"
        return Routed(op_id, given, typed, "hybrid", answer, "", level, call, ret,
                      epoch if isinstance(epoch, int) else 0, status == COMMITTED, index)  # fmt: skip


# -- the checks: specs/Routing.tla's invariants on the router's answers -------------------------------


def resolve(routed: Sequence[Routed], protocols: dict[int, str]) -> list[Routed]:
    """The router's operations with each hybrid decision's `how`: the protocol of the epoch that
    committed it, as its honest nodes reported it ("" where no sample saw that epoch)."""
    return [
        attrs.evolve(r, how=protocols.get(r.epoch, "")) if r.layer == "hybrid" and r.epoch else r
        for r in routed
    ]


def _verdict(name: str, about: str, bad: Sequence[Routed], total: int) -> checks.Verdict:
    if bad:
        r = bad[0]
        return checks.Verdict(
            f"{name} (Routing.tla)",
            False,
            f"{len(bad)} of {total}: op {r.id}, type {r.given!r}, went to {r.layer or 'nowhere'}, "
            f"answered {r.answer}" + (f", decided by {r.how}" if r.how else ""),
        )
    if not total:
        return checks.Verdict(f"{name} (Routing.tla)", None, f"no {about} in the run")
    return checks.Verdict(f"{name} (Routing.tla)", True, f"{total} {about}")


def routing_verdicts(routed: Sequence[Routed]) -> list[checks.Verdict]:
    """Routing.tla's invariants, each on the operations it speaks of (with a resolved `how`)."""
    critical = [r for r in routed if r.type == "critical" and r.answer == "agreed"]
    coordination = [r for r in routed if r.type == "coordination" and r.answer == "agreed"]
    status = [r for r in routed if r.type == "status"]
    unknown = [r for r in routed if r.given not in KNOWN]
    agreed = [r for r in routed if r.answer == "agreed"]
    return [
        _verdict(
            "CriticalOnlyByBFT",
            "critical operations agreed",
            [r for r in critical if (r.layer, r.how) != ("pbft", "bft")],
            len(critical),
        ),
        _verdict(
            "CoordinationByEpoch",
            "coordination operations agreed",
            [r for r in coordination if r.layer != "hybrid" or r.how not in ("raft", "bft")],
            len(coordination),
        ),
        _verdict(
            "StatusNeverAgreed",
            "status operations",
            [r for r in status if r.layer != "gossip" or r.answer == "agreed"],
            len(status),
        ),
        _verdict(
            "UnknownRefused",
            "operations of unknown types",
            [r for r in unknown if r.layer or r.answer != "refused"],
            len(unknown),
        ),
        _verdict(
            "AgreedMeansDecided",
            "operations answered agreed",
            [r for r in agreed if not (r.layer == "pbft" or (r.layer == "hybrid" and r.committed))],
            len(agreed),
        ),
    ]


# -- the run -------------------------------------------------------------------------------------------


def known_bugs(bugs: frozenset[str]) -> None:
    unknown = sorted(bugs - set(BUGS))
    if unknown:
        raise MeshcheckError(f"--bugs: {unknown[0]} is not a manager mutant ({', '.join(BUGS)})")


async def _run(options: Options, folder: Path, progress: Progress) -> RoutedOutcome:
    layers = {name: Layer(o, folder / name.value) for name, o in layer_options(options).items()}
    started = time.monotonic()
    router: Router | None = None
    with contextlib.ExitStack() as stack:
        for layer in layers.values():
            stack.enter_context(layer.disks)  # unmounted once its nodes ended
            stack.enter_context(layer.cluster)
        try:
            # the three clusters start at once (each node's start waits in a thread until it
            # listens: one after another, twelve processes took 18 s on a loaded machine)
            await asyncio.gather(*(layer.start() for layer in layers.values()))
            loop = asyncio.get_running_loop()
            t0 = loop.time()

            def clock() -> float:
                return loop.time() - t0

            pbft = await layers[LayerName.PBFT].open_clients(clock)
            hybrid = await layers[LayerName.HYBRID].open_clients(
                clock, agreed=lambda status: hybrid_agreed(status, options.bugs)
            )
            gossip = await layers[LayerName.GOSSIP].open_clients(clock)
            assert isinstance(pbft, MemberClients) and isinstance(hybrid, QuorumClients)
            assert isinstance(gossip, Clients)
            router = Router(
                pbft,
                hybrid,
                gossip,
                members=layers[LayerName.PBFT].members,
                count=options.clients,
                rate=options.rate,
                seed=options.seed,
                clock=clock,
                level=lambda: level_of(layers[LayerName.HYBRID]),
                bugs=options.bugs,
            )
            for layer in layers.values():
                layer.strike(clock)
            watch = loop.create_task(_watch(router, options.time, clock, progress))
            await router.run(options.time)
            tails = [await layer.calm(clock) for layer in layers.values()]
            if max(tails) > 0:
                for layer in layers.values():  # the router's clients serve every layer
                    layer.until = max(tails)
                await router.run(max(tails))
            watch.cancel()
            for layer in layers.values():
                await layer.settle(clock, progress)
        finally:
            for layer in layers.values():
                await layer.close()
    seconds = time.monotonic() - started
    outcomes = {name.value: layer.check(seconds, progress) for name, layer in layers.items()}
    assert router is not None
    routed = resolve(router.routed, epoch_protocols(layers[LayerName.HYBRID]))
    (folder / "routing.jsonl").write_text(
        "".join(json.dumps(attrs.asdict(r)) + "\n" for r in routed), encoding="utf-8"
    )
    verdicts = routing_verdicts(routed)
    written = routing_log.write(routed, folder / "routing.ndjson", f"seed-{options.seed}")
    if options.validate:
        progress(
            f"validating the manager's routing log ({words.count(written, 'record')}) against Routing.tla"
        )
        verdicts.append(
            checks.logs_valid(
                "Routing", [folder / "routing.ndjson"], {}, folder, options.validate_budget
            )
        )
    return RoutedOutcome(options, outcomes, tuple(routed), tuple(verdicts), seconds)


async def _watch(router: Router, duration: float, clock: Clock, progress: Progress) -> None:
    while True:
        await asyncio.sleep(1.0)
        answers = Counter(r.answer for r in router.routed)
        progress(
            f"t={clock():5.1f}/{duration:.0f}s  "
            + "  ".join(f"{a} {answers[a]}" for a in ("agreed", "gossiped", "refused", "info"))
        )


def run(options: Options, folder: Path, progress: Progress = lambda _: None) -> RoutedOutcome:
    """The manager's cluster test (`options.protocol` is "manager"; `bugs` are its mutants)."""
    known_bugs(options.bugs)
    folder.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(options, folder, progress))


def summary_rows(outcome: RoutedOutcome) -> list[tuple[str, str, str]]:
    """The run's one table: per operation type what its submitters were told, each layer's
    latency and checks, and the routing checks."""
    from meshcheck.cluster.run import latency_ms

    rows: list[tuple[str, str, str]] = []
    for typed in (*KNOWN, "unknown"):
        answers = Counter(r.answer for r in outcome.routed if r.type == typed)
        if answers:
            told = ", ".join(f"{a} {n}" for a, n in sorted(answers.items()))
            layers = ", ".join(
                sorted({r.layer or "nowhere" for r in outcome.routed if r.type == typed})
            )
            rows.append((f"{typed} operations", told, f"to {layers}"))
    for name, layer in outcome.layers.items():
        lat = latency_ms(layer.history)
        rows.append((
            f"{name}: latency (ok)",
            f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms",
            f"{words.count(len(layer.plan), 'fault')}, max {lat['max']:.1f} ms",
        ))  # fmt: skip
        for v in layer.verdicts:
            rows.append((f"{name}: {v.check}", _result(v.holds), v.detail))
    for v in outcome.verdicts:
        rows.append((v.check, _result(v.holds), v.detail))
    return rows


def _result(holds: bool | None) -> str:
    return {True: "holds", False: "VIOLATED", None: "unknown"}[holds]
