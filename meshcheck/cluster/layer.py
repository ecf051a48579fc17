"""One cluster of a run: its node processes behind their link proxies, its clients, its nemesis,
and what is checked of it once it is over.

A cluster test runs one `Layer` (meshcheck/cluster/run.py); the manager's test runs three, one per
layer of the design, under one router (meshcheck/cluster/routed.py). A layer goes through:

1. `start`: the proxies, then every node process (`LocalCluster`, entered by the caller so that
   the processes end with the caller's `with`, however it ends), then the clients;
2. `strike`: its nemesis, and the samples of what the nodes hold where a check reads them;
3. `calm`: every fault undone; how long the clients must still run so that progress after healing
   is judged on operations that had the time to succeed;
4. `settle` (gossip: do the nodes come to agree, and how fast), then `close`;
5. `check`, after the processes ended: the history and its pictures written, the state files read
   back, every check's verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck import words
from meshcheck.cluster import anomaly
from meshcheck.cluster import checks
from meshcheck.cluster import convergence
from meshcheck.cluster import disk_faults
from meshcheck.cluster import figures
from meshcheck.cluster import health
from meshcheck.cluster import inspection
from meshcheck.cluster import nemesis
from meshcheck.cluster import pbft_disks
from meshcheck.cluster import strike
from meshcheck.cluster.netns import NamespaceNetwork
from meshcheck.cluster.netns import enter
from meshcheck.cluster.netns import leave
from meshcheck.cluster.netns_links import HARNESS
from meshcheck.cluster.netns_links import NamespaceLinks
from meshcheck.cluster.network import Network
from meshcheck.cluster.options import Options
from meshcheck.cluster.options import Outcome
from meshcheck.cluster.options import client_names
from meshcheck.cluster.options import fault_plan
from meshcheck.cluster.options import node_names
from meshcheck.cluster.quorum_clients import QuorumClients
from meshcheck.cluster.workload import Clients
from meshcheck.cluster.workload import MemberClients
from meshcheck.cluster.workload import keys_of
from meshcheck.cluster.workload import shape_of
from meshcheck.faults.disks import NodeDisks
from meshcheck.impl.runtime import mutants as runtime_mutants
from meshcheck.impl.runtime.client import crash_core
from meshcheck.impl.runtime.client import recover_core
from meshcheck.impl.runtime.client import skew_clock
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.disk import StateFileError
from meshcheck.impl.runtime.disk import whole_records
from meshcheck.impl.runtime.hosted.hybrid import hybrid_keys
from meshcheck.impl.runtime.hosted.pbft import pbft_keys
from meshcheck.impl.runtime.launcher import LOOPBACK
from meshcheck.impl.runtime.launcher import LocalCluster
from meshcheck.impl.runtime.launcher import free_ports
from meshcheck.impl.runtime.member import Member
from meshcheck.impl.runtime.protocols import BFT_CLIENTS
from meshcheck.impl.runtime.protocols import BFT_KEYS
from meshcheck.impl.runtime.protocols import BYZANTINE
from meshcheck.impl.runtime.protocols import protocol as runtime_protocol
from meshcheck.impl.runtime.proxy import LinkFaults
from meshcheck.traces.history import jepsen
from meshcheck.traces.history import models
from meshcheck.traces.history.history import Op

Progress = Callable[[str], None]
Clock = Callable[[], float]
# seconds the samples go on after the clients stopped, for every node to reach one commit index
SETTLE = 2.0
AnyClients = Clients | MemberClients | QuorumClients


class Layer:
    """One cluster of a run, as `options` asks, reporting into `folder`."""

    def __init__(self, options: Options, folder: Path) -> None:
        self.options = options
        self.folder = folder
        self.names = node_names(options.protocol, options.nodes)
        self.proto = runtime_protocol(options.protocol)
        self.keys = keys_of(options.workload)
        self.plan = fault_plan(options)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "nemesis.txt").write_text(
            "".join(f.describe() + "\n" for f in self.plan) or "no faults\n", encoding="utf-8"
        )
        # --network netns: the nodes in their own namespaces, this thread in the harness's
        # (netns_links.py); left, and the namespaces gone, in `close`
        self.netns: NamespaceNetwork | None = None
        self._back: int | None = None
        self.network: Network | NamespaceLinks
        if options.network == "netns":
            self.netns = NamespaceNetwork([*self.names, HARNESS]).build()
            self.network = NamespaceLinks(self.netns, self.names)
            self._back = enter(self.netns.namespace(HARNESS))
            addresses = self.network.addresses
            ports = {n: port for n, (_, port) in addresses.items()}
        else:
            ports = dict(zip(self.names, free_ports(len(self.names)), strict=True))
            addresses = {n: (LOOPBACK, p) for n, p in ports.items()}
            slow = LinkFaults(latency=options.delay) if options.delay[1] > 0 else None
            self.network = Network(self.names, addresses, options.seed, tls=options.tls, base=slow)
        self.struck: list[tuple[float, str]] = []  # (when, what) the nemesis did, targets resolved
        # (when, what) the disk faults did to the nodes' files (disk_faults.py), for nemesis.log
        self.disk_notes: list[tuple[float, str]] = []
        # the runtime's own mutants (impl/runtime/mutants.py) go to the node processes' disks,
        # the others to their cores
        runtime_bugs = sorted(options.bugs & runtime_mutants.BUGS.keys())
        core_bugs = sorted(options.bugs - runtime_mutants.BUGS.keys())
        core: dict[str, Any] = {"bugs": core_bugs} if core_bugs else {}
        core |= dict(options.core)
        if options.byzantine:
            behaving: dict[str, list[str]] = {}
            for node, behaviour in options.byzantine:
                behaving.setdefault(node, []).append(behaviour)
            core[BYZANTINE] = behaving
        self.member_names = client_names(options.clients)
        if self.proto.bft:  # clients that sign
            core |= {BFT_KEYS: options.seed, BFT_CLIENTS: self.member_names}
        self.core_options = core
        self.members: list[Member] = []
        self.settled = convergence.Settled({}, None, None, {})  # gossip: what the nodes came to
        self.probes: list[float] = []
        self.samples: list[inspection.Sample] = []
        self._sampler: asyncio.Task[None] | None = None
        self._nemesis: asyncio.Task[None] | None = None
        self.healed = 0.0
        self.until = 0.0  # when the clients stopped: the progress check's window ends there
        self.persisted: dict[str, Any] = {}  # every node's state file, read back by `check`
        # PBFT: the honest replicas' state files, followed as they are written (pbft_disks.py)
        self.tails: list[pbft_disks.Tail] = []
        self._tailing: asyncio.Task[None] | None = None
        self._stop_tailing = asyncio.Event()
        kinds = {f.kind for f in self.plan}
        # a power failure planned: every node's data directory on a lazy filesystem of its own,
        # mounted by the caller's `with` after the cluster cleared the folder, before it starts
        self.powered = "power" in kinds
        self.disks = NodeDisks(
            folder / "data", self.names, lazy=self.powered, durability=options.fs
        )
        try:
            self.cluster = LocalCluster(
                options.protocol,
                self.names,
                folder,
                seed=options.seed,
                options=core | ({runtime_mutants.OPTION: runtime_bugs} if runtime_bugs else {}),
                routes=self.network.routes(),
                ports=ports,
                tls=options.tls,
                addresses=addresses,
                wrap=self.netns.command if self.netns is not None else None,
            )
        except BaseException:
            self.leave_network()  # the run never starts: its namespaces go now
            raise
        self.clients: AnyClients | None = None

    # -- the run ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """The proxies and every node (the caller has entered `cluster`)."""
        await self.network.start()
        for node in self.names:
            await asyncio.to_thread(self.cluster.start, node)

    async def open_clients(
        self, clock: Clock, agreed: Callable[[object], bool] | None = None
    ) -> AnyClients:
        """The protocol's clients: signed to every node, f+1 alike (the hybrid dispatcher's; an
        answer is a decision when `agreed` says so of its status, by default when "committed");
        client cores hosted here (PBFT, HotStuff); or plain clients that follow the leader."""
        options, cluster, proto = self.options, self.cluster, self.proto
        clients: AnyClients
        if proto.quorum_clients:
            clients = QuorumClients(
                cluster.config.nodes,
                proto.codec(),
                hybrid_keys(self.names, self.core_options),
                self.member_names,
                rate=options.rate,
                keys_written=self.keys,
                seed=options.seed,
                clock=clock,
                timeout=max(options.timeout, proto.client_timeout),
                tls=cluster.client_tls(),
                **({} if agreed is None else {"agreed": agreed}),
            )
        elif proto.build_member is not None:
            for name in self.member_names:
                core = proto.build_member(name, self.names, self.core_options)
                member = Member(
                    name,
                    core,
                    proto.codec(),
                    cluster.config.nodes,
                    tls=cluster.client_tls(),
                    state=self.client_state(name),
                )
                self.members.append(member)
                await member.start()
            clients = MemberClients(
                self.members,
                rate=options.rate,
                keys=self.keys,
                seed=options.seed,
                clock=clock,
                timeout=max(options.timeout, proto.client_timeout),
            )
        else:
            clients = Clients(
                cluster.config.nodes,
                proto.codec(),
                count=options.clients,
                rate=options.rate,
                keys=self.keys,
                seed=options.seed,
                clock=clock,
                timeout=max(options.timeout, proto.client_timeout),
                tls=cluster.client_tls(),
                shape=shape_of(options.workload),
            )
        self.clients = clients
        return clients

    def client_state(self, name: str) -> Path:
        """A client core's state file (what a `crash-client` restart reads back), beside the
        nodes' own."""
        return self.folder / "data" / name / "state.wal"

    async def _crash(self, name: str) -> Callable[[], Awaitable[None]]:
        """Kill the client core `name` (impl/runtime/member.py `crash`); what starts a new core of
        it from its state file."""
        member = next(m for m in self.members if m.name == name)
        await member.crash()
        build = self.proto.build_member
        assert build is not None

        async def restart() -> None:
            await member.restart(build(name, self.names, self.core_options))

        return restart

    def strike(self, clock: Clock) -> None:
        """The nemesis, and the samples where a check or a measurement reads them."""
        assert self.clients is not None
        clients, samples, options = self.clients, self.samples, self.options
        loop = asyncio.get_running_loop()
        self._nemesis = loop.create_task(
            _nemesis(
                self.plan,
                self.cluster,
                self.network,
                self.names,
                clock,
                lambda: clients.leader or _sampled_leader(samples),
                self.struck,
                self.proto.codec(),
                self.cluster.client_tls(),
                self._crash if self.members else None,
                disk_faults.callbacks(
                    self.cluster,
                    self.disks,
                    options.seed,
                    [self.cluster.config.state_file(self.names[0]).name],  # what corrupt damages
                    lambda what: self.disk_notes.append((clock(), what)),
                ),
            )
        )
        wanted = (
            options.sample or options.byzantine or not self.proto.linearizable or self.proto.sampled
        )
        if self.proto.inspect is not None and wanted:  # what the nodes hold (inspection.py)
            self._sampler = loop.create_task(
                inspection.sample(
                    self.cluster.config.nodes,
                    self.proto.codec(),
                    self.cluster.client_tls(),
                    clock,
                    samples,
                )
            )

        if options.protocol == "pbft":
            honest = [n for n in self.names if n not in dict(options.byzantine)]
            keys = pbft_keys(self.names, self.core_options)
            byzantine = frozenset(dict(options.byzantine))
            self.tails = [
                pbft_disks.Tail(
                    self.cluster.config.state_file(n),
                    self.proto.codec(),
                    pbft_disks.DiskJudge(n, tuple(self.names), byzantine, keys),
                )
                for n in honest
            ]
            self._tailing = loop.create_task(_follow(self.tails, self._stop_tailing))

    async def calm(self, clock: Clock) -> float:
        """Wait for every fault to be undone; the time until which the clients must still run
        (0: none), so that progress after healing is judged on operations that had the time to
        succeed. The window is the protocol's `recovery` from when the clients can run again,
        not from the moment of healing: the last fault may be undone late (a restart under load)
        and the nemesis may return later still, and a window the harness spent waiting would
        judge its own delay, not the nodes."""
        if self._nemesis is not None:
            await self._nemesis
        self.healed = max((t for t, what in self.struck if what.endswith("undone")), default=0.0)
        if self.healed > self.options.time - self.proto.recovery:  # the clients ran too short
            self.until = max(self.healed, clock()) + self.proto.recovery
            return self.until
        return 0.0

    async def settle(self, clock: Clock, progress: Progress) -> None:
        """Gossip: whether the nodes come to agree once the writes stop, and how fast a probe write
        spreads; Raft: the samples go on until every node is at one commit index (at most
        `SETTLE` seconds), so that the check of the applied state compares every node's machine
        at one index; then the samples end (they went on while the nodes settled)."""
        if self.proto.sampled and self.proto.linearizable and self._sampler is not None:
            since, names = clock(), self.names
            while clock() < since + SETTLE and not inspection.agreed(
                self.samples, names, since, "commit"
            ):
                await asyncio.sleep(inspection.EVERY)
        if not self.proto.linearizable:
            progress("waiting for the nodes to agree, then timing probe writes")
            tls, nodes, codec = (
                self.cluster.client_tls(),
                self.cluster.config.nodes,
                self.proto.codec(),
            )
            self.settled = await convergence.settle(nodes, codec, tls, clock, self.options.settle)
            self.probes = await convergence.spread(nodes, codec, tls, clock)
        await self._stop_sampling()

    async def _stop_sampling(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)
            self._sampler = None
        if self._tailing is not None:  # let a read under way end: `check` reads on after it
            self._stop_tailing.set()
            await asyncio.gather(self._tailing, return_exceptions=True)
            self._tailing = None

    async def close(self) -> None:
        """The samples, the client cores and the proxies end (the nodes end with `cluster`)."""
        await self._stop_sampling()
        if self._nemesis is not None and not self._nemesis.done():
            self._nemesis.cancel()
            await asyncio.gather(self._nemesis, return_exceptions=True)
        for member in self.members:
            await member.stop()
        self.network.heal()
        await self.network.stop()
        self.leave_network()

    def leave_network(self) -> None:
        """This thread back in the namespace it came from, then the namespace network gone (its
        processes with it). Called again, nothing more."""
        if self._back is not None:
            back, self._back = self._back, None
            leave(back)
        if self.netns is not None:
            net, self.netns = self.netns, None
            net.close()

    # -- once it is over ----------------------------------------------------------------------------

    def _restarted_clients(
        self, ops: Sequence[Op], persisted: Mapping[str, Any], honest: Sequence[str]
    ) -> list[checks.Verdict]:
        """A run that crashed and restarted clients: each restarted client answered again while
        the others were; for PBFT, each client's clock, record by record of its state file,
        always moving on and ending at or above every timestamp of its that an honest replica
        executed (their state files)."""
        verdicts = [checks.restarted_answered(ops, self.struck)]
        if self.options.protocol == "pbft":
            codec = self.proto.codec()
            clocks = {}
            for name in self.member_names:
                path = self.client_state(name)
                raw = path.read_bytes() if path.exists() else b""
                clocks[name] = whole_records(raw, codec)[0]
            executed = checks.pbft_executed({n: persisted[n] for n in honest})
            verdicts.append(checks.client_clocks(clocks, executed))
        return verdicts

    def check(self, seconds: float, progress: Progress) -> Outcome:
        """Write the report folder and judge the run (every node process has ended)."""
        options, proto, names, folder = self.options, self.proto, self.names, self.folder
        assert self.clients is not None
        history = self.clients.history
        struck = self.struck
        logged = [*struck, *((t, f"  {what}") for t, what in self.disk_notes)]
        (folder / "nemesis.log").write_text(
            "".join(f"t={t:7.3f}s  {what}\n" for t, what in sorted(logged)), encoding="utf-8"
        )
        if proto.linearizable:
            dumped = jepsen.dumps(history.asked(), models.Rsm())
        else:
            dumped = jepsen.dumps(convergence.history_as_kv(history.ops), models.KeyValue())
        (folder / "history.jsonl").write_text(dumped, encoding="utf-8")
        name = f"{options.protocol}, {words.count(options.nodes, 'node')}, seed {options.seed}"
        (folder / "latency.svg").write_text(
            figures.latency_svg(history, struck, title=name), encoding="utf-8"
        )
        (folder / "timeline.svg").write_text(
            figures.timeline_svg(history, title=f"{name}: the history"), encoding="utf-8"
        )
        persisted: dict[str, Any] = {}
        for node in names:
            disk = Disk(self.cluster.config.state_file(node), proto.codec())
            try:
                persisted[node] = disk.load()
            except StateFileError as e:  # a corrupted file its node refused: it holds nothing
                persisted[node] = {}
                progress(f"{node}'s state file is unreadable, counted as holding nothing: {e}")
            disk.close()
        self.persisted = persisted
        until = max(options.time, self.healed + proto.recovery, self.until)
        verdicts = [checks.progress(history.ops, self.healed, until)]
        if proto.linearizable:
            verdicts.append(checks.linearizable(history.ops, options.budget))
            if verdicts[-1].holds is False:
                progress("drawing the anomaly")
                anomaly.report(
                    history.ops, models.Rsm(), struck, folder, title=name, budget=options.budget
                )
                verdicts[-1] = attrs.evolve(
                    verdicts[-1], detail=f"{verdicts[-1].detail} (anomaly.txt, anomaly.svg)"
                )
            honest = [n for n in names if n not in dict(options.byzantine)]
            verdicts += checks.state_files(
                options.protocol, history.ops, {n: persisted[n] for n in honest}
            )
            if isinstance(self.clients, Clients):  # the clients saw every answer (workload.py)
                verdicts.append(checks.answered_once(history.ops, history.again, history.late))
            if self.proto.sampled:
                verdicts.append(checks.applied_state(self.samples))
            if options.byzantine and options.protocol == "hybrid":
                verdicts.append(checks.escalated(self.samples, honest, persisted))
            if any(f.kind in nemesis.CLIENTS for f in self.plan):
                verdicts += self._restarted_clients(history.ops, persisted, honest)
            if self.tails:  # the last records, written after the last read
                for tail in self.tails:
                    tail.read()
                verdicts.append(pbft_disks.verdict({t.judge.node: t.judge for t in self.tails}))
        else:
            settled, samples = self.settled, self.samples
            verdicts += [
                convergence.converged(settled, options.settle),
                convergence.trusted(settled, options.settle),
                convergence.reads_written(history.ops),
                convergence.none_undone(history.ops, history.nodes, settled),
                convergence.entries_written(settled, persisted),
                convergence.own_durable(history.ops, history.nodes, persisted),
                convergence.spread_verdict(self.probes),
                *health.verdicts(samples, struck),
            ]
        # With Byzantine nodes PBFT's logs are not validated: the spec lets a Byzantine replica
        # send any well-typed message (PBFT.tla's ByzSenders), and with the constants a real run
        # fits (its requests, views and sequence numbers) one NewView's successors are more than
        # TLC builds (over a million); the checks above judge the honest nodes. Hybrid.tla's
        # Byzantine nodes only add evidence, and the honest nodes' logs are walked without theirs.
        byzantine = dict(options.byzantine)
        if self.powered and options.validate and proto.spec is not None:
            # a node's log of its steps is the harness's instrument, written beside its state
            # file and never fsynced: a power failure drops its last lines while the state they
            # led to survives, and the log would no longer be the node's run
            progress(
                "the nodes' logs are not validated: a power failure drops their unsynced lines"
            )
        elif (
            proto.spec is not None
            and options.validate
            and (not byzantine or options.protocol == "hybrid")
        ):
            progress("validating the nodes' logs against the spec")
            node_logs = [
                self.cluster.config.state_file(n).with_name("node.ndjson")
                for n in names
                if n not in byzantine
            ]
            verdicts.append(
                checks.logs_valid(
                    proto.spec,
                    node_logs,
                    proto.log_constants(names, self.core_options),
                    folder,
                    options.validate_budget,
                    proto.log_limit,
                )
            )
        return Outcome(
            options,
            tuple(self.plan),
            history,
            tuple(verdicts),
            seconds,
            self.network.frames(),
            tuple(sorted(struck)),
            tuple(self.samples),
            tuple(self.probes),
        )


async def _nemesis(
    plan: list[nemesis.Fault],
    cluster: LocalCluster,
    network: Network | NamespaceLinks,
    names: list[str],
    clock: Callable[[], float],
    leader: Callable[[], str | None],
    struck: list[tuple[float, str]],
    codec: Codec,
    tls: ssl.SSLContext | None,
    crash_client: strike.ClientCrash | None = None,
    disks: tuple[strike.DiskFault, strike.DiskFault] | None = None,
) -> None:
    """The plan carried out (strike.py) on the nodes' processes, their cores (`crash`) and
    their link proxies, on the client cores (`crash_client`), and on their disks (`disks`: the
    power failure and the corruption, disk_faults.py)."""

    async def named_leader() -> str | None:
        return leader()

    def links(fault: nemesis.Fault) -> Callable[[], None]:
        return network.strike(
            fault
        )  # the proxies' (network.py) or the namespaces' (netns_links.py)

    async def skew(fault: nemesis.Fault) -> Callable[[], Awaitable[None]]:
        node = fault.nodes[0]
        address = cluster.config.nodes[node]
        try:
            await skew_clock(address, codec, fault.offset, fault.rate, tls, node)
            skewed = True
        except (OSError, ConnectionError):
            skewed = False  # the node is down (killed meanwhile): a restart starts a true clock

        async def back() -> None:
            if skewed:  # a clock that was never skewed is not set back
                with contextlib.suppress(OSError, ConnectionError):
                    await skew_clock(address, codec, -fault.offset, 1.0, tls, node)

        return back

    async def crash(fault: nemesis.Fault) -> Callable[[], Awaitable[None]]:
        node = fault.nodes[0]
        address = cluster.config.nodes[node]
        try:
            await crash_core(address, codec, tls, node)
            crashed = True
        except (OSError, ConnectionError, ValueError):
            crashed = False  # the node is not up (a kill's restart not done): nothing to rebuild

        async def rebuild() -> None:
            if crashed:
                await recover_core(address, codec, tls, node)

        return rebuild

    await strike.carry_out(
        plan,
        cluster,
        names,
        clock,
        struck,
        leader=named_leader,
        links=links,
        skew=skew,
        crash=crash,
        crash_client=crash_client,
        power=disks[0] if disks is not None else None,
        corrupt=disks[1] if disks is not None else None,
    )


async def _follow(tails: list[pbft_disks.Tail], stop: asyncio.Event, every: float = 0.2) -> None:
    """Each tail read every `every` seconds until `stop` is set, in a thread (a read judges
    signatures); never cancelled in the middle of a read, which would go on in its thread."""

    def read_all() -> None:
        for tail in tails:
            tail.read()

    while not stop.is_set():
        await asyncio.to_thread(read_all)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def _sampled_leader(samples: list[inspection.Sample]) -> str | None:
    """The node last sampled as a Raft leader (the hybrid dispatcher's Raft epochs: its clients
    follow no leader, so the nemesis's @leader is read off the nodes themselves)."""
    for s in reversed(samples[-50:]):
        if s.seen.get("role") == "Leader":
            return s.node
    return None
