"""One scenario test per receiver rule of Raft, in the manner of etcd-io/raft's raft_paper_test.go.

Each test names its rule (Ongaro and Ousterhout, "In Search of an Understandable Consensus
Algorithm", USENIX ATC 2014: Figure 2 and section 7's InstallSnapshot, Figure 13 of the extended
version; Ongaro's thesis, section 6.4, for ReadIndex), drives one node by hand (a leader gets its
peers' responses by hand too) and asserts the exact effects and state. A rule broken in one line
fails its test in milliseconds: tests/test_rule_mutations.py breaks each rule in one line of the
core and checks that the test of that rule fails, and that every catalogue mutant
(impl/raft/mutants.py) fails at least one of these tests.

The tests build their nodes with the mutants in `BUGS_UNDER_TEST` (none here), which is how the
mutation check switches a catalogue mutant on without touching the tests.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.raft import CANDIDATE
from meshcheck.impl.raft import ELECTION
from meshcheck.impl.raft import FOLLOWER
from meshcheck.impl.raft import HEARTBEAT
from meshcheck.impl.raft import LEADER
from meshcheck.impl.raft import READ
from meshcheck.impl.raft import READ_NEXT
from meshcheck.impl.raft import AppendEntriesRequest
from meshcheck.impl.raft import AppendEntriesResponse
from meshcheck.impl.raft import Entry
from meshcheck.impl.raft import InstallSnapshotRequest
from meshcheck.impl.raft import InstallSnapshotResponse
from meshcheck.impl.raft import RaftConfig
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft import RequestVoteRequest
from meshcheck.impl.raft import RequestVoteResponse
from meshcheck.impl.raft.node import HARD
from meshcheck.impl.raft.node import LOG
from meshcheck.impl.raft.node import NOT_LEADER
from meshcheck.impl.rsm import NOOP
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import StateMachine
from meshcheck.impl.sim.storage import Durable
from tests import stepped

SERVERS = ("s1", "s2", "s3")
# the mutation check (tests/test_rule_mutations.py) switches catalogue mutants on here
BUGS_UNDER_TEST: frozenset[str] = frozenset()


class Box:
    """One node with its durable store: step it by hand, restart it from what it persisted."""

    def __init__(
        self,
        node_id: str = "s1",
        term: int = 0,
        log: tuple[Entry, ...] = (),
        servers: tuple[str, ...] = SERVERS,
    ) -> None:
        self.config = RaftConfig(node_id, servers, bugs=BUGS_UNDER_TEST)
        self.disk = Durable()
        self.disk.apply([Put(HARD, (term, None)), Put(LOG, log)])
        self.restart()

    def restart(self) -> list[Effect]:
        self.node = RaftNode(self.config, random.Random(0))
        return self.step(Restart(self.disk.view()))

    def step(self, event: Any) -> list[Effect]:
        _, effects = stepped.step(self.node, self.disk, event)
        return effects

    def deliver(self, message: Any) -> list[Effect]:
        return self.step(Deliver(message.source, message))

    def elect(self) -> list[Effect]:
        """Time out and win with s2's vote (the leader appends its no-op, section 8)."""
        self.step(Tick(ELECTION))
        return self.deliver(RequestVoteResponse("s2", self.node.id, self.node.term, True))


def role_of(box: Box) -> str:
    """The node's role, read afresh (not narrowed by an earlier assertion)."""
    return box.node.role


def sent(effects: list[Effect]) -> list[Any]:
    return [e.message for e in effects if isinstance(e, Send)]


def timers(effects: list[Effect]) -> list[str]:
    return [e.timer for e in effects if isinstance(e, SetTimer)]


def applied(effects: list[Effect]) -> list[tuple[int, Any]]:
    return [(e.index, e.value) for e in effects if isinstance(e, Apply)]


def log_of(*terms: int) -> tuple[Entry, ...]:
    """Entries of these terms, values x1, x2, ... by index."""
    return tuple(Entry(t, f"x{k}") for k, t in enumerate(terms, 1))


def hard_writes(effects: list[Effect]) -> list[Any]:
    return [
        w.value
        for e in effects
        if isinstance(e, Persist)
        for w in e.writes
        if isinstance(w, Put) and w.key == HARD
    ]


# == Figure 2, Rules for Servers: all servers ==========================================================


def test_all_servers_apply_committed_entries_in_order() -> None:
    """Figure 2, all servers: if commitIndex > lastApplied, increment lastApplied and apply
    log[lastApplied] to the state machine, in index order, each entry once."""
    box = Box("s2", term=1)
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 1, 0, 0, log_of(1, 1, 1), 2, 0))
    assert applied(effects) == [(1, "x1"), (2, "x2")]
    assert (box.node.commit_index, box.node.machine.applied) == (2, 2)
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 1, 3, 1, (), 3, 0))
    assert applied(effects) == [(3, "x3")]  # only the newly committed one
    assert box.node.machine.applied == 3


@pytest.mark.parametrize("role", [FOLLOWER, CANDIDATE, LEADER])
def test_all_servers_adopt_a_higher_term_and_become_followers(role: str) -> None:
    """Figure 2, all servers: if an RPC request or response contains term T > currentTerm, set
    currentTerm = T and convert to follower (section 5.1); the new term is persisted, with no vote."""
    box = Box(term=1)
    if role != FOLLOWER:
        box.step(Tick(ELECTION))  # candidate of term 2
    if role == LEADER:
        box.deliver(RequestVoteResponse("s2", "s1", 2, True))
    assert box.node.role == role
    effects = box.deliver(RequestVoteResponse("s3", "s1", 7, False))
    assert (box.node.role, box.node.term, box.node.voted_for) == (FOLLOWER, 7, None)
    assert hard_writes(effects) == [(7, None)]
    assert box.disk.get(HARD) == (7, None)


# == Figure 2, followers =============================================================================


def test_followers_hearing_from_the_leader_stay_followers() -> None:
    """Figure 2, followers: respond to RPCs from candidates and leaders (section 5.2: a server
    remains a follower as long as it receives valid RPCs from a leader): every AppendEntries of the
    current term restarts the election timer and is answered."""
    box = Box("s2", term=2)
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 2, 0, 0, (), 0, 0))
    assert timers(effects) == [ELECTION]
    assert sent(effects) == [AppendEntriesResponse("s2", "s1", 2, True, 0, 0)]
    assert (box.node.role, box.node.leader) == (FOLLOWER, "s1")


def test_followers_time_out_and_become_candidates() -> None:
    """Figure 2, followers: if the election timeout elapses without AppendEntries from the current
    leader or a vote granted, convert to candidate."""
    box = Box(term=3)
    box.deliver(AppendEntriesRequest("s2", "s1", 3, 0, 0, (), 0, 0))
    assert box.node.leader == "s2"
    box.step(Tick(ELECTION))
    assert (box.node.role, box.node.term) == (CANDIDATE, 4)
    # a candidate knows no leader of its new term, and tells a client so
    assert box.step(ClientRequest("w", 1)) == [Reply(1, error=NOT_LEADER, leader=None)]


# == Figure 2, candidates ============================================================================


def test_candidates_increment_term_vote_for_self_reset_timer_and_request_votes() -> None:
    """Figure 2, candidates: on conversion to candidate, start an election: increment currentTerm,
    vote for self, reset the election timer, send RequestVote RPCs to all other servers (carrying
    the last log index and term, section 5.4.1); the term and vote are durable before the sends."""
    box = Box(term=4, log=log_of(1, 3))
    effects = box.step(Tick(ELECTION))
    assert (box.node.term, box.node.voted_for, box.node.votes_granted) == (
        5,
        "s1",
        frozenset({"s1"}),
    )
    assert isinstance(effects[0], Persist) and effects[0].writes[0] == Put(HARD, (5, "s1"))
    assert timers(effects) == [ELECTION]
    assert sent(effects) == [
        RequestVoteRequest("s1", "s2", 5, 3, 2),
        RequestVoteRequest("s1", "s3", 5, 3, 2),
    ]


def test_candidates_win_with_votes_from_a_majority() -> None:
    """Figure 2, candidates: if votes are received from a majority of servers, become leader. A
    denied vote and a vote of an earlier term do not count; its own vote does."""
    box = Box(term=1)
    box.step(Tick(ELECTION))  # term 2
    box.deliver(RequestVoteResponse("s2", "s1", 2, False))
    assert box.node.role == CANDIDATE
    box.step(Tick(ELECTION))  # term 3
    box.deliver(RequestVoteResponse("s2", "s1", 2, True))  # granted, but in term 2
    assert (box.node.role, box.node.votes_granted) == (CANDIDATE, frozenset({"s1"}))
    box.deliver(RequestVoteResponse("s3", "s1", 3, True))
    assert role_of(box) == LEADER


@pytest.mark.parametrize("n", [2, 4, 6, 8])
def test_candidates_need_more_than_half_the_votes_at_even_sizes(n: int) -> None:
    """Section 5.2: a candidate wins with votes from a majority of the servers, so that two
    elections of one term cannot both succeed. At an even size half is no majority: with 4
    servers, s1 and s2 could win one term while s3 and s4 win it too."""
    box = Box(term=1, servers=tuple(f"s{k}" for k in range(1, n + 1)))
    box.step(Tick(ELECTION))  # term 2, its own vote
    for k in range(2, n // 2 + 1):  # half the servers, itself included
        box.deliver(RequestVoteResponse(f"s{k}", "s1", 2, True))
    assert role_of(box) == CANDIDATE
    box.deliver(RequestVoteResponse(f"s{n // 2 + 1}", "s1", 2, True))  # one more: a majority
    assert role_of(box) == LEADER


def test_candidates_step_down_on_append_entries_from_a_leader_of_their_term() -> None:
    """Figure 2, candidates: if AppendEntries RPC received from new leader, convert to follower
    (section 5.2: if the leader's term is at least the candidate's current term)."""
    box = Box("s2", term=1)
    box.step(Tick(ELECTION))  # candidate of term 2
    effects = box.deliver(AppendEntriesRequest("s3", "s2", 2, 0, 0, (), 0, 0))
    assert (box.node.role, box.node.term, box.node.leader) == (FOLLOWER, 2, "s3")
    assert box.node.voted_for == "s2"  # the vote of its own election stands
    assert sent(effects) == [AppendEntriesResponse("s2", "s3", 2, True, 0, 0)]


def test_candidates_start_a_new_election_on_timeout() -> None:
    """Figure 2, candidates: if the election timeout elapses, start a new election (next term)."""
    box = Box(term=1)
    box.step(Tick(ELECTION))
    effects = box.step(Tick(ELECTION))
    assert (box.node.role, box.node.term, box.node.voted_for) == (CANDIDATE, 3, "s1")
    assert [m.term for m in sent(effects)] == [3, 3]


# == Figure 2, leaders ===============================================================================


def test_leaders_send_heartbeats_on_election_and_when_idle() -> None:
    """Figure 2, leaders: upon election send initial AppendEntries to each server; repeat during
    idle periods to prevent election timeouts (the heartbeat timer, re-armed each time)."""
    box = Box(term=1)
    effects = box.elect()
    assert [(m.dest, m.term, m.prev_log_index) for m in sent(effects)] == [
        ("s2", 2, 0),
        ("s3", 2, 0),
    ]
    assert HEARTBEAT in timers(effects)
    # a leader does not time out (section 5.2): its election timer goes; it names itself leader
    assert CancelTimer(ELECTION) in effects and ELECTION not in timers(effects)
    assert box.node.leader == "s1"
    effects = box.step(Tick(HEARTBEAT))
    assert timers(effects) == [HEARTBEAT]
    assert [type(m).__name__ + m.dest for m in sent(effects)] == [
        "AppendEntriesRequests2",
        "AppendEntriesRequests3",
    ]


def test_leaders_append_client_commands_and_answer_once_applied() -> None:
    """Figure 2, leaders: if command received from client, append entry to local log, respond
    after entry applied to state machine. A follower refuses and names the leader it knows."""
    box = Box(term=1)
    box.elect()  # term 2, no-op at 1
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 0))  # the no-op commits
    effects = box.step(ClientRequest("w", 9))
    assert box.node.log.entries[-1] == Entry(2, "w")
    assert [w for e in effects if isinstance(e, Persist) for w in e.writes] == [
        Splice(LOG, 1, (Entry(2, "w"),))
    ]
    assert not [e for e in effects if isinstance(e, Reply)]  # not applied yet
    effects = box.deliver(AppendEntriesResponse("s3", "s1", 2, True, 2, 0))
    result = FrozenDict({"ok": True, "opaque": True})
    # the state machine's result goes to the client and with the Apply the embedding sees
    assert [e for e in effects if isinstance(e, Apply)] == [Apply(2, "w", result)]
    assert [e for e in effects if isinstance(e, Reply)] == [Reply(9, result, leader="s1")]
    follower = Box("s2", term=2)
    follower.deliver(AppendEntriesRequest("s1", "s2", 2, 0, 0, (), 0, 0))
    assert follower.step(ClientRequest("w", 3)) == [Reply(3, error=NOT_LEADER, leader="s1")]


def test_leaders_of_a_cluster_of_one_commit_a_client_command_at_once() -> None:
    """Figure 2, leaders: append the command, respond after it is applied; with no peers the
    leader alone is a majority (section 5.3), so the entry commits and applies in the same step."""
    box = Box()
    box.config = RaftConfig("s1", ("s1",), bugs=BUGS_UNDER_TEST)
    box.restart()
    box.step(Tick(ELECTION))  # elected alone; its no-op commits
    effects = box.step(ClientRequest("w", 4))
    assert box.node.commit_index == 2 and applied(effects) == [(2, "w")]
    assert [e.request_id for e in effects if isinstance(e, Reply)] == [4]


def test_a_deposed_leader_answers_its_pending_writes_outcome_unknown() -> None:
    """Section 8 (client interaction) with section 5.4.2: a leader that steps down with writes it
    appended but has not applied cannot say they failed: each is in its log, may be on a majority,
    and a later leader may commit it. It answers "outcome unknown" (the client must treat the write
    as maybe applied), never "not leader", which a client reads as "not applied"."""
    box = Box(term=1)
    box.elect()  # term 2, no-op at 1
    box.step(ClientRequest("w", 9))
    effects = box.deliver(RequestVoteResponse("s3", "s1", 5, False))  # a higher term: deposed
    assert box.node.role == FOLLOWER
    (answer,) = [e for e in effects if isinstance(e, Reply)]
    assert answer.request_id == 9 and answer.unknown and answer.error != NOT_LEADER


def test_a_restarted_leader_answers_none_of_the_writes_it_held() -> None:
    """Figure 2 lists the leader's table of client writes awaiting their commit nowhere: it is
    volatile. A leader that crashes with a write appended and not committed restarts with no
    table; when it applies that index, where the next leader put another write, it answers
    nobody (the other write's client is answered by its own leader; this one's outcome stays
    unknown to its client, who never heard back)."""
    box = Box(term=1)
    box.elect()  # term 2, no-op at 1
    box.step(ClientRequest("w", 9))  # index 2, not committed
    box.restart()
    # s3 leads term 3: its entry at 2 replaces "w", and index 2 is committed
    effects = box.deliver(AppendEntriesRequest("s3", "s1", 3, 1, 2, (Entry(3, "other"),), 2, 0))
    assert applied(effects) == [(1, NOOP), (2, "other")]
    assert [e for e in effects if isinstance(e, Reply)] == []


def test_a_restarted_server_owes_no_client_an_answer() -> None:
    """Figure 2: only currentTerm, votedFor and log[] are persistent; all else is volatile, gone in
    a crash. A leader that crashes with a write pending comes back a follower that knows of no
    client: when the next leader commits the entry, the restarted server applies it and answers
    nobody (section 8: the leader that took a request answers it)."""
    box = Box(term=1)
    box.elect()  # term 2, no-op at 1
    box.step(ClientRequest("w", 9))  # at 2, pending
    box.restart()  # the crash: what it persisted (term 2, the no-op and "w") survives
    assert box.node.role == FOLLOWER
    effects = box.deliver(AppendEntriesRequest("s2", "s1", 3, 2, 2, (), 2, 0))
    assert applied(effects) == [(1, NOOP), (2, "w")]
    assert [e for e in effects if isinstance(e, Reply)] == []


def test_a_leader_deposed_by_the_next_leader_names_it_to_its_waiting_clients() -> None:
    """Section 8: a server that is not the leader redirects clients to the leader it knows. Deposed
    by the new leader's AppendEntries, the old leader knows it: the answers to its pending write
    and read carry it, so the clients retry there."""
    box = Box(term=1)
    box.elect()  # term 2, no-op at 1
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1))  # the no-op commits: reads may start
    box.step(ClientRequest("w", 9))
    box.step(ClientRead("r", 10))
    effects = box.deliver(AppendEntriesRequest("s3", "s1", 5, 2, 2, (), 0, 0))
    assert box.node.role == FOLLOWER and box.node.leader == "s3"
    assert CancelTimer(HEARTBEAT) in effects  # a follower sends no heartbeats
    answers = {e.request_id: e for e in effects if isinstance(e, Reply)}
    assert set(answers) == {9, 10}
    assert answers[9].unknown and answers[9].leader == "s3"
    assert answers[10].error is not None and answers[10].leader == "s3"


def test_a_follower_names_the_leader_it_follows_to_a_read() -> None:
    """Section 8: a server that is not the leader rejects a client's request and supplies the
    most recent leader it has heard from; a read sent to a follower of s2 is answered "not
    leader", naming s2, so the client retries there."""
    box = Box(term=1)
    box.deliver(AppendEntriesRequest("s2", "s1", 1, 0, 0, (), 0, 0))
    assert (box.node.role, box.node.leader) == (FOLLOWER, "s2")
    effects = box.step(ClientRead("r", 10))
    assert [e for e in effects if isinstance(e, Reply)] == [
        Reply(10, error=NOT_LEADER, leader="s2")
    ]


def test_leaders_replicate_from_next_index() -> None:
    """Figure 2, leaders: if last log index >= nextIndex for a follower, send AppendEntries with
    log entries starting at nextIndex, prevLogIndex = nextIndex - 1 and its term."""
    box = Box(term=2, log=log_of(1, 2, 2))
    box.elect()  # term 3, no-op at 4, nextIndex 4
    box.node.next_index["s2"] = 2  # as after two rejections
    effects = box.step(Tick(HEARTBEAT))
    assert sent(effects)[0] == AppendEntriesRequest(
        "s1", "s2", 3, 1, 1, (Entry(2, "x2"), Entry(2, "x3"), Entry(3, NOOP)), 0, 0
    )


def test_leaders_update_next_and_match_index_on_success() -> None:
    """Figure 2, leaders: if successful, update nextIndex and matchIndex for the follower (never
    backwards: a reordered older success leaves them)."""
    box = Box(term=1, log=log_of(1, 1))
    box.elect()  # term 2, no-op at 3
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 3, 0))
    assert (box.node.match_index["s2"], box.node.next_index["s2"]) == (3, 4)
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 0))  # older, reordered
    assert (box.node.match_index["s2"], box.node.next_index["s2"]) == (3, 4)


def test_leaders_decrement_next_index_and_retry_on_failure() -> None:
    """Figure 2, leaders: if AppendEntries fails because of log inconsistency, decrement nextIndex
    and retry (section 5.3). The follower lacks index 2: its hint names index 2."""
    box = Box(term=1, log=log_of(1, 1))
    box.elect()  # term 2, no-op at 3, nextIndex 3
    rejection = AppendEntriesResponse("s2", "s1", 2, False, 0, 0, conflict_term=0, conflict_index=2)
    effects = box.deliver(rejection)
    assert box.node.next_index["s2"] == 2
    assert sent(effects) == [
        AppendEntriesRequest("s1", "s2", 2, 1, 1, (Entry(1, "x2"), Entry(2, NOOP)), 0, 0)
    ]


def test_leaders_skip_back_to_the_followers_hint_in_one_round_trip() -> None:
    """Section 5.3, last paragraphs (fast backup): a rejection carries the follower's conflicting
    term and the first index it stores for it (or its log's end); the leader moves nextIndex there
    at once instead of one entry per round trip, never below matchIndex + 1."""
    box = Box(term=1, log=log_of(1, 1, 1, 1, 1))
    box.elect()  # term 2, no-op at 6, nextIndex 6
    rejection = AppendEntriesResponse("s2", "s1", 2, False, 0, 0, conflict_term=0, conflict_index=3)
    effects = box.deliver(rejection)
    assert box.node.next_index["s2"] == 3
    (request,) = sent(effects)
    assert isinstance(request, AppendEntriesRequest)
    assert (request.prev_log_index, request.prev_log_term) == (2, 1)
    # a stale rejection naming an index below what the follower is known to hold moves nothing back
    # the follower holds index 2 of another term, first at 2: back to 2, not past it
    box.node.next_index["s2"] = 6
    other = AppendEntriesResponse("s2", "s1", 2, False, 0, 0, conflict_term=1, conflict_index=2)
    box.deliver(other)
    assert box.node.next_index["s2"] == 2
    box.node.match_index["s2"] = 4
    box.node.next_index["s2"] = 5
    stale = AppendEntriesResponse("s2", "s1", 2, False, 0, 0, conflict_term=1, conflict_index=1)
    box.deliver(stale)
    assert box.node.next_index["s2"] == 5


def test_leaders_commit_an_entry_of_their_term_stored_on_a_majority() -> None:
    """Figure 2, leaders: if there exists an N > commitIndex such that a majority of matchIndex[i]
    >= N and log[N].term == currentTerm, set commitIndex = N. The leader's own copy is not a
    majority of three; one follower's makes one."""
    box = Box(term=1)
    box.elect()  # term 2, no-op at 1
    box.step(ClientRequest("w", 1))
    assert box.node.commit_index == 0
    box.deliver(AppendEntriesResponse("s3", "s1", 2, True, 1, 0))
    assert box.node.commit_index == 1
    effects = box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 2, 0))
    assert box.node.commit_index == 2
    assert applied(effects) == [(2, "w")]


def test_leaders_commit_only_entries_of_their_term_by_counting() -> None:
    """Figure 2, leaders (log[N].term == currentTerm), and section 5.4.2, Figure 8: an entry of an
    earlier term is not committed by counting replicas, only with an entry of the leader's term
    after it."""
    box = Box(term=2, log=log_of(1, 2))
    box.elect()  # term 3, no-op at 3
    box.deliver(AppendEntriesResponse("s2", "s1", 3, True, 2, 0))  # a majority holds index 2
    assert box.node.commit_index == 0
    effects = box.deliver(AppendEntriesResponse("s2", "s1", 3, True, 3, 0))
    assert box.node.commit_index == 3
    assert applied(effects) == [(1, "x1"), (2, "x2"), (3, NOOP)]


# == Figure 2, RequestVote RPC, receiver implementation ==============================================


def test_request_vote_rule_1_reply_false_if_term_is_stale() -> None:
    """Figure 2, RequestVote receiver 1: reply false if term < currentTerm (with currentTerm, so the
    candidate learns it)."""
    box = Box("s2", term=5)
    effects = box.deliver(RequestVoteRequest("s1", "s2", 4, 9, 9))
    assert sent(effects) == [RequestVoteResponse("s2", "s1", 5, False)]
    assert (box.node.term, box.node.voted_for) == (5, None)
    assert not [e for e in effects if isinstance(e, Persist)]


def test_request_vote_rule_2_one_vote_per_term() -> None:
    """Figure 2, RequestVote receiver 2: if votedFor is null or candidateId (and the log is up to
    date), grant the vote: the first candidate gets it, a second one in the same term does not, the
    first one asking again does. Granting resets the election timer (followers' rule)."""
    box = Box("s2", term=1)
    effects = box.deliver(RequestVoteRequest("s1", "s2", 1, 0, 0))
    assert sent(effects) == [RequestVoteResponse("s2", "s1", 1, True)]
    assert timers(effects) == [ELECTION]
    assert box.node.voted_for == "s1"
    assert sent(box.deliver(RequestVoteRequest("s3", "s2", 1, 0, 0))) == [
        RequestVoteResponse("s2", "s3", 1, False)
    ]
    assert sent(box.deliver(RequestVoteRequest("s1", "s2", 1, 0, 0))) == [
        RequestVoteResponse("s2", "s1", 1, True)
    ]


@pytest.mark.parametrize(
    ("last_term", "last_index", "granted"),
    [
        (1, 9, False),  # an earlier last term, however long
        (2, 2, False),  # the same last term, shorter
        (2, 3, True),  # the same last term, as long
        (2, 4, True),  # the same last term, longer
        (3, 1, True),  # a later last term, however short
    ],
)
def test_request_vote_rule_2_candidate_log_at_least_as_up_to_date(
    last_term: int, last_index: int, granted: bool
) -> None:
    """Figure 2, RequestVote receiver 2 and section 5.4.1: grant only if the candidate's log is at
    least as up-to-date as the receiver's: a later last term, or the same last term and at least as
    long."""
    box = Box("s2", term=2, log=log_of(1, 2, 2))
    effects = box.deliver(RequestVoteRequest("s1", "s2", 3, last_term, last_index))
    assert sent(effects) == [RequestVoteResponse("s2", "s1", 3, granted)]
    assert box.node.voted_for == ("s1" if granted else None)


def test_request_vote_voted_for_is_persistent() -> None:
    """Figure 2, persistent state: votedFor is on stable storage before the response leaves, so a
    restarted server does not vote twice in one term (a vote in the term it already has: the vote
    alone must make the write)."""
    box = Box("s2", term=2)
    effects = box.deliver(RequestVoteRequest("s1", "s2", 2, 0, 0))
    assert hard_writes(effects) == [(2, "s1")]
    assert effects.index(next(e for e in effects if isinstance(e, Persist))) < effects.index(
        next(e for e in effects if isinstance(e, Send))
    )
    box.restart()
    assert (box.node.term, box.node.voted_for) == (2, "s1")
    assert sent(box.deliver(RequestVoteRequest("s3", "s2", 2, 0, 0))) == [
        RequestVoteResponse("s2", "s3", 2, False)
    ]


# == Figure 2, AppendEntries RPC, receiver implementation ============================================


def test_append_entries_rule_1_reply_false_if_term_is_stale() -> None:
    """Figure 2, AppendEntries receiver 1: reply false if term < currentTerm; nothing changes (the
    log, the leader hint, the election timer)."""
    box = Box("s2", term=3, log=log_of(1))
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 2, 1, 1, log_of(1, 2)[1:], 2, 0))
    assert effects == [Send("s1", AppendEntriesResponse("s2", "s1", 3, False, 0, 0))]
    assert (box.node.log.entries, box.node.commit_index, box.node.leader) == (
        list(log_of(1)),
        0,
        None,
    )


@pytest.mark.parametrize(
    ("prev_index", "prev_term", "hint"),
    # no entry at prevLogIndex: term 0 and the index past the log; an entry there of another
    # term, older or newer than prevLogTerm: that term and the first index holding it (the
    # fast-backup hint, end of section 5.3)
    [(3, 1, (0, 3)), (2, 3, (2, 2)), (2, 1, (2, 2))],
)
def test_append_entries_rule_2_reply_false_without_a_matching_prev_entry(
    prev_index: int, prev_term: int, hint: tuple[int, int]
) -> None:
    """Figure 2, AppendEntries receiver 2: reply false if the log does not contain an entry at
    prevLogIndex whose term matches prevLogTerm; the log is left as it is. "Matches" is equality:
    an entry there of a newer term than prevLogTerm (left by a deposed leader of term 2, where
    the leader of term 3 holds a term-1 entry) conflicts as much as an older one."""
    box = Box("s2", term=3, log=log_of(1, 2))
    effects = box.deliver(
        AppendEntriesRequest("s1", "s2", 3, prev_index, prev_term, (Entry(3, "n"),), 0, 0)
    )
    assert sent(effects) == [AppendEntriesResponse("s2", "s1", 3, False, 0, 0, *hint)]
    assert box.node.log.entries == list(log_of(1, 2))


def test_append_entries_rule_3_delete_a_conflicting_entry_and_all_after_it() -> None:
    """Figure 2, AppendEntries receiver 3: if an existing entry conflicts with a new one (same
    index, different terms), delete the existing entry and all that follow it (then append)."""
    box = Box("s2", term=3, log=log_of(1, 1, 2, 2))
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 3, 1, 1, (Entry(1, "x2"),), 0, 0))
    assert box.node.log.entries == list(log_of(1, 1, 2, 2))  # index 2 matches: nothing conflicts
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 3, 2, 1, (Entry(3, "a"),), 0, 0))
    assert box.node.log.entries == [*log_of(1, 1), Entry(3, "a")]
    assert box.disk.get(LOG) == (*log_of(1, 1), Entry(3, "a"))
    assert sent(effects) == [AppendEntriesResponse("s2", "s1", 3, True, 3, 0)]


def test_append_entries_rule_3_deletes_from_the_first_conflict_in_a_batch_of_two_terms() -> None:
    """Figure 2, AppendEntries receiver 3, entry by entry: each new entry is compared with the
    existing entry at its own index, so in a batch whose first entry matches and whose second
    conflicts, the log is cut (and rewritten on disk) from the second index only."""
    box = Box("s2", term=3, log=log_of(1, 1, 2, 2))
    effects = box.deliver(
        AppendEntriesRequest("s1", "s2", 3, 0, 0, (Entry(1, "x1"), Entry(3, "a")), 0, 0)
    )
    assert box.node.log.entries == [Entry(1, "x1"), Entry(3, "a")]
    assert [w for e in effects if isinstance(e, Persist) for w in e.writes] == [
        Splice(LOG, 1, (Entry(3, "a"),))
    ]


def test_append_entries_rule_3_holds_for_a_leader_that_append_deposes() -> None:
    """Figure 2, AppendEntries receiver 3, on a leader the same AppendEntries deposes (a newer
    term's leader whose log took another suffix: two leaders at once, section 5.4.2): it steps down
    and then deletes its own conflicting entries like any follower, before acknowledging."""
    box = Box(term=1, log=log_of(1))
    box.elect()  # s1 leads term 2: its no-op at 2
    box.step(ClientRequest("w", 1))  # and a write at 3, on no one else
    assert [e.term for e in box.node.log.entries] == [1, 2, 2]
    effects = box.deliver(AppendEntriesRequest("s2", "s1", 3, 1, 1, (Entry(3, "b"),), 0, 0))
    assert box.node.role == FOLLOWER
    assert box.node.log.entries == [Entry(1, "x1"), Entry(3, "b")]
    assert [m for m in sent(effects) if isinstance(m, AppendEntriesResponse)] == [
        AppendEntriesResponse("s1", "s2", 3, True, 2, 0)
    ]


def test_append_entries_rule_4_append_new_entries_and_keep_a_matching_suffix() -> None:
    """Figure 2, AppendEntries receiver 4: append any new entries not already in the log. Entries
    already there stay; a delayed request carrying a prefix of the log deletes nothing."""
    box = Box("s2", term=1, log=log_of(1, 1))
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 1, 0, 0, log_of(1, 1, 1), 0, 0))
    assert box.node.log.entries == list(log_of(1, 1, 1))
    assert [w for e in effects if isinstance(e, Persist) for w in e.writes] == [
        Splice(LOG, 2, (Entry(1, "x3"),))
    ]
    assert sent(effects) == [AppendEntriesResponse("s2", "s1", 1, True, 3, 0)]
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 1, 0, 0, log_of(1), 0, 0))
    assert box.node.log.entries == list(log_of(1, 1, 1))
    assert sent(effects) == [AppendEntriesResponse("s2", "s1", 1, True, 1, 0)]


def test_append_entries_rule_5_commit_up_to_min_of_leader_commit_and_last_new_entry() -> None:
    """Figure 2, AppendEntries receiver 5: if leaderCommit > commitIndex, set commitIndex =
    min(leaderCommit, index of last new entry): entries beyond what this request vouches for may
    still be replaced, and a request with a lower leaderCommit lowers nothing."""
    box = Box("s2", term=1, log=log_of(1, 1, 1))
    effects = box.deliver(AppendEntriesRequest("s1", "s2", 1, 1, 1, (), 3, 0))
    assert box.node.commit_index == 1
    assert applied(effects) == [(1, "x1")]
    box.deliver(AppendEntriesRequest("s1", "s2", 1, 1, 1, (Entry(1, "x2"),), 3, 0))
    assert box.node.commit_index == 2
    box.deliver(AppendEntriesRequest("s1", "s2", 1, 3, 1, (), 2, 0))  # leaderCommit is lower
    assert box.node.commit_index == 2
    # a delayed request of the same leader, sent when it had committed only index 1, vouching for
    # no entry: the rule's guard leaves commitIndex where it is (it never decreases)
    box.deliver(AppendEntriesRequest("s1", "s2", 1, 0, 0, (), 1, 0))
    assert box.node.commit_index == 2


# == Section 7 (Figure 13 of the extended paper): InstallSnapshot RPC, receiver implementation =======


def snapshot_of(value: int) -> bytes:
    machine = StateMachine()
    machine.apply(Custom("k", value))
    return machine.snapshot()


def test_install_snapshot_comes_from_the_leader_of_its_term() -> None:
    """Section 7: the leader sends InstallSnapshot; like its AppendEntries (Figure 2, candidates and
    followers) it makes a candidate of its term a follower, and the receiver knows the leader (to
    redirect clients, section 8)."""
    follower = Box("s2", term=2)
    follower.deliver(InstallSnapshotRequest("s1", "s2", 2, 2, 1, snapshot_of(1)))
    assert (role_of(follower), follower.node.leader) == (FOLLOWER, "s1")
    candidate = Box("s2", term=1)
    candidate.step(Tick(ELECTION))  # candidate of term 2
    effects = candidate.deliver(InstallSnapshotRequest("s3", "s2", 2, 2, 1, snapshot_of(1)))
    assert (role_of(candidate), candidate.node.term, candidate.node.leader) == (FOLLOWER, 2, "s3")
    assert sent(effects) == [InstallSnapshotResponse("s2", "s3", 2, 2)]
    assert candidate.node.log.snapshot_index == 2


def test_install_snapshot_rule_1_reply_immediately_if_term_is_stale() -> None:
    """Section 7, InstallSnapshot receiver 1: reply immediately if term < currentTerm (with
    currentTerm); nothing is installed."""
    box = Box("s2", term=4, log=log_of(1, 1))
    effects = box.deliver(InstallSnapshotRequest("s1", "s2", 3, 5, 3, snapshot_of(1)))
    assert effects == [Send("s1", InstallSnapshotResponse("s2", "s1", 4, 0))]
    assert (box.node.log.snapshot_index, len(box.node.log.entries)) == (0, 2)


@pytest.mark.parametrize("covered", [2, 3])
def test_install_snapshot_discards_a_snapshot_older_than_the_commit_index(covered: int) -> None:
    """Section 7: a snapshot that covers no more than the receiver has committed (a delayed or
    duplicated one; up to the commit index itself) is acknowledged and discarded; state machine,
    log and commitIndex stay."""
    box = Box("s2", term=1)
    box.deliver(AppendEntriesRequest("s1", "s2", 1, 0, 0, log_of(1, 1, 1, 1), 3, 0))
    before = box.node.machine.snapshot()
    effects = box.deliver(InstallSnapshotRequest("s1", "s2", 1, covered, 1, snapshot_of(1)))
    assert sent(effects) == [InstallSnapshotResponse("s2", "s1", 1, covered)]
    assert (box.node.commit_index, box.node.log.snapshot_index, len(box.node.log.entries)) == (
        3,
        0,
        4,
    )
    assert box.node.machine.snapshot() == before
    assert not [e for e in effects if isinstance(e, Persist)]


def test_install_snapshot_keeps_the_entries_after_a_matching_last_included_entry() -> None:
    """Section 7, InstallSnapshot receiver 6: if an existing entry has the same index and term as
    the snapshot's last included entry, retain the log entries following it."""
    box = Box("s2", term=1, log=log_of(1, 1, 1, 1))
    box.deliver(InstallSnapshotRequest("s1", "s2", 1, 2, 1, snapshot_of(1)))
    log = box.node.log
    assert (log.snapshot_index, log.snapshot_term, log.entries) == (
        2,
        1,
        list(log_of(1, 1, 1, 1)[2:]),
    )


def test_install_snapshot_otherwise_discards_the_whole_log() -> None:
    """Section 7, InstallSnapshot receiver 7: otherwise discard the entire log (the snapshot's last
    entry is beyond the log, or the entry there has another term)."""
    box = Box("s2", term=2, log=log_of(1, 1, 1, 1))
    box.deliver(InstallSnapshotRequest("s1", "s2", 2, 3, 2, snapshot_of(1)))
    log = box.node.log
    assert (log.snapshot_index, log.snapshot_term, log.entries) == (3, 2, [])


def test_install_snapshot_resets_the_state_machine_and_persists_it() -> None:
    """Section 7, InstallSnapshot receiver 8: reset the state machine using the snapshot contents;
    the snapshot's entries are committed (commitIndex = lastIncludedIndex), and the snapshot is
    durable with the log after it before the response leaves."""
    data = snapshot_of(7)
    box = Box("s2", term=1, log=log_of(1))
    effects = box.deliver(InstallSnapshotRequest("s1", "s2", 1, 5, 1, data))
    assert box.node.machine.snapshot() == data
    assert box.node.commit_index == 5
    assert sent(effects) == [InstallSnapshotResponse("s2", "s1", 1, 5)]
    box.restart()
    assert (box.node.machine.snapshot(), box.node.commit_index) == (data, 5)


# == Ongaro's thesis, section 6.4: ReadIndex ========================================================


def test_read_index_step_1_waits_for_an_entry_of_the_leaders_term_to_commit() -> None:
    """Thesis 6.4, step 1: the leader needs an entry of its own term committed (its no-op) before
    its commitIndex can be a read index; until then a read is refused. A follower refuses too."""
    box = Box(term=1)
    box.elect()
    assert box.step(ClientRead("", 1)) == [
        Reply(1, error="no entry of this term committed yet", leader="s1")
    ]
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 0))
    assert box.node.commit_index == 1
    assert [e for e in box.step(ClientRead("", 2)) if isinstance(e, Reply)] == []
    follower = Box("s2", term=1)
    assert follower.step(ClientRead("", 3)) == [Reply(3, error=NOT_LEADER, leader=None)]


def test_read_index_step_2_records_the_commit_index_and_sends_a_heartbeat_round() -> None:
    """Thesis 6.4, steps 2 and 3: the leader records its commitIndex as the read index and sends a
    round of heartbeats that carry the round's number, to every peer."""
    box = Box(term=1)
    box.elect()
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 0))
    effects = box.step(ClientRead("", 2))
    assert (box.node.reads.index, box.node.reads.seq) == (1, 1)
    assert [(m.dest, m.read_round) for m in sent(effects)] == [("s2", 1), ("s3", 1)]


def test_read_index_step_3_needs_a_majority_acknowledging_this_round() -> None:
    """Thesis 6.4, step 3: only a heartbeat round acknowledged by a majority confirms leadership,
    and only acknowledgements of heartbeats sent after the read arrived count."""
    box = Box(term=1)
    box.elect()
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 0))
    box.step(ClientRead("", 2))
    effects = box.deliver(AppendEntriesResponse("s3", "s1", 2, True, 1, 0))  # an older round
    assert READ not in timers(effects)
    assert [e for e in box.step(Tick(READ)) if isinstance(e, Reply)] == []
    effects = box.deliver(AppendEntriesResponse("s3", "s1", 2, True, 1, 1))
    assert READ in timers(effects)
    # confirmed once: a later acknowledgement of the same round schedules nothing more
    effects = box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 1))
    assert READ not in timers(effects)


def test_read_index_step_4_serves_the_read_from_the_applied_state() -> None:
    """Thesis 6.4, step 4: once confirmed, the read is answered from the state machine, which has
    applied at least up to the read index (here: the write committed before the read began)."""
    box = Box(term=1)
    box.elect()
    box.step(ClientRequest("w", 1))
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 2, 0))
    box.step(ClientRead("", 2))
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 2, 1))
    effects = box.step(Tick(READ))
    assert [e for e in effects if isinstance(e, Reply)] == [
        Reply(2, FrozenDict({"ok": True, "value": 2}), leader="s1")
    ]
    assert not box.node.reads.pending


def test_read_index_reads_arriving_during_a_round_ride_on_the_next_one_at_once() -> None:
    """Thesis 6.4 with one round at a time (readindex.py): reads that arrive while a round is pending
    wait; the moment that round is served, the next one starts for all of them (a timer of no
    delay, READ_NEXT), with its own heartbeat round and its own acknowledgements."""
    box = Box(term=1)
    box.elect()
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 0))  # the no-op commits
    box.step(ClientRead("", 2))  # round 1
    assert sent(box.step(ClientRead("", 3))) == []  # waits for round 2
    assert READ in timers(box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 1)))
    effects = box.step(Tick(READ))
    assert [e.request_id for e in effects if isinstance(e, Reply)] == [2]
    assert SetTimer(READ_NEXT, 0) in effects
    effects = box.step(Tick(READ_NEXT))
    assert box.node.reads.seq == 2
    assert [(m.dest, m.read_round) for m in sent(effects)] == [("s2", 2), ("s3", 2)]
    box.deliver(AppendEntriesResponse("s3", "s1", 2, True, 1, 2))
    assert [e.request_id for e in box.step(Tick(READ)) if isinstance(e, Reply)] == [3]


def test_read_index_a_read_that_starts_a_round_before_read_next_fires_is_not_lost() -> None:
    """Thesis 6.4 with one round at a time: a read arriving after a round is served and before the
    READ_NEXT timer fires starts the next round itself (no round is pending), taking the reads
    that waited. The timer, firing then with a round pending, must leave it alone: every read of
    every round is answered once its round is confirmed."""
    box = Box(term=1)
    box.elect()
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 0))  # the no-op commits
    box.step(ClientRead("", 2))  # round 1
    box.step(ClientRead("", 3))  # waits
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 1))
    assert SetTimer(READ_NEXT, 0) in box.step(Tick(READ))  # round 1 served: 2 answered
    box.step(ClientRead("", 4))  # round 2 starts now, for 3 and 4
    box.step(ClientRead("", 5))  # waits for round 3
    assert sent(box.step(Tick(READ_NEXT))) == []  # round 2 is pending: the timer does nothing
    assert box.node.reads.seq == 2
    box.deliver(AppendEntriesResponse("s3", "s1", 2, True, 1, 2))
    assert [e.request_id for e in box.step(Tick(READ)) if isinstance(e, Reply)] == [3, 4]
    box.step(Tick(READ_NEXT))  # round 3, for 5
    box.deliver(AppendEntriesResponse("s2", "s1", 2, True, 1, 3))
    assert [e.request_id for e in box.step(Tick(READ)) if isinstance(e, Reply)] == [5]


def test_read_index_a_cluster_of_one_confirms_its_round_at_once() -> None:
    """Thesis 6.4, step 3, with no peers: the leader alone is a majority, so the round is confirmed
    when it starts and served at once (a READ timer of no delay), with no heartbeat sent."""
    box = Box()
    box.config = RaftConfig("s1", ("s1",), bugs=BUGS_UNDER_TEST)
    box.restart()
    box.step(Tick(ELECTION))  # a cluster of one elects itself and commits its no-op
    assert role_of(box) == LEADER and box.node.commit_index == 1
    effects = box.step(ClientRead("", 5))
    assert sent(effects) == [] and SetTimer(READ, 0) in effects
    assert [e.request_id for e in box.step(Tick(READ)) if isinstance(e, Reply)] == [5]
