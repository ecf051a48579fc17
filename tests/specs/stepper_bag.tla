---- MODULE stepper_bag ----
\* A message bag between servers, small enough to explore exhaustively: the Stepper's tests compare
\* their own breadth-first search with TLC's model checker on it.
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS Server,   \* model values
          Max       \* how many messages may ever be sent

VARIABLES sent,     \* how many messages were sent so far
          msgs,     \* the bag (a set) of messages in flight: records
          inbox     \* per server, the sequence of message numbers it received

Init == /\ sent = 0
        /\ msgs = {}
        /\ inbox = [s \in Server |-> <<>>]

Send(i, j) == /\ sent < Max
              /\ msgs' = msgs \cup {[msrc |-> i, mdst |-> j, mnum |-> sent]}
              /\ sent' = sent + 1
              /\ UNCHANGED inbox

Receive(i) == \E m \in msgs : /\ m.mdst = i
                              /\ inbox' = [inbox EXCEPT ![i] = Append(@, m.mnum)]
                              /\ msgs' = msgs \ {m}
                              /\ UNCHANGED sent

\* The last disjunct (start over once everything was delivered) is written inline on purpose: it has
\* no operator name of its own (TLC calls it Next), and it binds k with \E.
Next == \/ \E a, b \in Server : Send(a, b)
        \/ \E i \in Server : Receive(i)
        \/ \E k \in {0} : /\ sent = Max /\ msgs = {}
                          /\ sent' = k /\ inbox' = [s \in Server |-> <<>>]
                          /\ UNCHANGED msgs

SentBound == sent <= Max
FewInFlight == Cardinality(msgs) <= 1
NothingDelivered == \A s \in Server : inbox[s] = <<>>
====
