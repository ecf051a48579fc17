"""Trace validation of free runs against specs/Hybrid.tla (validation.py)."""

from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import settings

from impl.hybrid import mutants
from property_tests.failure import CheckFailed
from traces.values import FrozenDict

from .free_runs import Run, Schedule, play, prepare
from .validation import (
    MAX_OPS,
    THRESHOLDS,
    normalize,
    trace_validation,
    validate,
    validate_run,
)


def test_free_runs_are_spec_behaviours() -> None:
    trace_validation(frozenset(), settings())


# n1 tampers with client ops from op 3 on: High, BFT, back to Raft, and again.
TAMPER = Schedule(seed=2, ticks=600, behaviours=("tamper",), target="n1", start=3)
# n1 tampers and equivocates as PBFT primary from the start, under 2% loss: Critical too.
BOTH = Schedule(
    seed=11, ticks=600, drop=0.02, behaviours=("tamper", "pbft_equivocate"), target="n1", start=1
)


@pytest.fixture(scope="module")
def tampered() -> Run:
    out = prepare(TAMPER, record=True, monitor=False, thresholds=THRESHOLDS)
    play(out, TAMPER, max_ops=MAX_OPS)
    return out


def test_a_run_with_switches_is_a_path_of_the_spec(tampered: Run) -> None:
    trace = tampered.hc.sim.trace()
    assert tampered.switches >= 2
    assert validate(trace) > 100
    actions = {s.action for s in trace.steps}
    assert {"Submit", "OrderOp", "OrderEvidence", "OrderQuiet", "Apply", "Switch"} <= actions
    assert "Reply" in actions
    # "Step" (no spec action) only where the spec sees nothing: n1 leaving the honest set
    for before, after in itertools.pairwise(trace.steps):
        if after.action == "Step":
            assert normalize(before.state) == normalize(after.state)
    # the plugin split events into several spec steps (same node, time and event)
    events = [(s.meta.get("node"), s.meta.get("time"), s.meta.get("event")) for s in trace.steps]
    assert any(a == b for a, b in itertools.pairwise(events))


def test_a_state_the_spec_cannot_reach_fails(tampered: Run) -> None:
    """The check can fail: one node's history doctored in the middle of the run."""
    trace = tampered.hc.sim.trace()
    k = len(trace.steps) // 2
    step = trace.steps[k]
    history = dict(step.state["history"])
    history["n2"] = ("c1/1", "c1/1")
    state = FrozenDict({**step.state, "history": FrozenDict(history)})
    steps = list(trace.steps)
    steps[k] = attrs.evolve(step, state=state)
    with pytest.raises(CheckFailed, match=f"step {k}"):
        validate(attrs.evolve(trace, steps=tuple(steps)))


def test_f_plus_one_rejections_while_a_proposal_is_alive_are_noted(tampered: Run) -> None:
    """A known gap between impl/hybrid and Hybrid.tla's Reject, found by this validation: the
    client sends an op to every node; one already in the new epoch proposes it there, while the
    others, still in the old epoch, reject theirs when they switch. f + 1 such answers make the
    client (HybridConsensus) decide "rejected" of an op that may still commit (the spec's Reject
    needs every proposal dead). The mapping keeps such an op pending and notes it; the run goes
    on to commit it when the client proposes it again. When the nodes stop answering so, this
    test fails: the note can go."""
    assert tampered.hc.plugin.ghost.premature


@pytest.mark.parametrize(
    ("bug", "schedule", "symptom"),
    [
        (mutants.SWITCH_ON_OWN_EVIDENCE, TAMPER, "no step of Hybrid.tla"),
        (mutants.DEESCALATE_CRITICAL_TO_NONE, BOTH, "spec High, impl None"),
    ],
)
def test_validation_fails_on_mutants(bug: str, schedule: Schedule, symptom: str) -> None:
    with pytest.raises(CheckFailed, match=symptom):
        validate_run(schedule, frozenset({bug}))
