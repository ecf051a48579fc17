"""PBFT in Z3: Byzantine quorums and the vote-counting rule for every f; Agreement as an inductive invariant.

Castro and Liskov, "Practical Byzantine Fault Tolerance" (OSDI 1999; TOCS 2002 for the proofs): n = 3f+1
replicas of which at most f are Byzantine, certificates of 2f+1 messages (section 4.2), a client that
waits for f+1 matching replies (4.1), stable checkpoints on 2f+1 proofs (4.3), and a view change whose
new primary re-proposes the highest prepared certificate among 2f+1 VIEW-CHANGE messages (4.4). TLC
checks n = 4 and n = 7; here f is a symbolic integer, never a loop.

1. Quorum lemmas. k subsets of n replicas cut them into 2^k Venn regions; any non-negative region sizes
   that sum to n are realised by some subsets, so a claim over the sizes, with f symbolic, covers every
   choice of quorums and Byzantine replicas for every f (linear integer arithmetic: milliseconds; one
   Bool per replica blows up at f = 5, docs/architecture.md). 2f+1 is the only right quorum size among 3f+1:
   two quorums share f+1 replicas, so an honest one; any size up to 2f has two quorums that share no
   honest replica (a witness for every f); the honest replicas alone still make a quorum, which 2f+2
   would not. f+1 replies hold an honest one; a stable checkpoint on f+1 proofs is not enough for what
   2f+1 gives: every view-change quorum holds an honest replica that has the checkpoint. Certificates
   and replies are never empty (each has a signer). These are stated for n = 3f+1: with n > 3f+1,
   quorums of 2f+1 need not share an honest replica (n = 5, f = 1: 3 + 3 - 5 = 1).
2. The vote-counting rule (impl/pbft/votes.py has the same semantics; its tests evaluate `decision_of`):
   APPROVE at 2f+1 approvals, REJECT at n - 2f rejections (f+1 when n = 3f+1: once APPROVE has become
   impossible), else NO_CONSENSUS; a missing vote (abstention, a silent or slow replica) counts for
   neither side. Proved for every n >= 3f+1, one vote per replica: never both; all honest replicas
   agreeing decides their way whatever the Byzantine ones vote or withhold; a decision stands as more
   votes arrive; a complete tally always decides. The literal "f+1 rejections" is exclusive only at
   n = 3f+1 (a variant fails at n = 3f+2). The rule is safe for one tally: two deciders that count what
   each received can decide opposite ways when a Byzantine replica votes both ways (a variant fails), so
   the votes must be agreed (ordered through PBFT) before they are counted.
3. Agreement of an abstract single-slot PBFT (`agreement_model`) as an inductive invariant. f does not
   appear in it: its sorts are unbounded, so it stands for every cluster, and all it knows of quorum
   sizes is the axiom "two quorums share an honest replica", which lemma 1 proved for every f. As in
   raft.py, an axiom is assumed only if its lemma was proved, so a wrong quorum size fails Agreement's
   proof instead of resting on a false fact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Literal

import attrs
import z3

from meshcheck.models.proof import DEFAULT_DEPTH
from meshcheck.models.proof import DEFAULT_TIMEOUT_MS
from meshcheck.models.proof import Axiom
from meshcheck.models.proof import Invariant
from meshcheck.models.proof import Lemma
from meshcheck.models.proof import ProofResult
from meshcheck.models.proof import ProtocolModel
from meshcheck.models.proof import Sort
from meshcheck.models.proof import State
from meshcheck.models.proof import Transition
from meshcheck.models.proof import assigned
from meshcheck.models.proof import function
from meshcheck.models.proof import inserted
from meshcheck.models.proof import lemmas_then_model
from meshcheck.models.proof import relation
from meshcheck.models.quorums import Venn
from meshcheck.models.quorums import at_most
from meshcheck.models.quorums import cluster
from meshcheck.models.quorums import honest_make_quorum
from meshcheck.models.quorums import honest_overlap
from meshcheck.models.quorums import quorums_have_member
from meshcheck.models.quorums import quorums_meet
from meshcheck.models.quorums import strict_total_order
from meshcheck.models.quorums import voters

MODEL = "pbft.agreement"

Size = Literal["f", "f+1", "2f", "2f+1", "2f+2"]
_SIZES: dict[str, Callable[[Any], Any]] = {
    "f": lambda f: f,
    "f+1": lambda f: f + 1,
    "2f": lambda f: 2 * f,
    "2f+1": lambda f: 2 * f + 1,
    "2f+2": lambda f: 2 * f + 2,
}


@attrs.frozen
class PbftVariant:
    """Switches that break the proofs on purpose, to show that each one can fail.

    quorum: the size of a prepare, commit and view-change certificate, and the APPROVE threshold
    (section 4.2: 2f+1). checkpoint_proofs: CHECKPOINT messages that make a checkpoint stable (4.3:
    2f+1). reply_matches: matching replies the client accepts (4.1: f+1). new_view_uses_highest: the new
    primary re-proposes the highest prepared certificate reported (4.4); False lets it pick anything.
    reject_at: REJECT threshold, "n-2f" or the literal "f+1". one_vote_per_replica: a tally counts each
    replica once. one_tally: the decision is made on one agreed set of votes; False: two deciders count
    what each received, and a Byzantine replica may tell them different votes.
    """

    quorum: Size = "2f+1"
    checkpoint_proofs: Size = "2f+1"
    reply_matches: Size = "f+1"
    new_view_uses_highest: bool = True
    reject_at: Literal["n-2f", "f+1"] = "n-2f"
    one_vote_per_replica: bool = True
    one_tally: bool = True


# --- 1. quorum lemmas -------------------------------------------------------------------------------


def quorum_intersection(quorum: Size = "2f+1") -> Lemma:
    """Two quorums of 3f+1 replicas share at least f+1 (so at least one honest replica): section 4.2."""
    f, n = z3.Ints("f n")
    v = Venn("Q1", "Q2")
    size = _SIZES[quorum](f)
    return Lemma(
        name="pbft.quorum_intersection",
        statement=f"n = 3f+1, |Q| >= {quorum} => |Q1 & Q2| >= f+1, all f",
        hypotheses=(
            *cluster(f, n),
            *v.partition(n),
            v.size("Q1") >= size,
            v.size("Q2") >= size,
            v.size("Q1") >= 1,
            v.size("Q2") >= 1,
        ),
        conclusion=v.size("Q1", "Q2") >= f + 1,
        shown=(
            ("f", f),
            ("n", n),
            ("|Q1|", v.size("Q1")),
            ("|Q2|", v.size("Q2")),
            ("|Q1 & Q2|", v.size("Q1", "Q2")),
        ),
        minimize=n,
    )


def quorum_honest_intersection(quorum: Size = "2f+1") -> Lemma:
    """Two quorums share an honest replica, which took part in both certificates and is consistent."""
    f = z3.Int("f")
    size = _SIZES[quorum](f)
    return honest_overlap(
        "pbft.quorum_honest_intersection",
        f"n = 3f+1, |Q| >= {quorum}, |B| <= f => Q1 & Q2 has an honest replica, all f",
        ("Q1", size),
        ("Q2", size),
    )


def _has_honest(name: str, label: str, size: Size) -> Lemma:
    """Any non-empty set `label` of at least `size` replicas holds an honest one, whatever f (or
    fewer) are Byzantine."""
    f, n = z3.Ints("f n")
    v = Venn(label, "B")
    return Lemma(
        name=name,
        statement=f"n = 3f+1, |{label}| >= {size}, |B| <= f => {label} has an honest replica, all f",
        hypotheses=(
            *cluster(f, n),
            *v.partition(n),
            v.size("B") <= f,
            v.size(label) >= _SIZES[size](f),
            v.size(label) >= 1,
        ),
        conclusion=v.size(label, outside=("B",)) >= 1,
        shown=(
            ("f", f),
            ("n", n),
            (f"|{label}|", v.size(label)),
            (f"|{label} & B|", v.size(label, "B")),
        ),
        minimize=n,
    )


def quorum_for_any_n(size: Literal["ceil((n+f+1)/2)", "2f+1"] = "ceil((n+f+1)/2)") -> Lemma:
    """With n >= 3f+1 replicas a quorum needs ceil((n+f+1)/2) of them (equal to 2f+1 at n = 3f+1): then
    two quorums share at least f+1, so an honest one. 2f+1 of n = 5, f = 1 may share only the Byzantine
    replica; a cluster whose n is not 3f+1 must use this size (the honest replicas still make one)."""
    f, n = z3.Ints("f n")
    at_least = (n + f + 2) / 2 if size == "ceil((n+f+1)/2)" else 2 * f + 1  # integer division
    return honest_overlap(
        "pbft.quorum_for_any_n",
        f"n >= 3f+1, |Q| >= {size}, |B| <= f => Q1 & Q2 has an honest replica, all f",
        ("Q1", at_least),
        ("Q2", at_least),
        any_n=True,
    )


def quorum_has_honest(quorum: Size = "2f+1") -> Lemma:
    """A quorum holds an honest replica (a certificate cannot be made of Byzantine messages alone)."""
    return _has_honest("pbft.quorum_has_honest", "Q", quorum)


def quorum_available(quorum: Size = "2f+1") -> Lemma:
    """The honest replicas alone make a quorum: f silent Byzantine replicas cannot block a certificate."""
    return honest_make_quorum("pbft.quorum_available", quorum, _SIZES[quorum])


def quorum_2f_too_small() -> Lemma:
    """For every f and every quorum size q in 1..2f, two quorums of q can share no honest replica.

    Proved by a witness written as terms of f and q: the quorums overlap in max(0, 2q - n) replicas, all
    Byzantine (at most f - 1 of them, since 2q - n <= f - 1). With the intersection lemma, 2f+1 is the
    smallest safe size; with `quorum_available`, the largest live one.
    """
    f, n, q = z3.Ints("f n q")
    both = z3.If(2 * q - n > 0, 2 * q - n, 0)
    regions = {
        "|Q1 only|": q - both,
        "|Q2 only|": q - both,
        "|Q1 & Q2|": both,
        "|neither|": n - 2 * q + both,
    }
    byzantine = both  # every shared replica is Byzantine, and nobody else is
    return Lemma(
        name="pbft.quorum_2f_too_small",
        statement="n = 3f+1, 1 <= q <= 2f => some |Q1| = |Q2| = q share only Byzantine replicas, all f",
        hypotheses=(*cluster(f, n), q >= 1, q <= 2 * f),
        conclusion=z3.And(
            *(r >= 0 for r in regions.values()),
            z3.Sum(*regions.values()) == n,
            regions["|Q1 only|"] + both == q,
            byzantine <= f,
            both - byzantine == 0,
        ),
        shown=(("f", f), ("q", q), *regions.items()),
        minimize=f,
    )


def reply_has_honest(matches: Size = "f+1") -> Lemma:
    """The client's f+1 matching replies (section 4.1) come from at least one honest replica."""
    return _has_honest("pbft.reply_has_honest", "R", matches)


def checkpoint_survives_view_change(proofs: Size = "2f+1", quorum: Size = "2f+1") -> Lemma:
    """A stable checkpoint's proofs C and any view-change quorum V share an honest replica (section 4.3).

    That replica reports the checkpoint in its VIEW-CHANGE, so the new view never starts below a
    checkpoint whose log the replicas have garbage-collected. f+1 proofs show the checkpoint's digest is
    right (they hold an honest replica) but may meet V only in a Byzantine replica.
    """
    f = z3.Int("f")
    return honest_overlap(
        "pbft.checkpoint_survives_view_change",
        f"n = 3f+1, |C| >= {proofs}, |V| >= {quorum}, |B| <= f => C & V has an honest replica, all f",
        ("C", _SIZES[proofs](f)),
        ("V", _SIZES[quorum](f)),
    )


# --- 2. the vote-counting rule ----------------------------------------------------------------------

Decision, (APPROVE, REJECT, NO_CONSENSUS) = z3.EnumSort(
    "PbftDecision", ("APPROVE", "REJECT", "NO_CONSENSUS")
)


def approves(approvals: Any, n: Any, f: Any, variant: PbftVariant = PbftVariant()) -> Any:
    """The APPROVE condition: a quorum of approvals."""
    return approvals >= _SIZES[variant.quorum](f)


def rejects(rejections: Any, n: Any, f: Any, variant: PbftVariant = PbftVariant()) -> Any:
    """The REJECT condition: n - 2f rejections, so at most 2f replicas are left to approve."""
    return rejections >= (n - 2 * f if variant.reject_at == "n-2f" else f + 1)


def decision(
    approvals: Any, rejections: Any, n: Any, f: Any, variant: PbftVariant = PbftVariant()
) -> Any:
    """The decision as a Z3 term of sort Decision. The order of the tests does not matter: the two
    conditions exclude each other (`votes_exclusive`)."""
    return z3.If(
        approves(approvals, n, f, variant),
        APPROVE,
        z3.If(rejects(rejections, n, f, variant), REJECT, NO_CONSENSUS),
    )


def decision_of(
    approvals: int, rejections: int, n: int, f: int, variant: PbftVariant = PbftVariant()
) -> str:
    """The model's decision for concrete counts, by Z3 evaluating `decision`: "APPROVE", "REJECT" or
    "NO_CONSENSUS" (what impl/pbft/votes.py must answer)."""
    ints = (z3.IntVal(approvals), z3.IntVal(rejections), z3.IntVal(n), z3.IntVal(f))
    return str(z3.simplify(decision(*ints, variant)))


def votes_exclusive(variant: PbftVariant = PbftVariant()) -> Lemma:
    """APPROVE and REJECT never both hold: 2f+1 approvals and n-2f rejections are n+1 votes.

    Sets A (approved) and R (rejected) of the n replicas; one vote per replica: A and R are disjoint.
    Without one tally: deciders 1 and 2 each count what they received; an honest replica tells both the
    same, a Byzantine one (in B) may not.
    """
    f, n = z3.Ints("f n")
    if variant.one_tally:
        v = Venn("A", "R")
        hyps = [*voters(f, n), *v.partition(n)]
        if variant.one_vote_per_replica:
            hyps.append(v.size("A", "R") == 0)
        approved, rejected = v.size("A"), v.size("R")
        shown = [("|A|", approved), ("|R|", rejected), ("|A & R|", v.size("A", "R"))]
        where = "one vote per replica" if variant.one_vote_per_replica else "votes counted twice"
    else:
        v = Venn("A1", "R1", "A2", "R2", "B")
        hyps = [
            *voters(f, n),
            *v.partition(n),
            v.size("B") <= f,
            v.size("A1", "R1") == 0,
            v.size("A2", "R2") == 0,
            v.size("A1", "R2", outside=("B",)) == 0,
            v.size("R1", "A2", outside=("B",)) == 0,
        ]
        approved, rejected = v.size("A1"), v.size("R2")
        shown = [
            ("|A1|", approved),
            ("|R2|", rejected),
            ("|A1 & R2|", v.size("A1", "R2")),
            ("|B|", v.size("B")),
        ]
        where = "two tallies, Byzantine equivocate"
    return Lemma(
        name="pbft.votes_exclusive",
        statement=f"n >= 3f+1, {where} => not (APPROVE and REJECT), all f",
        hypotheses=tuple(hyps),
        conclusion=z3.Not(
            z3.And(approves(approved, n, f, variant), rejects(rejected, n, f, variant))
        ),
        shown=(("f", f), ("n", n), *shown),
        minimize=n,
    )


def _byzantine_split(f: Any, n: Any) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """Honest (h) and Byzantine (b) replicas that approve, reject or stay silent; at most f Byzantine."""
    c = {
        k: z3.Int(k)
        for k in ("h_approve", "h_reject", "h_silent", "b_approve", "b_reject", "b_silent")
    }
    byz = c["b_approve"] + c["b_reject"] + c["b_silent"]
    return c, (*voters(f, n), *(x >= 0 for x in c.values()), byz <= f, z3.Sum(*c.values()) == n)


def votes_byzantine_cannot_flip(
    side: Literal["approve", "reject"], variant: PbftVariant = PbftVariant()
) -> Lemma:
    """Every honest replica votes `side`: the decision is `side`, whatever the Byzantine ones vote or withhold."""
    f, n = z3.Ints("f n")
    c, hyps = _byzantine_split(f, n)
    other = "reject" if side == "approve" else "approve"
    unanimous = (c[f"h_{other}"] == 0, c["h_silent"] == 0)
    approved, rejected = c["h_approve"] + c["b_approve"], c["h_reject"] + c["b_reject"]
    yes, no = approves(approved, n, f, variant), rejects(rejected, n, f, variant)
    return Lemma(
        name=f"pbft.votes_honest_{side}_stands",
        statement=f"n >= 3f+1, all honest {side}, <= f Byzantine vote anything => {side.upper()}, all f",
        hypotheses=(*hyps, *unanimous),
        conclusion=z3.And(yes, z3.Not(no)) if side == "approve" else z3.And(no, z3.Not(yes)),
        shown=(("f", f), ("n", n), *c.items()),
        minimize=n,
    )


def votes_decision_stands(variant: PbftVariant = PbftVariant()) -> Lemma:
    """A decision on some votes stays when more votes arrive (a, r grow to a2, r2; one vote each)."""
    f, n, a, r, a2, r2 = z3.Ints("f n approvals rejections approvals_later rejections_later")
    yes, no = approves(a, n, f, variant), rejects(r, n, f, variant)
    yes2, no2 = approves(a2, n, f, variant), rejects(r2, n, f, variant)
    return Lemma(
        name="pbft.votes_decision_stands",
        statement="n >= 3f+1, more votes arrive => an APPROVE or REJECT stays, all f",
        hypotheses=(*voters(f, n), a >= 0, a <= a2, r >= 0, r <= r2, a2 + r2 <= n),
        conclusion=z3.And(
            z3.Implies(yes, z3.And(yes2, z3.Not(no2))), z3.Implies(no, z3.And(no2, z3.Not(yes2)))
        ),
        shown=(
            ("f", f),
            ("n", n),
            ("approvals", a),
            ("rejections", r),
            ("approvals later", a2),
            ("rejections later", r2),
        ),
        minimize=n,
    )


def votes_complete_decides(variant: PbftVariant = PbftVariant()) -> Lemma:
    """Once all n replicas voted, the rule decides (NO_CONSENSUS needs a missing vote)."""
    f, n, a, r = z3.Ints("f n approvals rejections")
    return Lemma(
        name="pbft.votes_complete_decides",
        statement="n >= 3f+1, all n voted => APPROVE or REJECT, all f",
        hypotheses=(*voters(f, n), a >= 0, r >= 0, a + r == n),
        conclusion=z3.Or(approves(a, n, f, variant), rejects(r, n, f, variant)),
        shown=(("f", f), ("n", n), ("approvals", a), ("rejections", r)),
        minimize=n,
    )


# --- 3. Agreement of an abstract single-slot PBFT ----------------------------------------------------
#
# One sequence number; views ordered by lt; requests are the values. The replica sort holds the honest
# replicas only, and a quorum is named by its honest members (member): Byzantine replicas have sent
# every PREPARE, COMMIT and VIEW-CHANGE from the start (the spec's ByzMsgs), and every honest guard only
# asks that messages exist, so "every member of quorum q sent m" only asks it of q's honest members, and
# an adversary that sent everything at once is the strongest one. What f Byzantine replicas can still do
# is hidden in the quorum axioms, assumed only when their lemmas proved them: two quorums share an honest
# member, and a quorum has one.
#
# prepares(i, v, r), commits(i, v, r): i sent PREPARE / COMMIT for r in view v (a primary's PRE-PREPARE
# counts as its PREPARE, as in the paper's prepared certificate).
# left(i, v): i sent a VIEW-CHANGE for a view above v, and takes part in v no more.
# pre_prepared(v, r): a PRE-PREPARE of r in view v that honest backups accept, i.e. justified by a
# NEW-VIEW. A Byzantine primary may justify several; the first view is no special case (a quorum whose
# members left no view reports nothing, so any request).
# committed(v, r): 2f+1 COMMITs for r in view v: r is committed (section 4.2) and executed.
# Ghosts, for the proof only: blocked(v, r): r can no longer be committed in view v, because a later view
# pre-prepared another request. cert_quorum(v, r), commit_quorum(v, r): the quorum behind a COMMIT and
# behind committed(v, r), so invariants can name it as a function of (v, r) (as raft.py's voting_quorum).
# A replica's prepared certificates are the ones it sent a COMMIT on (the contract's Commit action is
# "prepared, send COMMIT" in one step); its VIEW-CHANGE reports them. Reporting no more than these only
# weakens the new-view guard, so every behaviour of PBFT is one of this model's.
#
# EPR: the only quantifier alternations are quorum -> replica (the axioms) and view, request, quorum ->
# replica (BlockedForever); the ghosts map view, request -> quorum. No cycle: Z3 decides every obligation.


def _views_ordered(s: State) -> Any:
    return z3.And(*strict_total_order(s))


def _all_sent(s: State, q: Any, sent: Callable[[Any], Any]) -> Any:
    """Every member of quorum q sent the message `sent(i)` (its Byzantine members sent everything)."""
    return s.forall(("replica",), lambda i: z3.Implies(s.member(i, q), sent(i)))


def _init(s: State) -> Any:
    return z3.And(
        s.forall(("replica", "view"), lambda i, v: z3.Not(s.left(i, v))),
        *(
            s.forall(("view", "request"), lambda v, r, rel=rel: z3.Not(rel(v, r)))
            for rel in (s.pre_prepared, s.committed, s.blocked)
        ),
        *(
            s.forall(("replica", "view", "request"), lambda i, v, r, rel=rel: z3.Not(rel(i, v, r)))
            for rel in (s.prepares, s.commits)
        ),
    )


def _start_view_change(old: State, new: State, i: Any, v: Any) -> Any:
    """i times out and sends VIEW-CHANGE for view v: it leaves every view below v (section 4.4)."""
    return new.forall(
        ("replica", "view"),
        lambda j, u: new.left(j, u) == z3.Or(old.left(j, u), z3.And(j == i, old.lt(u, v))),
    )


def _new_view(uses_highest: bool) -> Transition:
    def body(old: State, new: State, v: Any, r: Any, q: Any, w: Any, h: Any, c: Any) -> Any:
        """A primary of view v (honest or not) pre-prepares r, justified by the VIEW-CHANGE quorum q.

        Backups recompute O from the reports (section 4.4): r must be the request of the highest prepared
        certificate reported, any request if none is. An honest member of q reports the certificates it
        committed on below v; a Byzantine member may report any certificate that exists, or none. So:
        no honest member reports one and r is anything (a Byzantine report, or none); or the highest
        report is honest member h's, for r in view w; or it is a Byzantine member's certificate c (2f+1
        PREPAREs for r in view w) above every honest report.
        """
        joined = old.forall(
            ("replica", "view"),
            lambda j, u: z3.Implies(z3.And(old.member(j, q), old.lt(u, v)), old.left(j, u)),
        )

        def reports_below(bound: Callable[[Any], Any]) -> Any:
            return old.forall(
                ("replica", "view", "request"),
                lambda j, u, y: z3.Implies(
                    z3.And(old.member(j, q), old.lt(u, v), old.commits(j, u, y)), bound(u)
                ),
            )

        justified: Any = z3.BoolVal(True)
        if uses_highest:
            justified = z3.Or(
                reports_below(lambda u: z3.BoolVal(False)),
                z3.And(
                    old.member(h, q),
                    old.lt(w, v),
                    old.commits(h, w, r),
                    reports_below(lambda u: at_most(old, u, w)),
                ),
                z3.And(
                    old.lt(w, v),
                    _all_sent(old, c, lambda j: old.prepares(j, w, r)),
                    reports_below(lambda u: old.lt(u, w)),
                ),
            )
        blocks = new.forall(
            ("view", "request"),
            lambda u, y: (
                new.blocked(u, y) == z3.Or(old.blocked(u, y), z3.And(old.lt(u, v), y != r))
            ),
        )
        return z3.And(joined, justified, inserted(old, new, "pre_prepared", v, r), blocks)

    params = (
        ("v", "view"),
        ("r", "request"),
        ("q", "quorum"),
        ("w", "view"),
        ("h", "replica"),
        ("c", "quorum"),
    )
    return Transition("new_view", params, ("pre_prepared", "blocked"), body)


def _prepare(old: State, new: State, i: Any, v: Any, r: Any) -> Any:
    """Backup i, still in view v, accepts the PRE-PREPARE of r and sends PREPARE, once per view (4.2)."""
    return z3.And(
        z3.Not(old.left(i, v)),
        old.pre_prepared(v, r),
        old.forall(("request",), lambda y: z3.Not(old.prepares(i, v, y))),
        inserted(old, new, "prepares", i, v, r),
    )


def _commit(old: State, new: State, i: Any, v: Any, r: Any, q: Any) -> Any:
    """i, still in view v, is prepared for r (its own PREPARE, and 2f+1 PREPAREs: quorum q) and sends
    COMMIT (4.2)."""
    return z3.And(
        z3.Not(old.left(i, v)),
        old.prepares(i, v, r),
        _all_sent(old, q, lambda j: old.prepares(j, v, r)),
        inserted(old, new, "commits", i, v, r),
        assigned(old, new, "cert_quorum", (v, r), q),
    )


def _execute(old: State, new: State, v: Any, r: Any, q: Any) -> Any:
    """2f+1 COMMITs for r in view v (quorum q): r is committed, and a replica executes it (4.2)."""
    return z3.And(
        _all_sent(old, q, lambda j: old.commits(j, v, r)),
        inserted(old, new, "committed", v, r),
        assigned(old, new, "commit_quorum", (v, r), q),
    )


def _agreement(s: State) -> Any:
    return s.forall(
        ("view", "view", "request", "request"),
        lambda v1, v2, r1, r2: z3.Implies(
            z3.And(s.committed(v1, r1), s.committed(v2, r2)), r1 == r2
        ),
    )


def _prepares_once(s: State) -> Any:
    return s.forall(
        ("replica", "view", "request", "request"),
        lambda i, v, r1, r2: z3.Implies(
            z3.And(s.prepares(i, v, r1), s.prepares(i, v, r2)), r1 == r2
        ),
    )


def _prepares_pre_prepared(s: State) -> Any:
    return s.forall(
        ("replica", "view", "request"),
        lambda i, v, r: z3.Implies(s.prepares(i, v, r), s.pre_prepared(v, r)),
    )


def _commits_prepared(s: State) -> Any:
    return s.forall(
        ("replica", "view", "request", "replica"),
        lambda i, v, r, j: z3.Implies(
            z3.And(s.commits(i, v, r), s.member(j, s.cert_quorum(v, r))), s.prepares(j, v, r)
        ),
    )


def _commits_pre_prepared(s: State) -> Any:
    return s.forall(
        ("replica", "view", "request"),
        lambda i, v, r: z3.Implies(s.commits(i, v, r), s.pre_prepared(v, r)),
    )


def _commits_agree(s: State) -> Any:
    return s.forall(
        ("replica", "replica", "view", "request", "request"),
        lambda i, j, v, r1, r2: z3.Implies(
            z3.And(s.commits(i, v, r1), s.commits(j, v, r2)), r1 == r2
        ),
    )


def _committed_by_quorum(s: State) -> Any:
    return s.forall(
        ("view", "request", "replica"),
        lambda v, r, j: z3.Implies(
            z3.And(s.committed(v, r), s.member(j, s.commit_quorum(v, r))), s.commits(j, v, r)
        ),
    )


def _pre_prepared_blocks(s: State) -> Any:
    return s.forall(
        ("view", "view", "request", "request"),
        lambda v1, v2, r1, r2: z3.Implies(
            z3.And(s.lt(v1, v2), s.pre_prepared(v2, r2), r1 != r2), s.blocked(v1, r1)
        ),
    )


def _blocked_forever(s: State) -> Any:
    """Paxos's "choosable" (after Padon et al., "Paxos made EPR", OOPSLA 2017): a blocked request can get
    no quorum of COMMITs in its view, since every quorum has a member that left the view without one."""
    return s.forall(
        ("view", "request", "quorum"),
        lambda v, r, q: z3.Implies(
            s.blocked(v, r),
            s.exists(
                ("replica",),
                lambda i: z3.And(s.member(i, q), s.left(i, v), z3.Not(s.commits(i, v, r))),
            ),
        ),
    )


def agreement_model(
    *,
    new_view_uses_highest: bool = True,
    quorums_intersect: bool = True,
    quorums_nonempty: bool = True,
) -> ProtocolModel:
    """The abstract single-slot PBFT; the flags say which quorum facts (lemmas) it may assume."""
    axioms = [Axiom("ViewsOrdered", _views_ordered)]
    if quorums_intersect:
        # Also gives every quorum a member (q1 = q2). Stating that again only slows Z3 down (measured:
        # non-vacuity of execute up to 5 s with both, under 1.2 s with one).
        axioms.append(Axiom("QuorumsShareHonest", quorums_meet))
    elif quorums_nonempty:
        axioms.append(Axiom("QuorumsHaveHonest", quorums_have_member))
    replica_view_request = (("i", "replica"), ("v", "view"), ("r", "request"))
    return ProtocolModel(
        name=MODEL,
        sorts=(Sort("replica"), Sort("view"), Sort("request", "req"), Sort("quorum")),
        symbols=(
            relation("member", "replica", "quorum", mutable=False),
            relation("lt", "view", "view", mutable=False),
            relation("left", "replica", "view"),
            relation("pre_prepared", "view", "request"),
            relation("prepares", "replica", "view", "request"),
            relation("commits", "replica", "view", "request"),
            relation("committed", "view", "request"),
            relation("blocked", "view", "request"),
            function("cert_quorum", ("view", "request"), "quorum"),
            function("commit_quorum", ("view", "request"), "quorum"),
        ),
        axioms=tuple(axioms),
        init=(_init,),
        transitions=(
            Transition(
                "start_view_change", replica_view_request[:2], ("left",), _start_view_change
            ),
            _new_view(new_view_uses_highest),
            Transition("prepare", replica_view_request, ("prepares",), _prepare),
            Transition(
                "commit",
                (*replica_view_request, ("q", "quorum")),
                ("commits", "cert_quorum"),
                _commit,
            ),
            Transition(
                "execute",
                (*replica_view_request[1:], ("q", "quorum")),
                ("committed", "commit_quorum"),
                _execute,
            ),
        ),
        invariants=(
            Invariant("Agreement", _agreement),
            Invariant("PreparesOnce", _prepares_once, auxiliary=True),
            Invariant("PreparesPrePrepared", _prepares_pre_prepared, auxiliary=True),
            Invariant("CommitsPrepared", _commits_prepared, auxiliary=True),
            Invariant("CommitsPrePrepared", _commits_pre_prepared, auxiliary=True),
            Invariant("CommitsAgree", _commits_agree, auxiliary=True),
            Invariant("CommittedByQuorum", _committed_by_quorum, auxiliary=True),
            Invariant("PrePreparedBlocks", _pre_prepared_blocks, auxiliary=True),
            Invariant("BlockedForever", _blocked_forever, auxiliary=True),
        ),
    )


def lemmas(variant: PbftVariant = PbftVariant()) -> list[Lemma]:
    """Every lemma of the proof set, in table order."""
    return [
        quorum_intersection(variant.quorum),
        quorum_honest_intersection(variant.quorum),
        quorum_has_honest(variant.quorum),
        quorum_available(variant.quorum),
        quorum_2f_too_small(),
        quorum_for_any_n(),
        reply_has_honest(variant.reply_matches),
        checkpoint_survives_view_change(variant.checkpoint_proofs, variant.quorum),
        votes_exclusive(variant),
        votes_byzantine_cannot_flip("approve", variant),
        votes_byzantine_cannot_flip("reject", variant),
        votes_decision_stands(variant),
        votes_complete_decides(variant),
    ]


def prove(
    variant: PbftVariant = PbftVariant(),
    *,
    depth: int = DEFAULT_DEPTH,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> list[ProofResult]:
    """Every PBFT obligation: the lemmas, then the Agreement model on the quorum facts they proved."""
    return lemmas_then_model(
        lemmas(variant),
        lambda proved: agreement_model(
            new_view_uses_highest=variant.new_view_uses_highest,
            quorums_intersect="pbft.quorum_honest_intersection" in proved,
            quorums_nonempty="pbft.quorum_has_honest" in proved,
        ),
        depth=depth,
        timeout_ms=timeout_ms,
    )
