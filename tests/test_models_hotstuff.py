"""The HotStuff proofs (models/hotstuff.py): Lemma 1 for every f, and the three-chain commit rule.

Every proof is shown able to fail: QCs of 2f votes and an honest replica voting twice in a view fail
Lemma 1 (for every f, by a witness), and the safety model fails with a commit on a Two-Chain, with the
lock not updated, and with a vote that ignores the lock, each at the obligation that guards against it,
with a counterexample. Scripted runs replayed through the model's own formulas show that each broken
model really reaches two committed conflicting blocks, and that the real model refuses the same run.
Two variants the issue lists are proved safe, and the tests show why: the liveness clause with >=, and
safeNode with one clause only.

The default tier runs the real proof set, the lemmas of every variant, the full proof set of the
model without its lock update, and the replays; the full proof set of each other variant (its exact
failures) is in the slow tier.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping

import attrs
import pytest
import z3

from meshcheck import proofs
from meshcheck import registry
from meshcheck.cli import main
from meshcheck.models import hotstuff
from meshcheck.models import proof
from meshcheck.models.hotstuff import HotStuffVariant
from meshcheck.models.proof import ASSUMED
from meshcheck.models.proof import ProofResult
from meshcheck.models.proof import Vocabulary
from meshcheck.models.proof import check_inductive
from meshcheck.models.proof import prove_lemma
from meshcheck.models.proof.encode import (
    axioms,
)  # internals: the replays and the >= check below need them
from meshcheck.models.proof.encode import (
    invariant,
)  # internals: the replays and the >= check below need them
from meshcheck.protocol import Models
from meshcheck.protocol import Protocol
from tests import proof_checks
from tests.proof_checks import Fixed
from tests.proof_checks import Key
from tests.proof_checks import Replay

INVARIANTS = (
    "NoConflictingCommits",
    "CommittedByChain",
    "CommittedExtends",
    "ThreeChainLemma",
    "ConflictKillsTop",
    "VoteAboveTopKillsIt",
    "QcByQuorum",
    "QcUniquePerView",
    "VoteOncePerView",
    "VotesUpToVheight",
    "VoteJustified",
    "QcJustified",
    "LockIsQc",
    "LockAfterVote",
    "CommitLocksAQuorum",
    "LivenessClauseSafe",
)
TRANSITIONS = ("vote", "update_lock", "form_qc", "commit")
LEMMAS = (
    "hotstuff.quorum_honest_intersection",
    "hotstuff.no_conflicting_qcs_in_view",
    "hotstuff.qc_of_2f_splits",
    "hotstuff.quorum_available",
)


real = proof_checks.proved(hotstuff.prove)


lock_kept = proof_checks.proved(hotstuff.prove, HotStuffVariant(lock_update=False))


def _on(variant: HotStuffVariant, transition: str, *, axiom: bool = True) -> list[ProofResult]:
    """Initiation and consecution of the variant's model under one transition (the others' are in the
    slow tier's full run). `axiom`: the model may assume the quorum axiom."""
    model = hotstuff.safety_model(variant, quorums_share_honest=axiom)
    one = tuple(t for t in model.transitions if t.name == transition)
    assert len(one) == 1
    return check_inductive(attrs.evolve(model, transitions=one))


# --- the real proof set ----------------------------------------------------------------------------


def test_real_model_proves_every_obligation(real: list[ProofResult]) -> None:
    bounded: list[Key] = [("bounded", "NoConflictingCommits", proof_checks.BOUNDED)]
    proof_checks.assert_proves_every_obligation(real, LEMMAS, TRANSITIONS, INVARIANTS, bounded)


def test_the_real_model_assumes_the_quorum_axiom_and_only_then() -> None:
    assert "QuorumsShareHonest" in {a.name for a in hotstuff.safety_model().axioms}
    without = hotstuff.safety_model(quorums_share_honest=False)
    assert "QuorumsShareHonest" not in {a.name for a in without.axioms}


# --- 1. Lemma 1 and the quorum lemmas, for every f ----------------------------------------------------


@pytest.mark.parametrize(
    "lemma",
    [lem for lem in hotstuff.lemmas() if lem.name != "hotstuff.no_conflicting_qcs_in_view"],
    ids=lambda lemma: lemma.name,
)
def test_lemmas_hold_for_large_f_not_only_small(lemma: proof.Lemma) -> None:
    proof_checks.assert_holds_at_large_f(lemma)


def test_lemma_1_is_about_one_vote_per_view_for_every_f() -> None:
    """Lemma 1's claim is that its hypotheses contradict each other. Without "an honest replica votes
    once per view" they do not, for f = 1, 2 and 10^6: the vote rule is what the lemma rests on."""
    f = z3.Int("f")
    once = hotstuff.no_conflicting_qcs_in_view()
    twice = hotstuff.no_conflicting_qcs_in_view(vote_once=False)
    assert set(twice.hypotheses) < set(once.hypotheses)
    for value in (1, 2, 10**6):
        s = z3.Solver()
        s.add(*twice.hypotheses, f == value)
        assert s.check() == z3.sat
        s.add(*once.hypotheses)
        assert s.check() == z3.unsat


def _two_qcs_one_view(n: int, f: int, size: int) -> bool:
    """Brute force: can two sets of at least `size` of n replicas share no honest one, for some B of at
    most f Byzantine replicas (each honest voter voting once, the Byzantine ones for both)?"""
    members = range(n)
    quorums = [set(c) for k in range(size, n + 1) for c in itertools.combinations(members, k)]
    byzantine = [set(c) for k in range(f + 1) for c in itertools.combinations(members, k)]
    return any(not (q1 & q2) - b for q1 in quorums for q2 in quorums for b in byzantine)


@pytest.mark.parametrize("f", [1, 2])
def test_venn_lemma_agrees_with_brute_force_on_small_clusters(f: int) -> None:
    n = 3 * f + 1
    assert not _two_qcs_one_view(n, f, 2 * f + 1)
    assert _two_qcs_one_view(n, f, 2 * f)
    assert prove_lemma(hotstuff.no_conflicting_qcs_in_view("2f+1")).proved
    assert not prove_lemma(hotstuff.no_conflicting_qcs_in_view("2f")).proved


def test_qcs_of_2f_votes_split_at_n_4() -> None:
    quorum_2f = [prove_lemma(lemma) for lemma in hotstuff.lemmas(HotStuffVariant(quorum="2f"))]
    lemma1 = proof_checks.ints(proof_checks.lemma(quorum_2f, "hotstuff.no_conflicting_qcs_in_view"))
    proof_checks.assert_two_quorums_of_2f_split(lemma1)
    inter = proof_checks.ints(proof_checks.lemma(quorum_2f, "hotstuff.quorum_honest_intersection"))
    assert inter["|Q1 & Q2 honest|"] == 0
    assert proof_checks.lemma(
        quorum_2f, "hotstuff.quorum_available"
    ).proved  # 2f is live, just not safe


def test_qcs_of_2f_votes_split_for_every_f(real: list[ProofResult]) -> None:
    """The witness lemma, proved for all f; here its regions checked for a few concrete f."""
    assert proof_checks.lemma(real, "hotstuff.qc_of_2f_splits").proved
    for f in range(1, 8):
        n = 3 * f + 1
        honest_q1, honest_q2, byzantine_both, idle = f, f, f, n - 3 * f
        assert honest_q1 + honest_q2 + byzantine_both + idle == n and idle >= 0
        assert honest_q1 + byzantine_both == 2 * f and byzantine_both <= f


def test_an_honest_replica_voting_twice_breaks_lemma_1() -> None:
    ints = proof_checks.ints(prove_lemma(hotstuff.no_conflicting_qcs_in_view(vote_once=False)))
    # The smallest cluster: one honest replica, which votes for both blocks.
    assert (ints["f"], ints["n"], ints["|B|"]) == (0, 1, 0)
    assert ints["|Q1 & Q2 honest|"] == ints["|Q1|"] == ints["|Q2|"] == 1
    # And at n = 4: one honest replica voting twice is enough.
    lemma = hotstuff.no_conflicting_qcs_in_view(vote_once=False)
    f = z3.Int("f")
    four = proof_checks.ints(
        prove_lemma(attrs.evolve(lemma, hypotheses=(*lemma.hypotheses, f == 1)))
    )
    assert four["n"] == 4 and four["|Q1|"] >= 3 and four["|Q2|"] >= 3
    assert four["|Q1 & Q2 honest|"] >= 1


@pytest.mark.slow
def test_a_qc_of_2f_votes_breaks_the_model_where_qcs_form() -> None:
    """Lemma 1 failed, so the model is not given the quorum axiom, and fails where two QCs meet."""
    quorum_2f = hotstuff.prove(HotStuffVariant(quorum="2f"))
    model_failures = {k for k in proof_checks.failed(quorum_2f) if k[0] != "lemma"}
    assert ("consecution", "QcUniquePerView", "form_qc") in model_failures
    assert ("consecution", "ThreeChainLemma", "form_qc") in model_failures
    assert {k[2] for k in model_failures} <= {"form_qc", "commit"}
    assert (
        "bounded",
        "NoConflictingCommits",
        proof_checks.BOUNDED,
    ) not in model_failures  # needs > 4 steps
    cex = proof_checks.one(quorum_2f, ("consecution", "QcUniquePerView", "form_qc")).counterexample
    assert cex is not None and cex.violated == "QcUniquePerView"
    before, after = cex.steps
    assert before.action == ASSUMED and after.action == "form_qc"
    # The new QC's quorum and the old QC's in the same view share no replica.
    y, q = after.params["y"], after.params["q"]
    views = cex.fixed["view_of"]
    other = next(x for x in after.state["qc"] if x != y and views[x] == views[y])
    members = cex.fixed["member"]
    old_q = before.state["qc_quorum"][other]
    assert not {i for i, p in members if p == q} & {i for i, p in members if p == old_q}
    text = proofs.render(quorum_2f)
    assert "FAILED: hotstuff.safety consecution: QcUniquePerView under form_qc" in text
    assert proofs.exit_code(quorum_2f) == 1


# --- 2. the commit rule: broken variants ----------------------------------------------------------


def test_lock_not_updated_breaks_the_lock_invariant(lock_kept: list[ProofResult]) -> None:
    assert proof_checks.failed(lock_kept) == {("consecution", "LockAfterVote", "vote")}
    assert "update_lock" not in {r.transition for r in lock_kept}
    cex = proof_checks.one(lock_kept, ("consecution", "LockAfterVote", "vote")).counterexample
    assert cex is not None
    before, after = cex.steps
    p = after.params
    # i voted for y, whose QC is for j1, whose QC is for j2 above i's lock; the lock did not move.
    assert (p["y"], p["j1"]) in cex.fixed["justify"] and (p["j1"], p["j2"]) in cex.fixed["justify"]
    assert after.state["lock_v"][p["i"]] == before.state["lock_v"][p["i"]]
    assert (after.state["lock_v"][p["i"]], cex.fixed["view_of"][p["j2"]]) in cex.fixed["lt"]


@pytest.mark.slow
def test_voting_twice_in_a_view_fails_at_vote_even_with_the_quorum_axiom() -> None:
    results = _on(HotStuffVariant(vote_once=False), "vote", axiom=True)
    assert ("consecution", "VoteOncePerView", "vote") in {
        proof_checks.key(r) for r in results if not r.proved
    }


# --- 3. the liveness clause, and the variants that stay safe ----------------------------------------


def test_liveness_clause_lemma_is_proved_at_every_step(real: list[ProofResult]) -> None:
    for t in TRANSITIONS:
        assert proof_checks.one(real, ("consecution", "LivenessClauseSafe", t)).proved
        assert proof_checks.one(real, ("consecution", "CommitLocksAQuorum", t)).proved


UNIQUE_QCS = ("QcUniquePerView", "QcByQuorum")


def test_ge_admits_no_vote_that_gt_refuses() -> None:
    """Why >= in the liveness clause is safe: in every state where the invariants hold, a QC in the view
    of a replica's lock is its locked QC (QCs are unique per view: Lemma 1), so a block passing
    "justify.view >= lockedQC.view" with equality extends the locked block and passes the safety clause.
    """
    model = hotstuff.safety_model()
    vocab = Vocabulary(model)
    s = vocab.state("@0")
    i = z3.Const("i", vocab.sorts["replica"])
    lk, j, y = (z3.Const(n, vocab.sorts["block"]) for n in ("lk", "j", "y"))
    solver = z3.Solver()
    solver.add(*axioms(vocab), *(invariant(inv, s) for inv in model.invariants))
    solver.add(s.locked(i, lk), s.justify(y, j), s.qc(j), s.view_of(j) == s.lock_v(i))
    solver.add(z3.Not(s.ext(lk, y)))
    assert solver.check() == z3.unsat
    # Without the facts that make QCs unique per view, the same state is possible.
    weaker = [inv for inv in model.invariants if inv.name not in UNIQUE_QCS]
    solver = z3.Solver()
    solver.add(*axioms(vocab), *(invariant(inv, s) for inv in weaker))
    solver.add(s.locked(i, lk), s.justify(y, j), s.qc(j), s.view_of(j) == s.lock_v(i))
    solver.add(z3.Not(s.ext(lk, y)))
    assert solver.check() == z3.sat


# --- scripted runs, replayed through the model's formulas --------------------------------------------


_replay = functools.partial(proof_checks.replay, safety="NoConflictingCommits")


def _tree(
    placed: Mapping[str, tuple[str, str]], members: frozenset[tuple[str, str]], replicas: int
) -> tuple[dict[str, tuple[str, ...]], Fixed]:
    """A universe: genesis g in view v0; each other block with (its parent, its view), carrying a QC
    for its parent (every parent a direct one, one view lower, as in section 5's chains)."""
    blocks = ("g", *placed)
    top = max(int(v[1:]) for _, v in placed.values())
    views = tuple(f"v{k}" for k in range(top + 1))
    parent = {b: p for b, (p, _) in placed.items()}

    def ancestors(b: str) -> set[str]:
        out = {b}
        while b in parent:
            b = parent[b]
            out.add(b)
        return out

    universe = {
        "replica": tuple(f"r{k}" for k in range(replicas)),
        "quorum": tuple(sorted({q for _, q in members})),
        "block": blocks,
        "view": views,
    }
    fixed: Fixed = {
        "member": members,
        "lt": frozenset((a, b) for k, a in enumerate(views) for b in views[k + 1 :]),
        "succ": frozenset(itertools.pairwise(views)),
        "ext": frozenset((a, b) for b in blocks for a in ancestors(b)),
        "justify": frozenset(parent.items()),
        "view_of": {"g": "v0", **{b: v for b, (_, v) in placed.items()}},
        "genesis": "g",
        "genesis_view": "v0",
    }
    return universe, fixed


def _vote(i: str, y: str, j1: str, j2: str, lk: str = "g") -> tuple[str, dict[str, str]]:
    return ("vote", {"i": i, "y": y, "j1": j1, "j2": j2, "lk": lk})


def _qc(y: str, q: str = "q0") -> tuple[str, dict[str, str]]:
    return ("form_qc", {"y": y, "q": q})


def _commit(b: str, b1: str, b2: str) -> tuple[str, dict[str, str]]:
    return ("commit", {"b": b, "b1": b1, "b2": b2})


def _chain(i: str, q: str, b: str, b1: str, b2: str) -> list[tuple[str, dict[str, str]]]:
    """i votes b <- b1 <- b2 (b's parent is genesis), a QC forms on each, and b is committed."""
    return [
        _vote(i, b, "g", "g"),
        _qc(b, q),
        _vote(i, b1, b, "g"),
        _qc(b1, q),
        _vote(i, b2, b1, b),
        _qc(b2, q),
        _commit(b, b1, b2),
    ]


# Two branches off genesis: b <- b1 <- b2 in views 1-3, w <- w1 <- w2 in views 4-6; one honest replica,
# which is a quorum on its own (the others are Byzantine and vote for everything).
BRANCHES = {
    "b": ("g", "v1"),
    "b1": ("b", "v2"),
    "b2": ("b1", "v3"),
    "w": ("g", "v4"),
    "w1": ("w", "v5"),
    "w2": ("w1", "v6"),
}
ONE = frozenset({("r0", "q0")})
BOTH_CHAINS = [*_chain("r0", "q0", "b", "b1", "b2"), *_chain("r0", "q0", "w", "w1", "w2")]


def test_the_real_model_commits_then_refuses_the_conflicting_branch() -> None:
    """r0 votes the b chain, locking on b when it votes for b2, and b is committed; w, which carries
    genesis's QC (view 0, below the lock) and does not extend b, fails both safeNode clauses."""
    universe, fixed = _tree(BRANCHES, ONE, 1)
    assert _replay(hotstuff.safety_model(), universe, fixed, BOTH_CHAINS) == Replay(True, 7, False)


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(HotStuffVariant(lock_update=False), id="lock-not-updated"),
        pytest.param(
            HotStuffVariant(safe_node="ignored"), id="lock-ignored", marks=pytest.mark.slow
        ),
    ],
)
def test_without_the_lock_two_conflicting_blocks_are_committed(variant: HotStuffVariant) -> None:
    universe, fixed = _tree(BRANCHES, ONE, 1)
    run = BOTH_CHAINS
    broken = hotstuff.safety_model(variant)
    assert _replay(broken, universe, fixed, run) == Replay(True, len(run), True)
    assert _replay(broken, universe, fixed, run[:-1]).violated is False


def test_a_two_chain_commit_commits_two_conflicting_blocks() -> None:
    """b is committed on b <- b1 alone; r0 voted for b1 locking on b's justify (genesis), so nothing
    stops the w branch, committed the same way."""
    universe, fixed = _tree(BRANCHES, ONE, 1)
    run = [
        _vote("r0", "b", "g", "g"),
        _qc("b"),
        _vote("r0", "b1", "b", "g"),
        _qc("b1"),
        _commit("b", "b1", "b1"),
        _vote("r0", "w", "g", "g"),
        _qc("w"),
        _vote("r0", "w1", "w", "g"),
        _qc("w1"),
        _commit("w", "w1", "w1"),
    ]
    broken = hotstuff.safety_model(HotStuffVariant(commit_rule="two-chain"))
    assert _replay(broken, universe, fixed, run) == Replay(True, len(run), True)
    # The real rule refuses the first commit (no Three-Chain yet).
    assert _replay(hotstuff.safety_model(), universe, fixed, run) == Replay(True, 4, False)


# x in view 1 conflicts with b; w extends x and carries x's QC.
STALE = {
    "x": ("g", "v1"),
    "b": ("g", "v2"),
    "b1": ("b", "v3"),
    "b2": ("b1", "v4"),
    "w": ("x", "v5"),
}


def test_the_liveness_clause_lets_a_lagging_replica_vote_but_no_qc_forms() -> None:
    """What LivenessClauseSafe does not claim, and why it need not: r1, which missed the b chain and is
    still locked on genesis, is let vote for w (conflicting with the committed b) by the liveness
    clause alone (its lock is not b, so the safety clause is out), since w's justify, x's QC in view 1,
    is above genesis's view. r0, locked on b, refuses w, so w's QC never forms."""
    universe, fixed = _tree(STALE, ONE, 2)
    prefix = [_vote("r0", "x", "g", "g"), _qc("x"), *_chain("r0", "q0", "b", "b1", "b2")]
    lagging = _vote("r1", "w", "x", "g", lk="b")  # lk = b: only the liveness clause can admit it
    model = hotstuff.safety_model()
    n = len(prefix) + 1
    assert _replay(model, universe, fixed, [*prefix, lagging]) == Replay(True, n, False)
    for refused in (_vote("r0", "w", "x", "g", lk="b"), _qc("w")):
        assert _replay(model, universe, fixed, [*prefix, lagging, refused]).fired == n
    # Without the liveness clause r1 could not vote for w this way.
    liveless = hotstuff.safety_model(HotStuffVariant(safe_node="safety-only"))
    assert _replay(liveless, universe, fixed, [*prefix, lagging]).fired == n - 1


# Two branches in the same views 1-3.
TWINS = {
    "b": ("g", "v1"),
    "b1": ("b", "v2"),
    "b2": ("b1", "v3"),
    "w": ("g", "v1"),
    "w1": ("w", "v2"),
    "w2": ("w1", "v3"),
}


def test_qcs_of_2f_commit_two_branches_in_the_same_views() -> None:
    """q0 = {r0} and q1 = {r1}: QCs of 2f votes share only Byzantine replicas. Each honest replica
    votes for one branch, once per view, and both are committed."""
    members = frozenset({("r0", "q0"), ("r1", "q1")})
    universe, fixed = _tree(TWINS, members, 2)
    run = [*_chain("r0", "q0", "b", "b1", "b2"), *_chain("r1", "q1", "w", "w1", "w2")]
    broken = hotstuff.safety_model(quorums_share_honest=False)
    assert _replay(broken, universe, fixed, run) == Replay(True, len(run), True)
    # The real model assumes what lemma 1 proved: these two quorums cannot exist.
    assert not _replay(hotstuff.safety_model(), universe, fixed, run).started


def test_an_honest_replica_voting_twice_per_view_commits_both_branches() -> None:
    """r0 votes for both branches in views 1 and 2 (its lock stays at genesis), then for b2, locking on
    b in view 1; w2 carries w1's QC from view 2, above the lock, so the liveness clause lets r0 vote
    for it too."""
    universe, fixed = _tree(TWINS, ONE, 1)
    run = [
        _vote("r0", "b", "g", "g"),
        _vote("r0", "w", "g", "g"),
        _qc("b"),
        _qc("w"),
        _vote("r0", "b1", "b", "g"),
        _vote("r0", "w1", "w", "g"),
        _qc("b1"),
        _qc("w1"),
        _vote("r0", "b2", "b1", "b"),
        _vote("r0", "w2", "w1", "w"),
        _qc("b2"),
        _qc("w2"),
        _commit("b", "b1", "b2"),
        _commit("w", "w1", "w2"),
    ]
    broken = hotstuff.safety_model(HotStuffVariant(vote_once=False))
    assert _replay(broken, universe, fixed, run) == Replay(True, len(run), True)
    assert _replay(hotstuff.safety_model(), universe, fixed, run) == Replay(True, 1, False)


# --- the full proof set of each variant (slow) --------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant",
    [
        HotStuffVariant(liveness_compare=">="),
        HotStuffVariant(safe_node="safety-only"),
        HotStuffVariant(safe_node="liveness-only"),
    ],
    ids=["liveness->=", "safety-clause-only", "liveness-clause-only"],
)
def test_variants_that_stay_safe_prove_everything(variant: HotStuffVariant) -> None:
    results = hotstuff.prove(variant)
    assert [r for r in results if not r.proved] == []
    assert (
        len(results)
        == len(LEMMAS) + 1 + len(TRANSITIONS) * (1 + len(INVARIANTS)) + len(INVARIANTS) + 1
    )


@pytest.mark.slow
def test_full_failures_of_a_two_chain_commit() -> None:
    results = hotstuff.prove(HotStuffVariant(commit_rule="two-chain"))
    assert proof_checks.failed(results) == {
        ("consecution", i, "commit")
        for i in (
            "NoConflictingCommits",
            "CommittedByChain",
            "CommittedExtends",
            "CommitLocksAQuorum",
            "LivenessClauseSafe",
        )
    }


@pytest.mark.slow
def test_full_failures_of_a_vote_that_ignores_the_lock() -> None:
    results = hotstuff.prove(HotStuffVariant(safe_node="ignored"))
    assert proof_checks.failed(results) == {("consecution", "VoteAboveTopKillsIt", "vote")}


@pytest.mark.slow
def test_full_failures_of_voting_twice() -> None:
    results = hotstuff.prove(HotStuffVariant(vote_once=False))
    failed = proof_checks.failed(results)
    assert ("lemma", "hotstuff.no_conflicting_qcs_in_view", None) in failed
    assert ("consecution", "VoteOncePerView", "vote") in failed
    assert ("lemma", "hotstuff.quorum_honest_intersection", None) not in failed


# --- the registry and the command line ----------------------------------------------------------------

DESCRIPTOR = Protocol(
    name="hotstuff",
    title="HotStuff (the proofs only)",
    models=Models(spec="HotStuff"),
    proofs="meshcheck.models.hotstuff:prove",
)


def test_a_descriptor_naming_the_proofs_runs_them(
    real: list[ProofResult],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with registry.registered(DESCRIPTOR):
        assert proofs.proof_set("hotstuff") is hotstuff.prove
        # `meshcheck prove hotstuff` end to end, on the results already computed
        monkeypatch.setattr(hotstuff, "prove", lambda: real)
        assert main(["prove", "hotstuff", "--table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| obligation")
    assert lines[-1].startswith(f"{len(real)}/{len(real)} proved in ")
    assert sum(line.startswith("| hotstuff.") for line in lines) == len(real)
