"""The property sets of the specs' shapes (property_tests/shapes.py) and Raft's liveness promises
(property_tests/raft/promises.py): what a plug-in is checked with, from its descriptor's spec."""

from __future__ import annotations

from typing import Any

import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests.raft.promises import Bounds
from meshcheck.property_tests.raft.promises import Watch
from meshcheck.property_tests.shapes import SHAPES
from meshcheck.property_tests.shapes import shape_of


def test_each_spec_with_an_implementation_has_its_shape() -> None:
    raft = shape_of("Raft")
    assert raft is not None and shape_of("RaftPipelined") is raft and shape_of("RaftEtcd") is raft
    assert [p.name for p in raft.transitions] == ["CommitIndexMonotonic", "MatchIndexMonotonic"]
    assert raft.liveness is not None and "LeaderCommitsStoredEntries" in raft.liveness.names
    assert shape_of("Gossip") is None  # no property set in Python: the history checks alone
    assert set(SHAPES) >= {"PBFT", "HotStuff"}


def test_a_property_is_decided_only_on_the_variables_it_reads() -> None:
    raft = shape_of("Raft")
    assert raft is not None
    exposed = frozenset({"currentTerm", "role", "log", "commitIndex", "committed"})
    exposed |= {"snapshotIndex", "snapshotTerm"}
    invariants, transitions = raft.decided(exposed)
    assert [p.name for p in transitions] == ["CommitIndexMonotonic"]
    assert "ElectionSafety" in [p.name for p in invariants]
    assert "MatchIndexMonotonic (needs matchIndex)" in raft.undecided(exposed)
    _, transitions = raft.decided(exposed | {"matchIndex"})
    assert "MatchIndexMonotonic" in [p.name for p in transitions]


def _leaders(view: dict[str, int]) -> dict[str, Any]:
    return {"view": FrozenDict(view), "stable": FrozenDict(dict.fromkeys(view, 0))}


@pytest.mark.parametrize(("spec", "variable"), [("PBFT", "view"), ("HotStuff", "locked")])
def test_the_other_shapes_are_data_the_same_mechanism_reads(spec: str, variable: str) -> None:
    shape = shape_of(spec)
    assert shape is not None
    _, transitions = shape.decided(frozenset(shape.variables))
    if spec == "PBFT":
        before, after = _leaders({"r1": 2, "r2": 2}), _leaders({"r1": 1, "r2": 2})
        assert shape.broken(transitions, before, after, None, {}) == ["ViewMonotonic"]
        assert shape.broken(transitions, after, before, None, {}) == []
    else:
        high, low = ({"view": 3},), ({"view": 1},)
        before = {"locked": FrozenDict({"r1": high})}
        after = {"locked": FrozenDict({"r1": low})}
        assert shape.broken(transitions, before, after, None, {}) == ["LockMonotonic"]
    assert variable in shape.variables


def _raft(
    terms: dict[str, int],
    roles: dict[str, str],
    logs: dict[str, list[int]],
    commits: dict[str, int],
) -> FrozenDict:
    return FrozenDict(
        {
            "currentTerm": FrozenDict(terms),
            "role": FrozenDict(roles),
            "log": FrozenDict(
                {
                    i: tuple(FrozenDict({"term": t, "value": n}) for n, t in enumerate(ts))
                    for i, ts in logs.items()
                }
            ),
            "commitIndex": FrozenDict(commits),
            "snapshotIndex": FrozenDict(dict.fromkeys(terms, 0)),
            "snapshotTerm": FrozenDict(dict.fromkeys(terms, 0)),
        }
    )


ROLES = {"s1": "Follower", "s2": "Leader", "s3": "Follower"}
TERMS = {"s1": 7, "s2": 7, "s3": 7}
# the leader of term 7 holds two entries of term 3 it never committed, then three of its own,
# all stored on s3 too
LOGS = {"s1": [3], "s2": [3, 3, 7, 7, 7], "s3": [3, 3, 7, 7, 7]}


def test_a_leader_that_never_commits_breaks_the_promise_with_its_numbers() -> None:
    watch = Watch(Bounds(leader=2000, committed=3000))
    stuck = _raft(TERMS, ROLES, LOGS, {"s1": 0, "s2": 0, "s3": 0})
    assert not watch.see(stuck, 100)  # a leader, nothing committed yet: within the bound
    assert watch.see(stuck, 3001)
    assert watch.broken == (
        "LeaderCommitsStoredEntries: leader s2 of term 7 holds entries up to 5, those of its term "
        "up to 5 stored on a quorum; commitIndex 0 for 3,001 ticks after the network healed"
    )


def test_the_promises_are_kept_by_a_leader_that_commits_and_followers_that_follow() -> None:
    watch = Watch(Bounds(leader=2000, committed=3000))
    assert not watch.see(_raft(TERMS, ROLES, LOGS, {"s1": 0, "s2": 4, "s3": 0}), 200)
    assert watch.see(_raft(TERMS, ROLES, LOGS, {"s1": 4, "s2": 5, "s3": 4}), 260)
    assert watch.broken is None
    assert watch.kept_at == {
        "EventuallyLeader": 200,
        "LeaderCommitsStoredEntries": 200,
        "EventuallyAllCommitted": 260,
    }


def test_no_leader_and_lagging_followers_are_named_too() -> None:
    watch = Watch(Bounds(leader=2000, committed=3000))
    candidates = {"s1": "Candidate", "s2": "Candidate", "s3": "Follower"}
    watch.end(_raft(TERMS, candidates, LOGS, {"s1": 0, "s2": 0, "s3": 0}))
    assert watch.broken is not None
    assert watch.broken.startswith("EventuallyLeader: no single leader of the highest term 3,001")
    lagging = Watch(Bounds(leader=2000, committed=3000))
    assert not lagging.see(_raft(TERMS, ROLES, LOGS, {"s1": 0, "s2": 4, "s3": 4}), 200)
    lagging.end(_raft(TERMS, ROLES, LOGS, {"s1": 1, "s2": 5, "s3": 5}))
    assert lagging.broken == (
        "EventuallyAllCommitted: s1's commitIndex 1 is below 4, which the leader s2 of term 7 "
        "committed, 3,001 ticks after the network healed"
    )
