----------------------------- MODULE HybridLogs -----------------------------
(***************************************************************************)
(* Hybrid.tla as `meshcheck validate --spec Hybrid` walks the hybrid      *)
(* nodes' own NDJSON logs (meshcheck/traces/logs/validate.py;             *)
(* docs/logs.md, "The hybrid dispatcher's logs"). Hybrid.tla's chain[e]  *)
(* is the agreed order of epoch e, one for the cluster, and its Order     *)
(* steps are nobody's: the simulator's trace validation takes them where  *)
(* the first honest node applies an entry (impl/hybrid/refinement.py).    *)
(* A node's own log cannot say whether it was the first, so here each     *)
(* Order is node i's, and says which entry i applies next:                *)
(*                                                                         *)
(* - when the chain ends where i is (no honest node applied that entry     *)
(*   yet), it is Hybrid.tla's Order step;                                  *)
(* - when the chain holds an entry there, that entry must be the one i     *)
(*   names, and the record is no step (another node's Order took it).      *)
(*                                                                         *)
(* Either way the spec's Apply(i) follows, unchanged. A step this module   *)
(* allows is a step of Hybrid.tla or a stutter, but for Restart(i).        *)
(*                                                                         *)
(* Restart(i) is the one step Hybrid.tla does not have: it has no crash,   *)
(* and the processes are killed. A hybrid node restarted rebuilds its      *)
(* current epoch's machine from the epoch's start state and replays a      *)
(* prefix of what that epoch committed (impl/hybrid/node.py, Durability): *)
(* it goes back to a position of the same agreed chain, its level and its  *)
(* history what that prefix gives, and applies the rest again. Nothing it  *)
(* knew of other epochs changes, nor the chains.                           *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences

CONSTANT Nodes, Byzantine, Ops, MaxEpoch, MaxEvidence, MaxQuiet
VARIABLE epoch, protocol, level, applied, history, chain, submitted, outcome

H == INSTANCE Hybrid

vars == <<epoch, protocol, level, applied, history, chain, submitted, outcome>>
Honest == H!Honest
Epochs == H!Epochs

\* i names the entry x at its next position of epoch e's chain: the first honest node there orders
\* it (Hybrid.tla's Order step), any later one finds it there (no step).
First(i, e) == epoch[i] = e /\ applied[i] = Len(chain[e])
Found(i, e, x) == epoch[i] = e /\ applied[i] < Len(chain[e]) /\ chain[e][applied[i] + 1] = x

OrderOp(i, e, o) == \/ Found(i, e, H!OpEntry(o, e)) /\ UNCHANGED vars
                    \/ First(i, e) /\ H!OrderOp(e, o)
OrderEvidence(i, e, k) == \/ Found(i, e, H!EvidenceEntry(k)) /\ UNCHANGED vars
                          \/ First(i, e) /\ H!OrderEvidence(e, k)
OrderQuiet(i, e) == \/ Found(i, e, H!QuietEntry) /\ UNCHANGED vars
                    \/ First(i, e) /\ H!OrderQuiet(e)

\* Hybrid.tla's own (a conjunction, so that TLC names the step by this module's name)
Submit(o) == /\ H!Submit(o)
Apply(i) == /\ H!Apply(i)
Switch(i) == /\ H!Switch(i)
Reply(o) == /\ H!Reply(o)
Reject(o) == /\ H!Reject(o)

\* The level after the entries s from level l, as Apply computes it one entry at a time.
RECURSIVE LevelAfter(_, _)
LevelAfter(l, s) == IF s = <<>> THEN l ELSE LevelAfter(H!Bump(l, Head(s)), Tail(s))

\* i restarts: back to position a of its epoch's chain, as the entries up to it leave it.
Restart(i) ==
    LET S == H!Scan
        e == epoch[i]
    IN \E a \in 0..applied[i] :
          LET done == SubSeq(chain[e], 1, a)
          IN /\ applied' = [applied EXCEPT ![i] = a]
             /\ level' = [level EXCEPT ![i] = LevelAfter(S[e].start, done)]
             /\ history' = [history EXCEPT ![i] = H!Dedup(H!OpsOf(H!Before(S, e) \o done))]
             /\ UNCHANGED <<epoch, protocol, chain, submitted, outcome>>

Init == H!Init

Next ==
    \/ \E o \in Ops : Submit(o)
    \/ \E i \in Honest, e \in Epochs, o \in Ops : OrderOp(i, e, o)
    \/ \E i \in Honest, e \in Epochs, k \in H!Kinds : OrderEvidence(i, e, k)
    \/ \E i \in Honest, e \in Epochs : OrderQuiet(i, e)
    \/ \E i \in Honest : Apply(i)
    \/ \E i \in Honest : Switch(i)
    \/ \E i \in Honest : Restart(i)
    \/ \E o \in Ops : Reply(o)
    \/ \E o \in Ops : Reject(o)

TypeOK == H!TypeOK
ProtocolMatchesLevel == H!ProtocolMatchesLevel
AgreedProtocolPerEpoch == H!AgreedProtocolPerEpoch
NoCommittedOpLost == H!NoCommittedOpLost
NoOpCommittedTwice == H!NoOpCommittedTwice
LevelJustifiedByEvidence == H!LevelJustifiedByEvidence
=============================================================================
