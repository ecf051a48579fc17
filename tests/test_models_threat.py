"""The threat proofs (models/threat): the level function over every input, the replicated clock for every
f, and the switch rule's inductive invariants.

Every proof is shown able to fail: each of the four mutants of the issue (`models.threat.BUGS`) fails the
obligations that guard against it, with a counterexample whose values are checked here; so do a broken
protocol table, a replicated clock that takes the f-th highest report or trusts 2f reports, SigHigh = f,
and a de-escalation bound one step short. The switch mutants' counterexample runs are replayed through
the real model's formulas, which refuse them at the mutant's step.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import z3

from meshcheck import cli
from meshcheck import proofs
from meshcheck import verify
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid import levels
from meshcheck.impl.hybrid.levels import Counts
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.models import proof
from meshcheck.models import threat
from meshcheck.models.proof import ProofResult
from meshcheck.models.proof import prove_lemma
from meshcheck.models.threat import formula
from meshcheck.models.threat import obligations as threat_lemmas
from meshcheck.models.threat import switch
from meshcheck.models.threat import switch_proof
from tests import proof_checks
from tests.proof_checks import Key

LEMMAS = (
    "threat.step_in_range",
    "threat.demanded_monotone",
    "threat.escalation_monotone_in_evidence",
    "threat.escalation_monotone_in_level",
    "threat.escalation_immediate",
    "threat.never_below_demanded",
    "threat.deescalation_one_level",
    "threat.deescalation_after_quiet_and_dwell",
    "threat.critical_needs_equivocation",
    "threat.bft_needs_evidence",
    "threat.f_byzantine_cannot_force_bft",
    "threat.self_proving_evidence_suffices",
    "threat.deescalation_reaches_none",
    "threat.protocol_total",
    "threat.protocol_matches_levels",
    "threat.protocol_monotone",
    "threat.replicated_clock",
)
INVARIANTS = (
    "Agreement",
    "CommittedPrefixPreserved",
    "NoOpTwice",
    "OnLongest",
    "HeldIsHistory",
    "EpochsEndAtSwitch",
    "GhostDedup",
    "GhostMonotone",
    "GhostIndex",
)
SAFETY = ("Agreement", "CommittedPrefixPreserved", "NoOpTwice")
TRANSITIONS = ("order_op", "order_switch", "apply", "apply_duplicate", "switch")
BOUNDED = f"runs <= {switch.DEPTH} steps"
MUTANT_TIMEOUT_MS = 500  # the mutants' consecutions Z3 cannot refute end "unknown" this soon


real = proof_checks.proved(threat.prove)


def _not_proved(results: Sequence[ProofResult]) -> set[Key]:
    return {proof_checks.key(r) for r in results if r.status != "proved"}


def _lemma_results(bugs: Sequence[str] = ()) -> list[ProofResult]:
    return [prove_lemma(lemma) for lemma in threat.lemmas(bugs)]


def _counts(ints: FrozenDict, suffix: str = "") -> Counts:
    return Counts(*(ints[k + suffix] for k in levels.KINDS))


def _thresholds(ints: FrozenDict) -> Thresholds:
    return Thresholds(
        sig_medium=ints["SigMedium"],
        sig_high=ints["SigHigh"],
        timing_medium=ints["TimingMedium"],
        quiet=ints["Quiet"],
        dwell=ints["Dwell"],
    )


# --- the real proof set ----------------------------------------------------------------------------


def test_real_model_proves_every_obligation(real: list[ProofResult]) -> None:
    bounded: list[Key] = [("bounded", i, BOUNDED) for i in SAFETY]
    proof_checks.assert_proves_every_obligation(real, LEMMAS, TRANSITIONS, INVARIANTS, bounded)


@pytest.mark.parametrize("lemma", threat.lemmas(), ids=lambda lemma: lemma.name)
def test_lemma_hypotheses_admit_large_values(lemma: proof.Lemma) -> None:
    """The hypotheses are satisfiable with large thresholds and counts (not vacuous), and the claim
    holds there too: the proof covered every value at once, not a box of small ones."""
    names = ("SigHigh", "Quiet", "Dwell", "bad_signature", "timing", "f")
    big = {n: z3.Int(n) for n in names}
    s = z3.Solver()
    s.add(*lemma.hypotheses)
    present = {str(c) for h in lemma.hypotheses for c in _constants(h)}
    s.add(*(v >= 10**6 for n, v in big.items() if n in present and n != "f"))
    assert s.check() == z3.sat, lemma.name
    s.add(z3.Not(lemma.conclusion))
    assert s.check() == z3.unsat, lemma.name


def _constants(term: z3.ExprRef) -> set[z3.ExprRef]:
    if z3.is_const(term) and term.decl().kind() == z3.Z3_OP_UNINTERPRETED:
        return {term}
    return {c for child in term.children() for c in _constants(child)}


# --- mutants of the level function -----------------------------------------------------------------


def test_equivocation_is_low_breaks_monotonicity_and_self_proving_evidence() -> None:
    results = _lemma_results([threat.EQUIVOCATION_IS_LOW])
    assert proof_checks.failed(results) == {
        ("lemma", "threat.demanded_monotone", None),
        ("lemma", "threat.escalation_monotone_in_evidence", None),
        ("lemma", "threat.self_proving_evidence_suffices", None),
    }
    bugs = [threat.EQUIVOCATION_IS_LOW]
    ints = proof_checks.ints(
        proof_checks.one(results, ("lemma", "threat.self_proving_evidence_suffices", None))
    )
    counts, th = _counts(ints), _thresholds(ints)
    assert counts.equivocation >= 1 and ints["next"] < Level.CRITICAL
    # The counterexample is an input on which the mutant formula and levels.py disagree.
    level = Level(ints["level"])
    assert threat.step_of(level, counts, ints["quiet"], ints["dwell"], th, bugs) == ints["next"]
    assert levels.step(level, counts, ints["quiet"], ints["dwell"], th) is Level.CRITICAL
    # More evidence (an equivocation on top of the rest) gave a lower level.
    ints = proof_checks.ints(proof_checks.one(results, ("lemma", "threat.demanded_monotone", None)))
    more = _counts(ints, "'")
    assert ints["demanded'"] < ints["demanded"] and more.equivocation > ints["equivocation"]


def test_deescalate_critical_to_none_skips_levels_and_drops_below_demanded() -> None:
    results = _lemma_results([threat.DEESCALATE_CRITICAL_TO_NONE])
    assert proof_checks.failed(results) == {
        ("lemma", "threat.escalation_monotone_in_level", None),
        ("lemma", "threat.never_below_demanded", None),
        ("lemma", "threat.deescalation_one_level", None),
        ("lemma", "threat.self_proving_evidence_suffices", None),
    }
    ints = proof_checks.ints(
        proof_checks.one(results, ("lemma", "threat.deescalation_one_level", None))
    )
    assert (ints["level"], ints["next"]) == (Level.CRITICAL, Level.NONE)
    assert ints["quiet"] >= ints["Quiet"] and ints["dwell"] >= ints["Dwell"]
    ints = proof_checks.ints(
        proof_checks.one(results, ("lemma", "threat.never_below_demanded", None))
    )
    assert ints["level"] == Level.CRITICAL and ints["next"] < ints["demanded"]
    # Liveness still holds (it only got faster): the one-level rule, not the bound, catches it.
    assert proof_checks.one(results, ("lemma", "threat.deescalation_reaches_none", None)).proved


def test_a_protocol_table_that_misses_a_level_or_runs_medium_on_bft_fails() -> None:
    x = threat_lemmas.Inputs()
    missing: dict[Level, str] = {lv: p for lv, p in levels.PROTOCOL.items() if lv is not Level.LOW}
    ints = proof_checks.ints(prove_lemma(threat_lemmas.protocol_total(x, missing)))
    assert (ints["level"], ints["protocol"]) == (Level.LOW, "undefined")
    medium_bft = {**levels.PROTOCOL, Level.MEDIUM: levels.BFT}
    assert prove_lemma(threat_lemmas.protocol_total(x, medium_bft)).proved
    ints = proof_checks.ints(prove_lemma(threat_lemmas.protocol_matches_levels(x, medium_bft)))
    assert (ints["level"], ints["protocol"]) == (Level.MEDIUM, levels.BFT)
    not_monotone = {**levels.PROTOCOL, Level.CRITICAL: levels.RAFT}
    ints = proof_checks.ints(prove_lemma(threat_lemmas.protocol_monotone(x, not_monotone)))
    assert ints["protocol"] == levels.BFT and ints["protocol'"] == levels.RAFT


def test_the_protocol_table_is_read_from_levels_py() -> None:
    """The formula is built from levels.PROTOCOL: it gives each level what the Python table gives."""
    for lv in Level:
        term = z3.simplify(formula.protocol(z3.IntVal(int(lv))))
        assert str(term) == levels.PROTOCOL[lv]
    assert set(levels.PROTOCOL) == set(Level)


def test_sig_high_of_f_lets_f_byzantine_reporters_force_bft() -> None:
    x = threat_lemmas.Inputs()
    ints = proof_checks.ints(prove_lemma(threat_lemmas.f_byzantine_cannot_force_bft(x, "f")))
    assert ints["SigHigh"] == ints["f"] and ints["bad_signature"] <= ints["f"]
    assert ints["level"] < Level.HIGH <= ints["next"]
    assert ints["tampering"] == ints["equivocation"] == 0


def test_deescalation_needs_four_steps_from_critical() -> None:
    x = threat_lemmas.Inputs()
    assert prove_lemma(threat_lemmas.deescalation_reaches_none(x, 4)).proved
    ints = proof_checks.ints(prove_lemma(threat_lemmas.deescalation_reaches_none(x, 3)))
    assert ints["level0"] == Level.CRITICAL
    assert [ints[f"level{k}"] for k in range(4)] == [4, 3, 2, 1]


# --- the replicated clock ----------------------------------------------------------------------------


def test_clock_from_the_f_th_highest_report_can_be_byzantine() -> None:
    ints = proof_checks.ints(prove_lemma(threat_lemmas.replicated_clock(rank="f")))
    assert ints["f"] >= 1 and ints["honest above t"] + ints["honest at t"] == 0
    assert ints["byzantine above t"] + ints["byzantine at t"] >= 1


def test_clock_from_2f_reports_can_fall_below_every_honest_one() -> None:
    ints = proof_checks.ints(prove_lemma(threat_lemmas.replicated_clock(reports="2f")))
    assert ints["n"] == 2 * ints["f"] and ints["honest at t"] + ints["honest below t"] == 0


@pytest.mark.parametrize("f", [0, 1, 2])
def test_clock_lemma_agrees_with_brute_force(f: int) -> None:
    """Every report vector over a small value range (Byzantine reports anywhere): the (f+1)-th highest
    of 2f+1 reports lies within the honest reports; the f-th highest does not always (f >= 1)."""
    import itertools

    n = 2 * f + 1
    values = range(4)
    within_f1, within_f = True, True
    for honest in itertools.product(values, repeat=n - f):
        for byz in itertools.product(range(-1, 5), repeat=f):
            reports = sorted([*honest, *byz], reverse=True)
            t = reports[f]
            within_f1 &= min(honest) <= t <= max(honest)
            if f >= 1:
                t = reports[f - 1]
                within_f &= min(honest) <= t <= max(honest)
    assert within_f1
    assert within_f is (f == 0)


# --- the switch model ----------------------------------------------------------------------------


drops = proof_checks.proved(
    switch_proof.check, [threat.SWITCH_DROPS_LAST_RAFT_TERM], timeout_ms=MUTANT_TIMEOUT_MS
)


own_evidence = proof_checks.proved(
    switch_proof.check, [threat.SWITCH_ON_OWN_EVIDENCE], timeout_ms=MUTANT_TIMEOUT_MS
)


def _replay(bugs: Sequence[str], steps: Sequence[tuple[str, FrozenDict]]) -> int:
    """How many of `steps` (action, params) fire in order from init, by the model's own formulas."""
    transitions = {t.name: t for t in switch.transitions(bugs)}
    s = z3.Solver()
    states = [switch.S("@0")]
    s.add(switch.init(states[0]))
    for k, (name, ps) in enumerate(steps):
        t = transitions[name]
        values = [_param(p, ps[p]) for p in t.params]
        states.append(switch.S(f"@{k + 1}"))
        s.add(switch.step(t, states[-2], states[-1], values, ghost=False))
        if s.check() != z3.sat:
            return k
    return len(steps)


def _param(name: str, value: object) -> z3.ArithRef:
    if name == "i":
        return z3.IntVal(switch.NODES.index(str(value)) + 1)
    if name == "o":
        return z3.IntVal(int(str(value).removeprefix("o")))
    return z3.IntVal(int(str(value)))


def _trace(r: ProofResult) -> list[tuple[str, FrozenDict]]:
    assert r.counterexample is not None
    return [(s.action, s.params) for s in r.counterexample.steps[1:]]


def test_drops_last_raft_term_loses_a_committed_op(drops: list[ProofResult]) -> None:
    assert proof_checks.failed(drops) == {("bounded", "CommittedPrefixPreserved", BOUNDED)}
    # The consecution the mutant breaks is not proved (Z3 may end "unknown": it cannot always build a
    # model of the quantified invariants; the bounded run gives the real counterexample).
    assert ("consecution", "CommittedPrefixPreserved", "switch") in _not_proved(drops)
    r = proof_checks.one(drops, ("bounded", "CommittedPrefixPreserved", BOUNDED))
    assert r.counterexample is not None
    steps = r.counterexample.steps
    last = steps[-1].state
    # A node in epoch 2 lacks an op a node still in epoch 1 applied: the switch cut its history.
    assert last["epoch"]["n1"] != last["epoch"]["n2"]
    later = max(switch.NODES, key=lambda n: last["epoch"][n])
    earlier = min(switch.NODES, key=lambda n: last["epoch"][n])
    lost, kept = last["history"][earlier], last["history"][later]
    assert kept[: len(lost)] != lost
    cut = next(s for s in steps if s.action == "switch")
    assert cut.params["cut"] < len(steps[steps.index(cut) - 1].state["history"][cut.params["i"]])
    assert len(steps) - 1 == switch.DEPTH  # the shortest: 5 steps
    trace = _trace(r)
    assert _replay([threat.SWITCH_DROPS_LAST_RAFT_TERM], trace) == len(trace)
    assert _replay([], trace) == trace.index(("switch", cut.params))  # the real model refuses it


def test_switch_on_own_evidence_breaks_agreement(own_evidence: list[ProofResult]) -> None:
    assert proof_checks.failed(own_evidence) == {
        ("bounded", "Agreement", BOUNDED),
        ("bounded", "CommittedPrefixPreserved", BOUNDED),
    }
    assert ("consecution", "EpochsEndAtSwitch", "switch") in _not_proved(own_evidence)
    r = proof_checks.one(own_evidence, ("bounded", "Agreement", BOUNDED))
    assert r.counterexample is not None and r.counterexample.violated == "Agreement"
    last = r.counterexample.steps[-1].state
    h1, h2 = last["history"]["n1"], last["history"]["n2"]
    assert h1[: len(h2)] != h2 and h2[: len(h1)] != h1  # neither a prefix of the other
    # The switching node left at a position where its epoch's chain holds no SWITCH entry.
    steps = r.counterexample.steps
    k, sw = next((k, s) for k, s in enumerate(steps) if s.action == "switch")
    before = steps[k - 1].state
    node = sw.params["i"]
    chain = before["chain"].get(before["epoch"][node], ())
    at = before["applied"][node]
    assert at >= len(chain) or chain[at] != "switch"
    trace = _trace(r)
    assert _replay([threat.SWITCH_ON_OWN_EVIDENCE], trace) == len(trace)
    assert _replay([], trace) == k - 1
    shortest = proof_checks.one(own_evidence, ("bounded", "CommittedPrefixPreserved", BOUNDED))
    assert shortest.counterexample is not None and len(shortest.counterexample.steps) == 4


def test_the_real_model_runs_a_switch_with_a_retried_op() -> None:
    """A run through every transition: o1 committed in epoch 1, the switch, o1 retried in epoch 2 and
    skipped on apply; both nodes end with the history (o1, o2)."""
    run = [
        ("order_op", FrozenDict(dict(e=1, o="o1"))),
        ("order_switch", FrozenDict(dict(e=1))),
        ("order_op", FrozenDict(dict(e=2, o="o1"))),
        ("order_op", FrozenDict(dict(e=2, o="o2"))),
    ]
    for node in switch.NODES:
        run += [
            ("apply", FrozenDict(dict(i=node))),
            ("switch", FrozenDict(dict(i=node, cut=1))),
            ("apply_duplicate", FrozenDict(dict(i=node))),
            ("apply", FrozenDict(dict(i=node))),
        ]
    assert _replay([], run) == len(run)
    # Applying the retried o1 again instead of skipping it is refused (dedup on apply).
    wrong = [*run[:6], ("apply", FrozenDict(dict(i="n1")))]
    assert _replay([], wrong) == 6
    # A switch that keeps less than the history is refused outside the mutant.
    assert _replay([], [*run[:5], ("switch", FrozenDict(dict(i="n1", cut=0)))]) == 5


def test_without_dedup_on_apply_a_retried_op_is_applied_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NoOpTwice rests on the dedup table: an `apply` that does not consult it applies a retry again."""

    def apply_guard(old: switch.S, i: z3.ArithRef) -> z3.BoolRef:
        e, a = old.node("epoch", i), old.node("applied", i)
        return z3.And(a < old.clen[e], old.chain[e][a] != switch.SWITCH)

    monkeypatch.setattr(switch, "_apply_guard", apply_guard)
    results = switch_proof.check_bounded(frozenset(), switch.DEPTH, MUTANT_TIMEOUT_MS)
    r = proof_checks.one(results, ("bounded", "NoOpTwice", BOUNDED))
    assert r.counterexample is not None
    steps = r.counterexample.steps
    # the op ordered twice (a retry) and applied twice; Z3 may interleave the four steps either way
    assert sorted(s.action for s in steps[1:]) == ["apply", "apply", "order_op", "order_op"]
    node = steps[-1].params["i"]
    assert steps[-1].state["history"][node] == ("o1", "o1")


def test_switch_counterexamples_render_in_the_table(own_evidence: list[ProofResult]) -> None:
    text = proofs.render(own_evidence)
    assert "FAILED: threat.switch bounded: Agreement in runs <= 5 steps" in text
    assert "violates Agreement in state" in text
    assert proofs.exit_code(own_evidence) == 1


def test_mutant_names_are_the_implementations() -> None:
    """One vocabulary: the proofs' mutants are impl/hybrid's, name for name. impl/hybrid has one
    more, `follow_caught_append` (what a Raft follower takes from a Byzantine leader): the proofs,
    like Hybrid.tla, take each epoch's agreed order as given, so it has no counterpart there; and
    `reports_counted_not_reporters` (how the implementation counts records into `Counts`): the
    proofs take the counts as their input (docs/certificates.md); `timing_from_receipt` (what
    a Raft follower takes for a timing anomaly): the proofs take the records as their input; and
    `reappend_checks_index_only` (what a Raft leader appends again of the ops it led before): the
    proofs have no leaders, and take the agreed order as given."""
    from meshcheck.impl.hybrid import mutants

    assert set(mutants.BUGS) - set(threat.BUGS) == {
        mutants.FOLLOW_CAUGHT_APPEND,
        mutants.REPORTS_COUNTED_NOT_REPORTERS,
        mutants.TIMING_FROM_RECEIPT,
        mutants.REAPPEND_CHECKS_INDEX_ONLY,
    }


def test_unknown_mutants_are_refused() -> None:
    with pytest.raises(threat.UnknownBug, match="no_such_bug"):
        threat.prove(["no_such_bug"])


# --- the registry, the command line and meshcheck verify ------------------------------------------------


def test_registry_runs_threat_as_hybrids_proof_set() -> None:
    assert proofs.proof_set("hybrid") is threat.prove


def test_verify_reports_the_threat_proofs(
    real: list[ProofResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proofs, "names", lambda: ["hybrid"])
    monkeypatch.setattr(proofs, "proof_set", lambda name: lambda: real)
    rows = list(verify.z3_rows())
    assert [(r.kind, r.name, r.result, r.count) for r in rows] == [
        ("z3", "hybrid", "pass", len(real))
    ]


def test_meshcheck_prove_hybrid_prints_the_table_and_exits_0(
    real: list[ProofResult], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`meshcheck prove hybrid` as the CLI runs it, on the results computed once above."""
    real_set = proofs.proof_set
    monkeypatch.setattr(
        proofs, "proof_set", lambda name: (lambda: real) if name == "hybrid" else real_set(name)
    )
    assert cli.main(["prove", "hybrid", "--table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| obligation")
    assert lines[-1].startswith(f"{len(real)}/{len(real)} proved in ")
    assert sum(line.startswith("| threat.") for line in lines) == len(real)
    assert "FAILED" not in "\n".join(lines)
