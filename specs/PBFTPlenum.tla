----------------------------- MODULE PBFTPlenum -----------------------------
(***************************************************************************)
(* PBFT.tla with the rule by which Hyperledger Indy Plenum orders a batch, *)
(* for trace validation of plenum's runs (property_tests/plenum/           *)
(* validation.py, docs/plenum.md). Every action of PBFT.tla stays as it    *)
(* is; this module adds one, ExecuteOnCommits(i).                          *)
(*                                                                         *)
(* Plenum counts a Commit for (v, n) once it holds the PrePrepare and any  *)
(* Prepare of (v, n), its own among them (ordering_service.py              *)
(* _validate_commit, _has_prepared), and orders on n - f = 2F+1 Commits    *)
(* (_can_order, Quorums.commit), its own or not: it need not hold a        *)
(* prepared certificate, nor have sent its Commit. PBFT's Execute asks     *)
(* committed-local (Castro and Liskov, OSDI 1999, section 4.2: the         *)
(* replica prepared, and 2F+1 matching Commits); ExecuteOnCommits asks     *)
(* only that i accepted the batch (its PrePrepare or its own Prepare) and  *)
(* 2F+1 Commits matching it. That is safe when a Commit names its batch,   *)
(* as PBFT's does: 2F+1 matching Commits hold F+1 honest ones, so F+1      *)
(* honest replicas prepared (v, n, r), which is committed(m, v, n) (4.2):  *)
(* no other request is prepared at n in v, and every view change's 2F+1   *)
(* ViewChanges include an honest one claiming (v, n, r) (4.5.1), though i  *)
(* claims nothing. TLC checks Agreement and the other invariants on        *)
(* PBFTPlenum_quick.cfg (two requests) and PBFTPlenum.cfg (PBFT_quick's    *)
(* constants). Plenum's Commit names no digest, so its receiver            *)
(* cannot tell Commits of another batch at (v, n) from those of its own:   *)
(* property_tests/plenum/validation.py maps a Commit to the batch its      *)
(* sender prepared, and a run where a Byzantine primary split the backups  *)
(* is rejected here as by PBFT.tla (docs/plenum.md, the finding).          *)
(***************************************************************************)
EXTENDS PBFT

\* i executes the request at its next sequence number once it accepted it there and 2F+1
\* distinct replicas' Commits match it (plenum's _can_order), without its own Commit.
ExecuteOnCommits(i) ==
    /\ Len(executed[i]) < MaxSeq
    /\ LET n == Len(executed[i]) + 1
       IN \E v \in Views, r \in ReqOrNoop :
             /\ AcceptedBy(i, v, n, r)
             /\ CommitMsg(v, n, r, i) \notin msgs
             /\ Cardinality({j \in Replicas : Sent(CommitMsg(v, n, r, j))}) >= Quorum
             /\ executed' = [executed EXCEPT ![i] = Append(@, r)]
             /\ msgs' = msgs \cup (IF r = Noop THEN {} ELSE {ReplyMsg(n, r, i)})
                             \cup (IF n % CheckpointEvery = 0
                                   THEN {CheckpointMsg(n, Append(executed[i], r), i)}
                                   ELSE {})
    /\ UNCHANGED <<requested, view, status, stable, accepted>>

PlenumNext ==
    \/ Next
    \/ \E i \in Honest : ExecuteOnCommits(i)

PlenumSpec == Init /\ [][PlenumNext]_vars

=============================================================================
