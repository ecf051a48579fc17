"""impl/pbft/votes.py, the vote-counting rule, against the Z3 model's rule (models/pbft.py) and its lemmas.

The model proves the rule's properties for every f; these tests check that the code is that rule: on
random memberships (n >= 3f+1) and votes, the component decides what Z3 evaluates the model's `decision`
formula to, and the proved properties hold of the component. The comparison is shown to catch wrong
thresholds (mutant rules below).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.pbft.votes import Ballot
from meshcheck.impl.pbft.votes import Decision
from meshcheck.impl.pbft.votes import Equivocation
from meshcheck.impl.pbft.votes import Tally
from meshcheck.impl.pbft.votes import UnknownVoter
from meshcheck.impl.pbft.votes import Vote
from meshcheck.impl.pbft.votes import VoteRule
from meshcheck.impl.pbft.votes import tally
from meshcheck.models import pbft

R4 = ("r1", "r2", "r3", "r4")


def _ids(n: int) -> list[str]:
    return [f"r{k}" for k in range(1, n + 1)]


@st.composite
def memberships(draw: st.DrawFn, max_f: int = 6) -> tuple[int, list[str]]:
    """f, and n >= 3f+1 replica ids (n = 3f+1 half of the time: the case PBFT configures)."""
    f = draw(st.integers(0, max_f))
    extra = draw(st.one_of(st.just(0), st.integers(0, 4)))
    return f, _ids(3 * f + 1 + extra)


@st.composite
def ballots(draw: st.DrawFn) -> tuple[int, list[str], dict[str, Vote]]:
    """f, the replicas, and the votes of some of them (a missing key: no vote)."""
    f, replicas = draw(memberships())
    choice = st.sampled_from([Vote.APPROVE, Vote.REJECT, None])
    votes = {r: v for r in replicas if (v := draw(choice)) is not None}
    return f, replicas, votes


RuleFactory = Callable[[list[str], int], VoteRule]


def _agrees_with_model(make_rule: RuleFactory) -> Callable[[], None]:
    """A Hypothesis test: the rule `make_rule` builds decides what the model's formula says."""

    @settings(max_examples=300, deadline=None, database=None)
    @given(ballots())
    def check(case: tuple[int, list[str], dict[str, Vote]]) -> None:
        f, replicas, votes = case
        t = make_rule(replicas, f).tally(votes)
        assert t.approvals + t.rejections + t.missing == len(replicas)
        expected = pbft.decision_of(t.approvals, t.rejections, len(replicas), f)
        assert t.decision.name == expected, (t, expected)

    return check


def test_component_decides_what_the_model_decides() -> None:
    _agrees_with_model(lambda replicas, f: VoteRule(frozenset(replicas), f))()


class _RejectAtFPlus1(VoteRule):
    """The literal "f+1 rejections": right at n = 3f+1 only."""

    @property
    def reject_at(self) -> int:
        return self.f + 1


class _ApproveAt2F(VoteRule):
    """A quorum of 2f instead of 2f+1."""

    @property
    def approve_at(self) -> int:
        return 2 * self.f


class _RejectFirst(VoteRule):
    """Rejections checked first and at f+1: differs from the model only where both thresholds hold."""

    def decide(self, approvals: int, rejections: int) -> Decision:
        if rejections >= self.f + 1:
            return Decision.REJECT
        return super().decide(approvals, rejections)


@pytest.mark.parametrize("mutant", [_RejectAtFPlus1, _ApproveAt2F, _RejectFirst])
def test_comparison_catches_a_wrong_rule(mutant: type[VoteRule]) -> None:
    check = _agrees_with_model(lambda replicas, f: mutant(frozenset(replicas), f))
    with pytest.raises(AssertionError):
        check()


# --- the proved properties, of the component -----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(ballots())
def test_approve_and_reject_thresholds_never_both_hold(
    case: tuple[int, list[str], dict[str, Vote]],
) -> None:
    f, replicas, votes = case
    rule = VoteRule(frozenset(replicas), f)
    t = rule.tally(votes)
    assert not (t.approvals >= rule.approve_at and t.rejections >= rule.reject_at)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memberships(), st.data(), st.sampled_from([Vote.APPROVE, Vote.REJECT]))
def test_byzantine_votes_cannot_turn_an_honest_unanimous_outcome(
    membership: tuple[int, list[str]], data: st.DataObject, side: Vote
) -> None:
    f, replicas = membership
    byzantine = data.draw(st.lists(st.sampled_from(replicas), max_size=f, unique=True))
    votes = {r: side for r in replicas if r not in byzantine}
    for r in byzantine:  # anything, or nothing at all
        v = data.draw(st.sampled_from([Vote.APPROVE, Vote.REJECT, None]))
        if v is not None:
            votes[r] = v
    decision = tally(votes, replicas, f)
    assert decision.name == side.name


@settings(max_examples=200, deadline=None)
@given(ballots(), st.data())
def test_a_decision_stands_as_more_votes_arrive(
    case: tuple[int, list[str], dict[str, Vote]], data: st.DataObject
) -> None:
    f, replicas, votes = case
    before = tally(votes, replicas, f)
    later = dict(votes)
    for r in replicas:
        if r not in later and data.draw(st.booleans()):
            later[r] = data.draw(st.sampled_from([Vote.APPROVE, Vote.REJECT]))
    after = tally(later, replicas, f)
    if before is not Decision.NO_CONSENSUS:
        assert after is before


@settings(max_examples=200, deadline=None)
@given(memberships(), st.data())
def test_a_complete_vote_always_decides(
    membership: tuple[int, list[str]], data: st.DataObject
) -> None:
    f, replicas = membership
    votes = {r: data.draw(st.sampled_from([Vote.APPROVE, Vote.REJECT])) for r in replicas}
    assert tally(votes, replicas, f) is not Decision.NO_CONSENSUS


# --- unit tests ----------------------------------------------------------------------------------------


def _votes(approve: str = "", reject: str = "") -> dict[str, Vote]:
    """Votes by replica number: _votes("12", "3") is r1, r2 approve and r3 rejects."""
    return {**{f"r{k}": Vote.APPROVE for k in approve}, **{f"r{k}": Vote.REJECT for k in reject}}


@pytest.mark.parametrize(
    ("approve", "reject", "expected"),
    [
        ("123", "", Decision.APPROVE),  # 2f+1 = 3
        ("123", "4", Decision.APPROVE),
        ("12", "", Decision.NO_CONSENSUS),
        ("12", "3", Decision.NO_CONSENSUS),  # r4 silent, honest split: no decision possible yet
        ("12", "34", Decision.REJECT),  # f+1 = 2: approving has become impossible
        ("", "34", Decision.REJECT),
        ("", "4", Decision.NO_CONSENSUS),
        ("", "", Decision.NO_CONSENSUS),
    ],
)
def test_n4_f1(approve: str, reject: str, expected: Decision) -> None:
    t = VoteRule(frozenset(R4), 1).tally(_votes(approve, reject))
    assert t == Tally(len(approve), len(reject), 4 - len(approve) - len(reject), expected)


def test_larger_clusters_reject_when_approval_is_impossible() -> None:
    five = VoteRule(frozenset(_ids(5)), 1)  # n = 3f+2
    assert (five.approve_at, five.reject_at) == (3, 3)
    # Two rejections would be "f+1", but three approvals are still possible: no decision yet.
    assert five.tally(_votes("12", "45")).decision is Decision.NO_CONSENSUS
    assert five.tally(_votes("123", "45")).decision is Decision.APPROVE
    assert five.tally(_votes("1", "345")).decision is Decision.REJECT
    single = VoteRule(frozenset({"r1"}), 0)
    assert single.tally(_votes("1")).decision is Decision.APPROVE
    assert single.tally(_votes("", "1")).decision is Decision.REJECT


def test_unknown_voters_are_refused() -> None:
    rule = VoteRule(frozenset(R4), 1)
    with pytest.raises(UnknownVoter, match="r9"):
        rule.tally({**_votes("123"), "r9": Vote.REJECT})
    with pytest.raises(UnknownVoter, match="r9"):
        Ballot(rule).cast("r9", Vote.APPROVE)


def test_values_that_are_not_votes_are_refused() -> None:
    bad: Any = {"r1": "approve"}
    with pytest.raises(ImplError, match="Vote values"):
        VoteRule(frozenset(R4), 1).tally(bad)


def test_ballot_counts_each_voter_once_and_refuses_equivocation() -> None:
    ballot = Ballot(VoteRule(frozenset(R4), 1))
    for voter in ("r1", "r2", "r1", "r2", "r2"):  # duplicated messages
        ballot = ballot.cast(voter, Vote.APPROVE)
    assert ballot.tally == Tally(2, 0, 2, Decision.NO_CONSENSUS)
    with pytest.raises(Equivocation) as caught:
        ballot.cast("r2", Vote.REJECT)
    assert (caught.value.voter, caught.value.first, caught.value.second) == (
        "r2",
        Vote.APPROVE,
        Vote.REJECT,
    )
    assert str(caught.value) == "r2 voted approve and then reject"
    assert ballot.tally.approvals == 2  # the refused vote changed nothing
    ballot = ballot.cast("r4", Vote.APPROVE)
    assert ballot.decision is Decision.APPROVE
    assert ballot.votes == (("r1", Vote.APPROVE), ("r2", Vote.APPROVE), ("r4", Vote.APPROVE))


@pytest.mark.parametrize(
    ("replicas", "f", "message"),
    [(R4, 2, "n must be >= 3f\\+1"), (R4, -1, "at least 0"), ("r1r2r3r4", 1, "not the string")],
)
def test_impossible_configurations_are_refused(replicas: Any, f: int, message: str) -> None:
    with pytest.raises(ImplError, match=message):
        VoteRule(replicas, f)


def test_counts_that_are_not_votes_are_refused() -> None:
    rule = VoteRule(frozenset(R4), 1)
    for approvals, rejections in ((3, 2), (-1, 0), (0, 5)):
        with pytest.raises(ImplError, match="not votes of 4 replicas"):
            rule.decide(approvals, rejections)
