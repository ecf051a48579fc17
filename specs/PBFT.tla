-------------------------------- MODULE PBFT --------------------------------
(***************************************************************************)
(* PBFT (Castro and Liskov, "Practical Byzantine Fault Tolerance", OSDI    *)
(* 1999; "section" below means that paper's) as meshcheck checks it and    *)
(* replays the implementation (impl/pbft) against it.                       *)
(*                                                                         *)
(* One step of this spec is one event of the implementation: the action   *)
(* names, variable names and message records are the shared vocabulary    *)
(* (PBFT.md). Modelled: the client's request and its f+1 matching replies *)
(* (4.1), pre-prepare, prepare and commit with 2f+1 quorums (4.2),         *)
(* checkpoints every K sequence numbers, stable on 2f+1 proofs, with the   *)
(* watermarks h and H = h + L and state transfer (4.3), view changes on a  *)
(* timeout with VIEW-CHANGE messages carrying prepared certificates and a  *)
(* NEW-VIEW whose O set is computed from them (4.4).                       *)
(*                                                                         *)
(* The network is the set msgs of what honest replicas sent: a message,    *)
(* once sent, may be received by anyone any number of times, so loss,      *)
(* duplication and reordering are free, and a replica's log is the set of *)
(* messages it sent (its own Prepare says which PrePrepare it accepted,    *)
(* its own Commit that it prepared). Byzantine replicas are the constant   *)
(* set ByzMsgs: every well-typed message in their own name. Every honest   *)
(* guard asks that messages exist, never that they do not, so a Byzantine  *)
(* replica that could send anything at any time is exactly ByzMsgs; the    *)
(* state space does not pay for its timing. Guards test membership in      *)
(* msgs \cup ByzMsgs; nothing enumerates ByzMsgs.                          *)
(*                                                                         *)
(* Bounds are action guards (views, sequence numbers, the window), so a    *)
(* stepper driving TLC one step at a time sees the model TLC checks.       *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences, TLC

CONSTANT N                \* replicas "r1" .. "rN"
CONSTANT Byzantine        \* the faulty replicas: at most F of them in a model that must hold
CONSTANT Requests         \* the client's operations (strings)
CONSTANT MaxView          \* views 0 .. MaxView: no view change beyond
CONSTANT MaxSeq           \* sequence numbers 1 .. MaxSeq: no pre-prepare beyond
CONSTANT CheckpointEvery  \* K: a checkpoint after executing every K-th sequence number
CONSTANT Window           \* L: a replica accepts n with h < n <= h + L, h its stable checkpoint

Replicas == {"r" \o ToString(k) : k \in 1..N}
F == (N - 1) \div 3
\* A certificate's size: ceil((N + F + 1) / 2), so that two of them share F + 1 replicas and so an
\* honest one (section 3 takes N = 3F + 1, where this is 2F + 1; at N = 5, 2F + 1 = 3 would let two
\* certificates share only a Byzantine replica). impl/base/quorum.py, models/pbft.py.
Quorum == (N + F + 2) \div 2
Honest == Replicas \ Byzantine
\* The null request a new primary puts in a gap of O (section 4.4).
Noop == "noop"
ReqOrNoop == Requests \cup {Noop}
Views == 0..MaxView
Seqs == 1..MaxSeq
CkptSeqs == {n \in Seqs : n % CheckpointEvery = 0}
\* The primary of view v is replica (v mod N) + 1 (section 4); a table, computed once.
PrimaryOf == [v \in Views |-> "r" \o ToString((v % N) + 1)]
Primary(v) == PrimaryOf[v]
Backups(v) == Replicas \ {Primary(v)}

ASSUME /\ N \in Nat \ {0}
       /\ Byzantine \subseteq Replicas
       \* 2F+1 proofs always include an honest replica's (StableCheckpoint relies on it)
       /\ Cardinality(Byzantine) < Quorum
       /\ IsFiniteSet(Requests) /\ Noop \notin Requests
       /\ \A n \in {MaxView, MaxSeq, Window} : n \in Nat
       /\ CheckpointEvery \in Nat \ {0}

\* The Byzantine replicas that send anything at all. The liveness model substitutes
\* Silent for it (`ByzSenders <- Silent`): its Byzantine replicas say nothing.
ByzSenders == Byzantine
Silent == {}

-----------------------------------------------------------------------------
VARIABLE requested   \* the requests the client has sent
VARIABLE msgs        \* every message an honest replica has sent (grows only)
VARIABLE view        \* view[i]: the view replica i is in (or is changing to)
VARIABLE status      \* status[i]: "normal", or "changing" between its VIEW-CHANGE and the NEW-VIEW
VARIABLE executed    \* executed[i]: the requests i executed, in sequence-number order
VARIABLE stable      \* stable[i]: i's last stable checkpoint, its low watermark h
VARIABLE accepted    \* the [seq, req] results the client accepted (f+1 matching replies)
vars == <<requested, msgs, view, status, executed, stable, accepted>>

-----------------------------------------------------------------------------
\* Messages: records with every field named, type first.

PrePrepareMsg(v, n, r, i) == [type |-> "PrePrepare", view |-> v, seq |-> n, req |-> r, src |-> i]
PrepareMsg(v, n, r, i) == [type |-> "Prepare", view |-> v, seq |-> n, req |-> r, src |-> i]
CommitMsg(v, n, r, i) == [type |-> "Commit", view |-> v, seq |-> n, req |-> r, src |-> i]
ReplyMsg(n, r, i) == [type |-> "Reply", seq |-> n, req |-> r, src |-> i]
\* d, the abstract digest of the state after n: the executed history up to n.
CheckpointMsg(n, d, i) == [type |-> "Checkpoint", seq |-> n, digest |-> d, src |-> i]
\* c: the sender's stable checkpoint; P: one Claim per sequence number above c, the
\* highest-view one the sender prepared.
ViewChangeMsg(v, c, P, i) ==
    [type |-> "ViewChange", view |-> v, ckpt |-> c, prepared |-> P, src |-> i]
\* c: min-s, the checkpoint the new view starts from; O: the [seq, req] re-proposed.
NewViewMsg(v, c, O, i) == [type |-> "NewView", view |-> v, ckpt |-> c, pre |-> O, src |-> i]
Claim(v, n, r) == [view |-> v, seq |-> n, req |-> r]

\* Every well-typed message in a Byzantine replica's name: a constant set of records that
\* TLC tests membership in field by field, never enumerated. ViewChange and NewView
\* contents are sets; what a Byzantine replica may present in them is quantified where a
\* view change uses them (Justifications).
ByzMsgs ==
    LET from == ByzSenders
    IN [type : {"PrePrepare", "Prepare", "Commit"}, view : Views, seq : Seqs, req : ReqOrNoop,
        src : from]
       \cup [type : {"Reply"}, seq : Seqs, req : ReqOrNoop, src : from]
       \cup [type : {"Checkpoint"}, seq : CkptSeqs, digest : Seq(ReqOrNoop), src : from]

\* m was sent by an honest replica, or may have been by a Byzantine one.
Sent(m) == m \in msgs \cup ByzMsgs

-----------------------------------------------------------------------------
\* Helpers

Max(a, b) == IF a > b THEN a ELSE b
SetMax(S) == CHOOSE x \in S : \A y \in S : y <= x

\* h < n <= H (section 4.3): below h the log is garbage-collected, above H is too far ahead.
InWindow(i, n) == stable[i] < n /\ n <= stable[i] + Window

HasExecuted(i, r) == \E k \in 1..Len(executed[i]) : executed[i][k] = r

\* i waits for a request the client sent to be executed: its view-change timer runs (4.4).
Waiting(i) == \E r \in requested : ~HasExecuted(i, r)

\* The primary of v pre-prepared (v, n, r).
PrePrepared(v, n, r) == Sent(PrePrepareMsg(v, n, r, Primary(v)))

\* Honest i accepted (v, n, r): its own PrePrepare (as primary) or Prepare (as backup).
AcceptedBy(i, v, n, r) == PrePrepareMsg(v, n, r, i) \in msgs \/ PrepareMsg(v, n, r, i) \in msgs

\* A prepared certificate exists (section 4.2): the primary's PrePrepare and Prepares from
\* 2F distinct backups that match it, 2F+1 replicas in all.
Certified(v, n, r) ==
    /\ PrePrepared(v, n, r)
    /\ Cardinality({j \in Backups(v) : Sent(PrepareMsg(v, n, r, j))}) >= Quorum - 1

\* prepared(m, v, n, i): i accepted (v, n, r) and holds its certificate.
Prepared(i, v, n, r) == AcceptedBy(i, v, n, r) /\ Certified(v, n, r)

\* committed-local(m, v, n, i) (section 4.2): i prepared (it sent its Commit) and 2F+1
\* distinct replicas' Commits match.
CommittedLocal(i, v, n, r) ==
    /\ CommitMsg(v, n, r, i) \in msgs
    /\ Cardinality({j \in Replicas : Sent(CommitMsg(v, n, r, j))}) >= Quorum

\* A stable checkpoint's proof (section 4.3): 2F+1 distinct replicas' Checkpoint(n, d).
CheckpointProof(n, d) == Cardinality({j \in Replicas : Sent(CheckpointMsg(n, d, j))}) >= Quorum

\* The digests at n that have a proof. 2F+1 proofs include an honest replica's (ASSUME),
\* so its digest is one an honest replica sent; checkpoint 0 is the initial state.
ProvenDigests(n) ==
    IF n = 0 THEN {<<>>}
    ELSE {d \in {m.digest : m \in {x \in msgs : x.type = "Checkpoint" /\ x.seq = n}} :
              CheckpointProof(n, d)}

ProvenCheckpoints == {0} \cup {n \in CkptSeqs : ProvenDigests(n) # {}}

\* i takes the stable checkpoint c if it is above its own, and its state with it when i
\* executed less (state transfer, section 4.3); its log up to c is garbage from now on.
AdoptCheckpoint(i, c) ==
    \E d \in ProvenDigests(c) :
        /\ stable' = [stable EXCEPT ![i] = Max(@, c)]
        /\ executed' = [executed EXCEPT ![i] = IF Len(@) < c THEN d ELSE @]

\* The P set of i's VIEW-CHANGE (section 4.4): for each sequence number above its stable
\* checkpoint, the highest-view request i prepared there. i sent Commit(v, n, r) exactly
\* when it prepared (v, n, r), so its Commits are its prepared certificates.
PreparedSet(i) ==
    LET mine == {m \in msgs : m.type = "Commit" /\ m.src = i /\ m.seq > stable[i]}
    IN {Claim(m.view, m.seq, m.req) :
            m \in {x \in mine : \A y \in mine : y.seq = x.seq => y.view <= x.view}}

\* O (section 4.4): min-s is the highest checkpoint of the view-change quorum, max-s its
\* highest claimed sequence number; each n in between gets the request of its highest-view
\* claim, or the null request. The new view starts from the checkpoint min-s.
Select(minS, claims) ==
    LET maxS == SetMax({minS} \cup {c.seq : c \in claims})
        at(n) == {c \in claims : c.seq = n}
        best(n) == CHOOSE c \in at(n) : \A d \in at(n) : d.view <= c.view
    IN [ckpt |-> minS,
        pre |-> {[seq |-> n, req |-> IF at(n) # {} THEN best(n).req ELSE Noop] :
                    n \in (minS + 1)..maxS}]

\* The prepared certificates a Byzantine member of a view change for view v may claim
\* above its checkpoint c and within its window: those that exist.
ByzClaimable(v, c) ==
    {cl \in {Claim(w, n, r) : w \in 0..(v - 1),
                              n \in (c + 1)..(IF c + Window < MaxSeq THEN c + Window ELSE MaxSeq),
                              r \in ReqOrNoop} :
        Certified(cl.view, cl.seq, cl.req)}

\* What Byzantine members may present in a view-change quorum, together: a checkpoint cb
\* they can prove and at most one existing certificate per sequence number above it (the
\* highest of several per sequence number is all O looks at; lower members add nothing).
ByzPresents(v) ==
    UNION {{[ckpt |-> cb, claims |-> C] :
                C \in {S \in SUBSET ByzClaimable(v, cb) :
                           \A a, b \in S : a.seq = b.seq => a = b}} :
           cb \in ProvenCheckpoints}

\* The [ckpt, pre] (min-s and O) that 2F+1 VIEW-CHANGEs for view v can justify, with the
\* honest members in `own` among them: honest members' ViewChanges are in msgs, and when
\* fewer than 2F+1 honest ones are used, Byzantine members make up the rest.
Justifications(v, own) ==
    LET vcs == {m \in msgs : m.type = "ViewChange" /\ m.view = v}
        VC(j) == CHOOSE m \in vcs : m.src = j
        members == {H \in SUBSET {m.src : m \in vcs} :
                       /\ own \subseteq H
                       /\ Cardinality(H) <= Quorum
                       /\ Cardinality(H) + Cardinality(ByzSenders) >= Quorum}
        hckpt(H) == SetMax({0} \cup {VC(j).ckpt : j \in H})
        hclaims(H) == UNION {VC(j).prepared : j \in H}
    IN UNION {IF Cardinality(H) = Quorum
              THEN {Select(hckpt(H), hclaims(H))}
              ELSE {Select(Max(hckpt(H), b.ckpt), hclaims(H) \cup b.claims) : b \in ByzPresents(v)} :
              H \in members}

\* The NEW-VIEW messages for view v that a backup can receive: the honest primary's, or
\* any that a Byzantine primary can justify (a backup recomputes O from the VIEW-CHANGEs
\* the NEW-VIEW carries, section 4.4).
NewViews(v) ==
    IF Primary(v) \in ByzSenders
    THEN {NewViewMsg(v, j.ckpt, j.pre, Primary(v)) : j \in Justifications(v, {})}
    ELSE {m \in msgs : m.type = "NewView" /\ m.view = v}

-----------------------------------------------------------------------------
Init ==
    /\ requested = {}
    /\ msgs = {}
    /\ view = [i \in Replicas |-> 0]
    /\ status = [i \in Replicas |-> "normal"]
    /\ executed = [i \in Replicas |-> <<>>]
    /\ stable = [i \in Replicas |-> 0]
    /\ accepted = {}

-----------------------------------------------------------------------------
\* The client sends (multicasts, signed) request r (section 4.1).
Request(r) ==
    /\ r \notin requested
    /\ requested' = requested \cup {r}
    /\ UNCHANGED <<msgs, view, status, executed, stable, accepted>>

\* The pre-prepares i sent in its current view. Read off msgs rather than by trying each
\* PrePrepareMsg(view[i], k, q, i) for k \in Seqs and q \in ReqOrNoop: the same set (msgs holds
\* honest pre-prepares only, each of a sequence number and a request of the model), at a cost
\* that grows with msgs, not with Seqs \X Requests (the validation of a real run's logs fits
\* both to the run: hundreds each; traces/logs/validate.py).
OwnPrePrepares(i) == {x \in msgs : x.type = "PrePrepare" /\ x.view = view[i] /\ x.src = i}

\* Primary i of its view assigns r the next sequence number in its window (section 4.2).
\* After a NEW-VIEW it continues above O and above the checkpoint it started from.
PrePrepare(i, r) ==
    /\ status[i] = "normal"
    /\ i = Primary(view[i])
    /\ r \in requested
    /\ ~HasExecuted(i, r)
    /\ \A x \in OwnPrePrepares(i) : x.req # r
    /\ LET n == 1 + SetMax({stable[i]} \cup {x.seq : x \in OwnPrePrepares(i)})
       IN /\ n <= MaxSeq
          /\ InWindow(i, n)
          /\ msgs' = msgs \cup {PrePrepareMsg(view[i], n, r, i)}
    /\ UNCHANGED <<requested, view, status, executed, stable, accepted>>

\* Backup i accepts the primary's PrePrepare for (v, n) (a request the client signed, in
\* its window, none other accepted at (v, n)) and multicasts its Prepare (section 4.2).
Prepare(i, v, n) ==
    /\ view[i] = v
    /\ status[i] = "normal"
    /\ i # Primary(v)
    /\ InWindow(i, n)
    /\ \A q \in ReqOrNoop : PrepareMsg(v, n, q, i) \notin msgs
    /\ \E r \in requested :
          /\ PrePrepared(v, n, r)
          /\ msgs' = msgs \cup {PrepareMsg(v, n, r, i)}
    /\ UNCHANGED <<requested, view, status, executed, stable, accepted>>

\* i is prepared at (v, n, r) and multicasts its Commit (section 4.2).
Commit(i, v, n) ==
    /\ view[i] = v
    /\ status[i] = "normal"
    /\ InWindow(i, n)
    /\ \E r \in ReqOrNoop :
          /\ Prepared(i, v, n, r)
          /\ CommitMsg(v, n, r, i) \notin msgs
          /\ msgs' = msgs \cup {CommitMsg(v, n, r, i)}
    /\ UNCHANGED <<requested, view, status, executed, stable, accepted>>

\* i executes the request at its next sequence number once committed-local there (in any
\* view: the certificate stays in its log), replies to the client (not for the null
\* request), and multicasts a Checkpoint at every K-th sequence number (sections 4.2, 4.3).
Execute(i) ==
    /\ Len(executed[i]) < MaxSeq
    /\ LET n == Len(executed[i]) + 1
       IN \E v \in Views, r \in ReqOrNoop :
             /\ CommittedLocal(i, v, n, r)
             /\ executed' = [executed EXCEPT ![i] = Append(@, r)]
             /\ msgs' = msgs \cup (IF r = Noop THEN {} ELSE {ReplyMsg(n, r, i)})
                             \cup (IF n % CheckpointEvery = 0
                                   THEN {CheckpointMsg(n, Append(executed[i], r), i)}
                                   ELSE {})
    /\ UNCHANGED <<requested, view, status, stable, accepted>>

\* 2F+1 matching Checkpoints for n make it i's stable checkpoint: h moves to n, the log up
\* to n is discarded, and a replica that executed less fetches the state (section 4.3).
StableCheckpoint(i, n) ==
    /\ n > stable[i]
    \* necessary, and cheaper than looking for the proof: an honest replica executed n
    /\ \E j \in Honest : Len(executed[j]) >= n
    /\ AdoptCheckpoint(i, n)
    /\ UNCHANGED <<requested, msgs, view, status, accepted>>

\* F+1 replicas other than i sent VIEW-CHANGEs for views above i's (section 4.5.2): one of
\* them is honest. Honest ones are in msgs; a Byzantine replica may send one for any view
\* at any time (as ByzMsgs for the other messages), so every ByzSender counts.
Overtaken(i) ==
    Cardinality({m.src : m \in {x \in msgs : x.type = "ViewChange" /\ x.view > view[i]}})
        + Cardinality(ByzSenders) >= F + 1

\* i's timer expires: it moves to the next view and multicasts its VIEW-CHANGE with its
\* stable checkpoint and prepared certificates (section 4.4). The timer runs while i waits
\* for a request it received to execute, and while a view change it started is not over
\* (the paper doubles the timeout each time; here it may expire at any moment). Or F+1
\* others moved past its view: i follows "even if its timer has not expired" (4.5.2), so
\* also when it waits for nothing (it executed every request).
StartViewChange(i) ==
    /\ view[i] < MaxView
    /\ Waiting(i) \/ status[i] = "changing" \/ Overtaken(i)
    /\ view' = [view EXCEPT ![i] = @ + 1]
    /\ status' = [status EXCEPT ![i] = "changing"]
    /\ msgs' = msgs \cup {ViewChangeMsg(view[i] + 1, stable[i], PreparedSet(i), i)}
    /\ UNCHANGED <<requested, executed, stable, accepted>>

\* The primary i of the new view, with 2F+1 VIEW-CHANGEs for it (its own among them),
\* multicasts NEW-VIEW with O and pre-prepares every element of O; it starts from min-s
\* (section 4.4).
NewView(i) ==
    /\ status[i] = "changing"
    /\ i = Primary(view[i])
    /\ \E j \in Justifications(view[i], {i}) :
          /\ msgs' = msgs \cup {NewViewMsg(view[i], j.ckpt, j.pre, i)}
                          \cup {PrePrepareMsg(view[i], o.seq, o.req, i) : o \in j.pre}
          /\ AdoptCheckpoint(i, j.ckpt)
    /\ status' = [status EXCEPT ![i] = "normal"]
    /\ UNCHANGED <<requested, view, accepted>>

\* Backup i accepts a NEW-VIEW for v (a later view, or the one it is changing to): it
\* enters v, takes the checkpoint min-s, and prepares every element of O in its window.
AcceptNewView(i, v) ==
    /\ v > view[i] \/ (v = view[i] /\ status[i] = "changing")
    /\ i # Primary(v)
    /\ \E nv \in NewViews(v) :
          LET h == Max(stable[i], nv.ckpt)
          IN /\ AdoptCheckpoint(i, nv.ckpt)
             /\ msgs' = msgs \cup {PrepareMsg(v, o.seq, o.req, i) :
                                       o \in {x \in nv.pre : h < x.seq /\ x.seq <= h + Window}}
    /\ view' = [view EXCEPT ![i] = v]
    /\ status' = [status EXCEPT ![i] = "normal"]
    /\ UNCHANGED <<requested, accepted>>

\* The client accepts the result r at n on F+1 matching replies from distinct replicas
\* (section 4.1): one of them is honest.
Accept(n, r) ==
    /\ r \in requested
    /\ [seq |-> n, req |-> r] \notin accepted
    /\ Cardinality({j \in Replicas : Sent(ReplyMsg(n, r, j))}) >= F + 1
    /\ accepted' = accepted \cup {[seq |-> n, req |-> r]}
    /\ UNCHANGED <<requested, msgs, view, status, executed, stable>>

-----------------------------------------------------------------------------
\* A plain disjunction of named actions, each under its own \E over constant sets, so that
\* TLC's getActions() yields one labelled action per instantiation with exactly the
\* vocabulary's parameters (docs/architecture.md, "TLC inside the Python process"). Only honest replicas act.
Next ==
    \/ \E r \in Requests : Request(r)
    \/ \E i \in Honest, r \in Requests : PrePrepare(i, r)
    \/ \E i \in Honest, v \in Views, n \in Seqs : Prepare(i, v, n)
    \/ \E i \in Honest, v \in Views, n \in Seqs : Commit(i, v, n)
    \/ \E i \in Honest : Execute(i)
    \/ \E i \in Honest, n \in CkptSeqs : StableCheckpoint(i, n)
    \/ \E i \in Honest : StartViewChange(i)
    \/ \E i \in Honest : NewView(i)
    \/ \E i \in Honest, v \in Views : AcceptNewView(i, v)
    \/ \E n \in Seqs, r \in Requests : Accept(n, r)

Spec == Init /\ [][Next]_vars

\* Liveness (PBFT_liveness.cfg, Byzantine replicas silent): the client eventually sends its
\* requests, every honest replica keeps taking the protocol's steps, and a replica whose
\* request waits eventually times out. With views bounded, timeouts stop at MaxView, whose
\* primary the liveness model makes honest: the network has stabilised.
Fairness ==
    /\ WF_vars(\E r \in Requests : Request(r))
    /\ \A i \in Honest :
          /\ WF_vars(\E r \in Requests : PrePrepare(i, r))
          /\ WF_vars(\E v \in Views, n \in Seqs : Prepare(i, v, n))
          /\ WF_vars(\E v \in Views, n \in Seqs : Commit(i, v, n))
          /\ WF_vars(Execute(i))
          /\ WF_vars(\E n \in CkptSeqs : StableCheckpoint(i, n))
          /\ WF_vars(StartViewChange(i))
          /\ WF_vars(NewView(i))
          /\ WF_vars(\E v \in Views : AcceptNewView(i, v))
    /\ WF_vars(\E n \in Seqs, r \in Requests : Accept(n, r))

LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
\* Symmetry reduction (the deep model's VIEW). Honest replicas that are the primary of
\* no view in 0..MaxView are interchangeable: the spec treats them alike, and so do the
\* invariants. The view of a state keeps the other replicas by name and the
\* interchangeable ones as a bag of their local states (their variables and the messages
\* they sent, without the sender), so two states that differ only by a permutation of
\* interchangeable replicas count once. TLC's SYMMETRY needs model values; replica ids
\* here are strings (the implementation's names). Not for liveness checking.
Interchangeable == Honest \ {Primary(v) : v \in Views}
Local(i) ==
    <<view[i], status[i], executed[i], stable[i],
      {[f \in DOMAIN m \ {"src"} |-> m[f]] : m \in {x \in msgs : x.src = i}}>>
SymmetricView ==
    LET locals == {Local(i) : i \in Interchangeable}
    IN <<requested, accepted,
         [i \in Replicas \ Interchangeable |-> Local(i)],
         [l \in locals |-> Cardinality({i \in Interchangeable : Local(i) = l})]>>

-----------------------------------------------------------------------------
\* Invariants

Claims == [view : Views, seq : Seqs, req : ReqOrNoop]
Message ==
    [type : {"PrePrepare", "Prepare", "Commit"}, view : Views, seq : Seqs, req : ReqOrNoop,
     src : Replicas]
    \cup [type : {"Reply"}, seq : Seqs, req : Requests, src : Replicas]
    \cup [type : {"Checkpoint"}, seq : CkptSeqs, digest : Seq(ReqOrNoop), src : Replicas]
    \cup [type : {"ViewChange"}, view : Views, ckpt : {0} \cup CkptSeqs,
          prepared : SUBSET Claims, src : Replicas]
    \cup [type : {"NewView"}, view : Views, ckpt : {0} \cup CkptSeqs,
          pre : SUBSET [seq : Seqs, req : ReqOrNoop], src : Replicas]

\* Types, and the normal form: only honest replicas send or change state.
TypeOK ==
    /\ requested \subseteq Requests
    /\ \A m \in msgs : m \in Message /\ m.src \in Honest
    /\ view \in [Replicas -> Views]
    /\ status \in [Replicas -> {"normal", "changing"}]
    /\ executed \in [Replicas -> Seq(ReqOrNoop)]
    /\ stable \in [Replicas -> {0} \cup CkptSeqs]
    /\ accepted \subseteq [seq : Seqs, req : Requests]
    /\ \A b \in Byzantine : /\ view[b] = 0 /\ status[b] = "normal"
                            /\ executed[b] = <<>> /\ stable[b] = 0

\* No two honest replicas execute different requests at one sequence number, whatever the
\* views they committed them in (section 4.5.1, safety).
Agreement ==
    \A i, j \in Honest :
        \A k \in 1..(IF Len(executed[i]) < Len(executed[j]) THEN Len(executed[i])
                     ELSE Len(executed[j])) :
            executed[i][k] = executed[j][k]

\* Honest replicas execute only requests the client sent, and null requests.
Validity ==
    \A i \in Honest : \A k \in 1..Len(executed[i]) : executed[i][k] \in requested \cup {Noop}

\* An honest replica's stable checkpoint is never past what it executed: it reaches a checkpoint
\* by executing up to it or by taking the checkpoint's state with it (section 4.3), so its low
\* watermark never runs ahead of its state.
StableExecuted == \A i \in Honest : stable[i] <= Len(executed[i])

\* Every result the client accepted is what an honest replica executed at that number.
ReplyCorrect ==
    \A a \in accepted :
        \E i \in Honest : a.seq <= Len(executed[i]) /\ executed[i][a.seq] = a.req

-----------------------------------------------------------------------------
\* Action properties: what no single step may do. TLC checks a property unsoundly under VIEW or
\* SYMMETRY (tlaplus/tlaplus#59), so these are checked in PBFT_transitions.cfg, a model without the
\* deep model's VIEW; the Python checks evaluate them on every pair of consecutive states of a run
\* (property_tests/pbft/transitions.py, the same names). The spec has no crash: a replica that
\* restarts must come back in the view and with the stable checkpoint it had (impl/pbft/replica.py
\* persists both before the step's sends), so a restart is no exception to either.

\* An honest replica's view never decreases (section 4.4): it moves to v + 1 when it starts a view
\* change, and accepts a NEW-VIEW only for a later view or the one it is changing to, so a delayed
\* NEW-VIEW or VIEW-CHANGE of an earlier view never takes it back.
ViewMonotonic == [][\A i \in Honest : view'[i] >= view[i]]_vars

\* An honest replica's stable checkpoint, its low watermark h, never goes back (section 4.3: the log
\* at and below it is discarded once it is stable); a NEW-VIEW's lower min-s leaves it where it is.
StableCheckpointMonotonic == [][\A i \in Honest : stable'[i] >= stable[i]]_vars

-----------------------------------------------------------------------------
\* Liveness (LiveSpec, PBFT_liveness.cfg)

\* Some honest replica is eventually working normally in a view whose primary is honest.
EventuallyHonestPrimary ==
    <>(\E i \in Honest : status[i] = "normal" /\ Primary(view[i]) \in Honest)

\* Every request the client sent is eventually executed by every honest replica.
EventuallyExecuted ==
    \A r \in Requests : (r \in requested) ~> (\A i \in Honest : HasExecuted(i, r))

=============================================================================
