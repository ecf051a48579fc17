"""The gossip layer's claims, measured on the reference gossip node (impl/gossip) in the simulator.

Claimed (the designs meshcheck verifies): gossip scales to 10,000+ nodes with O(log n) message
complexity, reaches 99% of the network in under 10 seconds, and costs under 1% of bandwidth; the
second design gossips every 1 s with fanout 3, delta propagation and a phi-accrual detector at
threshold 8, and claims convergence in O(log N) rounds (and runs 593 agents).

The setting is impl/gossip's own defaults (`GossipConfig`: `interval=1000`, `fanout=3`, one pull per
round, phi threshold 8, window 100, minimum deviation 100 ms), and one tick is one millisecond, as for
the Raft deployment (meshcheck/claims/raft.py says why that is a convention). Clocks run at one tick
per tick; the simulator charges no time for a node's work.

**Propagation** (`measure_seed`). A fresh cluster of N nodes runs `warmup` ms (every node has had its
first round, at a random point of the first interval, and churn is in its steady state); then one
status write `(status/<origin>, <64-byte value>)` is handed to a random live node at a random moment
of the next interval, and the run goes on until every live node holds it and at least `horizon` ms
(10 s, the claim's) have passed since the write, or `cap` ms. The fraction of live nodes holding the
update is (live nodes holding it) / (live nodes), updated after every event; the times to 99% and to
100% are the first times it reaches 0.99 and 1 (None: not within the cap; a censored sample). Rounds
are those times divided by the interval: gossip rounds are not synchronised (each node has its own
phase), so a round is a second of time, every node having had about one round in it.

**Conditions.** Message loss: each message is lost, when due, with the stated probability
(`Faults(drop=p)`). Churn P%: in every interval (1 s) each live node crashes with probability P/100, at
a moment drawn uniformly within that interval, and restarts `churn_down` ms (one interval) later: on
average P% of the nodes crash per interval and about P% are down at any time. A crash loses the
node's volatile state (entries learned from others, the membership changes it learned, its
detector); it restarts with what it persisted (its own writes, its boot count), knowing only the seeds, and pulls from 3
peers at once (impl/gossip/node.py, "Restart"). Crash and restart rather than leave and join: the
membership stays the same, so the measurement shows the cost of lost state, not of view changes. A
node that restarts does not hold the update until it learns it again, and the fraction counts it.

**Messages and bytes.** Every send is counted as it enters the network (the simulator's send hook,
`Simulator.send_filter`, refusing nothing), lost or not, from the write to the end of the run; per
node per round is that divided by the mean number of live nodes and the rounds elapsed. A message's
size is `wire_size`: the fields it carries, encoded as below, plus 28 bytes of IPv4 and UDP headers
(no Ethernet framing). The link is 1 Gbit/s per node (`LINK`, 125,000,000 bytes/s): the usual
server NIC of a data centre, where a 10,000-node fleet sits; "1% of bandwidth" is then 1.25 MB/s per
node (the share of a 100 Mbit/s link is ten times the one shown).

**Detector** (`detector_seed`). A cluster of `nodes` (50) runs `span` ms after `warmup` without a
crash: every suspicion is false; a check is one watcher's evaluation of phi for one watched peer in
one of its rounds (node.py: a node watches its 3 ring predecessors and evaluates them at each round).
Then `victims` nodes, 4 apart on the ring (so no victim watches another), crash at once, at a random
moment; for each of their watchers, the time from the crash until it suspects the victim (at
its next round after phi reaches 8) is a sample. Delay profiles: one-way latency uniform in 1-10 ms
(a LAN), 1-100 ms (a WAN), 1-10 ms with 1% of messages held back a further 200-2,000 ms (a tail:
`Faults(delay=0.01, delay_ticks=(200, 2000))`), and 1-10 ms with 1% loss.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.claims.report import Row
from meshcheck.claims.report import judge
from meshcheck.claims.sweep import sweep
from meshcheck.claims.verdict import GrowthVerdict
from meshcheck.claims.verdict import log_verdict
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.messages import Beat
from meshcheck.impl.gossip.messages import Pull
from meshcheck.impl.gossip.messages import Push
from meshcheck.impl.gossip.node import GOSSIP
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.simulation import GossipPlugin
from meshcheck.impl.gossip.simulation import gossip_cluster
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Simulator
from meshcheck.traces.plot import PALETTE
from meshcheck.traces.plot import Mark
from meshcheck.traces.plot import Panel
from meshcheck.traces.plot import Series
from meshcheck.traces.plot import render

# -- the wire format ------------------------------------------------------------------------------------

IP_UDP = 28  # bytes: an IPv4 header (20) and a UDP header (8)
NODE = 4  # a node is named on the wire by its IPv4 address
HEADER = 1 + NODE + NODE + 4 + 4  # message type, source, dest, boot (u32), beat (u32)
VERSION = 8  # u64
LINK = 125_000_000  # bytes per second: 1 Gbit/s per node
VALUE_SIZE = 64  # the status value written: a 64-byte record


def _text(s: str, length_bytes: int) -> int:
    """A string: its length (`length_bytes` bytes) and its UTF-8 bytes."""
    return length_bytes + len(s.encode())


def entry_size(key: str, entry: Entry) -> int:
    """key (u8 length + UTF-8), version (u64), origin (a node), value (u16 length + UTF-8)."""
    return _text(key, 1) + VERSION + NODE + _text(entry.value, 2)


def wire_size(message: Any) -> int:
    """The bytes one message takes on the wire: its fields (module docstring) and IPv4 + UDP.

    Push: header, entry count (u16), entries. Pull: header, `back` flag (u8), key count (u16), per key
    the key and its rank (version, origin, value: the digest carries the rank whole, the value
    breaks ties). Beat: the header alone. (A joiner sends an ordinary Pull to its seed: there is no
    join message of its own.)"""
    if isinstance(message, Beat):
        body = 0
    elif isinstance(message, Push):
        body = 2 + sum(entry_size(k, e) for k, e in message.entries)
    elif isinstance(message, Pull):
        body = 1 + 2 + sum(_text(k, 1) + VERSION + NODE + _text(r[2], 2) for k, r in message.digest)
    else:  # pragma: no cover - Message is the union above
        raise TypeError(f"not a gossip message: {message!r}")
    return IP_UDP + HEADER + body


# -- one propagation run --------------------------------------------------------------------------------


@attrs.frozen
class Condition:
    """Message loss (a probability) and churn (the share of nodes crashing per interval)."""

    loss: float = 0.0
    churn: float = 0.0

    @property
    def label(self) -> str:
        if self.churn:
            text = f"{self.churn * 100:g}% churn"
            return text if not self.loss else f"{text}, {self.loss * 100:g}% loss"
        return f"{self.loss * 100:g}% loss"

    @property
    def option(self) -> str:
        """How `--conditions` names it."""
        if self.churn:
            return f"churn{self.churn * 100:g}" + (f"+loss{self.loss * 100:g}" if self.loss else "")
        return f"loss{self.loss * 100:g}"


CONDITIONS = (Condition(0.0), Condition(0.01), Condition(0.1), Condition(churn=0.01))


@attrs.frozen
class Setting:
    """How one run measures (all times in ms = ticks)."""

    interval: int = 1000
    fanout: int = 3
    latency: tuple[int, int] = (1, 10)
    warmup: int = 2000
    horizon: int = 10_000  # run at least this long after the write (the claim's 10 s)
    cap: int = 60_000  # give up this long after the write
    churn_down: int = 1000
    sample_every: int = 100  # the propagation curve's step


SETTING = Setting()


@attrs.frozen
class Run:
    """One seed's propagation run. Times in ms since the write; None: not within the cap."""

    nodes: int
    condition: str
    seed: int
    t99: int | None
    t100: int | None
    curve: tuple[float, ...]  # fraction of live nodes holding the update, every sample_every ms
    messages: int  # sent from the write to the end of the run, by every node
    bytes: int
    by_kind: Mapping[str, int]
    live: float  # mean number of live nodes over that time
    span: int  # ms from the write to the end of the run
    crashes: int
    events: int
    cpu: float  # seconds of CPU for the run

    @property
    def rounds99(self) -> float | None:
        return None if self.t99 is None else self.t99 / SETTING.interval

    @property
    def rounds100(self) -> float | None:
        return None if self.t100 is None else self.t100 / SETTING.interval

    @property
    def node_rounds(self) -> float:
        return self.live * self.span / SETTING.interval

    @property
    def messages_per_node_round(self) -> float:
        return self.messages / self.node_rounds

    @property
    def bytes_per_node_round(self) -> float:
        return self.bytes / self.node_rounds

    @property
    def share_of_link(self) -> float:
        """Bytes a node sends per second, as a percentage of `LINK`."""
        return 100.0 * self.bytes_per_node_round * 1000 / SETTING.interval / LINK

    @property
    def messages_to_converge(self) -> float | None:
        """Messages per live node from the write until every live node held it."""
        if self.t100 is None:
            return None
        return self.messages_per_node_round * self.t100 / SETTING.interval


KEY_PREFIX = "status/"


def _value(origin: str) -> str:
    return (origin + ":ok:" + "0" * VALUE_SIZE)[:VALUE_SIZE]


class _Meter:
    """Counts what enters the network (bytes and messages, by kind) once `on` is set."""

    def __init__(self) -> None:
        self.on = False
        self.messages = 0
        self.bytes = 0
        self.by_kind: dict[str, int] = {}

    def __call__(self, node: str, message: Any) -> bool:
        if self.on:
            self.messages += 1
            self.bytes += wire_size(message)
            kind = type(message).__name__
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        return True  # refuse nothing


def churn_plan(
    rng: random.Random, names: Sequence[str], rate: float, until: int, s: Setting
) -> list[tuple[int, str]]:
    """(time, node) of every churn crash before `until`: per interval, each node with probability
    `rate`, at a uniform moment of the interval (a node already down then is skipped when due)."""
    plan: list[tuple[int, str]] = []
    if rate <= 0:
        return plan
    for start in range(0, until, s.interval):
        for name in names:
            if rng.random() < rate:
                plan.append((start + rng.randrange(s.interval), name))
    plan.sort()
    return plan


def _plugin(sim: Simulator[GossipNode]) -> GossipPlugin:
    plugin = sim.plugin
    assert isinstance(plugin, GossipPlugin)
    return plugin


def cluster(
    nodes: int, seed: int, condition: Condition, s: Setting = SETTING
) -> Simulator[GossipNode]:
    """The cluster of one run: no trace and no client history (speed)."""
    return gossip_cluster(
        nodes,
        seed=seed,
        faults=Faults(drop=condition.loss),
        latency=s.latency,
        interval=s.interval,
        fanout=s.fanout,
        record=False,
        history=False,
    )


def measure_seed(
    nodes: int, seed: int, condition: Condition = CONDITIONS[0], s: Setting = SETTING
) -> Run:
    """One propagation run (the module's docstring says what is measured)."""
    cpu = time.process_time()
    sim = cluster(nodes, seed, condition, s)
    names = sim.node_ids
    rng = random.Random(f"{seed}:gossip-claims:{nodes}")
    meter = _Meter()
    sim.send_filter = meter
    write_at = s.warmup + rng.randrange(s.interval)
    end_cap = write_at + s.cap
    plan = churn_plan(rng, names, condition.churn, end_cap, s)
    # what happens at a moment: ("crash" | "recover" | "write", node)
    agenda: list[tuple[int, int, str, str]] = [(t, 1, "crash", n) for t, n in plan]
    origin = names[rng.randrange(len(names))]
    agenda.append((write_at, 0, "write", origin))
    agenda.sort()

    state = _Tracker(sim, KEY_PREFIX + origin, origin)
    _plugin(sim).observers.append(state.observe)

    crashes = 0
    recovers: list[tuple[int, str]] = []
    written = False

    def next_moment() -> int:
        times = [end_cap]
        if agenda:
            times.append(agenda[0][0])
        if recovers:
            times.append(recovers[0][0])
        return min(times)

    def finished(_s: Simulator[Any]) -> bool:
        return written and state.t100 is not None and sim.now >= write_at + s.horizon

    while sim.now < end_cap:
        at = next_moment()
        sim.run(until=at, stop=finished)
        if finished(sim):
            break
        if recovers and recovers[0][0] <= sim.now:
            _, n = recovers.pop(0)
            if not sim.up[n]:
                sim.recover(n)
                state.up_changed()
            continue
        if agenda and agenda[0][0] <= sim.now:
            _, _, what, n = agenda.pop(0)
            if what == "write":
                if not sim.up[n]:  # the writer drawn is down: the first live node writes
                    n = next((m for m in names if sim.up[m]), n)
                key = KEY_PREFIX + n
                state.start(sim.now, key, n)
                meter.on = True
                sim.inject(n, ClientRequest((key, _value(n)), 1))
                written = True
            elif sim.up[n]:
                sim.crash(n)
                crashes += 1
                state.up_changed()
                recovers.append((sim.now + s.churn_down, n))
                recovers.sort()
            continue
    state.close(sim.now)
    assert state.start_time is not None
    span = sim.now - state.start_time
    return Run(
        nodes=nodes,
        condition=condition.label,
        seed=seed,
        t99=state.t99,
        t100=state.t100,
        curve=state.curve(s.sample_every),
        messages=meter.messages,
        bytes=meter.bytes,
        by_kind=dict(sorted(meter.by_kind.items())),
        live=state.mean_live(),
        span=span,
        crashes=crashes,
        events=sim.events,
        cpu=time.process_time() - cpu,
    )


class _Tracker:
    """Which live nodes hold the update, after every event: the fraction's timeline and when it
    first reached 99% and 100%. A crash replaces the node by one rebuilt from its durable store, and
    the observer sees that step: a crashed node no longer holds the update, but for its writer,
    which persisted it; so the live holders are the holders less a writer that is down."""

    def __init__(self, sim: Simulator[Any], key: str, origin: str) -> None:
        self.sim = sim
        self.key = key
        self.origin = origin
        self.holders: set[str] = set()
        self.up = sum(sim.up.values())
        self.start_time: int | None = None
        self.t99: int | None = None
        self.t100: int | None = None
        self.timeline: list[tuple[int, int, int]] = []  # (time, live holders, live)
        self._live_area = 0.0  # integral of live nodes over time, from the write
        self._last = 0

    def start(self, now: int, key: str, origin: str) -> None:
        self.key, self.origin = key, origin
        self.start_time = now
        self._last = now
        self._live_area = 0.0

    def _live_holders(self) -> int:
        held = len(self.holders)
        if self.origin in self.holders and not self.sim.up[self.origin]:
            held -= 1
        return held

    def observe(self, node: str, event: Any, nodes: Mapping[str, GossipNode], now: int) -> None:
        if self.start_time is None:
            return
        holds = self.key in nodes[node].entries
        if holds == (node in self.holders):
            return
        if holds:
            self.holders.add(node)
        else:  # a crash lost it
            self.holders.discard(node)
        self._note()

    def up_changed(self) -> None:
        now = self.sim.now
        if self.start_time is not None:
            self._live_area += self.up * (now - self._last)
            self._last = now
        self.up = sum(self.sim.up.values())
        if self.start_time is not None:
            self._note()

    def _note(self) -> None:
        now = self.sim.now
        assert self.start_time is not None
        if self.timeline and self.timeline[-1][0] == now:
            self.timeline.pop()
        held = self._live_holders()
        self.timeline.append((now, held, self.up))
        since = now - self.start_time
        if self.t99 is None and held >= 0.99 * self.up:
            self.t99 = since
        if self.t100 is None and held >= self.up:
            self.t100 = since

    def close(self, now: int) -> None:
        assert self.start_time is not None
        self._live_area += self.up * (now - self._last)
        self._last = now

    def mean_live(self) -> float:
        assert self.start_time is not None
        span = self._last - self.start_time
        return self._live_area / span if span > 0 else float(self.up)

    def curve(self, step: int) -> tuple[float, ...]:
        assert self.start_time is not None
        out: list[float] = []
        k = 0
        held, live = 0, self.up
        for t in range(self.start_time, self._last + 1, step):
            while k < len(self.timeline) and self.timeline[k][0] <= t:
                _, held, live = self.timeline[k]
                k += 1
            out.append(held / live if live else 0.0)
        return tuple(out)


def measure(
    sizes: Sequence[int],
    seeds_for: Callable[[int], Sequence[int]],
    conditions: Sequence[Condition] = CONDITIONS,
    s: Setting = SETTING,
    progress: Callable[[int, str, int, int], None] | None = None,
) -> dict[int, dict[str, list[Run]]]:
    """Every size under every condition, `seeds_for(size)` seeds each; `progress(size, condition,
    done, total)` after each run."""
    total = sum(len(seeds_for(n)) for n in sizes) * len(conditions)
    done = 0
    out: dict[int, dict[str, list[Run]]] = {}
    for n in sizes:
        by = out.setdefault(n, {})
        for c in conditions:
            runs = by.setdefault(c.label, [])
            for seed in seeds_for(n):
                runs.append(measure_seed(n, seed, c, s))
                done += 1
                if progress is not None:
                    progress(n, c.label, done, total)
    return out


# -- the detector -----------------------------------------------------------------------------------------


@attrs.frozen
class Profile:
    """A network for the detector: one-way latency, loss, and a share of messages held back."""

    name: str
    latency: tuple[int, int]
    loss: float = 0.0
    delay: float = 0.0
    delay_ticks: tuple[int, int] = (200, 2000)

    def faults(self) -> Faults:
        return Faults(drop=self.loss, delay=self.delay, delay_ticks=self.delay_ticks)


PROFILES = (
    Profile("1-10 ms (LAN)", (1, 10)),
    Profile("1-100 ms (WAN)", (1, 100)),
    Profile("1-10 ms, 1% held 0.2-2 s (tail)", (1, 10), delay=0.01),
    Profile("1-10 ms, 1% loss", (1, 10), loss=0.01),
)


@attrs.frozen
class DetectorSetting:
    nodes: int = 50
    warmup: int = 10_000  # windows hold about 10 intervals before suspicions count
    span: int = 60_000  # ms watched for false suspicions
    victims: int = 5
    cap: int = 30_000  # give up this long after the crash


DETECTOR = DetectorSetting()


@attrs.frozen
class DetectorRun:
    profile: str
    seed: int
    checks: int  # phi evaluations of a live watched peer, in the watched span
    false: int  # suspicions of live peers in that span
    detect: tuple[int | None, ...]  # per watcher of a victim: ms from the crash to its suspicion
    cpu: float

    @property
    def rate(self) -> float:
        return self.false / self.checks if self.checks else 0.0


def detector_seed(seed: int, profile: Profile, d: DetectorSetting = DETECTOR) -> DetectorRun:
    """One detector run (the module's docstring)."""
    cpu = time.process_time()
    sim = gossip_cluster(
        d.nodes,
        seed=seed,
        faults=profile.faults(),
        latency=profile.latency,
        record=False,
        history=False,
    )
    rng = random.Random(f"{seed}:gossip-detector")
    counting = False
    checks = 0
    false = 0

    def observe(node: str, event: Any, nodes: Mapping[str, GossipNode], now: int) -> None:
        nonlocal checks, false
        if not counting or not (type(event).__name__ == "Tick" and event.timer == GOSSIP):
            return
        for w in nodes[node].detector.watches.values():
            if w.suspected_since == now:
                false += 1
            if w.suspected_since is None or w.suspected_since == now:
                checks += 1

    plugin = _plugin(sim)
    plugin.observers.append(observe)
    sim.run(until=d.warmup)
    counting = True
    sim.run(until=d.warmup + d.span)
    counting = False
    plugin.observers.remove(observe)

    names = sim.node_ids
    step = max(4, len(names) // d.victims)
    first = rng.randrange(len(names))
    victims = [names[(first + k * step) % len(names)] for k in range(min(d.victims, len(names)))]
    crash_at = sim.now + rng.randrange(1000)
    sim.run(until=crash_at)
    watchers = {v: [w for w in names if v in sim.nodes[w].ring()[0]] for v in victims}
    for v in victims:
        sim.crash(v)
    pending = {(w, v) for v, ws in watchers.items() for w in ws if w not in victims}
    found: dict[tuple[str, str], int] = {}

    def suspected(s: Simulator[Any]) -> bool:
        for w, v in list(pending):
            watch = s.nodes[w].detector.watches.get(v)
            if watch is not None and watch.suspected_since is not None:
                found[(w, v)] = s.now - crash_at
                pending.discard((w, v))
        return not pending

    sim.run(until=crash_at + d.cap, stop=suspected)
    detect = tuple(found.get(p) for p in sorted({*found, *pending}))
    return DetectorRun(profile.name, seed, checks, false, detect, time.process_time() - cpu)


def measure_detector(
    seeds: Sequence[int],
    profiles: Sequence[Profile] = PROFILES,
    d: DetectorSetting = DETECTOR,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, list[DetectorRun]]:
    return sweep(
        [(p.name, p) for p in profiles], seeds, lambda p, seed: detector_seed(seed, p, d), progress
    )


# -- the claims, judged ---------------------------------------------------------------------------------

SPREAD_BOUND = 10_000  # ms: "reaches 99% of the network in under 10 seconds"
BANDWIDTH_BOUND = LINK / 100  # bytes per node per second: "under 1% of bandwidth"
FALSE_BOUND = 0.01  # false suspicions per 10^6 checks: 10^-8 per check at threshold 8
SPREAD = "99% of live nodes (under 10 s)"
BANDWIDTH = "bytes/s per node (under 1% of 1 Gbit/s)"
FALSE = "false suspicions per 10^6 checks (10^-8 per check at threshold 8)"
ROUNDS = "convergence in O(log N) rounds (rounds to 100%)"
MESSAGES = "O(log n) messages (per node, until 100%)"
AGENTS = 593  # the second design's deployment


def size_label(n: int) -> str:
    return f"{n:,} agents" if n == AGENTS else f"N = {n:,}"


def rows(results: Mapping[int, Mapping[str, Sequence[Run]]]) -> list[Row]:
    """The bounded claims per size and condition: 99% under 10 s, bandwidth under 1%."""
    out: list[Row] = []
    for claim, bound, unit, value in (
        (SPREAD, SPREAD_BOUND, "ms", lambda r: None if r.t99 is None else float(r.t99)),
        (
            BANDWIDTH,
            BANDWIDTH_BOUND,
            "B/s",
            lambda r: r.bytes_per_node_round * 1000 / SETTING.interval,
        ),
    ):
        for n, by in results.items():
            for label, runs in by.items():
                samples = [(value(r), r.seed) for r in runs]
                out.append(judge(claim, f"{size_label(n)}, {label}", samples, bound, unit))
    return out


def growth(
    results: Mapping[int, Mapping[str, Sequence[Run]]],
) -> list[tuple[str, str, GrowthVerdict]]:
    """The O(log N) claims per condition, over every size: (claim, condition, verdict)."""
    labels = list(dict.fromkeys(label for by in results.values() for label in by))

    def rounds(r: Run) -> float | None:
        return r.rounds100

    def messages(r: Run) -> float | None:
        return r.messages_to_converge

    out = []
    for claim, value in ((ROUNDS, rounds), (MESSAGES, messages)):
        for label in labels:
            samples = [
                (n, value(r), r.seed) for n, by in results.items() for r in by.get(label, ())
            ]
            out.append((claim, label, log_verdict(samples)))
    return out


def detector_rows(results: Mapping[str, Sequence[DetectorRun]]) -> list[Row]:
    return [
        judge(FALSE, name, [(r.rate * 1e6, r.seed) for r in runs], FALSE_BOUND, "per 10^6 checks")
        for name, runs in results.items()
    ]


def _p(values: Sequence[float], q: float) -> float | None:
    from meshcheck.claims.verdict import percentile

    return percentile(values, q) if values else None


def digest_bytes(keys: int, nodes: int) -> int:
    """The wire size of a pull whose digest names `keys` status entries, one per node (keys
    `status/<node>`, a 64-byte value each): what a pull costs once every node's status is held."""
    width = len(str(nodes))
    digest = tuple(
        (f"{KEY_PREFIX}n{k:0{width}d}", (1, f"n{k:0{width}d}", "0" * VALUE_SIZE))
        for k in range(1, keys + 1)
    )
    return wire_size(Pull("n1", "n2", digest, 1, 1))


# -- the picture ------------------------------------------------------------------------------------------


def median_curve(runs: Sequence[Run]) -> list[tuple[float, float]]:
    """(seconds since the write, the median over runs of the fraction holding it); a run that
    ended is held at its last fraction."""
    longest = max(len(r.curve) for r in runs)
    out = []
    for k in range(longest):
        fractions = sorted(r.curve[min(k, len(r.curve) - 1)] for r in runs)
        out.append((k * SETTING.sample_every / 1000, fractions[(len(fractions) - 1) // 2]))
    return out


def _decades(sizes: Sequence[int]) -> tuple[float, float]:
    """The powers of ten around the sizes (at least one decade: a single size of 10 is 10..100)."""
    lo = 10.0 ** math.floor(math.log10(min(sizes)))
    hi = 10.0 ** math.ceil(math.log10(max(sizes)))
    return lo, max(hi, lo * 10)


def figure(results: Mapping[int, Mapping[str, Sequence[Run]]]) -> str:
    """Propagation curves (the median over seeds, one per size; solid: no loss, dashed: the
    lossiest condition) and rounds to 100% against N (log scale) with the logarithmic fit."""
    labels = list(dict.fromkeys(label for by in results.values() for label in by))
    calm = labels[0]
    worst = max(
        (lb for lb in labels if "churn" not in lb),
        key=lambda lb: float(lb.split("%")[0]),
        default=calm,
    )
    curves: list[Series] = []
    for k, (n, by) in enumerate(sorted(results.items())):
        color = PALETTE[k % len(PALETTE)]
        if by.get(calm):
            curves.append(Series(f"{size_label(n)}, {calm}", median_curve(by[calm]), color))
        if worst != calm and by.get(worst):
            curves.append(
                Series(f"{size_label(n)}, {worst}", median_curve(by[worst]), color, dashed=True)
            )
    longest = max((x for s in curves for x, _ in s.points), default=10.0)
    rounds: list[Series] = []
    sizes = sorted(results)
    for k, label in enumerate(labels):
        points = []
        for n in sizes:
            done = [r.rounds100 for r in results[n].get(label, ()) if r.rounds100 is not None]
            if done:
                points.append((float(n), _p(done, 50) or 0.0))
        rounds.append(Series(f"p50, {label}", points, PALETTE[k % len(PALETTE)], markers=True))
    fits = [g for g in growth(results) if g[0] == ROUNDS and g[1] == calm]
    if fits and fits[0][2].fit is not None and len(sizes) > 1:
        f = fits[0][2].fit
        xs = [sizes[0] * (sizes[-1] / sizes[0]) ** (k / 40) for k in range(41)]
        rounds.append(
            Series(
                f"fit, {calm}: {f.a:.2f} + {f.b:.2f} log2 N",
                [(x, f.a + f.b * math.log2(x)) for x in xs],
                "#000000",
                dashed=True,
            )
        )
    top = max([y for s in rounds for _, y in s.points] + [1.0])
    panels = [
        Panel(
            "Propagation of one update: median over seeds",
            "seconds since the write",
            "share of live nodes holding it",
            curves,
            xrange=(0, max(12.0, math.ceil(longest))),
            yrange=(0, 1),
            marks=[Mark(SPREAD_BOUND / 1000, "claim: 99% in 10 s"), Mark(0.99, "99%", "y")],
        ),
        Panel(
            "Rounds until every live node holds it (p50)",
            "nodes N (log scale)",
            "rounds (1 round = 1 s)",
            rounds,
            xlog=True,
            xrange=_decades(sizes),
            yrange=(0, math.ceil(top + 1)),
        ),
    ]
    seeds = ", ".join(
        f"{size_label(n)}: {max(len(v) for v in by.values())}" for n, by in sorted(results.items())
    )
    note = (
        f"Reference gossip (impl/gossip), interval {SETTING.interval} ms, fanout {SETTING.fanout}, "
        f"latency {SETTING.latency[0]}-{SETTING.latency[1]} ms; seeds per condition {seeds}; "
        "`meshcheck claims gossip`"
    )
    return render(panels, title="Gossip: propagation and rounds against N", note=note)


def to_json(
    results: Mapping[int, Mapping[str, Sequence[Run]]],
    detector: Mapping[str, Sequence[DetectorRun]],
) -> dict[str, Any]:
    """Every run's numbers (`--json`; read back by `from_json`, which `meshcheck claims plot`
    draws from)."""
    return {
        "claims": "gossip",
        "propagation": {
            str(n): {
                label: [attrs.asdict(r, value_serializer=None) for r in runs]
                for label, runs in by.items()
            }
            for n, by in results.items()
        },
        "detector": {
            name: [attrs.asdict(r, value_serializer=None) for r in runs]
            for name, runs in detector.items()
        },
    }


def from_json(
    doc: Mapping[str, Any],
) -> tuple[dict[int, dict[str, list[Run]]], dict[str, list[DetectorRun]]]:
    """What `to_json` wrote, as `measure` and `measure_detector` gave it (KeyError, TypeError,
    ValueError when it is not)."""
    results = {
        int(n): {
            label: [Run(**{**r, "curve": tuple(r["curve"])}) for r in runs]
            for label, runs in by.items()
        }
        for n, by in doc["propagation"].items()
    }
    detector = {
        name: [DetectorRun(**{**r, "detect": tuple(r["detect"])}) for r in runs]
        for name, runs in doc["detector"].items()
    }
    return results, detector
