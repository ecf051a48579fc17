------------------------------- MODULE MeshKV -------------------------------
(***************************************************************************)
(* meshkv (examples/meshkv/server.js) as its nodes log their steps, for    *)
(* `meshcheck validate --spec examples/meshkv/MeshKV.tla LOGS` (the model: *)
(* MeshKV.cfg beside it; docs/tutorial-own-service.md).                    *)
(*                                                                         *)
(* A fixed primary appends records to its log, fsyncs, the followers       *)
(* append and fsync what it sends, and a length is committed (the clients  *)
(* of its records answered) once a majority has held it durably. A log is  *)
(* abstracted to its length: what is checked is when a node may append,    *)
(* sync, commit and answer a read, and that a primary recovering from a    *)
(* restart finds at least every record it had acknowledged (Recover's      *)
(* guard: an acknowledged write lost, by a missing fsync or a corrupted    *)
(* file read back as good, is a record no step explains).                  *)
(*                                                                         *)
(* Kept small for validation: no message bag (a follower's Replicate is    *)
(* bounded by the longest log the primary ever had, `high`), and `dmax`,   *)
(* the most a node ever held durably, counts its acknowledgments (a        *)
(* follower may crash after acknowledging, before the primary logs the     *)
(* commit its acknowledgment allowed).                                     *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS Nodes,     \* the nodes' names, as their logs give them
          Primary,   \* the fixed primary (the first node)
          MaxBatch   \* records per append or replication message (server.js MAX_BATCH)

VARIABLES len,       \* len[n]: the records in n's log
          durable,   \* durable[n]: of those, how many n has fsynced
          commit,    \* commit[Primary]: the records committed (acknowledged once answered)
          dmax,      \* ghost: the most records n has ever held durably
          acked,     \* ghost: the most records the primary ever committed
          high       \* ghost: the longest log the primary ever had

vars == <<len, durable, commit, dmax, acked, high>>

Max(a, b) == IF a > b THEN a ELSE b
Majority(S) == 2 * Cardinality(S) > Cardinality(Nodes)

Init ==
    /\ len = [n \in Nodes |-> 0]
    /\ durable = [n \in Nodes |-> 0]
    /\ commit = [n \in Nodes |-> 0]
    /\ dmax = [n \in Nodes |-> 0]
    /\ acked = 0
    /\ high = 0

\* The primary appends a batch of k records (writes, and cas's that apply).
Append(i, k) ==
    /\ i = Primary
    /\ len' = [len EXCEPT ![i] = @ + k]
    /\ high' = Max(high, len[i] + k)
    /\ UNCHANGED <<durable, commit, dmax, acked>>

\* A follower appends k records the primary sent it.
Replicate(i, k) ==
    /\ i # Primary
    /\ len[i] + k <= high
    /\ len' = [len EXCEPT ![i] = @ + k]
    /\ UNCHANGED <<durable, commit, dmax, acked, high>>

\* A node fsyncs its log.
Sync(i) ==
    /\ durable' = [durable EXCEPT ![i] = len[i]]
    /\ dmax' = [dmax EXCEPT ![i] = Max(@, len[i])]
    /\ UNCHANGED <<len, commit, acked, high>>

\* The primary commits the first n records: a majority has held them durably.
Commit(i) ==
    /\ i = Primary
    /\ \E n \in commit[i] + 1 .. len[i] :
        /\ Majority({j \in Nodes : dmax[j] >= n})
        /\ commit' = [commit EXCEPT ![i] = n]
        /\ acked' = Max(acked, n)
    /\ UNCHANGED <<len, durable, dmax, high>>

\* A read is answered, by the primary only, from what it committed.
Read(i) ==
    /\ i = Primary
    /\ UNCHANGED vars

\* The primary, started again, recovers a log from a majority: every record it acknowledged must
\* be in it.
Recover(i) ==
    /\ i = Primary
    /\ \E n \in acked .. high :
        /\ len' = [len EXCEPT ![i] = n]
        /\ commit' = [commit EXCEPT ![i] = 0]
    /\ UNCHANGED <<durable, dmax, acked, high>>

\* A follower, started again, reads back what is left of its log (a power failure or a corrupted
\* file may have taken a tail).
Restart(i) ==
    /\ i # Primary
    /\ \E n \in 0 .. len[i] :
        /\ len' = [len EXCEPT ![i] = n]
        /\ durable' = [durable EXCEPT ![i] = n]
    /\ UNCHANGED <<commit, dmax, acked, high>>

\* A follower whose log is no prefix of the primary's takes the primary's whole log.
Reset(i) ==
    /\ i # Primary
    /\ \E n \in 0 .. high : len' = [len EXCEPT ![i] = n]
    /\ UNCHANGED <<durable, commit, dmax, acked, high>>

Next ==
    \/ \E i \in Nodes, k \in 1 .. MaxBatch : Append(i, k) \/ Replicate(i, k)
    \/ \E i \in Nodes : Sync(i) \/ Commit(i) \/ Read(i) \/ Recover(i) \/ Restart(i) \/ Reset(i)

Spec == Init /\ [][Next]_vars

TypeOK ==
    /\ len \in [Nodes -> Nat] /\ durable \in [Nodes -> Nat] /\ commit \in [Nodes -> Nat]
    /\ dmax \in [Nodes -> Nat] /\ acked \in Nat /\ high \in Nat

\* What Recover's guard keeps: the primary's committed records are never fewer than acknowledged.
CommitNeverLost == commit[Primary] <= acked
=============================================================================
