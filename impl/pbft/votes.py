"""PBFT's vote-counting rule for approvals: APPROVE, REJECT or NO_CONSENSUS from the replicas' votes.

The rule, the same as `models/pbft.py` proves for every f (tests/test_pbft_votes.py checks this code
against the model's formula on random inputs):

- APPROVE when at least 2f+1 replicas approve (a quorum, Castro and Liskov section 4.2);
- REJECT when at least n - 2f replicas reject: APPROVE has become impossible, since at most 2f replicas
  are left. With n = 3f+1 that is f+1 rejections, so at least one honest replica rejects. The literal
  "f+1" would not do for n > 3f+1: at n = 5, f = 1, three approvals and two rejections are both reached;
- NO_CONSENSUS otherwise.

Missing votes. A replica that abstains, is silent (crashed, Byzantine, partitioned) or has not been heard
from yet counts for neither side; there is no abstain vote, an absent key is one. NO_CONSENSUS is
therefore "not decided on these votes": more votes may decide it, and a decision, once reached, stands
whatever votes come later (each replica votes once). Once all n replicas have voted there is always a
decision. With f replicas silent and the honest ones split, NO_CONSENSUS can be final.

What the rule guarantees (proved in models/pbft.py, for every n >= 3f+1 and at most f Byzantine
replicas): APPROVE and REJECT never both hold; if every honest replica approves, the decision is APPROVE
and if every honest replica rejects it is REJECT, whatever the Byzantine ones vote or withhold.

Use it on one agreed set of votes. Two replicas that each count the votes they received can decide
opposite ways when a Byzantine replica tells them different votes (models/pbft.py shows it for f = 1),
so order the votes through PBFT before counting, or count signed votes with equivocation detection:
`Ballot` refuses a second, different vote from one replica (`Equivocation`, evidence for the caller) and
counts a repeated one once (a duplicated message).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from collections.abc import Mapping

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.base.config import name_set
from meshcheck.impl.base.errors import ImplError


class Vote(enum.Enum):
    APPROVE = "approve"
    REJECT = "reject"


class Decision(enum.Enum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    NO_CONSENSUS = "NO_CONSENSUS"


class UnknownVoter(ImplError):
    """A vote from a replica that is not a member of the vote."""


class Equivocation(ImplError):
    """One replica cast two different votes."""

    def __init__(self, voter: str, first: Vote, second: Vote) -> None:
        self.voter = voter
        self.first = first
        self.second = second
        super().__init__(f"{voter} voted {first.value} and then {second.value}")


@attrs.frozen
class Tally:
    """The counts a decision was made on. missing: replicas that did not vote."""

    approvals: int
    rejections: int
    missing: int
    decision: Decision


def _replicas(replicas: Iterable[str]) -> frozenset[str]:
    return name_set(replicas, field="replicas", what="a collection of ids")


@attrs.frozen
class VoteRule:
    """The rule for a fixed membership: `replicas` vote, at most `f` of them Byzantine (n >= 3f+1)."""

    replicas: frozenset[str] = attrs.field(converter=_replicas)
    f: int

    def __attrs_post_init__(self) -> None:
        if self.f < 0:
            raise ImplError(f"f must be at least 0, not {self.f}")
        if not quorum.tolerates(self.n, self.f):
            raise ImplError(
                f"{self.n} replicas cannot tolerate f = {self.f} Byzantine ones: n must be >= 3f+1"
            )

    @property
    def n(self) -> int:
        return len(self.replicas)

    @property
    def approve_at(self) -> int:
        return quorum.honest_majority(self.f)

    @property
    def reject_at(self) -> int:
        return quorum.blocking(self.n, self.approve_at)

    def decide(self, approvals: int, rejections: int) -> Decision:
        """The decision on these counts; each replica votes at most once, so they sum to at most n."""
        if approvals < 0 or rejections < 0 or approvals + rejections > self.n:
            raise ImplError(
                f"{approvals} approvals and {rejections} rejections are not votes of {self.n} replicas"
            )
        if approvals >= self.approve_at:
            return Decision.APPROVE
        if rejections >= self.reject_at:
            return Decision.REJECT
        return Decision.NO_CONSENSUS

    def tally(self, votes: Mapping[str, Vote]) -> Tally:
        """Count `votes` (one per replica, by construction of a mapping); refuse unknown voters."""
        unknown = sorted(set(votes) - self.replicas)
        if unknown:
            raise UnknownVoter(f"votes from replicas that are not members: {unknown}")
        approvals = sum(1 for v in votes.values() if v is Vote.APPROVE)
        rejections = sum(1 for v in votes.values() if v is Vote.REJECT)
        if approvals + rejections != len(votes):
            raise ImplError(f"votes must be Vote values: {dict(votes)!r}")
        return Tally(approvals, rejections, self.n - len(votes), self.decide(approvals, rejections))


@attrs.frozen
class Ballot:
    """The votes of one question as they arrive, each replica counted once (a value: `cast` returns a
    new Ballot). votes: (replica, vote) pairs sorted by replica."""

    rule: VoteRule
    votes: tuple[tuple[str, Vote], ...] = ()

    def cast(self, voter: str, vote: Vote) -> Ballot:
        """Add `voter`'s vote. The same vote again changes nothing (a duplicated message); a different
        one raises Equivocation and leaves the ballot as it was."""
        if voter not in self.rule.replicas:
            raise UnknownVoter(f"{voter} is not a member of this vote")
        first = dict(self.votes).get(voter)
        if first is vote:
            return self
        if first is not None:
            raise Equivocation(voter, first, vote)
        return attrs.evolve(
            self, votes=tuple(sorted((*self.votes, (voter, vote)), key=lambda p: p[0]))
        )

    @property
    def tally(self) -> Tally:
        return self.rule.tally(dict(self.votes))

    @property
    def decision(self) -> Decision:
        return self.tally.decision


def tally(votes: Mapping[str, Vote], replicas: Iterable[str], f: int) -> Decision:
    """The decision on `votes` among `replicas`, at most `f` of them Byzantine."""
    return VoteRule(frozenset(replicas), f).tally(votes).decision
