------------------------------ MODULE RaftEtcd ------------------------------
(***************************************************************************)
(* Raft as etcd-io/raft (etcd 3.4, `go.etcd.io/etcd/raft`) runs it, for    *)
(* trace validation of the Go driver (drivers/etcd-raft, docs/etcd-raft.md) *)
(* without compaction, with or without pre-vote (the constant PreVote) and  *)
(* check-quorum. Every action of Raft.tla stays as it is; this module adds  *)
(* the library's choices that Raft.tla does not make, each one action      *)
(* (EtcdNext), each as safe as what it replaces, which TLC checks on the    *)
(* quick model (RaftEtcd_quick.cfg) with Raft's invariants:                *)
(*                                                                         *)
(* 1. Pipelining: in StateReplicate a leader's MsgApp moves its Next past   *)
(*    what it sends (RaftPipelined.tla's PipelineAppendEntries). In         *)
(*    StateProbe it does not: Raft.tla's AppendEntries.                     *)
(* 2. Heartbeat(i, j): a leader's MsgHeartbeat carries no entries and no    *)
(*    consistency check, only min(Match, committed), which the follower     *)
(*    commits (`handleHeartbeat`). Written as the AppendEntriesRequest with *)
(*    no entries whose previous entry is that index, which Raft.tla's       *)
(*    handler then treats: the follower holds that entry with the leader's  *)
(*    term (it acknowledged Match in this term), so it accepts and commits  *)
(*    exactly up to it, and answers a success at that index (the leader's   *)
(*    matchIndex and nextIndex already lie there or beyond).                *)
(* 3. IgnoreStaleRequest(i, j): a request of an older term is ignored, no  *)
(*    answer (raft.go `Step`, m.Term < r.Term, without check-quorum or     *)
(*    pre-vote); Raft.tla answers it with the newer term.                   *)
(* 4. HandleAppendEntriesRequestBelowCommit(i, j): a MsgApp whose previous *)
(*    index lies below the follower's commit index is answered at once     *)
(*    with a success at the commit index, the log untouched                 *)
(*    (`handleAppendEntries`). The leader of that term holds every          *)
(*    committed entry (Leader Completeness), so the match it learns is      *)
(*    true.                                                                 *)
(* 5. HandleAppendEntriesResponseBackOff(i, j): on a rejection the leader   *)
(*    sets Next anywhere from Match + 1 up to where it was: back to Match + *)
(*    1 in StateReplicate, to min(rejected, hint + 1) in StateProbe, or     *)
(*    unchanged for a rejection it judges stale (`MaybeDecrTo`). Next       *)
(*    decides what is sent, never what is committed.                        *)
(* 6. HandleRequestVoteRequestLeaderKnown(i, j): a server refuses a vote in *)
(*    its own term when it knows that term's leader (`r.lead != None`),     *)
(*    though it has not voted. Time and leaders being abstracted, it may    *)
(*    refuse any request of its term. Refusing is always safe.              *)
(* 7. HandleRequestVoteResponseLost(i, j): a candidate refused by a quorum  *)
(*    becomes a follower in its term, its vote kept (`quorum.VoteLost`);    *)
(*    the count being abstracted, any refusal in its term may end its       *)
(*    candidacy.                                                            *)
(* 8. RestartKeepingCommit(i): the commit index is part of the hard state   *)
(*    the library writes before it sends (HardState.Commit), so a restarted *)
(*    node starts from what it wrote (`loadState`), not from its snapshot:  *)
(*    any commit index between its snapshot's and the one it had.           *)
(*                                                                         *)
(* With pre-vote (Config.PreVote, Raft.tla's PreVote = TRUE):              *)
(*                                                                         *)
(* 9. HandlePreVoteRequestEtcd(i, j): a grant echoes the requested term, a  *)
(*    refusal carries the refuser's own term (`Term: r.Term`), and a grant  *)
(*    needs the requester's log as up to date and its term at least the     *)
(*    granter's (the library grants at its own term too, when it has not    *)
(*    voted and knows no leader). A pre-vote elects nobody: only the real   *)
(*    votes after it count, so any grant is safe.                           *)
(* 10. HandlePreVoteResponseNewerTerm(i, j): a refusal of a newer term      *)
(*    makes i a follower of that term with no vote (the library applies the *)
(*    term rule to every message but a granted pre-vote).                   *)
(* 11. HandlePreVoteResponseLost(i, j): a pre-candidate refused in its term *)
(*    becomes a follower (quorum.VoteLost, as 7).                           *)
(*                                                                         *)
(* With check-quorum (Config.CheckQuorum):                                 *)
(*                                                                         *)
(* 12. IgnoreVoteRequestInLease(i, j): a vote or pre-vote request of a     *)
(*    newer term is ignored, no answer, no term change, by a server that    *)
(*    heard from its leader within the election timeout (`inLease`;         *)
(*    Ongaro's thesis, section 4.2.3). Time abstracted, any such request    *)
(*    may be. LeaderStepDown(i): the leader that has not heard from a      *)
(*    quorum steps down, RaftPipelined.tla's CheckQuorumStepDown. A request *)
(*    of an older term for entries is answered, with the newer term:        *)
(*    Raft.tla's handler.                                                   *)
(***************************************************************************)
EXTENDS RaftPipelined

CONSTANT CheckQuorum  \* TRUE: the library's Config.CheckQuorum (12, and the leader's step-down)
ASSUME CheckQuorum \in BOOLEAN

\* 2. Leader i sends j a heartbeat: the empty AppendEntriesRequest at min(matchIndex, commitIndex).
Heartbeat(i, j) ==
    /\ role[i] = Leader
    /\ i # j
    /\ InFlight < MaxInFlight
    /\ LET c == Min(matchIndex[i][j], commitIndex[i])
       IN /\ c >= snapshotIndex[i]
          /\ Send([mtype |-> AppendEntriesRequest, mterm |-> currentTerm[i],
                   mprevLogIndex |-> c, mprevLogTerm |-> TermAt(i, c), mentries |-> <<>>,
                   mcommitIndex |-> c, mreadSeq |-> ReadTag(i), msource |-> i, mdest |-> j])
    /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars, budget>>

\* 3. i ignores j's request of a term older than its own: no answer, nothing changes.
IgnoreStaleRequest(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mdest = i /\ m.msource = j
        /\ m.mtype \in {RequestVoteRequest, AppendEntriesRequest}
        /\ m.mterm < currentTerm[i]
        /\ Discard(m)
        /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars, budget>>

\* 4. i answers leader j's AppendEntriesRequest whose previous index is below i's commit index
\*    with a success at that commit index, its log and commit index unchanged (the term rule, and
\*    a candidate's step-down, as in Raft.tla's handler).
HandleAppendEntriesRequestBelowCommit(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = AppendEntriesRequest /\ m.mdest = i /\ m.msource = j
        /\ m.mterm >= currentTerm[i]
        /\ m.mprevLogIndex < commitIndex[i]
        /\ currentTerm' = [currentTerm EXCEPT ![i] = m.mterm]
        /\ votedFor' = [votedFor EXCEPT ![i] = IF m.mterm > currentTerm[i] THEN None ELSE @]
        /\ role' = [role EXCEPT ![i] = Follower]
        /\ LeaveRole(i, TRUE)
        /\ Reply([mtype |-> AppendEntriesResponse, mterm |-> m.mterm, msuccess |-> TRUE,
                  mmatchIndex |-> commitIndex[i], mreadSeq |-> m.mreadSeq,
                  mconflictTerm |-> 0, mconflictIndex |-> 0, msource |-> i, mdest |-> j], m)
        /\ UNCHANGED <<logVars, commitIndex, committed, budget>>

\* 5. Leader i handles j's rejection of a request of its term: nextIndex[i][j] goes anywhere from
\*    matchIndex[i][j] + 1 up to where it was; nothing else changes.
HandleAppendEntriesResponseBackOff(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = AppendEntriesResponse /\ m.mdest = i /\ m.msource = j
        /\ m.mterm = currentTerm[i] /\ role[i] = Leader /\ ~m.msuccess
        /\ LET floor == matchIndex[i][j] + 1
           IN \E next \in floor..Max(nextIndex[i][j], floor) :
                 nextIndex' = [nextIndex EXCEPT ![i][j] = next]
        /\ Discard(m)
        /\ UNCHANGED <<serverVars, logVars, role, commitIndex, votesGranted, matchIndex, reads,
                       historyVars, budget>>

\* 6. i refuses j's vote request of i's own term, its vote unchanged.
HandleRequestVoteRequestLeaderKnown(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = RequestVoteRequest /\ m.mdest = i /\ m.msource = j
        /\ m.mterm = currentTerm[i]
        /\ Reply([mtype |-> RequestVoteResponse, mterm |-> currentTerm[i], mvoteGranted |-> FALSE,
                  msource |-> i, mdest |-> j], m)
        /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars, budget>>

\* 7. Candidate i, refused by j in its term, becomes a follower in that term, its vote kept.
HandleRequestVoteResponseLost(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = RequestVoteResponse /\ m.mdest = i /\ m.msource = j
        /\ m.mterm = currentTerm[i] /\ role[i] = Candidate /\ ~m.mvoteGranted
        /\ role' = [role EXCEPT ![i] = Follower]
        /\ LeaveRole(i, TRUE)
        /\ Discard(m)
        /\ UNCHANGED <<serverVars, logVars, commitIndex, committed, budget>>

\* 8. i crashes and restarts as Raft.tla's Restart, with the commit index it wrote durably.
RestartKeepingCommit(i) ==
    /\ budget.fault > 0 /\ budget.restart > 0
    /\ role' = [role EXCEPT ![i] = Follower]
    /\ \E c \in snapshotIndex[i]..commitIndex[i] : commitIndex' = [commitIndex EXCEPT ![i] = c]
    /\ LeaveRole(i, TRUE)
    /\ budget' = [budget EXCEPT !.fault = @ - 1, !.restart = @ - 1]
    /\ UNCHANGED <<messages, serverVars, logVars, committed>>

\* 9. i answers j's pre-vote request: a grant echoes its term, a refusal carries i's own.
HandlePreVoteRequestEtcd(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = PreVoteRequest /\ m.mdest = i /\ m.msource = j
        /\ LET logOk == \/ m.mlastLogTerm > LastTerm(i)
                        \/ /\ m.mlastLogTerm = LastTerm(i)
                           /\ m.mlastLogIndex >= LastIndex(i)
           IN \E grant \in BOOLEAN :
                 /\ grant => m.mterm >= currentTerm[i] /\ logOk
                 /\ Reply([mtype |-> PreVoteResponse,
                           mterm |-> IF grant THEN m.mterm ELSE currentTerm[i],
                           mvoteGranted |-> grant, msource |-> i, mdest |-> j], m)
        /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars, budget>>

\* 10. i, refused by j in a newer term, becomes a follower of that term with no vote.
HandlePreVoteResponseNewerTerm(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = PreVoteResponse /\ m.mdest = i /\ m.msource = j
        /\ ~m.mvoteGranted /\ m.mterm > currentTerm[i]
        /\ currentTerm' = [currentTerm EXCEPT ![i] = m.mterm]
        /\ role' = [role EXCEPT ![i] = Follower]
        /\ votedFor' = [votedFor EXCEPT ![i] = None]
        /\ LeaveRole(i, TRUE)
        /\ Discard(m)
        /\ UNCHANGED <<logVars, commitIndex, committed, budget>>

\* 11. Pre-candidate i, refused by j in its term, becomes a follower in that term.
HandlePreVoteResponseLost(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = PreVoteResponse /\ m.mdest = i /\ m.msource = j
        /\ ~m.mvoteGranted /\ m.mterm = currentTerm[i] /\ role[i] = PreCandidate
        /\ role' = [role EXCEPT ![i] = Follower]
        /\ LeaveRole(i, TRUE)
        /\ Discard(m)
        /\ UNCHANGED <<serverVars, logVars, commitIndex, committed, budget>>

\* 12. i ignores j's vote or pre-vote request of a newer term: no answer, nothing changes.
\*     (The guard sits inside the \E, so that the action is a receive of m by its shape:
\*     traces/logs/validate.py reads ahead for the messages such actions take.)
IgnoreVoteRequestInLease(i, j) ==
    \E m \in DOMAIN messages :
        /\ CheckQuorum
        /\ m.mdest = i /\ m.msource = j
        /\ m.mtype \in {RequestVoteRequest, PreVoteRequest}
        /\ m.mterm > currentTerm[i]
        /\ Discard(m)
        /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars, budget>>

\* 12. With check-quorum, leader i steps down in its term (RaftPipelined.tla's step-down).
LeaderStepDown(i) == CheckQuorum /\ CheckQuorumStepDown(i)

\* Raft.tla's Next, the pipelined send, and the library's choices above (one labelled action per
\* i, j or i, as in Raft.tla). RaftPipelined's step back is a case of the back-off; its leader
\* step-down is LeaderStepDown, with check-quorum.
EtcdNext ==
    \/ Next
    \/ \E i \in Server : \E j \in Peers(i) : PipelineAppendEntries(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : Heartbeat(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : IgnoreStaleRequest(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleAppendEntriesRequestBelowCommit(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleAppendEntriesResponseBackOff(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleRequestVoteRequestLeaderKnown(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleRequestVoteResponseLost(i, j)
    \/ \E i \in Server : RestartKeepingCommit(i)
    \/ \E i \in Server : \E j \in Peers(i) : HandlePreVoteRequestEtcd(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandlePreVoteResponseNewerTerm(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandlePreVoteResponseLost(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : IgnoreVoteRequestInLease(i, j)
    \/ \E i \in Server : LeaderStepDown(i)

EtcdSpec == Init /\ [][EtcdNext]_vars

\* A commit index never decreases but in a restart (Raft.tla's CommitIndexMonotonic, with this
\* module's restart).
EtcdCommitIndexMonotonic ==
    [][\A i \in Server : commitIndex'[i] >= commitIndex[i] \/ Restart(i)
                        \/ RestartKeepingCommit(i)]_vars

=============================================================================
