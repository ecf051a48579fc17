"""Lockstep of the HotStuff replicas against specs/HotStuff.tla (every replica honest): the correct
group follows every path the loaded Hypothesis profile draws, and a mutant that changes what the
spec sees diverges with the variable that differs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import Phase, settings

from meshcheck.impl.hotstuff import mutants
from meshcheck.impl.hotstuff.messages import BlockRequest
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.harness import Follower
from meshcheck.property_tests.hotstuff.harness import HARNESS
from meshcheck.property_tests.hotstuff.lockstep import (
    HOTSTUFF_BYZANTINE,
    Driver,
    lockstep,
    lockstep_byzantine,
)
from meshcheck.traces import itf


def test_the_replicas_follow_the_spec() -> None:
    lockstep(frozenset(), settings())


@pytest.mark.parametrize(
    "mutant,variable",
    [
        (mutants.LOCK_NOT_UPDATED, "locked"),
        (mutants.COMMIT_ON_TWO_CHAIN, "committed"),
        (mutants.SAFE_NODE_WITHOUT_SAFETY_CLAUSE, "lastVoted"),
    ],
)
def test_a_mutant_diverges(mutant: str, variable: str) -> None:
    with pytest.raises(CheckFailed) as failed:
        lockstep(
            frozenset({mutant}),
            settings(max_examples=60, database=None, phases=[Phase.generate]),
        )
    assert f"{variable}: " in failed.value.message


# -- r1 a Byzantine puppet (models/LockstepByzantine.cfg) -------------------------------------------


def test_the_replicas_follow_the_spec_with_a_byzantine_puppet() -> None:
    lockstep_byzantine(frozenset(), settings())


def test_the_puppet_kills_a_second_vote_in_one_view() -> None:
    """vote_twice_in_view, which the honest lockstep misses: r1, the leader of view 4, offers a
    replica that voted in view 4 its other block of that view; the mutant votes again, the spec
    does not (Vote's View(b) > lastVoted), and msgs differ."""
    with pytest.raises(CheckFailed) as failed:
        lockstep_byzantine(
            frozenset({mutants.VOTE_TWICE_IN_VIEW}),
            settings(max_examples=60, database=None, phases=[Phase.generate]),
        )
    assert "msgs: only in impl" in failed.value.message
    lockstep(  # the honest lockstep misses it
        frozenset({mutants.VOTE_TWICE_IN_VIEW}),
        settings(max_examples=60, database=None, phases=[Phase.generate]),
    )


def _follow(labels: list[str]) -> Driver:
    """The group with r1 a puppet, made to take the spec path of these action labels."""
    (state,) = HOTSTUFF_BYZANTINE.stepper().init_states()
    follower = HOTSTUFF_BYZANTINE.follower(HOTSTUFF_BYZANTINE, state, frozenset())
    for label in labels:
        (t,) = [t for t in HOTSTUFF_BYZANTINE.successors(state) if t.action.label() == label]
        follower.take(t)
        state = t.state
    driver: Driver = follower.driver
    return driver


B1 = "<<[cmd |-> a, view |-> 1]>>"
B2 = "<<[cmd |-> a, view |-> 2]>>"


@pytest.mark.parametrize(
    "labels,voters",
    [
        (  # found by the dev profile: r4 never got the view-1 block that r1's view-4 block extends
            [
                "Propose(i=r2, v=1)",
                "Timeout(i=r4)",
                f"Vote(i=r2, b={B1})",
                f"Vote(i=r3, b={B1})",
                f"FormQC(i=r3, b={B1})",
                "Propose(i=r3, v=2)",
                "Timeout(i=r3)",
                "Vote(i=r4, b=<<[cmd |-> a, view |-> 1], [cmd |-> a, view |-> 4]>>)",
            ],
            {"r2", "r3"},
        ),
        (  # its shrunk form: the parent is a view-2 block no QC was formed for
            [
                "Timeout(i=r2)",
                "Timeout(i=r3)",
                "NewView(i=r3, v=2)",
                f"Vote(i=r3, b={B2})",
                "Vote(i=r3, b=<<[cmd |-> a, view |-> 4]>>)",
                f"Vote(i=r2, b={B2})",
                "Vote(i=r4, b=<<[cmd |-> a, view |-> 2], [cmd |-> a, view |-> 4]>>)",
            ],
            {"r2", "r3"},
        ),
    ],
)
def test_a_missing_parent_is_fetched_from_the_qcs_voters(
    labels: list[str], voters: set[str]
) -> None:
    """r1, the Byzantine leader of view 4, proposes to r4 a block on a parent r4 never received
    and does not answer r4's request for it. The spec's r4 votes (Vote needs only the proposal);
    r4 used to ask only r1, so it could not, and then voted for the other view-4 block the puppet
    offered. The parent's QC names its voters, and r4 asks them too: the path is followed, and
    the parent came from one of them."""
    driver = _follow(labels)
    asked = {d for s, d, m in driver.sent if s == "r4" and isinstance(m, BlockRequest)}
    assert "r1" in asked and asked & voters, asked
    r4 = driver.plugin.replica("r4")
    assert r4.last_voted == 4 and len(driver.chain(r4.high_qc.block)) == 1


def test_the_stored_path_replays_on_its_model() -> None:
    """The stored run (traces/counterexamples/hotstuff/) is a path of the puppet's model: the
    harness replays it there, not on the honest model, where r1 cannot propose."""
    path = Path(HARNESS.fixed()[0])
    assert path.name == "parent_asked_of_its_byzantine_proposer_only.itf.json"
    trace = itf.read(path)
    assert HARNESS.replay_on_impl(trace, frozenset(), where=str(path)) == len(trace.steps) - 1
    seen: list[Follower] = []
    HARNESS.replay_on_impl(trace, frozenset(), where=str(path), observe=seen.append)
    assert seen and seen[0].target is HOTSTUFF_BYZANTINE
