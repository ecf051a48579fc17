----------------------------- MODULE RoutingLogs ----------------------------
(***************************************************************************)
(* Routing.tla as `meshcheck validate --spec Routing` walks the manager's  *)
(* NDJSON log (meshcheck/cluster/routing_log.py; docs/logs.md, "The       *)
(* manager's routing log"). Routing.tla's steps, unchanged, with one      *)
(* variable more: told[Manager], what the manager last told a submitter   *)
(* (Routing.tla's answer[o] of the operation it last answered).           *)
(*                                                                         *)
(* Why a variant: the log has one node, the manager, and the walk         *)
(* (traces/logs/validate.py) checks what a record logs at its node        *)
(* against a variable that is a function of the nodes. Routing.tla's      *)
(* functions are of the operations, not of a node; told is the manager's  *)
(* own slice, and it lets the log say what the submitter was told at each *)
(* answer (a status write answered "agreed" is then no step).             *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANT Ops, MaxEpoch, MaxChanges, Manager
VARIABLE level, epoch, mode, changes, type, state, layer, tag, levelAt, how, decisions, answer
VARIABLE told

R == INSTANCE Routing

\* The submitter of o is told answer'[o].
Tell(o) == told' = [told EXCEPT ![Manager] = answer'[o]]

\* Routing.tla's steps (a conjunction each, so that TLC names the step by this module's name)
Submit(o, t) == /\ R!Submit(o, t) /\ UNCHANGED told
Route(o) == /\ R!Route(o) /\ UNCHANGED told
DecideBFT(o) == /\ R!DecideBFT(o) /\ Tell(o)
DecideRaft(o) == /\ R!DecideRaft(o) /\ Tell(o)
GossipWrite(o) == /\ R!GossipWrite(o) /\ Tell(o)
Refuse(o) == /\ R!Refuse(o) /\ Tell(o)
Reject(o) == /\ R!Reject(o) /\ Tell(o)
LevelChange(l) == /\ R!LevelChange(l) /\ UNCHANGED told

Init == R!Init /\ told = [m \in {Manager} |-> "none"]

Next ==
    \/ \E o \in Ops, t \in R!Types : Submit(o, t)
    \/ \E o \in Ops : Route(o)
    \/ \E o \in Ops : DecideBFT(o)
    \/ \E o \in Ops : DecideRaft(o)
    \/ \E o \in Ops : GossipWrite(o)
    \/ \E o \in Ops : Refuse(o)
    \/ \E o \in Ops : Reject(o)
    \/ \E l \in R!Level : LevelChange(l)

Spec == Init /\ [][Next]_<<R!vars, told>>

TypeOK == R!TypeOK /\ told \in [{Manager} -> {"none", "agreed", "gossiped", "refused", "rejected"}]
ModeMatchesLevel == R!ModeMatchesLevel
CriticalOnlyByBFT == R!CriticalOnlyByBFT
CoordinationByLevelAtRouting == R!CoordinationByLevelAtRouting
DecidedOnce == R!DecidedOnce
StatusNeverAgreed == R!StatusNeverAgreed
UnknownRefused == R!UnknownRefused
AgreedMeansDecided == R!AgreedMeansDecided
=============================================================================
