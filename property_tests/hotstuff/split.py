"""HotStuff's pacemaker across a partition with no quorum on either side: four replicas split two
and two, then healed.

What the protocol promises (Yin et al., PODC 2019, Algorithm 3 and section 4's pacemaker; impl/
hotstuff/replica.py). A view change is the new leader's NewView on 2f+1 NEW-VIEWs, a QC is 2f+1
votes, and with view synchronisation a replica that timed out into a view starts that view's timer
only once 2f+1 replicas, itself among them, are heard there (`Replica._joined`); until then it
sends its NEW-VIEW again every `timeout` ticks. Split 2|2 (2f+1 = 3 of n = 4), no side holds a
quorum, so:

- NewView counts distinct replicas (the free runs' Monitor, property_tests/hotstuff/free_runs.py,
  after every step): a leader takes NewView(i, v) only on NEW-VIEWs for v from 2f+1 distinct
  replicas that reached it, its own once; every QC it forms or takes holds 2f+1 distinct valid
  votes (Certified);
- ViewsWaitForQuorum (here, after every step of the split): no replica's view passes one above
  the highest view a quorum backed (the views the replicas were in at the split, and any in which
  a QC was formed, a block proposed or a NewView taken since). Each replica times out once, into
  a view no quorum joins, and waits there: a pacemaker that counts itself twice towards 2f+1
  starts its timer with one peer and times out view after view, the back-off doubling to its cap;
- CommitAfterSplit: once healed, every replica executes a block committed after the heal, and the
  request the client sent during the split is answered, within BOUND ticks: one NEW-VIEW resend
  round (`timeout`), then HOPS one-way delays (LATENCY) for the NEW-VIEWs, four views' proposals
  and votes (the three-chain and the proposal that carries its last QC), a block fetch and the
  reply. Measured over 200 seeds of the correct core: at most MEASURED ticks.

The scenario: the client's first request committed everywhere; a pairing drawn by the seed cuts
the replicas two and two (the client reaches all of them); a request; `hold` ticks of split; heal.
The set-up is checked: a split in which every replica did not time out (none waited for a quorum)
says so and fails.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.impl.hotstuff.simulation import HotStuffPlugin
from meshcheck.impl.hotstuff.simulation import hotstuff_cluster
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff.free_runs import MAX_BACKOFF
from meshcheck.property_tests.hotstuff.free_runs import STORM
from meshcheck.property_tests.hotstuff.free_runs import TIMEOUT
from meshcheck.property_tests.hotstuff.free_runs import Monitor
from meshcheck.property_tests.hotstuff.free_runs import client_history
from meshcheck.property_tests.hotstuff.free_runs import watch
from meshcheck.property_tests.pbft.free_runs import rsm_op
from meshcheck.property_tests.recovery import Late
from meshcheck.violated import REQUESTS_ANSWERED

VIEWS = "ViewsWaitForQuorum"
COMMIT = "CommitAfterSplit"
N = 4
CLIENT = "c1"
REPLICAS = tuple(f"r{k}" for k in range(1, N + 1))
# the three ways to cut four replicas two and two (r1 with each of the others)
PAIRINGS = tuple(((("r1", r), tuple(o for o in REPLICAS[1:] if o != r))) for r in REPLICAS[1:])
LATENCY = 10  # the simulator's largest one-way delay (hotstuff_cluster's default, 1..10)
HOPS = 12


def bound(k: int) -> int:
    """CommitAfterSplit's bound when the replicas timed out at most `k` times in the split: a
    NEW-VIEW resend round, the view timer at the back-off the split left (a replica that joined
    its view at the heal may hold the only NEW-VIEWs its leader lacks, and resends them no more:
    that view then ends on its timer), and HOPS delays."""
    return TIMEOUT + (TIMEOUT << min(k, MAX_BACKOFF)) + HOPS * LATENCY


def promise(k: int) -> str:
    return (
        f"a commit within a NEW-VIEW resend round, a view timer after {k} timeouts and {HOPS} "
        "message delays of the heal"
    )


QUORUM_ACTIONS = frozenset({"FormQC", "Propose", "NewView"})


class Split:
    """ViewsWaitForQuorum, after every honest replica's step while `on`: the first problem."""

    def __init__(self, plugin: HotStuffPlugin) -> None:
        self.plugin = plugin
        self.on = False
        self.backed = 0  # the highest view a quorum backed
        self.timeouts: dict[str, int] = {}  # each replica's Timeouts during the split
        self.problem: str | None = None
        plugin.observers.append(self.observe)

    def views(self) -> dict[str, int]:
        return {r: self.plugin.replica(r).view for r in self.plugin.replicas}

    def start(self) -> None:
        self.on = True
        self.backed = max(self.views().values())

    def observe(self, r: Replica, event: Any, effects: list[Effect]) -> None:
        if not self.on or self.problem is not None:
            return
        names = {e.name for e in effects if isinstance(e, Action)}
        if "Timeout" in names:
            self.timeouts[r.id] = self.timeouts.get(r.id, 0) + 1
        if names & QUORUM_ACTIONS:
            self.backed = max(self.backed, *self.views().values())
        if r.view > self.backed + 1:
            self.problem = (
                f"{VIEWS}: t={r.now}: {r.id} entered view {r.view} while split two and two, "
                f"where no view past {self.backed} had a quorum ({self.timeouts.get(r.id, 0)} "
                "timeouts of its own since the split): it started a view's timer without 2f+1 "
                "replicas in that view"
            )


class Script(scenarios.Script[Any]):
    salt = "hotstuff-split"
    STORM = STORM

    def __init__(self, schedule: Schedule, bugs: frozenset[str], record: bool) -> None:
        super().__init__(
            schedule,
            hotstuff_cluster(
                N,
                seed=schedule.seed,
                bugs=bugs,
                record=record,
                client_timeout=300,
                batch_size=4,
                timeout=TIMEOUT,
                max_backoff=MAX_BACKOFF,
            ),
        )
        self.plugin: HotStuffPlugin = self.sim.plugin  # type: ignore[assignment]
        self.monitor = Monitor(self.sim)
        self.oracle = watch(self.sim)
        self.split = Split(self.plugin)
        self.pairing = self.rng.choice(PAIRINGS)
        self.sent: list[Any] = []
        self.took: int | None = None  # ticks from the heal to the commit

    def broken(self) -> str | None:
        if self.monitor.problem is not None:
            return self.monitor.problem
        if self.oracle.violation is not None:
            return f"t={self.sim.now}: honest rejection: {self.oracle.violation}"
        return self.split.problem

    def send(self) -> None:
        op = rsm_op(len(self.sent) + 1)
        self.sent.append(op)
        self.sim.inject(CLIENT, ClientRequest(op))

    def answered(self) -> bool:
        assert self.sim.history is not None
        done = {repr(o.value) for o in self.sim.history.history() if o.status == "ok"}
        return all(repr(op) in done for op in self.sent)

    def replica(self, i: str) -> Replica:
        return self.plugin.replica(i)


def scenario(schedule: Schedule, bugs: frozenset[str], record: bool) -> Script:
    """Run the scenario; `Script.problem` is the first thing found broken (None: it held)."""
    s = Script(schedule, bugs, record)
    s.send()
    if not s.wait(s.answered, "the first request answered", bound=REQUESTS_ANSWERED):
        return s
    s.sim.partition(s.pairing)
    s.split.start()
    s.send()
    s.pause(schedule.knob("hold", 2000), schedule.knob("hold", 2000))
    if s.failed():
        return s
    idle = [r for r in REPLICAS if not s.split.timeouts.get(r)]
    if idle:
        s.problem = (
            f"set-up not reached: {', '.join(idle)} never timed out in the split (no replica "
            "waited for a quorum)"
        )
        return s
    executed = {r: s.replica(r).executed for r in REPLICAS}
    views = s.split.views()
    k = max(s.split.timeouts.values())
    limit = bound(k)
    s.split.on = False
    s.sim.heal()
    healed = s.sim.now

    def recovered() -> bool:
        return s.answered() and all(s.replica(r).executed != executed[r] for r in REPLICAS)

    s.run_until(healed + limit, recovered)
    if recovered():
        s.took = s.sim.now - healed
    elif not s.failed():
        s.run_until(healed + 10 * limit, recovered)
        s.problem = (
            s.problem
            or Late(
                COMMIT,
                "HotStuff's first commit on every replica",
                s.sim.now - healed if recovered() else None,
                promise(k),
                limit,
                looked=10 * limit,
                detail=f"split {'|'.join(','.join(side) for side in s.pairing)}, views {views}",
            ).message()
        )
    if not s.failed():
        s.problem = client_history(s.sim)
    return s


# The scenario's check of one run (CheckFailed with its recorded trace when something broke), and
# its Hypothesis check, drawing the seed (and with it the pairing) and how long the split holds.
SCRIPTED = scenarios.Scripted(
    "pacemaker_waits_out_a_split",
    scenarios.fixed(scenario),
    {"hold": st.integers(500, 3000)},
    1 / 15,
    N,
)
check_split = SCRIPTED.check
split_check = SCRIPTED.drawn
