"""impl/base/quorum.py: each function against a dumb twin (etcd-io/raft quorum/quick_test.go style:
the fast answer must equal a slow, obviously right one on random inputs), plus the quorum
properties the protocols rely on."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base import quorum


def _twin_quorum_value(values: list[int], q: int) -> int | None:
    """The largest v among the values with at least q values >= v, by trying every candidate."""
    if q < 1:
        return None
    held = [v for v in values if sum(1 for w in values if w >= v) >= q]
    return max(held) if held else None


@given(st.lists(st.integers(min_value=0, max_value=20), max_size=9), st.integers(0, 10))
def test_quorum_value_equals_its_dumb_twin(values: list[int], q: int) -> None:
    assert quorum.quorum_value(values, q) == _twin_quorum_value(values, q)


@given(st.lists(st.sampled_from("abcdefg"), max_size=12), st.integers(0, 8))
def test_reaches_counts_each_voter_once(voters: list[str], threshold: int) -> None:
    assert quorum.votes(voters) == len(dict.fromkeys(voters))
    assert quorum.reaches(voters, threshold) == (len(dict.fromkeys(voters)) >= threshold)


@given(st.integers(1, 8))
def test_two_majorities_always_intersect_and_a_smaller_threshold_does_not(n: int) -> None:
    servers = range(n)
    q = quorum.majority(n)
    subsets = [set(c) for c in itertools.combinations(servers, q)]
    assert all(a & b for a in subsets for b in subsets)
    assert q <= n
    if q > 1:  # one fewer: two disjoint groups of q - 1 exist for every n >= 2
        assert 2 * (q - 1) <= n


@given(st.integers(0, 5), st.integers(0, 4))
def test_byzantine_thresholds(f: int, extra: int) -> None:
    n = 3 * f + 1 + extra
    assert quorum.tolerates(n, f) and not quorum.tolerates(3 * f, f)
    assert quorum.max_faulty(3 * f + 1) == f and quorum.max_faulty(3 * f + 3) == f
    q = quorum.byzantine_quorum(n, f)
    if extra == 0:
        assert q == 2 * f + 1  # the paper's quorum at n = 3f + 1
    # two quorums among n share at least f + 1 replicas, so at least one correct one
    assert 2 * q - n >= quorum.one_correct(f)
    # the n - f correct replicas make a quorum alone
    assert q <= n - f
    # one agreed tally: 2f + 1 approvals hold more correct voters than faulty ones, and the
    # correct ones alone reach it; n - 2f rejections leave fewer than 2f + 1 who could approve,
    # one fewer leaves enough
    t = quorum.honest_majority(f)
    assert t - f > f and t <= n - f
    assert n - quorum.blocking(n, t) < t
    assert n - (quorum.blocking(n, t) - 1) >= t
    assert quorum.blocking(n, t) == n - 2 * f


def smallest_overlap(n: int, size: int) -> int:
    """The fewest members two groups of `size` among `n` share, by trying every pair (bit masks)."""
    groups = [sum(1 << k for k in c) for c in itertools.combinations(range(n), size)]
    return min((a & b).bit_count() for a in groups for b in groups)


# Every Byzantine certificate threshold of the cores (one agreed tally, impl/pbft/votes.py, needs
# none), at every cluster size up to 13 with the f it tolerates, against the brute force: two quorums share a correct replica whichever f are faulty, the correct
# replicas alone make a quorum, f + 1 includes a correct one. A rule written for n = 3f + 1 (2f + 1
# votes) fails here at n = 5 (two quorums of 3 share one replica, maybe the faulty one) and 6.
def bft_thresholds(n: int) -> dict[str, int]:
    from meshcheck.impl.hotstuff.replica import HotStuffConfig
    from meshcheck.impl.pbft.config import PbftConfig
    from meshcheck.impl.pbft.log import prepares_needed

    replicas = tuple(f"r{k}" for k in range(1, n + 1))
    pbft = PbftConfig("r1", replicas)
    return {
        "PBFT quorum": pbft.quorum,
        "PBFT prepared (pre-prepare + prepares)": 1 + prepares_needed(pbft),
        "HotStuff QC": HotStuffConfig("r1", replicas).quorum,
    }


@pytest.mark.parametrize("n", range(4, 14))
def test_every_bft_threshold_against_a_brute_force_intersection(n: int) -> None:
    f = quorum.max_faulty(n)
    for name, q in bft_thresholds(n).items():
        assert smallest_overlap(n, q) >= f + 1, f"{name} of {q} at n = {n}, f = {f}"
        assert q <= n - f, f"{name} of {q} at n = {n}: the correct replicas cannot make it"


@pytest.mark.parametrize("n", range(4, 14))
def test_the_one_size_short_of_the_quorum_is_not_safe(n: int) -> None:
    """The brute force tells the sizes apart: one vote fewer than the quorum lets two quorums
    share no correct replica (so the check above would fail a rule that took it)."""
    f = quorum.max_faulty(n)
    q = quorum.byzantine_quorum(n, f)
    assert smallest_overlap(n, q - 1) < f + 1


def test_dumb_twin_is_not_trivially_equal() -> None:
    """The twin and the function disagree with a broken quorum_value (off by one in the rank)."""

    def broken(values: list[int], q: int) -> int | None:
        ranked = sorted(values, reverse=True)
        return ranked[q] if 0 < q < len(ranked) else None

    assert broken([5, 3, 1], 2) != _twin_quorum_value([5, 3, 1], 2)
    assert quorum.quorum_value([5, 3, 1], 2) == 3
    assert quorum.quorum_value([5, 3], 3) is None
    assert quorum.quorum_value([1, 1, 1], 3) == 1
