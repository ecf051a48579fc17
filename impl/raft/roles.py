"""Raft's roles and the role changes the protocol has, as data (h11's `_state.py` style).

    Follower  --election timeout-->            Candidate        (section 5.2)
    Candidate --election timeout-->            Candidate        (a new election, next term)
    Candidate --votes from a quorum-->         Leader
    Candidate --AppendEntries of its term,
                or a higher term-->            Follower
    Leader    --higher term-->                 Follower         (Figure 2, "all servers")
    Follower  --higher term-->                 Follower         (adopts the term)

With pre-vote (Ongaro's thesis, section 9.6; RaftConfig.pre_vote) an election timeout starts a
pre-election instead, and the election follows only with a quorum's pre-votes:

    Follower, Candidate, PreCandidate
              --election timeout-->            PreCandidate     (term and vote kept)
    PreCandidate --pre-votes from a quorum-->  Candidate        (the election above)
    PreCandidate --AppendEntries of its term,
                or a higher term-->            Follower

Anything else (a follower that becomes leader without an election, a leader that campaigns) is a bug
in the core: `check_transition` raises `IllegalTransition` naming both roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from typing import Literal
from typing import TypeAlias

from meshcheck.impl.base.errors import IllegalTransition

Role: TypeAlias = Literal["Follower", "PreCandidate", "Candidate", "Leader"]

FOLLOWER: Final = "Follower"
PRE_CANDIDATE: Final = "PreCandidate"
CANDIDATE: Final = "Candidate"
LEADER: Final = "Leader"

TRANSITIONS: Mapping[Role, frozenset[Role]] = {
    FOLLOWER: frozenset({FOLLOWER, PRE_CANDIDATE, CANDIDATE}),
    PRE_CANDIDATE: frozenset({FOLLOWER, PRE_CANDIDATE, CANDIDATE}),
    CANDIDATE: frozenset({FOLLOWER, PRE_CANDIDATE, CANDIDATE, LEADER}),
    LEADER: frozenset({FOLLOWER}),
}


def check_transition(node: str, current: Role, wanted: Role) -> None:
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(node, current, wanted)
