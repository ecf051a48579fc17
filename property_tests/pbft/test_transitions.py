"""PBFT.tla's action properties in Python (property_tests/pbft/transitions.py, and the free runs'
`SafetyMonitor`): each breaks on the steps the spec forbids, holds on the reference core, and kills
the catalogue mutant of its own (impl/pbft/mutants.py) by its name. The lockstep paths on which the
same mutants break them are the corpus's (traces/pbft/), replayed by property_tests/test_stored.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.pbft import mutants
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.free_runs import check_safety
from meshcheck.property_tests.pbft.transitions import broken
from meshcheck.property_tests.pbft.validation import VALIDATION

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)

REPLICAS = ("r1", "r2", "r3", "r4")


def state(view: dict[str, int] | None = None, stable: dict[str, int] | None = None) -> FrozenDict:
    """The two variables the properties read, every replica at 0 but those given."""
    return FrozenDict(
        {
            "view": FrozenDict({r: (view or {}).get(r, 0) for r in REPLICAS}),
            "stable": FrozenDict({r: (stable or {}).get(r, 0) for r in REPLICAS}),
        }
    )


# (before, after, what the step breaks)
STEPS: dict[str, tuple[FrozenDict, FrozenDict, list[str]]] = {
    "a view change": (state(), state(view={"r2": 1}), []),
    "a view moved back by a late NEW-VIEW": (
        state(view={"r3": 2}),
        state(view={"r3": 1}),
        ["ViewMonotonic"],
    ),
    "a stable checkpoint taken": (state(), state(stable={"r2": 2}), []),
    "a stable checkpoint moved back to a new view's min-s": (
        state(view={"r2": 1}, stable={"r2": 4}),
        state(view={"r2": 1}, stable={"r2": 2}),
        ["StableCheckpointMonotonic"],
    ),
    "both at once": (
        state(view={"r4": 2}, stable={"r4": 4}),
        state(view={"r4": 1}, stable={"r4": 2}),
        ["ViewMonotonic", "StableCheckpointMonotonic"],
    ),
}


@pytest.mark.parametrize("case", STEPS)
def test_python_action_properties_break_on_the_steps_the_spec_forbids(case: str) -> None:
    before, after, expected = STEPS[case]
    assert broken(before, after) == expected
    # trace validation checks the same on every pair of consecutive states of a run
    assert VALIDATION.transitions(Step(before), Step(after, "AcceptNewView", {})) == expected


# (mutant, a free-run schedule on which it fails, the property it fails first): each schedule the
# first of a small search (seeds 0.., heavy duplication, delay and partitions) that failed
KILLS: list[tuple[str, Schedule, str]] = [
    (
        mutants.STALE_NEW_VIEW_ACCEPTED,
        Schedule(
            seed=0,
            ticks=2000,
            drop=0.1,
            duplicate=0.2,
            delay=0.2,
            crash=0.3,
            partition=0.3,
            every=10,
            checkpoint_every=2,
        ),
        "ViewMonotonic",
    ),
    (
        mutants.STABLE_CHECKPOINT_MOVES_BACK,
        Schedule(
            seed=0,
            ticks=2000,
            duplicate=0.3,
            delay=0.3,
            partition=0.5,
            every=10,
            checkpoint_every=2,
        ),
        "StableCheckpointMonotonic",
    ),
]


@pytest.mark.parametrize(("bug", "schedule", "name"), KILLS, ids=[k[0] for k in KILLS])
def test_each_action_property_kills_its_mutant_in_a_free_run(
    bug: str, schedule: Schedule, name: str
) -> None:
    """The free run passes on the reference core (crashes and restarts included: a replica comes
    back in its persisted view, with its stable checkpoint) and fails on the mutant, by the
    property's name, on an honest replica."""
    check_safety(schedule, 4, frozenset())
    with pytest.raises(CheckFailed) as failed:
        check_safety(schedule, 4, frozenset({bug}))
    message: Any = failed.value.message
    assert f"violates {name} (" in message
    assert failed.value.trace is not None and failed.value.steps
