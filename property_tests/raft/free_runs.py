"""Free runs of a simulated Raft cluster under random faults: safety at every step, liveness after.

Lockstep replay (the spec picks every step) reaches only what the model's small bounds allow; a free
run lets the simulator's seeded fault injector (impl/sim) drop, duplicate and delay messages, crash
and restart nodes and cut the network (both ways or one way) for thousands of ticks, while a client
writes and reads. Hypothesis draws the fault schedule (`schedules`) and shrinks a failing one.

Two checks, each a Hypothesis test run under the `settings` given (the `meshcheck mutants` command
calls them with a mutant switched on; property_tests/raft/test_free_runs.py with none):

- `free_run_safety`: after every step of the run's trace (the refinement mapping, in the spec's
  vocabulary) none of Raft.tla's safety invariants fails (`safety.violated`), no step breaks one
  of its action properties (`safety.broken`: CommitIndexMonotonic, MatchIndexMonotonic), no two nodes
  applied different values at one index (`Simulator.divergences`), and at the end the client
  history passes the checks of property_tests/histories.py (linearizable against the rsm model,
  applied at most once, no answer withdrawn, applied index monotone, same state at same index).
- `liveness_after_heal`: faults for a while, then they stop for good (`Faults.until`: the network
  heals and every node is up); then within `leader_bound` ticks exactly one node leads in the highest
  term, and within `converge_bound` ticks its commit index reaches every entry of its term stored
  on a quorum (Raft.tla's LeaderCommitsStoredEntries), and every entry of its log, and every write
  a client was told succeeded, is applied on every node. The bounds are the stated targets (2 s to a leader, 5 s to
  recovery) at the cluster's configured timing (property_tests/raft/targets.py), not measurements.
  Then a read and a write at every node, and NoWrongRefusal (property_tests/raft/refusals.py):
  the leader serves both, a follower redirects to the leader it follows.

A failure raises `CheckFailed` whose `steps` is the number of trace steps up to the failure.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.trace import Trace
from meshcheck.impl.raft import LEADER
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import to_value
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.failure import named_in
from meshcheck.property_tests.free_runs import CHAOS_EVERY
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import Storm
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.free_runs import fault_schedules
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.raft import refusals
from meshcheck.property_tests.raft.safety import INVARIANTS
from meshcheck.property_tests.raft.safety import broken
from meshcheck.property_tests.raft.safety import violated
from meshcheck.property_tests.raft.targets import Timing
from meshcheck.property_tests.raft.targets import election_bound
from meshcheck.property_tests.raft.targets import recovery_bound
from meshcheck.violated import ACTION_PROPERTY
from meshcheck.violated import HISTORY_ANOMALY
from meshcheck.violated import INVARIANT
from meshcheck.violated import LIVENESS_BOUND
from meshcheck.violated import Violated

# Raft's knobs of a `Schedule` (property_tests/free_runs.py), with their defaults
KNOBS: Mapping[str, Any] = {
    "one_way": 0.5,  # share of partitions that cut one direction only
    "every": 20,  # ticks between client requests
    "reads": 0.0,  # share of client requests that are reads
    "snapshot_interval": 5,
    "max_entries": None,
    "down": (200, 2000),  # ticks a crashed node stays down
    "timeout": (150, 300),  # the nodes' election timeout range
}


def knob(schedule: Schedule, name: str) -> Any:
    return schedule.knob(name, KNOBS[name])


def cluster(
    schedule: Schedule,
    nodes: int,
    bugs: frozenset[str],
    *,
    heal: bool = False,
    make: Callable[[int], Any] | None = None,
    **options: Any,
) -> Simulator[RaftNode]:
    """The simulated cluster of a schedule; with heal=True every fault stops at `ticks`."""
    faults = free_runs.schedule_faults(
        schedule,
        one_way=knob(schedule, "one_way"),
        down_ticks=knob(schedule, "down"),
        chaos_every=CHAOS_EVERY,
        until=schedule.ticks if heal else None,
    )
    workload = Workload(
        every=knob(schedule, "every"),
        reads=knob(schedule, "reads"),
        make=make or unique_write,
        query=read_query,
        until=schedule.ticks,
    )
    return raft_cluster(
        nodes,
        seed=schedule.seed,
        faults=faults,
        workload=workload,
        snapshot_interval=knob(schedule, "snapshot_interval"),
        max_entries=knob(schedule, "max_entries"),
        election_timeout=knob(schedule, "timeout"),
        bugs=bugs,
        **options,
    )


# The client's writes and reads share a few keys, so that the client-history check's
# linearizability has something to decide (writes to keys of their own, read by nobody, are
# linearizable whatever the cluster does); every write's value is its own, so an operation
# applied twice is still one value at two indexes.
KEYS = 3


def unique_write(n: int) -> Any:
    """The n-th client write: value n to one of KEYS keys (the state machine's reply names the
    key it set, so an acknowledged write can be found on every node)."""
    return to_value(Custom(f"k{n % KEYS}", n))


def read_query(n: int) -> Any:
    """The n-th client read: one of the keys, or every fourth the applied count ("")."""
    return "" if n % 4 == 0 else ("custom", f"k{n % KEYS}")


def schedules(
    min_ticks: int,
    max_ticks: int,
    *,
    timeouts: tuple[tuple[int, int], ...] = ((150, 300), (150, 160)),
) -> st.SearchStrategy[Schedule]:
    """Fault schedules whose faults run between min_ticks and max_ticks. Every choice shrinks towards
    the first value listed: no fault, a short run, whole batches, default timing.

    Two choices make the rarer interleavings common: nodes that come back within 100 ticks of a
    crash (a vote forgotten in a crash is asked for again while the election still runs), and
    election timeouts of 150..160 ticks, so that candidates often run in one term (split votes)."""
    return fault_schedules(
        min_ticks,
        max_ticks,
        one_way=(0.0, 0.5, 1.0),
        every=(20, 10, 50, 100),
        reads=st.sampled_from((0.0, 0.2, 0.5)),
        snapshot_interval=st.integers(2, 10),
        max_entries=st.sampled_from((None, 1, 2)),
        down=st.sampled_from(((200, 2000), (1, 100))),
        timeout=st.sampled_from(timeouts),
    )


# A correct cluster's traffic stays small: one batch in flight per peer, heartbeats, and what delay
# faults hold back. Measured over 800 random schedules each: at most 64 messages in flight (3 nodes)
# and 95 (5 nodes); at most 0.24 node events per node and tick under faults, 0.32 in the first 1000
# ticks after healing (catching up one entry per round trip). A mutant can set off a storm
# (truncate_on_stale_append, measured: ten times the messages in flight every 100 ticks, gigabytes
# within a second of simulated time, or tens of thousands of steps without growing), so past these
# bounds (about 2.5 and 3 times the measured) a run stops (property_tests/free_runs.py).
STORM = Storm(in_flight_per_node=50, events_per_node_tick=1)

# property_tests/free_runs.py's `run` under Raft's storm bound
run = STORM.run


# -- safety ---------------------------------------------------------------------------------------

SAFETY_TICKS = (500, 3000)


class Watch:
    """A run's stop condition: a step that breaks an invariant, or a divergence. Looking at the trace
    every CHECK_EVERY queue entries (each look copies it) ends a failing run soon after the failure,
    which makes failing examples, the ones shrinking runs by the hundred, cheap."""

    CHECK_EVERY = 200

    def __init__(self) -> None:
        self.checked = 0  # steps of the trace found safe
        self.unsafe: tuple[int, list[str]] | None = None  # (step, invariants it breaks)
        self._calls = 0

    def __call__(self, sim: Simulator[RaftNode]) -> bool:
        self._calls += 1
        if self._calls % self.CHECK_EVERY == 0:
            self.look(sim.trace())
        return self.unsafe is not None or bool(sim.divergences)

    def look(self, trace: Trace) -> None:
        steps = trace.steps
        for k in range(self.checked, len(steps)):
            step = steps[k]
            names = violated(step.state, steps[k - 1].state if k else None)
            if k:
                names += broken(steps[k - 1].state, step.state, step.action, step.params)
            if names:
                self.unsafe = (k, names)
                return
        self.checked = len(steps)


def check_safety(
    schedule: Schedule, nodes: int, bugs: frozenset[str], *, judge: bool = False
) -> None:
    """One free run: every state of its trace satisfies the safety invariants, and no node applied a
    different value where another applied one; `judge` (a drawn run's): held, judged for what it
    exercised (property_tests/free_runs.py `judged`)."""
    sim = cluster(schedule, nodes, bugs)
    watch = Watch()
    overload = run(sim, schedule, schedule.ticks, stop=watch)
    trace = sim.trace()
    watch.look(trace)
    if watch.unsafe is not None:
        k, names = watch.unsafe
        # Raft.tla's invariants (`violated`) come before its action properties (`broken`)
        kind = INVARIANT if set(names) & set(INVARIANTS) else ACTION_PROPERTY
        what = Violated(kind, ", ".join(names))
        raise failure(f"violates {', '.join(names)}", schedule, trace, k, violated=what)
    diverged = free_runs.divergence(sim)
    if diverged is not None:
        raise failure(
            diverged,
            schedule,
            trace,
            violated=Violated(INVARIANT, "StateMachineSafety"),  # the Raft paper's, Figure 3
        )
    if overload is not None:
        raise failure(overload, schedule, trace)
    problem = check_history(sim)  # the client-history checks (property_tests/histories.py)
    if problem is not None:
        anomaly = Violated(HISTORY_ANOMALY, problem.split(": ", 1)[0])  # "check name: what"
        raise failure(problem, schedule, trace, violated=anomaly)
    if judge:  # held: what it exercised (meshcheck/exercise.py)
        free_runs.judged(sim, schedule)


def free_run_safety(bugs: frozenset[str], settings: hypothesis.settings, *, nodes: int) -> None:
    """Hypothesis: free runs of `nodes` nodes (with the mutants `bugs`) never break Raft's safety."""

    @settings
    @given(schedules(*SAFETY_TICKS))
    def free_run_is_safe(schedule: Schedule) -> None:
        check_safety(schedule, nodes, bugs, judge=True)

    free_run_is_safe()


# Cluster sizes the drawn-size runs take: 3 to 7 servers, the even sizes included. A quorum rule
# right at 3 and 5 (the fixed-size checks above) and wrong at 4 or 6 survives those runs; these
# draw the size (impl/raft/mutants.py `quorum_half_at_even_n`).
SIZES = (3, 7)
# the profile's examples the drawn-size runs get (ci 30, dev 100): a run of 7 nodes costs about
# twice one of 3
SIZES_SHARE = 1 / 2


def free_run_safety_any_size(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: free runs of a drawn number of nodes, 3 to 7, never break Raft's safety."""

    @share(settings, SIZES_SHARE)
    @given(st.integers(*SIZES), schedules(*SAFETY_TICKS))
    def free_run_is_safe_at_any_size(nodes: int, schedule: Schedule) -> None:
        check_safety(schedule, nodes, bugs, judge=True)

    free_run_is_safe_at_any_size()


# -- liveness after healing -----------------------------------------------------------------------

LIVENESS_TICKS = (300, 3000)

# Bounds, in ticks (milliseconds: property_tests/raft/targets.py) after faults stop, from the stated
# targets at the node's timing: election timeouts drawn from 150..300, heartbeats every 50, one-way
# latency 1..10 (raft_cluster's defaults; no clock skew). Not measured: a slower implementation must
# not move them (`backup_one_at_a_time` fails them, tests/test_raft_unreliable.py).
DEFAULT_TIMEOUT = (150, 300)
HEARTBEAT = 50
LATENCY = (1, 10)


def timing(schedule: Schedule) -> Timing:
    """The configured timing of a schedule's cluster, which its bounds derive from."""
    return Timing(knob(schedule, "timeout"), HEARTBEAT, LATENCY, knob(schedule, "max_entries"))


def leader_bound(schedule: Schedule) -> int:
    """Ticks after healing by which one node leads: the election target (2 s) at this timing."""
    return election_bound(timing(schedule))


def converge_bound(schedule: Schedule, backlog: int) -> int:
    """Ticks after healing by which every node has applied the whole log: the recovery target (5 s)
    at this timing; a batch limit adds the round trips it forces for the backlog (entries past the
    lowest commit index when faults stop)."""
    return recovery_bound(timing(schedule), backlog)


def backlog(sim: Simulator[RaftNode]) -> int:
    """Entries some node holds past the lowest commit index: what may still have to be shipped."""
    nodes = sim.nodes.values()
    return max(n.log.last_index for n in nodes) - min(n.commit_index for n in nodes)


def sole_leader(sim: Simulator[RaftNode]) -> RaftNode | None:
    """The one up node that leads in the highest term any node has, if there is exactly one."""
    top = max(node.term for node in sim.nodes.values())
    leaders = [n for i, n in sim.nodes.items() if sim.up[i] and n.role == LEADER and n.term == top]
    return leaders[0] if len(leaders) == 1 else None


def acknowledged_keys(sim: Simulator[RaftNode]) -> list[str]:
    """The keys of the writes some node told the client had succeeded (unique_write's keys)."""
    return [
        reply.result["key"]
        for _, reply in sim.replies
        if reply.ok and isinstance(reply.result, Mapping) and "key" in reply.result
    ]


def stored_of_own_term(leader: RaftNode) -> int:
    """Raft.tla's StoredOfOwnTerm: the highest index of the leader's own term that a quorum stores
    by its matchIndex (the leader counts itself), or its commitIndex when none lies above that."""
    stored = leader.commit_index
    peers, quorum = leader.config.peers, leader.config.quorum
    for n in range(leader.commit_index + 1, leader.log.last_index + 1):
        holders = 1 + sum(leader.match_index[p] >= n for p in peers)
        if leader.log.term_at(n) == leader.term and holders >= quorum:
            stored = n
    return stored


def lagging(sim: Simulator[RaftNode]) -> str | None:
    """What keeps the cluster from having applied everything (None: nothing).

    The leader's own commit index first: Raft.tla's LeaderCommitsStoredEntries (every entry of the
    leader's term stored on a quorum is committed by it), here within `converge_bound` of the
    faults' end. Its conditions, as `check_liveness` sets them up: the network is calm (every
    partition healed, every node up, no more drops, duplicates or delays), and one node leads in
    the highest term (`sole_leader`). Then every node's commit index must reach the leader's last
    index, which covers the leader's entries of earlier terms too."""
    leader = sole_leader(sim)
    if leader is None:
        return "no single leader of the highest term"
    stored = stored_of_own_term(leader)
    if leader.commit_index < stored:
        return (
            f"the leader {leader.id}'s commitIndex {leader.commit_index} is below {stored}, an "
            f"entry of its term {leader.term} stored on a quorum (LeaderCommitsStoredEntries)"
        )
    last = leader.log.last_index
    for i, node in sim.nodes.items():
        if node.commit_index < last:
            return f"{i} applied up to {node.commit_index}, the leader {leader.id}'s log ends at {last}"
    for key in acknowledged_keys(sim):
        for i, node in sim.nodes.items():
            if key not in node.machine.custom:
                return f"the acknowledged write {key} is not in {i}'s state machine"
    return None


@attrs.frozen
class Healing:
    """When, after faults stopped, the cluster had one leader and when it had applied everything."""

    leader: int
    converged: int


def check_liveness(schedule: Schedule, nodes: int, bugs: frozenset[str]) -> Healing:
    """One run whose faults stop at schedule.ticks: it heals within the bounds.

    Raft promises a leader and progress only while a majority is up and connected with message
    delays well below the election timeout (the Raft paper, section 5.6): here from
    schedule.ticks, where `Faults.until` has healed every partition and brought every crashed
    node back (`free_runs.not_calm` checks it before the bounds start counting)."""
    sim = cluster(schedule, nodes, bugs, heal=True)
    healed = schedule.ticks
    overload = run(sim, schedule, healed)
    restless = free_runs.not_calm(sim) if overload is None else None
    if restless is not None:  # Faults.until heals the network and brings every node up
        raise AssertionError(f"{schedule!r}: {restless}")
    bound = converge_bound(schedule, backlog(sim))
    leader_by = leader_bound(schedule)
    if overload is None:
        overload = run(sim, schedule, healed + leader_by, stop=lambda s: sole_leader(s) is not None)
    if overload is None and sole_leader(sim) is None:
        raise failure(
            f"no single leader of the highest term {leader_by} ticks after the faults ended",
            schedule,
            sim.trace(),
            violated=Violated(LIVENESS_BOUND, "a sole leader once the faults end"),
        )
    leader_at = sim.now - healed
    if overload is None:
        overload = run(sim, schedule, healed + bound, stop=lambda s: lagging(s) is None)
    if overload is not None:
        raise failure(overload, schedule, sim.trace())
    problem = lagging(sim)
    if problem is not None:
        named = named_in(problem)
        what = Violated(LIVENESS_BOUND, named.name if named else "the cluster converges")
        raise failure(
            f"{problem}, {bound} ticks after the faults ended", schedule, sim.trace(), violated=what
        )
    converged = sim.now - healed
    leader = sole_leader(sim)
    assert leader is not None  # lagging() asks for one
    problem = refusals.calm_probe(sim, leader, unique_write, read_query)
    if problem is not None:  # every client op type at every node, once the cluster has healed
        raise failure(problem, schedule, sim.trace())
    return Healing(leader_at, converged)


def liveness_after_heal(bugs: frozenset[str], settings: hypothesis.settings, *, nodes: int) -> None:
    """Hypothesis: once faults stop, a `nodes`-node cluster (with the mutants `bugs`) elects one
    leader and applies everything on every node, within the bounds."""

    @settings
    @given(schedules(*LIVENESS_TICKS, timeouts=(DEFAULT_TIMEOUT,)))
    def heals(schedule: Schedule) -> None:
        check_liveness(schedule, nodes, bugs)

    heals()
