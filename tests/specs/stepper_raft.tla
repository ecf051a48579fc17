---- MODULE stepper_raft ----
\* A small Raft-like spec (elections and log replication over a message bag), shaped like Ongaro's
\* raft.tla: the Stepper's benchmark walks it at random, and a test checks the Stepper against TLC on it.
\* It is a workload, not a model of Raft: no log matching on conflicts, no persistence, no restarts.
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS Server,     \* the servers (model values)
          Value,      \* the values clients may request
          MaxTerm,    \* terms stop here
          MaxLog,     \* logs stop growing here
          MaxMsgs     \* at most this many messages in flight

VARIABLES currentTerm, role, votedFor, votes, log, commitIndex, msgs

vars == <<currentTerm, role, votedFor, votes, log, commitIndex, msgs>>
Nil == "nil"
Quorum(S) == 2 * Cardinality(S) > Cardinality(Server)
LastTerm(xlog) == IF Len(xlog) = 0 THEN 0 ELSE xlog[Len(xlog)].term
Send(m) == /\ Cardinality(msgs) < MaxMsgs
           /\ msgs' = msgs \cup {m}

Init == /\ currentTerm = [i \in Server |-> 1]
        /\ role = [i \in Server |-> "follower"]
        /\ votedFor = [i \in Server |-> Nil]
        /\ votes = [i \in Server |-> {}]
        /\ log = [i \in Server |-> <<>>]
        /\ commitIndex = [i \in Server |-> 0]
        /\ msgs = {}

Timeout(i) == /\ role[i] /= "leader"
              /\ currentTerm[i] < MaxTerm
              /\ currentTerm' = [currentTerm EXCEPT ![i] = @ + 1]
              /\ role' = [role EXCEPT ![i] = "candidate"]
              /\ votedFor' = [votedFor EXCEPT ![i] = i]
              /\ votes' = [votes EXCEPT ![i] = {i}]
              /\ UNCHANGED <<log, commitIndex, msgs>>

RequestVote(i, j) == /\ role[i] = "candidate"
                     /\ i /= j
                     /\ Send([mtype |-> "RequestVote", mterm |-> currentTerm[i], msource |-> i,
                              mdest |-> j, mlastLogTerm |-> LastTerm(log[i])])
                     /\ UNCHANGED <<currentTerm, role, votedFor, votes, log, commitIndex>>

HandleRequestVote(i, j) ==
    \E m \in msgs :
        /\ m.mtype = "RequestVote" /\ m.mdest = i /\ m.msource = j
        /\ LET newer == m.mterm > currentTerm[i]
               term == IF newer THEN m.mterm ELSE currentTerm[i]
               grant == /\ m.mterm = term
                        /\ m.mlastLogTerm >= LastTerm(log[i])
                        /\ (newer \/ votedFor[i] \in {Nil, j})
           IN /\ currentTerm' = [currentTerm EXCEPT ![i] = term]
              /\ role' = IF newer THEN [role EXCEPT ![i] = "follower"] ELSE role
              /\ votedFor' = [votedFor EXCEPT ![i] = IF grant THEN j ELSE IF newer THEN Nil ELSE @]
              /\ msgs' = (msgs \ {m}) \cup
                         {[mtype |-> "Vote", mterm |-> term, msource |-> i, mdest |-> j,
                           mgranted |-> grant]}
        /\ UNCHANGED <<votes, log, commitIndex>>

HandleVote(i, j) ==
    \E m \in msgs :
        /\ m.mtype = "Vote" /\ m.mdest = i /\ m.msource = j
        /\ msgs' = msgs \ {m}
        /\ votes' = IF m.mgranted /\ m.mterm = currentTerm[i] /\ role[i] = "candidate"
                    THEN [votes EXCEPT ![i] = @ \cup {j}] ELSE votes
        /\ UNCHANGED <<currentTerm, role, votedFor, log, commitIndex>>

BecomeLeader(i) == /\ role[i] = "candidate"
                   /\ Quorum(votes[i])
                   /\ role' = [role EXCEPT ![i] = "leader"]
                   /\ UNCHANGED <<currentTerm, votedFor, votes, log, commitIndex, msgs>>

ClientRequest(i, v) == /\ role[i] = "leader"
                       /\ Len(log[i]) < MaxLog
                       /\ log' = [log EXCEPT ![i] = Append(@, [term |-> currentTerm[i], value |-> v])]
                       /\ UNCHANGED <<currentTerm, role, votedFor, votes, commitIndex, msgs>>

AppendEntries(i, j) == /\ role[i] = "leader"
                       /\ i /= j
                       /\ Send([mtype |-> "Append", mterm |-> currentTerm[i], msource |-> i,
                                mdest |-> j, mlog |-> log[i], mcommit |-> commitIndex[i]])
                       /\ UNCHANGED <<currentTerm, role, votedFor, votes, log, commitIndex>>

HandleAppend(i, j) ==
    \E m \in msgs :
        /\ m.mtype = "Append" /\ m.mdest = i /\ m.msource = j
        /\ msgs' = msgs \ {m}
        /\ IF m.mterm >= currentTerm[i]
           THEN /\ currentTerm' = [currentTerm EXCEPT ![i] = m.mterm]
                /\ role' = [role EXCEPT ![i] = "follower"]
                /\ log' = [log EXCEPT ![i] = m.mlog]
                /\ commitIndex' = [commitIndex EXCEPT ![i] = m.mcommit]
           ELSE UNCHANGED <<currentTerm, role, log, commitIndex>>
        /\ UNCHANGED <<votedFor, votes>>

AdvanceCommit(i) == /\ role[i] = "leader"
                    /\ commitIndex[i] < Len(log[i])
                    /\ commitIndex' = [commitIndex EXCEPT ![i] = Len(log[i])]
                    /\ UNCHANGED <<currentTerm, role, votedFor, votes, log, msgs>>

DropMessage == \E m \in msgs : /\ msgs' = msgs \ {m}
                               /\ UNCHANGED <<currentTerm, role, votedFor, votes, log, commitIndex>>

Next == \/ \E i \in Server : Timeout(i)
        \/ \E i, j \in Server : RequestVote(i, j)
        \/ \E i, j \in Server : HandleRequestVote(i, j)
        \/ \E i, j \in Server : HandleVote(i, j)
        \/ \E i \in Server : BecomeLeader(i)
        \/ \E i \in Server, v \in Value : ClientRequest(i, v)
        \/ \E i, j \in Server : AppendEntries(i, j)
        \/ \E i, j \in Server : HandleAppend(i, j)
        \/ \E i \in Server : AdvanceCommit(i)
        \/ DropMessage

OneLeaderPerTerm == \A i, j \in Server :
                        (role[i] = "leader" /\ role[j] = "leader" /\ currentTerm[i] = currentTerm[j])
                        => i = j
====
