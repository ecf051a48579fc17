------------------------------ MODULE TwoPhase ------------------------------
(***************************************************************************)
(* Two-phase commit, after Gray and Lamport's TwoPhase spec ("Consensus on *)
(* Transaction Commit", ACM TODS 31(1), 2006, section 3 and appendix       *)
(* A.2): a transaction manager `tm` and resource managers RM that exchange *)
(* messages through `msgs`, a set that only grows (a message, once sent,   *)
(* may be received any number of times). The test suite's toy protocol:   *)
(* tests/toy/core.py implements it, tests/toy/descriptor.py registers it.  *)
(***************************************************************************)
CONSTANT RM

VARIABLES rmState, tmState, tmPrepared, msgs

Messages == [type : {"Prepared"}, rm : RM] \cup [type : {"Commit", "Abort"}]

TypeOK ==
  /\ rmState \in [RM -> {"working", "prepared", "committed", "aborted"}]
  /\ tmState \in {"init", "done"}
  /\ tmPrepared \subseteq RM
  /\ msgs \subseteq Messages

Init ==
  /\ rmState = [r \in RM |-> "working"]
  /\ tmState = "init"
  /\ tmPrepared = {}
  /\ msgs = {}

TMRcvPrepared(r) ==
  /\ tmState = "init"
  /\ [type |-> "Prepared", rm |-> r] \in msgs
  /\ tmPrepared' = tmPrepared \cup {r}
  /\ UNCHANGED <<rmState, tmState, msgs>>

TMCommit ==
  /\ tmState = "init"
  /\ tmPrepared = RM
  /\ tmState' = "done"
  /\ msgs' = msgs \cup {[type |-> "Commit"]}
  /\ UNCHANGED <<rmState, tmPrepared>>

TMAbort ==
  /\ tmState = "init"
  /\ tmState' = "done"
  /\ msgs' = msgs \cup {[type |-> "Abort"]}
  /\ UNCHANGED <<rmState, tmPrepared>>

RMPrepare(r) ==
  /\ rmState[r] = "working"
  /\ rmState' = [rmState EXCEPT ![r] = "prepared"]
  /\ msgs' = msgs \cup {[type |-> "Prepared", rm |-> r]}
  /\ UNCHANGED <<tmState, tmPrepared>>

RMChooseToAbort(r) ==
  /\ rmState[r] = "working"
  /\ rmState' = [rmState EXCEPT ![r] = "aborted"]
  /\ UNCHANGED <<tmState, tmPrepared, msgs>>

RMRcvCommitMsg(r) ==
  /\ [type |-> "Commit"] \in msgs
  /\ rmState' = [rmState EXCEPT ![r] = "committed"]
  /\ UNCHANGED <<tmState, tmPrepared, msgs>>

RMRcvAbortMsg(r) ==
  /\ [type |-> "Abort"] \in msgs
  /\ rmState' = [rmState EXCEPT ![r] = "aborted"]
  /\ UNCHANGED <<tmState, tmPrepared, msgs>>

\* One named action per disjunct, each under its own \E: TLC splits Next into
\* actions only at this level, so each disjunct is one action of the lockstep.
Next ==
  \/ TMCommit
  \/ TMAbort
  \/ \E r \in RM : TMRcvPrepared(r)
  \/ \E r \in RM : RMPrepare(r)
  \/ \E r \in RM : RMChooseToAbort(r)
  \/ \E r \in RM : RMRcvCommitMsg(r)
  \/ \E r \in RM : RMRcvAbortMsg(r)

\* No resource manager has committed while another has aborted (TCommit's TCConsistent).
TCConsistent ==
  \A r1, r2 \in RM : ~(rmState[r1] = "aborted" /\ rmState[r2] = "committed")
=============================================================================
