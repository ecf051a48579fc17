"""Lockstep and trace validation of impl/gossip against specs/Gossip.tla (lockstep.py,
validation.py): they hold on the implementation, and each kills the mutants it can see."""

from __future__ import annotations

import pytest
from hypothesis import Phase
from hypothesis import settings

from meshcheck.impl.gossip import mutants
from meshcheck.property_tests.expect import every_action_fires
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip import validation
from meshcheck.property_tests.gossip.lockstep import GOSSIP
from meshcheck.property_tests.gossip.lockstep import Follower
from meshcheck.property_tests.gossip.lockstep import bag_change
from meshcheck.property_tests.gossip.lockstep import lockstep
from meshcheck.specs.tlc.stepper import State

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_lockstep_holds_and_takes_every_action() -> None:
    every_action_fires(
        lockstep,
        settings(),
        GOSSIP.stepper().action_names,
        what="never taken:",
    )


def walk(bugs: frozenset[str], labels: list[str]) -> Follower:
    """Follow the spec path whose steps have these labels (the first successor with each; for a
    Push, the implementation's message is the one kept; "LoseMessage|pull" loses a pull)."""
    stepper = GOSSIP.stepper()
    (init,) = stepper.init_states()
    follower = Follower(GOSSIP, init, bugs)
    for label in labels:
        state: State = follower.state
        name, _, kind = label.partition("|")
        found = [t for t in GOSSIP.successors(state) if t.action.label() == name]
        if kind:
            found = [
                t for t in found if bag_change(state.values, t.state.values)[0][0]["type"] == kind
            ]
        assert found, f"{label} is not enabled"
        follower.take(found[0])
    return follower


DUPLICATE_PUSH = [
    "Update(i=n1, k=k1, v=v1)",
    "Push(i=n1, j=n2)",
    "DuplicateMessage",
    "HandlePush(i=n2, j=n1)",
    "HandlePush(i=n2, j=n1)",
]
OLDER_AFTER_NEWER = [
    "Update(i=n1, k=k1, v=v1)",
    "Push(i=n1, j=n2)",
    "LoseMessage|pull",
    "Update(i=n1, k=k1, v=v2)",
    "Push(i=n1, j=n2)",
]
MISSING = ["Update(i=n1, k=k1, v=v1)", "Pull(i=n2, j=n1)", "HandlePull(i=n1, j=n2)"]
SILENT = ["Crash(i=n2)", "Restart(i=n2)"]


@pytest.mark.parametrize(
    ("bug", "path"),
    [
        (mutants.MERGE_NOT_IDEMPOTENT, DUPLICATE_PUSH),
        (mutants.DELTA_SKIPS_MISSING, MISSING),
        (mutants.SILENT_AFTER_RESTART, SILENT),
    ],
)
def test_a_scripted_path_holds_and_diverges_under_its_mutant(bug: str, path: list[str]) -> None:
    walk(frozenset(), path)
    with pytest.raises(CheckFailed, match="diverged"):
        walk(frozenset({bug}), path)


def test_an_older_push_delivered_after_a_newer_one_diverges_under_older_overwrites_newer() -> None:
    follower = walk(frozenset({mutants.OLDER_OVERWRITES_NEWER}), OLDER_AFTER_NEWER)
    pushes = [
        t for t in GOSSIP.successors(follower.state) if t.action.label() == "HandlePush(i=n2, j=n1)"
    ]
    newer_first = sorted(pushes, key=lambda t: -t.state["entries"]["n2"]["k1"]["version"])
    follower.take(newer_first[0])  # version 2 first: taken
    older = [
        t for t in GOSSIP.successors(follower.state) if t.action.label() == "HandlePush(i=n2, j=n1)"
    ]
    with pytest.raises(CheckFailed, match="entries"):
        follower.take(older[0])


@pytest.mark.parametrize("bug", [mutants.DELTA_SKIPS_MISSING, mutants.SILENT_AFTER_RESTART])
def test_lockstep_kills_the_mutants_it_can_see(bug: str) -> None:
    # whether it is killed, not its shortest counterexample: shrinking was 10 s of each 11 s
    # (`make mutants` shrinks and reports the lengths); derandomized here whatever the profile
    # (`verify --seed` and `--explore` seed the profiles: property_tests/profiles.py), so that
    # the kill is the same search every run, not a coin toss
    # (the scripted paths above kill both mutants without a search)
    with pytest.raises(CheckFailed):
        lockstep(
            frozenset({bug}),
            settings(derandomize=True, database=None, phases=[Phase.generate]),
        )


SCHEDULE = Schedule(
    seed=2, ticks=4000, drop=0.1, duplicate=0.05, delay=0.05, crash=0.3, partition=0.3, every=100
)


def test_a_free_run_is_a_behaviour_of_the_spec_with_every_kind_of_step() -> None:
    trace = validation.run(SCHEDULE, frozenset()).trace()
    assert validation.first_step_not_in_spec(trace) is None
    kinds = {s.action for s in trace.steps}
    assert {"Crash", "Restart", "Partition", "Heal", "Join", "LoseMessage", "Update"} <= kinds


@pytest.mark.parametrize(
    ("bug", "action", "differs"),
    [
        (mutants.MERGE_NOT_IDEMPOTENT, "HandlePush", "entries"),
        (mutants.OLDER_OVERWRITES_NEWER, "HandlePush", "entries"),
        (mutants.DELTA_SKIPS_MISSING, "HandlePull", "msgs"),
    ],
)
def test_a_mutants_trace_is_rejected_at_its_first_wrong_step(
    bug: str, action: str, differs: str
) -> None:
    trace = validation.run(SCHEDULE, frozenset({bug})).trace()
    found = validation.first_bad_step(trace)
    assert found is not None
    at, problem = found
    assert trace.steps[at].action == action
    # the message names the variable the step got wrong (property_tests/validation.py `_nearest`)
    assert (
        problem == f"not a step of the spec (its action's nearest successor differs in {differs})"
    )
    # everything before it is a behaviour of the spec
    prefix = type(trace)(vars=trace.vars, steps=trace.steps[:at], meta=trace.meta)
    assert validation.first_bad_step(prefix) is None


def test_trace_validation_holds_on_the_implementation() -> None:
    validation.trace_validation(frozenset(), settings())
