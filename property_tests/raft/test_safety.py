"""The Python safety invariants (safety.py) on hand-made states: each one breaks where Raft.tla's
does and holds where it holds, and TLC, evaluating Raft.tla itself on the same states, agrees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft import mutants
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.free_runs import cluster
from meshcheck.property_tests.raft.safety import INVARIANTS
from meshcheck.property_tests.raft.safety import broken
from meshcheck.property_tests.raft.safety import violated
from meshcheck.property_tests.raft.validation import validation_stepper

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)

SERVERS = ("s1", "s2", "s3")
NOOP = "NoOp"
INIT_READ = FrozenDict({"seq": 0, "index": 0, "acks": frozenset(), "served": False})


def entry(term: int, value: str = "v1") -> FrozenDict:
    return FrozenDict({"term": term, "value": value})


def log(*entries: tuple[int, str]) -> tuple[FrozenDict, ...]:
    return tuple(entry(t, v) for t, v in entries)


def committed(*entries: tuple[int, str, int]) -> tuple[FrozenDict, ...]:
    """(entry term, value, term it was committed in) for indices 1, 2, ..."""
    return tuple(FrozenDict({"entry": entry(t, v), "term": c}) for t, v, c in entries)


def state(**changes: Any) -> FrozenDict:
    """The spec's initial state for s1..s3, with per-server values (a dict) or whole values changed."""

    def each(value: Value) -> dict[str, Value]:
        return dict.fromkeys(SERVERS, value)

    values: dict[str, Any] = {
        "messages": (),
        "currentTerm": each(0),
        "votedFor": each("None"),
        "log": each(()),
        "snapshotIndex": each(0),
        "snapshotTerm": each(0),
        "role": each("Follower"),
        "commitIndex": each(0),
        "votesGranted": each(frozenset()),
        "nextIndex": each(FrozenDict(dict.fromkeys(SERVERS, 1))),
        "matchIndex": each(FrozenDict(dict.fromkeys(SERVERS, 0))),
        "reads": each(INIT_READ),
        "committed": (),
        "readFloor": each(0),
        "budget": FrozenDict({"fault": 9, "restart": 9, "drop": 9, "duplicate": 9, "snapshot": 9}),
    }
    for var, value in changes.items():
        values[var] = {**values[var], **value} if isinstance(value, Mapping) else value
    return FrozenDict({k: FrozenDict(v) if isinstance(v, dict) else v for k, v in values.items()})


A_LEADER = {"role": {"s1": "Leader"}, "currentTerm": {"s1": 2, "s2": 2}}
# s1 committed (1, v1) in term 1 and compacted it; s2 holds it in its log.
COMPACTED = {
    "log": {"s1": log((2, "v2")), "s2": log((1, "v1"), (2, "v2"))},
    "snapshotIndex": {"s1": 1},
    "snapshotTerm": {"s1": 1},
    "commitIndex": {"s1": 1},
    "committed": committed((1, "v1", 1)),
}

CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "initial": ({}, []),
    "two leaders, two terms": (
        {"role": {"s1": "Leader", "s2": "Leader"}, "currentTerm": {"s1": 2, "s2": 3}},
        [],
    ),
    "two leaders of one term": (
        {"role": {"s1": "Leader", "s2": "Leader"}, "currentTerm": {"s1": 2, "s2": 2}},
        ["ElectionSafety"],
    ),
    "logs that agree up to the last common term": (
        {"log": {"s1": log((1, "v1"), (2, "v2")), "s2": log((1, "v1"), (3, "v1"))}},
        [],
    ),
    "same index and term, different prefix": (
        {"log": {"s1": log((1, "v1"), (2, "v2")), "s2": log((1, "v2"), (2, "v2"))}},
        ["LogMatching"],
    ),
    "logs compared after a snapshot": (COMPACTED, []),
    "after a snapshot, same term and different entry": (
        {**COMPACTED, "log": {"s1": log((2, "v2")), "s2": log((1, "v1"), (2, "v1"))}},
        ["LogMatching"],
    ),
    "a leader holding what was committed": (
        {
            **A_LEADER,
            "log": {"s1": log((1, "v1"), (2, NOOP))},
            "committed": committed((1, "v1", 1)),
        },
        [],
    ),
    "a leader holding it in its snapshot": ({**COMPACTED, **A_LEADER}, []),
    "a leader lacking an entry committed in an earlier term": (
        {**A_LEADER, "log": {"s1": log((2, NOOP))}, "committed": committed((1, "v1", 1))},
        ["LeaderCompleteness"],
    ),
    "a leader whose log is too short": (
        {**A_LEADER, "committed": committed((1, "v1", 1))},
        ["LeaderCompleteness"],
    ),
    "a leader lacking an entry committed in its own term (not its concern)": (
        {**A_LEADER, "committed": committed((2, "v1", 2))},
        [],
    ),
    "a commit index past what was ever committed": (
        {"log": {"s2": log((1, "v1"))}, "commitIndex": {"s2": 1}},
        ["StateMachineSafety"],
    ),
    "a committed entry that differs from the one committed": (
        {
            "log": {"s1": log((1, "v1")), "s2": log((2, "v1"))},
            "commitIndex": {"s1": 1, "s2": 1},
            "committed": committed((1, "v1", 1)),
        },
        ["StateMachineSafety"],
    ),
    "a snapshot of another term than the committed entry": (
        {**COMPACTED, "snapshotTerm": {"s1": 2}},
        ["StateMachineSafety"],
    ),
    "a served read at the floor": (
        {
            **A_LEADER,
            "reads": {"s1": FrozenDict({**INIT_READ, "seq": 1, "index": 2, "served": True})},
            "readFloor": {"s1": 2},
        },
        [],
    ),
    "a leader's matchIndex past its own log": (
        {
            **A_LEADER,
            "log": {"s1": log((2, "v1"))},
            "matchIndex": {"s1": FrozenDict({"s1": 0, "s2": 2, "s3": 0})},
            "nextIndex": {"s1": FrozenDict({"s1": 2, "s2": 3, "s3": 2})},
        },
        ["MatchIndexBounded"],
    ),
    "a leader's nextIndex at what the follower holds": (
        {
            **A_LEADER,
            "log": {"s1": log((2, "v1"))},
            "matchIndex": {"s1": FrozenDict({"s1": 0, "s2": 1, "s3": 0})},
            "nextIndex": {"s1": FrozenDict({"s1": 2, "s2": 1, "s3": 2})},
        },
        ["NextIndexAboveMatch"],
    ),
    "a served read below the floor": (
        {
            **A_LEADER,
            "reads": {"s1": FrozenDict({**INIT_READ, "seq": 1, "index": 1, "served": True})},
            "readFloor": {"s1": 2},
        },
        ["ReadLinearizable"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_python_invariants_break_where_the_spec_says(case: str) -> None:
    changes, expected = CASES[case]
    assert violated(state(**changes)) == expected


@pytest.mark.parametrize("case", CASES)
def test_tlc_agrees_on_the_same_state(case: str) -> None:
    """Raft.tla's own invariants, evaluated by TLC on the same state, break exactly where these do."""
    stepper = validation_stepper()
    values = state(**CASES[case][0])
    by_tlc = [name for name in stepper.violated(stepper.state(values)) if name in INVARIANTS]
    assert by_tlc == violated(values)


def test_tlc_agrees_along_a_run_that_breaks_them() -> None:
    """The same comparison on the states of a real run: vote_without_log_check in the schedule
    free_run_safety shrank it to (3 nodes), whose leader loses a committed entry. The client writes
    the model's value v1 (TLC cannot even evaluate TypeOK on a log that mixes records and "NoOp")."""
    schedule = Schedule(seed=6, ticks=600, partition=0.1, one_way=0.0, snapshot_interval=2)
    sim = cluster(schedule, 3, frozenset({mutants.VOTE_WITHOUT_LOG_CHECK}), make=lambda n: "v1")
    sim.run(until=schedule.ticks)
    states = [step.state for step in sim.trace().steps]
    broken = [k for k, values in enumerate(states) if violated(values)]
    assert broken, "the run no longer breaks an invariant: pick another schedule"
    stepper = validation_stepper()
    for k in sorted({*range(0, len(states), 10), broken[0] - 1, *broken[:5]}):
        by_tlc = stepper.violated(stepper.state(states[k]))
        assert [n for n in by_tlc if n in INVARIANTS] == violated(states[k]), k


# -- action properties: a step from one state to the next -------------------------------------------

LEADS = {
    **A_LEADER,
    "log": {"s1": log((2, "v1"), (2, "v2"))},
    "matchIndex": {"s1": FrozenDict({"s1": 0, "s2": 2, "s3": 0})},
    "nextIndex": {"s1": FrozenDict({"s1": 3, "s2": 3, "s3": 3})},
}
# (before, after, the step's action and parameters, what it breaks)
STEPS: dict[str, tuple[dict[str, Any], dict[str, Any], str, dict[str, str], list[str]]] = {
    "a commitIndex lowered": (
        {"commitIndex": {"s2": 2}},
        {"commitIndex": {"s2": 1}},
        "HandleAppendEntriesRequest",
        {"i": "s2", "j": "s1"},
        ["CommitIndexMonotonic"],
    ),
    "a commitIndex reset by its Restart": (
        {"commitIndex": {"s2": 2}},
        {"commitIndex": {"s2": 0}},
        "Restart",
        {"i": "s2"},
        [],
    ),
    "another server's Restart excuses nothing": (
        {"commitIndex": {"s2": 2}},
        {"commitIndex": {"s2": 0}},
        "Restart",
        {"i": "s3"},
        ["CommitIndexMonotonic"],
    ),
    "a leader's matchIndex moved back": (
        LEADS,
        {**LEADS, "matchIndex": {"s1": FrozenDict({"s1": 0, "s2": 1, "s3": 0})}},
        "HandleAppendEntriesResponse",
        {"i": "s1", "j": "s2"},
        ["MatchIndexMonotonic"],
    ),
    "a leadership that ends starts again from 0": (
        LEADS,
        {**LEADS, "role": {"s1": "Follower"}, "matchIndex": state()["matchIndex"]},
        "Restart",
        {"i": "s1"},
        [],
    ),
}


@pytest.mark.parametrize("case", STEPS)
def test_python_action_properties_break_on_the_steps_the_spec_forbids(case: str) -> None:
    before, after, action, params, expected = STEPS[case]
    assert broken(state(**before), state(**after), action, params) == expected
