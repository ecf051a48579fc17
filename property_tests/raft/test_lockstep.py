"""Lockstep of the Raft implementation against specs/Raft.tla (property_tests/raft/lockstep.py)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.raft import mutants
from meshcheck.impl.raft.refinement import Budget
from meshcheck.property_tests.expect import KILL
from meshcheck.property_tests.expect import Walk
from meshcheck.property_tests.expect import counterexample
from meshcheck.property_tests.expect import every_action_fires
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.raft.driver import Driver
from meshcheck.property_tests.raft.driver import bag_change
from meshcheck.property_tests.raft.driver import differences
from meshcheck.property_tests.raft.lockstep import describe
from meshcheck.property_tests.raft.lockstep import lockstep
from meshcheck.property_tests.raft.lockstep import lockstep_stepper
from meshcheck.property_tests.raft.lockstep import successors
from meshcheck.specs.tlc.stepper import Transition

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_the_implementation_follows_the_spec_and_every_action_fires() -> None:
    """The check itself, with the profile's budget; and every action of Next is taken at least once
    across the run (an action the test never takes is an action nobody tested)."""
    every_action_fires(lockstep, settings(), lockstep_stepper().action_names)


@pytest.mark.parametrize(
    "bug", [mutants.FORGET_VOTED_FOR, mutants.READ_WITHOUT_QUORUM, mutants.VOTE_WITHOUT_LOG_CHECK]
)
def test_lockstep_fails_on_a_broken_implementation(bug: str) -> None:
    """Both directions of the check have teeth: a state that differs (votedFor lost, a vote the spec
    refuses) and a step the spec does not allow (a read served without a quorum)."""
    with pytest.raises(CheckFailed) as failed:
        lockstep(frozenset({bug}), KILL)
    assert failed.value.steps >= 1
    counterexample(failed.value, bug)
    if bug == mutants.READ_WITHOUT_QUORUM:
        assert "does not allow CompleteRead" in failed.value.message
    else:
        assert "not in the spec's state" in failed.value.message


def test_the_driver_sends_the_prefix_the_spec_chose() -> None:
    """AppendEntries(i, j) may carry any non-empty prefix; the driver forces the same batch."""
    (init,) = lockstep_stepper().init_states()
    driver = Driver(["s1", "s2", "s3"], budget=Budget(**init.values["budget"]))
    walk = Walk(init, driver, successors, differences)

    def entries(t: Transition) -> int:
        (sent,) = bag_change(walk.state.values, t.state.values)[1]
        return len(sent["mentries"])

    for label in (
        "Timeout(i=s1)",
        "HandleRequestVoteRequest(i=s2, j=s1)",
        "HandleRequestVoteResponse(i=s1, j=s2)",  # s1 leads term 1: its no-op at index 1
        "ClientRequest(i=s1, v=v1)",
        "ClientRequest(i=s1, v=v2)",
    ):
        walk.take(walk.only(label))
    # nextIndex[s1][s3] is 1 (set at the election): a batch of 1, 2 or 3 entries
    batches = sorted(walk.labelled("AppendEntries(i=s1, j=s3)"), key=entries)
    assert [entries(t) for t in batches] == [1, 2, 3]
    assert describe(batches[0], walk.state).endswith("1 entry, commitIndex=0, readSeq=0)")
    walk.take(batches[0])
    walk.take(walk.only("HandleAppendEntriesRequest(i=s3, j=s1)"))
    assert driver.sim.nodes["s3"].log.last_index == 1
