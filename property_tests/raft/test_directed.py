"""The directed scenarios (property_tests/directed/) on the reference core: each reaches its
situation and holds, over a few seeds; and catalogue mutants (impl/raft/mutants.py) switched on
make the scenario written for their bug fail (docs/raft-scenarios.md records both)."""

from __future__ import annotations

import pytest

from meshcheck.property_tests.directed.library import BY_NAME
from meshcheck.property_tests.directed.library import SCENARIOS
from meshcheck.property_tests.directed.library import Scenario
from meshcheck.property_tests.directed.run import outcome
from meshcheck.property_tests.raft.directed import TARGET

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_scenario_reaches_its_situation_and_holds(scenario: Scenario, seed: int) -> None:
    found = outcome(TARGET, scenario, seed)
    assert found.verdict == "pass", found.problem
    assert found.reached is not None


# (mutant, the scenario that kills it, a seed it does so on): what `meshcheck scenarios --protocol
# raft --mutant M` finds; the seed matters only where the mutant needs the run to take one turn
KILLS = [
    ("commit_previous_term", "figure-8", 1),
    ("repropose_uncommitted", "figure-8", 1),
    ("pending_writes_persisted", "figure-8", 1),
    ("pending_writes_outlive_restart", "figure-8", 1),
    ("backup_past_conflict", "figure-8", 2),
    ("forget_voted_for", "restart-after-vote", 1),
    ("truncate_on_stale_append", "far-behind", 1),
    ("repropose_uncommitted", "far-behind", 1),
    ("leader_ignores_higher_term", "partitioned-leader", 1),
    ("deposed_leader_keeps_suffix", "partitioned-leader", 2),
    ("commit_stops_at_older_term", "figure-8", 1),
    ("commit_stops_at_older_term", "far-behind", 1),
    ("stale_match_index", "reordered-replies", 1),  # MatchIndexMonotonic, an action property
]


@pytest.mark.parametrize(("mutant", "scenario", "seed"), KILLS)
def test_a_scenario_kills_the_catalogue_mutant(mutant: str, scenario: str, seed: int) -> None:
    assert outcome(TARGET, BY_NAME[scenario], seed).verdict == "pass"
    found = outcome(TARGET, BY_NAME[scenario], seed, frozenset({mutant}))
    assert found.verdict == "fail", found


def test_figure_8_names_the_commit_rule() -> None:
    """The leader of the later term counted the older entry's replicas (section 5.4.2): the
    scenario says so at the commit, before the entry is overwritten."""
    found = outcome(TARGET, BY_NAME["figure-8"], 1, frozenset({"commit_previous_term"}))
    assert found.problem is not None
    assert "section 5.4.2, Figure 8" in found.problem
    assert "no entry of its term" in found.problem


@pytest.mark.parametrize("scenario", ["figure-8", "far-behind"])
def test_a_leader_stalled_at_an_older_entry_is_named(scenario: str) -> None:
    """commit_stops_at_older_term: the new leader's commit loop stops at an entry of an earlier
    term, so its own entries on a majority never commit. The waits of the scenario would run out
    (an unreached set-up, a write never answered); the CommitLiveness watch names the leader."""
    found = outcome(TARGET, BY_NAME[scenario], 1, frozenset({"commit_stops_at_older_term"}))
    assert found.verdict == "fail" and found.problem is not None
    assert "CommitLiveness: leader s" in found.problem
    assert "stored on" in found.problem and "commitIndex" in found.problem
