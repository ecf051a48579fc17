"""impl/base/quorum.py: each function against a dumb twin (etcd-io/raft quorum/quick_test.go style:
the fast answer must equal a slow, obviously right one on random inputs), plus the quorum
properties the protocols rely on."""

from __future__ import annotations

import itertools

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
    q = quorum.byzantine_quorum(f)
    # two quorums of 2f + 1 among n share at least f + 1 replicas, so at least one correct one
    assert 2 * q - n >= quorum.one_correct(f) - extra
    if extra == 0:
        assert 2 * q - n == quorum.one_correct(f)
    # n - 2f rejections leave at most 2f voters who could approve: fewer than 2f + 1
    assert n - quorum.blocking(n, f) < q
    # and one rejection fewer still leaves 2f + 1 approvals possible
    assert n - (quorum.blocking(n, f) - 1) >= q


def test_dumb_twin_is_not_trivially_equal() -> None:
    """The twin and the function disagree with a broken quorum_value (off by one in the rank)."""

    def broken(values: list[int], q: int) -> int | None:
        ranked = sorted(values, reverse=True)
        return ranked[q] if 0 < q < len(ranked) else None

    assert broken([5, 3, 1], 2) != _twin_quorum_value([5, 3, 1], 2)
    assert quorum.quorum_value([5, 3, 1], 2) == 3
    assert quorum.quorum_value([5, 3], 3) is None
    assert quorum.quorum_value([1, 1, 1], 3) == 1
