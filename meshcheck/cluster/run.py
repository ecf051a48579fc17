"""One cluster test: start the nodes behind their link proxies, run the clients and the nemesis for
the run's time, stop everything, check, report.

Everything the run starts ends with it: the node processes through `LocalCluster` (a context
manager, and the parent-death signal: impl/runtime/launcher.py), the proxies and clients with the
asyncio loop. The report folder holds the history (`history.jsonl`, the shape `meshcheck history
check` reads) and its pictures (figures.py), the nemesis's plan, every node's output, and its state
file.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from meshcheck.cluster import checks, convergence, figures, health, inspection, nemesis
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.network import Network, between, touching
from meshcheck.cluster.quorum_clients import QuorumClients
from meshcheck.cluster.workload import Clients, History, MemberClients, keys_of, shape_of
from meshcheck.impl.runtime.client import skew_clock
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.launcher import LOOPBACK, LocalCluster, free_ports
from meshcheck.impl.runtime.member import Member
from meshcheck.impl.runtime.protocols import BFT_CLIENTS, BFT_KEYS, BYZANTINE, hybrid_keys
from meshcheck.impl.runtime.protocols import protocol as runtime_protocol
from meshcheck.impl.runtime.proxy import LinkFaults
from meshcheck.traces.history import jepsen, models

Progress = Callable[[str], None]


@attrs.frozen
class Options:
    protocol: str = "raft"
    nodes: int = 3
    time: float = 10.0  # seconds of clients and nemesis
    nemesis: tuple[str, ...] = ("kill", "pause", "partition")
    workload: str = "registers"  # the protocol's (impl/runtime/protocols.py `workloads`)
    rate: float = 100.0  # operations a second, all clients together
    clients: int = 10  # each with one operation in flight (Jepsen's concurrency)
    timeout: float = 1.0  # seconds a client waits for an answer (then the operation is `info`)
    seed: int = 0
    bugs: frozenset[str] = frozenset()
    budget: float = 30.0  # seconds the linearizability checker may take
    validate_budget: float = 300.0  # seconds the log validation may take (validate's default)
    plan: tuple[Fault, ...] | None = None  # the faults, when not drawn from the seed
    tls: bool = True  # mutual TLS between nodes and from clients (impl/runtime/tls.py)
    validate: bool = True  # validate the nodes' logs against the spec (needs Java: TLC)
    # gossip: seconds the nodes have to agree once the writes stop (the design's bound for a
    # status update to reach every node: meshcheck/cluster/convergence.py)
    settle: float = convergence.BOUND
    # the core's options over the runtime's defaults (impl/runtime/protocols.py), as pairs:
    # `(("interval", 1000),)` runs gossip at the design's round
    core: tuple[tuple[str, Any], ...] = ()
    # the hybrid dispatcher's Byzantine nodes: (node, behaviour) pairs (impl/runtime/protocols.py
    # HYBRID_BEHAVIOURS), each an honest core whose output the behaviour corrupts
    byzantine: tuple[tuple[str, str], ...] = ()
    # sample what the nodes hold beside the clients (inspection.py) even where no check reads it
    # (a measurement does: the claims' elections)
    sample: bool = False


@attrs.frozen
class Outcome:
    options: Options
    plan: tuple[Fault, ...]
    history: History
    verdicts: tuple[checks.Verdict, ...]
    seconds: float
    frames: tuple[int, int]
    struck: tuple[tuple[float, str], ...] = ()  # what the nemesis did, when (targets resolved)
    samples: tuple[inspection.Sample, ...] = ()  # what the nodes held (inspection.py)
    probes: tuple[float, ...] = ()  # gossip: seconds until each probe write reached every node

    @property
    def holds(self) -> bool:
        return all(v.holds for v in self.verdicts)

    @property
    def failed(self) -> list[checks.Verdict]:
        return [v for v in self.verdicts if v.holds is False]


def node_names(protocol: str, n: int) -> list[str]:
    """The nodes of a cluster of `n` of `protocol`, named as its spec names them."""
    return runtime_protocol(protocol).node_names(n)


async def _run(options: Options, folder: Path, progress: Progress) -> Outcome:
    names = node_names(options.protocol, options.nodes)
    keys = keys_of(options.workload)
    proto = runtime_protocol(options.protocol)
    plan = (
        list(options.plan)
        if options.plan is not None
        else nemesis.plan(options.seed, options.time, options.nemesis, names)
    )
    (folder / "nemesis.txt").write_text(
        "".join(f.describe() + "\n" for f in plan) or "no faults\n", encoding="utf-8"
    )
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    addresses = {n: (LOOPBACK, p) for n, p in ports.items()}
    network = Network(names, addresses, options.seed, tls=options.tls)
    struck: list[tuple[float, str]] = []  # (when, what) the nemesis did, targets resolved
    started = time.monotonic()
    core_options: dict[str, Any] = {"bugs": sorted(options.bugs)} if options.bugs else {}
    core_options |= dict(options.core)
    if options.byzantine:
        behaving: dict[str, list[str]] = {}
        for node, behaviour in options.byzantine:
            behaving.setdefault(node, []).append(behaviour)
        core_options[BYZANTINE] = behaving
    member_names = [f"c{k}" for k in range(1, options.clients + 1)]
    if proto.build_member is not None or proto.quorum_clients:  # clients that sign (BFT, hybrid)
        core_options |= {BFT_KEYS: options.seed, BFT_CLIENTS: member_names}
    members: list[Member] = []
    settled = convergence.Settled({}, None, None, {})  # gossip: what the nodes came to hold
    probes: list[float] = []
    samples: list[inspection.Sample] = []
    sampler: asyncio.Task[None] | None = None
    with LocalCluster(
        options.protocol,
        names,
        folder,
        seed=options.seed,
        options=core_options,
        routes=network.routes(),
        ports=ports,
        tls=options.tls,
    ) as cluster:
        await network.start()
        try:
            for node in names:
                await asyncio.to_thread(cluster.start, node)
            loop = asyncio.get_running_loop()
            t0 = loop.time()

            def clock() -> float:
                return loop.time() - t0

            clients: Clients | MemberClients | QuorumClients
            if proto.quorum_clients:  # the hybrid dispatcher's: signed, to every node, f+1 alike
                clients = QuorumClients(
                    cluster.config.nodes,
                    proto.codec(),
                    hybrid_keys(names, core_options),
                    member_names,
                    rate=options.rate,
                    keys_written=keys,
                    seed=options.seed,
                    clock=clock,
                    timeout=max(options.timeout, 2.0),
                    tls=cluster.client_tls(),
                )
            elif proto.build_member is not None:
                for name in member_names:
                    core = proto.build_member(name, names, core_options)
                    members.append(
                        Member(
                            name,
                            core,
                            proto.codec(),
                            cluster.config.nodes,
                            tls=cluster.client_tls(),
                        )
                    )
                    await members[-1].start()
                clients = MemberClients(
                    members,
                    rate=options.rate,
                    keys=keys,
                    seed=options.seed,
                    clock=clock,
                    timeout=options.timeout,
                )
            else:
                clients = Clients(
                    cluster.config.nodes,
                    proto.codec(),
                    count=options.clients,
                    rate=options.rate,
                    keys=keys,
                    seed=options.seed,
                    clock=clock,
                    timeout=options.timeout,
                    tls=cluster.client_tls(),
                    shape=shape_of(options.workload),
                )
            nemesis_task = loop.create_task(
                _nemesis(
                    plan,
                    cluster,
                    network,
                    names,
                    clock,
                    lambda: clients.leader or _sampled_leader(samples),
                    struck,
                    proto.codec(),
                    cluster.client_tls(),
                )
            )
            watch = loop.create_task(_progress(clients.history, options.time, clock, progress))
            wanted = options.sample or options.byzantine or not proto.linearizable
            if proto.inspect is not None and wanted:  # what the nodes hold (inspection.py)
                sampler = loop.create_task(
                    inspection.sample(
                        cluster.config.nodes, proto.codec(), cluster.client_tls(), clock, samples
                    )
                )
            await clients.run(options.time)
            await nemesis_task  # every fault undone
            healed = max((t for t, what in struck if what.endswith("undone")), default=0.0)
            if healed > clock() - proto.recovery:
                # the last fault was undone late (a restart under load): a calm tail, so that
                # progress after healing is judged on operations that had the time to succeed
                await clients.run(healed + proto.recovery)
            watch.cancel()
            if not proto.linearizable:  # gossip: do the nodes come to agree, and how fast
                progress("waiting for the nodes to agree, then timing probe writes")
                tls = cluster.client_tls()
                settled = await convergence.settle(
                    cluster.config.nodes, proto.codec(), tls, clock, options.settle
                )
                probes = await convergence.spread(cluster.config.nodes, proto.codec(), tls, clock)
            if sampler is not None:  # it went on while the nodes settled: the calm's samples
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)
        finally:
            if sampler is not None:
                sampler.cancel()
            for member in members:
                await member.stop()
            network.heal()
            await network.stop()
    seconds = time.monotonic() - started
    history = clients.history
    (folder / "nemesis.log").write_text(
        "".join(f"t={t:7.3f}s  {what}\n" for t, what in sorted(struck)), encoding="utf-8"
    )
    if proto.linearizable:
        dumped = jepsen.dumps(history.ops, models.Rsm())
    else:
        dumped = jepsen.dumps(convergence.history_as_kv(history.ops), models.KeyValue())
    (folder / "history.jsonl").write_text(dumped, encoding="utf-8")
    name = f"{options.protocol}, {options.nodes} nodes, seed {options.seed}"
    (folder / "latency.svg").write_text(
        figures.latency_svg(history, struck, title=name), encoding="utf-8"
    )
    (folder / "timeline.svg").write_text(
        figures.timeline_svg(history, title=f"{name}: the history"), encoding="utf-8"
    )
    persisted = {}
    for node in names:
        disk = Disk(cluster.config.state_file(node), proto.codec())
        persisted[node] = disk.load()
        disk.close()
    verdicts = [checks.progress(history.ops, healed, max(options.time, healed + proto.recovery))]
    if proto.linearizable:
        verdicts.append(checks.linearizable(history.ops, options.budget))
        honest = [n for n in names if n not in dict(options.byzantine)]
        verdicts += checks.state_files(
            options.protocol, history.ops, {n: persisted[n] for n in honest}
        )
        if options.byzantine:
            verdicts.append(checks.escalated(samples, honest))
    else:
        verdicts += [
            convergence.converged(settled, options.settle),
            convergence.trusted(settled, options.settle),
            convergence.reads_written(history.ops),
            convergence.none_undone(history.ops, history.nodes, settled),
            convergence.entries_written(settled, persisted),
            convergence.own_durable(history.ops, history.nodes, persisted),
            convergence.spread_verdict(probes),
            *health.verdicts(samples, struck),
        ]
    if proto.spec is not None and options.validate:
        progress("validating the nodes' logs against the spec")
        node_logs = [cluster.config.state_file(n).with_name("node.ndjson") for n in names]
        verdicts.append(
            checks.logs_valid(
                proto.spec,
                node_logs,
                proto.log_constants(names, core_options),
                folder,
                options.validate_budget,
            )
        )
    return Outcome(
        options,
        tuple(plan),
        history,
        tuple(verdicts),
        seconds,
        network.frames(),
        tuple(sorted(struck)),
        tuple(samples),
        tuple(probes),
    )


async def _nemesis(
    plan: list[nemesis.Fault],
    cluster: LocalCluster,
    network: Network,
    names: list[str],
    clock: Callable[[], float],
    leader: Callable[[], str | None],
    struck: list[tuple[float, str]],
    codec: Codec,
    tls: ssl.SSLContext | None,
) -> None:
    def resolve(nodes: tuple[str, ...]) -> tuple[str, ...]:
        return tuple((leader() or names[0]) if n == nemesis.LEADER else n for n in nodes)

    # A fault on a node's process waits for the one before it on that node to be undone: a
    # restart on a loaded machine can take over a second, and a kill that struck a process still
    # starting would end the run (the plan keeps the faults apart in time, not in effect).
    locks = {n: asyncio.Lock() for n in names}

    async def one(fault: nemesis.Fault) -> None:
        await asyncio.sleep(max(0.0, fault.at - clock()))
        fault = attrs.evolve(fault, nodes=resolve(fault.nodes))
        if fault.kind in ("kill", "pause", "clock"):
            async with locks[fault.nodes[0]]:
                await strike(fault)
        else:
            await strike(fault)

    async def strike(fault: nemesis.Fault) -> None:
        node = fault.nodes[0]
        struck.append((clock(), f"{fault.kind} {','.join(fault.nodes)}"))
        if fault.kind == "kill":
            await asyncio.to_thread(cluster.kill, node)
            await asyncio.sleep(fault.lasts)
            await asyncio.to_thread(cluster.start, node)
        elif fault.kind == "pause":
            cluster.pause(node)
            await asyncio.sleep(fault.lasts)
            cluster.resume(node)
        elif fault.kind == "clock":
            address = cluster.config.nodes[node]
            try:
                await skew_clock(address, codec, fault.offset, fault.rate, tls, node)
                await asyncio.sleep(fault.lasts)
                await skew_clock(address, codec, -fault.offset, 1.0, tls, node)
            except (OSError, ConnectionError):
                pass  # the node is down (killed meanwhile): a restart starts a true clock
        else:
            if fault.kind == "partition":
                links, faults = between(fault.nodes, names, fault.one_way), LinkFaults(cut=True)
            elif fault.kind == "latency":
                links, faults = touching(fault.nodes, names), LinkFaults(latency=(50, 150))
            else:
                links, faults = touching(fault.nodes, names), LinkFaults(loss=0.3)
            network.add(links, faults)
            await asyncio.sleep(fault.lasts)
            network.remove(links, faults)
        struck.append((clock(), f"{fault.kind} {','.join(fault.nodes)} undone"))

    await asyncio.gather(*(one(f) for f in plan))


def _sampled_leader(samples: list[inspection.Sample]) -> str | None:
    """The node last sampled as a Raft leader (the hybrid dispatcher's Raft epochs: its clients
    follow no leader, so the nemesis's @leader is read off the nodes themselves)."""
    for s in reversed(samples[-50:]):
        if s.seen.get("role") == "Leader":
            return s.node
    return None


async def _progress(
    history: History, duration: float, clock: Callable[[], float], progress: Progress
) -> None:
    while True:
        await asyncio.sleep(1.0)
        progress(
            f"t={clock():5.1f}/{duration:.0f}s  ok {history.count('ok')}  "
            f"fail {history.count('fail')}  info {history.count('info')}"
        )


def run(options: Options, folder: Path, progress: Progress = lambda _: None) -> Outcome:
    folder.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(options, folder, progress))


def latency_ms(history: History) -> dict[str, float]:
    """p50, p99 and max of the ok operations' latencies, in milliseconds."""
    ok = sorted(s * 1000 for _, s, status in history.latencies if status == "ok")
    if not ok:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan}
    return {
        "p50": statistics.median(ok),
        "p99": ok[min(len(ok) - 1, int(len(ok) * 0.99))],
        "max": ok[-1],
    }


def summary_rows(outcome: Outcome) -> list[dict[str, Any]]:
    """The run's one table: the operations, the latencies, each check's verdict."""
    h = outcome.history
    lat = latency_ms(h)
    rows: list[dict[str, Any]] = [
        {
            "what": "operations",
            "result": f"ok {h.count('ok')}, fail {h.count('fail')}, info {h.count('info')}",
            "detail": f"{len(h.ops) / outcome.options.time:.0f}/s over {outcome.options.time:.0f} s",
        },
        {
            "what": "latency (ok)",
            "result": f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms",
            "detail": f"max {lat['max']:.1f} ms",
        },
        {
            "what": "nemesis",
            "result": f"{len(outcome.plan)} faults",
            "detail": f"frames {outcome.frames[0]}, dropped {outcome.frames[1]}",
        },
    ]
    for v in outcome.verdicts:
        result = {True: "holds", False: "VIOLATED", None: "unknown"}[v.holds]
        rows.append({"what": v.check, "result": result, "detail": v.detail})
    return rows
