"""One test of a system described by its file (docs/systems.md): its nodes as processes
(nodes.py) on loopback or each in a network namespace (meshcheck/cluster/netns.py), meshcheck's
workload through the system's client plug-in (workloads.py), the nemesis's seeded plan
(meshcheck/cluster/nemesis.py) carried out by meshcheck/cluster/strike.py, and the history checked
(verdicts.py) as the project's own clusters' are; each node's NDJSON log validated against the
file's spec where it names one.

The report folder: history.jsonl, nemesis.txt (the plan), nemesis.log (what struck when, the
targets resolved), network.log (a namespace network's rules as applied), latency.svg,
timeline.svg, anomaly.txt and anomaly.svg (a violation's window), losses.txt and losses.json (what
the history lost: the counts and the first ten, then every one), cluster.json (each node's
endpoint), each node's output, model.cfg (the validation's); down.txt (a node that did not come
back after a fault, declared down: meshcheck/cluster/left_down.py), partial.txt (a run stopped
early, its partial history checked: early_stop.py)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import time
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
from meshcheck.cluster import disk_faults
from meshcheck.cluster import fault_account
from meshcheck.cluster import figures
from meshcheck.cluster import nemesis
from meshcheck.cluster import strike
from meshcheck.cluster.checks import PROMISE
from meshcheck.cluster.checks import Verdict
from meshcheck.cluster.clock_faults import ShiftedClock
from meshcheck.cluster.clock_faults import unreachable as clock_unreachable
from meshcheck.cluster.fault_account import FaultAccount
from meshcheck.cluster.fault_account import Kept
from meshcheck.cluster.left_down import DownNode
from meshcheck.cluster.left_down import LeftDown
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.netns import NamespaceNetwork
from meshcheck.cluster.netns import enter
from meshcheck.cluster.netns import leave
from meshcheck.cluster.netns_links import HARNESS
from meshcheck.cluster.netns_links import NamespaceLinks
from meshcheck.cluster.network import Network
from meshcheck.cluster.run import progress_lines
from meshcheck.cluster.workload import History
from meshcheck.exercise import Exercise
from meshcheck.faults.disks import NodeDisks
from meshcheck.faults.lazyfs import DaemonDied
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.runtime.launcher import LOOPBACK
from meshcheck.impl.runtime.launcher import free_ports
from meshcheck.systems import checked
from meshcheck.systems import promises
from meshcheck.systems import remote_setup
from meshcheck.systems import stream_history
from meshcheck.systems import system_file
from meshcheck.systems import templates
from meshcheck.systems.data_dirs import PlainDisks
from meshcheck.systems.early_stop import EarlyStop
from meshcheck.systems.hosts_file import Host
from meshcheck.systems.nodes import SystemNodes
from meshcheck.systems.nodes import peer_port
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Ended
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.registry import System
from meshcheck.systems.remote_clock import RemoteClock
from meshcheck.systems.remote_disks import RemoteDisks
from meshcheck.systems.remote_links import RemoteLinks
from meshcheck.systems.remote_setup import RemoteRun
from meshcheck.systems.system_file import Validate
from meshcheck.systems.verdicts import kept_in_file
from meshcheck.systems.verdicts import linearizable_kv
from meshcheck.systems.verdicts import mutual_exclusion
from meshcheck.systems.verdicts import serializable_verdicts
from meshcheck.systems.verdicts import writes_kept
from meshcheck.systems.watch_workload import WatchClients
from meshcheck.systems.workloads import Workload
from meshcheck.traces.history import consistency
from meshcheck.traces.history import jepsen
from meshcheck.traces.history import models
from meshcheck.traces.history import stream_models
from meshcheck.traces.history.losses import Account

Progress = Callable[[str], None]
RECOVERY = 5.0  # the calm after the last fault in which progress is owed
LEADER_WAIT = 30.0  # seconds a fresh cluster has to name a leader (when the plug-in can ask)
LEADER_EVERY = 0.1  # seconds between two questions of who leads (RunOptions.watch_leader)
PORT_BASE = 7001  # on a namespace network, named port k of every node is PORT_BASE + k
# the faults a system's run carries out; on loopback only those on processes, clocks and disks
# (system_file.py holds them, where a file's `[verify]` nemesis is checked)
KINDS = system_file.KINDS
LOOPBACK_KINDS = system_file.LOOPBACK_KINDS
# the faults on the nodes' disks (meshcheck/cluster/disk_faults.py, meshcheck/faults/disks.py)
DISK_KINDS = ("power", "corrupt")
# proxy: every node on loopback, each directed link through a proxy of this process
# (meshcheck/cluster/network.py: cut, slowed, reset; no root), for a file whose `peer` names one port
PROXY = "proxy"
NETWORKS = ("loopback", "netns", PROXY)
SSH = "ssh"  # the network of a run whose nodes are on hosts over SSH (--hosts)
DAEMONS_EVERY = 0.2  # seconds between two looks at the lazy file systems' daemons


@attrs.frozen
class RunOptions:
    nodes: int = 3
    time: float = 10.0
    nemesis: tuple[str, ...] = ("kill", "pause", "partition")
    workload: str = "registers"
    reads: str = (
        "linearizable"  # the system's read mode (the file's `reads`), as its client knows it
    )
    # how those reads are judged, linearizable or serializable (may be stale); empty: as `reads`
    # names them (a file whose read modes are the checkers' own)
    read_check: str = ""
    rate: float = 100.0
    clients: int = 5
    seed: int = 0
    network: str = "loopback"
    budget: float = 60.0  # the linearizability checker's (seconds)
    plan: tuple[Fault, ...] | None = None  # None: drawn from the seed
    # the lock workload: seconds the first client stalls, once, while it holds the lock (0: never)
    client_pause: float = 0.0
    validate: bool = True
    validate_budget: float = 300.0
    # ask the plug-in who leads every LEADER_EVERY seconds through the run (Outcome.leaders): the
    # elections `meshcheck claims deployment` times
    watch_leader: bool = False
    # seconds every pause lasts (0: the nemesis's own, 0.3 to 2.5 s): longer than a lease's TTL
    long_pause: float = 0.0
    # a mutant of the workload its checker must catch (checked.py's Kind.mutants), passed to the
    # workload's clients and the plug-in as the option `broken`
    broken: str = ""
    # what a power failure keeps: "strict" or "journal" (meshcheck/faults/lazy_tree.py DURABILITY)
    fs: str = "strict"
    # the hosts the nodes run on, node i on the i-th, over SSH (network "ssh"; remote_setup.py)
    hosts: tuple[Host, ...] = ()


@attrs.frozen
class Outcome:
    options: RunOptions
    history: History
    verdicts: tuple[Verdict, ...]
    plan: tuple[Fault, ...]
    struck: tuple[tuple[float, str], ...]
    seconds: float
    # (time, the node the plug-in named as leader, None: none answered) with watch_leader
    leaders: tuple[tuple[float, str | None], ...] = ()
    leader_changes: int = 0
    # the run stopped early by a signal (early_stop.py): which (SIGINT 2, SIGTERM 15; 0: it ran
    # to its end), and what the report says of it (`interrupted by SIGINT at t=3.2 s of 10 s`)
    signal: int = 0
    partial: str = ""
    down: tuple[DownNode, ...] = ()  # the nodes declared down (left_down.py)
    kept: tuple[Kept, ...] = ()  # each planned fault as it went: struck when, or skipped why

    @property
    def faults(self) -> FaultAccount:
        """The plan's faults carried out, late and skipped, and the slip (fault_account.py)."""
        return fault_account.account(self.kept, len(self.plan))

    @property
    def holds(self) -> bool:
        """Every check holds; a stronger model than the one promised is information, not judged
        (meshcheck/systems/promises.py)."""
        return all(v.holds for v in self.verdicts if v.judged)

    @property
    def exercise(self) -> Exercise:
        """What the run exercised (meshcheck/exercise.py): its operations and those ok, the faults
        of its plan and those carried out and undone (nemesis.log)."""
        h = self.history
        undone = sum(1 for _, what in self.struck if what.endswith(" undone"))
        late = self.faults.late
        return Exercise(len(h.ops), h.count("ok"), len(self.plan), undone, "operation", "ok", late)

    @property
    def safe(self) -> bool:
        """Every check not on real time holds (`Verdict.timed`), as cluster/options.py's."""
        judged = [v for v in self.verdicts if not v.timed and v.judged]
        return bool(judged) and all(v.holds for v in judged)


def node_names(system: System, n: int) -> list[str]:
    return [system.file.nodes.name(i) for i in range(1, n + 1)]


def faults(system: System, options: RunOptions) -> list[Fault]:
    if options.plan is not None:
        return list(options.plan)
    names = node_names(system, options.nodes)
    return nemesis.plan(
        options.seed, options.time, options.nemesis, names, pause=options.long_pause
    )


def history_model(options: RunOptions) -> models.Model:
    if options.workload == "rsm":  # the state machine's entries (rsm_workload.py)
        return models.Rsm()
    return models.Mutex() if options.workload == "lock" else models.KeyValue()


def read_mode(options: RunOptions) -> str:
    """How the run's reads are checked (traces/history/reads.py): the lock workload reads nothing."""
    return "linearizable" if options.workload == "lock" else options.read_check or options.reads


def replay_command(options: RunOptions, folder: Path) -> str:
    """The command that checks the run's history.jsonl as the run did, to the same verdict."""
    if options.workload == "stream":  # as the run wrote it, with its promise
        written = folder / "replay.txt"
        if written.exists():
            return written.read_text(encoding="utf-8").strip()
        return stream_history.replay_command(folder)
    if options.workload in checked.KINDS:  # with the lease's bound, from the run's plan
        return (folder / "replay.txt").read_text(encoding="utf-8").strip()
    return anomaly.replay_command(
        folder, history_model(options), budget=options.budget, mode=read_mode(options)
    )


@attrs.frozen
class Recorded:
    """What a run leaves for its checks (`_check`): the workload and its history, the plan, the
    nemesis's log, when the faults were healed and until when the clients ran, each node's
    placeholders' values, the leaders sampled, the nodes declared down."""

    workload: Workload
    plan: list[Fault]
    struck: list[tuple[float, str]]
    healed: float
    until: float
    values: dict[str, dict[str, str]]
    leaders: list[tuple[float, str | None]]
    down: LeftDown | None
    kept: list[Kept] = attrs.Factory(list)  # each planned fault as it went (strike.py)
    watched: list[Any] = attrs.Factory(list)  # what the plug-in's `watch` saw (plugin.py)


def run(
    system: System,
    options: RunOptions,
    folder: Path,
    progress: Progress,
    *,
    interruptible: bool = False,
) -> Outcome:
    """One run, checked. `interruptible` (`meshcheck cluster test`): SIGINT and SIGTERM stop it
    early and what it recorded is checked, the outcome marked partial (early_stop.py); without
    it they interrupt the run as they land (a caller that runs many, `verify`, ends)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("partial.txt", "down.txt"):  # an earlier run's, in the same folder
        (folder / stale).unlink(missing_ok=True)
    started = time.monotonic()
    stop = EarlyStop()
    try:
        recorded = asyncio.run(_run(system, options, folder, progress, stop, interruptible))
    except asyncio.CancelledError:  # stopped before the clients ran, or a second signal
        if stop.failure is not None:
            raise stop.failure from None
        raise stop.interrupt() from None
    struck = sorted([*recorded.struck, *(recorded.down.log if recorded.down else ())])
    _keep(system, options, folder, recorded.workload, struck)
    if stop.failure is not None:
        raise stop.failure
    if recorded.down is not None and recorded.down.nodes:
        (folder / "down.txt").write_text(recorded.down.report(), encoding="utf-8")
    partial = stop.describe(options.time) if stop.stopped else ""
    outcome = _check(system, options, folder, recorded.workload, recorded.plan, struck,
                     recorded.healed, recorded.until, recorded.values,
                     time.monotonic() - started, progress, partial,
                     recorded.watched)  # fmt: skip
    leaders = recorded.leaders
    return attrs.evolve(
        outcome,
        leaders=tuple(leaders) if options.watch_leader else (),
        leader_changes=leader_changes(leaders),
        signal=stop.signal or 0,
        partial=partial,
        down=tuple(recorded.down.nodes.values()) if recorded.down else (),
        kept=tuple(recorded.kept),
    )


async def _run(
    system: System,
    options: RunOptions,
    folder: Path,
    progress: Progress,
    stop: EarlyStop,
    interruptible: bool,
) -> Recorded:
    stop.attach(asyncio.current_task())
    with stop.signals(asyncio.get_running_loop(), interruptible):
        return await _carry_out(system, options, folder, progress, stop)


async def _carry_out(
    system: System, options: RunOptions, folder: Path, progress: Progress, stop: EarlyStop
) -> Recorded:
    names = node_names(system, options.nodes)
    plan = faults(system, options)
    (folder / "nemesis.txt").write_text(
        "".join(f.describe() + "\n" for f in plan) or "no faults\n", encoding="utf-8"
    )
    (folder / "anomaly.txt").unlink(missing_ok=True)  # an earlier run's, in the same folder
    struck: list[tuple[float, str]] = []
    leaders: list[tuple[float, str | None]] = []
    healed = until = 0.0
    net: NamespaceNetwork | None = None
    remote: RemoteRun | None = None
    with contextlib.ExitStack() as stack:
        links: NamespaceLinks | RemoteLinks | Network | None = None
        routes = None  # --network proxy: where each node reaches each peer (a link proxy)
        if options.hosts:
            hosts, ports = {}, {}  # the remote cluster's own (remote_setup.py)
        elif options.network == "netns":
            net = NamespaceNetwork([*names, HARNESS]).build()
            stack.callback(net.close)
            stack.callback(leave, enter(net.namespace(HARNESS)))  # this thread: the harness's
            links = NamespaceLinks(net, names)
            hosts = {n: net.address(n) for n in names}
            ports = {
                n: {p: PORT_BASE + k for k, p in enumerate(system.file.nodes.ports)} for n in names
            }
        else:
            hosts = dict.fromkeys(names, LOOPBACK)
            named = system.file.nodes.ports
            free = iter(free_ports(len(named) * len(names)))
            ports = {n: {p: next(free) for p in named} for n in names}
        if options.network == PROXY:  # a proxy on every directed link, in this process, no root
            if not system.file.nodes.proxied:
                raise MeshcheckError(f"--network proxy: {system.file.name}'s nodes.proxied is off")
            carried = peer_port(system.file)
            proxies = Network(names, {n: (LOOPBACK, ports[n][carried]) for n in names},
                              options.seed, tls=True)  # fmt: skip
            stack.callback(proxies.close)
            await proxies.start()
            links, routes = proxies, proxies.routes()
        disks: PlainDisks | NodeDisks
        if options.hosts:  # each node's data on its host, collected at the end
            disks = stack.enter_context(PlainDisks(folder / "data", []))  # an earlier run's out
        elif set(DISK_KINDS) & set(options.nemesis):  # each node's data on its own (lazy) mount
            lazy = "power" in options.nemesis
            # an earlier run's, in the same folder (NodeDisks keeps what it finds, as on a disk)
            shutil.rmtree(folder / "data", ignore_errors=True)
            disks = stack.enter_context(
                NodeDisks(folder / "data", names, lazy=lazy, durability=options.fs)
            )
            # a daemon that dies stops the run (early_stop.py); the look ends with one more,
            # once the nodes have stopped and before the mounts go (the stack unwinds in order),
            # so that their own ending is not taken for a death and a death at the end is seen
            looks = asyncio.get_running_loop().create_task(_daemons_alive(disks, stop))
            stack.callback(_last_look, looks, disks, stop)
        else:
            disks = stack.enter_context(PlainDisks(folder / "data", names))
        clocks: Mapping[str, ShiftedClock | RemoteClock] = {}
        cluster: SystemNodes
        if options.hosts:
            remote = remote_setup.set_up(
                stack, system.file, names, folder, options.hosts, options.nemesis, options.seed,
                progress, durability=options.fs,
            )  # fmt: skip
            cluster, links, clocks = remote.cluster, remote.links, remote.clocks
            if remote.disks is not None and remote.disks.lazy:  # as below, the hosts' daemons
                looks = asyncio.get_running_loop().create_task(_daemons_alive(remote.disks, stop))
                stack.callback(_last_look, looks, remote.disks, stop)
        else:
            if "clock" in options.nemesis:
                clocks = {n: ShiftedClock(n, folder) for n in names}
            cluster = SystemNodes(
                system.file,
                names,
                folder,
                hosts=hosts,
                ports=ports,
                data=disks.data,
                wrap=net.command if net is not None else None,
                extra_env=lambda n: clocks[n].env() if clocks else {},
                seed=options.seed,
                routes=routes,
            )
        stack.enter_context(cluster)
        for program in {cluster.command(n)[0] for n in names} if clocks and not remote else ():
            why = clock_unreachable(program)
            if why is not None:
                raise MeshcheckError(f"--nemesis clock: {why}")
        if system.file.validate is not None:  # an earlier run's logs, in the same folder
            for n in names:
                Path(templates.fill(system.file.validate.logs, cluster.values(n))).unlink(
                    missing_ok=True
                )
        progress(
            f"starting {words.count(len(names), 'node')} of {system.file.name} ({options.network})"
        )
        # every start finished before one's failure is raised: stopping the cluster while another
        # thread still spawns would leave that node running (and change `procs` under `stop`);
        # for the same reason a stop meanwhile waits for them (strike.through). The nodes start
        # in the waves the file's roles order (a replica after its primary is ready), the nodes
        # of a wave together: one wave of every node without roles (meshcheck/systems/roles.py)
        for wave in cluster.waves():
            started_or, cut = await strike.through(
                asyncio.gather(
                    *(asyncio.to_thread(cluster.start, n) for n in wave), return_exceptions=True
                )
            )
            if cut:
                raise asyncio.CancelledError
            for failed in started_or:
                if isinstance(failed, BaseException):
                    raise failed
        endpoints = [cluster.endpoint(n) for n in names]
        reach = {e.node: (e.host, e.port) for e in endpoints}  # a client told who leads
        endpoints = [attrs.evolve(e, cluster=reach) for e in endpoints]
        (folder / "cluster.json").write_text(
            json.dumps(
                {e.node: {"host": e.host, "ports": dict(e.ports)} for e in endpoints}, indent=1
            ),
            encoding="utf-8",
        )
        leader = _leader(system, endpoints, names)
        if system.plugin.leader is not None:
            progress("waiting for a leader")
            await _named(leader, LEADER_WAIT, system.file.name)
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        def clock() -> float:
            return loop.time() - t0

        assert system.plugin.client is not None
        given = dict(system.file.client.options)
        if options.broken:
            given["broken"] = options.broken
        settings = ClientSettings(given, options.reads, options.workload)
        workload = Workload(
            system.plugin.client,
            settings,
            endpoints,
            clock,
            clients=options.clients,
            rate=options.rate,
            seed=options.seed,
            client_pause=options.client_pause,
        )

        def strike_links(fault: Fault) -> Callable[[], None]:
            if links is None:  # refused before the run (command.py): no links on loopback
                raise MeshcheckError(f"--nemesis {fault.kind}: not on --network loopback")
            return links.strike(fault)

        async def skew(fault: Fault) -> Callable[[], Awaitable[None]]:
            fake = clocks[fault.nodes[0]]
            fake.set(fault.offset / 1000, fault.rate)

            async def back() -> None:
                fake.set(0.0, 1.0)

            return back

        # a node whose restart fails is declared down (its wait bounded by the file's readiness
        # timeout, which every start of it waits), and no later fault waits for it again
        down = LeftDown(clock, cluster.last_lines, (len(names) - 1) // 2)
        kept: list[Kept] = []
        power = corrupt = None
        struck_disks = remote.disks if remote is not None else disks
        if isinstance(struck_disks, NodeDisks | RemoteDisks):
            power, corrupt = disk_faults.callbacks(
                cluster, struck_disks, options.seed, system.file.nodes.data_files,
                lambda said: struck.append((clock(), said)), down=down,
            )  # fmt: skip
        chaos = loop.create_task(
            strike.carry_out(
                plan, cluster, names, clock, struck, leader=leader, links=strike_links,
                skew=skew if clocks else None, power=power, corrupt=corrupt, down=down,
                kept=kept,
            )
        )  # fmt: skip
        # the nemesis failing stops the run at once (its error raised after the teardown), not
        # when the clients' time is up
        chaos.add_done_callback(lambda done: _failed(done, stop))
        stop.running(clock, workload.stop, chaos.cancel)
        watch = loop.create_task(progress_lines(workload.history, options.time, clock, progress))
        every = LEADER_EVERY if options.watch_leader else 0.5
        sampler = loop.create_task(_sample(leader, clock, leaders, every))
        watched: list[Any] = []  # the plug-in's reading of the running nodes (plugin.py `Watch`)

        async def watching() -> None:
            if system.plugin.watch is not None:
                given = dict(system.file.client.options)
                await system.plugin.watch(given, endpoints, clock, watched)

        watcher = loop.create_task(watching())
        try:
            await workload.run(options.time)
            await asyncio.wait([chaos])  # its failure or cancellation is the stop's to say
            healed = max((t for t, w in struck if w.endswith("undone")), default=0.0)
            # the calm is owed after a fault's undoing: a run no fault struck owes none
            owed = any(w.endswith("undone") for _, w in struck)
            if owed and healed > options.time - RECOVERY and not stop.stopped:
                until = max(healed, clock()) + RECOVERY
                await workload.run(until)
        finally:
            watch.cancel()
            chaos.cancel()
            sampler.cancel()
            watcher.cancel()
            await asyncio.gather(chaos, watch, sampler, watcher, return_exceptions=True)
            if links is not None:
                links.heal()
        if stop.stopped:
            until = stop.at or clock()
            progress(f"stopped: {stop.describe(options.time)}; the faults undone")
        elif options.workload == "stream":
            progress("reading back every node's copy of the stream")
            await workload.read_back()
        if workload.checked is not None and not stop.stopped:
            await workload.checked.finish()
        values = {n: cluster.values_here(n) for n in names}
    if net is not None:
        (folder / "network.log").write_text(net.log.report() + "\n", encoding="utf-8")
    if remote is not None:
        (folder / "network.log").write_text(remote.links.log.report() + "\n", encoding="utf-8")
    (folder / "leaders.log").write_text(
        "".join(
            f"{t:8.3f} {who or '-'}\n"
            for i, (t, who) in enumerate(leaders)
            if i == 0 or leaders[i - 1][1] != who
        ),
        encoding="utf-8",
    )
    return Recorded(workload, plan, struck, healed, until, values, leaders, down, kept, watched)


def _failed(task: asyncio.Task[None], stop: EarlyStop) -> None:
    """The nemesis's task ended: its error, if it failed, stops the run."""
    if not task.cancelled() and task.exception() is not None:
        stop.by_failure(task.exception() or RuntimeError("the nemesis failed"))


def _last_look(looks: asyncio.Task[None], disks: NodeDisks | RemoteDisks, stop: EarlyStop) -> None:
    if not looks.done():
        looks.cancel()
        for dead in disks.dead()[:1]:
            stop.by_failure(dead)


async def _daemons_alive(disks: NodeDisks | RemoteDisks, stop: EarlyStop) -> None:
    """Look at the nodes' lazy file systems' daemons until one has died: that stops the run, to be
    said in one line (lazyfs.py `DaemonDied`) once it is torn down."""
    while True:
        dead: list[DaemonDied] = disks.dead()
        if dead:
            stop.by_failure(dead[0])
            return
        await asyncio.sleep(DAEMONS_EVERY)


def leader_changes(leaders: list[tuple[float, str | None]]) -> int:
    """How many times the leader the members named changed (an interval without one not
    counted: the same leader before and after it is no change)."""
    named = [who for _, who in leaders if who is not None]
    return sum(1 for a, b in itertools.pairwise(named) if a != b)


async def _sample(
    leader: Callable[[], Awaitable[str | None]],
    clock: Callable[[], float],
    into: list[tuple[float, str | None]],
    every: float,
) -> None:
    """Who leads, asked every `every` seconds until cancelled; each answer at the time it was
    asked (leaders.log keeps the changes; Outcome.leaders every answer, with watch_leader)."""
    while True:
        at = clock()
        into.append((at, await leader()))
        await asyncio.sleep(max(0.0, at + every - clock()))


def _leader(
    system: System, endpoints: list[Endpoint], names: list[str]
) -> Callable[[], Awaitable[str | None]]:
    """Who leads now, as the plug-in asks the system (None: it cannot ask, or nobody answered;
    the nemesis then strikes the first node)."""
    ask = system.plugin.leader

    async def leader() -> str | None:
        if ask is None:
            return None
        try:
            found = await ask(endpoints)
        except (OSError, TimeoutError):
            return None
        return found if found in names else None

    return leader


async def _named(leader: Callable[[], Awaitable[str | None]], wait: float, name: str) -> None:
    deadline = time.monotonic() + wait
    while await leader() is None:
        if time.monotonic() > deadline:
            raise MeshcheckError(f"{name}: no node named a leader within {wait:.0f} s")
        await asyncio.sleep(0.1)


def _keep(
    system: System,
    options: RunOptions,
    folder: Path,
    workload: Workload,
    struck: list[tuple[float, str]],
) -> None:
    """What the run recorded, kept before anything is checked: nemesis.log and history.jsonl."""
    (folder / "nemesis.log").write_text(
        "".join(f"{t:8.3f} {w}\n" for t, w in struck), encoding="utf-8"
    )
    history = workload.history
    if workload.checked is not None:
        text = workload.checked.dumps()
    elif options.workload == "stream":
        text = stream_history.dumps(history.asked())  # with the nodes asked and served
    else:
        text = jepsen.dumps(history.asked(), history_model(options))
    (folder / "history.jsonl").write_text(text, encoding="utf-8")


def _check(
    system: System,
    options: RunOptions,
    folder: Path,
    workload: Workload,
    plan: list[Fault],
    struck: list[tuple[float, str]],
    healed: float,
    until: float,
    values: Mapping[str, Mapping[str, str]],
    seconds: float,
    progress: Progress,
    partial: str = "",
    watched: Sequence[Any] = (),
) -> Outcome:
    """The checks of what `_keep` kept; `partial`: the run stopped early, and says how;
    `watched`: what the plug-in's `watch` saw beside the clients, for its post-run hook."""
    history = workload.history
    model = history_model(options)
    name = f"{system.file.name}, {words.count(options.nodes, 'node')}, seed {options.seed}"
    (folder / "latency.svg").write_text(
        figures.latency_svg(history, struck, title=name), encoding="utf-8"
    )
    (folder / "timeline.svg").write_text(
        figures.timeline_svg(history, title=f"{name}: the history"), encoding="utf-8"
    )
    progress("checking the history")
    safety: tuple[Verdict, ...]
    # the model the system promises for this workload and read mode ("" none: judged as the read
    # mode says), and the stronger ones as information (promises.py)
    promised = system.file.promise_for(options.workload, options.reads)
    if workload.checked is not None:
        bound = checked.clock_bound(options.workload, plan)
        replay = checked.replay_command(options.workload, folder, bound)
        if promised and options.workload in promises.TXN_WORKLOADS:
            replay += f" --consistency {promised}"
        (folder / "replay.txt").write_text(replay + "\n", encoding="utf-8")
        safety, report = checked.verdicts(options.workload, folder / "history.jsonl", bound)
        if promised and options.workload in promises.TXN_WORKLOADS:
            if promised == consistency.DEFAULT:  # the checker's own model: its verdict, as is
                safety = (*safety, promises.mirror(safety[0], promised))
            else:
                checker = checked.KINDS[options.workload].model
                judged, report = promises.transactions(checker, folder / "history.jsonl", promised)
                safety = (*judged, *safety[1:])
        safety = (*safety, *_kept(checked.KINDS[options.workload].model, folder))
        if isinstance(workload.checked, WatchClients):
            safety = (*safety, _acknowledged(workload.checked))
        if any(v.holds is False and v.judged for v in safety):
            said = system.file.documented_for(options.workload, options.reads)
            note = f"documented: {said}\n" if said else ""
            (folder / "anomaly.txt").write_text(report + note, encoding="utf-8")
    elif options.workload == "stream":
        replay = stream_history.replay_command(folder, promised)
        (folder / "replay.txt").write_text(replay + "\n", encoding="utf-8")
        safety = (*_stream(folder / "history.jsonl", promised), *_kept("stream", folder))
    elif options.workload == "lock":
        safety = (mutual_exclusion(history.ops, options.budget),)
    elif options.workload == "rsm":  # as the cores' runner judged its client cores' writes
        safety = (checks.linearizable(history.ops, options.budget),)
    elif read_mode(options) == "serializable":
        safety = serializable_verdicts(history.ops, options.budget)
        if promised:
            safety = (*safety, *_promised(history, promised, options.budget, folder))
    else:
        kept, account = writes_kept(history.asked())
        _losses(folder, account, "seconds")
        if promised and promised != "linearizable":  # the promise, and the stronger models
            safety = (*_promised(history, promised, options.budget, folder), kept)
        else:  # linearizability, the promise itself when one is stated
            linear = linearizable_kv(history.ops, options.budget)
            safety = (linear, kept, *([promises.mirror(linear, promised)] if promised else []))
    if (
        options.workload != "stream"
        and workload.checked is None
        # a check of the read mode failed (or the promise of a linearizable read mode): the
        # read mode's anomaly is drawn; a weaker promise's window is in consistency.txt
        and any(
            v.holds is False and v.judged and (v.role != PROMISE or promised == read_mode(options))
            for v in safety
        )
    ):
        progress("drawing the anomaly")
        anomaly.report(
            history.asked(),
            model,
            struck,
            folder,
            title=name,
            budget=options.budget,
            documented=system.file.documented_for(options.workload, options.reads),
            mode=read_mode(options),
        )
        safety = tuple(
            attrs.evolve(v, detail=f"{v.detail} (anomaly.txt, anomaly.svg)")
            if v.holds is False
            else v
            for v in safety
        )
    lively = checks.progress(history.ops, healed, max(options.time, until))
    if partial:  # the calm after the faults, where progress is owed, never came
        lively = attrs.evolve(lively, holds=None, detail=f"not judged: {partial}")
    verdicts = [lively, *safety]
    validate = system.file.validate
    if validate is not None and options.validate:
        progress("validating the nodes' logs against the spec")
        logs = {n: Path(templates.fill(validate.logs, values[n])) for n in values}
        verdicts.append(_logs_valid(validate, logs, folder, options.validate_budget))
    if system.plugin.after is not None:  # the system's own checks (plugin.py `Ended`)
        ended = Ended(list(values), values, dict(system.file.client.options), folder,
                      history.ops, frozenset(f.kind for f in plan), options.validate,
                      options.validate_budget, progress, watched)  # fmt: skip
        verdicts += system.plugin.after(ended)
    if partial:
        (folder / "partial.txt").write_text(
            _partial_report(partial, history, verdicts), encoding="utf-8"
        )
    return Outcome(options, history, tuple(verdicts), tuple(plan), tuple(struck), seconds)


def _stream(path: Path, promised: str) -> tuple[Verdict, ...]:
    """The stream history's verdicts: the stream checker's own (duplicates allowed, one order,
    nothing lost: the model stream_models.DEFAULT), or, with a promise, the promise's (the run's)
    and the stronger models' as information (promises.streams; the promise of the checker's own
    model keeps the check's row and mirrors it); anomaly.txt when a judged one fails."""
    found, report = stream_history.verdict(path)
    rows: tuple[Verdict, ...] = (found,)
    if promised:
        judged, said, every = promises.streams(path, promised)
        (path.parent / "consistency.txt").write_text(every, encoding="utf-8")
        if promised == stream_models.DEFAULT:
            rows = (found, *judged[:-1], promises.mirror(found, promised))
        else:
            rows, report = judged, said
    if any(v.holds is False and v.judged for v in rows):
        (path.parent / "anomaly.txt").write_text(report, encoding="utf-8")
    return rows


def _promised(history: History, promised: str, budget: float, folder: Path) -> tuple[Verdict, ...]:
    """The register history against the model promised and the stronger ones (promises.py), the
    lattice's report written to consistency.txt."""
    found, report = promises.registers(history.ops, promised, budget)
    if report:
        (folder / "consistency.txt").write_text(report, encoding="utf-8")
    return found


def _partial_report(partial: str, history: History, verdicts: list[Verdict]) -> str:
    """partial.txt: how the run stopped, what it recorded, and what the checks made of it."""
    return (
        f"PARTIAL: {partial}\n"
        "the clients stopped after the operation each was in, every fault was undone "
        "(nemesis.log), the nodes stopped;\n"
        f"history.jsonl holds the {words.count(len(history.ops), 'operation')} recorded until "
        "then, and the checks judged them:\n"
        + "".join(f"  {v.check}: {v.said()} ({v.detail})\n" for v in verdicts)
    )


def _kept(model: str, folder: Path) -> tuple[Verdict, ...]:
    """What the history file of a workload checked by `model` lost (verdicts.kept_in_file), its
    account written to losses.txt as a register workload's is; nothing for a workload that writes
    nothing to count."""
    found = kept_in_file(model, folder / "history.jsonl")
    if found is None:
        return ()
    _losses(folder, found[1], "lines")
    return (found[0],)


def _losses(folder: Path, account: Account, times: str) -> None:
    """losses.txt, short (the counts and the first ten of each kind), and losses.json beside it,
    every lost, duplicated, unexpected and recovered one with its process, values, times and the
    nodes asked and served (losses.Account.records)."""
    (folder / "losses.txt").write_text(
        account.render(full="every one in losses.json"), encoding="utf-8"
    )
    (folder / "losses.json").write_text(
        json.dumps(account.records(times), indent=1) + "\n", encoding="utf-8"
    )


def _acknowledged(watch: WatchClients) -> Verdict:
    """Every change a writer was told of is in the store's history, as it was told."""
    name = "watch: acknowledged changes in the history"
    if watch.history_read is None:
        return Verdict(name, None, "the store's history could not be read at the end")
    lost = watch.lost()
    if lost:
        return Verdict(name, False, f"{len(lost)} not as acknowledged, the first: {lost[0]}")
    return Verdict(name, True, f"{len(watch.changes)} acknowledged, all in the history")


def _logs_valid(
    validate: Validate, logs: Mapping[str, Path], folder: Path, budget: float
) -> Verdict:
    """Every node's log, merged, a behaviour of the file's spec (checks.logs_valid, as `meshcheck
    validate --spec SPEC --model MODEL --set ...` judges them); a node that wrote none fails it."""
    label = Path(validate.spec).name if validate.spec.endswith(".tla") else f"{validate.spec}.tla"
    name = f"logs valid ({label})"
    absent = [n for n, p in logs.items() if not p.is_file()]
    if absent:
        return Verdict(name, False, f"{absent[0]} wrote no log at {logs[absent[0]]}")
    try:
        return checks.logs_valid(
            validate.spec,
            list(logs.values()),
            dict(validate.set),
            folder,
            budget,
            model=validate.model,
        )
    except MeshcheckError as e:  # a log that is not NDJSON of steps
        return Verdict(name, False, str(e).splitlines()[0])
