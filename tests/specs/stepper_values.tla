---- MODULE stepper_values ----
\* One variable per kind of TLA+ value, each built the way TLC builds it in a real spec, so that the
\* conversion tests compare against TLC's own values (and TLC's own fingerprints of them).
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS Server, Nil

VARIABLES b, n, str, mv, none, empty, interval, powerset, bools,
          rcdset, tuplekeys, nested, sqfcn, shifted, emptyfcn, strfcn, rcd, mvfcn,
          fcnset, appended, crossed, mvset

Init == /\ b = TRUE
        /\ n = -3
        /\ str = "hello \"world\""
        /\ mv = CHOOSE s \in Server : TRUE
        /\ none = Nil
        /\ empty = {}
        /\ interval = 2..4
        /\ powerset = SUBSET {1, 2}
        /\ bools = BOOLEAN
        /\ rcdset = {[src |-> s, n |-> 1] : s \in Server}
        /\ tuplekeys = [p \in {1, 2} \X {"a", "b"} |-> p[1]]
        /\ nested = << <<1, 2>>, <<>>, << <<3>> >> >>
        /\ sqfcn = [i \in 1..3 |-> i * i]
        /\ shifted = [i \in 2..3 |-> i]
        /\ emptyfcn = [x \in {} |-> 1]
        /\ strfcn = [k \in {"a", "b"} |-> 0]
        /\ rcd = [a |-> 0, b |-> 0]
        /\ mvfcn = [s \in Server |-> {s}]
        /\ fcnset = [{"x"} -> {1, 2}]
        /\ appended = Append(Tail(<<9, 8, 7>>), 6)
        /\ crossed = {1} \X {"u", "v"}
        /\ mvset = Server \cup {Nil}

Next == UNCHANGED <<b, n, str, mv, none, empty, interval, powerset, bools,
                    rcdset, tuplekeys, nested, sqfcn, shifted, emptyfcn, strfcn, rcd, mvfcn,
                    fcnset, appended, crossed, mvset>>
====
