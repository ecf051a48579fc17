---------------------------- MODULE RaftPipelined ----------------------------
(***************************************************************************)
(* Raft.tla with pipelined AppendEntries (Ongaro's thesis, 2014, section   *)
(* 10.2.1 "Pipelining"): a leader need not wait for a follower's answer    *)
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
(* (its Progress in StateReplicate, `optimisticUpdate`). Every action of   *)
(* Raft.tla stays as it is; PipelinedNext adds one.                        *)
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

\* Raft.tla's Next, or a pipelined send (one labelled action per i, j, as in Raft.tla).
PipelinedNext ==
    \/ Next
    \/ \E i \in Server : \E j \in Peers(i) : PipelineAppendEntries(i, j)

PipelinedSpec == Init /\ [][PipelinedNext]_vars

=============================================================================
