"""The rejoin scenario of the gossip layer (property_tests/gossip/rejoin.py) under pytest: the
correct nodes pass it over many seeds, every knob, with the partition past the eviction threshold
(every watcher across the cut evicted its peer), back well within the bound; the mutant it is for
fails it with the property and the numbers, and the free runs do not kill that mutant (the point
of the scenario)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import settings

from meshcheck.impl.gossip import mutants
from meshcheck.impl.gossip.config import GossipConfig
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip.free_runs import INTERVAL
from meshcheck.property_tests.gossip.free_runs import once
from meshcheck.property_tests.gossip.rejoin import SCRIPTED
from meshcheck.property_tests.gossip.rejoin import check_rejoin
from meshcheck.property_tests.gossip.rejoin import evict_rounds
from meshcheck.property_tests.gossip.rejoin import rejoin_bound
from meshcheck.property_tests.gossip.rejoin import rejoin_check
from meshcheck.property_tests.gossip.rejoin import scenario
from meshcheck.property_tests.scenarios import caught
from meshcheck.property_tests.scenarios import held

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_the_bound_comes_from_the_parameters() -> None:
    config = GossipConfig("n1", ("n1", "n2", "n3", "n4", "n5"))
    # q = 1/4 at five nodes and three watchers: (3/4)^58 <= 1e-6 / 15, and two rounds more
    assert rejoin_bound(5, config) == 60
    assert rejoin_bound(8, config) > rejoin_bound(5, config)  # a larger view: rarer probes
    assert evict_rounds(config) == 10 + 5 + 1


@pytest.mark.parametrize(("side", "apart"), [(1, 0), (2, 0), (1, 40), (2, 20)])
def test_a_healed_member_is_trusted_and_chosen_again(side: int, apart: int) -> None:
    schedules = [
        Schedule(seed=seed, ticks=0, up=up, apart=apart, side=side, window=window)
        for seed, up, window in itertools.product(range(3), (3, 30), (10, 100))
    ]
    for r in held(SCRIPTED, 5, schedules):
        assert r.back_after is not None and r.back_after <= rejoin_bound(5, r.config) * INTERVAL


def test_the_check_holds_in_the_loaded_profile() -> None:
    rejoin_check(frozenset(), settings(), n=5)


def test_an_eviction_never_lifted_fails_member_chosen_again() -> None:
    schedule = Schedule(seed=0, ticks=0, up=10, apart=0, side=1, window=100)
    bugs = frozenset({mutants.EVICTION_NEVER_LIFTED})
    problem = caught(check_rejoin, schedule, 5, bugs)
    assert problem.startswith("MemberChosenAgain: "), problem
    assert "60 rounds after a partition of 17 rounds healed" in problem
    assert "the bound is 60 rounds (n=5, watchers 3, interval 1000, evict_after 5000" in problem


def test_a_suspicion_never_cleared_fails_it_too() -> None:
    """A bug it was not written for, of the same class (a member kept out after it came back)."""
    schedule = Schedule(seed=1, ticks=0, up=10, apart=0, side=2, window=100)
    bugs = frozenset({mutants.SUSPICION_NEVER_CLEARED})
    problem = scenario(schedule, 5, bugs, record=False).problem
    assert problem is not None and "(no Trust)" in problem, problem


def test_the_free_runs_do_not_see_an_eviction_never_lifted() -> None:
    """The bug class the scenario is for: partition-heavy free runs hold with the mutant on (their
    partitions rarely outlast the eviction threshold, and an evicted member still converges: it
    pulls, and the others' pulls reach it)."""
    bugs = frozenset({mutants.EVICTION_NEVER_LIFTED})
    for seed in range(3):
        schedule = Schedule(seed=seed, ticks=8000, partition=0.6, every=200, window=100)
        assert once(schedule, 5, bugs, record=False).problem is None
