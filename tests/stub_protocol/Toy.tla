---- MODULE Toy ----
\* The registry tests' toy protocol: one flag a client sets and a server clears.
VARIABLE flag
Init == flag = FALSE
Set == ~flag /\ flag' = TRUE
Clear == flag /\ flag' = FALSE
Next == Set \/ Clear
TypeOK == flag \in BOOLEAN
====
