"""The PBFT proofs (models/pbft.py): quorum lemmas and the vote rule for every f, and Agreement.

Every proof is shown able to fail: a quorum of 2f, a checkpoint stable on f+1 proofs, a client that
accepts f replies, REJECT at f+1 for any n, votes counted twice or in two tallies, and a new primary that
ignores the highest prepared certificate must each fail the obligation that guards against it, with a
counterexample. Scripted runs replayed through the model's own formulas show that the two broken
Agreement models really reach two different committed requests, and that the real model refuses the
same run.
"""

from __future__ import annotations

import functools
import itertools

import attrs
import pytest
import z3

from meshcheck import proofs
from meshcheck.impl.base.values import FrozenDict
from meshcheck.models import pbft
from meshcheck.models import proof
from meshcheck.models.pbft import PbftVariant
from meshcheck.models.proof import ASSUMED
from meshcheck.models.proof import ProofResult
from meshcheck.models.proof import prove_lemma
from tests import proof_checks
from tests.command import meshcheck
from tests.proof_checks import Key
from tests.proof_checks import Replay

INVARIANTS = (
    "Agreement",
    "PreparesOnce",
    "PreparesPrePrepared",
    "CommitsPrepared",
    "CommitsPrePrepared",
    "CommitsAgree",
    "CommittedByQuorum",
    "PrePreparedBlocks",
    "BlockedForever",
)
TRANSITIONS = ("start_view_change", "new_view", "prepare", "commit", "execute")
LEMMAS = (
    "pbft.quorum_intersection",
    "pbft.quorum_honest_intersection",
    "pbft.quorum_has_honest",
    "pbft.quorum_available",
    "pbft.quorum_2f_too_small",
    "pbft.quorum_for_any_n",
    "pbft.reply_has_honest",
    "pbft.checkpoint_survives_view_change",
    "pbft.votes_exclusive",
    "pbft.votes_honest_approve_stands",
    "pbft.votes_honest_reject_stands",
    "pbft.votes_decision_stands",
    "pbft.votes_complete_decides",
)


real = proof_checks.proved(pbft.prove)


quorum_2f = proof_checks.proved(pbft.prove, PbftVariant(quorum="2f"))


ignores_highest = proof_checks.proved(pbft.prove, PbftVariant(new_view_uses_highest=False))


# --- the real proof set ----------------------------------------------------------------------------


def test_real_model_proves_every_obligation(real: list[ProofResult]) -> None:
    bounded: list[Key] = [("bounded", "Agreement", proof_checks.BOUNDED)]
    proof_checks.assert_proves_every_obligation(real, LEMMAS, TRANSITIONS, INVARIANTS, bounded)


@pytest.mark.parametrize("lemma", pbft.lemmas(), ids=lambda lemma: lemma.name)
def test_lemmas_hold_for_large_f_not_only_small(lemma: proof.Lemma) -> None:
    proof_checks.assert_holds_at_large_f(lemma)


def _honest_overlaps(n: int, f: int, size: int) -> bool:
    """Brute force: every two subsets of at least `size` of n replicas share one outside every B, |B| <= f."""
    members = range(n)
    quorums = [
        set(c) for k in range(max(size, 1), n + 1) for c in itertools.combinations(members, k)
    ]
    byzantine = [set(c) for k in range(f + 1) for c in itertools.combinations(members, k)]
    return all(q1 & q2 - b for q1 in quorums for q2 in quorums for b in byzantine)


@pytest.mark.parametrize("f", [1, 2])
def test_venn_lemma_agrees_with_brute_force_on_small_clusters(f: int) -> None:
    """The region-counting lemma says what enumerating every subset of 3f+1 replicas says."""
    n = 3 * f + 1
    assert _honest_overlaps(n, f, 2 * f + 1)
    assert not _honest_overlaps(n, f, 2 * f)
    assert prove_lemma(pbft.quorum_honest_intersection("2f+1")).proved
    assert not prove_lemma(pbft.quorum_honest_intersection("2f")).proved


# --- a quorum of 2f ----------------------------------------------------------------------------------


def test_quorum_2f_fails_the_quorum_lemmas_with_n_4(quorum_2f: list[ProofResult]) -> None:
    inter = proof_checks.ints(proof_checks.lemma(quorum_2f, "pbft.quorum_honest_intersection"))
    proof_checks.assert_two_quorums_of_2f_split(inter)
    share = proof_checks.ints(proof_checks.lemma(quorum_2f, "pbft.quorum_intersection"))
    assert share["|Q1 & Q2|"] < share["f"] + 1
    # What 2f still gives: a quorum holds an honest replica (f >= 1), and the honest ones make one.
    assert proof_checks.lemma(quorum_2f, "pbft.quorum_has_honest").proved
    assert proof_checks.lemma(quorum_2f, "pbft.quorum_available").proved


def test_quorum_2f_breaks_agreement_where_two_quorums_meet(quorum_2f: list[ProofResult]) -> None:
    model_failures = {k for k in proof_checks.failed(quorum_2f) if k[0] != "lemma"}
    assert model_failures == {
        ("consecution", "CommitsAgree", "commit"),
        ("consecution", "BlockedForever", "new_view"),
    }
    cex = proof_checks.one(quorum_2f, ("consecution", "CommitsAgree", "commit")).counterexample
    assert cex is not None and cex.violated == "CommitsAgree"
    before, after = cex.steps
    assert before.action == ASSUMED and after.action == "commit"
    # Two replicas commit different requests in one view, on quorums with no replica in common.
    v = after.params["v"]
    committed = {(i, r) for i, u, r in after.state["commits"] if u == v}
    assert len({r for _, r in committed}) == 2
    members = cex.fixed["member"]
    old_q = next(
        before.state["cert_quorum"][(v, r)] for _, r in committed if r != after.params["r"]
    )
    new_q = after.params["q"]
    assert not {i for i, q in members if q == old_q} & {i for i, q in members if q == new_q}
    text = proofs.render(quorum_2f)
    assert "FAILED: pbft.agreement consecution: CommitsAgree under commit" in text
    assert cex.render() in text
    assert proofs.exit_code(quorum_2f) == 1


def test_every_quorum_size_up_to_2f_is_too_small(real: list[ProofResult]) -> None:
    """The witness lemma, proved for all f; here its witness checked for a few concrete f and q."""
    assert proof_checks.lemma(real, "pbft.quorum_2f_too_small").proved
    for f in range(1, 6):
        n = 3 * f + 1
        for q in range(1, 2 * f + 1):
            both = max(0, 2 * q - n)
            assert both <= f and 2 * (q - both) + both <= n  # all shared replicas can be Byzantine


def test_quorum_2f_plus_2_is_not_available() -> None:
    r = prove_lemma(pbft.quorum_available("2f+2"))
    ints = proof_checks.ints(r)
    assert ints["n"] - ints["|B|"] < 2 * ints["f"] + 2


def test_clusters_larger_than_3f_plus_1_need_larger_quorums(real: list[ProofResult]) -> None:
    """2f+1 of n > 3f+1 replicas is not a Byzantine quorum; ceil((n+f+1)/2) is, and stays available."""
    assert proof_checks.lemma(real, "pbft.quorum_for_any_n").proved
    lemma = pbft.quorum_for_any_n("2f+1")
    ints = proof_checks.ints(prove_lemma(lemma))
    assert ints["n"] > 3 * ints["f"] + 1 and ints["|Q1 & Q2 honest|"] == 0
    f, n = z3.Ints("f n")
    one = proof_checks.ints(
        prove_lemma(attrs.evolve(lemma, hypotheses=(*lemma.hypotheses, f == 1)))
    )
    assert (one["n"], one["|Q1|"], one["|Q2|"], one["|Q1 & Q2|"], one["|B|"]) == (5, 3, 3, 1, 1)
    available = proof.Lemma(
        "available", "", (f >= 0, n >= 3 * f + 1), n - f >= (n + f + 2) / 2, (("n", n),)
    )
    assert prove_lemma(available).proved


# --- checkpoints and replies -------------------------------------------------------------------------


def test_checkpoint_on_f_plus_1_proofs_can_miss_every_view_change_quorum() -> None:
    real = prove_lemma(pbft.checkpoint_survives_view_change("2f+1"))
    assert real.proved
    broken = prove_lemma(pbft.checkpoint_survives_view_change("f+1"))
    ints = proof_checks.ints(broken)
    f = ints["f"]
    assert (f, ints["n"]) == (1, 4)
    assert ints["|C|"] >= f + 1 and ints["|V|"] >= 2 * f + 1
    assert ints["|C & V|"] >= 1 and ints["|C & V honest|"] == 0  # they meet only in a Byzantine one
    # What f+1 does give: the proofs hold an honest replica, so the digest is right.
    assert prove_lemma(pbft.reply_has_honest("f+1")).proved


def test_f_replies_may_all_be_byzantine() -> None:
    ints = proof_checks.ints(prove_lemma(pbft.reply_has_honest("f")))
    assert ints["|R|"] == ints["|R & B|"] >= 1


# --- the vote rule -----------------------------------------------------------------------------------


def _both(ints: FrozenDict, approved: str, rejected: str, variant: PbftVariant) -> bool:
    n, f = ints["n"], ints["f"]
    return pbft.decision_of(ints[approved], 0, n, f, variant) == "APPROVE" and (
        pbft.decision_of(0, ints[rejected], n, f, variant) == "REJECT"
    )


def test_reject_at_f_plus_1_is_exclusive_only_at_3f_plus_1() -> None:
    variant = PbftVariant(reject_at="f+1")
    ints = proof_checks.ints(prove_lemma(pbft.votes_exclusive(variant)))
    assert ints["n"] > 3 * ints["f"] + 1 and ints["|A & R|"] == 0
    assert ints["|A|"] + ints["|R|"] <= ints["n"]
    assert _both(ints, "|A|", "|R|", variant)
    # The same rule with n = 3f+1 exactly is the model's rule, and exclusive.
    lemma = pbft.votes_exclusive(variant)
    f, n = z3.Ints("f n")
    exact = attrs.evolve(lemma, hypotheses=(*lemma.hypotheses, n == 3 * f + 1))
    assert prove_lemma(exact).proved


def test_votes_counted_twice_can_both_approve_and_reject() -> None:
    variant = PbftVariant(one_vote_per_replica=False)
    ints = proof_checks.ints(prove_lemma(pbft.votes_exclusive(variant)))
    assert ints["|A & R|"] >= 1 and _both(ints, "|A|", "|R|", variant)


def test_two_tallies_split_by_an_equivocating_replica() -> None:
    variant = PbftVariant(one_tally=False)
    ints = proof_checks.ints(prove_lemma(pbft.votes_exclusive(variant)))
    assert (ints["f"], ints["n"]) == (1, 4)
    # Decider 1 approves and decider 2 rejects; only Byzantine replicas are on both sides.
    assert _both(ints, "|A1|", "|R2|", variant)
    assert 1 <= ints["|A1 & R2|"] <= ints["|B|"] <= ints["f"]


def test_vote_lemmas_fail_with_a_quorum_of_2f(quorum_2f: list[ProofResult]) -> None:
    assert {"pbft.votes_exclusive", "pbft.votes_honest_reject_stands"} <= {
        k[1] for k in proof_checks.failed(quorum_2f) if k[0] == "lemma"
    }


@pytest.mark.parametrize("f", [0, 1, 2, 5])
def test_decision_of_is_the_documented_rule(f: int) -> None:
    for n in (3 * f + 1, 3 * f + 3):
        for a in range(n + 1):
            for r in range(n + 1 - a):
                want = (
                    "APPROVE" if a >= 2 * f + 1 else "REJECT" if r >= n - 2 * f else "NO_CONSENSUS"
                )
                assert pbft.decision_of(a, r, n, f) == want


# --- a new view that ignores the highest prepared certificate ----------------------------------------


def test_ignoring_the_highest_certificate_breaks_blocked_forever(
    ignores_highest: list[ProofResult],
) -> None:
    assert proof_checks.failed(ignores_highest) == {("consecution", "BlockedForever", "new_view")}
    cex = proof_checks.one(
        ignores_highest, ("consecution", "BlockedForever", "new_view")
    ).counterexample
    assert cex is not None
    before, after = cex.steps
    p = after.params
    # A member of the view-change quorum committed another request below the new view; the new primary
    # pre-prepares r anyway, and that commit can no longer be blocked.
    members = {i for i, q in cex.fixed["member"] if q == p["q"]}
    reported = {(u, y) for i, u, y in before.state["commits"] if i in members}
    lower = {(u, y) for u, y in reported if (u, p["v"]) in cex.fixed["lt"]}
    assert any(y != p["r"] for _, y in lower)
    assert after.state["pre_prepared"] - before.state["pre_prepared"] == {(p["v"], p["r"])}


# --- scripted runs, replayed through the model's formulas ----------------------------------------------


_replay = functools.partial(proof_checks.replay, safety="Agreement")


# Views v0 < v1, requests req0 and req1; the replicas are the honest ones (the model's abstraction).
SORTS = {"view": ("v0", "v1"), "request": ("req0", "req1")}


def _nv(v: str, r: str, q: str, w: str = "v0", h: str = "r0", c: str = "q0") -> dict[str, str]:
    return {"v": v, "r": r, "q": q, "w": w, "h": h, "c": c}


def test_a_quorum_of_2f_commits_two_requests_in_one_view() -> None:
    """q0 = {r0} and q1 = {r1}: quorums of 2f that share only Byzantine replicas. A Byzantine primary
    pre-prepares both requests; each quorum prepares, commits and executes its own."""
    universe = {"replica": ("r0", "r1"), **SORTS, "quorum": ("q0", "q1")}
    fixed = {"member": frozenset({("r0", "q0"), ("r1", "q1")}), "lt": frozenset({("v0", "v1")})}
    run = [
        ("new_view", _nv("v0", "req0", "q0")),
        ("new_view", _nv("v0", "req1", "q1")),
        ("prepare", {"i": "r0", "v": "v0", "r": "req0"}),
        ("prepare", {"i": "r1", "v": "v0", "r": "req1"}),
        ("commit", {"i": "r0", "v": "v0", "r": "req0", "q": "q0"}),
        ("commit", {"i": "r1", "v": "v0", "r": "req1", "q": "q1"}),
        ("execute", {"v": "v0", "r": "req0", "q": "q0"}),
        ("execute", {"v": "v0", "r": "req1", "q": "q1"}),
    ]
    broken = pbft.agreement_model(quorums_intersect=False)
    assert _replay(broken, universe, fixed, run) == Replay(True, len(run), True)
    assert _replay(broken, universe, fixed, run[:-1]).violated is False
    # The real model assumes what its lemma proved: these two quorums cannot exist.
    assert not _replay(pbft.agreement_model(), universe, fixed, run).started


def test_a_new_view_that_ignores_the_highest_certificate_loses_a_commit() -> None:
    """r0 (the quorum's one honest member) commits req0 in v0, moves to v1 and reports it; the new
    primary pre-prepares req1 anyway, and req1 is committed too."""
    universe = {"replica": ("r0",), **SORTS, "quorum": ("q0",)}
    fixed = {"member": frozenset({("r0", "q0")}), "lt": frozenset({("v0", "v1")})}
    run = [
        ("new_view", _nv("v0", "req0", "q0")),
        ("prepare", {"i": "r0", "v": "v0", "r": "req0"}),
        ("commit", {"i": "r0", "v": "v0", "r": "req0", "q": "q0"}),
        ("execute", {"v": "v0", "r": "req0", "q": "q0"}),
        ("start_view_change", {"i": "r0", "v": "v1"}),
        ("new_view", _nv("v1", "req1", "q0")),
        ("prepare", {"i": "r0", "v": "v1", "r": "req1"}),
        ("commit", {"i": "r0", "v": "v1", "r": "req1", "q": "q0"}),
        ("execute", {"v": "v1", "r": "req1", "q": "q0"}),
    ]
    broken = pbft.agreement_model(new_view_uses_highest=False)
    assert _replay(broken, universe, fixed, run) == Replay(True, len(run), True)
    # The real model refuses the new view (step 6) and keeps Agreement; with req0 it goes on.
    assert _replay(pbft.agreement_model(), universe, fixed, run) == Replay(True, 5, False)
    honest = [*run[:5], ("new_view", _nv("v1", "req0", "q0", w="v0", h="r0"))]
    assert _replay(pbft.agreement_model(), universe, fixed, honest) == Replay(True, 6, False)


# --- the registry and the command line ----------------------------------------------------------------


def test_registry_runs_pbft() -> None:
    assert proofs.proof_set("pbft") is pbft.prove


def test_meshcheck_prove_pbft_prints_the_table_and_exits_0(real: list[ProofResult]) -> None:
    proc = meshcheck("prove", "pbft", "--table")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("| obligation")
    assert lines[-1].startswith(f"{len(real)}/{len(real)} proved in ")
    assert sum(line.startswith("| pbft.") for line in lines) == len(real)
    assert "FAILED" not in proc.stdout


def test_meshcheck_prove_unknown_set_exits_2() -> None:
    proc = meshcheck("prove", "nosuchproof")
    assert proc.returncode == 2
    assert "no proof set 'nosuchproof'" in proc.stderr and "pbft" in proc.stderr
