"""Quorum arithmetic, once for every protocol: pure functions of counts and voter sets.

Crash faults (Raft, Ongaro and Ousterhout 2014, section 5.2): a quorum is a majority of the n
servers, so any two quorums share a server. Byzantine faults (PBFT, Castro and Liskov 1999,
section 3 and 4.2): with n >= 3f + 1 replicas, at most f of them faulty, a quorum is
ceil((n + f + 1) / 2), so that any two quorums share 2q - n >= f + 1 replicas and so at least one
correct one, while the n - f correct replicas alone still make one. At n = 3f + 1 that is the
paper's 2f + 1; at any other n, 2f + 1 is wrong (n = 5, f = 1: two quorums of 3 share one replica,
which may be the faulty one; n = 6: none). f + 1 matching answers include at least one from a
correct replica. One agreed tally of votes (impl/pbft/votes.py: no two counters to agree) needs no
intersection: 2f + 1 approvals hold more correct replicas than faulty ones, and the n - f correct
replicas alone reach it. n - t + 1 rejections make t approvals impossible. models/pbft.py proves
the intersection (`quorum_for_any_n`) and the tally's rule for every n and f.

A vote counts once per voter, however often its message arrives: `votes` counts distinct voters and
`reaches` asks whether they make a threshold. `quorum_value` is etcd-io/raft's
`majorityConfig.CommittedIndex` (quorum/majority.go) for any threshold: the highest value that at
least `quorum` of the voters have reached. Raft's commit index is it with a majority, the hybrid
layer's replicated clock with f + 1 (the highest time one correct node vouches for).

tests/test_quorum.py checks each function against a brute-force twin on random inputs.
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Iterable


def majority(n: int) -> int:
    """The smallest majority of `n` voters: n // 2 + 1 (two majorities always intersect)."""
    return n // 2 + 1


def max_faulty(n: int) -> int:
    """The most Byzantine replicas `n` replicas tolerate: the largest f with n >= 3f + 1."""
    return (n - 1) // 3


def tolerates(n: int, f: int) -> bool:
    """Whether `n` replicas can tolerate `f` Byzantine ones (n >= 3f + 1, f >= 0)."""
    return f >= 0 and n >= 3 * f + 1


def byzantine_quorum(n: int, f: int) -> int:
    """ceil((n + f + 1) / 2): two such quorums of `n` replicas share at least f + 1, at least one
    of them correct, and the n - f correct replicas make one alone (n >= 3f + 1). At n = 3f + 1 it
    is 2f + 1."""
    return (n + f + 2) // 2


def one_correct(f: int) -> int:
    """f + 1: the fewest distinct replicas among which at least one is correct."""
    return f + 1


def honest_majority(f: int) -> int:
    """2f + 1: the fewest votes whose correct voters outnumber the faulty ones, whatever f of them
    are faulty; the threshold of one agreed tally (not of certificates that two replicas must
    agree on: `byzantine_quorum`)."""
    return 2 * f + 1


def blocking(n: int, threshold: int) -> int:
    """n - threshold + 1: once this many of `n` voters reject, `threshold` approvals can no longer
    be reached (with the tally's 2f + 1 at n = 3f + 1: f + 1)."""
    return n - threshold + 1


def votes(voters: Iterable[Hashable]) -> int:
    """How many distinct voters there are (a repeated vote counts once)."""
    return len(set(voters))


def reaches(voters: Iterable[Hashable], threshold: int) -> bool:
    """Whether the distinct `voters` number at least `threshold`."""
    return votes(voters) >= threshold


def quorum_value(values: Iterable[int], quorum: int) -> int | None:
    """The highest value that at least `quorum` of `values` (one per voter) are at or above; None
    when there are fewer than `quorum` values (or `quorum` < 1)."""
    ranked = sorted(values, reverse=True)
    if quorum < 1 or len(ranked) < quorum:
        return None
    return ranked[quorum - 1]
