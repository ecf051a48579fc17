-------------------------------- MODULE Raft --------------------------------
(***************************************************************************)
(* Raft (Ongaro and Ousterhout, "In Search of an Understandable Consensus  *)
(* Algorithm", 2014; Ongaro's thesis, 2014) as meshcheck checks it and     *)
(* replays the implementation (impl/raft) against it.                       *)
(*                                                                         *)
(* One step of this spec is one event of the implementation: the action   *)
(* names, variable names and message fields are the shared vocabulary     *)
(* (see Raft.md). Beyond the paper's Figure 2 it models leader election    *)
(* with the no-op entry of section 8, log compaction with InstallSnapshot  *)
(* (section 7), ReadIndex reads (thesis section 6.4), crash and restart,   *)
(* and a network that drops, duplicates and reorders messages. Two         *)
(* choices implementations make differently are constants of the model,    *)
(* not forks: the leader's no-op (LeaderNoOp) and pre-vote (PreVote,       *)
(* thesis section 9.6).                                                    *)
(*                                                                         *)
(* Log indexing: log[i] holds only the entries AFTER i's snapshot, so the  *)
(* entry with (absolute) index k is log[i][k - snapshotIndex[i]].          *)
(*                                                                         *)
(* Bounds are action guards (not CONSTRAINTs) so that a stepper driving    *)
(* TLC one step at a time sees the same bounded model as the model checker *)
(* and so that fairness means what it says in the liveness model. The one  *)
(* exception is TermBound, a CONSTRAINT of the safety models (see          *)
(* QuietElection).                                                         *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences, Bags, TLC

CONSTANT Server         \* the servers (model values s1, s2, s3, ...)
CONSTANT Value          \* the values clients write (model values v1, v2, ...)
CONSTANT MaxTerm        \* no election timeout beyond this term, except a QuietElection
CONSTANT MaxLogLen      \* ClientRequest only while the leader's last index is below this
CONSTANT MaxInFlight    \* a send needs fewer messages than this in the bag
CONSTANT MaxFaults      \* restarts, drops and duplicates together allowed in one behaviour
CONSTANT MaxRestarts    \* crash-and-restart faults allowed in one behaviour
CONSTANT MaxDrops       \* message losses allowed in one behaviour
CONSTANT MaxDuplicates  \* message duplications allowed in one behaviour
CONSTANT MaxSnapshots   \* TakeSnapshot steps allowed in one behaviour (snapshots multiply states)
CONSTANT MaxReads       \* ReadIndex reads a leader may register in one term of leadership
CONSTANT LeaderNoOp     \* TRUE: a new leader appends a no-op of its term (section 8); FALSE:
                        \* the paper's basic algorithm, as many libraries run it
CONSTANT PreVote        \* TRUE: an election timeout starts a pre-election first (thesis 9.6,
                        \* etcd-io/raft's PreVote); FALSE: the paper's Timeout, at once

ASSUME /\ IsFiniteSet(Server) /\ Server # {}
       /\ IsFiniteSet(Value)
       /\ \A n \in {MaxTerm, MaxLogLen, MaxInFlight, MaxFaults, MaxRestarts, MaxDrops,
                    MaxDuplicates, MaxSnapshots, MaxReads} : n \in Nat
       /\ LeaderNoOp \in BOOLEAN
       /\ PreVote \in BOOLEAN

\* Roles, the "no vote" marker, the no-op's value and the message types: strings,
\* exactly as the implementation's refinement mapping writes them.
Follower == "Follower"
PreCandidate == "PreCandidate"  \* only with PreVote: running a pre-election
Candidate == "Candidate"
Leader == "Leader"
None == "None"
NoOp == "NoOp"
RequestVoteRequest == "RequestVoteRequest"
RequestVoteResponse == "RequestVoteResponse"
PreVoteRequest == "PreVoteRequest"
PreVoteResponse == "PreVoteResponse"
AppendEntriesRequest == "AppendEntriesRequest"
AppendEntriesResponse == "AppendEntriesResponse"
InstallSnapshotRequest == "InstallSnapshotRequest"
InstallSnapshotResponse == "InstallSnapshotResponse"

-----------------------------------------------------------------------------
\* The network: a bag of messages, a function from message record to count (> 0).
VARIABLE messages

\* Persistent per-server state (survives Restart).
VARIABLE currentTerm    \* latest term the server has seen
VARIABLE votedFor       \* whom it voted for in currentTerm, or None
VARIABLE log            \* entries [term |-> t, value |-> v] after the snapshot
VARIABLE snapshotIndex  \* index of the last entry folded into the snapshot (0: none)
VARIABLE snapshotTerm   \* term of that entry (0: none)
serverVars == <<currentTerm, votedFor>>
logVars == <<log, snapshotIndex, snapshotTerm>>

\* Volatile per-server state (lost on Restart). Outside its role a server keeps
\* these at their initial values, so two servers in the same situation are in
\* the same state (and the implementation's refinement mapping must do the same).
VARIABLE role           \* Follower, Candidate or Leader (or PreCandidate, with PreVote)
VARIABLE commitIndex    \* highest index known to be committed (>= snapshotIndex)
VARIABLE votesGranted   \* servers that granted the current candidacy, or pre-candidacy
                        \* ({} unless Candidate or PreCandidate)
VARIABLE nextIndex      \* leader: next index to send to each server
VARIABLE matchIndex     \* leader: highest index known replicated on each server
VARIABLE reads          \* leader: its ReadIndex read (thesis 6.4), see InitRead
volatileVars == <<role, commitIndex, votesGranted, nextIndex, matchIndex, reads>>

\* History (ghost) variables: no server holds them; they let the invariants
\* speak about the past. The simulator can compute them from all servers.
VARIABLE committed      \* every entry ever known committed, by index, with its commit term
VARIABLE readFloor      \* per server: Len(committed) when its current read was registered
historyVars == <<committed, readFloor>>

\* What is left of each bounded budget (faults in all, restarts, drops, duplicates,
\* snapshots): bounds of the model, not state of the protocol. A total fault budget
\* keeps the cost of fault kinds closer to a sum than a product.
VARIABLE budget
vars == <<messages, serverVars, logVars, volatileVars, historyVars, budget>>

-----------------------------------------------------------------------------
\* Helpers

Min(a, b) == IF a < b THEN a ELSE b
Max(a, b) == IF a > b THEN a ELSE b
SetMax(S) == CHOOSE x \in S : \A y \in S : y <= x

\* A quorum is a strict majority; any two quorums intersect (paper section 5.2).
Quorum(S) == 2 * Cardinality(S) > Cardinality(Server)

Peers(i) == Server \ {i}

LastIndex(i) == snapshotIndex[i] + Len(log[i])
LastTerm(i) == IF log[i] = <<>> THEN snapshotTerm[i] ELSE log[i][Len(log[i])].term
\* The term of i's entry at index k, for snapshotIndex[i] <= k <= LastIndex(i).
TermAt(i, k) == IF k = snapshotIndex[i] THEN snapshotTerm[i]
                ELSE log[i][k - snapshotIndex[i]].term
\* The entry at index k, for snapshotIndex[i] < k <= LastIndex(i).
EntryAt(i, k) == log[i][k - snapshotIndex[i]]
\* The first index from i's snapshot on up to k whose entry has term t (terms never decrease
\* along a log, so these indices are one run ending at k when TermAt(i, k) = t).
FirstIndexOfTerm(i, t, k) ==
    CHOOSE x \in snapshotIndex[i]..k :
        /\ TermAt(i, x) = t
        /\ \A y \in snapshotIndex[i]..k : TermAt(i, y) = t => x <= y

\* Total number of messages in the bag, duplicates counted (TLC evaluates it in Java).
InFlight == BagCardinality(messages)

WithMessage(m, bag) ==
    IF m \in DOMAIN bag THEN [bag EXCEPT ![m] = @ + 1] ELSE bag @@ (m :> 1)
\* A message whose count drops to 0 leaves the bag, so equal bags are equal functions.
WithoutMessage(m, bag) ==
    IF bag[m] = 1 THEN [x \in DOMAIN bag \ {m} |-> bag[x]] ELSE [bag EXCEPT ![m] = @ - 1]

Send(m) == messages' = WithMessage(m, messages)
Discard(m) == messages' = WithoutMessage(m, messages)
Reply(response, request) == messages' = WithMessage(response, WithoutMessage(request, messages))

InitNextIndex == [j \in Server |-> 1]
InitMatchIndex == [j \in Server |-> 0]
\* seq numbers the leader's reads in its current term; while a read is pending the
\* leader's AppendEntriesRequests carry its seq (mreadSeq, else 0), so that only acks
\* of requests sent after the read was registered count for it.
InitRead == [seq |-> 0, index |-> 0, acks |-> {}, served |-> FALSE]
ReadPending(i) == reads[i].seq > 0 /\ ~reads[i].served
ReadTag(i) == IF ReadPending(i) THEN reads[i].seq ELSE 0

\* The volatile state of i once it is no longer Leader or Candidate (when cond holds).
LeaveRole(i, cond) ==
    /\ votesGranted' = [votesGranted EXCEPT ![i] = IF cond THEN {} ELSE @]
    /\ nextIndex' = [nextIndex EXCEPT ![i] = IF cond THEN InitNextIndex ELSE @]
    /\ matchIndex' = [matchIndex EXCEPT ![i] = IF cond THEN InitMatchIndex ELSE @]
    /\ reads' = [reads EXCEPT ![i] = IF cond THEN InitRead ELSE @]
    /\ readFloor' = [readFloor EXCEPT ![i] = IF cond THEN 0 ELSE @]

\* committed extended up to index upto with the entries of a server whose log is lg
\* after a snapshot at si, committed in term t. Only ever appends: an entry that a
\* server later commits differently shows up as a StateMachineSafety violation.
ExtendCommitted(lg, si, upto, t) ==
    IF upto <= Len(committed) \/ Len(committed) < si THEN committed
    ELSE committed \o [k \in 1..(upto - Len(committed)) |->
                          [entry |-> lg[Len(committed) + k - si], term |-> t]]

\* An election nobody interferes with: no leader, no message in flight, and i's log
\* is at least as up-to-date as every other server's. Randomised election timers
\* (paper section 5.2) reach this situation with probability 1 once faults stop;
\* Timeout is allowed here beyond MaxTerm so that bounded terms cannot block the
\* liveness model, and the liveness model is fair only to these timeouts.
QuietElection(i) ==
    /\ \A k \in Server : role[k] # Leader
    /\ DOMAIN messages = {}
    /\ \A k \in Server : \/ LastTerm(i) > LastTerm(k)
                         \/ LastTerm(i) = LastTerm(k) /\ LastIndex(i) >= LastIndex(k)

-----------------------------------------------------------------------------
Init ==
    /\ messages = [m \in {} |-> 0]
    /\ currentTerm = [i \in Server |-> 0]
    /\ votedFor = [i \in Server |-> None]
    /\ log = [i \in Server |-> <<>>]
    /\ snapshotIndex = [i \in Server |-> 0]
    /\ snapshotTerm = [i \in Server |-> 0]
    /\ role = [i \in Server |-> Follower]
    /\ commitIndex = [i \in Server |-> 0]
    /\ votesGranted = [i \in Server |-> {}]
    /\ nextIndex = [i \in Server |-> InitNextIndex]
    /\ matchIndex = [i \in Server |-> InitMatchIndex]
    /\ reads = [i \in Server |-> InitRead]
    /\ committed = <<>>
    /\ readFloor = [i \in Server |-> 0]
    /\ budget = [fault |-> MaxFaults, restart |-> MaxRestarts, drop |-> MaxDrops,
                  duplicate |-> MaxDuplicates, snapshot |-> MaxSnapshots]

-----------------------------------------------------------------------------
\* i starts an election: a new term, a vote for itself, and a RequestVoteRequest to
\* every other server added to the bag `bag`, in one step (Timeout; with PreVote, the
\* HandlePreVoteResponse that brings a quorum of pre-votes).
Campaign(i, bag) ==
    LET term == currentTerm[i] + 1
        request(j) == [mtype |-> RequestVoteRequest, mterm |-> term,
                       mlastLogTerm |-> LastTerm(i), mlastLogIndex |-> LastIndex(i),
                       msource |-> i, mdest |-> j]
    IN /\ currentTerm' = [currentTerm EXCEPT ![i] = term]
       /\ role' = [role EXCEPT ![i] = Candidate]
       /\ votedFor' = [votedFor EXCEPT ![i] = i]
       /\ votesGranted' = [votesGranted EXCEPT ![i] = {i}]
       /\ messages' = bag @@ [m \in {request(j) : j \in Peers(i)} |-> 1]

\* Server i (Follower or Candidate) times out and starts an election (without PreVote).
Timeout(i) ==
    /\ ~PreVote
    /\ role[i] \in {Follower, Candidate}
    /\ currentTerm[i] < MaxTerm \/ QuietElection(i)
    \* one free slot suffices: the broadcast may overfill the bag by |Server| - 2, so
    \* that two candidates can run in one term (split votes) even in a small bag
    /\ InFlight < MaxInFlight
    /\ Campaign(i, messages)
    /\ UNCHANGED <<logVars, commitIndex, nextIndex, matchIndex, reads, historyVars, budget>>

\* Pre-vote (Ongaro's thesis, section 9.6; etcd-io/raft's PreVote). With PreVote an
\* election timeout of i (Follower, Candidate, or PreCandidate whose pre-election went
\* nowhere) starts a pre-election instead: i asks every other server whether it would
\* vote for i in term currentTerm[i] + 1, without incrementing its term or changing its
\* vote, and only with pre-votes from a quorum runs the real election (Campaign, in
\* HandlePreVoteResponse). A server cut off from the others thus keeps its term, and on
\* rejoining does not depose a leader of a term it could not have won. The bounds are
\* Timeout's: the election it may lead to is the one Timeout would start.
PreVoteTimeout(i) ==
    /\ PreVote
    /\ role[i] \in {Follower, PreCandidate, Candidate}
    /\ currentTerm[i] < MaxTerm \/ QuietElection(i)  \* Timeout's bounds
    /\ InFlight < MaxInFlight
    /\ LET request(j) == [mtype |-> PreVoteRequest, mterm |-> currentTerm[i] + 1,
                          mlastLogTerm |-> LastTerm(i), mlastLogIndex |-> LastIndex(i),
                          msource |-> i, mdest |-> j]
       IN /\ role' = [role EXCEPT ![i] = PreCandidate]
          /\ votesGranted' = [votesGranted EXCEPT ![i] = {i}]
          \* a bag sum, not @@: a pre-election again in the same term sends the same requests,
          \* and a copy still in flight is one more copy (Timeout's requests are always new)
          /\ messages' = messages (+) SetToBag({request(j) : j \in Peers(i)})
    /\ UNCHANGED <<serverVars, logVars, commitIndex, nextIndex, matchIndex, reads,
                   historyVars, budget>>

\* Leader i appends the client's value v to its log.
ClientRequest(i, v) ==
    /\ role[i] = Leader
    /\ LastIndex(i) < MaxLogLen
    /\ log' = [log EXCEPT ![i] = Append(@, [term |-> currentTerm[i], value |-> v])]
    /\ UNCHANGED <<messages, serverVars, snapshotIndex, snapshotTerm, volatileVars,
                   historyVars, budget>>

\* The AppendEntriesRequest leader i sends j with its entries from nextIndex[i][j]
\* up to index last (last = nextIndex[i][j] - 1: none, a heartbeat).
AppendRequest(i, j, last) ==
    LET prev == nextIndex[i][j] - 1
    IN [mtype |-> AppendEntriesRequest, mterm |-> currentTerm[i],
        mprevLogIndex |-> prev, mprevLogTerm |-> TermAt(i, prev),
        mentries |-> SubSeq(log[i], prev - snapshotIndex[i] + 1, last - snapshotIndex[i]),
        mcommitIndex |-> commitIndex[i], mreadSeq |-> ReadTag(i),
        msource |-> i, mdest |-> j]

\* Needs the entry before nextIndex[i][j], so not once it is compacted.
CanAppend(i, j) ==
    /\ role[i] = Leader
    /\ i # j
    /\ nextIndex[i][j] > snapshotIndex[i]
    /\ InFlight < MaxInFlight

\* Leader i sends j one AppendEntriesRequest with a non-empty prefix of the entries
\* from nextIndex[i][j] (none when j lacks none: a heartbeat). Implementations bound a batch
\* (etcd's MaxSizePerMsg, impl/raft's max_entries). A batch that stops short of the
\* leader's no-op is what lets a follower's match index rest on an entry of an
\* earlier term: the situation of the paper's Figure 8 (section 5.4.2).
AppendEntries(i, j) ==
    /\ CanAppend(i, j)
    /\ \E last \in Min(nextIndex[i][j], LastIndex(i))..LastIndex(i) :
          Send(AppendRequest(i, j, last))
    /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars, budget>>

\* The whole suffix: what fairness asks of a leader (Fairness, below), lest it send
\* only heartbeats for ever.
AppendEntriesAll(i, j) ==
    /\ CanAppend(i, j)
    /\ Send(AppendRequest(i, j, LastIndex(i)))
    /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars, budget>>

\* Leader i sends j its snapshot, because the entry j needs next is compacted (section 7).
InstallSnapshot(i, j) ==
    /\ role[i] = Leader
    /\ i # j
    /\ nextIndex[i][j] <= snapshotIndex[i]
    /\ InFlight < MaxInFlight
    /\ Send([mtype |-> InstallSnapshotRequest, mterm |-> currentTerm[i],
             mlastIncludedIndex |-> snapshotIndex[i], mlastIncludedTerm |-> snapshotTerm[i],
             msource |-> i, mdest |-> j])
    /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars, budget>>

\* Server i folds its whole committed prefix into its snapshot (section 7).
TakeSnapshot(i) ==
    /\ budget.snapshot > 0
    /\ commitIndex[i] > snapshotIndex[i]
    /\ snapshotIndex' = [snapshotIndex EXCEPT ![i] = commitIndex[i]]
    /\ snapshotTerm' = [snapshotTerm EXCEPT ![i] = TermAt(i, commitIndex[i])]
    /\ log' = [log EXCEPT ![i] = SubSeq(@, commitIndex[i] - snapshotIndex[i] + 1, Len(@))]
    /\ budget' = [budget EXCEPT !.snapshot = @ - 1]
    /\ UNCHANGED <<messages, serverVars, volatileVars, historyVars>>

\* Server i crashes and restarts: currentTerm, votedFor, log and snapshot were on
\* disk; role, votes, nextIndex, matchIndex, reads are lost, and commitIndex falls
\* back to what the snapshot holds.
Restart(i) ==
    /\ budget.fault > 0 /\ budget.restart > 0
    /\ role' = [role EXCEPT ![i] = Follower]
    /\ commitIndex' = [commitIndex EXCEPT ![i] = snapshotIndex[i]]
    /\ LeaveRole(i, TRUE)
    /\ budget' = [budget EXCEPT !.fault = @ - 1, !.restart = @ - 1]
    /\ UNCHANGED <<messages, serverVars, logVars, committed>>

\* Leader i registers a ReadIndex read at its commitIndex (thesis section 6.4). It
\* must have committed an entry of its own term (its no-op), or its commitIndex may
\* lag behind entries that earlier leaders committed.
ClientRead(i) ==
    /\ role[i] = Leader
    /\ ~ReadPending(i)
    /\ reads[i].seq < MaxReads
    /\ TermAt(i, commitIndex[i]) = currentTerm[i]
    /\ reads' = [reads EXCEPT ![i] = [seq |-> @.seq + 1, index |-> commitIndex[i],
                                       acks |-> {i}, served |-> FALSE]]
    /\ readFloor' = [readFloor EXCEPT ![i] = Len(committed)]
    /\ UNCHANGED <<messages, serverVars, logVars, role, commitIndex, votesGranted,
                   nextIndex, matchIndex, committed, budget>>

\* Leader i serves its read: a quorum acknowledged a heartbeat sent after the read
\* was registered, so i was still leader then, and i has applied up to the read index.
CompleteRead(i) ==
    /\ role[i] = Leader
    /\ ReadPending(i)
    /\ Quorum(reads[i].acks)
    /\ commitIndex[i] >= reads[i].index
    /\ reads' = [reads EXCEPT ![i].served = TRUE, ![i].acks = {}]
    /\ UNCHANGED <<messages, serverVars, logVars, role, commitIndex, votesGranted,
                   nextIndex, matchIndex, historyVars, budget>>

-----------------------------------------------------------------------------
\* Message handlers: i receives from j a message m of the bag. Each first applies the
\* term rule (a higher mterm makes i a Follower of that term with no vote) and handles
\* every message it can receive, stale ones included, so a message is never stuck.
\* The \E over the bag sits inside each handler, not in Next: TLC 2.15 names an action
\* after the operator its \E over a state-dependent set lies in, so this way the
\* action is "HandleX" with i and j bound; m is the message that left the bag.

\* i answers j's vote request; it grants the vote if it has not voted for another
\* in this term and j's log is at least as up-to-date as its own (section 5.4.1).
HandleRequestVoteRequest(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = RequestVoteRequest /\ m.mdest = i /\ m.msource = j
        /\ LET newer == m.mterm > currentTerm[i]
               term == Max(m.mterm, currentTerm[i])
               voted == IF newer THEN None ELSE votedFor[i]
               logOk == \/ m.mlastLogTerm > LastTerm(i)
                        \/ /\ m.mlastLogTerm = LastTerm(i)
                           /\ m.mlastLogIndex >= LastIndex(i)
               grant == m.mterm = term /\ logOk /\ voted \in {None, j}
           IN /\ currentTerm' = [currentTerm EXCEPT ![i] = term]
              /\ role' = [role EXCEPT ![i] = IF newer THEN Follower ELSE @]
              /\ votedFor' = [votedFor EXCEPT ![i] = IF grant THEN j ELSE voted]
              /\ LeaveRole(i, newer)
              /\ Reply([mtype |-> RequestVoteResponse, mterm |-> term, mvoteGranted |-> grant,
                        msource |-> i, mdest |-> j], m)
        /\ UNCHANGED <<logVars, commitIndex, committed, budget>>

\* Candidate i counts j's vote. With a quorum it becomes Leader in this step and, with
\* LeaderNoOp, appends a no-op of its term (section 8), which lets it commit earlier entries
\* without waiting for a client's. Without it (the paper's Figure 2 alone) entries of earlier
\* terms commit only once an entry of the leader's own term does (section 5.4.2).
HandleRequestVoteResponse(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = RequestVoteResponse /\ m.mdest = i /\ m.msource = j
        /\ IF m.mterm > currentTerm[i] THEN
              /\ currentTerm' = [currentTerm EXCEPT ![i] = m.mterm]
              /\ role' = [role EXCEPT ![i] = Follower]
              /\ votedFor' = [votedFor EXCEPT ![i] = None]
              /\ LeaveRole(i, TRUE)
              /\ UNCHANGED log
           ELSE IF m.mterm = currentTerm[i] /\ role[i] = Candidate /\ m.mvoteGranted THEN
              LET votes == votesGranted[i] \cup {j}
                  won == Quorum(votes)
              IN /\ role' = [role EXCEPT ![i] = IF won THEN Leader ELSE @]
                 /\ votesGranted' = [votesGranted EXCEPT ![i] = IF won THEN {} ELSE votes]
                 /\ nextIndex' = [nextIndex EXCEPT ![i] =
                                     IF won THEN [k \in Server |-> LastIndex(i) + 1] ELSE @]
                 /\ log' = [log EXCEPT ![i] =
                               IF won /\ LeaderNoOp
                               THEN Append(@, [term |-> currentTerm[i], value |-> NoOp])
                               ELSE @]
                 /\ UNCHANGED <<serverVars, matchIndex, reads, readFloor>>
           ELSE \* stale, refused, or no longer a candidate
              UNCHANGED <<serverVars, role, log, votesGranted, nextIndex, matchIndex,
                          reads, readFloor>>
        /\ Discard(m)
        /\ UNCHANGED <<snapshotIndex, snapshotTerm, commitIndex, committed, budget>>

\* i answers j's pre-vote request. Nothing of i changes (no term, no vote, no timer; the
\* term rule does not apply: mterm is a term j has not started). i may grant only when it
\* would grant the vote itself: the term is beyond its own and j's log is at least as
\* up-to-date as its own (section 5.4.1). The thesis adds that i refuses when it has heard
\* from a current leader within its minimum election timeout; the spec has no clocks (its
\* timeouts may fire at any time), so that condition is abstracted as a free choice: i may
\* always refuse (grant is chosen), and grants only when the conditions above hold. An
\* implementation's own rule (impl/raft: a leader, or a follower that knows its term's
\* leader, refuses) is then one of the spec's choices. The answer echoes mterm, so that j
\* counts only answers to the pre-election it is running.
HandlePreVoteRequest(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = PreVoteRequest /\ m.mdest = i /\ m.msource = j
        /\ LET logOk == \/ m.mlastLogTerm > LastTerm(i)
                        \/ /\ m.mlastLogTerm = LastTerm(i)
                           /\ m.mlastLogIndex >= LastIndex(i)
           IN \E grant \in BOOLEAN :
                 /\ grant => m.mterm > currentTerm[i] /\ logOk
                 /\ Reply([mtype |-> PreVoteResponse, mterm |-> m.mterm, mvoteGranted |-> grant,
                           msource |-> i, mdest |-> j], m)
        /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars, budget>>

\* Pre-candidate i counts j's pre-vote for term currentTerm[i] + 1; with a quorum it starts
\* the real election in this step (Campaign). A refusal, or an answer to another pre-election
\* or arriving after i left the pre-candidacy, changes nothing.
HandlePreVoteResponse(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = PreVoteResponse /\ m.mdest = i /\ m.msource = j
        /\ IF role[i] = PreCandidate /\ m.mterm = currentTerm[i] + 1 /\ m.mvoteGranted THEN
              LET votes == votesGranted[i] \cup {j}
              IN IF Quorum(votes) THEN Campaign(i, WithoutMessage(m, messages))
                 ELSE /\ votesGranted' = [votesGranted EXCEPT ![i] = votes]
                      /\ Discard(m)
                      /\ UNCHANGED <<serverVars, role>>
           ELSE /\ Discard(m)
                /\ UNCHANGED <<serverVars, role, votesGranted>>
        /\ UNCHANGED <<logVars, commitIndex, nextIndex, matchIndex, reads, historyVars, budget>>

\* i handles leader j's AppendEntriesRequest (Figure 2): it accepts when its log holds
\* the entry before the new ones (or that entry is inside its snapshot), removes a
\* conflicting suffix, appends what it lacks, and learns the leader's commit index.
HandleAppendEntriesRequest(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = AppendEntriesRequest /\ m.mdest = i /\ m.msource = j
        /\ LET newer == m.mterm > currentTerm[i]
               term == Max(m.mterm, currentTerm[i])
               si == snapshotIndex[i]
               prev == m.mprevLogIndex
               last == prev + Len(m.mentries)  \* index of the last entry m carries
               logOk == /\ prev <= LastIndex(i)
                        /\ prev < si \/ TermAt(i, prev) = m.mprevLogTerm
               \* indices where i holds an entry (outside its snapshot) that m contradicts
               conflicts == {k \in (Max(prev, si) + 1)..Min(last, LastIndex(i)) :
                                TermAt(i, k) # m.mentries[k - prev].term}
               newLog ==
                   IF conflicts # {} THEN
                       LET c == CHOOSE k \in conflicts : \A x \in conflicts : k <= x
                       IN SubSeq(log[i], 1, c - si - 1)
                          \o SubSeq(m.mentries, c - prev, Len(m.mentries))
                   ELSE IF last <= LastIndex(i) THEN log[i]  \* nothing new (maybe a stale request)
                   ELSE log[i] \o SubSeq(m.mentries, LastIndex(i) - prev + 1, Len(m.mentries))
               newCommit == Max(commitIndex[i], Min(m.mcommitIndex, last))
               accept == m.mterm = term /\ logOk
               \* Fast backup (end of section 5.3): a rejection of the current leader tells it the
               \* term of i's entry at prev and the first index i stores for that term, or, when i
               \* has no entry at prev, term 0 and the index just past i's log. Otherwise both 0.
               hint == m.mterm = term /\ ~logOk
               conflictTerm == IF hint /\ prev <= LastIndex(i) THEN TermAt(i, prev) ELSE 0
               conflictIndex == IF ~hint THEN 0
                                ELSE IF prev > LastIndex(i) THEN LastIndex(i) + 1
                                ELSE FirstIndexOfTerm(i, conflictTerm, prev)
           IN /\ currentTerm' = [currentTerm EXCEPT ![i] = term]
              /\ votedFor' = [votedFor EXCEPT ![i] = IF newer THEN None ELSE @]
              \* a current-term request comes from the leader: a candidate steps down
              /\ role' = [role EXCEPT ![i] = IF m.mterm = term THEN Follower ELSE @]
              /\ LeaveRole(i, m.mterm = term)
              /\ IF accept THEN
                    /\ log' = [log EXCEPT ![i] = newLog]
                    /\ commitIndex' = [commitIndex EXCEPT ![i] = newCommit]
                    /\ committed' = ExtendCommitted(newLog, si, newCommit, term)
                 ELSE UNCHANGED <<log, commitIndex, committed>>
              /\ Reply([mtype |-> AppendEntriesResponse, mterm |-> term, msuccess |-> accept,
                        mmatchIndex |-> IF accept THEN last ELSE 0, mreadSeq |-> m.mreadSeq,
                        mconflictTerm |-> conflictTerm, mconflictIndex |-> conflictIndex,
                        msource |-> i, mdest |-> j], m)
        /\ UNCHANGED <<snapshotIndex, snapshotTerm, budget>>

\* Leader i learns j's progress, counts j's ack for a pending read, and commits the
\* highest index of ITS OWN term that a quorum holds (section 5.4.2, Figure 8). On a
\* rejection it moves nextIndex back to the hint's index, skipping j's whole conflicting
\* term in one round trip (or straight to j's log end), never forward (the rejection may
\* be of an older request) and never to or below what j is known to hold.
HandleAppendEntriesResponse(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = AppendEntriesResponse /\ m.mdest = i /\ m.msource = j
        /\ IF m.mterm > currentTerm[i] THEN
              /\ currentTerm' = [currentTerm EXCEPT ![i] = m.mterm]
              /\ role' = [role EXCEPT ![i] = Follower]
              /\ votedFor' = [votedFor EXCEPT ![i] = None]
              /\ LeaveRole(i, TRUE)
              /\ UNCHANGED <<commitIndex, committed>>
           ELSE IF m.mterm = currentTerm[i] /\ role[i] = Leader THEN
              LET match == [matchIndex[i] EXCEPT
                                ![j] = IF m.msuccess THEN Max(@, m.mmatchIndex) ELSE @]
                  next == IF m.msuccess THEN Max(nextIndex[i][j], m.mmatchIndex + 1)
                          ELSE Max(Min(nextIndex[i][j] - 1, m.mconflictIndex), match[j] + 1)
                  Agree(n) == {i} \cup {k \in Server : match[k] >= n}
                  commitable == {n \in (commitIndex[i] + 1)..LastIndex(i) :
                                    /\ Quorum(Agree(n))
                                    /\ TermAt(i, n) = currentTerm[i]}
                  newCommit == IF commitable = {} THEN commitIndex[i] ELSE SetMax(commitable)
                  ack == ReadPending(i) /\ m.mreadSeq = reads[i].seq
              IN /\ matchIndex' = [matchIndex EXCEPT ![i] = match]
                 /\ nextIndex' = [nextIndex EXCEPT ![i][j] = next]
                 /\ commitIndex' = [commitIndex EXCEPT ![i] = newCommit]
                 /\ committed' = ExtendCommitted(log[i], snapshotIndex[i], newCommit,
                                                 currentTerm[i])
                 /\ reads' = [reads EXCEPT ![i].acks = IF ack THEN @ \cup {j} ELSE @]
                 /\ UNCHANGED <<serverVars, role, votesGranted, readFloor>>
           ELSE \* stale
              UNCHANGED <<serverVars, volatileVars, historyVars>>
        /\ Discard(m)
        /\ UNCHANGED <<logVars, budget>>

\* i installs leader j's snapshot (section 7, Figure 13): it keeps the entries after
\* the snapshot when its log agrees at the snapshot's last entry, else drops its log.
HandleInstallSnapshotRequest(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = InstallSnapshotRequest /\ m.mdest = i /\ m.msource = j
        /\ LET newer == m.mterm > currentTerm[i]
               term == Max(m.mterm, currentTerm[i])
               idx == m.mlastIncludedIndex
               current == m.mterm = term
               \* already committed here: nothing to install
               stale == idx <= commitIndex[i]
               keep == idx <= LastIndex(i) /\ TermAt(i, idx) = m.mlastIncludedTerm
           IN /\ currentTerm' = [currentTerm EXCEPT ![i] = term]
              /\ votedFor' = [votedFor EXCEPT ![i] = IF newer THEN None ELSE @]
              /\ role' = [role EXCEPT ![i] = IF current THEN Follower ELSE @]
              /\ LeaveRole(i, current)
              /\ IF current /\ ~stale THEN
                    /\ snapshotIndex' = [snapshotIndex EXCEPT ![i] = idx]
                    /\ snapshotTerm' = [snapshotTerm EXCEPT ![i] = m.mlastIncludedTerm]
                    /\ log' = [log EXCEPT ![i] =
                                  IF keep THEN SubSeq(@, idx - snapshotIndex[i] + 1, Len(@))
                                  ELSE <<>>]
                    /\ commitIndex' = [commitIndex EXCEPT ![i] = idx]
                 ELSE UNCHANGED <<logVars, commitIndex>>
              /\ Reply([mtype |-> InstallSnapshotResponse, mterm |-> term,
                        mmatchIndex |-> IF current THEN idx ELSE 0,
                        msource |-> i, mdest |-> j], m)
        /\ UNCHANGED <<committed, budget>>

\* Leader i learns that j holds everything up to the snapshot it sent.
HandleInstallSnapshotResponse(i, j) ==
    \E m \in DOMAIN messages :
        /\ m.mtype = InstallSnapshotResponse /\ m.mdest = i /\ m.msource = j
        /\ IF m.mterm > currentTerm[i] THEN
              /\ currentTerm' = [currentTerm EXCEPT ![i] = m.mterm]
              /\ role' = [role EXCEPT ![i] = Follower]
              /\ votedFor' = [votedFor EXCEPT ![i] = None]
              /\ LeaveRole(i, TRUE)
           ELSE IF m.mterm = currentTerm[i] /\ role[i] = Leader THEN
              /\ matchIndex' = [matchIndex EXCEPT ![i][j] = Max(@, m.mmatchIndex)]
              /\ nextIndex' = [nextIndex EXCEPT ![i][j] = Max(@, m.mmatchIndex + 1)]
              /\ UNCHANGED <<serverVars, role, votesGranted, reads, readFloor>>
           ELSE
              UNCHANGED <<serverVars, role, votesGranted, nextIndex, matchIndex, reads, readFloor>>
        /\ Discard(m)
        /\ UNCHANGED <<logVars, commitIndex, committed, budget>>

-----------------------------------------------------------------------------
\* Network faults (reordering needs no action: the network is a bag).

\* The network loses one message.
DropMessage ==
    /\ budget.fault > 0 /\ budget.drop > 0
    /\ \E m \in DOMAIN messages : Discard(m)
    /\ budget' = [budget EXCEPT !.fault = @ - 1, !.drop = @ - 1]
    /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars>>

\* The network delivers one message twice: a second copy enters the bag (bounded by
\* its budget, not by MaxInFlight, so that a one-message model can still duplicate).
DuplicateMessage ==
    /\ budget.fault > 0 /\ budget.duplicate > 0
    /\ \E m \in DOMAIN messages : Send(m)
    /\ budget' = [budget EXCEPT !.fault = @ - 1, !.duplicate = @ - 1]
    /\ UNCHANGED <<serverVars, logVars, volatileVars, historyVars>>

-----------------------------------------------------------------------------
\* A plain disjunction of named actions, each under its own \E over constant sets,
\* so that TLC's getActions() yields one action per instantiation, labelled with the
\* action's name and its i, j, v (docs/architecture.md, "TLC inside the Python process"). A handler's message m and the
\* message of DropMessage / DuplicateMessage are chosen inside the action.
Next ==
    \/ \E i \in Server : Timeout(i)
    \/ \E i \in Server : PreVoteTimeout(i)
    \/ \E i \in Server, v \in Value : ClientRequest(i, v)
    \/ \E i \in Server : \E j \in Peers(i) : AppendEntries(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : InstallSnapshot(i, j)
    \/ \E i \in Server : TakeSnapshot(i)
    \/ \E i \in Server : Restart(i)
    \/ \E i \in Server : ClientRead(i)
    \/ \E i \in Server : CompleteRead(i)
    \/ \E i \in Server : \E j \in Peers(i) : HandleRequestVoteRequest(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleRequestVoteResponse(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandlePreVoteRequest(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandlePreVoteResponse(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleAppendEntriesRequest(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleAppendEntriesResponse(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleInstallSnapshotRequest(i, j)
    \/ \E i \in Server : \E j \in Peers(i) : HandleInstallSnapshotResponse(i, j)
    \/ DropMessage
    \/ DuplicateMessage

Spec == Init /\ [][Next]_vars

\* Any message from j to i: the unit of fairness below.
Receive(i, j) ==
    \/ HandleRequestVoteRequest(i, j)
    \/ HandleRequestVoteResponse(i, j)
    \/ HandlePreVoteRequest(i, j)
    \/ HandlePreVoteResponse(i, j)
    \/ HandleAppendEntriesRequest(i, j)
    \/ HandleAppendEntriesResponse(i, j)
    \/ HandleInstallSnapshotRequest(i, j)
    \/ HandleInstallSnapshotResponse(i, j)

\* Liveness model: each channel keeps delivering, a leader keeps sending each server
\* everything it lacks, and an uncontested election eventually happens (faults are
\* bounded, so they stop). Fairness is per channel, not per message type: with one message in
\* flight (Raft_liveness.cfg) that is fairness to every message, and TLC checks 13
\* conditions instead of 49 (2 s instead of 150 s on the liveness model).
Fairness ==
    /\ \A i \in Server : \A j \in Peers(i) :
          /\ WF_vars(Receive(i, j))
          /\ SF_vars(AppendEntriesAll(i, j) \/ InstallSnapshot(i, j))
    /\ WF_vars(\E i \in Server : QuietElection(i) /\ Timeout(i))

LiveSpec == Spec /\ Fairness

Symmetry == Permutations(Server) \cup Permutations(Value)

\* Safety models cut elections beyond MaxTerm (QuietElection may go further: it is
\* there for the liveness model).
TermBound == \A i \in Server : currentTerm[i] <= MaxTerm

-----------------------------------------------------------------------------
\* Invariants

Entry == [term : Nat, value : Value \cup {NoOp}]
Message ==
    [mtype : {RequestVoteRequest}, mterm : Nat, mlastLogTerm : Nat, mlastLogIndex : Nat,
     msource : Server, mdest : Server]
    \cup [mtype : {RequestVoteResponse}, mterm : Nat, mvoteGranted : BOOLEAN,
          msource : Server, mdest : Server]
    \cup [mtype : {PreVoteRequest}, mterm : Nat, mlastLogTerm : Nat, mlastLogIndex : Nat,
          msource : Server, mdest : Server]
    \cup [mtype : {PreVoteResponse}, mterm : Nat, mvoteGranted : BOOLEAN,
          msource : Server, mdest : Server]
    \cup [mtype : {AppendEntriesRequest}, mterm : Nat, mprevLogIndex : Nat, mprevLogTerm : Nat,
          mentries : Seq(Entry), mcommitIndex : Nat, mreadSeq : Nat,
          msource : Server, mdest : Server]
    \cup [mtype : {AppendEntriesResponse}, mterm : Nat, msuccess : BOOLEAN, mmatchIndex : Nat,
          mreadSeq : Nat, mconflictTerm : Nat, mconflictIndex : Nat,
          msource : Server, mdest : Server]
    \cup [mtype : {InstallSnapshotRequest}, mterm : Nat, mlastIncludedIndex : Nat,
          mlastIncludedTerm : Nat, msource : Server, mdest : Server]
    \cup [mtype : {InstallSnapshotResponse}, mterm : Nat, mmatchIndex : Nat,
          msource : Server, mdest : Server]

TypeOK ==
    /\ \A m \in DOMAIN messages : m \in Message /\ messages[m] \in Nat \ {0}
    /\ currentTerm \in [Server -> Nat]
    /\ votedFor \in [Server -> Server \cup {None}]
    /\ log \in [Server -> Seq(Entry)]
    /\ snapshotIndex \in [Server -> Nat]
    /\ snapshotTerm \in [Server -> Nat]
    /\ role \in [Server -> {Follower, PreCandidate, Candidate, Leader}]
    /\ commitIndex \in [Server -> Nat]
    /\ votesGranted \in [Server -> SUBSET Server]
    /\ nextIndex \in [Server -> [Server -> Nat \ {0}]]
    /\ matchIndex \in [Server -> [Server -> Nat]]
    /\ reads \in [Server -> [seq : Nat, index : Nat, acks : SUBSET Server, served : BOOLEAN]]
    /\ committed \in Seq([entry : Entry, term : Nat])
    /\ readFloor \in [Server -> Nat]
    /\ budget \in [fault : Nat, restart : Nat, drop : Nat, duplicate : Nat, snapshot : Nat]

\* Volatile state outside its role is at its initial value (the normal form the
\* implementation's refinement mapping must produce too).
VolatileNormalForm ==
    \A i \in Server :
        /\ role[i] \notin {Candidate, PreCandidate} => votesGranted[i] = {}
        /\ role[i] # Leader => /\ nextIndex[i] = InitNextIndex
                               /\ matchIndex[i] = InitMatchIndex
                               /\ reads[i] = InitRead
                               /\ readFloor[i] = 0

\* At most one leader per term (section 5.2).
ElectionSafety ==
    \A i, j \in Server :
        (i # j /\ role[i] = Leader /\ role[j] = Leader) => currentTerm[i] # currentTerm[j]

\* Two logs with an entry of the same index and term agree on every entry up to it
\* (section 5.3); compared where both still hold entries (after both snapshots).
LogMatching ==
    \A i, j \in Server :
        LET lo == Max(snapshotIndex[i], snapshotIndex[j]) + 1
        IN \A k \in lo..Min(LastIndex(i), LastIndex(j)) :
              TermAt(i, k) = TermAt(j, k) =>
                  \A l \in lo..k : EntryAt(i, l) = EntryAt(j, l)

\* A leader holds every entry committed in an earlier term (section 5.4): a leader of
\* term T has committed[k].entry at index k whenever it was committed before T
\* (or index k is inside its snapshot, which holds committed entries only).
LeaderCompleteness ==
    \A i \in Server :
        role[i] = Leader =>
            \A k \in 1..Len(committed) :
                committed[k].term < currentTerm[i] =>
                    /\ k <= LastIndex(i)
                    /\ k > snapshotIndex[i] => EntryAt(i, k) = committed[k].entry

\* Every server's committed entries, those folded into its snapshot included, are the
\* ones ever committed at those indices: no two servers apply different entries at one
\* index (section 5.4.3). The snapshot is checked through its last entry's term.
StateMachineSafety ==
    \A i \in Server :
        /\ snapshotIndex[i] <= commitIndex[i]
        /\ commitIndex[i] <= LastIndex(i)
        /\ commitIndex[i] <= Len(committed)
        /\ snapshotIndex[i] > 0 => snapshotTerm[i] = committed[snapshotIndex[i]].entry.term
        /\ \A k \in (snapshotIndex[i] + 1)..commitIndex[i] : EntryAt(i, k) = committed[k].entry

\* A served read reflects every write committed before it was registered
\* (linearizability of ReadIndex, thesis section 6.4).
ReadLinearizable ==
    \A i \in Server : reads[i].served => reads[i].index >= readFloor[i]

\* The leader's bookkeeping (Figure 2, "Volatile state on leaders"): a leader knows a server to
\* hold no entry the leader itself lacks, and the next entry it sends a server lies past what the
\* server is known to hold (Figure 2's "initialized to leader last log index + 1" and "0"). Outside
\* the Leader role both are at their initial values (VolatileNormalForm), where they hold too.
MatchIndexBounded ==
    \A i \in Server : role[i] = Leader => \A j \in Server : matchIndex[i][j] <= LastIndex(i)

NextIndexAboveMatch ==
    \A i \in Server : role[i] = Leader => \A j \in Server : nextIndex[i][j] > matchIndex[i][j]

-----------------------------------------------------------------------------
\* Action properties: what no single step may do. TLC checks a property unsoundly under SYMMETRY
\* (tlaplus/tlaplus#59), so these are checked in models without it (Raft_transitions.cfg,
\* RaftPipelined_transitions.cfg); the Python checks evaluate them on every pair of consecutive
\* states of a run (property_tests/raft/safety.py, the same names).

\* A server's commitIndex never decreases: what it knew committed stays committed (section 5.4.3).
\* The one exception is Restart(i): commitIndex is volatile (Figure 2), and a restarted server falls
\* back to what its snapshot holds; it learns the rest again from the leader.
CommitIndexMonotonic ==
    [][\A i \in Server : commitIndex'[i] >= commitIndex[i] \/ Restart(i)]_vars

\* A leader's matchIndex[j] never decreases while it leads in one term (Figure 2: "increases
\* monotonically"): a reordered, older success must not move it back. Each time a server becomes
\* leader its matchIndex starts again at 0: a Restart, a step-down or a newer term ends the
\* leadership first (role' # Leader or a new term), so none is an exception here.
MatchIndexMonotonic ==
    [][\A i \in Server :
          (role[i] = Leader /\ role'[i] = Leader /\ currentTerm'[i] = currentTerm[i]) =>
              \A j \in Server : matchIndex'[i][j] >= matchIndex[i][j]]_vars

-----------------------------------------------------------------------------
\* Liveness (checked with LiveSpec in Raft_liveness.cfg)

\* Once faults stop, some server is leader for good.
EventuallyLeader == <>[](\E i \in Server : role[i] = Leader)

\* Once faults stop, every entry of the leader's log, hence every client request it
\* accepted, is committed on every server.
EventuallyAllCommitted ==
    <>[](\E i \in Server : role[i] = Leader /\ \A j \in Server : commitIndex[j] = LastIndex(i))

\* The highest index of i's own term that a quorum stores by i's matchIndex (i counts itself), or
\* i's commitIndex when there is none above it: what the commit rule lets i commit (section 5.4.2).
StoredOfOwnTerm(i) ==
    LET stored == {n \in (commitIndex[i] + 1)..LastIndex(i) :
                      /\ TermAt(i, n) = currentTerm[i]
                      /\ Quorum({i} \cup {k \in Server : matchIndex[i][k] >= n})}
    IN IF stored = {} THEN commitIndex[i] ELSE SetMax(stored)

\* A leader's commitIndex reaches every entry of its term that a quorum stores, unless it stops
\* leading first (section 5.3; the Figure 8 rule of 5.4.2 never makes it stop at an entry of an
\* earlier term below one of its own). Here a leader commits in the step that tells it of the
\* quorum, so this holds at once; an implementation may take longer, and the free runs bound
\* it once the network is calm (property_tests/raft/free_runs.py, LeaderCommitsStoredEntries).
LeaderCommitsStoredEntries ==
    \A i \in Server : (role[i] = Leader /\ StoredOfOwnTerm(i) > commitIndex[i])
                         ~> (role[i] # Leader \/ StoredOfOwnTerm(i) = commitIndex[i])

=============================================================================
