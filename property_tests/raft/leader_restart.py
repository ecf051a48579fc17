"""A leader that crashes with client writes in flight, restarts, and is made to lead again.

A scripted run on the simulator (random fault schedules seldom crash a leader with writes in
flight, elect another that overwrites them, and then hand the lead back to the first), on three
servers and a calm network, `cycles` times over on the same node L:

1. L leads; the client's writes go to it. Variant `before` (the writes cannot commit): L is cut off
   from the others, takes `writes` writes, and crashes. Variant `after` (they commit, unanswered):
   L takes the writes, and crashes as soon as a follower stores them, before it learns they
   committed, so it never answers them.
2. The others elect a leader M (its term above L's); the client, which has no answer for the
   writes it sent L, sends new writes to M, which overwrite L's uncommitted positions (`before`)
   or follow the writes M holds and commits with its first entry (`after`).
3. L restarts and catches up as M's follower; the client sends it a write, which it refuses (it
   does not lead), and retries that write at the leader L names (`retried`).
4. M crashes and L's election timer fires first: L leads again; M restarts; the client writes to L.

Then the network is calm and every node up: the run goes on until every server applied the
leader's whole log. What must hold is what every free run ends with (property_tests/histories.py):
the client history is linearizable, no write applied twice, no answer withdrawn (a write answered
ok is applied, one answered "not leader" is applied nowhere), the state machines agree at every
index; and every write the client retried after a refusal is applied exactly once.

The writes L held when it crashed are never retried by this client: they may have taken effect
(variant `after`: they do), and impl/raft keeps no client sessions (the Raft thesis, section 6.3,
where a retry carries its serial number and the state machine answers a duplicate from the
session), so a retry would apply twice; their outcome is unknown to the client (`info`).

What a restart must drop here is the leader's table of writes awaiting their commit (Figure 2
lists it nowhere: volatile state). The catalogue mutant `pending_writes_persisted` persists it
with the log: the restarted L, a follower, answers each request of the table when it applies the
request's index, whatever entry M put there, and the client is told ok for a write applied
nowhere ("no answer withdrawn", variant `before`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.raft import ELECTION
from meshcheck.impl.raft import LEADER
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.raft.free_runs import STORM
from meshcheck.property_tests.raft.free_runs import unique_write
from meshcheck.violated import CLUSTER_PROGRESS
from meshcheck.violated import LEADER_ELECTED
from meshcheck.violated import LEADER_RETURNS
from meshcheck.violated import RESTART_CATCH_UP

NODES = 3
# Every wait is bounded: an election on a calm network of three takes a few timeouts (150..300
# ticks each), catching up a few heartbeats (50 ticks); a wait that runs out is a failure.
LIMIT = 3000
VARIANTS = ("before", "after")


class Script(scenarios.Script[RaftNode]):
    """The cluster and the client's operations on it."""

    salt = "leader-restart"
    STORM = STORM
    LIMIT = LIMIT

    def __init__(self, schedule: Schedule, bugs: frozenset[str], record: bool) -> None:
        super().__init__(
            schedule,
            raft_cluster(
                NODES, seed=schedule.seed, record=record, snapshot_interval=1000, bugs=bugs
            ),
        )
        self.ids = list(self.sim.node_ids)
        self.writes = 0
        self.retried: list[Any] = []  # the values of the writes retried after a refusal

    def leader(self, among: list[str] | None = None) -> str | None:
        """The up leader of the highest term among `among` (default: every node)."""
        nodes = [self.sim.nodes[i] for i in (among or self.ids) if self.sim.up[i]]
        leading = [n for n in nodes if n.role == LEADER]
        return max(leading, key=lambda n: n.term).id if leading else None

    def committed(self, node: str, index: int) -> bool:
        return self.sim.up[node] and self.sim.nodes[node].commit_index >= index

    # -- the client

    def write(self, node: str) -> tuple[Any, int]:
        """A new write sent to `node`: its value and request id."""
        self.writes += 1
        value = unique_write(self.writes)
        self.sim.inject(node, ClientRequest(value, self.writes))
        return value, self.writes

    def write_committed(self, node: str, count: int) -> None:
        """`count` writes to the leader `node`, and the wait for their commit."""
        for _ in range(count):
            self.write(node)
        last = self.sim.nodes[node].log.last_index
        self.wait(
            lambda: self.committed(node, last),
            f"{node} did not commit index {last}",
            bound=CLUSTER_PROGRESS,
        )

    def write_refused_then_retried(self, follower: str) -> None:
        """A write sent to a node that does not lead; refused (the reply names the leader it
        knows), it is sent again, with a new request id, to that leader."""
        value, rid = self.write(follower)
        answers = [r for node, r in self.sim.replies if node == follower and r.request_id == rid]
        if not answers or answers[-1].ok or answers[-1].unknown or answers[-1].leader is None:
            return  # not refused with a hint: nothing to retry
        target = answers[-1].leader
        if not self.sim.up[target]:
            return
        self.writes += 1
        self.sim.inject(target, ClientRequest(value, self.writes))
        self.retried.append(value)

    # -- the network

    def isolate(self, node: str) -> None:
        for other in self.ids:
            if other != node:
                self.sim.cut(node, other)
                self.sim.cut(other, node)


def scenario(schedule: Schedule, bugs: frozenset[str], record: bool) -> Script:
    """Run the scenario; `Script.problem` is the first thing found broken (None: it held)."""
    s = Script(schedule, bugs, record)
    if not s.wait(lambda: s.leader() is not None, "no leader", bound=LEADER_ELECTED):
        return s
    first = s.leader()
    assert first is not None
    s.write_committed(first, 2)
    for _ in range(schedule.knob("cycles", 1)):
        if s.failed() or not cycle(
            s, schedule.knob("variant", "before"), schedule.knob("writes", 3)
        ):
            break
    if not s.failed():
        calm(s)
    return s


def cycle(s: Script, variant: str, writes: int) -> bool:
    """One crash and restart of the leader, which then leads again (steps 1 to 4); False when
    the run cannot go on (`Script.problem` says why)."""
    sim = s.sim
    old = s.leader()
    if old is None:
        s.problem = f"t={sim.now}: no leader at the start of a cycle"
        return False
    others = [i for i in s.ids if i != old]
    term = sim.nodes[old].term
    # 1. writes in flight at the leader, which crashes before they commit (or before it learns
    # they did)
    if variant == "before":
        s.isolate(old)
        for _ in range(writes):
            s.write(old)
        sim.run(until=sim.now + s.rng.randint(1, 50))
    else:
        for _ in range(writes):
            s.write(old)
        target = sim.nodes[old].log.last_index
        if not s.wait(
            lambda: any(sim.nodes[i].log.last_index >= target for i in others),
            f"no follower of {old} stored index {target}",
            bound=CLUSTER_PROGRESS,
        ):
            return False
    sim.crash(old)
    sim.heal()
    # 2. another leader, and new writes to it
    if not s.wait(
        lambda: (m := s.leader(others)) is not None and sim.nodes[m].term > term,
        f"no new leader among {others} after {old} crashed",
        bound=LEADER_ELECTED,
    ):
        return False
    new = s.leader(others)
    assert new is not None
    s.write_committed(new, s.rng.randint(1, writes + 1))
    # 3. the old leader restarts, catches up, and refuses a write, which is retried
    sim.recover(old)
    if not s.wait(
        lambda: (
            sim.nodes[old].commit_index >= sim.nodes[new].commit_index
            and sim.nodes[old].log.last_index == sim.nodes[new].log.last_index
        ),
        f"{old} did not catch up with {new} after its restart",
        bound=RESTART_CATCH_UP,
    ):
        return False
    s.write_refused_then_retried(old)
    last = sim.nodes[new].log.last_index
    if not s.wait(
        lambda: s.committed(new, last) and s.committed(old, last),
        f"the retried write at index {last} did not commit",
        bound=CLUSTER_PROGRESS,
    ):
        return False
    # 4. the old leader leads again
    sim.crash(new)
    sim.fire(old, ELECTION)
    won = s.wait(
        lambda: s.leader() == old,
        f"{old} did not win the election it started",
        bound=LEADER_RETURNS,
    )
    sim.recover(new)
    if won:
        s.write_committed(old, 2)
    return not s.failed()


def calm(s: Script) -> None:
    """Every node up, the network whole: everything applied everywhere; then the checks."""
    sim = s.sim
    sim.heal()
    for i in s.ids:
        sim.recover(i)

    def applied() -> bool:
        leader = s.leader()
        if leader is None:
            return False
        last = sim.nodes[leader].log.last_index
        return all(s.committed(i, last) for i in s.ids)

    if not s.wait(
        applied, "the cluster did not apply its leader's whole log", bound=CLUSTER_PROGRESS
    ):
        return
    s.problem = check_history(sim) or retried_once(sim, s.retried)


def retried_once(sim: Simulator[RaftNode], retried: list[Any]) -> str | None:
    """Every write retried after a refusal is applied, at exactly one index of the log."""
    for value in retried:
        where = [i for i, v in _first_applied(sim).items() if v == value]
        if len(where) != 1:
            return f"retried write {value!r} applied at {len(where)} indexes ({where}), not exactly once"
    return None


def _first_applied(sim: Simulator[RaftNode]) -> Mapping[int, Any]:
    first: dict[int, Any] = {}
    for node in sim.node_ids:
        for index, value in sim.applied_by_index[node].items():
            first.setdefault(index, value)
    return first


# The scenario: its check of one run (`n` is the cluster's size, always NODES: the rerun's
# signature; CheckFailed with its recorded trace when something broke), and the check `meshcheck
# mutants raft` runs, Hypothesis drawing the seed, variant, cycles and writes.
SCRIPTED = scenarios.Scripted(
    "restarted_leader_answers_truly",
    scenarios.fixed(scenario),
    {
        "variant": st.sampled_from(VARIANTS),
        "cycles": st.sampled_from((1, 3)),
        "writes": st.integers(1, 4),
    },
    1 / 5,
    NODES,
)
check_leader_restart = SCRIPTED.check
schedules = SCRIPTED.schedules
leader_restart_check = SCRIPTED.drawn
