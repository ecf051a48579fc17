"""The sans-IO Raft node: `step(event) -> list[Effect]`, and nothing else touches the world.

Theory of operation (etcd-io/raft's raft.go shape). One event at a time: a delivered message, a timer
(`Tick("election")`, `Tick("heartbeat")`, and the zero-delay timers the node sets for itself,
`Tick("read")`, `Tick("read-next")` and `Tick("snapshot")`), a client write or read,
`Replicate(peer)` (send one AppendEntries now), or `Restart(persisted)`. Messages first pass the term rule (Figure 2, "all
servers"), then the handler of the current role (`self._step` is `_step_follower`, `_step_candidate`
or `_step_leader`); role changes go through `become_follower/candidate/leader`, checked against the
table in `roles.py`.

Each event is at most one action of the spec's vocabulary (specs/Raft.tla), plus sends that are
AppendEntries(i, j) / InstallSnapshot(i, j) actions of their own and change nothing in the node. That
is why serving confirmed reads (CompleteRead), starting the next read round (ClientRead) and compacting
the log (TakeSnapshot) are not done in the handler that makes them possible: the handler sets a
zero-delay timer, and the next event does them. Timer names and spec actions map one to one
(`impl/raft/simulation.py`), so a lockstep driver forces an action by firing its timer.

Durability (Figure 2's persistent state: currentTerm, votedFor, log; section 7: the snapshot). A step
collects its durable writes and returns them as one `Persist`, first, before any `Send`: a vote or an
acknowledgement never leaves before what it vouches for is on disk. Everything else (role, votes,
nextIndex, matchIndex, commitIndex, the state machine) is volatile and rebuilt on `Restart`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import ClassVar
from typing import Final

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft import mutants
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.log import RaftLog
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import AppendEntriesResponse
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.messages import InstallSnapshotRequest
from meshcheck.impl.raft.messages import InstallSnapshotResponse
from meshcheck.impl.raft.messages import Message
from meshcheck.impl.raft.messages import PreVoteRequest
from meshcheck.impl.raft.messages import PreVoteResponse
from meshcheck.impl.raft.messages import RequestVoteRequest
from meshcheck.impl.raft.messages import RequestVoteResponse
from meshcheck.impl.raft.messages import Snapshot
from meshcheck.impl.raft.messages import message_record
from meshcheck.impl.raft.readindex import ClientReadRequest
from meshcheck.impl.raft.readindex import ReadIndex
from meshcheck.impl.raft.roles import CANDIDATE
from meshcheck.impl.raft.roles import FOLLOWER
from meshcheck.impl.raft.roles import LEADER
from meshcheck.impl.raft.roles import PRE_CANDIDATE
from meshcheck.impl.raft.roles import Role
from meshcheck.impl.raft.roles import check_transition
from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.impl.rsm.ops import NOOP

ELECTION = "election"  # Timeout(i); PreVoteTimeout(i) with pre_vote
HEARTBEAT = "heartbeat"  # AppendEntries(i, j) to every peer
READ = "read"  # CompleteRead(i): serve the confirmed read round
READ_NEXT = "read-next"  # ClientRead(i): start a round for the client reads that waited
SNAPSHOT = "snapshot"  # TakeSnapshot(i)

# the spec action each timer's Tick is (HEARTBEAT has none: its AppendEntries sends are the actions)
TIMER_ACTIONS: Final = {
    ELECTION: "Timeout",
    READ: "CompleteRead",
    READ_NEXT: "ClientRead",
    SNAPSHOT: "TakeSnapshot",
}
# the spec action that takes each kind of message (Raft.tla's handlers), named here, not made from
# the class's name: a message class renamed or added must say which action takes it
HANDLERS: Final[Mapping[type[Message], str]] = {
    RequestVoteRequest: "HandleRequestVoteRequest",
    RequestVoteResponse: "HandleRequestVoteResponse",
    PreVoteRequest: "HandlePreVoteRequest",
    PreVoteResponse: "HandlePreVoteResponse",
    AppendEntriesRequest: "HandleAppendEntriesRequest",
    AppendEntriesResponse: "HandleAppendEntriesResponse",
    InstallSnapshotRequest: "HandleInstallSnapshotRequest",
    InstallSnapshotResponse: "HandleInstallSnapshotResponse",
}
# the spec actions that are one send each, after the event's own action
SEND_ACTIONS: Final = frozenset({"AppendEntries", "InstallSnapshot"})

# keys of the durable store
HARD = "hard"  # (currentTerm, votedFor)
LOG = "log"  # the entries after the snapshot
SNAP = "snapshot"  # a Snapshot, or absent
# the leader's table of pending client writes: written only with the catalogue bug
# PENDING_WRITES_PERSISTED on (Figure 2 lists it nowhere: it is volatile)
PENDING = "pending"

NOT_LEADER = "not leader"


@attrs.frozen
class Replicate:
    """Leader: send one AppendEntries (or InstallSnapshot) to `peer` now (the spec's
    AppendEntries(i, j)); what the heartbeat timer does for every peer. `entries` bounds this one
    batch (None: the configured max_entries), so a driver can send the prefix the spec chose."""

    peer: str
    entries: int | None = None


class RaftNode:
    """One Raft server. Read its state through the attributes; change it only through `step`."""

    # persistent state (Figure 2), loaded by Restart
    term: int
    voted_for: str | None
    log: RaftLog
    # volatile state
    role: Role
    commit_index: int
    votes_granted: frozenset[str]
    next_index: dict[str, int]
    match_index: dict[str, int]
    leader: str | None  # who this node believes leads its term (a hint for clients)
    machine: StateMachine
    snapshot_data: bytes
    reads: ReadIndex
    _writes_pending: dict[int, int]  # leader: log index -> client request id
    _step: Callable[[Message], None]
    # leader: the last index of the latest batch sent to each peer, set by become_leader (and by
    # __init__ only so that it exists). Not in the spec: it only decides *when* to send (one batch
    # in flight per peer, plus heartbeats).
    _sent_up_to: dict[str, int]
    _out: list[Effect]  # the current step's output, started afresh by `step`
    # the message being received deposed this leader: set and read only with the catalogue bug
    # DEPOSED_LEADER_KEEPS_SUFFIX on
    _deposed = False
    # node id -> its table of pending writes, outliving the node object: used only with the
    # catalogue bug PENDING_WRITES_OUTLIVE_RESTART on (core purity, property_tests/restarts.py,
    # sees it change)
    _PENDING_BY_ID: ClassVar[dict[str, dict[int, int]]] = {}

    def __init__(
        self,
        config: RaftConfig,
        rng: random.Random,
        machine: Callable[[], StateMachine] = StateMachine,
    ) -> None:
        self.config = config
        self.id = config.id
        self._rng = rng
        self._machine_factory = machine
        self._bugs = config.bugs
        # whether the table of pending writes is durable: only with the catalogue bug on
        self._pending_durable = mutants.PENDING_WRITES_PERSISTED in self._bugs
        # Figure 2's initial state, that of a server with nothing persisted; the first step must
        # be Restart, which loads what was persisted the same way
        self._load({})
        self._sent_up_to = dict.fromkeys(config.peers, 0)
        self._probing: set[str] = set()  # peers that rejected (mutants.PROBE_STAYS_ONE_ENTRY)
        self.started = False
        self._hard_dirty = False
        self._log_dirty_from: int | None = None  # first changed position in the persisted log
        self._snapshot_dirty = False

    def __repr__(self) -> str:
        return f"<RaftNode {self.id} {self.role} term={self.term} last={self.log.last_index} commit={self.commit_index}>"

    def applied_state(self) -> tuple[int, bytes]:
        """The `AppliedState` hook (impl/base/node.py): entries the state machine applied, and the
        digest of its state."""
        return self.machine.applied, self.machine.digest()

    # -- the one entry point --------------------------------------------------------------------------

    def step(self, event: Any) -> list[Effect]:
        """Handle one event; the effects to carry out, in order (one Persist first, if any)."""
        self._out = []
        if isinstance(event, Restart):
            self._restart(event.persisted)
        elif not self.started:
            raise RuntimeError(f"{self.id}: step({event!r}) before Restart: start the node first")
        elif isinstance(event, Deliver):
            m = event.message
            handler = HANDLERS.get(type(m))
            if handler is None:
                raise TypeError(f"{self.id}: not a Raft message: {m!r}")
            self._action(handler, j=event.source, m=message_record(m))
            self._receive(m)
        elif isinstance(event, Tick):
            if event.timer == ELECTION and self.config.pre_vote:
                self._action("PreVoteTimeout")  # the election timer starts a pre-election
            elif event.timer in TIMER_ACTIONS:
                self._action(TIMER_ACTIONS[event.timer])
            self._tick(event.timer)
        elif isinstance(event, ClientRequest):
            self._action("ClientRequest", v=event.value)
            self._client_request(event)
        elif isinstance(event, ClientRead):
            self._action("ClientRead")
            self._client_read(event)
        elif isinstance(event, Replicate):
            if self.role == LEADER and event.peer in self.next_index and event.peer != self.id:
                self._send_append(event.peer, event.entries)
        else:
            raise TypeError(f"{self.id}: not a Raft event: {event!r}")
        out, self._out = self._out, []
        persist = self._flush()
        if persist is None:
            return out
        # the event's own action (Timeout, Handle..., ClientRequest, ...) comes first and owns the
        # Persist; without one, the Persist belongs to no action (persist before any send either way)
        lead = 1 if out and isinstance(out[0], Action) and out[0].name not in SEND_ACTIONS else 0
        return [*out[:lead], persist, *out[lead:]]

    def _action(self, name: str, **params: Value) -> None:
        """Report spec action `name(i, params)` (specs/Raft.tla): the effects that follow are its."""
        self._out.append(Action(name, FrozenDict({"i": self.id, **params})))

    # -- roles ----------------------------------------------------------------------------------------

    def become_follower(self, term: int, leader: str | None, *, reset_timer: bool = True) -> None:
        """`reset_timer=False`: keep a running election timer (a follower's or a candidate's)."""
        check_transition(self.id, self.role, FOLLOWER)
        if term != self.term:
            self.term, self.voted_for = term, None
            self._hard_dirty = True
        was_leader = self.role == LEADER
        self.role = FOLLOWER
        self.leader = leader
        self._step = self._step_follower
        if was_leader:
            self._out.append(CancelTimer(HEARTBEAT))
            self._abandon_clients()
        if reset_timer or was_leader:  # a leader has no election timer running: it needs one
            self._reset_election_timer()

    def become_pre_candidate(self) -> None:
        """Thesis section 9.6: a pre-election, in which the node keeps its term and its vote (nothing
        durable changes) and counts the pre-votes for the term after its own."""
        check_transition(self.id, self.role, PRE_CANDIDATE)
        self.role = PRE_CANDIDATE
        self.votes_granted = frozenset({self.id})
        self.leader = None
        self._step = self._step_pre_candidate
        self._reset_election_timer()

    def become_candidate(self) -> None:
        """Section 5.2: increment the term, vote for itself, ask every other server for its vote."""
        check_transition(self.id, self.role, CANDIDATE)
        self.role = CANDIDATE
        self.term += 1
        self.voted_for = self.id
        self._hard_dirty = True
        self.votes_granted = frozenset({self.id})
        self.leader = None
        self._step = self._step_candidate
        self._reset_election_timer()

    def become_leader(self) -> None:
        """Section 5.2/5.3: nextIndex just past the log, matchIndex 0; then (section 8, unless the
        configuration leaves it out) a no-op entry of the new term, so that committing it commits
        everything before it, and ReadIndex reads (thesis 6.4) can start once it is committed."""
        check_transition(self.id, self.role, LEADER)
        self.role = LEADER
        self.leader = self.id
        self._step = self._step_leader
        self.next_index = dict.fromkeys(self.config.servers, self.log.last_index + 1)
        self.match_index = dict.fromkeys(self.config.servers, 0)
        self._sent_up_to = dict.fromkeys(self.config.peers, 0)
        self._probing = set()
        self.reads = ReadIndex(self.id)
        if self.config.leader_noop:
            self._append(Entry(self.term, NOOP))
        if mutants.REPROPOSE_UNCOMMITTED in self._bugs:
            # "re-propose" the client writes of earlier terms not known committed, in this term
            start = max(self.commit_index, self.log.snapshot_index) + 1
            again = [
                self.log.entry(i).value
                for i in range(start, self.log.last_index)
                if self.log.entry(i).value != NOOP and self.log.entry(i).term < self.term
            ]
            self._append(*(Entry(self.term, v) for v in again))
        self._out.append(CancelTimer(ELECTION))
        self._out.append(SetTimer(HEARTBEAT, self.config.heartbeat_interval))
        if len(self.config.servers) == 1:
            self._advance_commit()
        for peer in self.config.peers:
            self._send_append(peer)

    # -- restart ---------------------------------------------------------------------------------------

    def _restart(self, persisted: Mapping[str, Any]) -> None:
        self._load(persisted)
        if mutants.PENDING_WRITES_OUTLIVE_RESTART in self._bugs:  # the bug: a registry's table,
            # new at a first boot (nothing persisted), taken over by a restart
            if not persisted:
                RaftNode._PENDING_BY_ID[self.id] = {}
            self._writes_pending = RaftNode._PENDING_BY_ID.setdefault(self.id, {})
        self.started = True
        self._reset_election_timer()

    def _load(self, persisted: Mapping[str, Any]) -> None:
        """Start from what was persisted: term, vote, snapshot and log; everything else starts over
        (commitIndex from the snapshot: section 7, a snapshot holds only committed entries)."""
        self.term, self.voted_for = persisted.get(HARD, (0, None))
        snapshot: Snapshot | None = persisted.get(SNAP)
        entries = persisted.get(LOG, ())
        if snapshot is None:
            self.log = RaftLog(0, 0, entries)
            self.machine = self._machine_factory()
            self.snapshot_data = self.machine.snapshot()
        else:
            self.log = RaftLog(snapshot.index, snapshot.term, entries)
            self.machine = self._machine_factory()
            self.machine.restore(snapshot.data)
            self.snapshot_data = snapshot.data
        self.role = FOLLOWER
        self._step = self._step_follower
        self.commit_index = self.log.snapshot_index
        self.votes_granted = frozenset()
        self.next_index = dict.fromkeys(self.config.servers, 1)
        self.match_index = dict.fromkeys(self.config.servers, 0)
        self.leader = None
        self.reads = ReadIndex(self.id)
        self._writes_pending = {}
        if self._pending_durable:
            self._writes_pending = dict(persisted.get(PENDING, ()))

    # -- timers ---------------------------------------------------------------------------------------

    def _tick(self, timer: str) -> None:
        if timer == ELECTION:
            # Section 5.2: a follower (or a candidate whose election went nowhere) that hears from
            # no leader for an election timeout starts an election. A leader has no election timer.
            if self.role == LEADER:
                return
            if self.config.pre_vote and not self._pre_vote_won():
                # Thesis section 9.6: a pre-election first; what follows here runs once pre-votes
                # from a quorum came in (_handle_pre_vote_response)
                self._pre_campaign()
                return
            self.become_candidate()
            if quorum.reaches(self.votes_granted, self.config.quorum):  # a cluster of one
                self.become_leader()
                return
            request = RequestVoteRequest(
                self.id, "", self.term, self.log.last_term, self.log.last_index
            )
            for peer in self.config.peers:
                self._send(attrs.evolve(request, dest=peer))
        elif timer == HEARTBEAT:
            # Section 5.2: leaders send periodic heartbeats (AppendEntries, with entries when a
            # follower lags) to keep their authority; one AppendEntries(i, j) per peer.
            if self.role != LEADER:
                return
            self._out.append(SetTimer(HEARTBEAT, self.config.heartbeat_interval))
            for peer in self.config.peers:
                self._send_append(peer)
        elif timer == READ:
            self._complete_read()
        elif timer == READ_NEXT:
            if self.role == LEADER and not self.reads.pending and self.reads.waiting:
                self._register_read()
        elif timer == SNAPSHOT:
            self._take_snapshot()

    def _pre_vote_won(self) -> bool:
        return self.role == PRE_CANDIDATE and quorum.reaches(self.votes_granted, self.config.quorum)

    def _pre_campaign(self) -> None:
        """Thesis section 9.6: ask every other server whether it would vote for this node in the
        next term, which the node does not start yet."""
        self.become_pre_candidate()
        if self._pre_vote_won():  # a cluster of one: the election at once
            self._tick(ELECTION)
            return
        request = PreVoteRequest(
            self.id, "", self.term + 1, self.log.last_term, self.log.last_index
        )
        for peer in self.config.peers:
            self._send(attrs.evolve(request, dest=peer))

    def _reset_election_timer(self) -> None:
        lo, hi = self.config.election_timeout
        self._out.append(SetTimer(ELECTION, self._rng.randint(lo, hi)))

    # -- messages -------------------------------------------------------------------------------------

    def _receive(self, m: Message) -> None:
        """The term rule first (Figure 2, 'all servers'): a higher term makes this node a follower in
        that term; then the handler of the current role."""
        if mutants.DEPOSED_LEADER_KEEPS_SUFFIX in self._bugs:
            self._deposed = self.role == LEADER and m.term > self.term
        # A pre-vote's term is one its sender has not started (thesis 9.6): no term rule for it.
        if m.term > self.term and not isinstance(m, PreVoteRequest | PreVoteResponse):
            if self.role == LEADER and mutants.LEADER_IGNORES_HIGHER_TERM in self._bugs:
                self.term, self.voted_for = m.term, None  # the bug: adopt the term, stay leader
                self._hard_dirty = True
            else:
                from_leader = isinstance(m, AppendEntriesRequest | InstallSnapshotRequest)
                # Only a leader's message (or a vote granted, below) resets the election timer
                # (Figure 2, "followers"): were a higher term alone to reset it, candidates whose
                # logs are behind, which cannot win, would keep the one that can from ever timing
                # out first (thesis section 9.6 describes such disruptions).
                self.become_follower(
                    m.term, m.source if from_leader else None, reset_timer=from_leader
                )
        self._step(m)

    def _step_follower(self, m: Message) -> None:
        self._step_common(m)

    def _step_pre_candidate(self, m: Message) -> None:
        if isinstance(m, PreVoteResponse):
            self._handle_pre_vote_response(m)
        else:
            self._step_common(m)

    def _step_candidate(self, m: Message) -> None:
        if isinstance(m, RequestVoteResponse):
            self._handle_vote_response(m)
        else:
            self._step_common(m)

    def _step_leader(self, m: Message) -> None:
        if isinstance(m, AppendEntriesResponse):
            self._handle_append_response(m)
        elif isinstance(m, InstallSnapshotResponse):
            self._handle_snapshot_response(m)
        else:
            self._step_common(m)

    def _step_common(self, m: Message) -> None:
        """Messages every role answers alike; responses meant for another role are stale: dropped."""
        if isinstance(m, RequestVoteRequest):
            self._handle_vote_request(m)
        elif isinstance(m, PreVoteRequest):
            self._handle_pre_vote_request(m)
        elif isinstance(m, AppendEntriesRequest):
            self._handle_append_request(m)
        elif isinstance(m, InstallSnapshotRequest):
            self._handle_snapshot_request(m)

    # -- election (section 5.2, 5.4.1) ----------------------------------------------------------------

    def _handle_vote_request(self, m: RequestVoteRequest) -> None:
        granted = False
        if m.term == self.term:
            # Section 5.4.1: vote only for a candidate whose log is at least as up to date as ours
            # (a later last term, or the same last term and at least as long).
            log_ok = m.last_log_term > self.log.last_term or (
                m.last_log_term == self.log.last_term and m.last_log_index >= self.log.last_index
            )
            if mutants.VOTE_WITHOUT_LOG_CHECK in self._bugs:
                log_ok = True
            granted = log_ok and self.voted_for in (None, m.source)
            if granted:
                self.voted_for = m.source
                self._hard_dirty = True
                self._reset_election_timer()  # section 5.2: granting a vote resets the timer
        self._send(RequestVoteResponse(self.id, m.source, self.term, granted))

    def _handle_vote_response(self, m: RequestVoteResponse) -> None:
        if m.term < self.term or not m.vote_granted:
            return  # stale, or a vote denied
        self.votes_granted |= {m.source}
        if quorum.reaches(self.votes_granted, self.config.quorum):
            self.become_leader()

    def _handle_pre_vote_request(self, m: PreVoteRequest) -> None:
        """Thesis section 9.6: grant when the vote itself would be granted in m's term (a term past
        ours, a log at least as up to date) and this node has not heard from a current leader
        within its election timeout: it is not the leader, nor a follower that heard from its
        term's leader since its election timer last fired (`leader` is set by the leader's
        messages and cleared when an election starts). Nothing changes here: no term, no vote, no
        timer."""
        log_ok = m.last_log_term > self.log.last_term or (
            m.last_log_term == self.log.last_term and m.last_log_index >= self.log.last_index
        )
        heard = self.role == LEADER or (self.role == FOLLOWER and self.leader is not None)
        granted = m.term > self.term and log_ok and not heard
        self._send(PreVoteResponse(self.id, m.source, m.term, granted))

    def _handle_pre_vote_response(self, m: PreVoteResponse) -> None:
        if m.term != self.term + 1 or not m.vote_granted:
            return  # another pre-election's answer, or a pre-vote denied
        self.votes_granted |= {m.source}
        if self._pre_vote_won():
            self._tick(ELECTION)  # the election the pre-election was for (section 5.2)

    # -- replication (section 5.3, 5.4) ---------------------------------------------------------------

    def _send_append(self, peer: str, limit: int | None = None) -> None:
        """One AppendEntries to `peer`: the entries from nextIndex on (at most `limit`, else
        max_entries, else all of them; the spec's AppendEntries allows any non-empty prefix), or,
        when they were compacted away, the snapshot (section 7)."""
        # Past the log's end only under a mutant (a leader of a term it did not win hears of the
        # real leader's entries): send from the end rather than fail.
        next_index = min(self.next_index[peer], self.log.last_index + 1)
        if next_index <= self.log.snapshot_index:
            self._action("InstallSnapshot", j=peer)
            self._send(
                InstallSnapshotRequest(
                    self.id,
                    peer,
                    self.term,
                    self.log.snapshot_index,
                    self.log.snapshot_term,
                    self.snapshot_data,
                )
            )
            self._sent_up_to[peer] = self.log.snapshot_index
            return
        prev = next_index - 1
        prev_term = self.log.term_at(prev)
        assert prev_term is not None  # snapshot_index <= prev <= last_index
        stop = self.log.last_index + 1
        if limit is None:
            limit = self.config.max_entries
            if mutants.PROBE_STAYS_ONE_ENTRY in self._bugs and peer in self._probing:
                limit = 1  # the bug: the probe's one entry, after the match point was found
        if limit is not None:
            stop = min(stop, next_index + limit)
        entries = self.log.slice(next_index, stop)
        self._sent_up_to[peer] = prev + len(entries)
        self._action("AppendEntries", j=peer)
        self._send(
            AppendEntriesRequest(
                self.id,
                peer,
                self.term,
                prev,
                prev_term,
                entries,
                self.commit_index,
                self.reads.tag,
            )
        )

    def _handle_append_request(self, m: AppendEntriesRequest) -> None:
        if m.term < self.term:
            # Figure 2: reply false if term < currentTerm (the stale leader learns the new term).
            self._send(AppendEntriesResponse(self.id, m.source, self.term, False, 0, m.read_round))
            return
        if self.role != FOLLOWER:
            # Section 5.2: a leader of our term exists, so a candidate steps down. (A leader of the
            # same term is impossible in Raft, possible under a mutant; it steps down too, as in
            # the spec.)
            self.become_follower(m.term, m.source)
        else:
            self.leader = m.source
            self._reset_election_timer()
        prev, si = m.prev_log_index, self.log.snapshot_index
        # Figure 2: reply false if the log has no entry at prevLogIndex with prevLogTerm. An entry
        # inside our snapshot is committed, so it matches the leader's (Log Matching).
        if prev > self.log.last_index or (prev >= si and self.log.term_at(prev) != m.prev_log_term):
            # Fast backup (end of section 5.3): tell the leader where this log can diverge from
            # its own: the term of our entry at prev and the first index we store for that term,
            # or, with no entry at prev, term 0 and the index just past our log.
            if prev > self.log.last_index:
                conflict_term, conflict_index = 0, self.log.last_index + 1
            else:
                conflict_term = self.log.term_at(prev) or 0
                conflict_index = self.log.first_index_of_term(conflict_term, prev)
            self._send(
                AppendEntriesResponse(
                    self.id,
                    m.source,
                    self.term,
                    False,
                    0,
                    m.read_round,
                    conflict_term,
                    conflict_index,
                )
            )
            return
        for index in range(max(prev, si) + 1, prev + len(m.entries) + 1):
            entry = m.entries[index - prev - 1]
            if index <= self.log.last_index:
                if self.log.term_at(index) == entry.term:
                    continue  # already there (a duplicate or reordered request): keep it
                if mutants.DEPOSED_LEADER_KEEPS_SUFFIX in self._bugs and self._deposed:
                    break  # the bug: the deposed leader's own entries stay
                # Figure 2: an existing entry conflicts with a new one: delete it and all after it.
                self._truncate_from(index)
            self._append(*m.entries[index - prev - 1 :])
            break
        last_new = m.prev_log_index + len(m.entries)
        if mutants.TRUNCATE_ON_STALE_APPEND in self._bugs and self.log.last_index > last_new:
            self._truncate_from(max(last_new + 1, self.log.snapshot_index + 1))
        if m.commit_index > self.commit_index:
            # Figure 2: commitIndex = min(leaderCommit, index of last new entry).
            self._commit_to(min(m.commit_index, last_new))
        elif mutants.COMMIT_INDEX_LOWERED in self._bugs:  # the bug: rule 5 without its guard
            self.commit_index = max(min(m.commit_index, last_new), self.log.snapshot_index)
        matched = last_new
        if mutants.MATCH_PAST_LAST in self._bugs:  # the bug: the index after it, expected next
            matched = last_new + 1
        self._send(AppendEntriesResponse(self.id, m.source, self.term, True, matched, m.read_round))

    def _handle_append_response(self, m: AppendEntriesResponse) -> None:
        if m.term < self.term:
            return  # stale
        was_confirmed = self.reads.confirmed(self.config.quorum)
        self.reads.ack(m.source, m.read_round)
        if self.reads.confirmed(self.config.quorum) and not was_confirmed:
            self._out.append(SetTimer(READ, 0))  # the read round is confirmed: CompleteRead next
        if m.success:
            # Monotonic: a reordered, older success must not move matchIndex back.
            if mutants.STALE_MATCH_INDEX in self._bugs:  # the bug: the reply's, as it is
                self.match_index[m.source] = m.match_index
            else:
                self.match_index[m.source] = max(self.match_index[m.source], m.match_index)
            self.next_index[m.source] = max(self.next_index[m.source], m.match_index + 1)
            self._advance_commit()
        else:
            self.next_index[m.source] = self._backed_up(m)
            if mutants.PROBE_STAYS_ONE_ENTRY in self._bugs:
                self._probing.add(m.source)  # the bug's memory: this peer is probed from now on
        if not m.success or (
            self._idle(m.source) and self.next_index[m.source] <= self.log.last_index
        ):
            self._send_append(m.source)  # the next batch, or a probe further back

    def _backed_up(self, m: AppendEntriesResponse) -> int:
        """nextIndex for the peer after its rejection `m`. Fast backup (end of section 5.3): back
        to the hint's index, which skips the peer's whole conflicting term in one round trip (or
        goes straight to the end of a shorter log), where one entry a round trip would take a
        round trip per entry. Never forward (`m` may answer an older request, sent from further
        on) and never to or below what the peer is known to hold."""
        peer = m.source
        floor = self.match_index[peer] + 1
        if mutants.BACKUP_BELOW_MATCH in self._bugs:  # the bug: only nextIndex >= 1 guarded
            floor = 1
        if mutants.BACKUP_ONE_AT_A_TIME in self._bugs:  # the bug: ignore the hint
            return max(self.next_index[peer] - 1, floor)
        if mutants.BACKUP_PAST_CONFLICT in self._bugs and m.conflict_term > 0:
            # the bug: past the conflicting term's first entry, and not capped
            return max(m.conflict_index + 1, floor)
        return max(min(self.next_index[peer] - 1, m.conflict_index), floor)

    def _idle(self, peer: str) -> bool:
        """Nothing sent to `peer` is unacknowledged. Sending the next batch only then keeps one batch
        in flight per peer; were every response answered with a send, each heartbeat would add a
        batch that circulates for ever (a lost batch is made good by the next heartbeat)."""
        return self.match_index[peer] >= self._sent_up_to[peer]

    def _advance_commit(self) -> None:
        """Section 5.3 and 5.4.2: the highest index stored on a quorum (the leader counts itself)
        is committed, but only if it is an entry of the leader's own term (Figure 8); committing it
        commits every entry before it."""
        n = quorum.quorum_value(
            [self.log.last_index, *(self.match_index[p] for p in self.config.peers)],
            self.config.quorum,
        )
        if n is None or n <= self.commit_index:
            return
        if mutants.COMMIT_STOPS_AT_OLDER_TERM in self._bugs:
            # the bug: entries counted one by one from commitIndex + 1, each only of this term
            k = self.commit_index
            while k < n and self.log.term_at(k + 1) == self.term:
                k += 1
            n = k
        if self.log.term_at(n) == self.term or mutants.COMMIT_PREVIOUS_TERM in self._bugs:
            self._commit_to(n)

    def _commit_to(self, index: int) -> None:
        """Advance commitIndex and apply the newly committed entries (section 5.3: apply in order)."""
        index = min(index, self.log.last_index)
        # commitIndex >= the snapshot's index always (a snapshot holds only committed entries, and
        # installing one or restarting from one sets commitIndex to it): every i is in the log
        for i in range(self.commit_index + 1, index + 1):
            value = self.log.entry(i).value
            result = self.machine.apply_entry(value)
            self._out.append(Apply(i, value, result))
            request = self._writes_pending.pop(i, None)
            if request is not None:
                self._out.append(Reply(request, result, leader=self.id))
        if index > self.commit_index:
            self.commit_index = index
            if self.commit_index - self.log.snapshot_index >= self.config.snapshot_interval:
                self._out.append(SetTimer(SNAPSHOT, 0))

    # -- snapshots (section 7) ------------------------------------------------------------------------

    def _take_snapshot(self) -> None:
        """Fold the committed prefix into a snapshot of the state machine (which has applied it)."""
        index = self.commit_index
        term = self.log.term_at(index)
        if index <= self.log.snapshot_index or term is None:
            return
        self.snapshot_data = self.machine.snapshot()
        self.log.compact(index, term)
        self._snapshot_dirty = True

    def _handle_snapshot_request(self, m: InstallSnapshotRequest) -> None:
        if m.term < self.term:
            self._send(InstallSnapshotResponse(self.id, m.source, self.term, 0))
            return
        if self.role != FOLLOWER:
            self.become_follower(m.term, m.source)
        else:
            self.leader = m.source
            self._reset_election_timer()
        if m.last_included_index > self.commit_index:
            # Section 7: keep the entries after the snapshot if the log has its last entry;
            # otherwise the whole log is superseded. The state machine becomes the snapshot's.
            self.log.compact(m.last_included_index, m.last_included_term)
            self.machine = self._machine_factory()
            self.machine.restore(m.data)
            self.snapshot_data = m.data
            self.commit_index = m.last_included_index
            self._snapshot_dirty = True
        elif mutants.INSTALL_STALE_SNAPSHOT in self._bugs and m.last_included_index > 0:
            # the state machine takes the older snapshot's state; the log and commit index stay
            older = self._machine_factory()
            older.restore(m.data)
            self.machine = older
        self._send(InstallSnapshotResponse(self.id, m.source, self.term, m.last_included_index))

    def _handle_snapshot_response(self, m: InstallSnapshotResponse) -> None:
        if m.term < self.term or m.match_index == 0:
            return
        # Only progress: the entries the snapshot holds are committed already, so nothing new commits.
        self.match_index[m.source] = max(self.match_index[m.source], m.match_index)
        self.next_index[m.source] = max(self.next_index[m.source], m.match_index + 1)
        if self._idle(m.source) and self.next_index[m.source] <= self.log.last_index:
            self._send_append(m.source)

    # -- clients --------------------------------------------------------------------------------------

    def _client_request(self, event: ClientRequest) -> None:
        if self.role != LEADER:
            self._out.append(Reply(event.request_id, error=NOT_LEADER, leader=self.leader))
            return
        self._append(Entry(self.term, event.value))
        index = self.log.last_index
        self._writes_pending[index] = event.request_id
        for peer in self.config.peers:
            # An idle peer gets the new entry now; one with a batch in flight gets it with the
            # next batch, once that one is acknowledged.
            if self._idle(peer) and self.next_index[peer] <= index:
                self._send_append(peer)
        if len(self.config.servers) == 1:
            self._advance_commit()

    def _client_read(self, event: ClientRead) -> None:
        """ReadIndex (thesis 6.4): the read joins the next round; if none is pending, that round
        starts now (ClientRead), else when the pending one is served (Tick(READ_NEXT))."""
        if self.role != LEADER:
            hint = None if mutants.READ_REDIRECT_WITHOUT_LEADER in self._bugs else self.leader
            self._out.append(Reply(event.request_id, error=NOT_LEADER, leader=hint))
            return
        if self.log.term_at(self.commit_index) != self.term:
            # Step 1 needs an entry of this term committed: until the no-op is, the commit index
            # may lag behind what an earlier leader committed.
            self._out.append(
                Reply(event.request_id, error="no entry of this term committed yet", leader=self.id)
            )
            return
        self.reads.waiting.append(ClientReadRequest(event.request_id, event.query))
        if not self.reads.pending:
            self._register_read()

    def _register_read(self) -> None:
        self.reads.register(self.commit_index)
        if mutants.READ_WITHOUT_QUORUM in self._bugs or self.reads.confirmed(self.config.quorum):
            self._out.append(SetTimer(READ, 0))
            return
        for peer in self.config.peers:
            self._send_append(peer)  # step 3: heartbeats that carry the new round's seq

    def _complete_read(self) -> None:
        """Serve the read round once a quorum confirmed it (CompleteRead), from the applied state
        (commitIndex >= read index always holds for a leader, and it applies as it commits)."""
        if self.role != LEADER or not self.reads.pending:
            return
        if (
            not self.reads.confirmed(self.config.quorum)
            and mutants.READ_WITHOUT_QUORUM not in self._bugs
        ):
            return
        for read in self.reads.serve():
            self._out.append(Reply(read.request_id, self.machine.read(read.query), leader=self.id))
        if self.reads.waiting:
            self._out.append(SetTimer(READ_NEXT, 0))

    def _abandon_clients(self) -> None:
        """A deposed leader answers what it still held: reads fail; writes may yet commit or not."""
        for read in self.reads.abandon():
            self._out.append(Reply(read.request_id, error="leadership lost", leader=self.leader))
        for request in self._writes_pending.values():
            if mutants.ABANDON_AS_REJECTED in self._bugs:
                self._out.append(Reply(request, error=NOT_LEADER, leader=self.leader))
                continue
            # the entry may still commit under the next leader, or be overwritten: unknown
            self._out.append(
                Reply(
                    request,
                    error="leadership lost: outcome unknown",
                    leader=self.leader,
                    unknown=True,
                )
            )
        if mutants.PENDING_WRITES_OUTLIVE_RESTART in self._bugs:
            self._writes_pending.clear()  # the registry's table, emptied in place
        else:
            self._writes_pending = {}
        self.reads = ReadIndex(self.id)

    # -- the log and its persistence -----------------------------------------------------------------

    def _append(self, *entries: Entry) -> None:
        if not entries:
            return
        self._mark_log(self.log.last_index + 1)
        self.log.append(entries)

    def _truncate_from(self, index: int) -> None:
        self._mark_log(index)
        self.log.truncate_from(index)

    def _mark_log(self, index: int) -> None:
        position = max(0, self.log.position(index))
        if self._log_dirty_from is None or position < self._log_dirty_from:
            self._log_dirty_from = position

    def _send(self, message: Message) -> None:
        self._out.append(Send(message.dest, message))

    def _flush(self) -> Persist | None:
        """This step's durable writes as one batch (None when nothing durable changed)."""
        writes: list[Write] = []
        if self._hard_dirty:
            voted_for = None if mutants.FORGET_VOTED_FOR in self._bugs else self.voted_for
            writes.append(Put(HARD, (self.term, voted_for)))
        if self._snapshot_dirty:
            # The snapshot and the log after it change together: a crash between the two writes
            # would pair a log with the wrong offset, so they go in one batch.
            writes.append(
                Put(
                    SNAP,
                    Snapshot(self.log.snapshot_index, self.log.snapshot_term, self.snapshot_data),
                )
            )
            writes.append(Put(LOG, tuple(self.log.entries)))
        elif self._log_dirty_from is not None:
            start = self._log_dirty_from
            writes.append(Splice(LOG, start, tuple(self.log.entries[start:])))
        if writes and self.role == LEADER and self._pending_durable:
            # the table of writes awaiting their commit, with each log write of the leader
            writes.append(Put(PENDING, tuple(sorted(self._writes_pending.items()))))
        self._hard_dirty = self._snapshot_dirty = False
        self._log_dirty_from = None
        return Persist(tuple(writes)) if writes else None
