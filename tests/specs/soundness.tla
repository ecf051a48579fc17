---- MODULE soundness ----
\* tests/test_soundness.py: a model with a temporal property runs on one TLC worker, and a temporal
\* property under SYMMETRY or VIEW is refused. Every process finishes once, in any order; x counts
\* the finished ones. Symmetry (or the view `Count`) folds the 2^3 states of three processes into
\* the 4 values of x.
EXTENDS Naturals, FiniteSets, TLC

CONSTANT Procs

VARIABLES x, done

vars == <<x, done>>

Init == x = 0 /\ done = [p \in Procs |-> FALSE]

Finish(p) == ~done[p] /\ done' = [done EXCEPT ![p] = TRUE] /\ x' = x + 1

Next == \E p \in Procs : Finish(p)

Spec == Init /\ [][Next]_vars /\ WF_vars(Next)

Bounded == x <= Cardinality(Procs)

\* temporal: every process finishes
AllFinish == <>(\A p \in Procs : done[p])

\* action property: x never decreases
NeverBack == [][x' >= x]_vars

Sym == Permutations(Procs)

Count == x
====
