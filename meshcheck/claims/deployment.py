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
| Raft recovery under 5 s | the same kills | from the kill until a client's write is acknowledged again |
| BFT latency under 50 ms, over 1,000 ops/s (f = 1) | PBFT and HotStuff at n = 4 and 7, one client, then ten | as Raft's |
| PBFT finality under 5 s, 100 transactions/s | PBFT's runs above | the slowest acknowledged write; acknowledged writes a second |
| gossip to 99% of nodes under 10 s | the largest cluster run here (16 processes), 1 s rounds | three probe writes until every node holds them |

Verdicts: a latency target holds when the p99 is under it (the design's "typical" is its p50, shown
beside it); "p50 only" when the median is under and the p99 is not; an election or recovery target
holds when every sample is under it (the slowest is what a user waits); a throughput target when
the rate reaches it. A target that does not hold says so with what was measured: this toolkit runs
each node in one Python process on a share of this machine's cores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck import words
from meshcheck.cluster.inspection import Sample
from meshcheck.cluster.nemesis import LEADER, Fault, windows
from meshcheck.cluster.run import Options, Outcome, run

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

    def cells(self) -> tuple[str, str, str, str, str, str]:
        t = self.target
        bound = f"{'>' if t.floor else '<'} {t.bound:,g} {t.unit}"
        if t.floor:
            measured = "-" if self.rate is None else f"{self.rate:,.0f} {t.unit}"
            return (t.claim, self.setup, bound, measured, "-", self.verdict)
        if not self.samples:
            return (t.claim, self.setup, bound, "no sample", "-", self.verdict)
        ordered = sorted(self.samples)
        unit = t.unit
        spread = (
            f"p50 {_fmt(_nearest(ordered, 50))} {unit}, p99 {_fmt(_nearest(ordered, 99))} {unit}, "
            f"max {_fmt(ordered[-1])} {unit}"
        )
        return (t.claim, self.setup, bound, spread, str(len(ordered)), self.verdict)

    def as_json(self) -> dict[str, Any]:
        return {
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


HEADERS = ("target", "setup", "bound", "measured", "samples", "verdict")

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
    return tuple(
        (o.ret - o.call) * 1000 for o in outcome.history.ops if o.f == "write" and o.status == "ok"
    )


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
    out = []
    for w in windows(outcome.struck):
        if w.kind != "kill":
            continue
        done = [
            o.ret
            for o in outcome.history.ops
            if o.f == "write" and o.status == "ok" and o.call >= w.start
        ]
        out.append(min(done) - w.start if done else math.inf)
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


def summary(rows: Sequence[Row]) -> dict[str, int]:
    held = sum(1 for r in rows if r.verdict == "holds")
    return {"targets": len(rows), "hold": held, "do not": len(rows) - held}
