"""Free runs of the gossip layer: churn, partitions, loss and crashes, then calm; what must hold.

A run (`check_run`, on property_tests/free_runs.py's `Schedule`):

1. faults for `ticks` (loss, duplication, delay, crash-restart and partitions from the simulator's
   chaos rounds) while the client writes and reads status keys, and churn: `joins` spare nodes
   join through a random member, `leaves` members leave, at random times of the faulty stretch;
2. then calm: no fault, no write; `kill` members crash for good just after the faults end;
3. the run goes on for `tail` ticks (the convergence bound, below), round by round.

Checked after every step, by a monitor on the plug-in's observers (`Monitor`):
- no invented values: every entry a node holds after a merge or a write is one some node wrote
  (its key, version, origin and value);
- versions never go backwards: within one incarnation, the rank a node holds for a key never
  drops; across a restart, a node's own writes are never lost (its rank for a key it wrote is at
  least the highest it wrote);
- the detector is phi.py's (an oracle keeps the true arrivals of every watched pair, as the
  receiver's clock saw them, with the same rule for what counts as a heartbeat): the window is
  the last `window` inter-arrival times, a suspicion is raised only when phi of that window is at
  or past the threshold, and a heartbeat clears a suspicion at once (Trust). With heartbeats
  arriving, no live node is suspected past its next heartbeat: "not suspected forever".

Checked at the end:
- convergence within the bound: every live member holds the same entries at some round within
  the bound after the faults end (`convergence_bound`: computed from the views when the calm
  begins, its conditions written beside it; `CONVERGENCE_ROUNDS`, measured, at the least);
- every node crashed for good is suspected by every live member that watched it, once the
  oracle's phi for that pair has been past the threshold for a round;
- the client history: every status read returns a value a client wrote to that key, or nothing
  (the only client-history property that applies to an eventually consistent store: the five
  checks of property_tests/histories.py are about a replicated log, which gossip has not);
- NoWrongRefusal (property_tests/gossip/refusals.py): after a status read and a status write at
  every live member, no member refused a request while it was up and a member, under faults or
  not (an available store's promise).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import attrs
from hypothesis import given
from hypothesis import settings as Settings
from hypothesis import strategies as st

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.entries import Rank
from meshcheck.impl.gossip.messages import JoinVia
from meshcheck.impl.gossip.messages import LeaveCluster
from meshcheck.impl.gossip.messages import Push
from meshcheck.impl.gossip.node import GOSSIP
from meshcheck.impl.gossip.node import IN
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.phi import Arrivals
from meshcheck.impl.gossip.phi import PhiConfig
from meshcheck.impl.gossip.simulation import gossip_cluster
from meshcheck.impl.gossip.simulation import status_workload
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim.config import Faults
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import Storm
from meshcheck.property_tests.gossip import refusals

INTERVAL = 1000
KEYS = ("k1", "k2", "k3")
# a correct cluster keeps about (fanout + 2) messages per node in flight and takes about 10 node
# events per node per round (1000 ticks): the bounds leave a wide margin
STORM = Storm(in_flight_per_node=60, events_per_node_tick=1)
# rounds after the faults end within which every live member holds the same entries when every
# live member's pulls reach live members (views of live members only): measured, with a margin;
# `convergence_bound` raises it for views that still hold departed members
CONVERGENCE_ROUNDS = 10
# the chance, per run, that the computed bound is missed by a correct cluster (convergence_bound)
MISS = 1e-6
# rounds the calm tail lasts: long enough for phi of a crashed peer to pass the threshold
TAIL_ROUNDS = 25
DOWN_TICKS = Faults().down_ticks  # how long a crashed node stays down, unless a schedule says
# the profile's examples each cluster size gets (ci: 60 examples)
SHARE = {5: 1 / 4, 50: 1 / 20}


class Monitor:
    """Watches a run step by step (the plug-in's observers); `problem` is the first thing broken."""

    def __init__(self, sim: Simulator[GossipNode], phi: PhiConfig) -> None:
        self.sim = sim
        self.phi = phi
        self.problem: str | None = None
        self.written: set[tuple[str, Entry]] = set()
        self.ranks: dict[str, dict[str, Rank]] = {i: {} for i in sim.node_ids}
        self.own_max: dict[str, dict[str, Rank]] = {i: {} for i in sim.node_ids}
        # the oracle: receiver -> sender -> (arrivals, boot, beat, the receiver's watch it mirrors)
        self.ref: dict[str, dict[str, tuple[Arrivals, int, int, object]]] = {
            i: {} for i in sim.node_ids
        }
        sim.plugin.observers.append(self.observe)  # type: ignore[attr-defined]

    def fail(self, text: str) -> None:
        if self.problem is None:
            self.problem = f"t={self.sim.now}: {text}"

    def observe(self, i: str, event: Any, nodes: Mapping[str, GossipNode], now: int) -> None:
        node = nodes[i]
        if isinstance(event, Restart):  # the crash: the node object is the next incarnation
            self._restarted(i, node)
            return
        if isinstance(event, ClientRequest | JoinVia | LeaveCluster):
            if isinstance(
                event, LeaveCluster
            ):  # first: what it learned is gone, so not "went back"
                self.ref[i] = {}
                self.ranks[i] = {k: e.rank() for k, e in node.entries.items()}
            for key, entry in node.own.items():
                self.written.add((key, entry))
                if key in node.entries:
                    self._held(i, node, key)
                best = self.own_max[i].get(key)
                if best is None or entry.rank() > best:
                    self.own_max[i][key] = entry.rank()
            return
        if isinstance(event, Tick):
            if event.timer == GOSSIP:
                self._round(i, node, now)
            return
        if not isinstance(event, Deliver):
            return
        message = event.message
        if isinstance(message, Push):
            for key, _ in message.entries:
                self._held(i, node, key)
        self._heard(i, node, event.source, message, now)

    def _restarted(self, i: str, node: GossipNode) -> None:
        self.ref[i] = {}
        self.ranks[i] = {k: e.rank() for k, e in node.entries.items()}
        for key, best in self.own_max[i].items():
            held = node.entries.get(key)
            if held is None or held.rank() < best:
                self.fail(f"{i} restarted without its own write of {key} at {best} (holds {held})")

    def _held(self, i: str, node: GossipNode, key: str) -> None:
        held = node.entries.get(key)
        if held is None:
            return
        if (key, held) not in self.written:
            # the spec's names for what broke, which the failure says first (failure.named_in)
            self.fail(f"{i} holds {key} = {held}, which nobody wrote (NoInventedValues)")
        before = self.ranks[i].get(key)
        if before is not None and held.rank() < before:
            self.fail(f"{i}'s {key} went back from {before} to {held.rank()} (VersionsMonotone)")
        self.ranks[i][key] = held.rank()

    def _heard(self, i: str, node: GossipNode, j: str, message: Any, now: int) -> None:
        if node.status != IN or j == i:
            return
        watch = node.detector.watches.get(j)
        if watch is None:
            self.ref[i].pop(j, None)
            return
        boot, beat = message.boot, message.beat
        ref = self.ref[i].get(j)
        if ref is None or ref[3] is not watch:  # a watch starts (again): the first arrival
            arrivals, ref = Arrivals(last=now), None
        elif (boot, beat) > (ref[1], ref[2]):
            arrivals = ref[0].heard(now, self.phi)
        else:
            return
        self.ref[i][j] = (arrivals, boot, beat, watch)
        if watch.arrivals != arrivals:
            self.fail(
                f"{i}'s window for {j} is {watch.arrivals}, not the last {self.phi.window} "
                f"inter-arrival times {arrivals}"
            )
        elif ref is not None and watch.suspected_since is not None:
            self.fail(f"{i} still suspects {j} after a heartbeat from it (no Trust)")

    def _round(self, i: str, node: GossipNode, now: int) -> None:
        for j, watch in node.detector.watches.items():
            if watch.suspected_since == now:
                ref = self.ref[i].get(j)
                value = ref[0].phi(now, self.phi) if ref is not None else math.nan
                if not value >= self.phi.threshold:
                    self.fail(f"{i} suspects {j} at phi {value:.2f} < {self.phi.threshold}")


@attrs.frozen
class Outcome:
    sim: Simulator[GossipNode]
    problem: str | None
    converged_at: int | None  # rounds after the faults ended


def live_members(sim: Simulator[GossipNode]) -> list[str]:
    return [i for i in sim.node_ids if sim.up[i] and sim.nodes[i].status == IN]


def converged(sim: Simulator[GossipNode]) -> bool:
    live = live_members(sim)
    if not live:
        return True
    first = sim.nodes[live[0]].entries
    return all(sim.nodes[i].entries == first for i in live[1:])


def convergence_bound(sim: Simulator[GossipNode]) -> int:
    """Rounds after the faults end within which a correct cluster converges, computed from its
    views when the calm begins (all but one in a million runs: `MISS`).

    The protocol's guarantee and its conditions. Once the faults are over (no loss, no crash, no
    partition, no write) an exchange between two live members leaves both holding the union of
    their entries: a pull is answered with what the puller lacks, and pulled back when the puller
    holds what the other lacks (impl/gossip/node.py, HandlePull). Pushes carry only the last
    round's changes, so a member that lost one catches up by exchanges alone. Member i exchanges
    with a live member in a round when its own pull (`pulls` peers drawn from its view) meets one,
    or a live member that knows i pulls it: probability a_i, computed below from the views.
    Departed members (left or killed) stay in every view but their watchers' (node.py, "What the
    simpler rule costs"), so a view of 7 with 3 live meets a live peer a third of the time, and a
    live member that has only heard bare beats from a joiner does not know it (a view grows from
    pushes and pulls only: Gossip.tla). With L live members, push-pull spreads what one holds to
    all in about log2 L exchanges per member (Karp et al., "Randomized rumor spreading", FOCS
    2000); the bound is the least R at which each member has made ceil(log2 L) exchanges with
    probability 1 - MISS / L (the binomial tail), and never less than the measured
    CONVERGENCE_ROUNDS. When every pull meets a live member (views of the live only) that is
    CONVERGENCE_ROUNDS; views of 7 with 5, 4 and 3 live give 13, 16 and 24 rounds; a member
    whose view of 5 holds one live peer, who does not know it, 66; the explore run's find of
    property_tests/gossip/test_free_runs.py 81 (it converged in 11). A member no live member can reach (a_i = 0) cannot converge:
    the bound is then no bound, and the check reports the divergence it sees."""
    live = live_members(sim)
    if len(live) < 2:
        return CONVERGENCE_ROUNDS
    views = {i: sim.nodes[i].members() - {i} for i in live}
    pulls = {i: sim.nodes[i].config.pulls for i in live}
    hops = max(1, math.ceil(math.log2(len(live))))
    bound = CONVERGENCE_ROUNDS
    for i in live:
        peers, reach = len(views[i]), len(views[i] & set(live))
        p = min(pulls[i], peers)
        own_miss = math.comb(peers - reach, p) / math.comb(peers, p) if peers else 1.0
        others_miss = math.prod(
            1 - min(1.0, pulls[j] / len(views[j])) for j in live if j != i and i in views[j]
        )
        reach_chance = 1 - own_miss * others_miss
        if reach_chance <= 0:
            return 10**6
        rounds = hops
        while _fewer_than(hops, rounds, reach_chance) > MISS / len(live):
            rounds += 1
        bound = max(bound, rounds)
    return bound


def _fewer_than(k: int, n: int, p: float) -> float:
    """P(X < k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(k))


def reads_written(sim: Simulator[GossipNode]) -> str | None:
    """Every status read returned a value a client wrote to that key (a write not refused), or
    nothing."""
    if sim.history is None:
        return None
    ops = sim.history.history()
    wrote = {  # a write answered `fail` (the node was not a member) took no effect
        tuple(op.value)
        for op in ops
        if op.kind == "write" and op.status != "fail" and isinstance(op.value, tuple)
    }
    for op in ops:
        result = op.result
        if (
            op.kind == "read"
            and op.status == "ok"
            and result is not None
            and ((op.value, result) not in wrote)
        ):
            return f"a read of {op.value} at {op.node} returned {op.result!r}, never written"
    return None


def cluster(
    schedule: Schedule, n: int, bugs: frozenset[str], record: bool
) -> Simulator[GossipNode]:
    """The cluster of a schedule's run: n members, and the spares that join during it; a crashed
    node stays down for the `down` knob's ticks (the simulator's default range unless set)."""
    ticks = schedule.ticks
    faults = free_runs.schedule_faults(
        schedule,
        until=ticks,
        max_down=max(1, n // 5),
        down_ticks=schedule.knob("down", DOWN_TICKS),
    )
    return gossip_cluster(
        n,
        spares=schedule.knob("joins", 0),
        seed=schedule.seed,
        faults=faults,
        workload=status_workload(KEYS, every=schedule.knob("every", 50), until=ticks),
        keys=KEYS,
        interval=INTERVAL,
        phi=PhiConfig(window=schedule.knob("window", 100)),
        bugs=bugs,
        record=record,
    )


def once(schedule: Schedule, n: int, bugs: frozenset[str], record: bool) -> Outcome:
    """One run of the schedule (see the module's docstring)."""
    ticks = schedule.ticks
    phi = PhiConfig(window=schedule.knob("window", 100))
    sim = cluster(schedule, n, bugs, record)
    monitor = Monitor(sim, phi)
    requests = refusals.Requests(sim)
    rng = random.Random(f"{schedule.seed}:churn")
    members = list(sim.node_ids[:n])
    churn: list[tuple[int, str, Any]] = []
    for s in sim.node_ids[n:]:
        churn.append((rng.randrange(1, max(2, ticks)), s, JoinVia(rng.choice(members))))
    for i in rng.sample(members, min(schedule.knob("leaves", 0), n - 2)):
        churn.append((rng.randrange(1, max(2, ticks)), i, LeaveCluster()))
    churn.sort(key=lambda c: (c[0], c[1]))

    def stop(s: Simulator[Any]) -> bool:
        return monitor.problem is not None

    def step_to(t: int) -> str | None:
        return free_runs.run(sim, schedule, t, STORM, stop)

    storm: str | None = None
    for at, node, event in churn:
        storm = storm or step_to(at)
        if monitor.problem or storm:
            break
        if sim.up[node]:
            sim.inject(node, event)
    end = ticks + free_runs.CHAOS_EVERY + 1
    if not (monitor.problem or storm):
        storm = step_to(end)
    if not (monitor.problem or storm):
        alive = [i for i in live_members(sim)]
        for i in rng.sample(alive, min(schedule.knob("kill", 0), max(0, len(alive) - 2))):
            sim.crash(i)
    converged_at = None
    computed = convergence_bound(sim)
    tail = schedule.knob("tail", max(TAIL_ROUNDS, computed))
    for r in range(1, tail + 1):
        if monitor.problem or storm:
            break
        storm = step_to(end + r * INTERVAL)
        if converged_at is None and converged(sim):
            converged_at = r
    problem = monitor.problem or storm
    bound = min(tail, computed)
    if problem is None and (converged_at is None or converged_at > bound):
        problem = (
            f"converged only {converged_at} rounds after the faults ended (bound {bound})"
            if converged_at is not None
            else _divergence(sim, tail)
        )
    if problem is None:
        problem = suspected_crashed(sim, monitor)
    if problem is None:
        problem = reads_written(sim)
    if problem is None:  # a read and a write at every live member, then every refusal judged
        problem = refusals.calm_requests(sim, KEYS) or refusals.wrong_refusal(sim, requests)
    return Outcome(sim, problem, converged_at)


def _divergence(sim: Simulator[GossipNode], tail: int) -> str:
    live = live_members(sim)
    first = sim.nodes[live[0]].entries
    odd = [i for i in live if sim.nodes[i].entries != first]
    return (
        f"not converged {tail} rounds after the faults ended: {len(odd)} of {len(live)} live "
        f"members differ from {live[0]} (e.g. {odd[0]}: "
        f"{_difference(first, sim.nodes[odd[0]].entries)})"
    )


def _difference(a: Mapping[str, Entry], b: Mapping[str, Entry]) -> str:
    keys = sorted(k for k in {*a, *b} if a.get(k) != b.get(k))
    shown = ", ".join(f"{k}: {a.get(k)} vs {b.get(k)}" for k in keys[:2])
    return shown + (f" and {len(keys) - 2} more" if len(keys) > 2 else "")


def suspected_crashed(sim: Simulator[GossipNode], monitor: Monitor) -> str | None:
    """Every node down now is suspected by each live member whose oracle says phi has been past
    the threshold for a round."""
    for i in live_members(sim):
        node = sim.nodes[i]
        now = sim.local_time(i) - INTERVAL
        watched = node.ring()[0]
        for j, (arrivals, *_) in monitor.ref[i].items():
            if sim.up[j] or j not in watched or arrivals.last > now:
                continue
            if arrivals.phi(now, monitor.phi) >= monitor.phi.threshold and not (
                node.detector.suspected(j)
            ):
                return f"{i} does not suspect {j}, down since before t={arrivals.last:.0f}"
    return None


def check_run(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
    """One free run; CheckFailed with its recorded trace when something broke."""

    def run(record: bool) -> tuple[Simulator[Any], str | None]:
        outcome = once(schedule, n, bugs, record)
        return outcome.sim, outcome.problem

    free_runs.unrecorded_first(schedule, run)


def schedules(max_ticks: int) -> st.SearchStrategy[Schedule]:
    return free_runs.fault_schedules(
        1000,
        max_ticks,
        every=(50, 200),
        window=st.sampled_from((10, 100)),
        joins=st.integers(0, 2),
        leaves=st.integers(0, 2),
        kill=st.integers(0, 2),
    )


def free_run_check(bugs: frozenset[str], settings: Settings, *, n: int, max_ticks: int) -> None:
    """The check `meshcheck mutants gossip` runs: Hypothesis draws schedules for `n` nodes."""

    @free_runs.share(settings, SHARE.get(n, 1 / 10))
    @given(schedules(max_ticks))
    def free_run_holds(schedule: Schedule) -> None:
        check_run(schedule, n, bugs)

    free_run_holds()
