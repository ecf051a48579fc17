---------------------------- MODULE HotStuffLogs ----------------------------
(***************************************************************************)
(* HotStuff.tla as `meshcheck validate --spec HotStuff` walks a real run's *)
(* NDJSON logs (meshcheck/traces/logs/validate.py; docs/logs.md): the same *)
(* module, with the blocks Vote and FormQC range over narrowed to those    *)
(* the logs name (LogEdges, fitted from the records: meshcheck/traces/     *)
(* logs/hotstuff.py `fit_hotstuff`). The validation model (traces/logs/    *)
(* models/HotStuff.cfg) puts LoggedBlocks for HotStuff.tla's Blocks, every *)
(* chain of increasing views up to MaxView: 2^MaxView of them, and a real  *)
(* run of seconds goes through hundreds of views. Every step this allows   *)
(* HotStuff.tla allows, so a log explained here is a behaviour of          *)
(* HotStuff.tla.                                                           *)
(*                                                                         *)
(* A logged block is its view and its parent's view: with no Byzantine     *)
(* replica, HotStuff.tla proposes at most one block per view (Propose and  *)
(* NewView, once per view by its leader), so the edges {parent view, view} *)
(* give every chain the logs name.                                         *)
(***************************************************************************)
EXTENDS HotStuff

CONSTANT LogEdges  \* {p, v}: the block of view v extends the block of view p (p < v; genesis 0)

LogViews == {CHOOSE x \in e : \A y \in e : y <= x : e \in LogEdges}
ParentOf == [v \in LogViews |->
                LET e == CHOOSE d \in LogEdges : v \in d /\ \A y \in d : y <= v
                IN CHOOSE x \in e : \A y \in e : x <= y]
TheCmd == CHOOSE c \in Cmds : TRUE

\* ChainTable[v]: the chain of every logged view up to v, by its parent's (one recursion per
\* view, each chain built once from its parent's).
ChainTable[v \in 0..MaxView] ==
    IF v = 0 THEN (0 :> Genesis)
    ELSE LET t == ChainTable[v - 1]
         IN IF v \in LogViews /\ ParentOf[v] \in DOMAIN t
            THEN (v :> Append(t[ParentOf[v]], [view |-> v, cmd |-> TheCmd])) @@ t
            ELSE t

LoggedBlocks == LET t == ChainTable[MaxView] IN {t[v] : v \in DOMAIN t}
=============================================================================
