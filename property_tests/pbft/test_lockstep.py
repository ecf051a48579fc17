"""Lockstep of the PBFT implementation against specs/PBFT.tla (property_tests/pbft/lockstep.py)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.pbft import NewView
from meshcheck.impl.pbft import mutants
from meshcheck.property_tests.expect import KILL
from meshcheck.property_tests.expect import Walk
from meshcheck.property_tests.expect import counterexample
from meshcheck.property_tests.expect import every_action_fires
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.lockstep import differences
from meshcheck.property_tests.pbft.driver import Driver
from meshcheck.property_tests.pbft.lockstep import lockstep
from meshcheck.property_tests.pbft.lockstep import lockstep_model
from meshcheck.property_tests.pbft.lockstep import lockstep_stepper
from meshcheck.property_tests.pbft.lockstep import successors

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_the_implementation_follows_the_spec_and_every_action_fires() -> None:
    """The check itself, with the profile's budget; and every action of Next is taken at least once
    across the run (an action the test never takes is an action nobody tested)."""
    every_action_fires(lockstep, settings(), lockstep_stepper().action_names)


# How each mutant shows: a state the spec is not in, a step the spec does not allow after the one
# it took, another step than the spec's, or a replica acting on what no guard of the spec counts.
SYMPTOMS = {
    mutants.PREPARE_QUORUM_2F: "Commit(i=r2, v=0, n=1) in the same event, which the spec does not",
    mutants.NEW_VIEW_IGNORES_PREPARED: "is not in the spec's state",
    mutants.COMMIT_WITHOUT_COMMIT_PHASE: "the implementation took Execute",
    mutants.PREPREPARE_FROM_NON_PRIMARY: "which is not the primary of its view",
    mutants.SIGNATURES_NOT_CHECKED: "a forgery in",
    mutants.CHECKPOINT_STABLE_ON_F_PLUS_1: "before it held everything the spec's step needs",
}


@pytest.mark.parametrize("bug", list(SYMPTOMS))
def test_lockstep_fails_on_every_mutant(bug: str) -> None:
    with pytest.raises(CheckFailed) as failed:
        lockstep(frozenset({bug}), KILL)
    assert SYMPTOMS[bug] in failed.value.message
    counterexample(failed.value, bug)


def test_a_byzantine_member_of_the_view_change_quorum_presents_a_certificate() -> None:
    """r1 (Byzantine primary of view 0) pre-prepares "a"; r2 and r3 prepare it but never commit,
    so their view-change messages claim nothing. The spec lets r2's NEW-VIEW re-propose "a" at 1
    anyway: the third member of the quorum is r1, which may present the prepared certificate that
    exists. The driver makes up that view-change message (signed with r1's key, carrying r1's own
    pre-prepare and the honest prepares) and r2 accepts it and computes the same O."""
    (init,) = lockstep_stepper().init_states()
    driver = Driver(lockstep_model())
    walk = Walk(init, driver, successors, differences)
    for label in (
        "Request(r=a)",
        "Prepare(i=r2, v=0, n=1)",
        "Prepare(i=r3, v=0, n=1)",
        "StartViewChange(i=r2)",
        "StartViewChange(i=r3)",
    ):
        walk.take(walk.only(label))
    claims = [m["prepared"] for m in walk.state["msgs"] if m["type"] == "ViewChange"]
    assert claims == [frozenset(), frozenset()]
    wanted = FrozenDict({"seq": 1, "req": "a"})
    (t,) = [
        t
        for t in walk.labelled("NewView(i=r2)")
        if any(m["type"] == "NewView" and m["pre"] == {wanted} for m in t.state["msgs"])
    ]
    walk.take(t)
    nv = driver.sim.nodes["r2"].new_views[1]
    assert isinstance(nv.body, NewView)
    assert sorted(vc.signer for vc in nv.body.view_changes) == ["r1", "r2", "r3"]
    (byzantine,) = [vc.body for vc in nv.body.view_changes if vc.signer == "r1"]
    assert [(p.view, p.seq) for p in byzantine.prepared] == [(0, 1)]
