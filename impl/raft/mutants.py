"""Known Raft bugs, each switchable without editing the core: `RaftConfig(bugs=frozenset({...}))`.

A verification toolkit is as good as the bugs it catches (docs/architecture.md: every mutant in the catalogue must be killed).
Each switch below turns on one real, published or often-made mistake inside `impl/raft/node.py`, at the
one place the correct rule lives (search the node for the constant's name). The tests that must kill
each of them (lockstep against the spec, trace validation, fault schedules) are the property tests';
a mutant that no test kills is a hole in the toolkit.
"""

from __future__ import annotations

from meshcheck.impl.base.bugs import Bugs

BUGS = Bugs()

COMMIT_PREVIOUS_TERM = BUGS.declare(
    "commit_previous_term",
    "The leader commits an entry of an earlier term once a majority stores it (Raft paper section "
    "5.4.2, Figure 8): a later leader that never had the entry may overwrite it after it was "
    "applied. The right rule counts replicas only for entries of the leader's own term.",
)

VOTE_WITHOUT_LOG_CHECK = BUGS.declare(
    "vote_without_log_check",
    "A server grants its vote without checking that the candidate's log is at least as up to date "
    "as its own (section 5.4.1): a leader may be elected without a committed entry and overwrite "
    "it (Leader Completeness fails).",
)

FORGET_VOTED_FOR = BUGS.declare(
    "forget_voted_for",
    "votedFor is not written to stable storage (Figure 2 lists it as persistent): after a restart "
    "the server may vote a second time in the same term, and two leaders can win one term "
    "(Election Safety fails).",
)

TRUNCATE_ON_STALE_APPEND = BUGS.declare(
    "truncate_on_stale_append",
    "A follower truncates its log after the last entry of every successful AppendEntries, even "
    "when all of them matched (Figure 2 says: delete only on a conflict). A delayed, reordered "
    "AppendEntries then deletes entries the follower already acknowledged, possibly committed ones.",
)

LEADER_IGNORES_HIGHER_TERM = BUGS.declare(
    "leader_ignores_higher_term",
    "A leader that sees a higher term adopts the term but does not step down (Figure 2, 'all "
    "servers': convert to follower). It is then a leader of a term it never won, next to the "
    "real leader of that term (Election Safety fails).",
)

READ_WITHOUT_QUORUM = BUGS.declare(
    "read_without_quorum",
    "A ReadIndex read is served without a heartbeat round confirming that the leader still leads "
    "(Raft thesis section 6.4, step 3): a deposed leader answers from a stale state, so a read "
    "misses a write that completed before it began (not linearizable).",
)

BACKUP_ONE_AT_A_TIME = BUGS.declare(
    "backup_one_at_a_time",
    "The leader ignores the rejection's hint and moves nextIndex back one entry per rejected "
    "AppendEntries (the paper's basic rule, section 5.3, without the fast backup at its end): "
    "safe, but a follower hundreds of entries behind, or holding a long conflicting suffix, "
    "needs a round trip per entry, so recovery misses its bound (the liveness targets fail).",
)

BACKUP_PAST_CONFLICT = BUGS.declare(
    "backup_past_conflict",
    "The leader reads the hint off by one: it moves nextIndex to just past the first index of "
    "the follower's conflicting term, and sets it there even when that is forward of where it "
    "was. The next probe asks about that first conflicting entry itself, which the follower "
    "does not match; it is rejected with the same hint, and the leader asks again for ever "
    "(the follower never catches up).",
)

ABANDON_AS_REJECTED = BUGS.declare(
    "abandon_as_rejected",
    "A leader that loses its leadership answers the writes it still held 'not leader', which "
    "tells the client they took no effect, though each may still commit: the entry is in the "
    "deposed leader's log and may be on a majority, and the next leader commits it (section "
    "5.4.2). The client, told 'rejected', sees its write take effect (an answer withdrawn); the "
    "honest answer is 'outcome unknown'.",
)

INSTALL_STALE_SNAPSHOT = BUGS.declare(
    "install_stale_snapshot",
    "A follower that receives an InstallSnapshot older than what it has committed (a delayed, "
    "reordered one: section 7 says to ignore the snapshot's prefix it already has) still "
    "restores its state machine from it, keeping its log and commit index: its applied state "
    "goes backwards, and later entries apply on top of the old state.",
)

REPROPOSE_UNCOMMITTED = BUGS.declare(
    "repropose_uncommitted",
    "A new leader proposes again, in its own term, the client writes of earlier terms that it "
    "does not know to be committed, so that none is lost. They are still in its log, and "
    "committing its term's entries commits them too (section 5.4.2): each is applied twice, at "
    "two indexes. Raft keeps the old entries and lets the no-op commit them (section 8); a "
    "client's retry needs a session table to be applied once.",
)

DEPOSED_LEADER_KEEPS_SUFFIX = BUGS.declare(
    "deposed_leader_keeps_suffix",
    "A leader that learns of a newer term from the new leader's AppendEntries itself steps "
    "down but keeps its own uncommitted entries where the new leader's conflict with them, and "
    "acknowledges the batch (Figure 2, receiver rule 3: delete the conflicting entry and all "
    "that follow). Reached only with two leaders at once whose logs took different suffixes, "
    "the new one's AppendEntries reaching the old one first: the new leader then counts a copy "
    "the follower does not hold, and may commit an entry a majority does not store.",
)

PENDING_WRITES_PERSISTED = BUGS.declare(
    "pending_writes_persisted",
    "The leader writes its table of client writes awaiting their commit (log index -> request "
    "id) to stable storage with its log, and a restarted node reloads it (Figure 2 lists it "
    "nowhere: it is volatile, and a restart must start it empty). Restarted as a follower, the "
    "node answers each request of the table when it applies the request's index, whatever "
    "entry is there now: a leader elected while it was down has overwritten the uncommitted "
    "positions with other writes, so the client is told its write succeeded with another "
    "write's result, and its write is applied nowhere.",
)

PENDING_WRITES_OUTLIVE_RESTART = BUGS.declare(
    "pending_writes_outlive_restart",
    "The leader's table of client writes awaiting their commit (log index -> request id) is "
    "kept in a registry keyed by the server's id on the class (so that something beside the "
    "server can list what it owes its clients), not in the server object: it outlives a "
    "crash. The restarted server, which lost its volatile state and is a follower now, still "
    "owes those requests; when it applies the entries at those indexes (whatever entries now "
    "sit there: another leader's, after a truncation) it answers the old requests with their "
    "results, a reply no server that took the request sends (Figure 2: only the leader "
    "answers, once the entry it appended is committed).",
)

STALE_MATCH_INDEX = BUGS.declare(
    "stale_match_index",
    "The leader sets matchIndex[j] to the match index of each success it reads, not to the "
    "larger of that and what it knew (Figure 2: matchIndex 'increases monotonically'). A "
    "delayed or duplicated older success then moves it back: safe while the entries are "
    "committed already, but the leader's picture of a follower goes backwards "
    "(MatchIndexMonotonic).",
)

COMMIT_INDEX_LOWERED = BUGS.declare(
    "commit_index_lowered",
    "A follower applies Figure 2's AppendEntries rule 5 without its guard ('if leaderCommit > "
    "commitIndex'): every request sets commitIndex to min(leaderCommit, index of last new "
    "entry), so a delayed request, or one that carries fewer entries than the follower holds, "
    "lowers it; entries it applied are then applied again (CommitIndexMonotonic).",
)

MATCH_PAST_LAST = BUGS.declare(
    "match_past_last",
    "A follower's success names the index after its last new entry (the next index it "
    "expects) where Figure 2's leader reads the index of the last entry it holds: the leader's "
    "matchIndex for it runs one past the leader's own log, and a quorum of such answers "
    "counts an entry nobody stores (MatchIndexBounded).",
)

BACKUP_BELOW_MATCH = BUGS.declare(
    "backup_below_match",
    "On a rejection the leader moves nextIndex back to the hint floored at 1, not at "
    "matchIndex + 1 (the floor that keeps it past what the follower is known to hold): a "
    "delayed rejection of an older request, read after a success, sends nextIndex to or below "
    "matchIndex, and the leader sends again entries the follower acknowledged "
    "(NextIndexAboveMatch).",
)

COMMIT_STOPS_AT_OLDER_TERM = BUGS.declare(
    "commit_stops_at_older_term",
    "The leader advances its commit index one entry at a time from commitIndex + 1, and only "
    "over entries of its own term (a misreading of section 5.4.2: the rule forbids counting "
    "replicas of an earlier term's entry, not committing it below one of the leader's own). A "
    "new leader whose log holds an uncommitted entry of an earlier term stops there for good: "
    "its no-op, stored on a quorum, never commits, and neither does anything after it "
    "(LeaderCommitsStoredEntries, once the network is calm).",
)

QUORUM_HALF_AT_EVEN_N = BUGS.declare(
    "quorum_half_at_even_n",
    "The quorum is written as half the cluster rounded up, (n + 1) // 2, where section 5.2 "
    "asks for a majority, n // 2 + 1: the two agree at 3, 5 and 7 servers, the sizes most "
    "tests run, and at 4 and 6 a quorum is half the cluster, so two candidates each win one "
    "term with disjoint halves (Election Safety fails), and a leader commits on half.",
)

READ_REDIRECT_WITHOUT_LEADER = BUGS.declare(
    "read_redirect_without_leader",
    "A follower answers a client's read 'not leader' and names no leader, though it follows "
    "one (section 8: it supplies the most recent leader it has heard from): the client is "
    "left to guess who serves reads. An error the client histories take for a failed read "
    "and the workload gets past by trying other nodes; NoWrongRefusal in the calm after "
    "healing (property_tests/raft/refusals.py) tells it from an allowed redirect.",
)

# -- catching up: how fast a follower that fell behind does --
PROBE_STAYS_ONE_ENTRY = BUGS.declare(
    "probe_stays_one_entry",
    "Once a follower rejects an AppendEntries, the leader sends it one entry per message "
    "(a cheap probe while it looks for the match point) and never goes back to whole "
    "batches once it found it, for as long as it leads: etcd-io/raft's probe state never "
    "left for the replicate state. A follower that fell behind under a new leader (every "
    "follower rejects the new leader's first AppendEntries, sent from the end of its log) "
    "is then caught up one entry a round trip, where the protocol ships its backlog in one "
    "batch (section 5.3; the spec's AppendEntries sends any prefix, so every message is "
    "a spec step). Nothing is unsafe and everything converges, within the 5 s recovery "
    "target whenever snapshots keep the backlog short; killed by RecoveryWithinBound "
    "(property_tests/recovery.py), whose runs compact rarely: the backlog is shipped "
    "within a few heartbeats and round trips of the election.",
)
