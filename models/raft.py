"""Raft's election in Z3: majority quorums intersect for every cluster size, and ElectionSafety is inductive.

Raft paper (Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014), section 5.2:
"each server will vote for at most one candidate in a given term", and "a candidate wins an election if it
receives votes from a majority of the servers in the full cluster for the same term". Figure 3, Election
Safety: "at most one leader can be elected in a given term". TLC checks this for 3 servers and a few
terms; here it holds for any number of servers and terms.

The chain: two integer lemmas prove, for every cluster size n, that majority quorums are non-empty and
pairwise intersect. The abstract election model then takes as axioms exactly the quorum facts its lemmas
proved for the configured threshold: a wrong threshold fails its lemma, the axiom is left out, and the
ElectionSafety proof fails under become_leader instead of resting on a fact that is false.
"""

from __future__ import annotations

from typing import Any

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
from meshcheck.models.quorums import quorums_have_member
from meshcheck.models.quorums import quorums_meet

MODEL = "raft.election"


@attrs.frozen
class RaftVariant:
    """Switches that break the model on purpose, to show that each proof can fail.

    vote_once: a server votes for at most one candidate per term (section 5.2). strict_majority: a quorum
    is more than half of the servers (section 5.2); False takes "at least half" (n/2), a known bug.
    """

    vote_once: bool = True
    strict_majority: bool = True


def _is_quorum(size: Any, n: Any, strict_majority: bool) -> Any:
    return 2 * size > n if strict_majority else 2 * size >= n


def _threshold(strict_majority: bool) -> str:
    return "|Q| > n/2" if strict_majority else "|Q| >= n/2"


def quorum_intersection(strict_majority: bool = True) -> Lemma:
    """Any two quorums of any n >= 1 servers share a server.

    Two subsets Q1, Q2 of n servers cut the servers into four Venn regions (Q1 only, Q2 only, both,
    neither); any non-negative region sizes that sum to n are realised by some pair of subsets, and every
    pair gives such sizes. So a claim over the four sizes, with n symbolic, covers every pair of subsets of
    every cluster: linear integer arithmetic, decided in a millisecond. (One Bool per server instead
    blows up around 11 servers: docs/architecture.md.)
    """
    n, q1_only, q2_only, both, neither = z3.Ints("n q1_only q2_only both neither")
    regions = (q1_only, q2_only, both, neither)
    return Lemma(
        name="raft.quorum_intersection",
        statement=f"{_threshold(strict_majority)} => |Q1 & Q2| >= 1, all n",
        hypotheses=(
            n >= 1,
            *(r >= 0 for r in regions),
            z3.Sum(*regions) == n,
            _is_quorum(q1_only + both, n, strict_majority),
            _is_quorum(q2_only + both, n, strict_majority),
        ),
        conclusion=both >= 1,
        shown=(
            ("n", n),
            ("|Q1 only|", q1_only),
            ("|Q2 only|", q2_only),
            ("|Q1 & Q2|", both),
            ("|neither|", neither),
        ),
        minimize=n,
    )


def quorum_nonempty(strict_majority: bool = True) -> Lemma:
    """A quorum of n >= 1 servers has a member (so a candidate cannot win with no votes at all)."""
    n, size = z3.Ints("n size")
    return Lemma(
        name="raft.quorum_nonempty",
        statement=f"{_threshold(strict_majority)} => |Q| >= 1, all n",
        hypotheses=(n >= 1, size >= 0, size <= n, _is_quorum(size, n, strict_majority)),
        conclusion=size >= 1,
        shown=(("n", n), ("|Q|", size)),
        minimize=n,
    )


# The abstract election: sorts are unbounded, so the model stands for every cluster and every term.
# voted(v, t, c): server v voted for candidate c in term t. leader(c, t): c won term t.
# voting_quorum(t): the quorum that elected term t's leader. Raft keeps no such variable: it is a ghost
# (history) variable that lets LeaderElectedByQuorum name the quorum as a function of the term. Writing
# "exists q" under "forall c, t" instead would make a node -> quorum -> node cycle with the quorum axiom
# (forall q1 q2. exists n) and leave EPR.


def _quorums_intersect(s: State) -> Any:
    return quorums_meet(s, "node")


def _quorums_nonempty(s: State) -> Any:
    return quorums_have_member(s, "node")


def _init(s: State) -> Any:
    return z3.And(
        s.forall(("node", "term", "node"), lambda v, t, c: z3.Not(s.voted(v, t, c))),
        s.forall(("node", "term"), lambda c, t: z3.Not(s.leader(c, t))),
    )


def _vote(vote_once: bool) -> Transition:
    def body(old: State, new: State, voter: Any, t: Any, cand: Any) -> Any:
        guard = (
            old.forall(("node",), lambda c: z3.Not(old.voted(voter, t, c)))
            if vote_once
            else z3.BoolVal(True)
        )
        return z3.And(guard, inserted(old, new, "voted", voter, t, cand))

    return Transition(
        "vote", (("voter", "node"), ("t", "term"), ("cand", "node")), ("voted",), body
    )


def _become_leader(old: State, new: State, cand: Any, t: Any, q: Any) -> Any:
    return z3.And(
        old.forall(("node",), lambda n: z3.Implies(old.member(n, q), old.voted(n, t, cand))),
        inserted(old, new, "leader", cand, t),
        assigned(old, new, "voting_quorum", (t,), q),
    )


def _election_safety(s: State) -> Any:
    return s.forall(
        ("node", "node", "term"),
        lambda a, b, t: z3.Implies(z3.And(s.leader(a, t), s.leader(b, t)), a == b),
    )


def _vote_once(s: State) -> Any:
    return s.forall(
        ("node", "term", "node", "node"),
        lambda v, t, a, b: z3.Implies(z3.And(s.voted(v, t, a), s.voted(v, t, b)), a == b),
    )


def _leader_elected_by_quorum(s: State) -> Any:
    return s.forall(
        ("node", "term", "node"),
        lambda c, t, n: z3.Implies(
            z3.And(s.leader(c, t), s.member(n, s.voting_quorum(t))), s.voted(n, t, c)
        ),
    )


def election_model(
    *, vote_once: bool = True, quorums_intersect: bool = True, quorums_nonempty: bool = True
) -> ProtocolModel:
    """The abstract election; the flags say which quorum facts (lemmas) it may assume."""
    axioms = []
    if quorums_intersect:
        axioms.append(Axiom("QuorumsIntersect", _quorums_intersect))
    if quorums_nonempty:
        axioms.append(Axiom("QuorumsNonEmpty", _quorums_nonempty))
    return ProtocolModel(
        name=MODEL,
        sorts=(Sort("node"), Sort("term"), Sort("quorum")),
        symbols=(
            relation("member", "node", "quorum", mutable=False),
            relation("voted", "node", "term", "node"),
            relation("leader", "node", "term"),
            function("voting_quorum", ("term",), "quorum"),
        ),
        axioms=tuple(axioms),
        init=(_init,),
        transitions=(
            _vote(vote_once),
            Transition(
                "become_leader",
                (("cand", "node"), ("t", "term"), ("q", "quorum")),
                ("leader", "voting_quorum"),
                _become_leader,
            ),
        ),
        invariants=(
            Invariant("ElectionSafety", _election_safety),
            Invariant("VoteOnce", _vote_once, auxiliary=True),
            Invariant("LeaderElectedByQuorum", _leader_elected_by_quorum, auxiliary=True),
        ),
    )


def prove(
    variant: RaftVariant = RaftVariant(),
    *,
    depth: int = DEFAULT_DEPTH,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> list[ProofResult]:
    """Every Raft obligation: the quorum lemmas, then the election model on what they proved."""
    return lemmas_then_model(
        (quorum_intersection(variant.strict_majority), quorum_nonempty(variant.strict_majority)),
        lambda proved: election_model(
            vote_once=variant.vote_once,
            quorums_intersect="raft.quorum_intersection" in proved,
            quorums_nonempty="raft.quorum_nonempty" in proved,
        ),
        depth=depth,
        timeout_ms=timeout_ms,
    )
