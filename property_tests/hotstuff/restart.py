"""A leader that crashes with requests in flight and leads again; a client that restarts.

A scripted run on the simulator (four replicas, all honest, one client core `c1`, a calm
network), `cycles` times over:

1. variant `leader` or `both`: L, the leader of the highest view, crashes a few ticks after the client sent `writes`
   requests (to every replica, as the client does), and stays down 100 to 600 ticks: the
   others move through views (L's time out) but commit nothing. Chained HotStuff commits a
   block when four consecutive views have honest leaders that are up (the block's, and three
   more for its three-chain: Yin et al., PODC 2019, section 5), and with one of four replicas
   down every fourth leader is (measured: no commit in 4000 ticks);
2. L restarts and catches up, the requests in flight at its crash commit, the client sends
   `writes` more; the run goes on until L has proposed in a view after its restart (leaders
   rotate, `view mod n`: it leads again) and the client was answered;
3. variant `client` (steps 1 and 2 skipped) or `both`: the client sends `writes` requests and crashes a few ticks later; it stays
   down while the replicas execute them (their replies are lost), restarts, and sends `writes`
   new requests. Each must go out under a timestamp of its own: the replicas tell requests
   apart by (client, timestamp), and a reply names the timestamp, not the request, so a request
   on the wire under the timestamp of an earlier one is a failure at once.

Then, on a calm network, every request the client sent must be answered ok in its history
within `LIMIT` ticks, but those it held when it crashed: impl/hotstuff/client.py persists its
clock only, not what is outstanding, so it does not retry them after a restart (their outcome
stays unknown to it: `info`); and what every free run ends with must hold
(property_tests/hotstuff/free_runs.py): the spec's invariants on every honest replica's step
(`Monitor`), the honest-rejection oracle, and the client-history checks.

The catalogue mutant `client_timestamp_reset` counts the restarted client's timestamps from 0
again. Before the fix this scenario led to (impl/hotstuff/replica.py `_on_request`), a replica
answered a request under the (client, timestamp) of an executed one with that one's result, and
f+1 such answers made the client accept an operation that never ran; now it drops it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.hotstuff import mutants
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.simulation import HotStuffPlugin
from meshcheck.impl.hotstuff.simulation import hotstuff_cluster
from meshcheck.property_tests import record
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff.free_runs import MAX_BACKOFF
from meshcheck.property_tests.hotstuff.free_runs import STORM
from meshcheck.property_tests.hotstuff.free_runs import TIMEOUT
from meshcheck.property_tests.hotstuff.free_runs import Monitor
from meshcheck.property_tests.hotstuff.free_runs import client_history
from meshcheck.property_tests.hotstuff.free_runs import watch
from meshcheck.property_tests.pbft.free_runs import rsm_op
from meshcheck.violated import LEADER_RETURNS
from meshcheck.violated import REQUESTS_ANSWERED

N = 4
CLIENT = "c1"
# A calm group commits a request within a few views (100 ticks each at most before a timeout,
# more while a crashed leader's views time out with back-off, up to MAX_BACKOFF doublings) and
# the client retries every 300 ticks: well within this bound.
LIMIT = 4000
VARIANTS = ("leader", "client", "both")
# the restarted client's new requests: a calm group with every replica up answers within a few
# views (measured: at most 81 ticks over 60 runs of three cycles), the client retrying every 300 ticks
NEW_LIMIT = 1000


class Script(scenarios.Script[Any]):
    salt = "hotstuff-restart"
    STORM = STORM
    LIMIT = LIMIT

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
        self.sent: list[Any] = []
        self.forgotten: set[Any] = set()  # in flight at the client's crash: never retried
        self.timestamps: dict[int, Any] = {}  # each timestamp on the wire -> its operation

    def broken(self) -> str | None:
        if self.monitor.problem is not None:
            return self.monitor.problem
        if self.oracle.violation is not None:
            return f"t={self.sim.now}: honest rejection: {self.oracle.violation}"
        return None

    def send(self, count: int) -> None:
        """`count` new requests from the client; each must go out under a timestamp of its own
        (what a watcher of the wire sees: a request the replicas cannot tell from an older one
        is a failure at once, before the replicas drop it)."""
        for _ in range(count):
            op = rsm_op(len(self.sent) + 1)
            self.sent.append(op)
            self.sim.inject(CLIENT, ClientRequest(op))
            for e in self.sim.in_flight():
                m = e.message
                if e.source == CLIENT and isinstance(m, SignedRequest):
                    seen = self.timestamps.setdefault(m.request.timestamp, m.request.op)
                    if seen != m.request.op and self.problem is None:
                        self.problem = (
                            f"t={self.sim.now}: the client sent {m.request.op!r} under timestamp "
                            f"{m.request.timestamp}, which named {seen!r} before"
                        )

    def answered(self) -> set[Any]:
        assert self.sim.history is not None
        return {repr(o.value) for o in self.sim.history.history() if o.status == "ok"}

    def missing(self) -> list[Any]:
        done = self.answered()
        return [op for op in self.sent if repr(op) not in done and repr(op) not in self.forgotten]

    def late(self, what: str, limit: int) -> str:
        missing = self.missing()
        return super().late(what, limit) + (
            f" ({len(missing)} requests unanswered, the first {missing[0]!r})" if missing else ""
        )

    def leader(self) -> str:
        up = [r for r in self.plugin.replicas if self.sim.up[r]]
        view = max(self.plugin.replica(r).view for r in up)
        return self.plugin.replicas[view % len(self.plugin.replicas)]


def scenario(schedule: Schedule, bugs: frozenset[str], record: bool) -> Script:
    """Run the scenario; `Script.problem` is the first thing found broken (None: it held)."""
    s = Script(schedule, bugs, record)
    writes = schedule.knob("writes", 2)
    s.send(writes)
    s.wait(lambda: not s.missing(), "the first requests not answered", bound=REQUESTS_ANSWERED)
    for _ in range(schedule.knob("cycles", 1)):
        if s.failed() or not cycle(s, schedule.knob("variant", "leader"), writes):
            break
    if not s.failed():
        s.wait(
            lambda: not s.missing(),
            "not every request answered at the end",
            bound=REQUESTS_ANSWERED,
        )
    if not s.failed():
        s.problem = client_history(s.sim)
    return s


def cycle(s: Script, variant: str, writes: int) -> bool:
    if variant in ("leader", "both") and not leader_cycle(s, writes):
        return False
    if variant in ("client", "both"):
        return client_cycle(s, writes)
    return True


def leader_cycle(s: Script, writes: int) -> bool:
    """Steps 1 and 2."""
    sim = s.sim
    old = s.leader()
    s.send(writes)
    s.pause(1, 20)
    if s.failed():
        return False
    sim.crash(old)
    # with one of four down no view commits (below): the others rotate through views meanwhile
    s.pause(100, 600)
    sim.recover(old)
    mark = max(s.plugin.replica(r).view for r in s.plugin.replicas)
    if not s.wait(
        lambda: not s.missing(),
        f"requests in flight at {old}'s crash not answered",
        bound=REQUESTS_ANSWERED,
    ):
        return False
    s.send(writes)

    def leads_again() -> bool:
        replica = s.plugin.replica(old)
        return not s.missing() and any(v > mark for v in replica.proposed)

    return s.wait(leads_again, f"{old} did not lead again after its restart", bound=LEADER_RETURNS)


def client_cycle(s: Script, writes: int) -> bool:
    """Step 3."""
    sim = s.sim
    before = len(s.sent)
    s.send(writes)
    s.pause(1, 20)
    if s.failed():
        return False
    done = s.answered()
    s.forgotten |= {repr(op) for op in s.sent[before:] if repr(op) not in done}
    sim.crash(CLIENT)
    s.pause(50, 400)
    sim.recover(CLIENT)
    s.send(writes)
    return s.wait(
        lambda: not s.missing(),
        "the restarted client's new requests not answered",
        NEW_LIMIT,
        bound=REQUESTS_ANSWERED,
    )


# The scenario: its check of one run (`n` is the group's size, always N: the rerun's signature;
# CheckFailed with its recorded trace when something broke), and the check `meshcheck mutants
# hotstuff` runs, Hypothesis drawing the seed, variant, cycles and writes.
SCRIPTED = scenarios.Scripted(
    "restarted_nodes_are_answered_truly",
    scenarios.fixed(scenario),
    {
        "variant": st.sampled_from(VARIANTS),
        "cycles": st.sampled_from((1, 3)),
        "writes": st.integers(1, 3),
    },
    1 / 10,
    N,
)
check_restart = SCRIPTED.check
schedules = SCRIPTED.schedules
restart_scenario_check = SCRIPTED.drawn


# the mutants this scenario is for: the free runs do not kill them (their stored runs,
# traces/hotstuff/, are runs of this scenario)
MUTANTS = (mutants.CLIENT_TIMESTAMP_RESET,)


def shortest(mutant: str) -> tuple[Trace, record.Rerun]:
    """The failing run of this scenario with the fewest recorded steps among a few small ones."""
    small = (
        Schedule(seed=seed, ticks=0, variant="client", cycles=1, writes=1) for seed in range(3)
    )
    return scenarios.shortest("hotstuff", "restart", check_restart, small, mutant, N)
