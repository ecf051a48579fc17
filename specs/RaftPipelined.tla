---------------------------- MODULE RaftPipelined ----------------------------
(***************************************************************************)
(* Raft with the three choices PySyncObj makes that Raft.tla does not,     *)
(* each an action added to Raft.tla's Next (PipelinedNext); every action   *)
(* of Raft.tla stays as it is.                                             *)
(*                                                                         *)
(* 1. Pipelined AppendEntries (Ongaro's thesis, 2014, section 10.2.1       *)
(* "Pipelining"): a leader need not wait for a follower's answer before it *)
(* sends the next entries. It advances nextIndex optimistically when it    *)
(* sends, past the entries it sent, so that its next AppendEntriesRequest  *)
(* to that follower carries the entries after them; if a request is lost   *)
(* or rejected, the rejection of a later one moves nextIndex back          *)
(* (HandleAppendEntriesResponse, or 2 below; never below matchIndex + 1).  *)
(* matchIndex, and with it commitment, moves only on a success: pipelining *)
(* changes what the leader sends, never what it counts.                    *)
(*                                                                         *)
(* Implementations that pipeline: PySyncObj (`__sendAppendEntries` sets    *)
(* nextIndex past the entries of every request it sends), etcd-io/raft     *)
(* (its Progress in StateReplicate, `optimisticUpdate`).                   *)
(*                                                                         *)
(* 2. A rejected leader may back up less far than the follower's hint. On  *)
(* a rejection Raft.tla's HandleAppendEntriesResponse moves nextIndex to   *)
(* the hint, the first index the follower holds of the conflicting term    *)
(* (the optimisation at the end of the paper's section 5.3: one round trip *)
(* per term). The paper's Figure 2 says "decrement nextIndex and retry":   *)
(* one entry back from the rejected request. PySyncObj does that: a        *)
(* follower whose entry at prevLogIndex has another term answers           *)
(* `next_node_idx` = prevLogIndex, and the leader sets nextIndex to it     *)
(* (`__onMessageReceived`). With pipelining the leader's nextIndex may be  *)
(* past that request by then, and Raft.tla's answer does not carry the     *)
(* request's prevLogIndex, so HandleAppendEntriesResponseStepBack(i, j)    *)
(* lets nextIndex go anywhere from the hint's index (Raft.tla's choice) up *)
(* to nextIndex - 1, never below matchIndex + 1; the rest of the step is   *)
(* Raft.tla's rejection. As safe as the hint: the follower's consistency   *)
(* check refuses a request whose prevLogIndex entry it does not hold, and  *)
(* nextIndex decides what is sent, never what is committed.                *)
(*                                                                         *)
(* 3. A leader steps down when it has not heard from a majority (thesis    *)
(* section 6.2: a leader that cannot reach a majority within an election   *)
(* timeout steps down, so that clients retry elsewhere; etcd-io/raft's     *)
(* CheckQuorum): it becomes Follower in the same term, its vote kept.      *)
(* PySyncObj does it in its tick after `leaderFallbackTimeout` without a   *)
(* majority's answers. Time is abstracted as in Timeout: the step-down is  *)
(* enabled for any leader. It changes no safety argument: a follower of    *)
(* term t may not become leader of t again (it has voted in t), and what   *)
(* it committed stays committed.                                           *)
(***************************************************************************)
EXTENDS Raft

\* Leader i sends j entries from nextIndex[i][j] up to index last (at least one: a heartbeat
\* moves nothing and is Raft.tla's AppendEntries), the same request AppendEntries sends,
\* and optimistically assumes j will take them: nextIndex[i][j] becomes last + 1.
PipelineAppendEntries(i, j) ==
    /\ CanAppend(i, j)
    /\ \E last \in nextIndex[i][j]..LastIndex(i) :
          /\ Send(AppendRequest(i, j, last))
          /\ nextIndex' = [nextIndex EXCEPT ![i][j] = last + 1]
    /\ UNCHANGED <<serverVars, logVars, role, commitIndex, votesGranted, matchIndex, reads,
                   historyVars, budget>>

\* Leader i handles j's rejection of a request of its term as Raft.tla's
\* HandleAppendEntriesResponse does (matchIndex unchanged, the same commit rule, the ack of a
\* pending read), except that nextIndex[i][j] may go anywhere from Raft.tla's choice, the hint's
\* index, up to one back (Figure 2's rule), never below matchIndex[i][j] + 1, never forward.
HandleAppendEntriesResponseStepBack(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = AppendEntriesResponse /\ m.mdest = i /\ m.msource = j
        /\ m.mterm = currentTerm[i] /\ role[i] = Leader /\ ~m.msuccess
        /\ LET floor == matchIndex[i][j] + 1
               hint == Max(Min(nextIndex[i][j] - 1, m.mconflictIndex), floor)
               back == Max(nextIndex[i][j] - 1, floor)
               Agree(n) == {i} \cup {k \in Server : matchIndex[i][k] >= n}
               commitable == {n \in (commitIndex[i] + 1)..LastIndex(i) :
                                 /\ Quorum(Agree(n))
                                 /\ TermAt(i, n) = currentTerm[i]}
               newCommit == IF commitable = {} THEN commitIndex[i] ELSE SetMax(commitable)
               ack == ReadPending(i) /\ m.mreadSeq = reads[i].seq
           IN /\ \E next \in hint..back : nextIndex' = [nextIndex EXCEPT ![i][j] = next]
              /\ commitIndex' = [commitIndex EXCEPT ![i] = newCommit]
              /\ committed' = ExtendCommitted(log[i], snapshotIndex[i], newCommit,
                                              currentTerm[i])
              /\ reads' = [reads EXCEPT ![i].acks = IF ack THEN @ \cup {j} ELSE @]
        /\ Discard(m)
        /\ UNCHANGED <<serverVars, logVars, role, votesGranted, matchIndex, readFloor, budget>>

\* Leader i steps down to Follower in its term (CheckQuorum, thesis section 6.2): a leader's
\* state is dropped as Raft.tla's LeaveRole drops it; term, vote, log, commitIndex and the
\* messages in flight are unchanged.
CheckQuorumStepDown(i) ==
    /\ role[i] = Leader
    /\ role' = [role EXCEPT ![i] = Follower]
    /\ LeaveRole(i, TRUE)
    /\ UNCHANGED <<messages, serverVars, logVars, commitIndex, committed, budget>>

\* Raft.tla's Next, a pipelined send, a rejection that steps back less far (one labelled action
\* per i, j, as in Raft.tla), or a leader's step-down.
PipelinedNext ==
    \/ Next
    \/ \E i \in Server : \E j \in Peers(i) : PipelineAppendEntries(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleAppendEntriesResponseStepBack(i, j)
    \/ \E i \in Server : CheckQuorumStepDown(i)

PipelinedSpec == Init /\ [][PipelinedNext]_vars

=============================================================================
