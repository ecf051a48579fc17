---------------------------- MODULE Peterson ----------------------------
(* Peterson's mutual exclusion for two processes (G. L. Peterson, "Myths About the
   Mutual Exclusion Problem", Information Processing Letters 12(3), 1981), written the
   way a new user writes a spec of their own: `pc` and `flag` are functions over the
   constant `Procs`, `turn` is one variable, and nothing in it follows the naming of
   the protocols meshcheck ships with (its first action is even called `Request`).

   One guard is broken on purpose: Peterson lets a process into its critical section
   when the other's flag is down or the turn is its own (`~flag[Other(p)] \/ turn = p`);
   `Wait` below tests `turn # p`, the turn it has just handed away, so both processes
   can enter and MutualExclusion is violated. The trace views' tests read the
   counterexample TLC finds (tests/data/peterson.itf.json). *)
EXTENDS TLC

CONSTANT Procs

VARIABLES pc, flag, turn

vars == <<pc, flag, turn>>

Other(p) == CHOOSE q \in Procs : q # p

TypeOK ==
    /\ pc \in [Procs -> {"idle", "want", "wait", "cs"}]
    /\ flag \in [Procs -> BOOLEAN]
    /\ turn \in Procs

Init ==
    /\ pc = [p \in Procs |-> "idle"]
    /\ flag = [p \in Procs |-> FALSE]
    /\ turn \in Procs

\* raise the flag: the process wants the critical section
Request(p) ==
    /\ pc[p] = "idle"
    /\ flag' = [flag EXCEPT ![p] = TRUE]
    /\ pc' = [pc EXCEPT ![p] = "want"]
    /\ UNCHANGED turn

\* give the turn away
Yield(p) ==
    /\ pc[p] = "want"
    /\ turn' = Other(p)
    /\ pc' = [pc EXCEPT ![p] = "wait"]
    /\ UNCHANGED flag

\* BROKEN: Peterson enters when ~flag[Other(p)] \/ turn = p
Wait(p) ==
    /\ pc[p] = "wait"
    /\ ~flag[Other(p)] \/ turn # p
    /\ pc' = [pc EXCEPT ![p] = "cs"]
    /\ UNCHANGED <<flag, turn>>

Exit(p) ==
    /\ pc[p] = "cs"
    /\ flag' = [flag EXCEPT ![p] = FALSE]
    /\ pc' = [pc EXCEPT ![p] = "idle"]
    /\ UNCHANGED turn

Next == \E p \in Procs : Request(p) \/ Yield(p) \/ Wait(p) \/ Exit(p)

Spec == Init /\ [][Next]_vars

MutualExclusion == \A p, q \in Procs : p # q => ~(pc[p] = "cs" /\ pc[q] = "cs")
=============================================================================
