"""Lockstep of impl/hybrid against specs/ThreatLevel.tla and specs/Hybrid.tla (lockstep.py)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.hybrid import mutants
from meshcheck.property_tests.expect import KILL
from meshcheck.property_tests.expect import every_action_fires
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.hybrid.harness import HARNESS
from meshcheck.property_tests.hybrid.lockstep import HYBRID
from meshcheck.property_tests.hybrid.lockstep import THREAT
from meshcheck.property_tests.hybrid.lockstep import hybrid_lockstep
from meshcheck.property_tests.hybrid.lockstep import threat_lockstep

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def _budget() -> settings:
    """The profile's budget; under ci a third of its examples (each walk is 40 steps of two
    specs, and the mutants below show in a few steps)."""
    current = settings()
    if current.derandomize and current.max_examples <= 60:
        return settings(current, max_examples=20)
    return current


def test_the_threat_model_follows_threat_level_and_every_action_fires() -> None:
    every_action_fires(threat_lockstep, _budget(), THREAT.stepper().action_names)


def test_the_nodes_follow_hybrid_and_every_action_fires() -> None:
    every_action_fires(hybrid_lockstep, _budget(), HYBRID.stepper().action_names)


# Which lockstep shows each mutant, and how: the variable that differs after the step that shows it.
SYMPTOMS = {
    mutants.DEESCALATE_CRITICAL_TO_NONE: (threat_lockstep, "level: spec High, impl None"),
    mutants.EQUIVOCATION_IS_LOW: (threat_lockstep, "level: spec Critical, impl "),
    mutants.SWITCH_DROPS_LAST_RAFT_TERM: (hybrid_lockstep, "after Switch("),
    mutants.SWITCH_ON_OWN_EVIDENCE: (hybrid_lockstep, "after OrderEvidence("),
}


@pytest.mark.parametrize("bug", list(SYMPTOMS))
def test_lockstep_fails_on_every_mutant_with_a_short_counterexample(bug: str) -> None:
    check, symptom = SYMPTOMS[bug]
    with pytest.raises(CheckFailed) as failed:
        check(frozenset({bug}), KILL)
    assert symptom in failed.value.message
    short = HARNESS.minimize(failed.value, frozenset({bug}))
    trace = short.trace
    assert trace is not None and trace.meta["bugs"] == (bug,)
    assert len(trace.steps) == short.steps + 1 <= failed.value.steps + 1
    assert short.steps <= 10, short.message


@pytest.mark.parametrize(
    "bug", [mutants.SWITCH_DROPS_LAST_RAFT_TERM, mutants.SWITCH_ON_OWN_EVIDENCE]
)
def test_the_threat_lockstep_alone_misses_the_switch_mutants(bug: str) -> None:
    """They live in the switch, which ThreatLevel.tla does not have: Hybrid.tla's lockstep is the
    one that must catch them (and does, above)."""
    threat_lockstep(frozenset({bug}), settings(KILL, max_examples=10))
