---- MODULE stepper_counter ----
\* A second spec with other variables than stepper_bag: two Steppers alive in one process must not mix
\* their variables (TLC keeps them in static fields).
EXTENDS Naturals

VARIABLES count, flag

Init == count = 0 /\ flag = FALSE

Incr == count < 5 /\ count' = count + 1 /\ UNCHANGED flag
Flip == flag' = ~flag /\ UNCHANGED count

Next == Incr \/ Flip
====
