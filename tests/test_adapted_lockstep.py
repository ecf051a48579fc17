"""Lockstep through the adapter contract (property_tests/adapted_lockstep.py): tests/adapter_example.py's
CoreDriver is a `StepDriver`, so TLC's successors of Raft.tla (the lockstep model) can be walked with
it, Hypothesis choosing each step and the variables the adapter exposes compared after it. The
correct core follows; a catalogue mutant does not, and the failure names the step and the variable."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import settings

from meshcheck.impl.adapters.contract import StepDriver
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft import message_record
from meshcheck.property_tests.adapted_lockstep import Lockstep
from meshcheck.property_tests.adapted_lockstep import lockstep
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.harness import resource
from tests.adapter_example import EXAMPLE
from tests.adapter_example import TAKES
from tests.adapter_example import CoreDriver

MODEL = resource("meshcheck.property_tests.raft", "models", "Lockstep.cfg")
SETTINGS = settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# a failing walk is found in about 2 s; Hypothesis's shrinking of it takes over a minute
FAILING = settings(SETTINGS, phases=[Phase.explicit, Phase.generate])


def adapted(bugs: frozenset[str] = frozenset(), driver: type[CoreDriver] = CoreDriver) -> Lockstep:
    def make(node: str, servers: tuple[str, ...]) -> StepDriver:
        return driver(node, servers, bugs)

    return Lockstep(EXAMPLE, MODEL, make, actions=TAKES, message_record=message_record)


def test_the_correct_core_follows_the_spec() -> None:
    walk = lockstep(adapted(), SETTINGS, steps=40)
    assert {"Timeout", "HandleRequestVoteRequest", "HandleRequestVoteResponse"} <= set(walk.taken)
    assert {"ClientRequest", "AppendEntries", "HandleAppendEntriesRequest"} <= set(walk.taken)
    assert sum(walk.taken.values()) > 100


def test_a_catalogue_mutant_leaves_the_spec_at_its_step() -> None:
    with pytest.raises(CheckFailed) as failed:
        lockstep(adapted(frozenset({"vote_without_log_check"})), FAILING, steps=40)
    text = failed.value.message
    assert "adapted lockstep (raft-adapter): step " in text
    assert "HandleRequestVoteRequest(i=" in text
    # the mutant grants a vote the spec refuses (the candidate's log is behind)
    assert "no successor of the spec agrees with the implementation: votedFor[s" in text
    assert "the spec sends" in text and "mvoteGranted |-> FALSE" in text


class ForgetsVote(CoreDriver):
    """An adapter that exposes a wrong variable: the comparison must see it."""

    def state(self) -> Mapping[str, Value]:
        return {**super().state(), "votedFor": "None"}


def test_a_wrong_exposed_variable_fails_at_the_first_vote() -> None:
    with pytest.raises(CheckFailed, match=r"step \d+ Timeout\(i=s\d\).*votedFor\[s\d\]"):
        lockstep(adapted(driver=ForgetsVote), FAILING, steps=40)


def test_a_driver_that_takes_nothing_is_counted_not_passed() -> None:
    class Refuses(CoreDriver):
        def take(self, action: str, params: Mapping[str, Value], now: int) -> bool:
            return False

    walk = lockstep(adapted(driver=Refuses), settings(SETTINGS, max_examples=3), steps=10)
    assert not set(walk.taken) - {"DropMessage", "DuplicateMessage"}
    assert sum(walk.refused.values()) > 0
