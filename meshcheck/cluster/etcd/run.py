"""One etcd cluster test: members as processes (server.py) behind their peer proxies (peers.py),
clients over the JSON gateway (gateway.py), the nemesis's seeded plan (meshcheck/cluster/
nemesis.py, as for the project's own cores), and the history checked key by key against Jepsen's
cas-register (traces/history/models.py `KeyValue`).

Workloads (Jepsen's etcd tests, Kingsbury, jepsen.io/analyses/etcd-3.4.3):
- `registers`: five keys, writes of unique values and linearizable reads (etcd's default range);
- `cas`: the same with compare-and-set through a transaction (`/v3/kv/txn`: compare the value,
  put on success), which fails when the register holds another value;
- `lock`: leases and locks (`/v3/lease/grant`, `/v3/lock/lock`, `/v3/lock/unlock`,
  `/v3/lease/revoke`): each client takes lock "L" with a lease, holds it a moment and releases it;
  the history is checked against a lock held by a lease (models.Mutex: no two holders at once).

Each client is bound to one member (Jepsen binds clients to nodes) and turns to the next after a
transport error; an answer that did not come is `info` (it may have taken effect), and so is a
write's or cas's that is an etcd error; a read's error is `fail`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from meshcheck.cluster import anomaly, checks, figures, nemesis, strike
from meshcheck.cluster.checks import Verdict
from meshcheck.cluster.etcd.gateway import Gateway, GatewayError
from meshcheck.cluster.etcd.peers import PeerNetwork, partition
from meshcheck.cluster.etcd.server import EtcdCluster
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.run import progress_lines
from meshcheck.cluster.workload import History
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import checker, jepsen, models, reads
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.window import plural

KINDS = ("kill", "pause", "partition")  # the nemesis's faults etcd runs under here
WORKLOADS = ("registers", "cas", "lock")
READS = ("linearizable", "serializable")
LEASE_TTL = 5  # seconds: a lock's lease, far beyond a critical section (HOLD)
HOLD = (0.01, 0.05)  # seconds a client holds the lock
KEYS = 5
TIMEOUT = 1.0  # a client's wait for one answer (seconds)
RECOVERY = 5.0  # the calm after the last fault in which progress is owed (etcd elects in ~1 s)
Progress = Callable[[str], None]
# what etcd says of the behaviour each check refuses, for the anomaly report
DOCUMENTED = {
    "kv": "not as allowed: etcd's API guarantees (etcd.io/docs/v3.4/learning/api_guarantees/) "
    "promise linearizable reads (the default) and writes",
    "lock": "a lock's lease may expire under a holder that does not know it; Jepsen's etcd "
    "3.4.3 analysis (jepsen.io/analyses/etcd-3.4.3) advises fencing with the lock key's revision",
}


@attrs.frozen
class EtcdOptions:
    nodes: int = 3
    time: float = 10.0
    nemesis: tuple[str, ...] = KINDS
    workload: str = "registers"
    reads: str = "linearizable"  # or "serializable": etcd's second read mode, which may be stale
    rate: float = 100.0
    clients: int = 5
    seed: int = 0
    budget: float = 60.0  # the linearizability checker's (seconds)
    plan: tuple[Fault, ...] | None = None  # None: drawn from the seed
    # the lock workload: seconds the first client stalls, once, while it holds the lock (0: never),
    # as a process pause would stall it (Jepsen's etcd 3.4.3 analysis); past LEASE_TTL its lease
    # expires under it, and another client takes the lock it still believes it holds
    client_pause: float = 0.0

    def names(self) -> list[str]:
        return [f"e{k}" for k in range(1, self.nodes + 1)]

    def faults(self) -> list[Fault]:
        if self.plan is not None:
            return list(self.plan)
        return nemesis.plan(self.seed, self.time, self.nemesis, self.names())


@attrs.frozen
class EtcdOutcome:
    options: EtcdOptions
    history: History
    verdicts: tuple[Verdict, ...]
    plan: tuple[nemesis.Fault, ...]
    struck: tuple[tuple[float, str], ...]
    seconds: float

    @property
    def holds(self) -> bool:
        return all(v.holds for v in self.verdicts)

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.holds]


def check_options(options: EtcdOptions) -> None:
    """One clear error for what an etcd run cannot do."""
    if options.workload not in WORKLOADS:
        raise MeshcheckError(f"--workload {options.workload}: etcd runs {' or '.join(WORKLOADS)}")
    if options.reads not in READS:
        raise MeshcheckError(f"--reads {options.reads}: choose from {' or '.join(READS)}")
    if options.reads == "serializable" and options.workload == "lock":
        raise MeshcheckError("--reads serializable: the lock workload reads nothing")
    if options.client_pause and options.workload != "lock":
        raise MeshcheckError("--client-pause: only the lock workload's clients hold anything")
    unsupported = [k for k in options.nemesis if k not in KINDS]
    if unsupported:
        raise MeshcheckError(
            f"--nemesis {unsupported[0]}: etcd runs under {', '.join(KINDS)} (its peer links carry "
            "HTTP streams, which the proxy cuts but does not slow or thin)"
        )


class _Clients:
    """`count` clients, each bound to a member, together at about `rate` operations a second."""

    def __init__(self, options: EtcdOptions, cluster: EtcdCluster, clock: Callable[[], float]):
        self._options = options
        self._addresses = [m.client for m in cluster.members.values()]
        self._names = cluster.names
        self._clock = clock
        self._rng = random.Random(f"etcd-clients:{options.seed}")
        self._gap = options.clients / options.rate
        self._values = itertools.count(1)
        self.history = History()
        self._round = 0
        self._seen: dict[str, str] = {}  # the last value each key was seen to hold (cas's `old`)

    async def run(self, until: float) -> None:
        self._round += 1
        await asyncio.gather(*(self._client(k, until) for k in range(1, self._options.clients + 1)))

    def _record(
        self, process: str, f: str, value: Any, output: Any, call: float, status: str, key: Any
    ) -> None:
        self.history.record(process, f, value, output, call, self._clock(), status, key)

    async def _locker(self, k: int, until: float) -> None:
        """The lock workload's client: a lease, the lock taken with it, held a moment, released,
        the lease revoked; an acquire or a release without an answer is `info`, and the revoke
        that follows frees the lock if it was taken (models.Mutex)."""
        home = (k - 1) % len(self._addresses)
        generation = 0
        pause = self._options.client_pause if k == 1 else 0.0  # the first client's, once
        g = Gateway(self._addresses[home])
        try:
            while self._clock() < until:
                timeout = min(2 * TIMEOUT, until - self._clock() + 0.5)
                process = f"c{k}.{self._round}.{generation}"
                try:
                    lease = await g.grant(LEASE_TTL, timeout)
                except (GatewayError, ConnectionError, OSError, TimeoutError, ValueError):
                    await g.close()
                    home = (home + 1) % len(self._addresses)
                    g = Gateway(self._addresses[home])
                    await asyncio.sleep(0.1)
                    continue
                lost = False
                for f in ("acquire", "release"):
                    call = self._clock()
                    try:
                        if f == "acquire":
                            key = await g.lock("L", lease, timeout)
                        else:
                            # holding: a moment, or once the whole pause (the clients keep no
                            # lease alive, as a paused process would not)
                            await asyncio.sleep(pause or self._rng.uniform(*HOLD))
                            pause = 0.0
                            call = self._clock()
                            await g.unlock(key, timeout)
                        self._record(process, f, lease, None, call, "ok", None)
                    except (GatewayError, ConnectionError, OSError, TimeoutError, ValueError):
                        self._record(process, f, lease, None, call, "info", None)
                        lost = True
                        break
                if lost:
                    generation += 1
                    process = f"c{k}.{self._round}.{generation}"
                call = self._clock()
                try:
                    await g.revoke(lease, timeout)
                    self._record(process, "revoke", lease, None, call, "ok", None)
                except (GatewayError, ConnectionError, OSError, TimeoutError, ValueError):
                    self._record(process, "revoke", lease, None, call, "info", None)
                    generation += 1
                    await g.close()
                    home = (home + 1) % len(self._addresses)
                    g = Gateway(self._addresses[home])
                await asyncio.sleep(self._rng.uniform(0, 2 * self._gap))
        finally:
            await g.close()

    async def _client(self, k: int, until: float) -> None:
        if self._options.workload == "lock":
            await self._locker(k, until)
            return
        home = (k - 1) % len(self._addresses)
        gateways = [Gateway(a) for a in self._addresses]
        generation = 0
        try:
            while self._clock() < until:
                status = await self._one(
                    f"c{k}.{self._round}.{generation}", gateways[home], home, until
                )
                if status == "info":
                    generation += 1  # after an `info` the client is a new process, as in Jepsen
                    home = (home + 1) % len(gateways)
                await asyncio.sleep(self._rng.uniform(0, 2 * self._gap))
        finally:
            for g in gateways:
                await g.close()

    async def _one(self, process: str, gateway: Gateway, member: int, until: float) -> str:
        key = f"k{self._rng.randrange(KEYS)}"
        draw = self._rng.random()
        timeout = min(TIMEOUT, until - self._clock() + 0.5)
        call = self._clock()
        output: Any = None
        status = "info"
        f: str
        value: Any
        try:
            if draw < 0.5:
                f, value = "read", None
                serializable = self._options.reads == "serializable"
                output = await gateway.get(key, timeout, serializable=serializable)
            elif self._options.workload == "cas" and draw < 0.75:
                old = (
                    self._seen.get(key)
                    if self._rng.random() < 0.8
                    else str(self._rng.randrange(1, 9))
                )
                f, value = "cas", (old, str(next(self._values)))
                done = await gateway.cas(key, value[0], value[1], timeout)
                status = "ok" if done else "fail"
            else:
                f, value = "write", str(next(self._values))
                await gateway.put(key, value, timeout)
            if f != "cas":
                status = "ok"
            seen = output if f == "read" else value if f == "write" else value[1]
            if status == "ok" and seen is not None:
                self._seen[key] = seen
        except GatewayError:
            # a read that failed changed nothing; a write or cas that etcd answered with an
            # error may still have been proposed and committed ("leader changed", "request timed
            # out"): it is `info`, never `fail`, so the checker never takes a write that happened
            # for one that did not
            status = "fail" if f == "read" else "info"
        except (ConnectionError, OSError, TimeoutError, ValueError):
            status = "info"
        self._record(process, f, value, output, call, status, key)
        self.history.nodes.append(self._names[member])
        return status


async def _ids(cluster: EtcdCluster, wait: float = 30.0) -> dict[str, str]:
    """Every member's ID (hex), asked of the member itself once the cluster serves."""
    deadline = time.monotonic() + wait
    out: dict[str, str] = {}
    while len(out) < len(cluster.members):
        for name, member in cluster.members.items():
            if name in out:
                continue
            g = Gateway(member.client)
            try:
                out[name], _ = await g.status(1.0)
            except (GatewayError, ConnectionError, OSError, TimeoutError, ValueError):
                if time.monotonic() > deadline:
                    raise MeshcheckError(
                        f"etcd: {name} did not answer within {wait:.0f} s"
                    ) from None
                await asyncio.sleep(0.1)
            finally:
                await g.close()
    return out


async def _leader(cluster: EtcdCluster, ids: dict[str, str]) -> str | None:
    """The member some member names as its leader now (None: none answered)."""
    names = {i: n for n, i in ids.items()}
    for member in cluster.members.values():
        g = Gateway(member.client)
        try:
            _, leader = await g.status(0.5)
            if leader in names:
                return names[leader]
        except (GatewayError, ConnectionError, OSError, TimeoutError, ValueError):
            continue
        finally:
            await g.close()
    return None


async def _nemesis(
    plan: list[nemesis.Fault],
    cluster: EtcdCluster,
    network: PeerNetwork,
    ids: dict[str, str],
    clock: Callable[[], float],
    struck: list[tuple[float, str]],
) -> None:
    """The plan carried out (meshcheck/cluster/strike.py) on the members and their peer proxies:
    a partition cuts the links it names (peers.py), `@leader` is the member the members name."""

    async def leader() -> str | None:
        return await _leader(cluster, ids)

    def links(fault: nemesis.Fault) -> Callable[[], None]:
        cut = network.cut(partition(fault.nodes, cluster.names, fault.one_way))
        return lambda: network.restore(cut)

    await strike.carry_out(plan, cluster, cluster.names, clock, struck, leader=leader, links=links)


async def _run(options: EtcdOptions, folder: Path, progress: Progress) -> EtcdOutcome:
    started = time.monotonic()
    plan = options.faults()
    (folder / "nemesis.txt").write_text(
        "".join(f.describe() + "\n" for f in plan) or "no faults\n", encoding="utf-8"
    )
    cluster = EtcdCluster(options.names(), folder)
    network = PeerNetwork(cluster.members)
    struck: list[tuple[float, str]] = []
    healed = until = 0.0
    with cluster:
        await network.start()
        try:
            progress(f"starting {options.nodes} etcd members")
            await asyncio.gather(*(asyncio.to_thread(cluster.start, n) for n in cluster.names))
            ids = await _ids(cluster)
            network.learn(ids)
            (folder / "cluster.json").write_text(
                json.dumps(
                    {n: {"client": m.client_url, "id": ids[n]} for n, m in cluster.members.items()},
                    indent=1,
                ),
                encoding="utf-8",
            )
            loop = asyncio.get_running_loop()
            t0 = loop.time()

            def clock() -> float:
                return loop.time() - t0

            clients = _Clients(options, cluster, clock)
            chaos = loop.create_task(_nemesis(plan, cluster, network, ids, clock, struck))
            watch = loop.create_task(progress_lines(clients.history, options.time, clock, progress))
            try:
                await clients.run(options.time)
                await chaos
                healed = max((t for t, w in struck if w.endswith("undone")), default=0.0)
                if healed > options.time - RECOVERY:  # the clients ran too short after it
                    until = max(healed, clock()) + RECOVERY
                    await clients.run(until)
            finally:
                watch.cancel()
                chaos.cancel()
                await asyncio.gather(chaos, watch, return_exceptions=True)
        finally:
            network.heal()
            await network.stop()
    (folder / "nemesis.log").write_text(
        "".join(f"{t:8.3f} {w}\n" for t, w in struck), encoding="utf-8"
    )
    history = clients.history
    model = history_model(options)
    (folder / "history.jsonl").write_text(jepsen.dumps(history.ops, model), encoding="utf-8")
    name = f"etcd, {options.nodes} members, seed {options.seed}"
    (folder / "latency.svg").write_text(
        figures.latency_svg(history, struck, title=name), encoding="utf-8"
    )
    (folder / "timeline.svg").write_text(
        figures.timeline_svg(history, title=f"{name}: the history"), encoding="utf-8"
    )
    progress("checking the history")
    if options.workload == "lock":
        safety: tuple[Verdict, ...] = (mutual_exclusion(history.ops, options.budget),)
    elif options.reads == "serializable":
        safety = serializable_verdicts(history.ops, options.budget)
    else:
        safety = (linearizable_kv(history.ops, options.budget),)
    if any(v.holds is False for v in safety):
        progress("drawing the anomaly")
        anomaly.report(
            history.ops,
            model,
            struck,
            folder,
            title=name,
            budget=options.budget,
            documented=DOCUMENTED["lock" if options.workload == "lock" else "kv"],
            mode=read_mode(options),
        )
        safety = tuple(
            attrs.evolve(v, detail=f"{v.detail} (anomaly.txt, anomaly.svg)")
            if v.holds is False
            else v
            for v in safety
        )
    verdicts = (checks.progress(history.ops, healed, max(options.time, until)), *safety)
    return EtcdOutcome(
        options, history, verdicts, tuple(plan), tuple(struck), time.monotonic() - started
    )


def history_model(options: EtcdOptions) -> models.Model:
    """The model the run's history is checked against."""
    return models.Mutex() if options.workload == "lock" else models.KeyValue()


def read_mode(options: EtcdOptions) -> str:
    """How the run's reads are checked (traces/history/reads.py): the lock workload reads nothing."""
    return "linearizable" if options.workload == "lock" else options.reads


def replay_command(options: EtcdOptions, folder: Path) -> str:
    """The command that checks the run's history.jsonl as the run did, to the same verdict."""
    return anomaly.replay_command(
        folder, history_model(options), budget=options.budget, mode=read_mode(options)
    )


def linearizable_kv(ops: list[Op], budget: float, noun: str = "operation") -> Verdict:
    """The history against Jepsen's cas-register, key by key (Porcupine's P-compositionality);
    `noun` names what the history holds, for the detail."""
    name = "linearizable (kv)"
    result = checker.check(ops, models.KeyValue(), budget)
    if result.verdict == "linearizable":
        return Verdict(name, True, f"{plural(len(ops), noun)}, {plural(KEYS, 'key')}")
    if result.verdict == "unknown":
        return Verdict(name, None, f"undecided within {budget:.0f} s")
    return Verdict(
        name, False, f"not linearizable: key {result.partition}, cut at t={result.cut:.3f}s"
    )


def serializable_verdicts(ops: list[Op], budget: float) -> tuple[Verdict, ...]:
    """The checks that apply when reads are serializable: etcd documents that such a read is
    served from the member's own store and may be stale (etcd.io, "API guarantees"), so the
    history as a whole is not owed linearizability. What is owed: the writes and compare-and-sets
    alone are linearizable (a cas reads the current value: it is linearizable in either mode), and
    every read returns a value some write or cas wrote, invoked before the read returned (or
    nothing, before any), never one from nowhere or from the future. How many reads were stale is
    reported, not judged: a read that returned a value other than the last one written before it
    was invoked (by writes that completed before it)."""
    verdict = linearizable_kv(reads.writes_only(ops), budget, "write")
    first = attrs.evolve(verdict, check="linearizable (kv), writes and cas")
    return first, reads_written(ops)


def reads_written(ops: list[Op]) -> Verdict:
    """Every ok read returns None or a value a write or cas on its key wrote, invoked before the
    read returned; the detail counts the stale reads among them (traces/history/reads.py)."""
    name = "serializable reads return written values"
    found = reads.reads_written(ops)
    r = found.unwritten
    if r is not None:
        return Verdict(
            name,
            False,
            f"a read of {r.key} at t={r.call:.3f}s returned {r.output!r}, which no write "
            "invoked before it wrote",
        )
    return Verdict(
        name,
        True,
        f"{plural(found.reads, 'read')}, {found.stale} of them older than the write last done "
        "before",
    )


def mutual_exclusion(ops: list[Op], budget: float) -> Verdict:
    """The lock history against a lock held by a lease (models.Mutex): no two holders at once."""
    name = "mutual exclusion (mutex)"
    result = checker.check(ops, models.Mutex(), budget)
    taken = sum(1 for o in ops if o.f == "acquire" and o.status == "ok")
    if result.verdict == "linearizable":
        return Verdict(
            name, True, f"{plural(taken, 'acquisition')}, {plural(len(ops), 'operation')}"
        )
    if result.verdict == "unknown":
        return Verdict(name, None, f"undecided within {budget:.0f} s")
    return Verdict(name, False, f"two holders at once: cut at t={result.cut:.3f}s")


def run(options: EtcdOptions, folder: Path, progress: Progress = lambda _: None) -> EtcdOutcome:
    check_options(options)
    folder.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(options, folder, progress))
