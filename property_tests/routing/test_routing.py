"""The manager's routing checks hold on the correct manager and kill each of its mutants (the
kill in `make test`: the scenario, and the free runs on the one mutant they kill fastest)."""

from __future__ import annotations

import hypothesis
import pytest

from meshcheck.impl.manager.mutants import BUGS, CRITICAL_TO_RAFT_AT_NONE
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.routing.free_runs import free_runs, scenario

# a mutant's failing run, not shrunk (shrinking a free run costs minutes; `meshcheck mutants` does it)
NO_SHRINK = hypothesis.settings(
    database=None, phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate]
)


def test_the_scenario_holds() -> None:
    scenario(frozenset())


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_scenario_kills_each_mutant(bug: str) -> None:
    with pytest.raises(CheckFailed) as failed:
        scenario(frozenset({bug}))
    invariant = {
        "critical_to_raft_at_none": "CriticalOnlyByBFT",
        "unknown_to_gossip": "UnknownRefused",
        "rejected_counted_as_agreed": "AgreedMeansDecided",
    }[bug]
    assert str(failed.value).startswith(f"{invariant}: ")


def test_free_runs_hold() -> None:
    free_runs(frozenset(), hypothesis.settings())


def test_free_runs_kill_a_critical_op_routed_to_raft() -> None:
    with pytest.raises(CheckFailed, match="CriticalOnlyByBFT"):
        free_runs(frozenset({CRITICAL_TO_RAFT_AT_NONE}), NO_SHRINK)
