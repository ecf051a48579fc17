"""A member cut off for longer than the eviction threshold, then healed without a restart: trusted
and chosen again within a bound (MemberTrustedAgain, MemberChosenAgain).

A scripted run on the simulator, calm but for one partition (the free runs' partitions last 300 to
3000 ticks, rarely past a watcher's suspicion plus `evict_after`, and the free runs ask nothing of
a member once it is reachable again but that the entries converge):

1. the cluster runs `up` rounds;
2. the network splits in two (`side` members, drawn from the seed, against the rest) for `apart`
   rounds, always longer than `evict_rounds` (suspicion, at most `SUSPECT_ROUNDS` rounds after the
   last heartbeat, then `evict_after`): every watcher whose watched peer is on the other side
   suspects it and evicts it from its fanout choice (checked: `NotEvicted` says the scenario did
   not reach what it is for);
3. the network heals; nobody restarts. Within `rejoin_bound` rounds, for every pair of live members
   w, j with j in w's view:
   - MemberTrustedAgain: when w watches j, w does not suspect j and phi(j) at w is below the
     threshold;
   - MemberChosenAgain: j is among the peers w's rounds choose from (`GossipNode.eligible`).

The bound, from the protocol's parameters (impl/gossip/node.py, "Membership"). A watcher w that
still suspects j after the heal pulls one of its `s` evicted peers in a round with probability
min(1, s / (n - s)), drawn uniformly among them, so it pulls j with probability
q = min over 1 <= s <= watchers of min(1 / (n - s), 1 / s); j answers with a push or a bare beat
that carries its (boot, beat), new to w (j's beat rose every round while apart: messages.py), and w
trusts j and puts it back in its choice at once. Every other path (j's own probes, j choosing w,
j's beats to its watchers) only makes it sooner. With at most n * watchers watched pairs, all are
trusted within R rounds but with probability MISS once (1 - q)^R <= MISS / (n * watchers); two
rounds more for the first round after the heal (within an interval) and the answer's latency.
Five nodes and 3 watchers: q = 1/4, 60 rounds; measured over 540 runs (seeds 0 to 14, every
knob of `schedules`), every pair was back within 13 rounds, in half of the runs within 3. A peer
w does not watch is never suspected or evicted by w.

The free runs' step-by-step monitor (no invented values, versions never back, the detector is phi
of the last window, a heartbeat clears a suspicion at once) watches throughout.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from meshcheck.impl.base.trace import Trace
from meshcheck.impl.gossip import mutants
from meshcheck.impl.gossip.config import GossipConfig
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.phi import PhiConfig
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import record
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip.free_runs import INTERVAL
from meshcheck.property_tests.gossip.free_runs import live_members
from meshcheck.property_tests.gossip.restart import SUSPECT_ROUNDS
from meshcheck.property_tests.gossip.restart import Scripted
from meshcheck.property_tests.gossip.restart import shortest_of

# the chance, per run, that a correct cluster misses the bound (as the convergence bound's MISS)
MISS = 1e-6


def evict_rounds(config: GossipConfig) -> int:
    """Rounds after the last heartbeat by which every watcher of a cut-off peer has evicted it: its
    suspicion (`SUSPECT_ROUNDS`, restart.py), then `evict_after`, checked at its next round."""
    return SUSPECT_ROUNDS + math.ceil(config.evict_after / config.interval) + 1


def rejoin_bound(n: int, config: GossipConfig) -> int:
    """Rounds after the heal within which every watched pair is trusted and chosen again but with
    probability MISS (the module doc derives it)."""
    top = min(config.watchers, n - 1)
    q = min(min(1.0, s / max(1, n - s)) / s for s in range(1, top + 1))
    pairs = n * top
    return math.ceil(math.log(MISS / pairs) / math.log(1.0 - q)) + 2


def _excluded(sim: Simulator[GossipNode], phi: PhiConfig) -> list[str]:
    """Every pair not back yet, as "Property: what" (empty once every member is back)."""
    found: list[str] = []
    live = live_members(sim)
    for w in live:
        node = sim.nodes[w]
        watched = node.ring()[0]
        eligible = set(node.eligible())
        now = sim.local_time(w)
        for j in sorted(node.members() & set(live) - {w}):
            if j in watched and node.detector.suspected(j):
                found.append(f"MemberTrustedAgain: {w} still suspects {j}")
            elif j in node.detector.watches and node.detector.phi(j, now) >= phi.threshold:
                found.append(
                    f"MemberTrustedAgain: phi of {j} at {w} is "
                    f"{node.detector.phi(j, now):.1f} >= {phi.threshold}"
                )
            if j not in eligible:
                found.append(f"MemberChosenAgain: {w} never chooses {j} (left out of its fanout)")
    return found


def _evicted_across(sim: Simulator[GossipNode], sides: tuple[set[str], set[str]]) -> list[str]:
    """The watched pairs across the cut whose watcher has not evicted the peer."""
    left, right = sides
    missing = []
    for w in live_members(sim):
        node = sim.nodes[w]
        other = right if w in left else left
        eligible = set(node.eligible())
        for j in sorted(node.ring()[0] & other):
            if j in eligible:
                missing.append(f"{w} -> {j}")
    return missing


class Rejoin(Scripted):
    """One scripted run: the cluster, its monitor, and what the script measured."""

    salt = "rejoin"

    def __init__(self, schedule: Schedule, n: int, bugs: frozenset[str], record: bool) -> None:
        super().__init__(schedule, n, bugs, record)
        self.config = self.sim.nodes[self.sim.node_ids[0]].config
        self.back_after: int | None = None  # ticks from the heal until every pair was back


def scenario(schedule: Schedule, n: int, bugs: frozenset[str], record: bool) -> Rejoin:
    """Run the scenario; `Rejoin.problem` is the first thing it found broken (None: it held)."""
    r = Rejoin(schedule, n, bugs, record)
    sim, config = r.sim, r.config
    members = list(sim.node_ids)
    side = set(r.rng.sample(members, max(1, min(schedule.knob("side", 1), n // 2))))
    sides = (side, set(members) - side)
    apart = max(schedule.knob("apart", 0), evict_rounds(config) + 1)
    if not r.rounds(schedule.knob("up", 10)):
        return r
    sim.network.partition(sides)
    cut = sim.now
    if not r.rounds(apart):
        return r
    missing = _evicted_across(sim, sides)
    if missing:
        r.problem = (
            f"NotEvicted: t={sim.now}: {apart} rounds after the split {sorted(side)} | "
            f"{sorted(sides[1])} (from t={cut}), watchers had not evicted their peers across it: "
            f"{', '.join(missing)} (evict_after {config.evict_after} ticks, phi threshold "
            f"{r.phi.threshold})"
        )
        return r
    sim.network.heal()
    healed = sim.now
    bound = rejoin_bound(n, config)
    if not r.rounds(bound, lambda: not _excluded(sim, r.phi)):
        return r
    left = _excluded(sim, r.phi)
    if left:
        r.problem = (
            f"{left[0]}, {(sim.now - healed) / INTERVAL:.0f} rounds after a partition of {apart} "
            f"rounds healed at t={healed} (no restart); the bound is {bound} rounds (n={n}, "
            f"watchers {config.watchers}, interval {config.interval}, evict_after "
            f"{config.evict_after}, phi threshold {r.phi.threshold})"
            + (f"; and {len(left) - 1} more" if len(left) > 1 else "")
        )
        return r
    r.back_after = sim.now - healed
    return r


# The scenario: its check of one run (CheckFailed with its recorded trace when something broke),
# and the check `meshcheck mutants gossip` runs, Hypothesis drawing the seed and knobs.
SCRIPTED = scenarios.Scripted(
    "member_is_trusted_and_chosen_again",
    scenario,
    {
        "up": st.sampled_from((10, 3, 30)),
        "apart": st.sampled_from((0, 20, 40)),  # 0: the shortest that evicts (evict_rounds + 1)
        "side": st.sampled_from((1, 2)),
        "window": st.sampled_from((100, 10)),
    },
    1 / 6,
)
check_rejoin = SCRIPTED.check
schedules = SCRIPTED.schedules
rejoin_check = SCRIPTED.drawn


# the mutant this scenario is for: no other check kills it (its stored run, traces/gossip/, is a
# run of this scenario)
MUTANTS = (mutants.EVICTION_NEVER_LIFTED,)


def candidates() -> list[Schedule]:
    """Small schedules for a stored run: few rounds up, the shortest partition, one side of one."""
    return [
        Schedule(seed=seed, ticks=0, up=up, apart=0, side=1, window=window)
        for up in (3, 10)
        for window in (10, 100)
        for seed in range(3)
    ]


def shortest(mutant: str, n: int = 5) -> tuple[Trace, record.Rerun]:
    """The failing run of this scenario with the fewest recorded steps among `candidates`."""
    return shortest_of("rejoin", candidates(), check_rejoin, scenario, mutant, n)
