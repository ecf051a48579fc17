---------------------------- MODULE ThreatLevel ----------------------------
(***************************************************************************)
(* The threat-level machine of the hybrid layer: one replicated threat     *)
(* state, as every honest node computes it from the committed history      *)
(* (ThreatLevel.md). No epochs and no protocols here: Hybrid.tla has them. *)
(*                                                                         *)
(* The level table and the transition function are code                    *)
(* (impl/hybrid/levels.py); Demanded and Step below compute exactly        *)
(* levels.demanded and levels.step, and the test suite checks that they    *)
(* agree on every transition of the quick model. What this spec adds is    *)
(* time and the reports: the replicated time `now`, committed evidence     *)
(* records from reporters (Byzantine ones included), the window, the quiet *)
(* period and the dwell, and the properties the issue asks of them: no     *)
(* level without evidence, escalation at once on evidence anyone can       *)
(* check, de-escalation one level at a time after the quiet period and the *)
(* dwell, and a return to None once the evidence stops.                    *)
(*                                                                         *)
(* Bounds are action guards, so a stepper driving TLC one step at a time   *)
(* sees the model TLC checks.                                              *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANT SigMedium      \* bad-signature reporters in the window for Medium (Thresholds.sig_medium)
CONSTANT SigHigh        \* ... for High (sig_high = f + 1: f Byzantine reporters stay below it)
CONSTANT TimingMedium   \* timing-anomaly reporters in the window for Medium (timing_medium)
CONSTANT Quiet          \* time without evidence before a level may drop (quiet)
CONSTANT Dwell          \* minimum time at a level before it may drop (dwell)
CONSTANT Window         \* evidence older than this no longer counts (window)
CONSTANT MaxTime        \* evidence is reported at times 0 .. MaxTime only
CONSTANT MaxReports     \* at most this many evidence records in all
CONSTANT Reporters      \* node ids "n1" .. "nN" that may report evidence
CONSTANT Byzantine      \* the faulty ones among them

ASSUME /\ 1 <= SigMedium /\ SigMedium <= SigHigh /\ TimingMedium >= 1
       /\ \A n \in {Quiet, Dwell, Window, MaxTime, MaxReports} : n \in Nat
       /\ Byzantine \subseteq Reporters

Levels == <<"None", "Low", "Medium", "High", "Critical">>
Level == {Levels[k] : k \in 1..5}
\* Rank[l]: the level's place in None < Low < Medium < High < Critical (levels.Level's value).
Rank == [l \in Level |-> CHOOSE k \in 0..4 : Levels[k + 1] = l]
LevelOfRank(k) == Levels[k + 1]
Higher(a, b) == IF Rank[a] >= Rank[b] THEN a ELSE b

\* The protocol each level runs (levels.PROTOCOL).
ProtocolOf == [l \in Level |-> IF l \in {"High", "Critical"} THEN "bft" ELSE "raft"]
Protocol(l) == ProtocolOf[l]

Kinds == {"bad_signature", "tampering", "equivocation", "timing"}
\* Evidence anyone can check from the messages alone: one piece stands on its own.
SelfProving == {"tampering", "equivocation"}
\* Only a faulty node signs a tampered or equivocating message, and with a faulty node bad
\* signatures and timing anomalies may be reported by anyone at any time (a Byzantine reporter
\* makes them up). With no Byzantine node there is nobody to accuse: an honest node reports a
\* bad signature only on a seal that does not verify and a timing anomaly only on two consecutive
\* heartbeats the leader signed too far apart (impl/hybrid/node.py), neither of which an honest
\* node sends, whatever the network does (NoFalseAccusation, property_tests/hybrid).
Reportable == IF Byzantine = {} THEN {} ELSE Kinds

Max(a, b) == IF a >= b THEN a ELSE b

\* Time may pass beyond MaxTime (no evidence then) until the level is back to None; Horizon is
\* late enough for that from any state (ThreatLevel.md, "Bounds"), so Tick stops there.
Horizon == MaxTime + Max(Quiet, Window + 1) + 4 * Max(Dwell, 1)

-----------------------------------------------------------------------------
VARIABLE level       \* the replicated threat level
VARIABLE now         \* the replicated time
VARIABLE reports     \* the committed evidence records: [kind |-> k, reporter |-> i, at |-> t]
VARIABLE enteredAt   \* the time the current level was entered
VARIABLE peak        \* ghost: the highest level the evidence has ever demanded
vars == <<level, now, reports, enteredAt, peak>>

-----------------------------------------------------------------------------
\* levels.py, in TLA+

\* The records inside the window at time t: at most Window old.
InWindow(rs, t) == {r \in rs : t - r.at <= Window}

\* levels.Counts: distinct pieces of each kind in the window. Bad signatures and timing anomalies
\* count distinct reporters; a self-proving record counts on its own.
Count(rs, t, k) ==
    LET w == {r \in InWindow(rs, t) : r.kind = k}
    IN IF k \in SelfProving THEN Cardinality(w) ELSE Cardinality({r.reporter : r \in w})

\* levels.demanded: the lowest level the evidence in the window allows.
Demanded(rs, t) ==
    IF Count(rs, t, "equivocation") >= 1 THEN "Critical"
    ELSE IF Count(rs, t, "tampering") >= 1 \/ Count(rs, t, "bad_signature") >= SigHigh THEN "High"
    ELSE IF Count(rs, t, "bad_signature") >= SigMedium \/ Count(rs, t, "timing") >= TimingMedium
         THEN "Medium"
    ELSE IF Count(rs, t, "bad_signature") >= 1 \/ Count(rs, t, "timing") >= 1 THEN "Low"
    ELSE "None"

\* levels.step: escalate at once; drop one level after the quiet period and the dwell, never
\* below what the evidence demands; otherwise stay.
Step(l, need, quiet, dwell) ==
    IF Rank[need] > Rank[l] THEN need
    ELSE IF Rank[l] > Rank[need] /\ quiet >= Quiet /\ dwell >= Dwell THEN LevelOfRank(Rank[l] - 1)
    ELSE l

\* Time since the last evidence at time t (since the start when there is none).
QuietAt(rs, t) ==
    IF rs = {} THEN t ELSE t - (CHOOSE a \in {r.at : r \in rs} : \A r \in rs : r.at <= a)

\* The level after the committed history reached (rs, t): Step applied to the state there, and
\* the bookkeeping that goes with it.
Apply(rs, t) ==
    LET need == Demanded(rs, t)
        next == Step(level, need, QuietAt(rs, t), t - enteredAt)
    IN /\ level' = next
       /\ enteredAt' = IF next # level THEN t ELSE enteredAt
       /\ peak' = Higher(peak, need)

-----------------------------------------------------------------------------
Init ==
    /\ level = "None"
    /\ now = 0
    /\ reports = {}
    /\ enteredAt = 0
    /\ peak = "None"

\* A committed evidence record from reporter i of kind k, at the replicated time.
ReportEvidence(i, k) ==
    LET r == [kind |-> k, reporter |-> i, at |-> now]
    IN /\ now <= MaxTime
       /\ Cardinality(reports) < MaxReports
       /\ k \in Reportable
       /\ r \notin reports
       /\ reports' = reports \cup {r}
       /\ Apply(reports', now)
       /\ UNCHANGED now

\* The replicated time advances by one (committed clock entries, Hybrid.tla). Beyond MaxTime
\* only while the level is above None.
Tick ==
    /\ now < MaxTime \/ (level # "None" /\ now < Horizon)
    /\ now' = now + 1
    /\ Apply(reports, now')
    /\ UNCHANGED reports

\* A plain disjunction of named actions under \E over constant sets (docs/architecture.md, "TLC inside the Python process").
Next ==
    \/ \E i \in Reporters, k \in Kinds : ReportEvidence(i, k)
    \/ Tick

Spec == Init /\ [][Next]_vars

\* Liveness: time keeps passing. Reports are not fair: they may stop at any moment, and do stop
\* (MaxReports, MaxTime).
LiveSpec == Spec /\ WF_vars(Tick)

-----------------------------------------------------------------------------
\* Invariants

Report == [kind : Kinds, reporter : Reporters, at : 0..MaxTime]

TypeOK ==
    /\ level \in Level
    /\ now \in 0..Horizon
    /\ reports \subseteq Report /\ Cardinality(reports) <= MaxReports
    /\ enteredAt \in 0..now
    /\ peak \in Level

\* None, Low and Medium run Raft; High and Critical run BFT (the issue's table).
ProtocolMatchesLevel ==
    Protocol(level) = IF Rank[level] <= 2 THEN "raft" ELSE "bft"

\* No level without evidence: never above what the evidence has demanded, and Critical only
\* once an equivocation was reported (only the equivocator can sign one).
LevelJustifiedByEvidence ==
    /\ Rank[level] <= Rank[peak]
    /\ level = "Critical" => \E r \in reports : r.kind = "equivocation"

\* Never below what the evidence in the window demands.
NeverBelowDemanded == Rank[level] >= Rank[Demanded(reports, now)]

\* Evidence anyone can check is enough on its own, said without Demanded: an equivocation in
\* the window means Critical, a tampering record BFT.
SelfProvingEvidenceSuffices ==
    /\ (\E r \in InWindow(reports, now) : r.kind = "equivocation") => level = "Critical"
    /\ (\E r \in InWindow(reports, now) : r.kind = "tampering") => Protocol(level) = "bft"

\* f Byzantine reporters alone cannot move the cluster to BFT: with only their bad signatures
\* and timing reports, the level runs Raft (needs SigHigh > |Byzantine|: SigHigh = f + 1).
ByzantineCannotForceBFT ==
    (\A r \in reports : r.reporter \in Byzantine /\ r.kind \notin SelfProving)
        => Protocol(level) = "raft"

-----------------------------------------------------------------------------
\* Action properties (PROPERTIES in the .cfg)

\* De-escalation goes one level at a time.
DeescalationOneLevel == [][Rank[level'] >= Rank[level] - 1]_vars

\* ... and only after the quiet period and the dwell at the level.
DeescalationAfterQuietAndDwell ==
    [][Rank[level'] < Rank[level] => /\ now' - enteredAt >= Dwell
                                     /\ QuietAt(reports', now') >= Quiet]_vars

-----------------------------------------------------------------------------
\* Liveness (LiveSpec)

\* Once the reports stop, the level returns to a Raft level and then to None, for good.
EventuallyRaft == <>[](Protocol(level) = "raft")
EventuallyNone == <>[](level = "None")

=============================================================================
