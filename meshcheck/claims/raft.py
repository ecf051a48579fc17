"""The second design's Raft deployment, measured on the reference Raft (impl/raft) in the simulator.

The deployment as stated: 14 Raft coordinators (a quorum of 8 of 14), election timeout 150-300 ms,
heartbeat every 50 ms, compaction every 10,000 entries; claimed: a leader elected in under 2 s and
a write replicated in under 500 ms. Here these are the node options of `RaftConfig`
(impl/raft/config.py: `election_timeout=(150, 300)`, `heartbeat_interval=50`,
`snapshot_interval=10_000`, all in ticks) and one tick is one millisecond: the simulator's clock is
an integer with no unit of its own (impl/sim/scheduler.py), and every duration of a run (timers,
message latency, fault times) is written in the same unit, so reading the tick as a millisecond is a
convention, the one docs/property-tests.md's "Liveness targets" uses. Clocks run at one tick per tick (no skew), and
the simulator charges no time for a node's work or its durable writes (no fsync): the latencies
measured are network and protocol time only.

One run per seed and loss rate (`measure_seed`), on a fresh 14-node cluster:

1. from t=0 until a leader is *known to a majority*: some node leads term T and at least a quorum of
   nodes (it included) hold it as the leader of term T (their `leader` hint, which a node sets when
   it accepts that leader's AppendEntries). `elected` is when the first node became leader;
2. `writes` client writes, one every `write_every` ms, each handed to the node that leads at that
   moment (the client's hop to the leader is not simulated), timed from that hand-over to the
   leader's `Reply` (sent when the entry commits: impl/raft/node.py `_commit_to`); then until every
   write is answered or `drain` ms pass. A write answered with an error (its leader deposed) is
   counted apart, not timed;
3. the leader known to a majority crashes (and stays down) at a time drawn uniformly within one
   heartbeat interval (should the cluster be between leaders then, as under heavy loss it can be,
   the wait starts over once a leader is known again), and the run goes on until a new leader, of
   a later term, is known to a majority of the 14.

Messages take a latency drawn uniformly from `latency` (1-10 ms by default: the project's default,
a LAN; the same figure the property tests' timing targets assume) and each message is lost, when it
is due, with probability `loss` (`Faults(drop=loss)`, impl/sim/faults.py). An election that does not
finish within `cap` ms is censored: no time, its seed kept.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck import words
from meshcheck.claims.report import Row
from meshcheck.claims.report import judge
from meshcheck.claims.sweep import sweep
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.raft import LEADER
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft import RaftPlugin
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import to_value
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import SimConfig
from meshcheck.impl.sim import Simulator
from meshcheck.traces.plot import PALETTE
from meshcheck.traces.plot import Mark
from meshcheck.traces.plot import Panel
from meshcheck.traces.plot import Series
from meshcheck.traces.plot import cdf
from meshcheck.traces.plot import render


@attrs.frozen
class Deployment:
    """The stated deployment and how one run measures it (all times in ms = ticks)."""

    nodes: int = 14
    election_timeout: tuple[int, int] = (150, 300)
    heartbeat: int = 50
    snapshot_interval: int = 10_000
    latency: tuple[int, int] = (1, 10)
    writes: int = 50
    write_every: int = 20
    drain: int = 5_000
    cap: int = 20_000

    @property
    def quorum(self) -> int:
        return self.nodes // 2 + 1


DEPLOYMENT = Deployment()


@attrs.frozen
class SeedResult:
    """One seed's run. Times in ms; None: not within the cap (censored)."""

    seed: int
    loss: float
    start_elected: int | None
    start_known: int | None
    crash_elected: int | None
    crash_known: int | None
    latencies: tuple[int, ...]
    failed: int  # writes answered with an error (leader deposed): not timed
    unanswered: int  # writes with no answer within the drain
    no_leader: int  # submits skipped: no leader at that moment
    events: int
    end: int  # simulated time at the end of the run


def _op(n: int) -> object:
    return to_value(Custom(f"k{n % 64}", n))


def leader_known(sim: Simulator[RaftNode], quorum: int, after_term: int = 0) -> str | None:
    """The node that leads a term above `after_term` and that a quorum of nodes (it included) holds
    as the leader of that term; None if there is none."""
    nodes = sim.nodes
    up = sim.up
    for lid, lead in nodes.items():
        if not up[lid] or lead.role != LEADER or lead.term <= after_term:
            continue
        term = lead.term
        known = sum(1 for i, n in nodes.items() if up[i] and n.term == term and n.leader == lid)
        if known >= quorum:
            return lid
    return None


def current_leader(sim: Simulator[RaftNode]) -> RaftNode | None:
    """The up node that leads the highest term, if any."""
    best: RaftNode | None = None
    for i, n in sim.nodes.items():
        if sim.up[i] and n.role == LEADER and (best is None or n.term > best.term):
            best = n
    return best


def _any_leader(sim: Simulator[RaftNode], after_term: int) -> bool:
    return any(sim.up[i] and n.role == LEADER and n.term > after_term for i, n in sim.nodes.items())


def _election(
    sim: Simulator[RaftNode], d: Deployment, after_term: int
) -> tuple[int | None, int | None]:
    """Run until a leader of a term above `after_term` is known to a quorum, or `cap` ms pass:
    (elected, known to a quorum), as times since now."""
    start = sim.now
    elected: list[int] = []

    def stop(s: Simulator[RaftNode]) -> bool:
        if not elected and _any_leader(s, after_term):
            elected.append(s.now)
        return bool(elected) and leader_known(s, d.quorum, after_term) is not None

    sim.run(until=start + d.cap, stop=stop)
    known = leader_known(sim, d.quorum, after_term)
    return (
        elected[0] - start if elected else None,
        sim.now - start if known is not None else None,
    )


def _stable_leader(sim: Simulator[RaftNode], d: Deployment, rng: random.Random) -> str | None:
    """Run on until a leader is known to a quorum, then for a time drawn uniformly within one
    heartbeat interval; the leader known to a quorum then (None if none within `cap`). Under loss a
    leader may be deposed meanwhile: the wait starts over."""
    deadline = sim.now + d.cap
    while sim.now < deadline:
        if leader_known(sim, d.quorum) is None:
            sim.run(until=deadline, stop=lambda s: leader_known(s, d.quorum) is not None)
        sim.run(until=min(deadline, sim.now + rng.randrange(d.heartbeat)))
        victim = leader_known(sim, d.quorum)
        if victim is not None:
            return victim
    return None


def cluster(seed: int, loss: float, d: Deployment = DEPLOYMENT) -> Simulator[RaftNode]:
    """The deployment's cluster under `loss`, no trace and no client history (speed)."""
    ids = [f"s{k:02d}" for k in range(1, d.nodes + 1)]
    plugin = RaftPlugin(
        ids,
        election_timeout=d.election_timeout,
        heartbeat_interval=d.heartbeat,
        snapshot_interval=d.snapshot_interval,
    )
    config = SimConfig(
        seed=seed,
        latency=d.latency,
        faults=Faults(drop=loss),
        record=False,
        history=False,
    )
    return Simulator(plugin, plugin.servers, config)


def measure_seed(seed: int, loss: float, d: Deployment = DEPLOYMENT) -> SeedResult:
    """One run: election from start, commit latency of `d.writes` writes, election after the
    leader's crash (the module's docstring says how each is timed)."""
    sim = cluster(seed, loss, d)
    rng = random.Random(f"{seed}:claims")
    start_elected, start_known = _election(sim, d, 0)

    submitted: dict[int, int] = {}  # request id -> submit time
    latencies: list[int] = []
    failed = 0
    seen = 0

    def stamp(s: Simulator[RaftNode]) -> bool:
        nonlocal seen, failed
        replies = s.replies
        while seen < len(replies):
            _node, reply = replies[seen]
            seen += 1
            at = submitted.pop(reply.request_id, None)
            if at is None:
                continue
            if reply.ok:
                latencies.append(s.now - at)
            else:
                failed += 1
        return False

    no_leader = 0
    if start_known is not None:
        t = sim.now
        for n in range(1, d.writes + 1):
            sim.run(until=t, stop=stamp)
            lead = current_leader(sim)
            if lead is None:
                no_leader += 1
            else:
                submitted[n] = sim.now
                sim.inject(lead.id, ClientRequest(_op(n), n))
                stamp(sim)
            t += d.write_every
        sim.run(until=sim.now + d.drain, stop=lambda s: stamp(s) or not submitted)
        stamp(sim)
    else:
        no_leader = d.writes
    unanswered = len(submitted)

    crash_elected = crash_known = None
    victim = _stable_leader(sim, d, rng)
    if victim is not None:
        term = sim.nodes[victim].term
        sim.crash(victim)
        crash_elected, crash_known = _election(sim, d, term)
    return SeedResult(
        seed=seed,
        loss=loss,
        start_elected=start_elected,
        start_known=start_known,
        crash_elected=crash_elected,
        crash_known=crash_known,
        latencies=tuple(latencies),
        failed=failed,
        unanswered=unanswered,
        no_leader=no_leader,
        events=sim.events,
        end=sim.now,
    )


def measure(
    seeds: Sequence[int],
    losses: Sequence[float],
    d: Deployment = DEPLOYMENT,
    progress: Callable[[float, int, int], None] | None = None,
) -> dict[float, list[SeedResult]]:
    """Every seed under every loss rate; `progress(loss, done, total)` after each run."""
    return sweep(
        [(loss, loss) for loss in losses],
        seeds,
        lambda loss, seed: measure_seed(seed, loss, d),
        progress,
    )


# -- the claims, judged --------------------------------------------------------------------------------

ELECTION_BOUND = 2_000  # ms: "leader election under 2 s"
REPLICATION_BOUND = 500  # ms: "replication under 500 ms"
ELECTION_START = "election from start (under 2 s)"
ELECTION_CRASH = "election after leader crash (under 2 s)"
COMMIT = "commit latency (under 500 ms)"


def loss_label(loss: float) -> str:
    return f"{loss * 100:g}% loss"


def samples(
    runs: Sequence[SeedResult],
) -> dict[str, list[tuple[float | None, int]]]:
    """Per claim, its samples: (ms or None when censored, seed)."""
    return {
        ELECTION_START: [(r.start_known, r.seed) for r in runs],
        ELECTION_CRASH: [(r.crash_known, r.seed) for r in runs],
        COMMIT: [(float(v), r.seed) for r in runs for v in r.latencies]
        + [(None, r.seed) for r in runs for _ in range(r.unanswered)],
    }


def rows(results: dict[float, list[SeedResult]]) -> list[Row]:
    out = []
    for claim, bound in (
        (ELECTION_START, ELECTION_BOUND),
        (ELECTION_CRASH, ELECTION_BOUND),
        (COMMIT, REPLICATION_BOUND),
    ):
        for loss, runs in results.items():
            out.append(judge(claim, loss_label(loss), samples(runs)[claim], bound))
    return out


def figure(results: dict[float, list[SeedResult]], d: Deployment = DEPLOYMENT) -> str:
    """The SVG: CDFs of election time (from start solid, after a crash dashed) and of commit
    latency, one colour per loss rate, the claimed bounds marked."""
    elections: list[Series] = []
    commits: list[Series] = []
    for k, (loss, runs) in enumerate(results.items()):
        color = PALETTE[k % len(PALETTE)]
        s = samples(runs)
        start = [v for v, _ in s[ELECTION_START] if v is not None]
        crash = [v for v, _ in s[ELECTION_CRASH] if v is not None]
        commit = [v for v, _ in s[COMMIT] if v is not None]
        elections.append(Series(f"{loss_label(loss)}, from start", cdf(start), color))
        elections.append(
            Series(f"{loss_label(loss)}, after leader crash", cdf(crash), color, dashed=True)
        )
        commits.append(Series(loss_label(loss), cdf(commit), color))
    longest = max([ELECTION_BOUND] + [v for s in elections for v, _ in s.points])
    seeds = max(len(runs) for runs in results.values())
    panels = [
        Panel(
            "Leader election: time until a leader is known to 8 of 14",
            "milliseconds from cluster start, or from the leader's crash (log scale)",
            "share of runs",
            elections,
            xlog=True,
            xrange=(100, max(10_000, 10 ** math.ceil(math.log10(longest)))),
            yrange=(0, 1),
            marks=[Mark(ELECTION_BOUND, "claim: 2 s")],
        ),
        Panel(
            "Commit latency: write handed to the leader until acknowledged",
            "milliseconds (log scale)",
            "share of writes",
            commits,
            xlog=True,
            xrange=(1, 1_000),
            yrange=(0, 1),
            marks=[Mark(REPLICATION_BOUND, "claim: 500 ms")],
        ),
    ]
    lo, hi = d.election_timeout
    note = (
        f"Reference Raft (impl/raft), {words.count(d.nodes, 'node')}, election timeout {lo}-{hi} ms, heartbeat "
        f"{d.heartbeat} ms, latency {d.latency[0]}-{d.latency[1]} ms uniform, {seeds:,} seeds per "
        f"loss rate; `meshcheck claims raft-deployment`"
    )
    return render(panels, title="Raft deployment of the second design: 14 coordinators", note=note)


def to_json(
    results: dict[float, list[SeedResult]], d: Deployment = DEPLOYMENT
) -> dict[str, object]:
    """The deployment measured and every run's numbers, by loss rate in percent (`--json`; read
    back by `from_json`, which `meshcheck claims plot` draws from)."""
    return {
        "claims": "raft-deployment",
        "deployment": attrs.asdict(d),
        "runs": {
            f"{loss * 100:g}": [attrs.asdict(r, value_serializer=None) for r in runs]
            for loss, runs in results.items()
        },
    }


def from_json(doc: Mapping[str, Any]) -> tuple[dict[float, list[SeedResult]], Deployment]:
    """What `to_json` wrote, as `measure` gave it (KeyError, TypeError, ValueError when it is not)."""
    given = dict(doc["deployment"])
    d = Deployment(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}  # type: ignore[arg-type]
    )
    results = {
        float(loss) / 100: [
            SeedResult(**{**run, "latencies": tuple(run["latencies"])}) for run in runs
        ]
        for loss, runs in doc["runs"].items()
    }
    return results, d
