"""Trace validation of free runs against specs/Hybrid.tla (validation.py)."""

from __future__ import annotations

import itertools
from typing import Any

import attrs
import pytest
from hypothesis import settings

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid import node as hybrid_node
from meshcheck.impl.hybrid.bft import BFT_PROTOCOLS
from meshcheck.impl.hybrid.bft import HOTSTUFF
from meshcheck.impl.hybrid.bft import HybridHotStuff
from meshcheck.impl.hybrid.byzantine import TamperEnvelopes
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.refinement import UNEXPLAINED
from meshcheck.impl.hybrid.refinement import reported_steps
from meshcheck.impl.hybrid.simulation import HybridPlugin
from meshcheck.impl.rsm.ops import Custom
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hybrid import validation
from meshcheck.property_tests.hybrid.free_runs import Run
from meshcheck.property_tests.hybrid.free_runs import knob
from meshcheck.property_tests.hybrid.free_runs import play
from meshcheck.property_tests.hybrid.free_runs import prepare
from meshcheck.property_tests.hybrid.validation import MAX_OPS
from meshcheck.property_tests.hybrid.validation import SETUPS
from meshcheck.property_tests.hybrid.validation import THRESHOLDS
from meshcheck.property_tests.hybrid.validation import normalize
from meshcheck.property_tests.hybrid.validation import trace_validation
from meshcheck.property_tests.hybrid.validation import validate
from meshcheck.property_tests.hybrid.validation import validate_run


@pytest.mark.parametrize("bft", BFT_PROTOCOLS)
def test_free_runs_are_spec_behaviours(bft: str) -> None:
    """With either BFT protocol under the BFT epochs (HotStuff: 7 nodes)."""
    trace_validation(frozenset(), settings(), bft=bft)


# n1 tampers with client ops from op 3 on: High, BFT, back to Raft, and again.
TAMPER = Schedule(seed=2, ticks=600, behaviours=("tamper",), target="n1", start=3)
# n1 tampers and equivocates as PBFT primary from the start, under 2% loss: Critical too.
BOTH = Schedule(
    seed=11, ticks=600, drop=0.02, behaviours=("tamper", "pbft_equivocate"), target="n1", start=1
)


# BOTH with HotStuff under the BFT epochs, 7 nodes, shorter: n1, HotStuff leader in epoch 2,
# equivocates there (Critical ordered inside the HotStuff epoch), then quiet, back to Raft. (Seed 11
# until the replicas kept each node's newest clock reading only, impl/hybrid/bft.py: that run's
# HotStuff epoch now ends before its equivocation is ordered, which a Raft epoch orders instead.)
HOTSTUFF_BOTH = Schedule(
    seed=22, ticks=400, drop=0.02, behaviours=("tamper", "pbft_equivocate"), target="n1", start=1
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
    # an unexplained change (no reported action) only where the spec sees nothing: n1 leaving
    # the honest set
    for before, after in itertools.pairwise(trace.steps):
        if after.action == UNEXPLAINED:
            assert normalize(before.state) == normalize(after.state)
    # the plugin split events into several spec steps (same node, time and event)
    events = [(s.meta.get("node"), s.meta.get("time"), s.meta.get("event")) for s in trace.steps]
    assert any(a == b for a, b in itertools.pairwise(events))


def test_the_reported_actions_are_checked_against_the_state(tampered: Run) -> None:
    """The steps are what the nodes reported (Action effects); the mapped state only checks them.
    A report the state does not bear out, or a change nobody reported, is a step named
    UNEXPLAINED, and validation fails on it with the reason."""
    trace = tampered.hc.sim.trace()
    plugin = tampered.hc.sim.plugin
    assert isinstance(plugin, HybridPlugin)
    ghost = plugin.ghost
    k = next(k for k, s in enumerate(trace.steps) if s.action == "Apply" and k > 10)
    before, after = trace.steps[k - 1].state, trace.steps[k].state
    i = str(trace.steps[k].params["i"])

    def walk(*reports: Action) -> list[tuple[str | None, FrozenDict]]:
        segments = [(r, ()) for r in reports]
        steps = reported_steps(before, after, ghost, i, True, segments, {})
        assert steps[-1][3] == after
        return [(name, params) for name, params, _, _ in steps]

    assert walk(Action("Apply", {"i": i})) == [("Apply", FrozenDict({"i": i}))]
    # a reported Submit that changes nothing the spec sees is no step; the Apply still is
    assert walk(Action("Submit", {"o": "c1/999"}), Action("Apply", {"i": i}))[1][0] == "Apply"
    (silent,) = walk()  # the state changed, nobody reported it
    assert silent[0] == UNEXPLAINED and "leave applied" in str(silent[1]["why"])
    *_, wrong = walk(Action("Switch", {"i": i}))  # a switch before the switch entry
    assert wrong[0] == UNEXPLAINED and "before epoch" in str(wrong[1]["why"])
    # ... and trace validation fails there, saying why
    steps = list(trace.steps)
    steps[k] = attrs.evolve(steps[k], action=UNEXPLAINED, params=wrong[1])
    with pytest.raises(CheckFailed, match=f"step {k} .*before epoch"):
        validate(attrs.evolve(trace, steps=tuple(steps)))


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


def test_a_rejected_op_never_commits(tampered: Run) -> None:
    """Every "rejected" the client hears is final for its (op, epoch) proposal, as Hybrid.tla's
    Reject asks. This validation once found the client told "rejected" of ops that then committed:
    a node already in the new epoch proposed the op there while the nodes still in the old one
    rejected theirs at their switch. Now a node proposes an op only in the epoch its client tagged
    it with and answers "rejected" only once that epoch ended without it. The run: TAMPER's
    switches, but the client never proposes a rejected op again, and the cluster runs on long after
    the last switch: no rejected op may ever commit (with nodes that propose in their own epoch,
    TAMPER with seeds 2 to 6 each commits op 4 in epoch 2 after the client heard "rejected")."""
    out = prepare(TAMPER, record=True, monitor=False, thresholds=THRESHOLDS)
    hc = out.hc
    rejected = []
    k = 0
    while hc.sim.now < TAMPER.ticks:
        k += 1
        if k == TAMPER.knobs["start"]:
            hc.make_byzantine(TAMPER.knobs["target"], TamperEnvelopes())
        d = hc.propose(Custom(f"k{k}", k))
        if not d.committed:
            rejected.append(d)
    hc.make_honest(TAMPER.knobs["target"])
    hc.run(3000)
    assert hc.metrics()["switches"] >= 2 and len(rejected) >= 2
    assert all(d.reason == f"epoch {d.tag} ended" and d.ended == d.tag for d in rejected)
    committed = [
        (d.seq, i) for d in rejected for i in hc.honest if hc.nodes[i].machine.outcome(d.key)
    ]
    assert committed == []
    validate(hc.sim.trace())
    # and with retries (the fixture's run): a rejected op commits, if at all, in a later epoch
    machine = tampered.hc.nodes[tampered.hc.honest[0]].machine
    for d in tampered.hc.decisions:
        done = machine.outcome(d.key)
        assert d.committed or done is None or int(done["epoch"]) > d.tag


def test_a_replica_that_catches_up_by_state_transfer_reports_each_entry_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that once failed validation (a free run of the default profile): n2, behind in a
    PBFT epoch, adopts a stable checkpoint and replays the epoch's entries into a rebuilt
    machine; it reported OrderOp and Apply again for the op it had applied, and the refinement
    found no such entry at the next position (impl/hybrid/node.py `_replayed`; the unit test is
    tests/test_hybrid_impl.py::test_a_state_transfer_reports_only_the_entries_it_adds). The run
    must still hold such a catch-up: each is counted where the node finds its machine rebuilt."""
    rebuilt = []
    replayed = hybrid_node._replayed

    def counted(reported: Any, rebuilt_entries: Any) -> int:
        rebuilt.append(1)
        return replayed(reported, rebuilt_entries)

    monkeypatch.setattr(hybrid_node, "_replayed", counted)
    schedule = Schedule(
        seed=0,
        ticks=400,
        drop=0.02,
        duplicate=0.02,
        partition=0.05,
        behaviours=("tamper",),
        target="n1",
        start=1,
    )
    assert validate_run(schedule) > 0
    assert rebuilt, "no replica caught up by state transfer: the run no longer tests the case"


def test_a_hotstuff_run_is_a_path_of_the_spec() -> None:
    """HotStuff's epochs are reported as PBFT's are: the node turns each entry its BFT core commits
    into Order and Apply (impl/hybrid/node.py `_report_applied`), whichever core committed it.
    Measured: 127 steps checked (133 trace steps), seven of them Order steps of the HotStuff
    epoch; 3 s the run, under 1 s its validation once TLC is up."""
    setup = SETUPS[HOTSTUFF]
    out = validation.recorded_run(HOTSTUFF_BOTH, frozenset(), HOTSTUFF)
    play(out, HOTSTUFF_BOTH, max_ops=MAX_OPS)
    hc = out.hc
    epochs = hc.metrics()["epochs"]
    bft_epochs = {e for e, p in epochs.items() if p == BFT}
    assert bft_epochs and epochs[max(epochs)] == RAFT
    assert {type(hc.nodes[i].instances[e].core) for i in hc.honest for e in bft_epochs} == {
        HybridHotStuff
    }
    trace = hc.sim.trace()
    assert validate(trace, setup.model) > 100
    # steps inside the HotStuff epoch: ops and evidence ordered there (the equivocation too),
    # applied where a HotStuff message made a node commit them
    ordered = {
        (s.action, str(s.params.get("k", "")))
        for s in trace.steps
        if s.action.startswith("Order") and s.params.get("e") in bft_epochs
    }
    assert {("OrderOp", ""), ("OrderEvidence", "equivocation"), ("OrderQuiet", "")} <= ordered
    assert any(
        s.action == "Apply" and "HotStuffWire" in str(s.meta.get("event")) for s in trace.steps
    )


@pytest.mark.parametrize(
    ("bug", "schedule", "symptom"),
    [
        (
            mutants.SWITCH_ON_OWN_EVIDENCE,
            TAMPER,
            r"reported Switch\(i=n\d\) before epoch \d.s switch entry",
        ),
        (mutants.DEESCALATE_CRITICAL_TO_NONE, BOTH, "spec High, impl None"),
    ],
)
def test_validation_fails_on_mutants(bug: str, schedule: Schedule, symptom: str) -> None:
    with pytest.raises(CheckFailed, match=symptom):
        validate_run(schedule, frozenset({bug}))


def test_validation_fails_on_a_mutant_inside_a_hotstuff_epoch() -> None:
    """Critical straight to None, as the PBFT case above, where a HotStuff core committed the
    quiet entry: validation fails at that Apply."""
    with pytest.raises(
        CheckFailed,
        match=r"(?s)Apply\(i=n\d\), at n\d: Deliver\(HotStuffWire.*spec High, impl None",
    ):
        validate_run(HOTSTUFF_BOTH, frozenset({mutants.DEESCALATE_CRITICAL_TO_NONE}), bft=HOTSTUFF)


def test_a_hotstuff_validation_names_its_protocol_in_its_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failing run's record keeps its schedule and passes no `bft` when it is replayed
    (property_tests/record.py, replay.py): the HotStuff check validates schedules that name
    HotStuff, and `validate_run` takes the protocol from there, so a replay runs what failed."""
    original = validation.validate_run
    seen: list[tuple[Schedule, dict[str, object]]] = []

    def spy(schedule: Schedule, bugs: frozenset[str], **options: object) -> int:
        seen.append((schedule, options))
        return 0

    monkeypatch.setattr(validation, "validate_run", spy)
    small = settings(max_examples=2, derandomize=True, database=None)
    validation.trace_validation(frozenset(), small, bft=HOTSTUFF)
    assert seen and all(knob(s, "bft") == HOTSTUFF and not options for s, options in seen)
    ran: list[object] = []

    def stop(schedule: Schedule, bugs: frozenset[str], **options: object) -> None:
        ran.append(options["bft"])
        raise RuntimeError("prepared")

    monkeypatch.setattr(validation, "prepare", stop)
    with pytest.raises(RuntimeError, match="prepared"):
        original(seen[0][0])
    assert ran == [HOTSTUFF]
