----------------------------- MODULE GossipLogs -----------------------------
(***************************************************************************)
(* Gossip.tla as `meshcheck validate --spec Gossip` walks a real run's    *)
(* NDJSON logs (meshcheck/traces/logs/validate.py; docs/logs.md): the     *)
(* same module, with the key sets a push may carry narrowed to those the  *)
(* logs' pushes carry (PushKeys, fitted from the records:                 *)
(* meshcheck/traces/logs/gossip.py `fit_gossip`). The validation model    *)
(* (traces/logs/models/Gossip.cfg) puts LoggedPushSets for Gossip.tla's   *)
(* PushSets; TLC would otherwise enumerate every subset of what a node    *)
(* holds, 2^n successors of a Push for n keys, and a run of seconds       *)
(* writes tens of keys. Every step this allows Gossip.tla allows, so a    *)
(* log explained here is a behaviour of Gossip.tla.                       *)
(***************************************************************************)
EXTENDS Gossip

CONSTANT PushKeys  \* the key sets the logged pushes carry

LoggedPushSets(i) == {s \in PushKeys : s # {} /\ s \subseteq Held(entries[i])}
=============================================================================
