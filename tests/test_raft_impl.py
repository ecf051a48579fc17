"""The Raft node, section by section of the paper (in the manner of etcd's raft_paper_test.go), then
whole clusters under the simulator, then the refinement mapping against specs/Raft.tla itself.

Where a mutant (impl/raft/mutants.py) breaks a rule, the test that shows the rule also runs the mutant
and shows it misbehave: that proves the test can fail, and that the switch does what it says.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import without_actions
from meshcheck.impl.base.errors import IllegalTransition
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.raft import CANDIDATE
from meshcheck.impl.raft import ELECTION
from meshcheck.impl.raft import FOLLOWER
from meshcheck.impl.raft import HEARTBEAT
from meshcheck.impl.raft import LEADER
from meshcheck.impl.raft import READ
from meshcheck.impl.raft import SNAPSHOT
from meshcheck.impl.raft import AppendEntriesRequest
from meshcheck.impl.raft import AppendEntriesResponse
from meshcheck.impl.raft import Entry
from meshcheck.impl.raft import InstallSnapshotRequest
from meshcheck.impl.raft import RaftConfig
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft import RequestVoteRequest
from meshcheck.impl.raft import RequestVoteResponse
from meshcheck.impl.raft import mutants
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.raft.messages import message_record
from meshcheck.impl.raft.node import HARD
from meshcheck.impl.raft.node import LOG
from meshcheck.impl.raft.node import Replicate
from meshcheck.impl.rsm import NOOP
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import StateMachine
from meshcheck.impl.rsm import to_value
from meshcheck.impl.sim import Apply
from meshcheck.impl.sim import ClientRead
from meshcheck.impl.sim import ClientRequest
from meshcheck.impl.sim import Deliver
from meshcheck.impl.sim import Effect
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Persist
from meshcheck.impl.sim import Put
from meshcheck.impl.sim import Reply
from meshcheck.impl.sim import Restart
from meshcheck.impl.sim import Send
from meshcheck.impl.sim import SetTimer
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Tick
from meshcheck.impl.sim import Workload
from meshcheck.impl.sim.storage import Durable
from meshcheck.property_tests.raft.validation import first_step_not_in_spec
from meshcheck.property_tests.raft.validation import validation_model
from tests import stepped

if TYPE_CHECKING:
    from meshcheck.specs.tlc.stepper import Stepper

SERVERS = ("s1", "s2", "s3")
ROOT = Path(__file__).resolve().parent.parent


class Box:
    """One node outside any simulator, with its durable store: step it, restart it from its disk."""

    def __init__(
        self,
        node_id: str = "s1",
        *,
        disk: dict[str, Any] | None = None,
        bugs: tuple[str, ...] = (),
        **options: Any,
    ) -> None:
        self.config = RaftConfig(node_id, SERVERS, bugs=frozenset(bugs), **options)
        self.disk = Durable()
        if disk:
            self.disk.apply([Put(k, v) for k, v in disk.items()])
        self.restart()

    def restart(self) -> list[Effect]:
        self.node = RaftNode(self.config, random.Random(0))
        return self.step(Restart(self.disk.view()))

    def step(self, event: Any) -> list[Effect]:
        """The effects to carry out; the step's `Action` reports are kept in `reported`."""
        self.reported, effects = stepped.step(self.node, self.disk, event)
        return effects

    def deliver(self, message: Any) -> list[Effect]:
        return self.step(Deliver(message.source, message))

    def elect(self, term_votes: tuple[str, ...] = ("s2",)) -> list[Effect]:
        """Time out and win with the votes of `term_votes`."""
        self.step(Tick(ELECTION))
        effects: list[Effect] = []
        for voter in term_votes:
            effects = self.deliver(RequestVoteResponse(voter, self.node.id, self.node.term, True))
        return effects


def sent(effects: list[Effect]) -> list[Any]:
    return [e.message for e in effects if isinstance(e, Send)]


def log_of(*terms: int) -> tuple[Entry, ...]:
    return tuple(Entry(t, f"x{k}") for k, t in enumerate(terms, 1))


# -- section 5.2: leader election ---------------------------------------------------------------------


def test_timeout_starts_an_election_and_persists_the_vote_before_asking() -> None:
    box = Box(disk={HARD: (4, None), LOG: log_of(1, 2)})
    effects = box.step(Tick(ELECTION))
    assert (box.node.role, box.node.term, box.node.voted_for) == (CANDIDATE, 5, "s1")
    # the spec action is reported where it happens, first; then the vote is made durable
    assert box.reported[0] == Action("Timeout", FrozenDict({"i": "s1"}))
    assert isinstance(effects[0], Persist) and Put(HARD, (5, "s1")) in effects[0].writes
    assert sent(effects) == [
        RequestVoteRequest("s1", "s2", 5, 2, 2),
        RequestVoteRequest("s1", "s3", 5, 2, 2),
    ]
    assert any(
        isinstance(e, SetTimer) and e.timer == ELECTION and 150 <= e.after <= 300 for e in effects
    )


def test_a_quorum_of_votes_makes_a_leader_that_appends_a_noop() -> None:
    """Section 5.2 and section 8: the new leader's first entry is a no-op of its term."""
    box = Box(disk={LOG: log_of(1)})
    effects = box.elect()
    node = box.node
    assert node.role == LEADER and node.log.entries[-1] == Entry(1, NOOP) and node.term == 1
    assert node.next_index == {"s1": 2, "s2": 2, "s3": 2}  # just past the log before the no-op
    assert sent(effects) == [
        AppendEntriesRequest("s1", peer, 1, 1, 1, (Entry(1, NOOP),), 0, 0) for peer in ("s2", "s3")
    ]
    assert box.disk.get(LOG) == (Entry(1, "x1"), Entry(1, NOOP))  # the no-op is persisted


def test_one_vote_per_term_first_come_first_served() -> None:
    box = Box("s2")
    effects = box.deliver(RequestVoteRequest("s1", "s2", 1, 0, 0))
    assert isinstance(effects[0], Persist) and box.disk.get(HARD) == (
        1,
        "s1",
    )  # persisted, then sent
    assert sent(effects) == [RequestVoteResponse("s2", "s1", 1, True)]
    assert sent(box.deliver(RequestVoteRequest("s3", "s2", 1, 0, 0))) == [
        RequestVoteResponse("s2", "s3", 1, False)
    ]
    assert sent(box.deliver(RequestVoteRequest("s1", "s2", 1, 0, 0))) == [
        RequestVoteResponse("s2", "s1", 1, True)  # a repeated request from the one voted for
    ]


@pytest.mark.parametrize("bugs", [(), (mutants.VOTE_WITHOUT_LOG_CHECK,)])
def test_vote_denied_to_a_candidate_with_a_less_up_to_date_log(bugs: tuple[str, ...]) -> None:
    """Section 5.4.1: the later last term wins; with equal last terms the longer log."""
    box = Box("s2", disk={HARD: (2, None), LOG: log_of(1, 2, 2)}, bugs=bugs)
    replies = [
        sent(box.deliver(RequestVoteRequest("s1", "s2", 3, 2, 2)))[0].vote_granted,  # shorter
        sent(box.deliver(RequestVoteRequest("s3", "s2", 4, 1, 9)))[
            0
        ].vote_granted,  # older last term
    ]
    assert replies == ([False, False] if not bugs else [True, True])
    assert sent(box.deliver(RequestVoteRequest("s3", "s2", 5, 2, 3)))[0].vote_granted


@pytest.mark.parametrize("bugs", [(), (mutants.FORGET_VOTED_FOR,)])
def test_restart_keeps_term_vote_and_log(bugs: tuple[str, ...]) -> None:
    """Figure 2: currentTerm, votedFor and log are persistent; the rest starts over."""
    box = Box("s2", disk={LOG: log_of(1)}, bugs=bugs)
    box.deliver(RequestVoteRequest("s1", "s2", 3, 1, 1))
    box.deliver(AppendEntriesRequest("s1", "s2", 3, 1, 1, (Entry(3, NOOP),), 2, 0))
    assert box.node.commit_index == 2
    box.restart()
    node = box.node
    assert (node.term, node.log.entries, node.commit_index, node.role) == (
        3,
        [Entry(1, "x1"), Entry(3, NOOP)],
        0,
        FOLLOWER,
    )
    second = sent(box.deliver(RequestVoteRequest("s3", "s2", 3, 3, 2)))[0]
    # the real node remembers it voted for s1 in term 3; the mutant votes again, for s3
    assert (node.voted_for, second.vote_granted) == (("s1", False) if not bugs else ("s3", True))


@pytest.mark.parametrize("bugs", [(), (mutants.LEADER_IGNORES_HIGHER_TERM,)])
def test_a_leader_steps_down_when_it_sees_a_higher_term(bugs: tuple[str, ...]) -> None:
    box = Box(bugs=bugs)
    box.elect()
    box.node._writes_pending[1] = 77  # a client write still in flight
    effects = box.deliver(AppendEntriesResponse("s2", "s1", 5, False, 0, 0))
    assert box.node.term == 5 and box.disk.get(HARD) == (5, None)
    if not bugs:
        assert box.node.role == FOLLOWER
        assert Reply(77, error="leadership lost: outcome unknown", unknown=True) in effects
    else:
        assert box.node.role == LEADER  # a leader of a term it never won


def test_illegal_role_changes_name_both_roles() -> None:
    box = Box()
    with pytest.raises(IllegalTransition, match="s1: illegal role change Follower -> Leader"):
        box.node.become_leader()
    box.elect()
    with pytest.raises(IllegalTransition, match="Leader -> Candidate"):
        box.node.become_candidate()
    assert box.node.role == LEADER


# -- section 5.3: log replication ---------------------------------------------------------------------


def test_follower_deletes_a_conflicting_suffix_and_appends() -> None:
    box = Box("s2", disk={HARD: (3, None), LOG: log_of(1, 1, 2, 2)})
    effects = box.deliver(
        AppendEntriesRequest("s1", "s2", 3, 2, 1, (Entry(3, "a"), Entry(3, "b")), 3, 0)
    )
    assert box.node.log.entries == [*log_of(1, 1), Entry(3, "a"), Entry(3, "b")]
    assert box.disk.get(LOG) == tuple(box.node.log.entries)
    assert box.node.commit_index == 3
    assert sent(effects) == [AppendEntriesResponse("s2", "s1", 3, True, 4, 0)]


@pytest.mark.parametrize("bugs", [(), (mutants.TRUNCATE_ON_STALE_APPEND,)])
def test_a_stale_append_does_not_cut_a_matching_suffix(bugs: tuple[str, ...]) -> None:
    """Figure 2: delete entries only on a conflict. A delayed request that carries a prefix of what
    the follower already holds (and acknowledged) must change nothing."""
    box = Box("s2", disk={HARD: (1, None), LOG: log_of(1, 1, 1)}, bugs=bugs)
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 1, 0, 0, log_of(1), 0, 0))
    assert sent(effects) == [AppendEntriesResponse("s2", "s1", 1, True, 1, 0)]
    assert len(box.node.log.entries) == (3 if not bugs else 1)


def test_a_rejected_append_makes_the_leader_back_off_and_retry() -> None:
    box = Box(disk={HARD: (1, None), LOG: log_of(1, 1)})
    box.elect()  # no-op at index 3; nextIndex 3
    # s2 holds one entry: no entry at prevLogIndex 2, so the hint is the index just past its log
    effects = box.deliver(AppendEntriesResponse("s2", "s1", 2, False, 0, 0, 0, 2))
    assert box.node.next_index["s2"] == 2
    assert sent(effects) == [
        AppendEntriesRequest("s1", "s2", 2, 1, 1, (Entry(1, "x2"), Entry(2, NOOP)), 0, 0)
    ]
    rejected = box.deliver(AppendEntriesRequest("s3", "s1", 1, 0, 0, (), 0, 0))  # stale leader
    assert sent(rejected) == [AppendEntriesResponse("s1", "s3", 2, False, 0, 0)]


# -- end of section 5.3: fast backup ------------------------------------------------------------------


def test_a_follower_without_the_entry_at_prev_hints_at_its_log_end() -> None:
    box = Box("s2", disk={HARD: (3, None), LOG: log_of(1, 1)})
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 3, 9, 3, (), 0, 0))
    assert sent(effects) == [AppendEntriesResponse("s2", "s1", 3, False, 0, 0, 0, 3)]


def test_a_follower_with_a_conflicting_entry_hints_at_its_term_and_first_index() -> None:
    box = Box("s2", disk={HARD: (4, None), LOG: log_of(1, 2, 2, 2, 2)})
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 4, 4, 3, (), 0, 0))
    assert sent(effects) == [AppendEntriesResponse("s2", "s1", 4, False, 0, 0, 2, 2)]


@pytest.mark.parametrize(
    "bugs", [(), (mutants.BACKUP_ONE_AT_A_TIME,), (mutants.BACKUP_PAST_CONFLICT,)]
)
def test_the_leader_skips_the_whole_conflicting_term(bugs: tuple[str, ...]) -> None:
    """One round trip per conflicting term, not per entry; never forward on a stale rejection."""
    box = Box(disk={HARD: (3, None), LOG: log_of(1, 3, 3, 3, 3, 3)}, bugs=bugs)
    box.elect()  # term 4, no-op at index 7; nextIndex 7
    # s2 holds 1, 2, 2, 2, 2, 2: its entry at 6 has term 2, first stored at index 2
    box.deliver(AppendEntriesResponse("s2", "s1", 4, False, 0, 0, 2, 2))
    expected = {(): 2, (mutants.BACKUP_ONE_AT_A_TIME,): 6, (mutants.BACKUP_PAST_CONFLICT,): 3}
    assert box.node.next_index["s2"] == expected[bugs]
    if bugs:
        return
    # a delayed rejection of an older probe from further on must not move nextIndex forward
    box.deliver(AppendEntriesResponse("s2", "s1", 4, False, 0, 0, 0, 5))
    assert box.node.next_index["s2"] == 1
    # and never to or below what the follower is known to hold
    box.deliver(AppendEntriesResponse("s3", "s1", 4, True, 3, 0))
    box.deliver(AppendEntriesResponse("s3", "s1", 4, False, 0, 0, 1, 1))
    assert box.node.next_index["s3"] == 4


# -- section 5.4.2: committing entries from previous terms (Figure 8) ------------------------------------


@pytest.mark.parametrize("bugs", [(), (mutants.COMMIT_PREVIOUS_TERM,)])
def test_only_entries_of_the_current_term_commit_by_counting_replicas(
    bugs: tuple[str, ...],
) -> None:
    box = Box(disk={HARD: (2, None), LOG: log_of(1, 2)}, bugs=bugs)
    box.elect()  # term 3, no-op at index 3
    box.deliver(AppendEntriesResponse("s2", "s1", 3, True, 2, 0))  # s2 holds up to the term-2 entry
    assert box.node.commit_index == (0 if not bugs else 2)
    effects = box.deliver(AppendEntriesResponse("s2", "s1", 3, True, 3, 0))  # and now the no-op
    assert box.node.commit_index == 3
    applied = [e.index for e in effects if isinstance(e, Apply)]
    assert applied == ([1, 2, 3] if not bugs else [3])


# -- section 7: log compaction ------------------------------------------------------------------------


def test_install_snapshot_keeps_a_matching_suffix_or_replaces_the_log() -> None:
    state = StateMachine()
    state.apply(Custom("k", 1))
    data = state.snapshot()
    box = Box("s2", disk={HARD: (2, None), LOG: log_of(1, 1, 2)})
    effects = box.deliver(InstallSnapshotRequest("s1", "s2", 2, 2, 1, data))
    node = box.node
    assert (node.log.snapshot_index, node.log.entries, node.commit_index) == (
        2,
        [Entry(2, "x3")],
        2,
    )
    assert node.machine.snapshot() == data
    assert [m.match_index for m in sent(effects)] == [2]
    box.deliver(InstallSnapshotRequest("s1", "s2", 3, 5, 3, data))  # a different history: all goes
    assert (node.log.snapshot_index, node.log.snapshot_term, node.log.entries) == (5, 3, [])
    box.restart()  # snapshot and log came back together
    assert (box.node.log.snapshot_index, box.node.commit_index, box.node.machine.snapshot()) == (
        5,
        5,
        data,
    )


def test_snapshot_is_taken_after_the_interval_in_its_own_step() -> None:
    box = Box(snapshot_interval=2)
    box.elect()
    box.step(ClientRequest("a", 1))
    effects = box.deliver(AppendEntriesResponse("s2", "s1", 1, True, 2, 0))
    assert box.node.commit_index == 2 and box.node.log.snapshot_index == 0
    assert SetTimer(SNAPSHOT, 0) in effects  # TakeSnapshot is the next step, not this one
    box.step(Tick(SNAPSHOT))
    assert (box.node.log.snapshot_index, box.node.log.snapshot_term, box.node.log.entries) == (
        2,
        1,
        [],
    )


def test_the_next_snapshot_waits_for_another_interval_of_entries() -> None:
    """Snapshots are taken every `snapshot_interval` committed entries past the last snapshot, not
    at every commit once the first interval is reached."""
    box = Box(snapshot_interval=2)
    box.elect()
    box.step(ClientRequest("a", 1))
    box.deliver(AppendEntriesResponse("s2", "s1", 1, True, 2, 0))
    box.step(Tick(SNAPSHOT))
    assert box.node.log.snapshot_index == 2
    box.step(ClientRequest("b", 2))
    effects = box.deliver(AppendEntriesResponse("s2", "s1", 1, True, 3, 0))
    assert box.node.commit_index == 3 and SetTimer(SNAPSHOT, 0) not in effects  # 1 past it
    box.step(ClientRequest("c", 3))
    effects = box.deliver(AppendEntriesResponse("s2", "s1", 1, True, 4, 0))
    assert box.node.commit_index == 4 and SetTimer(SNAPSHOT, 0) in effects  # 2 past it
    # a follower: the commit that reaches the interval schedules the snapshot; a heartbeat that
    # commits nothing new schedules it no second time (a timer re-armed fires later)
    follower = Box("s2", snapshot_interval=2)
    effects = follower.deliver(AppendEntriesRequest("s1", "s2", 1, 0, 0, log_of(1, 1), 2, 0))
    assert follower.node.commit_index == 2 and SetTimer(SNAPSHOT, 0) in effects
    effects = follower.deliver(AppendEntriesRequest("s1", "s2", 1, 2, 1, (), 3, 0))
    assert follower.node.commit_index == 2 and SetTimer(SNAPSHOT, 0) not in effects


def test_max_entries_bounds_each_append_entries_batch() -> None:
    """`max_entries` caps the entries of one AppendEntries; the rest follow in the next batches."""
    box = Box(max_entries=2)
    box.elect()
    for k in range(3):
        box.step(ClientRequest(f"w{k}", k))
    box.deliver(AppendEntriesResponse("s2", "s1", 1, True, 0, 0))  # s2 has nothing: resend
    effects = box.step(Tick(HEARTBEAT))
    batches = {m.dest: [e.value for e in m.entries] for m in sent(effects)}
    assert batches["s2"] == [NOOP, "w0"]  # 4 to send, 2 at a time


def test_every_send_is_reported_as_its_spec_action_with_the_peer() -> None:
    """A leader's AppendEntries and InstallSnapshot are reported as specs/Raft.tla's
    AppendEntries(i, j) and InstallSnapshot(i, j), j the peer sent to: trace validation and the
    display read the peer from the report."""
    box = Box(snapshot_interval=1)
    box.elect()
    box.deliver(AppendEntriesResponse("s2", "s1", 1, True, 1, 0))  # the no-op commits
    box.step(Tick(SNAPSHOT))  # s3 now needs the snapshot
    assert box.node.log.snapshot_index == 1
    box.step(Tick(HEARTBEAT))
    reported = [
        (a.name, a.params.get("i"), a.params.get("j"))
        for a in box.reported
        if isinstance(a, Action) and a.name in ("AppendEntries", "InstallSnapshot")
    ]
    assert reported == [("AppendEntries", "s1", "s2"), ("InstallSnapshot", "s1", "s3")]


def test_a_snapshot_is_taken_only_of_a_prefix_not_yet_snapshotted() -> None:
    """TakeSnapshot folds what is committed beyond the current snapshot; with nothing beyond it (a
    second timer, or a node restarted from its snapshot) it writes nothing."""
    box = Box(snapshot_interval=2)
    box.elect()
    box.step(ClientRequest("a", 1))
    box.deliver(AppendEntriesResponse("s2", "s1", 1, True, 2, 0))
    assert any(isinstance(e, Persist) for e in box.step(Tick(SNAPSHOT)))
    assert box.node.log.snapshot_index == box.node.commit_index == 2
    assert box.step(Tick(SNAPSHOT)) == []  # nothing new committed: no write
    box.restart()
    assert box.node.commit_index == box.node.log.snapshot_index == 2
    assert box.step(Tick(SNAPSHOT)) == []


# -- thesis section 6.4: ReadIndex --------------------------------------------------------------------


@pytest.mark.parametrize("bugs", [(), (mutants.READ_WITHOUT_QUORUM,)])
def test_read_index_waits_for_a_quorum_of_this_rounds_heartbeats(bugs: tuple[str, ...]) -> None:
    box = Box(bugs=bugs)
    box.elect()
    early = box.step(ClientRead("", 1))
    assert early == [Reply(1, error="no entry of this term committed yet", leader="s1")]
    box.deliver(AppendEntriesResponse("s2", "s1", 1, True, 1, 0))  # the no-op commits
    effects = box.step(ClientRead("", 2))
    assert [m.read_round for m in sent(effects)] == ([1, 1] if not bugs else [])
    box.deliver(AppendEntriesResponse("s3", "s1", 1, True, 1, 0))  # an ack of an older round
    served = [e for e in box.step(Tick(READ)) if isinstance(e, Reply)]
    if bugs:
        assert served == [Reply(2, FrozenDict({"ok": True, "value": 1}), leader="s1")]
        return
    assert served == []  # not confirmed: the ack was for a heartbeat sent before the read
    effects = box.deliver(AppendEntriesResponse("s3", "s1", 1, True, 1, 1))
    assert SetTimer(READ, 0) in effects
    served = [e for e in box.step(Tick(READ)) if isinstance(e, Reply)]
    assert [(r.request_id, r.result["value"]) for r in served] == [(2, 1)]


# -- whole clusters ------------------------------------------------------------------------------------


def leaders(sim: Simulator[RaftNode], among: list[str] | None = None) -> list[str]:
    return [i for i in among or sim.node_ids if sim.nodes[i].role == LEADER and sim.up[i]]


def elect(sim: Simulator[RaftNode], among: list[str] | None = None, limit: int = 20_000) -> str:
    """Run until exactly one node (of `among`) leads and has committed its no-op."""

    def ready(s: Simulator[RaftNode]) -> bool:
        found = leaders(s, among)
        return (
            len(found) == 1
            and s.nodes[found[0]].log.term_at(s.nodes[found[0]].commit_index)
            == s.nodes[found[0]].term
        )

    sim.run(until=sim.now + limit, stop=ready)
    (leader,) = leaders(sim, among)
    return leader


def write(sim: Simulator[RaftNode], node: str, key: str, value: int, request_id: int) -> None:
    sim.inject(node, ClientRequest(to_value(Custom(key, value)), request_id))


def reply(sim: Simulator[RaftNode], request_id: int) -> Reply | None:
    found = [r for _, r in sim.replies if r.request_id == request_id]
    return found[-1] if found else None


def test_three_nodes_elect_one_leader() -> None:
    sim = raft_cluster(3, seed=11)
    leader = elect(sim)
    sim.run(until=sim.now + 200)
    nodes = sim.nodes.values()
    assert {n.term for n in nodes} == {sim.nodes[leader].term}
    assert sorted(n.role for n in nodes) == [FOLLOWER, FOLLOWER, LEADER]
    assert all(n.log.entries == [Entry(n.term, NOOP)] for n in nodes)


def test_writes_replicate_commit_and_apply_in_order_everywhere() -> None:
    sim = raft_cluster(3, seed=12)
    leader = elect(sim)
    for k in range(10):
        write(sim, leader, f"k{k % 3}", k, 100 + k)
    sim.run(until=sim.now + 300)
    assert all(reply(sim, 100 + k) is not None and reply(sim, 100 + k).ok for k in range(10))  # type: ignore[union-attr]
    snapshots = {n.machine.snapshot() for n in sim.nodes.values()}
    assert len(snapshots) == 1 and sim.nodes["s1"].machine.custom == {"k0": 9, "k1": 7, "k2": 8}
    # every node applied the same entries, in index order, each once (no crash: one incarnation)
    orders = {n: [(e.index, e.value) for e in sim.applied[n]] for n in sim.node_ids}
    assert orders["s1"] == orders["s2"] == orders["s3"] and not sim.divergences
    assert [index for index, _ in orders["s1"]] == list(range(1, len(orders["s1"]) + 1))
    assert sim.applied_by_index["s1"] == dict(orders["s1"])


def test_leader_crash_and_reelection_keep_committed_writes() -> None:
    sim = raft_cluster(3, seed=13)
    old = elect(sim)
    write(sim, old, "x", 1, 1)
    sim.run(until=sim.now + 100)
    assert reply(sim, 1) is not None
    term = sim.nodes[old].term
    sim.crash(old)
    new = elect(sim)
    assert new != old and sim.nodes[new].term > term
    assert sim.nodes[new].machine.custom == {"x": 1}  # Leader Completeness (section 5.4)
    sim.recover(old)
    write(sim, new, "x", 2, 2)
    sim.run(until=sim.now + 500)
    assert {n.machine.snapshot() for n in sim.nodes.values()} == {sim.nodes[new].machine.snapshot()}


def test_partition_and_heal_replace_an_isolated_leaders_uncommitted_writes() -> None:
    sim = raft_cluster(3, seed=14)
    old = elect(sim)
    rest = [i for i in sim.node_ids if i != old]
    sim.partition([[old], rest])
    write(sim, old, "lost", 1, 1)  # appended by the old leader, never committed
    new = elect(sim, rest)
    assert new in rest and sim.nodes[old].role == LEADER  # the old leader does not know yet
    write(sim, new, "kept", 2, 2)
    sim.run(until=sim.now + 200)
    sim.heal()
    sim.run(until=sim.now + 500)
    assert sim.nodes[old].role == FOLLOWER
    lost = reply(sim, 1)
    assert lost is not None and lost.error == "leadership lost: outcome unknown" and lost.unknown
    assert lost.leader in (None, new)  # deposed by a vote request, or by the new leader itself
    assert {n.machine.snapshot() for n in sim.nodes.values()} == {sim.nodes[new].machine.snapshot()}
    assert sim.nodes[old].machine.custom == {"kept": 2} and not sim.divergences


def test_restart_comes_back_with_what_was_persisted_and_catches_up() -> None:
    sim = raft_cluster(3, seed=15)
    leader = elect(sim)
    for k in range(3):
        write(sim, leader, "k", k, k)
    sim.run(until=sim.now + 200)
    follower = next(i for i in sim.node_ids if i != leader)
    before = sim.nodes[follower]
    sim.restart(follower)
    after = sim.nodes[follower]
    assert after is not before
    assert (after.term, after.voted_for, after.log.entries) == (
        before.term,
        before.voted_for,
        before.log.entries,
    )
    assert after.commit_index == 0 and after.machine.applied == 0  # volatile: gone
    sim.run(until=sim.now + 200)
    assert (
        after.commit_index == before.commit_index
        and after.machine.snapshot() == before.machine.snapshot()
    )


def test_lagging_follower_gets_the_snapshot() -> None:
    """Section 7: the leader compacted what the follower lacks, so it sends its snapshot."""
    sim = raft_cluster(3, seed=16, snapshot_interval=5)
    leader = elect(sim)
    lagging = next(i for i in sim.node_ids if i != leader)
    sim.crash(lagging)
    for k in range(12):
        write(sim, leader, f"k{k}", k, k)
        sim.run(until=sim.now + 20)
    sim.run(until=sim.now + 100)
    assert sim.nodes[leader].log.snapshot_index >= 10
    sim.recover(lagging)
    sim.run(until=sim.now + 300)
    follower = sim.nodes[lagging]
    assert any(
        s.action == "HandleInstallSnapshotRequest" and s.params["i"] == lagging
        for s in sim.trace().steps
    )
    assert (
        follower.log.snapshot_index > 0 and follower.commit_index == sim.nodes[leader].commit_index
    )
    assert follower.machine.snapshot() == sim.nodes[leader].machine.snapshot()


@pytest.mark.parametrize("bugs", [(), (mutants.READ_WITHOUT_QUORUM,)])
def test_a_deposed_leader_cannot_serve_a_stale_read(bugs: tuple[str, ...]) -> None:
    """Thesis 6.4: a leader cut off from the majority cannot confirm its leadership, so its read
    never sees the old value after the majority has committed a new one."""
    sim = raft_cluster(3, seed=17, bugs=frozenset(bugs))
    old = elect(sim)
    write(sim, old, "x", 1, 1)
    sim.run(until=sim.now + 100)
    rest = [i for i in sim.node_ids if i != old]
    sim.partition([[old], rest])
    new = elect(sim, rest)
    write(sim, new, "x", 2, 2)
    sim.run(until=sim.now + 100)
    assert reply(sim, 2) is not None and reply(sim, 2).ok  # type: ignore[union-attr]
    sim.inject(old, ClientRead(("custom", "x"), 3))  # the old leader still believes it leads
    sim.run(until=sim.now + 300)
    answer = reply(sim, 3)
    if bugs:
        assert answer is not None and answer.result["value"] == 1  # stale: x=2 completed before
        return
    assert answer is None  # waiting for acks it will never get
    sim.heal()
    sim.run(until=sim.now + 300)
    assert reply(sim, 3) == Reply(3, error="leadership lost", leader=None)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_free_runs_under_faults_keep_raft_safe(seed: int) -> None:
    """Election Safety and State Machine Safety over every step of a fault-heavy run."""
    sim = raft_cluster(
        5,
        seed=seed,
        faults=Faults(drop=0.05, duplicate=0.05, delay=0.05, crash=0.3, partition=0.3),
        workload=Workload(every=20, reads=0.2, until=3000),
        snapshot_interval=8,
    )
    sim.run(until=4000)
    leaders_by_term: dict[int, set[str]] = {}
    for step in sim.trace().steps:
        for i, role in step.state["role"].items():
            if role == LEADER:
                leaders_by_term.setdefault(step.state["currentTerm"][i], set()).add(i)
    assert leaders_by_term and all(len(v) == 1 for v in leaders_by_term.values())
    assert not sim.divergences and sim.client is not None and sim.client.writes_ok >= 5


def test_bad_node_configuration_is_one_line() -> None:
    with pytest.raises(ImplError, match="unknown Raft mutant nope"):
        RaftConfig("s1", SERVERS, bugs=frozenset({"nope"}))
    with pytest.raises(ImplError, match="heartbeat_interval"):
        RaftConfig("s1", SERVERS, heartbeat_interval=200)
    with pytest.raises(ImplError, match="not one of the servers"):
        RaftConfig("s9", SERVERS)


def test_a_node_is_started_by_restart_and_refuses_what_is_not_raft() -> None:
    node = RaftNode(RaftConfig("s1", SERVERS), random.Random(0))
    with pytest.raises(
        RuntimeError, match=r"^s1: step\(Tick.*before Restart: start the node first$"
    ):
        node.step(Tick(ELECTION))
    # a fresh node's Restart loads nothing and writes nothing: it only arms its election timer
    effects = without_actions(node.step(Restart(Durable().view())))
    assert [type(e).__name__ for e in effects] == ["SetTimer"]
    with pytest.raises(TypeError, match=r"^s1: not a Raft message: 'hello'$"):
        node.step(Deliver("s2", "hello"))
    with pytest.raises(TypeError, match=r"^s1: not a Raft event: 42$"):
        node.step(42)


def test_replicate_sends_only_from_a_leader_to_one_of_its_peers() -> None:
    """Replicate (the lockstep driver's AppendEntries(i, j)) is a leader's send to a peer; to
    anyone else, or on a node that does not lead, it does nothing."""
    follower = Box()
    assert follower.step(Replicate("s2")) == []
    box = Box()
    box.elect()
    assert box.step(Replicate("s1")) == [] and box.step(Replicate("s9")) == []
    assert [m.dest for m in sent(box.step(Replicate("s3")))] == ["s3"]


def test_each_step_reports_its_spec_action_with_the_actions_parameters() -> None:
    """A step's first report is specs/Raft.tla's action with its parameters: a message's handler
    names the sender (j) and the message as the spec's record (m), a client request its value (v).
    The traces written for users carry them."""
    box = Box("s2")
    request = AppendEntriesRequest("s1", "s2", 1, 0, 0, (), 0, 0)
    box.deliver(request)
    assert box.reported[0] == Action(
        "HandleAppendEntriesRequest",
        FrozenDict({"i": "s2", "j": "s1", "m": message_record(request)}),
    )
    box.step(ClientRequest("w", 7))
    assert box.reported[0] == Action("ClientRequest", FrozenDict({"i": "s2", "v": "w"}))


# -- the refinement mapping against the spec ------------------------------------------------------------

mutants_ids = ["read_without_quorum", "forget_voted_for"]


@pytest.fixture(scope="module")
def spec() -> Stepper:
    """Raft.tla under the trace-validation model (property_tests/raft/models/Validate.cfg)."""
    from meshcheck.property_tests.raft.validation import validation_stepper

    return validation_stepper()


@pytest.mark.parametrize(
    "bugs",
    [(), (mutants.READ_WITHOUT_QUORUM,), (mutants.FORGET_VOTED_FOR,)],
    ids=["raft", *mutants_ids],
)
def test_every_step_of_a_faulty_run_is_a_step_of_the_spec(
    bugs: tuple[str, ...], spec: Stepper
) -> None:
    """The refinement mapping of each state of a run with crashes, partitions, drops, duplicates,
    snapshots and reads is a state of specs/Raft.tla and each step a step of it; the same run with
    a mutant is not (the check can fail)."""
    sim = raft_cluster(
        3,
        seed=5,
        faults=Faults(drop=0.05, duplicate=0.05, delay=0.05, crash=0.3, partition=0.2),
        workload=Workload(every=30, reads=0.3, until=1200, make=lambda n: f"v{1 + n % 2}"),
        snapshot_interval=5,
        budget=validation_model()[2],  # the model's Max* constants
        bugs=frozenset(bugs),
    )
    sim.run(until=1500)
    trace = sim.trace()
    wanted = {
        "Restart",
        "DropMessage",
        "TakeSnapshot",
        "CompleteRead",
        "HandleAppendEntriesRequest",
    }
    assert wanted <= {s.action for s in trace.steps}
    problem = first_step_not_in_spec(trace, spec)
    if not bugs:
        assert problem is None, problem
    else:
        assert problem is not None and "not a step of the spec" in problem


def test_only_a_leader_or_a_granted_vote_resets_the_election_timer() -> None:
    """Figure 2, followers: a higher term alone does not reset the timer. A candidate whose log is
    behind (it cannot win) must not keep the node that can win from timing out first."""
    box = Box("s2", disk={HARD: (3, None), LOG: log_of(1, 3)})
    refused = box.deliver(RequestVoteRequest("s3", "s2", 4, 1, 1))  # a stale log, a higher term
    assert sent(refused) == [RequestVoteResponse("s2", "s3", 4, False)]
    assert not [e for e in refused if isinstance(e, SetTimer) and e.timer == ELECTION]
    granted = box.deliver(RequestVoteRequest("s1", "s2", 5, 3, 2))
    assert sent(granted) == [RequestVoteResponse("s2", "s1", 5, True)]
    assert [e for e in granted if isinstance(e, SetTimer) and e.timer == ELECTION]
    # a leader that steps down has no election timer running: it gets one
    leader = Box(disk={HARD: (1, None), LOG: log_of(1)})
    leader.elect()
    deposed = leader.deliver(RequestVoteRequest("s3", "s1", 9, 0, 0))
    assert leader.node.role == FOLLOWER
    assert [e for e in deposed if isinstance(e, SetTimer) and e.timer == ELECTION]
