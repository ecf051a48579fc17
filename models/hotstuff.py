"""HotStuff in Z3: conflicting QCs in one view for every f; the three-chain commit rule as an inductive invariant.

Yin, Malkhi, Reiter, Golan Gueta and Abraham, "HotStuff: BFT Consensus with Linearity and
Responsiveness" (PODC 2019; its technical report, "HotStuff: BFT Consensus in the Lens of Blockchain",
arXiv:1803.05069, is cited for the proofs): n = 3f+1 replicas of which at most f are Byzantine, quorum
certificates (QCs) of n - f = 2f+1 votes, a lockedQC per replica and the safe-node predicate (sections
4.2-4.3: vote for node m.node if it extends lockedQC.node, the safety rule, or if
m.justify.viewNumber > lockedQC.viewNumber, the liveness rule), and in chained HotStuff (section 5) a
node b is committed when it heads a Three-Chain b <- b' <- b'' (each node's QC for its direct parent)
whose last node b'' has a QC. Section 4.4: Lemma 1, two QCs of the same type in one view cannot be for
conflicting nodes; Theorem 2, conflicting nodes are never both committed. TLC checks n = 4
(specs/HotStuff.tla); here f is a symbolic integer and the model's views, blocks and replicas are
unbounded.

1. Quorum lemmas. k subsets of n replicas cut them into 2^k Venn regions; any non-negative region sizes
   that sum to n are realised by some subsets, so a claim over the sizes, with f symbolic, covers every
   choice of QCs and Byzantine replicas for every f (as models/pbft.py). Lemma 1: the voters of two QCs
   of 2f+1 votes in one view share an honest replica, and an honest replica votes at most once per view,
   so two QCs for different (in particular conflicting) blocks never form in one view. Both premises
   are needed: QCs of 2f votes split at n = 4 (and for every f: a witness as terms of f), and so does an
   honest replica that votes twice. The honest replicas alone still make a QC (a silent Byzantine
   minority cannot block progress).
2. The commit rule as an inductive invariant of an abstract chained HotStuff (`safety_model`). f does
   not appear in it: the replica sort holds the honest replicas, a quorum is named by its honest
   members, and all the model knows of sizes is the axiom "two quorums share an honest replica", assumed
   only once lemma 1 and the intersection lemma are proved (as pbft.py and raft.py do), so a QC of 2f
   votes fails the model's proofs instead of resting on a false fact. The block tree is fixed: every
   block that could ever be made exists from the start, with its view (its height: section 5 fills
   views without a QC with dummy nodes, so a direct parent is one view lower, and the event-driven
   Algorithm 4 of section 6 compares heights) and the QC it carries (justify). Which of them a leader
   proposes is free, so a Byzantine leader proposes anything; an honest replica's vote is guarded by
   the protocol's checks. The safety proof is the paper's Lemma, strengthened until it is inductive:
   if b heads a Three-Chain whose b'' has a QC, every QC in a view at or above b's extends b
   (`ThreeChainLemma`). Before b'' has its QC the statement need not hold (another QC may take b''s
   view); what holds is that a QC above b that conflicts with b "kills" b'': some quorum has moved past
   b''s view without voting for it, so b'' never gets a QC (`ConflictKillsTop`, after the choosable
   values of Padon et al., "Paxos made EPR", OOPSLA 2017).
3. The liveness clause (`LivenessClauseSafe`): a replica locked at or above a committed block's view,
   as every voter of the commit's b'' is and at least one honest member of every quorum is
   (`CommitLocksAQuorum`), is never let by justify.view > lockedQC.view vote for a block that does not
   extend the committed one: a justify QC above its lock is above the committed block, so extends it.
   A replica locked below the committed block (one that missed the chain) may be let vote for a
   conflicting block, by either clause; that vote never joins a QC, since every quorum holds a replica
   that refuses it (the tests replay such a run).

What the model assumes of an honest replica beyond the safe-node rule, and an implementation must
check: a proposal extends the block its justify QC certifies (axiom Justify; Algorithm 2 checks it in
its prepare phase), and a block's view is its height, so the Three-Chain's direct parents are in
consecutive views.

Each proof is shown able to fail (tests/test_models_hotstuff.py): QCs of 2f votes, an honest replica
voting twice in a view, commit on a Two-Chain, a lock that is not updated, and a vote that ignores the
lock. Two variants the issue lists are proved safe, and the tests say why: the liveness clause with >=
(QCs are unique per view, so a justify QC in the lock's view is the lock itself and the safety clause
already admits the block), and safeNode with one clause only (a smaller vote guard; losing a clause
costs liveness, for TLC's liveness model and the implementation's tests to check).
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
from meshcheck.models.proof import constant
from meshcheck.models.proof import function
from meshcheck.models.proof import inserted
from meshcheck.models.proof import lemmas_then_model
from meshcheck.models.proof import relation
from meshcheck.models.quorums import Venn
from meshcheck.models.quorums import at_most
from meshcheck.models.quorums import cluster
from meshcheck.models.quorums import honest_make_quorum
from meshcheck.models.quorums import quorums_meet
from meshcheck.models.quorums import strict_total_order
from meshcheck.models.quorums import two_sets
from meshcheck.models.quorums import two_sets_shown

MODEL = "hotstuff.safety"

Size = Literal["2f", "2f+1"]
_SIZES: dict[str, Callable[[Any], Any]] = {"2f": lambda f: 2 * f, "2f+1": lambda f: 2 * f + 1}
SafeNode = Literal["both", "safety-only", "liveness-only", "ignored"]


@attrs.frozen
class HotStuffVariant:
    """Switches that break the proofs on purpose, to show that each one can fail.

    quorum: the votes in a QC (section 4.2: n - f = 2f+1). vote_once: an honest replica votes at most
    once per view, in increasing views (Algorithm 4's vheight). commit_rule: "three-chain" (section 5)
    or "two-chain" (b committed once b' carries its QC and has one). lock_update: a replica that sees a
    Two-Chain b' <- b'' (b'' carrying b''s QC) locks on b' (Algorithm 4, update). liveness_compare: the
    liveness clause's test, justify.view > lockedQC.view (4.3) or >=. safe_node: both clauses (4.3),
    one of them, or "ignored" (a vote that never consults the lock).
    """

    quorum: Size = "2f+1"
    vote_once: bool = True
    commit_rule: Literal["three-chain", "two-chain"] = "three-chain"
    lock_update: bool = True
    liveness_compare: Literal[">", ">="] = ">"
    safe_node: SafeNode = "both"


# --- 1. quorum lemmas -------------------------------------------------------------------------------


def quorum_honest_intersection(quorum: Size = "2f+1") -> Lemma:
    """The voters of two QCs share an honest replica, whatever f (or fewer) replicas B are Byzantine.
    A QC is never empty (it has a signer)."""
    f, n = z3.Ints("f n")
    v = Venn("Q1", "Q2", "B")
    size = _SIZES[quorum](f)
    return Lemma(
        name="hotstuff.quorum_honest_intersection",
        statement=f"n = 3f+1, |Q| >= {quorum}, |B| <= f => Q1 & Q2 has an honest replica, all f",
        hypotheses=two_sets(v, f, n, ("Q1", size), ("Q2", size)),
        conclusion=v.size("Q1", "Q2", outside=("B",)) >= 1,
        shown=two_sets_shown(v, f, n, "Q1", "Q2"),
        minimize=n,
    )


def no_conflicting_qcs_in_view(quorum: Size = "2f+1", vote_once: bool = True) -> Lemma:
    """Lemma 1 of the report: no two QCs for conflicting blocks in one view.

    Q1 and Q2 are the replicas whose votes make QCs for two conflicting blocks in view v, B the
    Byzantine ones (at most f). An honest replica votes at most once in a view, so an honest replica in
    both is impossible: the claim is that these sizes cannot all hold at once (conclusion False).
    """
    f, n = z3.Ints("f n")
    v = Venn("Q1", "Q2", "B")
    size = _SIZES[quorum](f)
    hyps = list(two_sets(v, f, n, ("Q1", size), ("Q2", size)))
    if vote_once:
        hyps.append(v.size("Q1", "Q2", outside=("B",)) == 0)
    once = "honest vote once per view" if vote_once else "honest may vote twice"
    return Lemma(
        name="hotstuff.no_conflicting_qcs_in_view",
        statement=f"n = 3f+1, |B| <= f, {once} => no two QCs of {quorum} in one view, all f",
        hypotheses=tuple(hyps),
        conclusion=z3.BoolVal(False),
        shown=two_sets_shown(v, f, n, "Q1", "Q2"),
        minimize=n,
    )


def qc_of_2f_splits() -> Lemma:
    """For every f >= 1, QCs of 2f votes can certify two conflicting blocks in one view, every honest
    replica voting once: a witness written as terms of f (not only the smallest cluster the failed
    Lemma 1 shows). f honest replicas vote for each block, and the f Byzantine ones for both."""
    f, n = z3.Ints("f n")
    regions = {
        "|Q1 honest|": f,
        "|Q2 honest|": f,
        "|Q1 & Q2 Byzantine|": f,
        "|neither, honest|": n - 3 * f,
    }
    q1 = regions["|Q1 honest|"] + regions["|Q1 & Q2 Byzantine|"]
    q2 = regions["|Q2 honest|"] + regions["|Q1 & Q2 Byzantine|"]
    return Lemma(
        name="hotstuff.qc_of_2f_splits",
        statement="n = 3f+1, f >= 1 => two QCs of 2f in one view, no honest voter in both, all f",
        hypotheses=(*cluster(f, n), f >= 1),
        conclusion=z3.And(
            *(r >= 0 for r in regions.values()),
            z3.Sum(*regions.values()) == n,
            q1 >= 2 * f,
            q2 >= 2 * f,
            regions["|Q1 & Q2 Byzantine|"] <= f,
        ),
        shown=(("f", f), ("n", n), *regions.items()),
        minimize=f,
    )


def quorum_available(quorum: Size = "2f+1") -> Lemma:
    """The honest replicas alone make a QC: f silent Byzantine replicas cannot block one."""
    return honest_make_quorum("hotstuff.quorum_available", quorum, _SIZES[quorum])


# --- 2. the abstract chained HotStuff ---------------------------------------------------------------
#
# Sorts: replica (the honest ones), quorum (named by its honest members: a Byzantine replica signs any
# vote, so "every member of q voted" asks it of q's honest members only), block, view.
# Immutable: lt, the order of views (total, strict); succ(v, w), w is the view right after v; ext(a, b),
# b extends a (a is b or an ancestor of b): a tree order rooted at genesis; justify(b, j), b carries a QC
# for j (its justify; a block extends the block its QC certifies); view(b), b's view (its height:
# a strict descendant is in a higher view); genesis, whose QC every replica holds, in genesis_view, the
# lowest.
# Mutable: voted(i, b), honest i voted for b (in view(b)); vheight(i), the view of i's last vote;
# locked(i, b) and lock_v(i), i's lockedQC (its block and view); qc(b), 2f+1 votes for b; committed(b,
# b1, b2), b committed by the Three-Chain b <- b1 <- b2 (the chain a ghost, so invariants can name it).
# Ghost: qc_quorum(b), the quorum behind qc(b) (as pbft.py's cert_quorum).
#
# EPR: the sort graph is block -> quorum -> replica -> view, block -> view, block -> replica (the
# quorum axiom is quorum -> replica); ConflictKillsTop and VoteAboveTopKillsIt are "forall blocks,
# exists quorum", CommitLocksAQuorum is "forall blocks, quorums, exists replica". No cycle, so Z3
# decides every obligation. The lock is a relation plus a view function (a function replica -> block
# would close replica -> block -> quorum -> replica), and a vote names the lock block it relies on as a
# parameter.


def _views(s: State) -> Any:
    return z3.And(
        *strict_total_order(s),
        s.forall(("view",), lambda v: z3.Not(s.lt(v, s.genesis_view))),
        s.forall(
            ("view", "view", "view"),
            lambda v, w, u: z3.Implies(
                s.succ(v, w), z3.And(s.lt(v, w), z3.Not(z3.And(s.lt(v, u), s.lt(u, w))))
            ),
        ),
    )


def _tree(s: State) -> Any:
    return z3.And(
        s.forall(("block",), lambda b: s.ext(b, b)),
        s.forall(
            ("block", "block", "block"),
            lambda a, b, c: z3.Implies(z3.And(s.ext(a, b), s.ext(b, c)), s.ext(a, c)),
        ),
        s.forall(
            ("block", "block"), lambda a, b: z3.Implies(z3.And(s.ext(a, b), s.ext(b, a)), a == b)
        ),
        s.forall(
            ("block", "block", "block"),
            lambda a, b, c: z3.Implies(
                z3.And(s.ext(a, c), s.ext(b, c)), z3.Or(s.ext(a, b), s.ext(b, a))
            ),
        ),
        s.forall(("block",), lambda b: s.ext(s.genesis, b)),
        s.view_of(s.genesis) == s.genesis_view,
        s.forall(
            ("block", "block"),
            lambda a, b: z3.Implies(z3.And(s.ext(a, b), a != b), s.lt(s.view_of(a), s.view_of(b))),
        ),
    )


def _justify(s: State) -> Any:
    return z3.And(
        s.forall(
            ("block", "block"),
            lambda b, j: z3.Implies(s.justify(b, j), z3.And(s.ext(j, b), j != b)),
        ),
        s.forall(
            ("block", "block", "block"),
            lambda b, j, k: z3.Implies(z3.And(s.justify(b, j), s.justify(b, k)), j == k),
        ),
    )


def _init(s: State) -> Any:
    g = s.genesis
    return z3.And(
        s.forall(("replica", "block"), lambda i, b: s.voted(i, b) == (b == g)),
        s.forall(("replica", "block"), lambda i, b: s.locked(i, b) == (b == g)),
        s.forall(
            ("replica",),
            lambda i: z3.And(s.vheight(i) == s.genesis_view, s.lock_v(i) == s.genesis_view),
        ),
        s.forall(("block",), lambda b: s.qc(b) == (b == g)),
        s.forall(("block", "block", "block"), lambda a, b, c: z3.Not(s.committed(a, b, c))),
    )


def _chain(s: State, b: Any, b1: Any, b2: Any) -> Any:
    """b <- b1 <- b2 is a Two-Chain with b1's QC formed: each carries its direct parent's QC (section 5;
    direct parent = one view lower), and b1 has a QC. With a QC for b2 as well, b is committed."""
    return z3.And(
        s.justify(b2, b1),
        s.justify(b1, b),
        s.succ(s.view_of(b), s.view_of(b1)),
        s.succ(s.view_of(b1), s.view_of(b2)),
        s.qc(b1),
    )


def _dead(s: State, b2: Any) -> Any:
    """Some quorum has moved past b2's view without voting for it: b2 never gets a QC."""
    return s.exists(
        ("quorum",),
        lambda q: s.forall(
            ("replica",),
            lambda i: z3.Implies(
                s.member(i, q),
                z3.And(z3.Not(s.voted(i, b2)), at_most(s, s.view_of(b2), s.vheight(i))),
            ),
        ),
    )


def _liveness_clause(s: State, i: Any, j: Any, compare: str) -> Any:
    """justify.view > lockedQC.view (or the variant's >=), j being the block the justify certifies."""
    if compare == ">":
        return s.lt(s.lock_v(i), s.view_of(j))
    return at_most(s, s.lock_v(i), s.view_of(j))


def _vote(variant: HotStuffVariant) -> Transition:
    def body(old: State, new: State, i: Any, y: Any, j1: Any, j2: Any, lk: Any) -> Any:
        """Honest i votes for proposal y (Algorithm 4, onReceiveProposal), then updates its lock.

        y carries a valid QC for j1; j1 carries one for j2 (genesis carries none: j1 = j2 = genesis).
        The vote: y's view above i's last vote (vheight), and safeNode(y, y.justify): y extends i's
        locked block lk, or j1's view is above i's lock. The update: y's justify and j1's form a
        Two-Chain j2 <- j1 <- y, so i locks on j2's QC if it is higher than its lock.
        """
        justified = z3.And(
            old.justify(y, j1),
            old.qc(j1),
            z3.Or(old.justify(j1, j2), z3.And(j1 == old.genesis, j2 == old.genesis)),
        )
        if variant.vote_once:
            fresh = old.lt(old.vheight(i), old.view_of(y))
        else:  # may vote again in the view it last voted in
            fresh = at_most(old, old.vheight(i), old.view_of(y))
        safety = z3.And(old.locked(i, lk), old.ext(lk, y))
        liveness = _liveness_clause(old, i, j1, variant.liveness_compare)
        safe_node = {
            "both": z3.Or(safety, liveness),
            "safety-only": safety,
            "liveness-only": liveness,
            "ignored": z3.BoolVal(True),
        }[variant.safe_node]
        up = z3.And(z3.BoolVal(variant.lock_update), old.lt(old.lock_v(i), old.view_of(j2)))
        return z3.And(
            justified,
            fresh,
            safe_node,
            inserted(old, new, "voted", i, y),
            assigned(old, new, "vheight", (i,), old.view_of(y)),
            _lock(old, new, i, j2, up),
        )

    params = (("i", "replica"), ("y", "block"), ("j1", "block"), ("j2", "block"), ("lk", "block"))
    return Transition("vote", params, ("voted", "vheight", "locked", "lock_v"), body)


def _lock(old: State, new: State, i: Any, j: Any, up: Any) -> Any:
    """If `up`, i's lockedQC becomes j's QC; otherwise it stays."""
    return z3.And(
        new.forall(
            ("replica", "block"),
            lambda k, b: new.locked(k, b) == z3.If(z3.And(k == i, up), b == j, old.locked(k, b)),
        ),
        assigned(old, new, "lock_v", (i,), z3.If(up, old.view_of(j), old.lock_v(i))),
    )


def _update_lock(old: State, new: State, i: Any, j1: Any, j2: Any) -> Any:
    """i sees a proposal carrying j1's QC, j1 carrying j2's (a Two-Chain), without voting for it: it locks
    on j2 if j2 is higher than its lock (Algorithm 4, update, called on every proposal received)."""
    up = old.lt(old.lock_v(i), old.view_of(j2))
    return z3.And(old.qc(j1), old.justify(j1, j2), up, _lock(old, new, i, j2, up))


def _form_qc(old: State, new: State, y: Any, q: Any) -> Any:
    """Every member of quorum q voted for y: a QC for y, in view(y) (a leader collects it; a Byzantine
    one may keep it to itself, which changes nothing: a QC is a fact about votes)."""
    return z3.And(
        old.forall(("replica",), lambda i: z3.Implies(old.member(i, q), old.voted(i, y))),
        inserted(old, new, "qc", y),
        assigned(old, new, "qc_quorum", (y,), q),
    )


def _commit(rule: str) -> Transition:
    def body(old: State, new: State, b: Any, b1: Any, b2: Any) -> Any:
        """A replica commits b: b <- b1 <- b2 is a Three-Chain (each node carrying a QC for its direct
        parent, section 5) and b2 has a QC (carried by a b*). The variant: a Two-Chain b <- b1 with a QC
        for b1 (b2 = b1)."""
        if rule == "three-chain":
            chain = z3.And(_chain(old, b, b1, b2), old.qc(b2))
        else:
            chain = z3.And(
                b2 == b1, old.justify(b1, b), old.succ(old.view_of(b), old.view_of(b1)), old.qc(b1)
            )
        return z3.And(chain, inserted(old, new, "committed", b, b1, b2))

    params = (("b", "block"), ("b1", "block"), ("b2", "block"))
    return Transition("commit", params, ("committed",), body)


# Invariants. Names the tests use: NoConflictingCommits is the safety property; the rest auxiliary.


def _no_conflicting_commits(s: State) -> Any:
    return s.forall(
        ("block",) * 6,
        lambda a, a1, a2, b, b1, b2: z3.Implies(
            z3.And(s.committed(a, a1, a2), s.committed(b, b1, b2)),
            z3.Or(s.ext(a, b), s.ext(b, a)),
        ),
    )


def _committed_by_chain(s: State) -> Any:
    return s.forall(
        ("block",) * 3,
        lambda b, b1, b2: z3.Implies(
            s.committed(b, b1, b2), z3.And(_chain(s, b, b1, b2), s.qc(b2))
        ),
    )


def _three_chain_lemma(s: State) -> Any:
    """The paper's Lemma (Theorem 2's core): b heads a Three-Chain whose b2 has a QC => every QC in a
    view at or above b's is for a block extending b."""
    return s.forall(
        ("block",) * 4,
        lambda b, b1, b2, x: z3.Implies(
            z3.And(_chain(s, b, b1, b2), s.qc(b2), s.qc(x), at_most(s, s.view_of(b), s.view_of(x))),
            s.ext(b, x),
        ),
    )


def _conflict_kills_top(s: State) -> Any:
    """Before b2 has a QC: a QC at or above b's view that does not extend b means b2 is dead."""
    return s.forall(
        ("block",) * 4,
        lambda b, b1, b2, x: z3.Implies(
            z3.And(
                _chain(s, b, b1, b2),
                s.qc(x),
                at_most(s, s.view_of(b), s.view_of(x)),
                z3.Not(s.ext(b, x)),
            ),
            _dead(s, b2),
        ),
    )


def _vote_above_top_kills_it(s: State) -> Any:
    """A replica that voted for b2 and later for a block above it not extending b: b2 is dead. (The
    replica is quantified inside the premise, so the dead quorum depends on the blocks only.)"""
    return s.forall(
        ("block",) * 4,
        lambda b, b1, b2, x: z3.Implies(
            z3.And(
                _chain(s, b, b1, b2),
                s.lt(s.view_of(b2), s.view_of(x)),
                z3.Not(s.ext(b, x)),
                s.exists(("replica",), lambda i: z3.And(s.voted(i, b2), s.voted(i, x))),
            ),
            _dead(s, b2),
        ),
    )


def _committed_extends(s: State) -> Any:
    return s.forall(
        ("block",) * 4,
        lambda b, b1, b2, x: z3.Implies(
            z3.And(s.committed(b, b1, b2), s.qc(x), at_most(s, s.view_of(b), s.view_of(x))),
            s.ext(b, x),
        ),
    )


def _qc_by_quorum(s: State) -> Any:
    return s.forall(
        ("block", "replica"),
        lambda y, i: z3.Implies(z3.And(s.qc(y), s.member(i, s.qc_quorum(y))), s.voted(i, y)),
    )


def _qc_unique_per_view(s: State) -> Any:
    """Lemma 1 inside the model: two QCs in one view are for the same block."""
    return s.forall(
        ("block", "block"),
        lambda x, y: z3.Implies(z3.And(s.qc(x), s.qc(y), s.view_of(x) == s.view_of(y)), x == y),
    )


def _vote_once_per_view(s: State) -> Any:
    return s.forall(
        ("replica", "block", "block"),
        lambda i, x, y: z3.Implies(
            z3.And(s.voted(i, x), s.voted(i, y), s.view_of(x) == s.view_of(y)), x == y
        ),
    )


def _votes_up_to_vheight(s: State) -> Any:
    return s.forall(
        ("replica", "block"),
        lambda i, x: z3.Implies(s.voted(i, x), at_most(s, s.view_of(x), s.vheight(i))),
    )


def _vote_justified(s: State) -> Any:
    return s.forall(
        ("replica", "block", "block"),
        lambda i, y, j: z3.Implies(z3.And(s.voted(i, y), s.justify(y, j)), s.qc(j)),
    )


def _qc_justified(s: State) -> Any:
    return s.forall(
        ("block", "block"),
        lambda y, j: z3.Implies(z3.And(s.qc(y), s.justify(y, j)), s.qc(j)),
    )


def _lock_is_qc(s: State) -> Any:
    return s.forall(
        ("replica", "block"),
        lambda i, b: z3.Implies(s.locked(i, b), z3.And(s.qc(b), s.view_of(b) == s.lock_v(i))),
    )


def _lock_after_vote(s: State) -> Any:
    """A replica that voted for y, whose QC is for j1, whose QC is for j2, is locked at j2's view or
    above (it locked on the Two-Chain when it voted, and a lock only moves up)."""
    return s.forall(
        ("replica", "block", "block", "block"),
        lambda i, y, j1, j2: z3.Implies(
            z3.And(s.voted(i, y), s.justify(y, j1), s.justify(j1, j2)),
            at_most(s, s.view_of(j2), s.lock_v(i)),
        ),
    )


def _commit_locks_a_quorum(s: State) -> Any:
    """Every quorum has an honest member locked at or above a committed block's view."""
    return s.forall(
        ("block", "block", "block", "quorum"),
        lambda b, b1, b2, q: z3.Implies(
            s.committed(b, b1, b2),
            s.exists(
                ("replica",),
                lambda i: z3.And(s.member(i, q), at_most(s, s.view_of(b), s.lock_v(i))),
            ),
        ),
    )


def _liveness_clause_safe(compare: str) -> Callable[[State], Any]:
    def formula(s: State) -> Any:
        """Item 3: a replica locked at or above committed b's view, offered y whose justify is a QC for
        j that passes the liveness clause: y extends b."""
        return s.forall(
            ("block", "block", "block", "replica", "block", "block"),
            lambda b, b1, b2, i, y, j: z3.Implies(
                z3.And(
                    s.committed(b, b1, b2),
                    at_most(s, s.view_of(b), s.lock_v(i)),
                    s.justify(y, j),
                    s.qc(j),
                    _liveness_clause(s, i, j, compare),
                ),
                s.ext(b, y),
            ),
        )

    return formula


def safety_model(
    variant: HotStuffVariant = HotStuffVariant(), *, quorums_share_honest: bool = True
) -> ProtocolModel:
    """The abstract chained HotStuff; `quorums_share_honest`: whether it may assume the quorum axiom
    (lemma 1 and the intersection lemma proved)."""
    axioms = [Axiom("Views", _views), Axiom("BlockTree", _tree), Axiom("Justify", _justify)]
    if quorums_share_honest:
        axioms.append(Axiom("QuorumsShareHonest", quorums_meet))
    return ProtocolModel(
        name=MODEL,
        sorts=(Sort("replica"), Sort("quorum"), Sort("block", "blk"), Sort("view")),
        symbols=(
            relation("member", "replica", "quorum", mutable=False),
            relation("lt", "view", "view", mutable=False),
            relation("succ", "view", "view", mutable=False),
            relation("ext", "block", "block", mutable=False),
            relation("justify", "block", "block", mutable=False),
            function("view_of", ("block",), "view", mutable=False),
            constant("genesis", "block", mutable=False),
            constant("genesis_view", "view", mutable=False),
            relation("voted", "replica", "block"),
            function("vheight", ("replica",), "view"),
            relation("locked", "replica", "block"),
            function("lock_v", ("replica",), "view"),
            relation("qc", "block"),
            function("qc_quorum", ("block",), "quorum"),
            relation("committed", "block", "block", "block"),
        ),
        axioms=tuple(axioms),
        init=(_init,),
        transitions=(
            _vote(variant),
            *(
                (
                    Transition(
                        "update_lock",
                        (("i", "replica"), ("j1", "block"), ("j2", "block")),
                        ("locked", "lock_v"),
                        _update_lock,
                    ),
                )
                if variant.lock_update
                else ()
            ),
            Transition("form_qc", (("y", "block"), ("q", "quorum")), ("qc", "qc_quorum"), _form_qc),
            _commit(variant.commit_rule),
        ),
        invariants=(
            Invariant("NoConflictingCommits", _no_conflicting_commits),
            Invariant("CommittedByChain", _committed_by_chain, auxiliary=True),
            Invariant("CommittedExtends", _committed_extends, auxiliary=True),
            Invariant("ThreeChainLemma", _three_chain_lemma, auxiliary=True),
            Invariant("ConflictKillsTop", _conflict_kills_top, auxiliary=True),
            Invariant("VoteAboveTopKillsIt", _vote_above_top_kills_it, auxiliary=True),
            Invariant("QcByQuorum", _qc_by_quorum, auxiliary=True),
            Invariant("QcUniquePerView", _qc_unique_per_view, auxiliary=True),
            Invariant("VoteOncePerView", _vote_once_per_view, auxiliary=True),
            Invariant("VotesUpToVheight", _votes_up_to_vheight, auxiliary=True),
            Invariant("VoteJustified", _vote_justified, auxiliary=True),
            Invariant("QcJustified", _qc_justified, auxiliary=True),
            Invariant("LockIsQc", _lock_is_qc, auxiliary=True),
            Invariant("LockAfterVote", _lock_after_vote, auxiliary=True),
            Invariant("CommitLocksAQuorum", _commit_locks_a_quorum, auxiliary=True),
            Invariant(
                "LivenessClauseSafe",
                _liveness_clause_safe(variant.liveness_compare),
                auxiliary=True,
            ),
        ),
    )


def lemmas(variant: HotStuffVariant = HotStuffVariant()) -> list[Lemma]:
    """Every lemma of the proof set, in table order."""
    return [
        quorum_honest_intersection(variant.quorum),
        no_conflicting_qcs_in_view(variant.quorum, variant.vote_once),
        qc_of_2f_splits(),
        quorum_available(variant.quorum),
    ]


# The lemmas the quorum axiom rests on: the model assumes it only when both are proved.
AXIOM_LEMMAS = ("hotstuff.quorum_honest_intersection", "hotstuff.no_conflicting_qcs_in_view")


def prove(
    variant: HotStuffVariant = HotStuffVariant(),
    *,
    depth: int = DEFAULT_DEPTH,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> list[ProofResult]:
    """Every HotStuff obligation: the lemmas, then the safety model on the quorum fact they proved."""
    return lemmas_then_model(
        lemmas(variant),
        lambda proved: safety_model(variant, quorums_share_honest=proved.issuperset(AXIOM_LEMMAS)),
        depth=depth,
        timeout_ms=timeout_ms,
    )
