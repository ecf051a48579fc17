------------------------------- MODULE HotStuff -------------------------------
(***************************************************************************)
(* Chained HotStuff (Yin, Malkhi, Reiter, Gueta, Abraham, "HotStuff: BFT   *)
(* Consensus with Linearity and Responsiveness", PODC 2019; "section" and  *)
(* "Algorithm" below mean that paper's), its safety core, as meshcheck     *)
(* checks it and, later, replays an implementation (impl/hotstuff)         *)
(* against it. HotStuff.md says why the chained form and not the basic one *)
(* (section 4), and gives the shared vocabulary.                           *)
(*                                                                         *)
(* Modelled: a leader per view, round-robin (section 4: leader(v)); a      *)
(* proposal extends the highest QC its leader knows (Algorithm 3,          *)
(* createLeaf(genericQC.node, cmd, genericQC)); votes go to the next       *)
(* leader, who forms a QC of 2f+1 votes (Algorithm 4, onReceiveVote); a    *)
(* replica that votes for b* updates from b*'s chain (Algorithm 4, update):*)
(* highQC from b*'s justify, the lock from the two-chain, and commits the  *)
(* head of a three-chain of consecutive views (section 5: "direct          *)
(* parents"); it votes only once per view and only for a block satisfying  *)
(* safeNode (section 4 and Algorithm 1): it extends the locked block       *)
(* (safety) or its justify is newer than the lock (liveness). A replica    *)
(* whose view times out moves to the next view and sends the next leader a *)
(* NEW-VIEW carrying its highest QC; that leader, with 2f+1 of them,       *)
(* proposes from the highest QC among them (section 4, Algorithm 3).       *)
(*                                                                         *)
(* A block is its chain from genesis: a sequence of [view, cmd] entries,   *)
(* views strictly increasing, genesis the empty sequence. Its parent is    *)
(* the sequence without its last entry, and its justify is the QC for the  *)
(* parent (chained HotStuff: createLeaf(genericQC.node, ...)); so "b       *)
(* extends a" is "a is a prefix of b", and two blocks conflict when        *)
(* neither is a prefix of the other. A QC is the certified block itself:   *)
(* a QC for b exists when 2f+1 distinct replicas' votes for b were sent.   *)
(*                                                                         *)
(* The network is the set msgs of what honest replicas sent (loss,         *)
(* duplication, reordering and delay are free, as in PBFT.tla); Byzantine  *)
(* replicas send every well-typed message in their own names, never in     *)
(* another's (signatures): Sent(m) tests a message's type instead of       *)
(* enumerating them. Every honest guard asks that messages exist, never    *)
(* that they do not (but for a replica's own), so a Byzantine replica that *)
(* could send anything at any time is exactly that set.                    *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences, TLC

CONSTANT N          \* replicas "r1" .. "rN", N = 3F + 1
CONSTANT Byzantine  \* the faulty replicas: at most F of them in a model that must hold
CONSTANT Cmds       \* the commands a block may carry (strings)
CONSTANT MaxView    \* views 1 .. MaxView (genesis is view 0): no proposal or timeout beyond
CONSTANT GST        \* timeouts happen only in views below GST: from view GST on, no replica
                    \* times out (the network has stabilised; HotStuff.md, "Liveness")

Replicas == {"r" \o ToString(k) : k \in 1..N}
F == (N - 1) \div 3
\* A QC's votes: ceil((N + F + 1) / 2), 2F + 1 at N = 3F + 1 (two QCs share an honest replica at any
\* N >= 3F + 1: impl/base/quorum.py).
Quorum == (N + F + 2) \div 2
Honest == Replicas \ Byzantine
Views == 1..MaxView
\* The leader of view v is replica (v mod N) + 1: round-robin, a table computed once.
LeaderOf == [v \in 0..MaxView |-> "r" \o ToString((v % N) + 1)]
Leader(v) == LeaderOf[v]

ASSUME /\ N \in Nat \ {0}
       /\ Byzantine \subseteq Replicas
       /\ Cmds # {} /\ IsFiniteSet(Cmds)
       /\ MaxView \in Nat /\ GST \in 0..MaxView

\* The Byzantine replicas that send anything at all. The liveness model substitutes Silent
\* (`ByzSenders <- Silent`): its Byzantine replicas say nothing.
ByzSenders == Byzantine
Silent == {}

\* The honest replicas whose view may time out before GST: every one. A liveness model with
\* timeouts may substitute Late (`MayTimeOut <- Late`): one replica, the last, whose timer fires
\* early (at most F slow or out-of-step replicas; the others' views end only on progress).
MayTimeOut == Honest
Late == {"r" \o ToString(N)}

-----------------------------------------------------------------------------
\* Blocks

Genesis == <<>>
Entry == [view : Views, cmd : Cmds]
View(b) == IF b = Genesis THEN 0 ELSE b[Len(b)].view
Parent(b) == SubSeq(b, 1, Len(b) - 1)
\* b extends a (or is a): a is a prefix of b.
Extends(b, a) == Len(a) <= Len(b) /\ SubSeq(b, 1, Len(a)) = a
Conflicting(a, b) == ~Extends(a, b) /\ ~Extends(b, a)
IsBlock(b) ==
    /\ b \in Seq(Entry)
    /\ \A k \in 1..(Len(b) - 1) : b[k].view < b[k + 1].view
\* Every block of the model, for the \E of Vote and FormQC (at most 2^MaxView chains of views,
\* times the commands): a set of sequences, built once.
Blocks ==
    LET chains[k \in 0..MaxView] ==
            IF k = 0 THEN {Genesis}
            ELSE chains[k - 1] \cup
                 {Append(c, e) : c \in chains[k - 1], e \in {x \in Entry : x.view = k}}
    IN chains[MaxView]
\* The higher of two blocks by view (QCs and locks are ranked by their block's view).
Higher(a, b) == IF View(a) >= View(b) THEN a ELSE b

-----------------------------------------------------------------------------
VARIABLE msgs       \* every message an honest replica has sent (grows only)
VARIABLE view       \* view[i]: i's current view
VARIABLE lastVoted  \* lastVoted[i]: the view of the last block i voted for (vheight, Algorithm 4)
VARIABLE highQC     \* highQC[i]: the block of the highest QC i knows (genericQC, qc_high)
VARIABLE locked     \* locked[i]: the block of i's lockedQC (b_lock)
VARIABLE committed  \* committed[i]: the blocks i committed, with their ancestors (not genesis)
vars == <<msgs, view, lastVoted, highQC, locked, committed>>

-----------------------------------------------------------------------------
\* Messages: records with every field named, type first.

\* b's leader proposes b; the QC for Parent(b) is b's justify.
ProposalMsg(b, i) == [type |-> "Proposal", block |-> b, src |-> i]
\* i votes for b (sent to the leader of View(b) + 1).
VoteMsg(b, i) == [type |-> "Vote", block |-> b, src |-> i]
\* i timed out into view v; qc is the block of its highest QC (sent to the leader of v).
NewViewMsg(v, qc, i) == [type |-> "NewView", view |-> v, qc |-> qc, src |-> i]

\* What a Byzantine replica may send: every well-typed message in its name (signatures: never
\* in another's). A vote is for any block; a proposal needs its sender to lead the block's
\* view and a valid justify (a QC for its parent: its signatures are checked); a NEW-VIEW
\* needs a valid QC (NewViewQCs).
SentVote(b, j) == j \in ByzSenders \/ VoteMsg(b, j) \in msgs

\* A QC for b: 2f+1 distinct replicas' votes for b were sent (genesis needs none).
Certified(b) ==
    \/ b = Genesis
    \/ Cardinality({j \in Replicas : SentVote(b, j)}) >= Quorum

SentProposal(b) ==
    \/ ProposalMsg(b, Leader(View(b))) \in msgs
    \/ Leader(View(b)) \in ByzSenders /\ Certified(Parent(b))

\* The blocks honest replicas voted for that have a QC, and genesis: every QC there is (a QC
\* needs 2f+1 votes, so an honest one while at most F are Byzantine; the liveness and F+1
\* models note where this matters).
QCs == {Genesis} \cup {b \in {m.block : m \in {x \in msgs : x.type = "Vote"}} : Certified(b)}

\* Honest i proposed in view v.
ProposedIn(i, v) == \E m \in msgs : m.type = "Proposal" /\ m.src = i /\ View(m.block) = v

\* The highest QC among the blocks in S.
Highest(S) == CHOOSE b \in S : \A c \in S : View(c) <= View(b)

\* The highest QCs a leader of v can hold after 2f+1 NEW-VIEW messages for v (Algorithm 3:
\* "wait for (n - f) NEW-VIEW messages ... genericQC <- highest"), its own highQC among them:
\* any 2f+1 honest senders' messages, or fewer and Byzantine ones that carry any QC there is.
NewViewQCs(i, v) ==
    LET nvs == {m \in msgs : m.type = "NewView" /\ m.view = v}
        members == {S \in SUBSET nvs :
                       /\ Cardinality(S) <= Quorum
                       /\ Cardinality(S) + Cardinality(ByzSenders) >= Quorum}
        mine(S) == {highQC[i]} \cup {m.qc : m \in S}
    IN UNION {IF Cardinality(S) = Quorum THEN {Highest(mine(S))}
              ELSE {Highest(mine(S) \cup {c}) : c \in {q \in QCs : View(q) < v}} :
              S \in members}

\* safeNode(b, b.justify) (Algorithm 1): b extends i's locked block (safety clause), or its
\* justify, the QC for its parent, is newer than i's lock (liveness clause).
SafeNode(i, b) ==
    \/ Extends(b, locked[i])
    \/ View(Parent(b)) > View(locked[i])

\* i voted for b*: update(b*) of Algorithm 4. b'' = b*.justify.node, b' = b''.justify.node,
\* b = b'.justify.node. highQC from b'' (updateQCHigh); the lock from the two-chain b' (if
\* newer); commit b when b <- b' <- b'' are direct parents: consecutive views (section 5).
UpdateFrom(i, bstar) ==
    LET b2 == Parent(bstar)
        b1 == Parent(b2)
        b0 == Parent(b1)
    IN /\ highQC' = [highQC EXCEPT ![i] = Higher(b2, @)]
       /\ locked' = [locked EXCEPT ![i] = IF View(b1) > View(@) THEN b1 ELSE @]
       /\ committed' =
            [committed EXCEPT ![i] =
                IF Len(bstar) >= 4 /\ View(b2) = View(b1) + 1 /\ View(b1) = View(b0) + 1
                THEN @ \cup {SubSeq(b0, 1, k) : k \in 1..Len(b0)}
                ELSE @]

-----------------------------------------------------------------------------
Init ==
    /\ msgs = {}
    /\ view = [i \in Replicas |-> 1]
    /\ lastVoted = [i \in Replicas |-> 0]
    /\ highQC = [i \in Replicas |-> Genesis]
    /\ locked = [i \in Replicas |-> Genesis]
    /\ committed = [i \in Replicas |-> {}]

-----------------------------------------------------------------------------
\* Leader i of view v proposes a block of v extending its highest QC, the QC of view v - 1
\* it formed from that view's votes (the normal case, Algorithm 4's onPropose), once per view.
Propose(i, v) ==
    /\ i = Leader(v)
    /\ view[i] <= v
    /\ View(highQC[i]) = v - 1
    /\ ~ProposedIn(i, v)
    /\ \E c \in Cmds : msgs' = msgs \cup {ProposalMsg(Append(highQC[i], [view |-> v, cmd |-> c]), i)}
    /\ view' = [view EXCEPT ![i] = v]
    /\ UNCHANGED <<lastVoted, highQC, locked, committed>>

\* Replica i votes for b, proposed by the leader of b's view (an honest leader's proposal, or
\* any a Byzantine leader can justify), in a view it has not left and has not voted in, if
\* safeNode holds; it enters b's view and updates from b's chain (lock, highQC, commit).
Vote(i, b) ==
    /\ View(b) >= view[i]
    /\ View(b) > lastVoted[i]
    /\ SafeNode(i, b)
    /\ SentProposal(b)
    /\ msgs' = msgs \cup {VoteMsg(b, i)}
    /\ view' = [view EXCEPT ![i] = View(b)]
    /\ lastVoted' = [lastVoted EXCEPT ![i] = View(b)]
    /\ UpdateFrom(i, b)

\* The leader i of view View(b) + 1, to whom votes for b are sent, has 2f+1 of them: a QC
\* for b, its new highQC if higher (Algorithm 4, onReceiveVote and updateQCHigh); a QC of
\* view v takes it to view v + 1 if it is behind (the pacemaker advances on a QC).
FormQC(i, b) ==
    /\ View(b) > View(highQC[i])
    /\ View(b) < MaxView
    /\ i = Leader(View(b) + 1)
    /\ Certified(b)
    /\ highQC' = [highQC EXCEPT ![i] = b]
    /\ view' = [view EXCEPT ![i] = IF @ > View(b) THEN @ ELSE View(b) + 1]
    /\ UNCHANGED <<msgs, lastVoted, locked, committed>>

\* i's view times out (before GST): it moves to the next view and sends that view's leader a
\* NEW-VIEW with its highest QC (Algorithm 3, "nextView interrupt").
Timeout(i) ==
    /\ view[i] < GST
    /\ i \in MayTimeOut
    /\ view' = [view EXCEPT ![i] = @ + 1]
    /\ msgs' = msgs \cup {NewViewMsg(view[i] + 1, highQC[i], i)}
    /\ UNCHANGED <<lastVoted, highQC, locked, committed>>

\* Leader i of view v, with 2f+1 NEW-VIEW messages for v, adopts the highest QC among them
\* and its own, and proposes a block of v extending it, once per view (Algorithm 3).
NewView(i, v) ==
    /\ i = Leader(v)
    /\ view[i] <= v
    /\ ~ProposedIn(i, v)
    /\ \E h \in NewViewQCs(i, v), c \in Cmds :
          /\ msgs' = msgs \cup {ProposalMsg(Append(h, [view |-> v, cmd |-> c]), i)}
          /\ highQC' = [highQC EXCEPT ![i] = h]
    /\ view' = [view EXCEPT ![i] = v]
    /\ UNCHANGED <<lastVoted, locked, committed>>

-----------------------------------------------------------------------------
\* A plain disjunction of named actions, each under its own \E over constant sets, so that
\* TLC's getActions() yields one labelled action per instantiation with exactly the
\* vocabulary's parameters (docs/architecture.md). Only honest replicas act; Byzantine ones
\* are the messages Sent admits in their names.
Next ==
    \/ \E i \in Honest, v \in Views : Propose(i, v)
    \/ \E i \in Honest, b \in Blocks : Vote(i, b)
    \/ \E i \in Honest, b \in Blocks : FormQC(i, b)
    \/ \E i \in Honest : Timeout(i)
    \/ \E i \in Honest, v \in Views : NewView(i, v)

Spec == Init /\ [][Next]_vars

\* Liveness (HotStuff_liveness.cfg): after GST no replica times out, and every honest
\* replica keeps taking the protocol's steps; before GST a replica whose view has not
\* produced progress times out (weak fairness of Timeout: it is enabled until GST).
Fairness ==
    \A i \in Honest :
        /\ WF_vars(\E v \in Views : Propose(i, v))
        /\ WF_vars(\E b \in Blocks : Vote(i, b))
        /\ WF_vars(\E b \in Blocks : FormQC(i, b))
        /\ WF_vars(Timeout(i))
        /\ WF_vars(\E v \in Views : NewView(i, v))

LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
\* Invariants

Message ==
    [type : {"Proposal", "Vote"}, block : Seq(Entry), src : Replicas]
    \cup [type : {"NewView"}, view : Views, qc : Seq(Entry), src : Replicas]

\* Types, and the normal form: only honest replicas send or change state.
TypeOK ==
    /\ \A m \in msgs : /\ m \in Message /\ m.src \in Honest
                       /\ (IF m.type = "NewView" THEN m.qc ELSE m.block) \in Blocks
    /\ view \in [Replicas -> Views]
    /\ lastVoted \in [Replicas -> 0..MaxView]
    /\ \A i \in Replicas : highQC[i] \in Blocks /\ locked[i] \in Blocks
    /\ \A i \in Replicas : committed[i] \subseteq Blocks \ {Genesis}
    /\ \A b \in Byzantine : /\ view[b] = 1 /\ lastVoted[b] = 0 /\ highQC[b] = Genesis
                            /\ locked[b] = Genesis /\ committed[b] = {}

\* No two conflicting blocks are committed, by one honest replica or two (Theorem 1).
NoConflictingCommits ==
    \A i, j \in Honest : \A a \in committed[i], b \in committed[j] : ~Conflicting(a, b)

\* The committed sequence of i: its highest committed block (genesis when none).
CommittedChain(i) == Highest({Genesis} \cup committed[i])

\* Committed blocks form one chain: each honest replica's committed sequence is a prefix of
\* another's.
OneChain ==
    \A i, j \in Honest :
        Extends(CommittedChain(i), CommittedChain(j)) \/ Extends(CommittedChain(j), CommittedChain(i))

\* An honest replica votes for at most one block per view (Algorithm 4's vheight).
OneVotePerView ==
    \A m1, m2 \in msgs :
        /\ m1.type = "Vote" /\ m2.type = "Vote" /\ m1.src = m2.src
        /\ View(m1.block) = View(m2.block)
        => m1 = m2

\* No two distinct (so conflicting) blocks of one view have QCs (Lemma 1).
NoConflictingQCs == \A a, b \in QCs : View(a) = View(b) => a = b

\* An honest replica's lock covers the two-chain of every block it voted for: it is at least
\* as high as the block's grandparent (update(b*) of Algorithm 4; the safety proof's lemma).
LockCoversVotes ==
    \A m \in msgs :
        m.type = "Vote" => View(locked[m.src]) >= View(Parent(Parent(m.block)))

\* An honest replica's lock only moves up (action property): its view never decreases.
LockMonotonic == [][\A i \in Honest : View(locked'[i]) >= View(locked[i])]_vars

-----------------------------------------------------------------------------
\* Liveness (LiveSpec, HotStuff_liveness.cfg)

\* Some block is eventually committed by every honest replica (the model's honest leaders
\* after GST make progress).
EventuallyCommitted == <>(\A i \in Honest : committed[i] # {})

\* Some block proposed in a view at or after GST is eventually committed by an honest replica.
EventuallyCommittedAfterGST ==
    <>(\E i \in Honest : \E b \in committed[i] : View(b) >= GST)

=============================================================================
