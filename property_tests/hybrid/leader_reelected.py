"""The hybrid layer's Raft epoch: a leader deposed by a partition, not a crash, with a client's op
in flight, whose copy of the op the next leader overwrites, and which is elected again in the same
epoch while the client keeps retrying the op.

A scripted run (four nodes, all honest, epoch 1: Raft). The client (impl/hybrid/consensus.py)
sends each op to every node it reaches, decides on f+1 matching answers, and sends it again every
400 ticks; the script acts between two of its sends (`HybridConsensus.before_send`), so it sees
the run at the client's pace:

1. a first op commits; L leads and every node's log ends where L's does. L is cut off from the
   others, and the client from every node but L: L takes the op X (appends it at index i of its
   term t), which reaches no other node;
2. the others elect a leader M, whose entries (its no-op of section 8 of the Raft paper, the
   nodes' clock entries) pass index i. At the client's next send once M leads (variant `hold` 1:
   the one after) the network heals, but for the client's links to the others: L steps down, and
   M overwrites L's copy of X (section 5.3). Until step 4 the network loses every proposal of X
   (a `MessageFaults` rule: L, M's follower, forwards X to M at each of its retries), so M never
   hears of X;
3. at the client's next send once L follows M and its log no longer holds X: when L's log is M's,
   M goes (variant `away`: crashed, or cut off from everyone), L's election timer ("e1/election")
   fires, and L leads term t' > t of epoch 1, the same epoch;
4. the network is calm from then on: healed, M back up, the client reaching every node, X's
   proposals delivered. The client's retries of X (to L; to the others, which forward it to L)
   all come to L, and so do L's own retries: X must be decided committed within the client's
   give-up bound (`GIVE_UP`; InFlightResolved, specs/Hybrid.tla: in a Raft epoch with no switch,
   committed). Two more ops commit after it.

What must hold besides: Hybrid.tla's invariants after every step (property_tests/hybrid/monitor.py),
each honest node's history a prefix of the longest (NoCommittedOpLost), and the client-history
checks of the hybrid free runs (`final`: linearizable, each (client, seq) applied at most once, no
answer withdrawn).

What the run reached is kept (`Reelection`), for the tests to assert rather than hope: L took X in
term t at index i, followed M with X gone from its log, and led term t' of epoch 1; and L's
`_append` hits the probe `op_reappended_after_overwrite` (impl/hybrid/node.py) when it appends X
again. property_tests/hybrid/leader_restart.py crashes the leader instead, which forgets whatever
it held of its term; here L keeps its memory across the step-down, which is the point: a node that
remembers having appended X (the mutant `reappend_checks_index_only`: by the index it went to; or
by its epoch without the term) must not take that for X being in its log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import OpKey
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.roles import FOLLOWER
from meshcheck.impl.raft.roles import LEADER
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import MessageFaults
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.free_runs import recorded_if_failing
from meshcheck.property_tests.free_runs import scripted
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.hybrid.free_runs import GIVE_UP
from meshcheck.property_tests.hybrid.free_runs import KEYS
from meshcheck.property_tests.hybrid.free_runs import Run
from meshcheck.property_tests.hybrid.free_runs import final
from meshcheck.property_tests.hybrid.monitor import Monitor
from meshcheck.violated import LEADER_ELECTED
from meshcheck.violated import LEADER_RETURNS
from meshcheck.violated import LOG_CATCH_UP

ELECTION = "e1/election"  # the Raft instance's election timer, under its epoch's prefix
LIMIT = 3000  # ticks for a catch-up or an election on a calm network of four
PROBE = ("hybrid", "op_reappended_after_overwrite")  # impl/hybrid/node.py `_append`

# the script's phases (`Script.turn`)
ISOLATED = "isolated"  # step 1: L cut off, the others electing M
HEALED = "healed"  # step 2: L M's follower, its copy of X being overwritten
CALM = "calm"  # step 4: L leads again, the network calm


@attrs.define
class Reelection:
    """What the scenario reached: L, the term t and index i of its copy of X, M, the term of the
    entry at i in L's log once X was gone from it, and the term t' of epoch 1 that L led again."""

    leader: str
    key: OpKey | None = None
    term: int = 0
    index: int = 0
    other: str | None = None
    overwritten: int | None = None
    again: int | None = None
    calm_at: int | None = None  # when step 4 began


class Script:
    """The cluster, the client, and the script's turn between the client's sends."""

    def __init__(self, schedule: Schedule, bugs: frozenset[str], record: bool) -> None:
        self.schedule = schedule
        self.hold = schedule.knob("hold", 0)
        self.away = schedule.knob("away", "crash")
        self.phase = ISOLATED
        self.held = 0  # the client's sends since M leads, while L is cut off
        # X's proposals are lost until step 4: what a follower forwards to M never reaches it
        lost = (MessageFaults(where=self.silenced, drop=1.0),)
        faults = Faults(messages=lost)  # type: ignore[arg-type]  # attrs' converter=tuple
        self.hc = HybridConsensus(
            4, seed=schedule.seed, bugs=bugs, give_up_after=GIVE_UP, record=record, faults=faults
        )
        self.sim = self.hc.sim
        self.out = Run(self.hc, Monitor(self.hc))
        self.reached = Reelection(leader="")
        self.ops = 0

    # -- reading the cluster

    def core(self, node: str) -> RaftNode:
        core = self.hc.nodes[node].instances[1].core
        assert isinstance(core, RaftNode)  # epoch 1 runs Raft
        return core

    def last(self, node: str) -> tuple[int, int]:
        log = self.core(node).log
        return (log.last_term, log.last_index)

    def holds_x(self, node: str) -> bool:
        return any(
            isinstance(e.value, OpEntry) and e.value.op.key == self.reached.key
            for e in self.core(node).log.entries
        )

    def silenced(self, source: str, dest: str, message: Any) -> bool:
        """A proposal of X before step 4 (the MessageFaults rule's filter)."""
        body = getattr(message, "body", None)
        return (
            self.phase != CALM
            and isinstance(body, Proposal)
            and isinstance(body.entry, OpEntry)
            and body.entry.op.key == self.reached.key
        )

    # -- running

    def wait(self, until: Callable[[], bool], what: str, *, bound: str) -> None:
        """Run until `until()` holds, checked after every event, within LIMIT ticks (else
        CheckFailed, led by the name of the `bound` it breaks)."""
        end = self.sim.now + LIMIT
        while not until():
            if self.sim.now >= end:
                raise CheckFailed(
                    f"t={self.sim.now}: {bound}: {what} within {LIMIT} ticks",
                    steps=self.out.monitor.steps,
                )
            self.sim.run(until=self.sim.now + 25, stop=lambda _: until())

    def propose(self) -> None:
        """The client's next op, which must be decided committed within GIVE_UP ticks."""
        self.ops += 1
        sent = self.sim.now
        try:
            decision = self.hc.propose(Custom(f"k{self.ops % KEYS}", self.ops))
        except ImplError:
            r = self.reached
            where = (
                f"the network calm since t={r.calm_at}, {r.leader} leading term {r.again} of "
                f"epoch 1 again"
                if r.calm_at is not None
                else f"the script still at step {self.phase!r}"
            )
            raise CheckFailed(
                f"t={self.sim.now}: op {self.ops}, sent at t={sent} and retried every "
                f"{self.hc.resend_every} ticks, not decided within {GIVE_UP} ticks ({where}; "
                "InFlightResolved)",
                steps=self.out.monitor.steps,
            ) from None
        self.out.decisions.append(decision)
        if not decision.committed:
            raise CheckFailed(
                f"t={self.sim.now}: op {self.ops} rejected in a Raft epoch with no switch "
                f"({decision.reason})",
                steps=self.out.monitor.steps,
            )

    def isolate(self, leader: str) -> None:
        """Step 1: L cut off from the others, the client from every node but L."""
        self.reached = Reelection(leader=leader)
        self.sim.partition([[leader], [i for i in self.sim.node_ids if i != leader]])
        self.cut_client()

    def cut_client(self) -> None:
        for node in self.sim.node_ids:
            if node != self.reached.leader:
                self.sim.cut(self.hc.client, node)

    def turn(self, op: ClientOp) -> None:
        """The script's turn before each send of X (`HybridConsensus.before_send`)."""
        r = self.reached
        if r.key is None:  # the first send: X goes to L alone
            r.key = op.key
        elif self.phase == ISOLATED:
            self.heal_once_another_leads()
        elif self.phase == HEALED:
            self.elect_again_once_overwritten()

    def heal_once_another_leads(self) -> None:
        """Step 2, once M leads past L's copy of X (and `hold` more of the client's sends)."""
        r = self.reached
        if not r.index:
            core = self.core(r.leader)
            found = [
                i
                for i, e in enumerate(core.log.entries, core.log.snapshot_index + 1)
                if isinstance(e.value, OpEntry) and e.value.op.key == r.key
            ]
            if not found or core.role != LEADER:
                raise CheckFailed(
                    f"t={self.sim.now}: {r.leader}, cut off, did not take op {r.key} as leader",
                    steps=self.out.monitor.steps,
                )
            r.index, r.term = found[0], core.log.term_at(found[0]) or 0
        leaders = [
            i
            for i in self.sim.node_ids
            if i != r.leader
            and self.core(i).role == LEADER
            and self.core(i).term > r.term
            and self.core(i).log.last_index >= r.index
        ]
        if not leaders:
            return
        if self.held < self.hold:
            self.held += 1
            return
        r.other = leaders[0]
        self.sim.heal()
        self.cut_client()
        self.phase = HEALED

    def elect_again_once_overwritten(self) -> None:
        """Step 3, once L follows M with X gone from its log; then step 4."""
        r = self.reached
        other = r.other
        assert other is not None
        core = self.core(r.leader)
        if core.role != FOLLOWER or core.leader != other or self.holds_x(r.leader):
            return
        # M's log reaches L first: then no other node's is ahead of L's, and L can win
        self.wait(
            lambda: self.last(r.leader) == self.last(other),
            f"{r.leader} caught up",
            bound=LOG_CATCH_UP,
        )
        r.overwritten = core.log.term_at(r.index)
        if self.away == "crash":
            self.sim.crash(other)
        else:
            for node in self.sim.node_ids:
                if node != other:
                    self.sim.cut(other, node)
                    self.sim.cut(node, other)
        self.sim.fire(r.leader, ELECTION)
        self.wait(
            lambda: self.core(r.leader).role == LEADER,
            f"{r.leader} led again",
            bound=LEADER_RETURNS,
        )
        r.again = self.core(r.leader).term
        self.sim.heal()
        self.sim.recover(other)  # (a node that is up stays up)
        self.phase = CALM
        r.calm_at = self.sim.now


def scenario(schedule: Schedule, bugs: frozenset[str], *, record: bool = False) -> Script:
    """Run the scenario; CheckFailed when something broke (recorded: with the run's trace)."""
    s = Script(schedule, bugs, record)
    try:
        s.propose()
        s.wait(lambda: s.hc.raft_leader() is not None, "a Raft leader", bound=LEADER_ELECTED)
        leader = s.hc.raft_leader()
        assert leader is not None
        s.wait(
            lambda: all(s.last(i) == s.last(leader) for i in s.sim.node_ids),
            "every log caught up with the leader's",
            bound=LOG_CATCH_UP,
        )
        s.isolate(leader)
        s.hc.before_send.append(s.turn)
        s.propose()  # X
        s.hc.before_send.remove(s.turn)
        if s.phase != CALM:
            raise CheckFailed(
                f"t={s.sim.now}: op {s.reached.key} committed before {leader} led again (the "
                f"script at step {s.phase!r}): it reached another leader",
                steps=s.out.monitor.steps,
            )
        s.propose()
        s.propose()
        final(s.out)
    except CheckFailed as failed:
        if record and failed.trace is None:
            raise failure(failed.message, schedule, s.sim.trace()) from None
        raise
    return s


def check_leader_reelected(schedule: Schedule, bugs: frozenset[str]) -> None:
    """The check on one schedule (a stored run re-runs it: property_tests/hybrid/harness.py).
    Unrecorded first (recording costs); a run that fails is run again, recorded, for its trace
    (the same seed gives the same run)."""
    recorded_if_failing(lambda record: scenario(schedule, bugs, record=record))


def schedules() -> st.SearchStrategy[Schedule]:
    return scripted(away=st.sampled_from(("crash", "cut")), hold=st.sampled_from((0, 1)))


def leader_reelected_check(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """The check `meshcheck mutants hybrid` runs: Hypothesis draws the seed and the variants."""

    @share(settings, 1 / 10)
    @given(schedules())
    def reelected_leader_commits_the_retried_op(schedule: Schedule) -> None:
        check_leader_reelected(schedule, bugs)

    reelected_leader_commits_the_retried_op()
