"""A member that crashes, is suspected by every watcher, restarts and must be trusted again.

A scripted run on the simulator (not left to random search: free runs rarely crash a member that
lived long and bring it back while its watchers still watch it), on a calm network:

1. the cluster runs `up` rounds (the victim's beat counter climbs to about `up`);
2. the victim (drawn from the seed) writes its key (`old`); another member writes a key of its own;
3. the victim crashes; the run goes on until every live member that watches it suspects it (at
   most `SUSPECT_ROUNDS` rounds: the free runs check the detector's arithmetic, this only waits);
4. meanwhile another member writes again (what the victim missed while down); the victim restarts
   and writes its key again (`new`);
5. within `TRUST_ROUNDS` rounds of the restart every live watcher trusts it again (it is heard:
   its heartbeats must be new to the watchers, whatever it counted before the crash), and within
   `CONVERGENCE_ROUNDS` every live member holds the victim's new write, not the old incarnation's
   (no watcher keeps the stale value over the new), and the victim holds what it missed.

`cycles` repeats 1 to 5 on the same victim. The free runs' step-by-step monitor (no invented
values, versions never back, the detector is phi of the last window, a restarted node keeps its own
writes) watches throughout, and the run ends with their read check.

What a restart must renew here is the heartbeat's identity: the boot count (Gossip messages carry
`(boot, beat)`, impl/gossip/messages.py; a restarted node counts beats from 0 again, so only a
higher boot makes its heartbeats newer than what its watchers last counted). The catalogue mutant
`boot_not_raised` keeps the boot count as it was: the restarted member's heartbeats are not new to
its watchers until its beat passes the old one, `up` rounds later, and it stays suspected; the free
runs do not see it (their oracle counts heartbeats by the same `(boot, beat)` rule, and nothing in
them asks that a restarted member be trusted again within a bound).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.gossip import mutants
from meshcheck.impl.gossip.node import IN
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.phi import PhiConfig
from meshcheck.impl.gossip.simulation import gossip_cluster
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests import record
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip.free_runs import CONVERGENCE_ROUNDS
from meshcheck.property_tests.gossip.free_runs import INTERVAL
from meshcheck.property_tests.gossip.free_runs import KEYS
from meshcheck.property_tests.gossip.free_runs import STORM
from meshcheck.property_tests.gossip.free_runs import Monitor
from meshcheck.property_tests.gossip.free_runs import live_members
from meshcheck.property_tests.gossip.free_runs import reads_written

# rounds after its crash by which every live watcher suspects the victim (phi's threshold at the
# default window is passed about two rounds after the last heartbeat; a margin)
SUSPECT_ROUNDS = 10
# rounds after its restart by which every live watcher trusts the victim again: its first round
# starts within one interval of the restart and sends every watcher a heartbeat (and its restart
# pulls reach some of them at once); one round more for latency and a watcher's own round
TRUST_ROUNDS = 2


class Scripted(scenarios.Script[GossipNode]):
    """A scripted run of n members (this scenario's and the rejoin's, rejoin.py): the cluster of
    its schedule, its monitor, and a random source of its own (`salt`: the scenario's name)."""

    STORM = STORM

    def __init__(self, schedule: Schedule, n: int, bugs: frozenset[str], record: bool) -> None:
        self.phi = PhiConfig(window=schedule.knob("window", 100))
        super().__init__(
            schedule,
            gossip_cluster(
                n,
                seed=schedule.seed,
                keys=KEYS,
                interval=INTERVAL,
                phi=self.phi,
                bugs=bugs,
                record=record,
            ),
        )
        self.monitor = Monitor(self.sim, self.phi)

    def broken(self) -> str | None:
        return self.monitor.problem

    def advance(self, t: int, stop: Callable[[Simulator[Any]], bool]) -> str | None:
        storm = free_runs.run(self.sim, self.schedule, t, STORM, stop)
        return self.monitor.problem or storm

    def rounds(self, count: float, until: Callable[[], bool] | None = None) -> bool:
        """Run `count` more rounds (or until `until()`); False when something broke."""
        return self.run_until(self.sim.now + int(count * INTERVAL), until)


class Script(Scripted):
    """The cluster, its monitor, and the requests the script sends."""

    salt = "restart"

    def __init__(self, schedule: Schedule, n: int, bugs: frozenset[str], record: bool) -> None:
        super().__init__(schedule, n, bugs, record)
        self.requests = 0

    def write(self, node: str, key: str, value: str) -> None:
        self.requests += 1
        self.sim.inject(node, ClientRequest((key, value), self.requests))

    def watchers(self, victim: str) -> list[str]:
        """The live members that watch the victim (it is one of their ring predecessors)."""
        return [i for i in live_members(self.sim) if victim in self.sim.nodes[i].ring()[0]]

    def suspecting(self, victim: str) -> list[str]:
        return [i for i in self.watchers(victim) if self.sim.nodes[i].detector.suspected(victim)]


def scenario(schedule: Schedule, n: int, bugs: frozenset[str], record: bool) -> Script:
    """Run the scenario; `Script.problem` is the first thing it found broken (None: it held)."""
    s = Script(schedule, n, bugs, record)
    members = list(s.sim.node_ids)
    victim = s.rng.choice(members)
    other = s.rng.choice([m for m in members if m != victim])
    for k in range(schedule.knob("cycles", 1)):
        if not cycle(s, k, victim, other, schedule.knob("up", 20)):
            return s
    s.problem = reads_written(s.sim)
    return s


def cycle(s: Script, k: int, victim: str, other: str, up: int) -> bool:
    """Steps 1 to 5 once; False when something broke (`Script.problem` says what)."""
    sim = s.sim
    key, missed = KEYS[0], KEYS[1]
    s.rounds(up)
    if s.failed():
        return False
    s.write(victim, key, f"{victim}-{k}-old")
    s.write(other, missed, f"{other}-{k}-before")
    s.rounds(CONVERGENCE_ROUNDS, lambda: _agree(s, key))
    sim.crash(victim)
    watchers = s.watchers(victim)
    s.rounds(SUSPECT_ROUNDS, lambda: len(s.suspecting(victim)) == len(watchers))
    if s.failed():
        return False
    if len(s.suspecting(victim)) != len(s.watchers(victim)):
        s.problem = (
            f"t={sim.now}: not every watcher of {victim} suspects it {SUSPECT_ROUNDS} rounds "
            f"after its crash (watchers {s.watchers(victim)}, suspecting {s.suspecting(victim)})"
        )
        return False
    s.write(other, missed, f"{other}-{k}-while-down")
    sim.recover(victim)
    restarted = sim.now
    new = f"{victim}-{k}-new"
    s.write(victim, key, new)
    s.rounds(TRUST_ROUNDS, lambda: not s.suspecting(victim))
    if s.failed():
        return False
    if s.suspecting(victim):
        s.problem = (
            f"t={sim.now}: {', '.join(s.suspecting(victim))} still suspect {victim} "
            f"{sim.now - restarted} ticks ({TRUST_ROUNDS} rounds) after it restarted "
            f"(boot {sim.nodes[victim].boot}, beat {sim.nodes[victim].beat})"
        )
        return False
    s.rounds(CONVERGENCE_ROUNDS, lambda: _agree(s, key) and _agree(s, missed))
    if s.failed():
        return False
    for i in live_members(sim):
        held = sim.nodes[i].entries.get(key)
        if held is None or held.value != new:
            s.problem = (
                f"t={sim.now}: {i} holds {key} = {held}, not {victim}'s write {new!r} after its "
                f"restart, {CONVERGENCE_ROUNDS} rounds on"
            )
            return False
    if not _agree(s, missed):
        s.problem = (
            f"t={sim.now}: the live members disagree on {missed} {CONVERGENCE_ROUNDS} rounds "
            f"after {victim} restarted (it missed the write while down)"
        )
        return False
    return True


def _agree(s: Script, key: str) -> bool:
    live = [s.sim.nodes[i] for i in live_members(s.sim)]
    return all(node.status == IN for node in live) and len({n.entries.get(key) for n in live}) == 1


# The scenario: its check of one run (CheckFailed with its recorded trace when something broke),
# and the check `meshcheck mutants gossip` runs, Hypothesis drawing the seed and knobs.
SCRIPTED = scenarios.Scripted(
    "restarted_member_is_trusted_again",
    scenario,
    {
        "up": st.sampled_from((20, 5, 50)),
        "cycles": st.sampled_from((1, 3)),
        "window": st.sampled_from((100, 10)),
    },
    1 / 6,
)
check_restart = SCRIPTED.check
schedules = SCRIPTED.schedules
restart_scenario_check = SCRIPTED.drawn


# the mutants this scenario is for: the free runs do not kill them (their stored runs,
# traces/gossip/, are runs of this scenario)
MUTANTS = (mutants.BOOT_NOT_RAISED, mutants.WINDOW_KEPT_ACROSS_RESTART)


def candidates() -> list[Schedule]:
    """Small schedules for a stored run: few rounds up, short windows, one cycle first."""
    return [
        Schedule(seed=seed, ticks=0, up=up, cycles=cycles, window=window)
        for cycles in (1, 3)
        for up in (5, 20)
        for window in (10, 100)
        for seed in range(3)
    ]


def shortest(mutant: str, n: int = 5) -> tuple[Trace, record.Rerun]:
    """The failing run of this scenario with the fewest recorded steps among `candidates`."""
    return shortest_of("restart", candidates(), check_restart, scenario, mutant, n)


def shortest_of(
    name: str,
    schedules: list[Schedule],
    check: scenarios.RunCheck,
    holds: Callable[..., Any],
    mutant: str,
    n: int,
) -> tuple[Trace, record.Rerun]:
    """The failing run of a scripted scenario (`check`) with the fewest recorded steps among
    `schedules` whose unmutated run holds (`holds(schedule, n, bugs, record=True).problem` is
    None): the restart scenario's and the rejoin scenario's stored runs."""

    def unmutated(schedule: Schedule) -> bool:
        return holds(schedule, n, frozenset(), record=True).problem is None

    return scenarios.shortest("gossip", name, check, schedules, mutant, n, unmutated)
