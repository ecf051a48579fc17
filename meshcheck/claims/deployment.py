"""`meshcheck claims deployment`: the design's targets, measured on real processes on this machine.

Every other claim meshcheck measures is in the simulator's ticks. These are measured on clusters of
the project's cores as operating-system processes (meshcheck/cluster/run.py: TCP with mutual TLS,
state files fsynced before a step's messages leave, a proxy on every link), with the design's
settings: Raft's 150-300 ms election timeout and 50 ms heartbeat (impl/raft/config.py), Ed25519 on
every BFT message, gossip rounds of 1 s. Each target has its run:

| target (the design's) | run | measured |
|---|---|---|
| Raft consensus latency under 10 ms (5-8 typical) | 5 nodes, one client, one write at a time | each acknowledged write's latency |
| Raft over 10,000 ops/s | 5 nodes, 40 clients, each one operation in flight | acknowledged operations a second |
| Raft leader election under 2 s | 5 nodes (and 14 coordinators), kill -9 of the leader, three times | from the kill until a node leads in a later term (sampled every 100 ms) |
| Raft recovery under 5 s | the same kills | from the kill until writes are acknowledged again (the end of the longest stretch without one) |
| BFT latency under 50 ms, over 1,000 ops/s (f = 1) | PBFT and HotStuff at n = 4 and 7, one client, then ten | as Raft's |
| PBFT finality under 5 s, 100 transactions/s | PBFT's runs above | the slowest acknowledged write; acknowledged writes a second |
| gossip to 99% of nodes under 10 s | the largest cluster run here (16 processes), 1 s rounds | three probe writes until every node holds them |

Any other system (`--system NAME|FILE`, docs/systems.md) is measured on the consensus targets
through the same generic runner and clients as `cluster test --system` (meshcheck/systems/run.py,
workloads.py): the latency with one client, the rate with many, both with no faults; then kill -9
of the leader as its client plug-in names it, three times, the election timed until the plug-in
names another node (asked every 100 ms; not measured when the plug-in cannot say who leads), the
recovery as the project's. Each at 5 nodes where the system file allows it (its bounds otherwise).

Verdicts: a latency target holds when the p99 is under it (the design's "typical" is its p50, shown
beside it); "p50 only" when the median is under and the p99 is not; an election or recovery target
holds when every sample is under it (the slowest is what a user waits); a throughput target when
the rate reaches it. A target that does not hold says so with what was measured: this toolkit runs
each node in one Python process on a share of this machine's cores.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck import words
from meshcheck.cluster.inspection import Sample
from meshcheck.cluster.nemesis import LEADER
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.nemesis import windows
from meshcheck.cluster.run import Options
from meshcheck.cluster.run import Outcome
from meshcheck.cluster.run import run
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems import run as systems_run
from meshcheck.systems.registry import System
from meshcheck.traces.history.history import Op

Progress = Callable[[str], None]


@attrs.frozen
class Target:
    claim: str  # the design's words
    bound: float
    unit: str  # "ms", "s" or "ops/s"
    floor: bool = False  # a rate to reach, not a time to stay under
    every: bool = False  # judged on the slowest sample, not the p99


@attrs.frozen
class Row:
    target: Target
    setup: str
    samples: tuple[float, ...] = ()  # times, in the target's unit
    rate: float | None = None  # for a floor
    system: str = ""  # the system measured, as --system named it

    @property
    def verdict(self) -> str:
        if self.target.floor:
            if self.rate is None:
                return "not measured"
            return "holds" if self.rate >= self.target.bound else "does not hold"
        if not self.samples or any(math.isinf(s) for s in self.samples):
            return "does not hold"
        ordered = sorted(self.samples)
        judged = ordered[-1] if self.target.every else _nearest(ordered, 99)
        if judged < self.target.bound:
            return "holds"
        if not self.target.every and _nearest(ordered, 50) < self.target.bound:
            return "p50 only"
        return "does not hold"

    def cells(self) -> tuple[str, str, str, str, str, str, str]:
        t = self.target
        bound = f"{'>' if t.floor else '<'} {t.bound:,g} {t.unit}"
        if t.floor:
            measured = "-" if self.rate is None else f"{self.rate:,.0f} {t.unit}"
            return (self.system, t.claim, self.setup, bound, measured, "-", self.verdict)
        if not self.samples:
            return (self.system, t.claim, self.setup, bound, "no sample", "-", self.verdict)
        ordered = sorted(self.samples)
        unit = t.unit
        spread = (
            f"p50 {_fmt(_nearest(ordered, 50))} {unit}, p99 {_fmt(_nearest(ordered, 99))} {unit}, "
            f"max {_fmt(ordered[-1])} {unit}"
        )
        return (self.system, t.claim, self.setup, bound, spread, str(len(ordered)), self.verdict)

    def as_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "claim": self.target.claim,
            "setup": self.setup,
            "bound": self.target.bound,
            "unit": self.target.unit,
            "samples": list(self.samples),
            "rate": self.rate,
            "verdict": self.verdict,
        }


def _nearest(ordered: Sequence[float], p: float) -> float:
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _fmt(x: float) -> str:
    return "never" if math.isinf(x) else f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


HEADERS = ("system", "target", "setup", "bound", "measured", "samples", "verdict")

RAFT_LATENCY = Target("Raft consensus latency under 10 ms", 10, "ms")
RAFT_RATE = Target("Raft over 10,000 ops/s", 10_000, "ops/s", floor=True)
RAFT_ELECTION = Target("Raft leader election under 2 s", 2, "s", every=True)
RAFT_RECOVERY = Target("Raft recovery under 5 s", 5, "s", every=True)
BFT_LATENCY = Target("BFT latency under 50 ms (f = 1)", 50, "ms")
BFT_RATE = Target("BFT over 1,000 ops/s (f = 1)", 1_000, "ops/s", floor=True)
PBFT_FINALITY = Target("PBFT finality under 5 s", 5, "s", every=True)
PBFT_RATE = Target("PBFT 100 transactions/s", 100, "ops/s", floor=True)
GOSSIP_SPREAD = Target("gossip to 99% of nodes under 10 s", 10, "s", every=True)


@attrs.frozen
class Plan:
    """How long and how large each run is: `full` for the docs' table, `quick` for a test."""

    seconds: float = 8.0
    kills: tuple[float, ...] = (2.0, 5.5, 9.0)
    kill_run: float = 12.0
    load_clients: int = 40
    bft_sizes: tuple[int, ...] = (4, 7)
    coordinators: int | None = 14
    gossip_nodes: int = 16


FULL = Plan()
QUICK = Plan(3.0, (1.5,), 4.5, 10, (4,), None, 5)


def _options(protocol: str, nodes: int, seconds: float, clients: int, **more: Any) -> Options:
    return Options(
        protocol=protocol,
        nodes=nodes,
        time=seconds,
        nemesis=(),
        workload="status" if protocol == "gossip" else "registers",
        rate=100_000.0,  # closed loops: each client sends its next operation when one returns
        clients=clients,
        validate=False,
        sample=True,  # the elections are read off the nodes' roles and terms
        **more,
    )


def write_latencies_ms(outcome: Outcome) -> tuple[float, ...]:
    return _write_ms(outcome.history.ops)


def ok_rate(outcome: Outcome) -> float:
    ok = [o for o in outcome.history.ops if o.status == "ok"]
    return len(ok) / outcome.options.time


def elections(samples: Sequence[Sample], struck: Sequence[tuple[float, str]]) -> list[float]:
    """For each kill of a leader: seconds from the kill until another node was sampled leading in
    a later term (math.inf: never within the samples)."""
    out = []
    for w in windows(struck):
        if w.kind != "kill":
            continue
        (node,) = w.nodes
        before = [s for s in samples if s.node == node and s.at <= w.start]
        if not before or before[-1].seen["role"] != "Leader":
            continue  # the clients' leader was stale: not a leader's kill
        term = before[-1].seen["term"]
        led = [
            s.at
            for s in samples
            if s.at > w.start and s.node != node and s.seen["role"] == "Leader"
            and s.seen["term"] > term
        ]  # fmt: skip
        out.append(min(led) - w.start if led else math.inf)
    return out


def recoveries(outcome: Outcome) -> list[float]:
    """For each kill: seconds from the kill until a write invoked after it was acknowledged."""
    return recoveries_of(outcome.history.ops, outcome.struck)


def recoveries_of(ops: Sequence[Op], struck: Sequence[tuple[float, str]]) -> list[float]:
    """For each kill: seconds from the kill to the acknowledgement that ended the outage, the
    longest stretch after the kill (until the next kill) in which no write was acknowledged
    (math.inf: none was). Not the first write invoked after the kill: a write the node took just
    before the signal landed is acknowledged at once, and the outage comes after it."""
    kills = [w.start for w in windows(struck) if w.kind == "kill"]
    acks = sorted(o.ret for o in ops if o.f == "write" and o.status == "ok")
    out = []
    for k, start in enumerate(kills):
        end = kills[k + 1] if k + 1 < len(kills) else math.inf
        after = [t for t in acks if start < t < end]
        if not after:
            out.append(math.inf)
            continue
        points = [start, *after]
        _, ended = max(itertools.pairwise(points), key=lambda gap: gap[1] - gap[0])
        out.append(ended - start)
    return out


def leader_changes(
    leaders: Sequence[tuple[float, str | None]], struck: Sequence[tuple[float, str]]
) -> list[float]:
    """For each kill of the node last named leader before it: seconds from the kill until another
    node is named leader (math.inf: never within the answers). `leaders`: (time, the node a system
    names as its leader, None when none answered), as systems/run.py asks it."""
    out = []
    for w in windows(struck):
        if w.kind != "kill":
            continue
        (node,) = w.nodes
        before = [who for at, who in leaders if at <= w.start and who is not None]
        if not before or before[-1] != node:
            continue  # the plug-in named another node just before: not a leader's kill
        led = [at for at, who in leaders if at > w.start and who is not None and who != node]
        out.append(min(led) - w.start if led else math.inf)
    return out


def measure(plan: Plan, folder: Path, progress: Progress) -> list[Row]:
    """Every target's run (see the module), in order; each run's report folder under `folder`."""
    rows: list[Row] = []

    def go(name: str, options: Options) -> Outcome:
        progress(
            f"{name}: {options.protocol}, {words.count(options.nodes, 'node')}, {options.time:g} s"
        )
        return run(options, folder / name)

    s = plan.seconds
    seq = go("raft-latency", _options("raft", 5, s, 1))
    rows.append(Row(RAFT_LATENCY, "5 nodes, 1 client", write_latencies_ms(seq)))
    load = go("raft-rate", _options("raft", 5, s, plan.load_clients))
    rows.append(
        Row(RAFT_RATE, f"5 nodes, {words.count(plan.load_clients, 'client')}", rate=ok_rate(load))
    )
    kills = tuple(Fault(t, "kill", (LEADER,), 1.5) for t in plan.kills)
    killed = go("raft-kills", _options("raft", 5, plan.kill_run, 10, plan=kills))
    times = tuple(elections(killed.samples, killed.struck))
    rows.append(Row(RAFT_ELECTION, f"5 nodes, leader killed {len(kills)}x", times))
    rows.append(Row(RAFT_RECOVERY, "the same kills", tuple(recoveries(killed))))
    if plan.coordinators is not None:
        n = plan.coordinators
        big = go("raft-coordinators", _options("raft", n, plan.kill_run, 10, plan=kills))
        times = tuple(elections(big.samples, big.struck))
        rows.append(Row(RAFT_ELECTION, f"{n} coordinators, leader killed {len(kills)}x", times))
    for protocol in ("pbft", "hotstuff"):
        for n in plan.bft_sizes:
            one = go(f"{protocol}-{n}-latency", _options(protocol, n, s, 1))
            many = go(f"{protocol}-{n}-rate", _options(protocol, n, s, 10))
            rows.append(Row(BFT_LATENCY, f"{protocol}, n = {n}, 1 client", write_latencies_ms(one)))
            rows.append(Row(BFT_RATE, f"{protocol}, n = {n}, 10 clients", rate=ok_rate(many)))
            if protocol == "pbft":
                slowest = tuple(x / 1000 for x in write_latencies_ms(many))
                rows.append(Row(PBFT_FINALITY, f"pbft, n = {n}, 10 clients", slowest))
                rows.append(Row(PBFT_RATE, f"pbft, n = {n}, 10 clients", rate=ok_rate(many)))
    n = plan.gossip_nodes
    gossip = go(
        "gossip-spread",
        _options("gossip", n, min(s, 3.0), 5, core=(("interval", 1000), ("evict_after", 5000))),
    )
    rows.append(
        Row(GOSSIP_SPREAD, f"{words.count(n, 'node')}, 1 s rounds, 3 probes", gossip.probes)
    )
    return rows


NODES = 5  # the design's Raft deployment, and the project's runs above


def system_options(
    system: System, seconds: float, clients: int, **more: Any
) -> systems_run.RunOptions:
    """A run of `system` for a target: registers, closed loops, on loopback, its nodes' logs not
    validated (the measurement is the point; `cluster test --system` checks them)."""
    nodes = system.file.nodes
    return systems_run.RunOptions(
        nodes=min(max(NODES, nodes.min), nodes.max),
        time=seconds,
        nemesis=(),
        workload="registers",
        reads=system.file.client.reads[0],
        rate=100_000.0,  # closed loops, as above
        clients=clients,
        network="loopback",
        validate=False,
        **more,
    )


def measure_system(system: System, plan: Plan, folder: Path, progress: Progress) -> list[Row]:
    """The consensus targets (Raft's: latency, rate, election, recovery) on a system from its file,
    through the generic runner (see the module); each run's report folder under `folder`."""
    rows: list[Row] = []

    def go(name: str, options: systems_run.RunOptions) -> systems_run.Outcome:
        progress(
            f"{name}: {system.file.name}, {words.count(options.nodes, 'node')}, {options.time:g} s"
        )
        return systems_run.run(system, options, folder / name, lambda _: None)

    s = plan.seconds
    seq = go("latency", system_options(system, s, 1))
    n = seq.options.nodes
    nodes = words.count(n, "node")
    rows.append(Row(RAFT_LATENCY, f"{nodes}, 1 client", _write_ms(seq.history.ops)))
    load = go("rate", system_options(system, s, plan.load_clients))
    ok = sum(1 for o in load.history.ops if o.status == "ok")
    clients = words.count(plan.load_clients, "client")
    rows.append(Row(RAFT_RATE, f"{nodes}, {clients}", rate=ok / s))
    kills = tuple(Fault(t, "kill", (LEADER,), 1.5) for t in plan.kills)
    watch = system.plugin.leader is not None
    killed = go("kills", system_options(system, plan.kill_run, 10, plan=kills, watch_leader=watch))
    if watch:
        times = tuple(leader_changes(killed.leaders, killed.struck))
        rows.append(Row(RAFT_ELECTION, f"{nodes}, leader killed {len(kills)}x", times))
    else:
        progress(f"{system.file.name}: its plug-in cannot say who leads: no election measured")
    after = tuple(recoveries_of(killed.history.ops, killed.struck))
    rows.append(Row(RAFT_RECOVERY, f"{nodes}, {words.count(len(kills), 'kill')}", after))
    return rows


def _write_ms(ops: Sequence[Op]) -> tuple[float, ...]:
    return tuple((o.ret - o.call) * 1000 for o in ops if o.f == "write" and o.status == "ok")


Measure = Callable[[Plan, Path, Progress], list[Row]]


def measurers(names: Sequence[str], say: Progress) -> list[tuple[str, Measure]]:
    """How each system `--system` names is measured, under the name the table gives it, found as `cluster test --system` finds it
    (meshcheck/systems/registry.py): a system file through the generic runner, the project's own
    cores by `measure` above. A name that is not a system, or a plug-in that runs its system by
    code of its own other than the project's cores (no history meshcheck could measure): a
    MeshcheckError. A system whose executables are missing: a MeshcheckError when it is the only
    one asked; among several, skipped with a line to `say` (none left: a MeshcheckError)."""
    from meshcheck.cores_cmd import run as cores_runner
    from meshcheck.systems.registry import resolve
    from meshcheck.systems.system_file import check_installed

    found: list[tuple[str, Measure]] = []
    for name in names:
        system = resolve(name)
        if isinstance(system, System):
            try:
                check_installed(system.file)
            except MeshcheckError as e:
                if len(names) == 1:
                    raise
                say(f"skipped {name}: {e}")
                continue
            found.append((_label(system.file.name, found), _on(system)))
        elif system.runner is cores_runner:
            found.append((_label(name, found), measure))
        else:
            raise MeshcheckError(
                f"--system {name}: its plug-in runs its system by code of its own, which gives "
                "no history to measure; give a system file (docs/systems.md)"
            )
    if not found:
        raise MeshcheckError(f"--system {','.join(names)}: no system asked for is installed")
    return found


def _label(name: str, found: Sequence[tuple[str, Measure]]) -> str:
    """The system's name in the table and its runs' folder: a system file's `name` (not its path),
    numbered when two files give the same one."""
    taken = {label for label, _ in found}
    if name not in taken:
        return name
    return next(f"{name}-{k}" for k in itertools.count(2) if f"{name}-{k}" not in taken)


def _on(system: System) -> Measure:
    def measured(plan: Plan, folder: Path, progress: Progress) -> list[Row]:
        return measure_system(system, plan, folder, progress)

    return measured


def summary(rows: Sequence[Row]) -> dict[str, int]:
    held = sum(1 for r in rows if r.verdict == "holds")
    return {"targets": len(rows), "hold": held, "do not": len(rows) - held}
