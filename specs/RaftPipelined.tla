---------------------------- MODULE RaftPipelined ----------------------------
(***************************************************************************)
(* Raft with the two optimisations PySyncObj uses, each an action added   *)
(* to Raft.tla's Next (PipelinedNext); every action of Raft.tla stays as  *)
(* it is.                                                                  *)
(*                                                                         *)
(* 1. Pipelined AppendEntries (Ongaro's thesis, 2014, section 10.2.1       *)
(* "Pipelining"): a leader need not wait for a follower's answer           *)
(* before it sends the next entries. It advances nextIndex optimistically  *)
(* when it sends, past the entries it sent, so that its next               *)
(* AppendEntriesRequest to that follower carries the entries after them;  *)
(* if a request is lost or rejected, the rejection of a later one moves    *)
(* nextIndex back (HandleAppendEntriesResponse: to the follower's hint,    *)
(* never below matchIndex + 1). matchIndex, and with it commitment, moves  *)
(* only on a success: pipelining changes what the leader sends, never what *)
(* it counts.                                                              *)
(*                                                                         *)
(* Implementations that pipeline: PySyncObj (`__sendAppendEntries` sets    *)
(* nextIndex past the entries of every request it sends), etcd-io/raft     *)
(* (its Progress in StateReplicate, `optimisticUpdate`).                    *)
(*                                                                         *)
(* 2. A leader steps down when it has not heard from a majority (thesis    *)
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

\* Leader i steps down to Follower in its term (CheckQuorum, thesis section 6.2): a leader's
\* state is dropped as Raft.tla's LeaveRole drops it; term, vote, log, commitIndex and the
\* messages in flight are unchanged.
CheckQuorumStepDown(i) ==
    /\ role[i] = Leader
    /\ role' = [role EXCEPT ![i] = Follower]
    /\ LeaveRole(i, TRUE)
    /\ UNCHANGED <<messages, serverVars, logVars, commitIndex, committed, budget>>

\* Raft.tla's Next, a pipelined send (one labelled action per i, j, as in Raft.tla), or a
\* leader's step-down.
PipelinedNext ==
    \/ Next
    \/ \E i \in Server : \E j \in Peers(i) : PipelineAppendEntries(i, j)
    \/ \E i \in Server : CheckQuorumStepDown(i)

PipelinedSpec == Init /\ [][PipelinedNext]_vars

=============================================================================
