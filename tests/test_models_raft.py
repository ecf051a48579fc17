"""The Raft proofs (models/raft.py) on the Z3 framework (models/proof.py), and their table (meshcheck/proofs.py).

Every proof is shown able to fail: a vote without the at-most-once check and a quorum of n/2 instead of
more than n/2 must each fail the obligation that guards against it, naming the invariant and the
transition, with a counterexample that has two leaders in one term.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
import z3

from meshcheck import proofs
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.values import FrozenDict
from meshcheck.models import proof
from meshcheck.models import raft
from meshcheck.models.proof import ASSUMED
from meshcheck.models.proof import Lemma
from meshcheck.models.proof import ModelError
from meshcheck.models.proof import ProofResult
from meshcheck.models.proof import ProtocolModel
from tests import proof_checks

Key = tuple[str, str | None, str | None]  # kind, invariant, transition


real = proof_checks.proved(raft.prove)


vote_twice = proof_checks.proved(raft.prove, raft.RaftVariant(vote_once=False))


half_quorum = proof_checks.proved(raft.prove, raft.RaftVariant(strict_majority=False))


def _key(r: ProofResult) -> Key:
    return (r.kind, r.invariant, r.transition)


def _failed(results: Sequence[ProofResult]) -> set[Key]:
    return {_key(r) for r in results if r.status == "failed"}


def _one(
    results: Sequence[ProofResult], kind: str, invariant: str | None, transition: str | None
) -> ProofResult:
    found = [r for r in results if _key(r) == (kind, invariant, transition)]
    assert len(found) == 1, f"{len(found)} results for {(kind, invariant, transition)}"
    return found[0]


def _two_leaders_in_one_term(state: FrozenDict) -> bool:
    leaders = state["leader"]
    return any(a != b and ta == tb for a, ta in leaders for b, tb in leaders)


def _lemma_statement(name: str, results: Sequence[ProofResult]) -> str:
    (r,) = [r for r in results if r.name == name]
    assert r.invariant is not None
    return r.invariant


INVARIANTS = ("ElectionSafety", "VoteOnce", "LeaderElectedByQuorum")
TRANSITIONS = ("vote", "become_leader")
BOUNDED = f"runs <= {proof.DEFAULT_DEPTH} steps"


# --- the real model ------------------------------------------------------------------------------------


def test_real_model_proves_every_obligation(real: list[ProofResult]) -> None:
    assert [r for r in real if r.status != "proved"] == []
    expected: set[Key] = {
        ("lemma", _lemma_statement("raft.quorum_intersection", real), None),
        ("lemma", _lemma_statement("raft.quorum_nonempty", real), None),
        ("non-vacuity", None, "init"),
        *(("non-vacuity", None, t) for t in TRANSITIONS),
        *(("initiation", i, "init") for i in INVARIANTS),
        *(("consecution", i, t) for t in TRANSITIONS for i in INVARIANTS),
        ("bounded", "ElectionSafety", BOUNDED),
    }
    assert {_key(r) for r in real} == expected
    assert len(real) == len(expected)
    assert all(r.counterexample is None and r.seconds >= 0 for r in real)
    assert proofs.exit_code(real) == 0


# --- a quorum of n/2 -----------------------------------------------------------------------------------


def test_half_quorum_fails_intersection_lemma_with_smallest_cluster(
    half_quorum: list[ProofResult],
) -> None:
    lemma = next(r for r in half_quorum if r.name == "raft.quorum_intersection")
    assert lemma.status == "failed"
    assert lemma.counterexample is not None
    ints = lemma.counterexample.ints
    n, only1, only2, both, neither = (
        ints[k] for k in ("n", "|Q1 only|", "|Q2 only|", "|Q1 & Q2|", "|neither|")
    )
    assert both == 0 and only1 + only2 + both + neither == n
    assert 2 * (only1 + both) >= n and 2 * (only2 + both) >= n
    assert n == 2  # n = 1 cannot break it: both quorums hold the one server
    # Non-emptiness still holds at n/2 (n >= 1), so that axiom stays.
    assert next(r for r in half_quorum if r.name == "raft.quorum_nonempty").proved


def test_half_quorum_breaks_election_safety_under_become_leader(
    half_quorum: list[ProofResult],
) -> None:
    statement = _lemma_statement("raft.quorum_intersection", half_quorum)
    assert _failed(half_quorum) == {
        ("lemma", statement, None),
        ("consecution", "ElectionSafety", "become_leader"),
        ("consecution", "LeaderElectedByQuorum", "become_leader"),
        ("bounded", "ElectionSafety", BOUNDED),
    }
    cex = _one(half_quorum, "consecution", "ElectionSafety", "become_leader").counterexample
    assert cex is not None and cex.violated == "ElectionSafety"
    before, after = cex.steps
    assert before.action == ASSUMED and after.action == "become_leader"
    assert not _two_leaders_in_one_term(before.state)
    assert _two_leaders_in_one_term(after.state)
    # The cause is visible: the new leader's quorum and the old leader's quorum share no server.
    members = cex.fixed["member"]
    old_q = before.state["voting_quorum"][after.params["t"]]
    new_q = after.params["q"]
    assert not {n for n, q in members if q == old_q} & {n for n, q in members if q == new_q}
    assert "leader = {(" in cex.render() and "violates ElectionSafety" in cex.render()


# --- a vote without the at-most-once check -------------------------------------------------------------


def test_vote_twice_fails_vote_once_under_vote(vote_twice: list[ProofResult]) -> None:
    assert _failed(vote_twice) == {
        ("consecution", "VoteOnce", "vote"),
        ("bounded", "ElectionSafety", BOUNDED),
    }
    cex = _one(vote_twice, "consecution", "VoteOnce", "vote").counterexample
    assert cex is not None
    _, after = cex.steps
    voter, term = after.params["voter"], after.params["t"]
    assert len({c for v, t, c in after.state["voted"] if (v, t) == (voter, term)}) == 2


def _replay(cex: proof.Counterexample, *, vote_once: bool) -> None:
    """Each step of a bounded counterexample is a step of the election model (checks the reading)."""
    members = cex.fixed["member"]
    for prev, step in zip(cex.steps, cex.steps[1:], strict=False):
        old, new, p = prev.state, step.state, step.params
        if step.action == "vote":
            if vote_once:
                assert not any((v, t) == (p["voter"], p["t"]) for v, t, _ in old["voted"])
            assert new["voted"] == old["voted"] | {(p["voter"], p["t"], p["cand"])}
            assert new["leader"] == old["leader"]
        else:
            assert step.action == "become_leader"
            quorum = {n for n, q in members if q == p["q"]}
            assert all((n, p["t"], p["cand"]) in old["voted"] for n in quorum)
            assert new["leader"] == old["leader"] | {(p["cand"], p["t"])}
            assert new["voted"] == old["voted"]


def test_vote_twice_reaches_two_leaders_in_one_term(vote_twice: list[ProofResult]) -> None:
    cex = _one(vote_twice, "bounded", "ElectionSafety", BOUNDED).counterexample
    assert cex is not None and cex.violated == "ElectionSafety"
    assert cex.steps[0].action == INIT
    assert (
        cex.steps[0].state["voted"] == frozenset() and cex.steps[0].state["leader"] == frozenset()
    )
    # Shortest: two elections need two become_leader steps, and a server that voted twice.
    assert len(cex.steps) == 5
    _replay(cex, vote_once=False)
    assert _two_leaders_in_one_term(cex.steps[-1].state)
    assert not any(_two_leaders_in_one_term(s.state) for s in cex.steps[:-1])


def test_half_quorum_reaches_two_leaders_in_one_term(half_quorum: list[ProofResult]) -> None:
    cex = _one(half_quorum, "bounded", "ElectionSafety", BOUNDED).counterexample
    assert cex is not None and cex.steps[0].action == INIT
    _replay(cex, vote_once=True)
    assert _two_leaders_in_one_term(cex.steps[-1].state)


# --- the framework's guards ----------------------------------------------------------------------------


def _transition(model: ProtocolModel, name: str) -> proof.Transition:
    return next(t for t in model.transitions if t.name == name)


def test_nonvacuity_catches_a_transition_that_never_fires() -> None:
    model = raft.election_model()
    never = attrs.evolve(_transition(model, "become_leader"), body=lambda *_: z3.BoolVal(False))
    broken = attrs.evolve(model, transitions=(_transition(model, "vote"), never))
    results = proof.check_model(broken)
    # Consecution under a transition that never fires holds vacuously: only non-vacuity tells.
    assert all(r.proved for r in results if r.kind == "consecution")
    assert _failed(results) == {("non-vacuity", None, "become_leader")}
    assert "never fires" in _one(results, "non-vacuity", None, "become_leader").detail


def test_nonvacuity_catches_contradictory_axioms() -> None:
    model = raft.election_model()
    absurd = proof.Axiom("NoQuorum", lambda s: s.forall(("quorum",), lambda q: z3.BoolVal(False)))
    results = proof.check_nonvacuous(attrs.evolve(model, axioms=(*model.axioms, absurd)))
    assert _failed(results) == {("non-vacuity", None, t) for t in ("init", *TRANSITIONS)}


def test_initiation_failure_shows_an_initial_state() -> None:
    results = proof.check_inductive(attrs.evolve(raft.election_model(), init=()))
    assert {k for k in _failed(results) if k[0] == "initiation"} == {
        ("initiation", i, "init") for i in INVARIANTS
    }
    cex = _one(results, "initiation", "ElectionSafety", "init").counterexample
    assert cex is not None and len(cex.steps) == 1 and cex.steps[0].action == INIT
    assert _two_leaders_in_one_term(cex.steps[0].state)


def test_timeout_gives_unknown_not_proved() -> None:
    x, y, z = z3.Ints("x y z")
    cubes = Lemma(
        "cubes", "x^3 + y^3 != z^3", (x >= 1, y >= 1, z >= 1, x * x * x + y * y * y == z * z * z),
        z3.BoolVal(False), (("x", x),),
    )  # fmt: skip
    result = proof.prove_lemma(cubes, timeout_ms=100)
    assert result.status == "unknown" and "Z3 gave up" in result.detail
    assert proofs.exit_code([result]) == 2


def _model(**changes: Any) -> ProtocolModel:
    return attrs.evolve(raft.election_model(), **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"symbols": (proof.relation("voted", "voter"),)}, "unknown sort 'voter'"),
        (
            {"sorts": (proof.Sort("node"), proof.Sort("term"), proof.Sort("quorum", "n"))},
            "prefixes",
        ),
    ],
)
def test_bad_models_are_rejected(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        _model(**changes)


def test_modifying_an_immutable_symbol_is_rejected() -> None:
    vote = attrs.evolve(_transition(raft.election_model(), "vote"), modifies=("voted", "member"))
    with pytest.raises(ModelError, match="modifies immutable symbol 'member'"):
        _model(transitions=(vote,))


def test_formulas_must_use_the_symbols_they_may() -> None:
    reads_mutable = proof.Axiom("Bad", lambda s: s.forall(("node", "term"), s.leader))
    with pytest.raises(ModelError, match="axiom uses mutable symbol 'leader'"):
        proof.check_nonvacuous(_model(axioms=(reads_mutable,)))

    def vote(old: Any, new: Any, voter: Any, t: Any, cand: Any) -> Any:
        return z3.And(proof.inserted(old, new, "voted", voter, t, cand), new.leader(voter, t))

    sneaky = proof.Transition(
        "vote", (("voter", "node"), ("t", "term"), ("cand", "node")), ("voted",), vote
    )
    with pytest.raises(ModelError, match="uses the new 'leader' but does not modify it"):
        proof.check_inductive(_model(transitions=(sneaky,)))

    python_bool = proof.Invariant("Oops", lambda s: s.leader is s.leader)
    with pytest.raises(ModelError, match="invariant Oops is not a Z3 formula"):
        proof.check_inductive(_model(invariants=(python_bool,)))


# --- the registry --------------------------------------------------------------------------------------


def test_registry_runs_raft_and_rejects_unknown_names() -> None:
    assert proofs.names() == ["gossip", "hotstuff", "hybrid", "pbft", "raft"]
    with pytest.raises(MeshcheckError, match="no proof set 'paxos'"):
        proofs.run("paxos")


def _cells(line: str) -> list[str]:
    """The cells of one Markdown table row, split at the pipes that are not escaped."""
    assert line.startswith("| ") and line.endswith(" |")
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


def test_render_lists_every_obligation_then_the_counterexamples(
    real: list[ProofResult], half_quorum: list[ProofResult]
) -> None:
    table = proofs.render(real)
    lines = table.splitlines()
    # meshcheck.table's Markdown table: header, rule (seconds right-aligned), one row per obligation,
    # a blank line, then the total.
    assert _cells(lines[0]) == ["obligation", "invariant", "transition", "result", "seconds"]
    assert lines[1].startswith("|---") and lines[1].endswith(":|")
    assert len(lines) == 2 + len(real) + 2 and lines[-2] == ""
    assert lines[-1].startswith(f"{len(real)}/{len(real)} proved")
    rows = [_cells(line) for line in lines[2 : 2 + len(real)]]
    assert all(len(row) == 5 for row in rows)
    assert [row[0] for row in rows] == [r.name for r in real]
    assert [row[4] for row in rows] == [f"{r.seconds:.3f}" for r in real]
    # A lemma's statement holds "|" (sizes): escaped, so its row keeps five cells.
    statement = _lemma_statement("raft.quorum_intersection", real)
    assert "|" in statement
    assert [row[1] for row in rows if row[0] == "raft.quorum_intersection"] == [
        statement.replace("|", "\\|")
    ]
    assert "FAILED" not in table

    text = proofs.render(half_quorum)
    assert "FAILED: raft.election consecution: ElectionSafety under become_leader" in text
    assert "FAILED: raft.election bounded: ElectionSafety in " + BOUNDED in text
    assert "n = 2; |Q1 only| = 1; |Q2 only| = 1; |Q1 & Q2| = 0; |neither| = 0" in text
    cex = _one(half_quorum, "consecution", "ElectionSafety", "become_leader").counterexample
    assert cex is not None and cex.render() in text
    assert proofs.exit_code(half_quorum) == 1


def test_the_summary_is_a_line_per_group_and_every_failure_whole(
    real: list[ProofResult], half_quorum: list[ProofResult]
) -> None:
    """`meshcheck prove` without --table: one row per group of obligations, the total, and each
    obligation not proved with its counterexample, as render gives them."""
    lines = proofs.summary(real).splitlines()
    groups = list(dict.fromkeys(r.name for r in real))
    rows = [_cells(line) for line in lines[2 : 2 + len(groups)]]
    assert [row[0] for row in rows] == groups and len(groups) < len(real)
    consecution = [r for r in real if r.name == "raft.election consecution"]
    assert ["raft.election consecution", f"{len(consecution)}/{len(consecution)}"] in [
        row[:2] for row in rows
    ]
    assert lines[2 + len(groups)] == "" and lines[-1].startswith(f"{len(real)}/{len(real)} proved")
    text = proofs.summary(half_quorum)
    failed = sum(not r.proved for r in half_quorum if r.name == "raft.election consecution")
    assert failed and re.search(
        rf"\| raft\.election consecution +\| +{len(consecution) - failed}/{len(consecution)} \|",
        text,
    )
    assert text.split("\n\n", 1)[1] == proofs.render(half_quorum).split("\n\n", 1)[1]
