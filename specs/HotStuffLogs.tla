---------------------------- MODULE HotStuffLogs ----------------------------
(***************************************************************************)
(* HotStuff.tla as `meshcheck validate --spec HotStuff` walks a real run's *)
(* NDJSON logs (meshcheck/traces/logs/validate.py; docs/logs.md): the same *)
(* module, with the blocks Vote and FormQC range over narrowed to those    *)
(* the logs name (LogEdges, fitted from the records: meshcheck/traces/     *)
(* logs/hotstuff.py `fit_hotstuff`). The validation model (traces/logs/    *)
(* models/HotStuff.cfg) puts LoggedBlocks for HotStuff.tla's Blocks, every *)
(* chain of increasing views up to MaxView: 2^MaxView of them, and a real  *)
(* run of seconds goes through hundreds of views. Every step this allows   *)
(* HotStuff.tla allows, so a log explained here is a behaviour of          *)
(* HotStuff.tla.                                                           *)
(*                                                                         *)
(* Two definitions are replaced by ones of the same value that TLC steps   *)
(* faster on states as large as a run's (LoggedUpdateFrom, LoggedSafeNode  *)
(* below say why).                                                         *)
(*                                                                         *)
(* A logged block is its view and its parent's view: with no Byzantine     *)
(* replica, HotStuff.tla proposes at most one block per view (Propose and  *)
(* NewView, once per view by its leader), so the edges {parent view, view} *)
(* give every chain the logs name.                                         *)
(***************************************************************************)
EXTENDS HotStuff

CONSTANT LogEdges  \* {p, v}: the block of view v extends the block of view p (p < v; genesis 0)

LogViews == {CHOOSE x \in e : \A y \in e : y <= x : e \in LogEdges}
ParentOf == [v \in LogViews |->
                LET e == CHOOSE d \in LogEdges : v \in d /\ \A y \in d : y <= v
                IN CHOOSE x \in e : \A y \in e : x <= y]
TheCmd == CHOOSE c \in Cmds : TRUE

\* The chains of the logged views, each built once from its parent's, view by view. TLC passes an
\* operator's arguments unevaluated, and a table built view by view is then a chain of hundreds of
\* pending evaluations, each a call deeper on the Java stack when the last is asked for: at 670
\* views it overflowed the stack, and TLC left Vote and FormQC unsplit (one action each, which the
\* walk cannot name). So each table is evaluated before the next step (`DOMAIN u # {}`, always
\* true, asks for it), and the views go in chunks of Chunk, a recursion of Chunk levels each, under
\* one of MaxView \div Chunk + 1 levels.
Chunk == 64
AddView(t, v) ==
    IF v \in LogViews /\ ParentOf[v] \in DOMAIN t
    THEN (v :> Append(t[ParentOf[v]], [view |-> v, cmd |-> TheCmd])) @@ t
    ELSE t
RECURSIVE AddViews(_, _, _)
AddViews(t, lo, hi) ==
    IF lo > hi THEN t
    ELSE LET u == AddView(t, lo)
         IN IF DOMAIN u # {} THEN AddViews(u, lo + 1, hi) ELSE u
ChainTable[c \in 0..(MaxView \div Chunk + 1)] ==
    IF c = 0 THEN (0 :> Genesis)
    ELSE AddViews(ChainTable[c - 1], (c - 1) * Chunk + 1, c * Chunk)

LoggedBlocks == LET t == ChainTable[MaxView \div Chunk + 1] IN {t[v] : v \in DOMAIN t}

\* SafeNode without a disjunction at the top: TLC takes each true disjunct of an action's guard as a
\* branch of its own, so a Vote whose block both extends the lock and has a newer justify (the
\* normal case) had two successors, equal, told apart only by their fingerprints, which cost as
\* much as the state is large, and the state holds chains as long as the run: the fingerprints
\* were most of the walk's time. The same truth value; the validation model puts it for SafeNode.
LoggedSafeNode(i, b) == IF Extends(b, locked[i]) THEN TRUE ELSE View(Parent(b)) > View(locked[i])

\* UpdateFrom with the same effect, made in time linear in the chain's length. HotStuff.tla's adds
\* every prefix of the committed block b0 to committed[i]: a set of chains as long as the run,
\* made anew at each commit, and the walk of an 8 s run went from 100 records a second to 7. A
\* committed set is closed under prefixes (it starts empty and every commit adds a block with its
\* prefixes), so when b0's parent is in it already, so are all of b0's prefixes but b0, and adding
\* b0 alone gives the same set. The validation model puts it for UpdateFrom.
CommitPrefixes(c, b0) ==
    IF Len(b0) > 1 /\ Parent(b0) \in c THEN {b0} ELSE {SubSeq(b0, 1, k) : k \in 1..Len(b0)}
LoggedUpdateFrom(i, bstar) ==
    LET b2 == Parent(bstar)
        b1 == Parent(b2)
        b0 == Parent(b1)
    IN /\ highQC' = [highQC EXCEPT ![i] = Higher(b2, @)]
       /\ locked' = [locked EXCEPT ![i] = IF View(b1) > View(@) THEN b1 ELSE @]
       /\ committed' =
            [committed EXCEPT ![i] =
                IF Len(bstar) >= 4 /\ View(b2) = View(b1) + 1 /\ View(b1) = View(b0) + 1
                THEN @ \cup CommitPrefixes(@, b0)
                ELSE @]
=============================================================================
