"""The directed scenarios (property_tests/directed/) on PySyncObj through the adapter, unchanged:
each reaches its situation and holds (no PySyncObj finding: docs/raft-scenarios.md), and the
bugs injected into PySyncObj (property_tests/pysyncobj/bugs.py) fail the scenario written for
them."""

from __future__ import annotations

import pytest

from meshcheck.property_tests.directed.library import BY_NAME
from meshcheck.property_tests.directed.library import SCENARIOS
from meshcheck.property_tests.directed.library import Scenario
from meshcheck.property_tests.directed.run import outcome
from meshcheck.property_tests.pysyncobj.directed import TARGET

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
@pytest.mark.parametrize("seed", [1, 2])
def test_each_scenario_reaches_its_situation_and_holds(scenario: Scenario, seed: int) -> None:
    found = outcome(TARGET, scenario, seed)
    assert found.verdict == "pass", found.problem
    assert found.reached is not None


def test_figure_8_is_reached_though_the_no_op_travels_with_the_older_entry() -> None:
    """PySyncObj sends its new leader's no-op in the same AppendEntries as the older entry, so the
    follower that must not get the no-op (Y) gets neither: the older entry still reaches a
    majority through the two nodes that held it and X."""
    found = outcome(TARGET, BY_NAME["figure-8"], 1)
    assert found.reached is not None and "(a majority)" in found.reached


KILLS = [
    ("vote_twice", "restart-after-vote"),
    ("keep_conflicting_suffix", "partitioned-leader"),
    ("keep_conflicting_suffix", "far-behind"),
    ("keep_conflicting_suffix", "figure-8"),
]


@pytest.mark.parametrize(("bug", "scenario"), KILLS)
def test_a_scenario_kills_the_injected_bug(bug: str, scenario: str) -> None:
    found = outcome(TARGET, BY_NAME[scenario], 1, frozenset({bug}))
    assert found.verdict == "fail", found
