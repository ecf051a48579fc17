------------------------------- MODULE Routing ------------------------------
(***************************************************************************)
(* Routing by operation type across the three layers (Routing.md): a      *)
(* manager takes (operation type, data) and sends critical operations to  *)
(* PBFT, coordination to the hybrid dispatcher (Raft while the threat     *)
(* level is None, Low or Medium, BFT at High and Critical: Hybrid.tla,    *)
(* ThreatLevel.tla) and status to gossip; it refuses a type it does not   *)
(* know, and tells the submitter.                                          *)
(*                                                                         *)
(* The layers are black boxes. The PBFT cluster decides what is routed to *)
(* it by a BFT quorum. The hybrid dispatcher runs epochs, each with one   *)
(* protocol, the one the level called for when the epoch began; an op is  *)
(* tagged with the epoch it was routed in, is decided only by that        *)
(* epoch's protocol, and only while that epoch lasts; once the epoch has  *)
(* ended without it, the submitter is told "rejected" (Hybrid.tla's       *)
(* Reject). The gossip store takes a write at once and agrees on nothing. *)
(*                                                                         *)
(* Bounds are action guards, so a stepper driving TLC one step at a time   *)
(* sees the model TLC checks.                                              *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANT Ops          \* operation ids "o1", ...
CONSTANT MaxEpoch     \* the hybrid dispatcher's epochs 1 .. MaxEpoch
CONSTANT MaxChanges   \* at most this many level changes in all

ASSUME IsFiniteSet(Ops) /\ MaxEpoch \in Nat \ {0} /\ MaxChanges \in Nat

-----------------------------------------------------------------------------
\* Threat levels (ThreatLevel.tla's names and protocol table; impl/hybrid/levels.py)

Levels == <<"None", "Low", "Medium", "High", "Critical">>
Level == {Levels[k] : k \in 1..5}
Rank == [l \in Level |-> CHOOSE k \in 0..4 : Levels[k + 1] = l]
ProtocolOf == [l \in Level |-> IF l \in {"High", "Critical"} THEN "bft" ELSE "raft"]
Protocol(l) == ProtocolOf[l]

-----------------------------------------------------------------------------
\* Operation types and the routing table (impl/manager/routing.py's ROUTES)

Known == {"critical", "coordination", "status"}
Types == Known \cup {"unknown"}   \* "unknown": any type the manager does not know
Routes == [t \in Known |-> CASE t = "critical" -> "pbft"
                            [] t = "coordination" -> "hybrid"
                            [] t = "status" -> "gossip"]
Layers == {"pbft", "hybrid", "gossip"}

\* How an operation was decided: by a BFT quorum, by a Raft majority, or gossiped (not agreed).
Hows == {"bft", "raft", "gossip"}

-----------------------------------------------------------------------------
VARIABLE level      \* the threat level
VARIABLE epoch      \* the hybrid dispatcher's current epoch
VARIABLE mode       \* mode[e]: the protocol of epoch e ("raft", "bft"; "none" before it began)
VARIABLE changes    \* level changes so far (bounded by MaxChanges)
VARIABLE type       \* type[o]: the type o was submitted with ("none" before)
VARIABLE state      \* state[o]: "none", "submitted", "routed", "done"
VARIABLE layer      \* layer[o]: where o was routed ("none", or one of Layers)
VARIABLE tag        \* tag[o]: the epoch o was routed in (0 unless routed to the hybrid layer)
VARIABLE levelAt    \* levelAt[o]: the level when o was routed ("None" before)
VARIABLE how        \* how[o]: what decided o ("none", or one of Hows)
VARIABLE decisions  \* decisions[o]: how many times a layer decided o (ghost)
VARIABLE answer     \* answer[o]: what o's submitter was told:
                    \*   "none", "agreed", "gossiped", "refused", "rejected"
vars == <<level, epoch, mode, changes, type, state, layer, tag, levelAt, how, decisions, answer>>

-----------------------------------------------------------------------------
Init ==
    /\ level = "None"
    /\ epoch = 1
    /\ mode = [e \in 1..MaxEpoch |-> IF e = 1 THEN "raft" ELSE "none"]
    /\ changes = 0
    /\ type = [o \in Ops |-> "none"]
    /\ state = [o \in Ops |-> "none"]
    /\ layer = [o \in Ops |-> "none"]
    /\ tag = [o \in Ops |-> 0]
    /\ levelAt = [o \in Ops |-> "None"]
    /\ how = [o \in Ops |-> "none"]
    /\ decisions = [o \in Ops |-> 0]
    /\ answer = [o \in Ops |-> "none"]

opVars == <<layer, tag, levelAt, how, decisions>>

\* The submitter hands the manager op o with type t.
Submit(o, t) ==
    /\ state[o] = "none"
    /\ type' = [type EXCEPT ![o] = t]
    /\ state' = [state EXCEPT ![o] = "submitted"]
    /\ UNCHANGED <<level, epoch, mode, changes, opVars, answer>>

\* The manager routes o by its type (the routing table); an op for the hybrid layer carries the
\* epoch it was routed in. An unknown type is never routed (Refuse).
Route(o) ==
    /\ state[o] = "submitted"
    /\ type[o] \in Known
    /\ layer' = [layer EXCEPT ![o] = Routes[type[o]]]
    /\ tag' = [tag EXCEPT ![o] = IF Routes[type[o]] = "hybrid" THEN epoch ELSE 0]
    /\ levelAt' = [levelAt EXCEPT ![o] = level]
    /\ state' = [state EXCEPT ![o] = "routed"]
    /\ UNCHANGED <<level, epoch, mode, changes, type, how, decisions, answer>>

Decided(o, h) ==
    /\ how' = [how EXCEPT ![o] = h]
    /\ decisions' = [decisions EXCEPT ![o] = @ + 1]
    /\ state' = [state EXCEPT ![o] = "done"]
    /\ answer' = [answer EXCEPT ![o] = "agreed"]
    /\ UNCHANGED <<level, epoch, mode, changes, type, layer, tag, levelAt>>

\* A BFT quorum decides o: the PBFT cluster, or the hybrid dispatcher in a BFT epoch, o's epoch,
\* while that epoch lasts. The submitter is told "agreed", by a BFT quorum.
DecideBFT(o) ==
    /\ state[o] = "routed"
    /\ \/ layer[o] = "pbft"
       \/ layer[o] = "hybrid" /\ tag[o] = epoch /\ mode[tag[o]] = "bft"
    /\ Decided(o, "bft")

\* A Raft majority decides o: the hybrid dispatcher in a Raft epoch, o's epoch, while it lasts.
DecideRaft(o) ==
    /\ state[o] = "routed"
    /\ layer[o] = "hybrid" /\ tag[o] = epoch /\ mode[tag[o]] = "raft"
    /\ Decided(o, "raft")

\* The gossip store takes the write at once: nothing to wait for, nothing agreed.
GossipWrite(o) ==
    /\ state[o] = "routed"
    /\ layer[o] = "gossip"
    /\ how' = [how EXCEPT ![o] = "gossip"]
    /\ state' = [state EXCEPT ![o] = "done"]
    /\ answer' = [answer EXCEPT ![o] = "gossiped"]
    /\ UNCHANGED <<level, epoch, mode, changes, type, layer, tag, levelAt, decisions>>

\* An unknown type is refused: o goes nowhere, and its submitter is told.
Refuse(o) ==
    /\ state[o] = "submitted"
    /\ type[o] \notin Known
    /\ state' = [state EXCEPT ![o] = "done"]
    /\ answer' = [answer EXCEPT ![o] = "refused"]
    /\ UNCHANGED <<level, epoch, mode, changes, type, opVars>>

\* o's epoch ended without it: it will never be decided there, and its submitter is told
\* "rejected" (Hybrid.tla's Reject; the submitter may submit it again).
Reject(o) ==
    /\ state[o] = "routed"
    /\ layer[o] = "hybrid" /\ tag[o] < epoch
    /\ state' = [state EXCEPT ![o] = "done"]
    /\ answer' = [answer EXCEPT ![o] = "rejected"]
    /\ UNCHANGED <<level, epoch, mode, changes, type, opVars>>

\* The threat level moves to l: up at once, down one level at a time (ThreatLevel.tla). When l
\* calls for the other protocol, the hybrid dispatcher's epoch ends and the next begins with it.
LevelChange(l) ==
    /\ changes < MaxChanges
    /\ Rank[l] > Rank[level] \/ Rank[l] = Rank[level] - 1
    /\ Protocol(l) # mode[epoch] => epoch < MaxEpoch
    /\ level' = l
    /\ changes' = changes + 1
    /\ IF Protocol(l) # mode[epoch]
       THEN /\ epoch' = epoch + 1
            /\ mode' = [mode EXCEPT ![epoch + 1] = Protocol(l)]
       ELSE UNCHANGED <<epoch, mode>>
    /\ UNCHANGED <<type, state, opVars, answer>>

\* A plain disjunction of named actions under \E over constant sets (docs/architecture.md).
Next ==
    \/ \E o \in Ops, t \in Types : Submit(o, t)
    \/ \E o \in Ops : Route(o)
    \/ \E o \in Ops : DecideBFT(o)
    \/ \E o \in Ops : DecideRaft(o)
    \/ \E o \in Ops : GossipWrite(o)
    \/ \E o \in Ops : Refuse(o)
    \/ \E o \in Ops : Reject(o)
    \/ \E l \in Level : LevelChange(l)

Spec == Init /\ [][Next]_vars

\* Liveness: the manager and the layers act on what they hold (the level need not change).
Progress == \E o \in Ops : Route(o) \/ DecideBFT(o) \/ DecideRaft(o) \/ GossipWrite(o)
                           \/ Refuse(o) \/ Reject(o)
\* Each part can happen only finitely often (every op goes none -> submitted -> routed -> done),
\* so weak fairness of the whole is weak fairness of each part (as in Hybrid.tla).
LiveSpec == Spec /\ WF_vars(Progress)

-----------------------------------------------------------------------------
\* Invariants

TypeOK ==
    /\ level \in Level
    /\ epoch \in 1..MaxEpoch
    /\ mode \in [1..MaxEpoch -> {"raft", "bft", "none"}]
    /\ changes \in 0..MaxChanges
    /\ type \in [Ops -> Types \cup {"none"}]
    /\ state \in [Ops -> {"none", "submitted", "routed", "done"}]
    /\ layer \in [Ops -> Layers \cup {"none"}]
    /\ tag \in [Ops -> 0..MaxEpoch]
    /\ levelAt \in [Ops -> Level]
    /\ how \in [Ops -> Hows \cup {"none"}]
    /\ decisions \in [Ops -> Nat]
    /\ answer \in [Ops -> {"none", "agreed", "gossiped", "refused", "rejected"}]

\* The hybrid dispatcher runs the protocol the level calls for (its epoch's mode).
ModeMatchesLevel == mode[epoch] = Protocol(level)

\* A critical operation is decided only by a BFT quorum of the PBFT cluster, whatever the level.
CriticalOnlyByBFT ==
    \A o \in Ops : type[o] = "critical" /\ how[o] # "none" => how[o] = "bft" /\ layer[o] = "pbft"

\* A coordination operation is decided by the hybrid dispatcher's protocol for the level at
\* routing: a Raft majority at None, Low and Medium, a BFT quorum at High and Critical (the
\* protocol of the epoch it was routed in).
CoordinationByLevelAtRouting ==
    \A o \in Ops :
        type[o] = "coordination" /\ how[o] # "none" =>
            /\ layer[o] = "hybrid"
            /\ how[o] = Protocol(levelAt[o])
            /\ how[o] = mode[tag[o]]

\* No operation is decided twice (by one layer twice, or by Raft and BFT both).
DecidedOnce == \A o \in Ops : decisions[o] <= 1

\* A status write never waits on consensus: once routed, the gossip store can take it at once,
\* whatever the deciders and the level are doing.
StatusNeverWaits ==
    \A o \in Ops : type[o] = "status" /\ state[o] = "routed" => ENABLED GossipWrite(o)

\* A status write is never decided by consensus nor reported as agreed.
StatusNeverAgreed ==
    \A o \in Ops :
        type[o] = "status" =>
            /\ layer[o] \in {"none", "gossip"}
            /\ how[o] \in {"none", "gossip"}
            /\ answer[o] \in {"none", "gossiped"}

\* An unknown type is refused with nothing lost: it is never routed anywhere, and once the
\* manager has acted on it its submitter has been told so.
UnknownRefused ==
    \A o \in Ops :
        type[o] = "unknown" =>
            /\ layer[o] = "none" /\ how[o] = "none"
            /\ state[o] = "done" => answer[o] = "refused"

\* The submitter is told "agreed" only of what a quorum decided: a rejected operation (its epoch
\* ended without it) is not reported as agreed.
AgreedMeansDecided ==
    \A o \in Ops : answer[o] = "agreed" => how[o] \in {"bft", "raft"} /\ decisions[o] = 1

-----------------------------------------------------------------------------
\* Liveness (LiveSpec): nothing is lost; every submitted operation gets an answer.

EveryOpAnswered == \A o \in Ops : state[o] = "submitted" ~> answer[o] # "none"

=============================================================================
