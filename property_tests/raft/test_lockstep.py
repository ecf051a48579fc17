"""Lockstep of the Raft implementation against specs/Raft.tla (property_tests/raft/lockstep.py)."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

from meshcheck.impl.raft import mutants
from meshcheck.impl.raft.refinement import Budget
from meshcheck.property_tests.coverage import never_taken
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.raft.driver import Driver, bag_change, differences
from meshcheck.property_tests.raft.lockstep import describe, lockstep, lockstep_stepper, successors
from meshcheck.specs.tlc.stepper import Transition

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_the_implementation_follows_the_spec_and_every_action_fires() -> None:
    """The check itself, with the profile's budget; and every action of Next is taken at least once
    across the run (an action the test never takes is an action nobody tested)."""
    never, fired = never_taken(
        lambda budget, fired: lockstep(frozenset(), budget, fired=fired),
        settings(),
        lockstep_stepper().action_names,
    )
    assert not never, f"lockstep never took {never} (taken: {dict(fired)})"


FAST = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    report_multiple_bugs=False,
    phases=[Phase.generate],
)


@pytest.mark.parametrize(
    "bug", [mutants.FORGET_VOTED_FOR, mutants.READ_WITHOUT_QUORUM, mutants.VOTE_WITHOUT_LOG_CHECK]
)
def test_lockstep_fails_on_a_broken_implementation(bug: str) -> None:
    """Both directions of the check have teeth: a state that differs (votedFor lost, a vote the spec
    refuses) and a step the spec does not allow (a read served without a quorum)."""
    with pytest.raises(CheckFailed) as failed:
        lockstep(frozenset({bug}), FAST)
    assert failed.value.steps >= 1
    trace = failed.value.trace
    assert trace is not None and trace.meta["bugs"] == (bug,)
    assert len(trace.steps) == failed.value.steps + 1  # the initial state, then one per step
    if bug == mutants.READ_WITHOUT_QUORUM:
        assert "does not allow CompleteRead" in failed.value.message
    else:
        assert "not in the spec's state" in failed.value.message


def test_the_driver_sends_the_prefix_the_spec_chose() -> None:
    """AppendEntries(i, j) may carry any non-empty prefix; the driver forces the same batch."""
    stepper = lockstep_stepper()
    (state,) = stepper.init_states()
    driver = Driver(["s1", "s2", "s3"], budget=Budget(**state.values["budget"]))

    def entries(t: Transition) -> int:
        (sent,) = bag_change(state.values, t.state.values)[1]
        return len(sent["mentries"])

    def take(t: Transition) -> None:
        nonlocal state
        driver.take(t.action.name, t.action.params, state.values, t.state.values)
        assert driver.state() == t.state.values, differences(t.state.values, driver.state())
        state = t.state

    def only(label: str) -> Transition:
        (t,) = [t for t in successors(state) if t.action.label() == label]
        return t

    take(only("Timeout(i=s1)"))
    take(only("HandleRequestVoteRequest(i=s2, j=s1)"))
    take(only("HandleRequestVoteResponse(i=s1, j=s2)"))  # s1 leads term 1: its no-op at index 1
    take(only("ClientRequest(i=s1, v=v1)"))
    take(only("ClientRequest(i=s1, v=v2)"))
    # nextIndex[s1][s3] is 1 (set at the election): a batch of 1, 2 or 3 entries
    batches = sorted(
        (t for t in successors(state) if t.action.label() == "AppendEntries(i=s1, j=s3)"),
        key=entries,
    )
    assert [entries(t) for t in batches] == [1, 2, 3]
    assert describe(batches[0], state).endswith("1 entry, commitIndex=0, readSeq=0)")
    take(batches[0])
    take(only("HandleAppendEntriesRequest(i=s3, j=s1)"))
    assert driver.sim.nodes["s3"].log.last_index == 1
