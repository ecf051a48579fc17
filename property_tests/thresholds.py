"""Byzantine thresholds right at every cluster size, not only at the sizes the tests run.

A rule written for n = 3f + 1 (a quorum of 2f + 1) is right at n = 4 and 7 and wrong at 5, 6, 8, 9:
two quorums of 2f + 1 among n share 4f + 2 - n replicas, fewer than f + 1 once n > 3f + 1, so
perhaps only a faulty one, and two certificates may then conflict. Free runs at the sizes the
tests use never see it. This check builds a protocol's configuration at every n from 4 to
`LARGEST` with the mutants given, reads each certificate threshold it counts votes with, and asks
a brute force (every pair of groups of that size, as bit masks) whether two such groups always
share f + 1 replicas, so a correct one, and whether the n - f correct replicas can make one alone.
impl/base/quorum.py gives the rule; models/pbft.py proves it for every n and f in Z3.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from collections.abc import Mapping

from hypothesis import settings as Settings

from meshcheck.impl.base import quorum
from meshcheck.property_tests.failure import CheckFailed

LARGEST = 10  # the check's sizes (4..10: a second in all); tests/test_quorum.py goes to 13

# (n, mutants) -> each certificate threshold's name and size
Thresholds = Callable[[int, frozenset[str]], Mapping[str, int]]


@functools.cache
def smallest_overlap(n: int, size: int) -> int:
    """The fewest members two groups of `size` among `n` share, by trying every pair."""
    groups = [sum(1 << k for k in c) for c in itertools.combinations(range(n), size)]
    return min((a & b).bit_count() for a in groups for b in groups)


def problems(n: int, thresholds: Mapping[str, int]) -> list[str]:
    """What is wrong with the thresholds at n (none: every one intersects safely and is reachable)."""
    f = quorum.max_faulty(n)
    found = []
    for name, q in thresholds.items():
        if not 1 <= q <= n:
            found.append(f"{name} is {q} of n = {n}")
        elif smallest_overlap(n, q) < f + 1:
            found.append(
                f"{name} is {q} at n = {n}, f = {f}: two such quorums may share only "
                f"{smallest_overlap(n, q)} replicas, which may be faulty (needs "
                f"{quorum.byzantine_quorum(n, f)})"
            )
        elif q > n - f:
            found.append(f"{name} is {q} at n = {n}, f = {f}: the {n - f} correct replicas cannot")
    return found


def check(thresholds: Thresholds, bugs: frozenset[str], _settings: Settings | None = None) -> None:
    """The check: CheckFailed at the first size whose thresholds are not safe (settings unused:
    the sizes are all tried)."""
    for n in range(4, LARGEST + 1):
        found = problems(n, thresholds(n, bugs))
        if found:
            raise CheckFailed("; ".join(found), steps=0)
