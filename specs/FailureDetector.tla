--------------------------- MODULE FailureDetector ---------------------------
(***************************************************************************)
(* A heartbeat failure detector, abstract: the one the gossip nodes run   *)
(* (impl/gossip/phi.py, impl/gossip/detector.py), with the accrual level  *)
(* abstracted.                                                            *)
(*                                                                         *)
(* Time is discrete (Tick). Every live node heartbeats at least every      *)
(* Interval ticks (Heartbeat(i): one heartbeat to every other node), and a *)
(* heartbeat is delivered within MaxDelay ticks of being sent (Tick waits  *)
(* for the oldest): a partially synchronous network once it is stable      *)
(* (Chandra and Toueg, "Unreliable Failure Detectors for Reliable          *)
(* Distributed Systems", JACM 1996). Node i watches j once it has heard    *)
(* j, and counts the ticks since it last heard j. The phi-accrual level    *)
(* (Hayashibara, Defago, Yared and Katayama, "The phi Accrual Failure     *)
(* Detector", SRDS 2004) is a function of that time alone, non-decreasing  *)
(* in it (models/ proves it for phi.py), so "phi has reached the           *)
(* threshold" is abstracted as "Timeout ticks have passed since the last  *)
(* heartbeat heard": i may suspect j then and only then (Suspect), and a   *)
(* heartbeat heard since restores trust (Trust).                          *)
(*                                                                         *)
(* With Timeout <= Interval + MaxDelay a live node can be suspected (the   *)
(* detector's false suspicions, which phi makes rare but not impossible); *)
(* the properties say it is not suspected forever, and that a crashed     *)
(* node is suspected, for good, by every live node that watched it.        *)
(* See Gossip.md.                                                           *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences, TLC

CONSTANT NumNodes     \* nodes "n1" .. "nN", as in Gossip.tla
CONSTANT Interval     \* a live node heartbeats at least every Interval ticks (>= 1)
CONSTANT MaxDelay     \* a heartbeat is delivered at most MaxDelay ticks after it is sent
CONSTANT Timeout      \* i may suspect j once Timeout ticks have passed since it last heard j
CONSTANT MaxCrashes   \* crashes in one behaviour

ASSUME /\ NumNodes \in 1..9
       /\ Interval \in Nat \ {0} /\ MaxDelay \in Nat /\ Timeout \in Nat \ {0}
       /\ MaxCrashes \in Nat

Node == {"n" \o ToString(k) : k \in 1..NumNodes}

VARIABLE alive       \* the live nodes (a crashed node does not come back in this spec)
VARIABLE beat        \* [Node -> 0..Interval]: ticks since i last heartbeated
VARIABLE heard       \* [Node -> [Node -> 0..Timeout]]: ticks since i last heard j (capped)
VARIABLE watching    \* [Node -> SUBSET Node]: the nodes i has heard at least once
VARIABLE suspected   \* [Node -> SUBSET Node]: the nodes i suspects
VARIABLE msgs        \* heartbeats in flight: a set of [from, to, age]
VARIABLE crashes     \* crashes left (a bound of the model)
vars == <<alive, beat, heard, watching, suspected, msgs, crashes>>

Min(a, b) == IF a < b THEN a ELSE b

-----------------------------------------------------------------------------
Init ==
    /\ alive = Node
    /\ beat = [i \in Node |-> Interval]   \* each node heartbeats before time first moves
    /\ heard = [i \in Node |-> [j \in Node |-> 0]]
    /\ watching = [i \in Node |-> {}]
    /\ suspected = [i \in Node |-> {}]
    /\ msgs = {}
    /\ crashes = MaxCrashes

\* Time passes by one tick: only once every live node has heartbeated within Interval and
\* every heartbeat in flight is younger than MaxDelay (the bounds of the model's timing).
Tick ==
    /\ \A i \in alive : beat[i] < Interval
    /\ \A m \in msgs : m.age < MaxDelay
    /\ beat' = [i \in Node |-> IF i \in alive THEN beat[i] + 1 ELSE beat[i]]
    /\ heard' = [i \in Node |-> [j \in Node |->
                    IF i \in alive /\ j \in watching[i] THEN Min(heard[i][j] + 1, Timeout)
                    ELSE heard[i][j]]]
    /\ msgs' = {[m EXCEPT !.age = @ + 1] : m \in msgs}
    /\ UNCHANGED <<alive, watching, suspected, crashes>>

\* Live node i heartbeats: one heartbeat to every other live node.
Heartbeat(i) ==
    /\ i \in alive
    /\ beat[i] > 0
    /\ beat' = [beat EXCEPT ![i] = 0]
    /\ msgs' = msgs \cup {[from |-> i, to |-> j, age |-> 0] : j \in alive \ {i}}
    /\ UNCHANGED <<alive, heard, watching, suspected, crashes>>

\* j hears i's heartbeat: it watches i (from its first heartbeat on), and the time since it
\* last heard i starts again from 0.
HandleHeartbeat(i, j) ==
    \E m \in msgs :
        /\ m.from = i /\ m.to = j
        /\ msgs' = msgs \ {m}
        /\ heard' = [heard EXCEPT ![j][i] = 0]
        /\ watching' = [watching EXCEPT ![j] = @ \cup {i}]
        /\ UNCHANGED <<alive, beat, suspected, crashes>>

\* i suspects j: Timeout ticks have passed since it last heard j.
Suspect(i, j) ==
    /\ i \in alive
    /\ j \in watching[i] \ suspected[i]
    /\ heard[i][j] >= Timeout
    /\ suspected' = [suspected EXCEPT ![i] = @ \cup {j}]
    /\ UNCHANGED <<alive, beat, heard, watching, msgs, crashes>>

\* i trusts j again: it has heard j since the timeout ran out.
Trust(i, j) ==
    /\ i \in alive
    /\ j \in suspected[i]
    /\ heard[i][j] < Timeout
    /\ suspected' = [suspected EXCEPT ![i] = @ \ {j}]
    /\ UNCHANGED <<alive, beat, heard, watching, msgs, crashes>>

\* i crashes: it stops heartbeating and listening; its detector's state is lost, and the
\* heartbeats addressed to it are never delivered. Those it sent still may be.
Crash(i) ==
    /\ i \in alive
    /\ crashes > 0
    /\ alive' = alive \ {i}
    /\ beat' = [beat EXCEPT ![i] = 0]
    /\ heard' = [heard EXCEPT ![i] = [j \in Node |-> 0]]
    /\ watching' = [watching EXCEPT ![i] = {}]
    /\ suspected' = [suspected EXCEPT ![i] = {}]
    /\ msgs' = {m \in msgs : m.to # i}
    /\ crashes' = crashes - 1

-----------------------------------------------------------------------------
\* A plain disjunction of named actions, each under its own \E over constant sets.
Next ==
    \/ Tick
    \/ \E i \in Node : Heartbeat(i)
    \/ \E i \in Node : \E j \in Node \ {i} : HandleHeartbeat(i, j)
    \/ \E i \in Node : \E j \in Node \ {i} : Suspect(i, j)
    \/ \E i \in Node : \E j \in Node \ {i} : Trust(i, j)
    \/ \E i \in Node : Crash(i)

Spec == Init /\ [][Next]_vars

\* Time keeps passing, live nodes heartbeat, heartbeats are handled, and the detector acts
\* on what it knows. Trust is strongly fair: with Timeout <= Interval + MaxDelay a heartbeat
\* heard may be followed by ticks that bring the time since it back to Timeout before the
\* detector looks, so Trust may be enabled only now and then (weak fairness would let a
\* scheduler that always ticks first keep a live node suspected for ever: the
\* counterexample Gossip.md shows). Suspect stays enabled once enabled for a crashed node.
Fairness ==
    /\ WF_vars(Tick)
    /\ \A i \in Node : WF_vars(Heartbeat(i))
    /\ \A i \in Node : \A j \in Node \ {i} :
          /\ WF_vars(HandleHeartbeat(i, j))
          /\ WF_vars(Suspect(i, j))
          /\ SF_vars(Trust(i, j))

LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
\* Invariants and properties

TypeOK ==
    /\ alive \subseteq Node
    /\ beat \in [Node -> 0..Interval]
    /\ heard \in [Node -> [Node -> 0..Timeout]]
    /\ watching \in [Node -> SUBSET Node]
    /\ suspected \in [Node -> SUBSET Node]
    /\ \A i \in Node : suspected[i] \subseteq watching[i] /\ i \notin watching[i]
    /\ \A m \in msgs : m \in [from : Node, to : Node, age : 0..MaxDelay] /\ m.to \in alive
    /\ crashes \in 0..MaxCrashes

\* Safety (an action property): i comes to suspect j only once Timeout ticks have passed since
\* it last heard j.
SuspectOnlyAfterTimeout ==
    [][\A i, j \in Node :
          (j \notin suspected[i] /\ j \in suspected'[i]) => heard[i][j] >= Timeout]_vars

\* A node that stays live (and so keeps heartbeating within Interval) is not suspected for
\* ever by a live node: every suspicion of it is withdrawn.
LiveEventuallyTrusted ==
    \A i, j \in Node :
        (i \in alive /\ j \in alive /\ j \in suspected[i])
            ~> (j \notin suspected[i] \/ i \notin alive \/ j \notin alive)

\* A crashed node is eventually suspected, for good, by every live node that watched it.
CrashedEventuallySuspected ==
    \A i, j \in Node :
        (j \notin alive /\ j \in watching[i]) ~> [](j \in suspected[i] \/ i \notin alive)

=============================================================================
