---------------------------- MODULE Election ----------------------------
(* Leader election by term and majority vote, the shape of Raft's election (Ongaro's thesis, section 3.4)
   without logs or messages: a benchmark for TLC itself, not a model of meshcheck's protocols.
   With 4 nodes and MaxTerm = 3 (Election.cfg), deadlock checking off (every term used up ends a
   behaviour): 14,440 distinct states, 87,861 generated, depth 12 (TLC 2.15, measured). MaxTerm = 4 gives
   51,729 distinct and 359,785 generated. *)
EXTENDS Naturals, FiniteSets

CONSTANTS Nodes,    \* the servers
          MaxTerm   \* the highest term a timeout may start (bounds the model)

VARIABLES term,      \* term[n]: the latest term n has seen
          votedFor,  \* votedFor[n]: whom n voted for in term[n], or None
          votes,     \* votes[n]: who voted for n while n is a candidate in term[n]
          leader     \* leader[n]: n won the election of term[n]

vars == <<term, votedFor, votes, leader>>

None == "none"
Majority(S) == 2 * Cardinality(S) > Cardinality(Nodes)

Init == /\ term = [n \in Nodes |-> 0]
        /\ votedFor = [n \in Nodes |-> None]
        /\ votes = [n \in Nodes |-> {}]
        /\ leader = [n \in Nodes |-> FALSE]

\* n times out and stands in a new term, voting for itself (section 3.4).
Timeout(n) == /\ term[n] < MaxTerm
              /\ term' = [term EXCEPT ![n] = term[n] + 1]
              /\ votedFor' = [votedFor EXCEPT ![n] = n]
              /\ votes' = [votes EXCEPT ![n] = {n}]
              /\ leader' = [leader EXCEPT ![n] = FALSE]

\* n grants its vote to candidate c: at most one vote per term, and never to an older term.
Vote(n, c) == /\ n /= c
              /\ votedFor[c] = c
              /\ \/ term[c] > term[n]
                 \/ term[c] = term[n] /\ votedFor[n] = None
              /\ term' = [term EXCEPT ![n] = term[c]]
              /\ votedFor' = [votedFor EXCEPT ![n] = c]
              /\ votes' = [votes EXCEPT ![c] = @ \cup {n}, ![n] = {}]
              /\ leader' = [leader EXCEPT ![n] = FALSE]

\* A candidate with the votes of a majority becomes leader of its term.
BecomeLeader(n) == /\ ~leader[n]
                   /\ votedFor[n] = n
                   /\ Majority(votes[n])
                   /\ leader' = [leader EXCEPT ![n] = TRUE]
                   /\ UNCHANGED <<term, votedFor, votes>>

Next == \/ \E n \in Nodes : Timeout(n)
        \/ \E n, c \in Nodes : Vote(n, c)
        \/ \E n \in Nodes : BecomeLeader(n)

Spec == Init /\ [][Next]_vars

\* Election Safety (Raft, Figure 3.2): at most one leader per term.
OneLeaderPerTerm == \A a, b \in Nodes : (leader[a] /\ leader[b] /\ term[a] = term[b]) => a = b
=============================================================================
