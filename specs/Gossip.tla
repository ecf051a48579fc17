------------------------------- MODULE Gossip -------------------------------
(***************************************************************************)
(* Gossip dissemination of versioned entries, as meshcheck checks it and  *)
(* replays the implementation (impl/gossip) against it.                   *)
(*                                                                         *)
(* A node holds per key one entry [version, origin, value]. Two entries    *)
(* for a key are ordered by their rank (version, origin, value),           *)
(* lexicographically, and a merge keeps per key the higher one: the join  *)
(* of a semilattice (Shapiro, Preguica, Baquero and Zawirski, "Conflict-  *)
(* free Replicated Data Types", SSS 2011, section 2.2), exactly as         *)
(* impl/gossip/entries.py's merge. Push exchanges carry entries; pull      *)
(* exchanges carry a digest (the rank per key) and are answered with the   *)
(* delta, the entries the puller lacks (van Renesse, Dumitriu, Gough and   *)
(* Thomas, "Efficient Reconciliation and Flow Control for Anti-Entropy    *)
(* Protocols", LADIS 2008).                                                *)
(*                                                                         *)
(* Names: nodes are the strings "n1" .. "nN", values "v1" .. "vM". TLC     *)
(* cannot compare strings, so the order on origins and values is their    *)
(* number (NodeOrd, ValueOrd); with at most nine of each this is Python's  *)
(* string order, which impl/gossip/entries.py compares.                    *)
(*                                                                         *)
(* Bounds are action guards (versions, messages in flight, a budget per    *)
(* fault kind), so that the Stepper sees the model TLC checks and the      *)
(* liveness model's faults are finitely many. See Gossip.md.               *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences, Bags, TLC

CONSTANT NumNodes       \* nodes "n1" .. "nN"
CONSTANT NumSeeds       \* "n1" .. "nS" are the seeds: members from the start, never Leave
CONSTANT Key            \* the keys (strings)
CONSTANT NumValues      \* values "v1" .. "vM"
CONSTANT MaxVersion     \* no Update beyond this version
CONSTANT MaxInFlight    \* Push and Pull need fewer messages than this in the bag
CONSTANT MaxFaults      \* losses, duplications, crashes and partitions together
CONSTANT MaxLosses      \* losses of deliverable messages in one behaviour
CONSTANT MaxDuplicates  \* duplications in one behaviour
CONSTANT MaxCrashes     \* crashes in one behaviour
CONSTANT MaxPartitions  \* partitions in one behaviour
CONSTANT MaxChurn       \* joins and leaves together in one behaviour (not faults)
\* "no entry" for a key: a model value (the .cfg's `Nil = Nil`), which TLC compares with entry
\* records (a string it would not); the Python side reads it as the string "Nil".
CONSTANT Nil

ASSUME /\ NumNodes \in 1..9 /\ NumValues \in 1..9
       /\ NumSeeds \in 1..NumNodes
       /\ IsFiniteSet(Key) /\ Key # {}
       /\ \A n \in {MaxVersion, MaxInFlight, MaxFaults, MaxLosses, MaxDuplicates, MaxCrashes,
                    MaxPartitions, MaxChurn} : n \in Nat

Name(prefix, k) == prefix \o ToString(k)
Node == {Name("n", k) : k \in 1..NumNodes}
Seed == {Name("n", k) : k \in 1..NumSeeds}
Value == {Name("v", k) : k \in 1..NumValues}
\* The order on names: their number ("n2" before "n3"; Python's string order up to nine).
NodeOrd == [n \in Node |-> CHOOSE k \in 1..NumNodes : Name("n", k) = n]
ValueOrd == [v \in Value |-> CHOOSE k \in 1..NumValues : Name("v", k) = v]

\* Message types: strings, as the refinement mapping writes them.
PushMsg == "push"
PullMsg == "pull"

-----------------------------------------------------------------------------
VARIABLE alive      \* the live members
VARIABLE crashed    \* the crashed members (may Restart); the others are out (may Join)
VARIABLE entries    \* [Node -> [Key -> Entry \cup {Nil}]]: what each node holds
VARIABLE own        \* [Node -> [Key -> Entry \cup {Nil}]]: its own latest write per key, persisted
VARIABLE members    \* per node, the other nodes it knows and exchanges with (volatile)
VARIABLE msgs       \* the network: a bag (message record -> count > 0)
VARIABLE cut        \* a partition: the side without "n1" ({} when none)
VARIABLE written    \* history: every write ever made, [key, version, origin, value]
VARIABLE budget     \* what is left of each fault budget (bounds of the model)
vars == <<alive, crashed, entries, own, members, msgs, cut, written, budget>>

-----------------------------------------------------------------------------
\* Entries, ranks, merge, digest and delta (impl/gossip/entries.py)

Entry == [version : Nat \ {0}, origin : Node, value : Value]
\* An entry's rank: the triple impl/gossip/entries.py's Entry.rank() is, names as strings.
Rank(e) == <<e.version, e.origin, e.value>>
\* r1 is below r2 in the lexicographic order of (version, origin, value).
RankLess(r1, r2) ==
    \/ r1[1] < r2[1]
    \/ r1[1] = r2[1] /\ NodeOrd[r1[2]] < NodeOrd[r2[2]]
    \/ r1[1] = r2[1] /\ r1[2] = r2[2] /\ ValueOrd[r1[3]] < ValueOrd[r2[3]]
Newer(a, b) == RankLess(Rank(b), Rank(a))
Higher(a, b) == IF Newer(b, a) THEN b ELSE a

\* A node's state is total on Key, Nil where it holds nothing; a push carries a function on the
\* keys it sends, a pull a digest on the keys its sender holds.
Held(s) == {k \in DOMAIN s : s[k] # Nil}
EmptyState == [k \in Key |-> Nil]

\* Key by key the higher entry of the state s and the entries e of a push (Nil: none).
Merge(s, e) ==
    [k \in DOMAIN s |->
        IF k \notin DOMAIN e \/ e[k] = Nil THEN s[k]
        ELSE IF s[k] = Nil THEN e[k]
        ELSE Higher(s[k], e[k])]

\* What a node does with the entries of a push it receives (HandlePush): its merge.
Absorb(mine, theirs) == Merge(mine, theirs)

\* The rank held per key, for the keys held: what a pull carries.
Digest(s) == [k \in Held(s) |-> Rank(s[k])]

\* The entries of `mine` that the holder of digest d lacks: keys it does not hold, and keys
\* where it holds a lower rank.
Delta(mine, d) ==
    LET ks == {k \in Held(mine) : k \notin DOMAIN d \/ RankLess(d[k], Rank(mine[k]))}
    IN [k \in ks |-> mine[k]]

\* The highest version s holds for k (0: none).
VersionOf(s, k) == IF s[k] = Nil THEN 0 ELSE s[k].version

Restrict(f, S) == [x \in S |-> f[x]]

-----------------------------------------------------------------------------
\* The network

InFlight == BagCardinality(msgs)
WithMessage(m, bag) ==
    IF m \in DOMAIN bag THEN [bag EXCEPT ![m] = @ + 1] ELSE bag @@ (m :> 1)
WithoutMessage(m, bag) ==
    IF bag[m] = 1 THEN [x \in DOMAIN bag \ {m} |-> bag[x]] ELSE [bag EXCEPT ![m] = @ - 1]
Send(m) == msgs' = WithMessage(m, msgs)
Discard(m) == msgs' = WithoutMessage(m, msgs)
Reply(response, request) == msgs' = WithMessage(response, WithoutMessage(request, msgs))

Connected(i, j) == (i \in cut) = (j \in cut)
\* A message the network can deliver: its receiver is live and on the sender's side.
Deliverable(m) == m.to \in alive /\ Connected(m.from, m.to)

IsUp(i) == i \in alive

-----------------------------------------------------------------------------
Init ==
    /\ alive = Seed
    /\ crashed = {}
    /\ entries = [i \in Node |-> EmptyState]
    /\ own = [i \in Node |-> EmptyState]
    /\ members = [i \in Node |-> IF i \in Seed THEN Seed \ {i} ELSE {}]
    /\ msgs = [m \in {} |-> 0]
    /\ cut = {}
    /\ written = {}
    /\ budget = [fault |-> MaxFaults, loss |-> MaxLosses, duplicate |-> MaxDuplicates,
                  crash |-> MaxCrashes, partition |-> MaxPartitions, churn |-> MaxChurn]

-----------------------------------------------------------------------------
\* Node i writes v under k: one version above the highest it holds for k (a Lamport clock
\* per key), so the write supersedes every entry i has seen. Its own writes are persisted.
Update(i, k, v) ==
    /\ IsUp(i)
    /\ VersionOf(entries[i], k) < MaxVersion
    /\ LET e == [version |-> VersionOf(entries[i], k) + 1, origin |-> i, value |-> v]
       IN /\ entries' = [entries EXCEPT ![i][k] = e]
          /\ own' = [own EXCEPT ![i][k] = e]
          /\ written' = written \cup {[key |-> k, version |-> e.version, origin |-> i,
                                       value |-> v]}
    /\ UNCHANGED <<alive, crashed, members, msgs, cut, budget>>

\* The key sets node i may push: every non-empty set of the keys it holds. The validation of
\* real runs' logs narrows them to the sets the logs show (specs/GossipLogs.tla), where TLC would
\* otherwise enumerate 2^n sets for n keys held.
PushSets(i) == SUBSET Held(entries[i]) \ {{}}

\* Node i sends j, a member it knows, a push carrying a non-empty set of its entries (one
\* push of a round: a round of fanout f is f such steps).
Push(i, j) ==
    /\ IsUp(i)
    /\ j \in members[i]
    /\ InFlight < MaxInFlight
    /\ \E ks \in PushSets(i) :
          Send([type |-> PushMsg, from |-> i, to |-> j, entries |-> Restrict(entries[i], ks)])
    /\ UNCHANGED <<alive, crashed, entries, own, members, cut, written, budget>>

\* Node i sends j its digest (anti-entropy pull).
Pull(i, j) ==
    /\ IsUp(i)
    /\ j \in members[i]
    /\ InFlight < MaxInFlight
    /\ Send([type |-> PullMsg, from |-> i, to |-> j, digest |-> Digest(entries[i])])
    /\ UNCHANGED <<alive, crashed, entries, own, members, cut, written, budget>>

\* Node i merges a push from j, and learns of j.
HandlePush(i, j) ==
    \E m \in DOMAIN msgs :
        /\ m.type = PushMsg /\ m.to = i /\ m.from = j
        /\ Deliverable(m)
        /\ entries' = [entries EXCEPT ![i] = Absorb(@, m.entries)]
        /\ members' = [members EXCEPT ![i] = @ \cup {j}]
        /\ Discard(m)
        /\ UNCHANGED <<alive, crashed, own, cut, written, budget>>

\* Node i answers j's digest with a push of the delta (nothing when the delta is empty),
\* and learns of j.
HandlePull(i, j) ==
    \E m \in DOMAIN msgs :
        /\ m.type = PullMsg /\ m.to = i /\ m.from = j
        /\ Deliverable(m)
        /\ LET d == Delta(entries[i], m.digest)
           IN IF DOMAIN d = {} THEN Discard(m)
              ELSE Reply([type |-> PushMsg, from |-> i, to |-> j, entries |-> d], m)
        /\ members' = [members EXCEPT ![i] = @ \cup {j}]
        /\ UNCHANGED <<alive, crashed, entries, own, cut, written, budget>>

-----------------------------------------------------------------------------
\* Faults and churn

\* The network loses one message: a deliverable one from the loss budget; one it cannot
\* deliver (its receiver is not live, or across the partition) at no cost.
LoseMessage ==
    \E m \in DOMAIN msgs :
        /\ IF Deliverable(m)
              THEN /\ budget.fault > 0 /\ budget.loss > 0
                   /\ budget' = [budget EXCEPT !.fault = @ - 1, !.loss = @ - 1]
              ELSE UNCHANGED budget
        /\ Discard(m)
        /\ UNCHANGED <<alive, crashed, entries, own, members, cut, written>>

\* The network delivers one message twice: a second copy enters the bag.
DuplicateMessage ==
    /\ budget.fault > 0 /\ budget.duplicate > 0
    /\ \E m \in DOMAIN msgs : Send(m)
    /\ budget' = [budget EXCEPT !.fault = @ - 1, !.duplicate = @ - 1]
    /\ UNCHANGED <<alive, crashed, entries, own, members, cut, written>>

\* What a node keeps when it stops: its own writes (persisted); learned entries and its
\* membership view are lost.
Stop(i) ==
    /\ alive' = alive \ {i}
    /\ entries' = [entries EXCEPT ![i] = own[i]]
    /\ members' = [members EXCEPT ![i] = {}]

Crash(i) ==
    /\ IsUp(i)
    /\ budget.fault > 0 /\ budget.crash > 0
    /\ Stop(i)
    /\ crashed' = crashed \cup {i}
    /\ budget' = [budget EXCEPT !.fault = @ - 1, !.crash = @ - 1]
    /\ UNCHANGED <<own, msgs, cut, written>>

\* A crashed node comes back with its own writes, and knows the seeds.
Restart(i) ==
    /\ i \in crashed
    /\ alive' = alive \cup {i}
    /\ crashed' = crashed \ {i}
    /\ members' = [members EXCEPT ![i] = Seed \ {i}]
    /\ UNCHANGED <<entries, own, msgs, cut, written, budget>>

\* A node that is not a member joins: it learns of the seeds (and holds its own earlier
\* writes, if it was a member before).
Join(i) ==
    /\ i \notin alive \cup crashed
    /\ budget.churn > 0
    /\ alive' = alive \cup {i}
    /\ members' = [members EXCEPT ![i] = Seed \ {i}]
    /\ budget' = [budget EXCEPT !.churn = @ - 1]
    /\ UNCHANGED <<crashed, entries, own, msgs, cut, written>>

\* A live member that is not a seed leaves. The others are not told: messages to it are
\* undeliverable.
Leave(i) ==
    /\ IsUp(i)
    /\ i \notin Seed
    /\ budget.churn > 0
    /\ Stop(i)
    /\ budget' = [budget EXCEPT !.churn = @ - 1]
    /\ UNCHANGED <<crashed, own, msgs, cut, written>>

\* The network splits into two sides; cut is the side without "n1".
Partition ==
    /\ cut = {}
    /\ budget.fault > 0 /\ budget.partition > 0
    /\ \E side \in SUBSET (Node \ {Name("n", 1)}) \ {{}} : cut' = side
    /\ budget' = [budget EXCEPT !.fault = @ - 1, !.partition = @ - 1]
    /\ UNCHANGED <<alive, crashed, entries, own, members, msgs, written>>

Heal ==
    /\ cut # {}
    /\ cut' = {}
    /\ UNCHANGED <<alive, crashed, entries, own, members, msgs, written, budget>>

-----------------------------------------------------------------------------
\* A plain disjunction of named actions, each under its own \E over constant sets, so that
\* TLC's getActions() labels every step with its name and parameters.
Next ==
    \/ \E i \in Node, k \in Key, v \in Value : Update(i, k, v)
    \/ \E i \in Node : \E j \in Node \ {i} : Push(i, j)
    \/ \E i \in Node : \E j \in Node \ {i} : Pull(i, j)
    \/ \E i \in Node : \E j \in Node \ {i} : HandlePush(i, j)
    \/ \E i \in Node : \E j \in Node \ {i} : HandlePull(i, j)
    \/ LoseMessage
    \/ DuplicateMessage
    \/ \E i \in Node : Crash(i)
    \/ \E i \in Node : Restart(i)
    \/ Partition
    \/ Heal
    \/ \E i \in Node : Join(i)
    \/ \E i \in Node : Leave(i)

Spec == Init /\ [][Next]_vars

\* The network drops what it cannot deliver (for fairness: LoseMessage at no cost).
LoseUndeliverable ==
    /\ \E m \in DOMAIN msgs : ~Deliverable(m) /\ Discard(m)
    /\ UNCHANGED <<alive, crashed, entries, own, members, cut, written, budget>>

\* Liveness: every live node keeps pulling from every member it knows (strong fairness: the
\* bag may be full whenever it looks), every message that can be delivered is, the network
\* drops what it cannot deliver, and a partition heals. Updates are bounded by MaxVersion and
\* faults by their budgets, so both stop. Pull is enough: the answer to a digest is everything
\* the puller lacks. Push carries any subset, so fairness to it would promise nothing more.
Fairness ==
    /\ \A i \in Node : \A j \in Node \ {i} :
          /\ SF_vars(Pull(i, j))
          /\ WF_vars(HandlePush(i, j) \/ HandlePull(i, j))
    /\ WF_vars(LoseUndeliverable)
    /\ WF_vars(Heal)

LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
\* Invariants

\* A push's entries: a function from some keys to entries; a node's state: total on Key.
IsEntries(e) == DOMAIN e \subseteq Key /\ \A k \in DOMAIN e : e[k] \in Entry
IsState(s) == DOMAIN s = Key /\ \A k \in Key : s[k] \in Entry \cup {Nil}
IsDigest(d) == DOMAIN d \subseteq Key /\ \A k \in DOMAIN d : d[k] \in Nat \X Node \X Value
IsMessage(m) ==
    \/ /\ DOMAIN m = {"type", "from", "to", "entries"}
       /\ m.type = PushMsg /\ m.from \in Node /\ m.to \in Node /\ IsEntries(m.entries)
       /\ DOMAIN m.entries # {}
    \/ /\ DOMAIN m = {"type", "from", "to", "digest"}
       /\ m.type = PullMsg /\ m.from \in Node /\ m.to \in Node /\ IsDigest(m.digest)

TypeOK ==
    /\ alive \subseteq Node /\ crashed \subseteq Node /\ alive \cap crashed = {}
    /\ \A i \in Node : IsState(entries[i]) /\ IsState(own[i])
    /\ members \in [Node -> SUBSET Node]
    /\ \A i \in Node : i \notin members[i] /\ (i \notin alive => members[i] = {})
    /\ \A m \in DOMAIN msgs : IsMessage(m) /\ msgs[m] \in Nat \ {0}
    /\ cut \in SUBSET Node
    /\ written \in SUBSET [key : Key, version : Nat \ {0}, origin : Node, value : Value]
    /\ budget \in [fault : Nat, loss : Nat, duplicate : Nat, crash : Nat, partition : Nat,
                   churn : Nat]

\* The entries a node holds, and those in flight, were all written by some Update.
Written(k, e) == [key |-> k, version |-> e.version, origin |-> e.origin, value |-> e.value]
NoInventedValues ==
    /\ \A i \in Node : \A k \in Held(entries[i]) : Written(k, entries[i][k]) \in written
    /\ \A m \in DOMAIN msgs :
          m.type = PushMsg => \A k \in DOMAIN m.entries : Written(k, m.entries[k]) \in written

\* Merging is idempotent where it matters: a node's state merged with itself is its state,
\* and a push it may still receive (a duplicate among them) changes nothing the second time:
\* receiving it twice in a row is receiving it once. Checked on every reachable state and
\* every push in flight, with the operator HandlePush applies (Absorb).
MergeIdempotent ==
    \A i \in Node :
        /\ Absorb(entries[i], entries[i]) = entries[i]
        /\ \A m \in DOMAIN msgs :
              (m.type = PushMsg /\ m.to = i) =>
                  LET once == Absorb(entries[i], m.entries)
                  IN Absorb(once, m.entries) = once

\* An action property. A node's rank per key never goes down while it stays live (within an
\* incarnation), and its own writes never go down, across restarts too: a new own write is
\* strictly above its last (a writer never reuses a version).
RankLeq(a, b) == a = Nil \/ (b # Nil /\ ~Newer(a, b))
VersionsMonotone ==
    [][\A i \in Node : \A k \in Key :
          /\ (i \in alive /\ i \in alive') => RankLeq(entries[i][k], entries'[i][k])
          /\ RankLeq(own[i][k], own'[i][k])
          /\ (own[i][k] # Nil /\ own'[i][k] # own[i][k]) =>
                 own'[i][k].version > own[i][k].version]_vars

-----------------------------------------------------------------------------
\* Liveness (Gossip_liveness.cfg): once updates and faults stop and the partition heals,
\* every live node holds the same entries, for good.
Converged == \A i, j \in Node : IsUp(i) /\ IsUp(j) => entries[i] = entries[j]
EventuallyConverged == <>[]Converged

=============================================================================
