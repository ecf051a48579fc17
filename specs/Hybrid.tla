------------------------------- MODULE Hybrid -------------------------------
(***************************************************************************)
(* The hybrid layer's epochs and switch (Hybrid.md): a cluster runs Raft   *)
(* while the committed evidence demands a Raft level and BFT (PBFT or      *)
(* HotStuff, as the deployment chooses: HybridConfig.bft) while it demands *)
(* High or Critical, and moves between them at epoch boundaries without    *)
(* losing, reordering or repeating a committed client operation.           *)
(*                                                                         *)
(* Each epoch's protocol is abstracted to what the switch needs: its       *)
(* agreed order. chain[e] is the sequence of entries the protocol of epoch *)
(* e committed (Raft with crash faults, and the BFT protocol with f < n/3  *)
(* Byzantine replicas, each guarantee one such order among honest nodes;   *)
(* Raft.tla, PBFT.tla and HotStuff.tla check that, this spec takes it as   *)
(* given, and names no BFT protocol: Hybrid.md, "Which BFT protocol").     *)
(* Entries are client operations tagged with the epoch they were proposed  *)
(* in, evidence records, and quiet entries (the clock entries of the       *)
(* implementation, abstracted: one quiet entry = the window, the quiet     *)
(* period and the dwell have passed since the last evidence and the last   *)
(* level change).                                                          *)
(*                                                                         *)
(* Every honest node applies the entries of its epoch's chain in order.    *)
(* Its level is a function of the entries it applied, so honest nodes     *)
(* compute the same level at the same position of the committed history.  *)
(* When the level calls for the other protocol, the entry that made it so  *)
(* is the epoch's switch entry: the node applies nothing after it in that *)
(* epoch and enters the next one (Switch), carrying its history. The old   *)
(* epoch's instance may keep committing (its chain still grows); nothing  *)
(* beyond its switch entry is ever applied, and a client whose operation   *)
(* sits there (or was never ordered before it) is told "rejected".         *)
(*                                                                         *)
(* Bounds are action guards, so a stepper driving TLC one step at a time   *)
(* sees the model TLC checks.                                              *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences

CONSTANT Nodes        \* node ids "n1" .. "nN"
CONSTANT Byzantine    \* the faulty nodes: they only add evidence records (see Reportable)
CONSTANT Ops          \* client operations (strings "o1", ...)
CONSTANT MaxEpoch     \* epochs 1 .. MaxEpoch
CONSTANT MaxEvidence  \* at most this many evidence entries in all chains together
CONSTANT MaxQuiet     \* at most this many quiet entries in each epoch's chain

ASSUME /\ Byzantine \subseteq Nodes /\ Byzantine # Nodes
       /\ IsFiniteSet(Ops)
       /\ MaxEpoch \in Nat \ {0} /\ MaxEvidence \in Nat /\ MaxQuiet \in Nat

Honest == Nodes \ Byzantine
F == (Cardinality(Nodes) - 1) \div 3
Epochs == 1..MaxEpoch

-----------------------------------------------------------------------------
\* Levels and protocols (impl/hybrid/levels.py; ThreatLevel.tla has the whole function)

Levels == <<"None", "Low", "Medium", "High", "Critical">>
Level == {Levels[k] : k \in 1..5}
Rank == [l \in Level |-> CHOOSE k \in 0..4 : Levels[k + 1] = l]
LevelOfRank(k) == Levels[k + 1]
Higher(a, b) == IF Rank[a] >= Rank[b] THEN a ELSE b
Lower(l) == IF l = "None" THEN "None" ELSE LevelOfRank(Rank[l] - 1)

ProtocolOf == [l \in Level |-> IF l \in {"High", "Critical"} THEN "bft" ELSE "raft"]
Protocol(l) == ProtocolOf[l]
Other(p) == IF p = "raft" THEN "bft" ELSE "raft"

Kinds == {"bad_signature", "tampering", "equivocation", "timing"}
SelfProving == {"tampering", "equivocation"}
\* Byzantine nodes may add bad-signature and timing records freely; a tampering or
\* equivocation record proves itself, so it exists only if some node is faulty. With no faulty
\* node there is no evidence of any kind: an honest node reports a bad signature only on a seal
\* that does not verify, and a timing anomaly only on two consecutive heartbeats the leader
\* itself signed too far apart (impl/hybrid/node.py _inspect_beat), never on what the network
\* did to an honest node's messages (NoFalseAccusation, property_tests/hybrid).
Reportable == IF Byzantine = {} THEN {} ELSE Kinds
\* The liveness model substitutes one of these for Reportable (`Reportable <- OnlyTampering`).
OnlyTampering == {"tampering"}
OnlyEquivocation == {"equivocation"}

\* levels.demanded of one piece of evidence in the window, with the thresholds of
\* levels.Thresholds.for_f(F): equivocation Critical, tampering High, one bad signature High
\* if sig_high = F + 1 = 1 and Low otherwise, one timing anomaly Low (timing_medium = 3).
DemandedOne(k) ==
    CASE k = "equivocation" -> "Critical"
      [] k = "tampering" -> "High"
      [] k = "bad_signature" -> IF F = 0 THEN "High" ELSE "Low"
      [] OTHER -> "Low"

\* The level after applying entry x at level l: evidence escalates at once to what it demands;
\* a quiet entry drops one level (the evidence before it has left the window, so nothing
\* demands more: levels.step with the quiet period and the dwell passed); an op changes nothing.
Bump(l, x) ==
    CASE x.type = "evidence" -> Higher(l, DemandedOne(x.kind))
      [] x.type = "quiet" -> Lower(l)
      [] OTHER -> l

-----------------------------------------------------------------------------
\* Entries of the chains

OpEntry(o, e) == [type |-> "op", op |-> o, epoch |-> e]
EvidenceEntry(k) == [type |-> "evidence", kind |-> k]
QuietEntry == [type |-> "quiet"]
Entry == {OpEntry(o, e) : o \in Ops, e \in Epochs}
         \cup {EvidenceEntry(k) : k \in Kinds} \cup {QuietEntry}

-----------------------------------------------------------------------------
VARIABLE epoch      \* epoch[i]: the epoch honest node i is in
VARIABLE protocol   \* protocol[i][e]: what i recorded for epoch e: "raft", "bft", or "none"
VARIABLE level      \* level[i]: i's threat level, a function of the entries it applied
VARIABLE applied    \* applied[i]: how many entries of chain[epoch[i]] i has applied
VARIABLE history    \* history[i]: the client ops i has applied, in order
VARIABLE chain      \* chain[e]: the entries epoch e's protocol committed, in its agreed order
VARIABLE submitted  \* the [op, epoch] proposals clients made
VARIABLE outcome    \* outcome[o]: what o's client knows: "none", "pending", "committed", "rejected"
nodeVars == <<epoch, protocol, level, applied, history>>
vars == <<epoch, protocol, level, applied, history, chain, submitted, outcome>>

-----------------------------------------------------------------------------
\* Helpers

InSeq(x, s) == \E k \in 1..Len(s) : s[k] = x

\* The first position k0 >= k of s at which the level, l before position k, calls for a
\* protocol other than p, and the level there; at = 0 and the level at the end if none.
RECURSIVE Run(_, _, _, _)
Run(s, p, l, k) ==
    IF k > Len(s) THEN [at |-> 0, level |-> l]
    ELSE LET m == Bump(l, s[k])
         IN IF Protocol(m) # p THEN [at |-> k, level |-> m] ELSE Run(s, p, m, k + 1)

\* What the committed chains say of each epoch, as every honest node computes it: its protocol
\* ("none" for an epoch no switch entry has opened yet), its starting level, the position of its
\* switch entry in chain[e] (at; 0 while there is none) and the level there (at the end of the
\* chain while there is none). ScanOf(e) gives epochs 1..e, each computed once.
RECURSIVE ScanOf(_)
ScanOf(e) ==
    IF e = 1
    THEN LET r == Run(chain[1], "raft", "None", 1)
         IN <<[proto |-> "raft", start |-> "None", at |-> r.at, level |-> r.level]>>
    ELSE LET prev == ScanOf(e - 1)
             last == prev[e - 1]
             p == Protocol(last.level)
             r == Run(chain[e], p, last.level, 1)
         IN Append(prev, IF last.proto = "none" \/ last.at = 0
                         THEN [proto |-> "none", start |-> "None", at |-> 0, level |-> "None"]
                         ELSE [proto |-> p, start |-> last.level, at |-> r.at, level |-> r.level])
Scan == ScanOf(MaxEpoch)

\* The entries of chain[e] that are applied (S = Scan): up to its switch entry, or all so far.
Effective(S, e) == IF S[e].at = 0 THEN chain[e] ELSE SubSeq(chain[e], 1, S[e].at)

\* The effective entries of epochs 1 .. e - 1, in order.
RECURSIVE Before(_, _)
Before(S, e) == IF e = 1 THEN <<>> ELSE Before(S, e - 1) \o Effective(S, e - 1)

\* Every entry honest node i applied, from the beginning: the committed history up to i's position.
AppliedEntries(S, i) == Before(S, epoch[i]) \o SubSeq(chain[epoch[i]], 1, applied[i])

OpsOf(s) == LET os == SelectSeq(s, LAMBDA x : x.type = "op") IN [k \in 1..Len(os) |-> os[k].op]

\* s without its repetitions (the first occurrence stays).
RECURSIVE Dedup(_)
Dedup(s) ==
    IF s = <<>> THEN <<>>
    ELSE LET d == Dedup(SubSeq(s, 1, Len(s) - 1))
         IN IF InSeq(s[Len(s)], d) THEN d ELSE Append(d, s[Len(s)])

\* The epoch the cluster is in: the highest epoch an honest node entered.
Current == CHOOSE e \in Epochs : (\E i \in Honest : epoch[i] = e) /\ \A i \in Honest : epoch[i] <= e

\* Epoch e's instance exists once an honest node entered it; it may commit from then on, even
\* after its switch entry (the frozen instance keeps answering and committing).
Started(e) == \E i \in Honest : epoch[i] >= e

\* Epoch e runs: an honest node is in it and none has left it.
Running(e) == Started(e) /\ \A i \in Honest : epoch[i] <= e

EvidenceCount ==
    LET n[e \in 0..MaxEpoch] ==
            IF e = 0 THEN 0 ELSE n[e - 1] + Len(SelectSeq(chain[e], LAMBDA x : x.type = "evidence"))
    IN n[MaxEpoch]
QuietCount(e) == Len(SelectSeq(chain[e], LAMBDA x : x.type = "quiet"))

\* Proposal p will never be applied (S = Scan): its epoch's switch entry is committed, and p is
\* not among the entries up to it (anything ordered later lies beyond it).
Dead(S, p) ==
    /\ S[p.epoch].at # 0
    /\ ~InSeq(OpEntry(p.op, p.epoch), Effective(S, p.epoch))

\* The ops of the epoch i is in that i applied (used by a mutant: Carried).
EpochOps(i) ==
    {chain[epoch[i]][k].op : k \in {k \in 1..applied[i] : chain[epoch[i]][k].type = "op"}}

\* The history i carries into its next epoch: all of it.
Carried(i) == history[i]

-----------------------------------------------------------------------------
Init ==
    /\ epoch = [i \in Honest |-> 1]
    /\ protocol = [i \in Honest |-> [e \in Epochs |-> IF e = 1 THEN "raft" ELSE "none"]]
    /\ level = [i \in Honest |-> "None"]
    /\ applied = [i \in Honest |-> 0]
    /\ history = [i \in Honest |-> <<>>]
    /\ chain = [e \in Epochs |-> <<>>]
    /\ submitted = {}
    /\ outcome = [o \in Ops |-> "none"]

-----------------------------------------------------------------------------
\* A client proposes o in the cluster's current epoch: first, after a rejection, or again
\* after a switch while it has no answer yet (a retry; the state machine applies o once).
Submit(o) ==
    /\ outcome[o] # "committed"
    /\ [op |-> o, epoch |-> Current] \notin submitted
    /\ submitted' = submitted \cup {[op |-> o, epoch |-> Current]}
    /\ outcome' = [outcome EXCEPT ![o] = "pending"]
    /\ UNCHANGED <<nodeVars, chain>>

\* The protocol of epoch e commits the proposal of o made in e.
OrderOp(e, o) ==
    /\ Started(e)
    /\ [op |-> o, epoch |-> e] \in submitted
    /\ ~InSeq(OpEntry(o, e), chain[e])
    /\ chain' = [chain EXCEPT ![e] = Append(@, OpEntry(o, e))]
    /\ UNCHANGED <<nodeVars, submitted, outcome>>

\* The protocol of epoch e commits an evidence record of kind k (proposed by the node that saw
\* it; every node checks it on apply, so only records that check are modelled).
OrderEvidence(e, k) ==
    /\ Started(e)
    /\ k \in Reportable
    /\ EvidenceCount < MaxEvidence
    /\ chain' = [chain EXCEPT ![e] = Append(@, EvidenceEntry(k))]
    /\ UNCHANGED <<nodeVars, submitted, outcome>>

\* The protocol of epoch e commits a quiet entry: the replicated time moved past the window,
\* the quiet period and the dwell. Only while e runs (no honest node has left it) and some node
\* in it is above None and not past the switch entry: otherwise the implementation's clock
\* entries change nothing any node applies, and are left out.
OrderQuiet(e) ==
    /\ Running(e)
    /\ QuietCount(e) < MaxQuiet
    /\ \E i \in Honest : /\ epoch[i] = e /\ level[i] # "None"
                        /\ Protocol(level[i]) = protocol[i][e]
    /\ chain' = [chain EXCEPT ![e] = Append(@, QuietEntry)]
    /\ UNCHANGED <<nodeVars, submitted, outcome>>

\* Honest node i applies the next entry of its epoch's chain, unless its level already calls for
\* the other protocol (it applied the switch entry: nothing after it is applied in this epoch).
\* An op applies once: a retried op that was applied before is skipped.
Apply(i) ==
    LET e == epoch[i]
        x == chain[e][applied[i] + 1]
    IN /\ applied[i] < Len(chain[e])
       /\ Protocol(level[i]) = protocol[i][e]
       /\ applied' = [applied EXCEPT ![i] = @ + 1]
       /\ level' = [level EXCEPT ![i] = Bump(@, x)]
       /\ history' = [history EXCEPT ![i] = IF x.type = "op" /\ ~InSeq(x.op, @) THEN Append(@, x.op)
                                             ELSE @]
       /\ UNCHANGED <<epoch, protocol, chain, submitted, outcome>>

\* i's level calls for the other protocol: i ends its epoch and starts the next with that
\* protocol, a fresh instance whose initial state is i's state machine (its whole history).
Switch(i) ==
    /\ Protocol(level[i]) # protocol[i][epoch[i]]
    /\ epoch[i] < MaxEpoch
    /\ epoch' = [epoch EXCEPT ![i] = @ + 1]
    /\ protocol' = [protocol EXCEPT ![i][epoch[i] + 1] = Other(protocol[i][epoch[i]])]
    /\ applied' = [applied EXCEPT ![i] = 0]
    /\ history' = [history EXCEPT ![i] = Carried(i)]
    /\ UNCHANGED <<level, chain, submitted, outcome>>

\* o's client learns that o committed: an honest node applied it.
Reply(o) ==
    /\ outcome[o] = "pending"
    /\ \E i \in Honest : InSeq(o, history[i])
    /\ outcome' = [outcome EXCEPT ![o] = "committed"]
    /\ UNCHANGED <<nodeVars, chain, submitted>>

\* o's client learns that o was not committed: no proposal of o will ever be applied.
Reject(o) ==
    /\ outcome[o] = "pending"
    /\ LET S == Scan IN \A p \in submitted : p.op = o => Dead(S, p)
    /\ outcome' = [outcome EXCEPT ![o] = "rejected"]
    /\ UNCHANGED <<nodeVars, chain, submitted>>

\* A plain disjunction of named actions under \E over constant sets (docs/architecture.md, "TLC inside the Python process").
Next ==
    \/ \E o \in Ops : Submit(o)
    \/ \E e \in Epochs, o \in Ops : OrderOp(e, o)
    \/ \E e \in Epochs, k \in Kinds : OrderEvidence(e, k)
    \/ \E e \in Epochs : OrderQuiet(e)
    \/ \E i \in Honest : Apply(i)
    \/ \E i \in Honest : Switch(i)
    \/ \E o \in Ops : Reply(o)
    \/ \E o \in Ops : Reject(o)

Spec == Init /\ [][Next]_vars

\* Liveness: honest nodes keep applying and switching; the running instance of an epoch (no
\* honest node has left it) commits what clients proposed to it and, as time passes, quiet
\* entries (evidence is not fair: it may stop at any moment, and does: MaxEvidence); clients
\* hear what there is to hear. A frozen instance owes nothing.
Progress ==
    \/ \E i \in Honest : Apply(i) \/ Switch(i)
    \/ \E e \in Epochs : Running(e) /\ ((\E o \in Ops : OrderOp(e, o)) \/ OrderQuiet(e))
    \/ \E o \in Ops : Reply(o) \/ Reject(o)

\* Weak fairness of Progress as a whole is weak fairness of each of its parts here: each part can
\* happen only finitely often (the chains, epochs, proposals and answers are bounded), so every
\* fair behaviour ends in stuttering, and WF(Progress) then says that no part is enabled there,
\* as WF of every part would. One condition instead of one per node, epoch and op keeps TLC's
\* liveness check small.
Fairness == WF_vars(Progress)

LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
\* Symmetry reduction (the safety models' VIEW). Honest nodes are interchangeable: nothing in the
\* spec or its invariants tells them apart. The view keeps the shared variables and the honest
\* nodes' local states as a bag, so states that differ by a permutation of honest nodes count
\* once. TLC's SYMMETRY needs model values; node ids here are strings. Not for liveness.
Local(i) == <<epoch[i], protocol[i], level[i], applied[i], history[i]>>
SymmetricView ==
    LET L == [i \in Honest |-> Local(i)]
        bag == [l \in {L[i] : i \in Honest} |-> Cardinality({i \in Honest : L[i] = l})]
    IN <<chain, submitted, outcome, bag>>

-----------------------------------------------------------------------------
\* Invariants

TypeOK ==
    /\ DOMAIN epoch = Honest /\ DOMAIN protocol = Honest /\ DOMAIN level = Honest
    /\ DOMAIN applied = Honest /\ DOMAIN history = Honest /\ DOMAIN chain = Epochs
    /\ \A i \in Honest :
          /\ epoch[i] \in Epochs
          /\ DOMAIN protocol[i] = Epochs
          /\ \A e \in Epochs : protocol[i][e] \in {"raft", "bft", "none"}
          /\ level[i] \in Level
          /\ applied[i] \in 0..Len(chain[epoch[i]])
          /\ history[i] \in Seq(Ops)
    /\ \A e \in Epochs : chain[e] \in Seq(Entry)
    /\ submitted \subseteq [op : Ops, epoch : Epochs]
    /\ outcome \in [Ops -> {"none", "pending", "committed", "rejected"}]

\* A node runs the protocol its level calls for, except right after applying its epoch's
\* switch entry (the agreed one), until it switches.
ProtocolMatchesLevel ==
    LET S == Scan
    IN \A i \in Honest :
          \/ protocol[i][epoch[i]] = Protocol(level[i])
          \/ applied[i] = S[epoch[i]].at /\ applied[i] # 0

\* Every honest node records for each epoch the protocol the committed history gives it, and
\* nothing for epochs it has not entered: so honest nodes agree on the protocol of every epoch.
AgreedProtocolPerEpoch ==
    LET S == Scan
    IN \A i \in Honest, e \in Epochs :
          protocol[i][e] = IF e <= epoch[i] THEN S[e].proto ELSE "none"

\* Each honest node's state machine holds exactly the committed ops up to its position, in the
\* agreed order, across every switch; and an op its client was told was rejected is nowhere.
NoCommittedOpLost ==
    /\ LET S == Scan IN \A i \in Honest : Dedup(history[i]) = Dedup(OpsOf(AppliedEntries(S, i)))
    /\ \A o \in Ops : outcome[o] = "rejected" => \A i \in Honest : ~InSeq(o, history[i])

\* No op is applied twice by any honest node.
NoOpCommittedTwice ==
    \A i \in Honest : \A j, k \in 1..Len(history[i]) : j # k => history[i][j] # history[i][k]

\* A node's level is no higher than the evidence it applied demands, and Critical only with a
\* committed equivocation: f Byzantine nodes cannot force a switch without evidence.
LevelJustifiedByEvidence ==
    LET S == Scan
    IN \A i \in Honest :
        LET es == AppliedEntries(S, i)
            evs == {es[k].kind : k \in {k \in 1..Len(es) : es[k].type = "evidence"}}
        IN /\ \E d \in {0} \cup {Rank[DemandedOne(k)] : k \in evs} : Rank[level[i]] <= d
           /\ level[i] = "Critical" => "equivocation" \in evs

\* Evidence anyone can check is enough on its own, said without DemandedOne: right after an
\* equivocation a node is at Critical, right after a tampering record at a BFT level.
SelfProvingEvidenceSuffices ==
    LET S == Scan
    IN \A i \in Honest :
        LET ls == SelectSeq(AppliedEntries(S, i), LAMBDA x : x.type # "op")
        IN ls # <<>> =>
              /\ ls[Len(ls)] = EvidenceEntry("equivocation") => level[i] = "Critical"
              /\ ls[Len(ls)] = EvidenceEntry("tampering") => Protocol(level[i]) = "bft"

\* Action property: a node's level drops one level at a time.
DeescalationOneLevel == [][\A i \in Honest : Rank[level'[i]] >= Rank[level[i]] - 1]_vars

-----------------------------------------------------------------------------
\* Liveness (LiveSpec)

\* After the evidence stops, the quiet entries bring every honest node back to a Raft epoch.
EventuallyBackToRaft == <>[](\A i \in Honest : protocol[i][epoch[i]] = "raft")

\* A client operation submitted (during a switch or not) is eventually committed or rejected.
InFlightResolved ==
    \A o \in Ops : outcome[o] = "pending" ~> outcome[o] \in {"committed", "rejected"}

=============================================================================
