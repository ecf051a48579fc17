"""The replicated state machine: operation semantics, the log-entry encoding, determinism, snapshots."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.rsm import (
    NOOP,
    ApplyPolicy,
    CreateCase,
    Custom,
    DeployOverlay,
    Op,
    StateMachine,
    UpdateCaseState,
    freeze_json,
    from_value,
    to_value,
)


def run(ops: list[Op]) -> tuple[StateMachine, list[FrozenDict]]:
    machine = StateMachine()
    return machine, [machine.apply(op) for op in ops]


# -- semantics ----------------------------------------------------------------------------------------


def test_cases_are_created_once_and_move_through_states() -> None:
    m, results = run(
        [
            CreateCase("c1", data={"severity": 3, "tags": ["db"]}),
            CreateCase("c1"),
            UpdateCaseState("c1", "triage"),
            UpdateCaseState("c1", "closed", expected="open"),
            UpdateCaseState("c1", "closed", expected="triage"),
            UpdateCaseState("c1", "open"),
            UpdateCaseState("c9", "open"),
        ]
    )
    assert [r["ok"] for r in results] == [True, False, True, False, True, False, False]
    assert results[1]["error"] == "case c1 exists"
    assert results[3]["error"] == "case c1 is triage, not open"  # compare-and-set failed
    assert results[5]["error"] == "case c1 is closed"  # closed is final
    assert results[6]["error"] == "no case c9"
    assert m.cases["c1"] == FrozenDict(
        {"state": "closed", "data": FrozenDict({"severity": 3, "tags": ("db",)}), "version": 3}
    )
    assert m.applied == 7  # failed operations are applied too: they are committed entries


def test_overlays_pin_the_policy_version_and_need_their_cases() -> None:
    m, results = run(
        [
            DeployOverlay("o1", "p1"),
            ApplyPolicy("p1", {"allow": ["a"]}),
            CreateCase("c1"),
            DeployOverlay("o1", "p1", cases=["c1", "c2"]),
            DeployOverlay("o1", "p1", cases=["c1", "c1"]),
            ApplyPolicy("p1", {"allow": ["a", "b"]}),
        ]
    )
    assert [r["ok"] for r in results] == [False, True, True, False, True, True]
    assert results[0]["error"] == "no policy p1"
    assert results[3]["error"] == "no case c2"
    assert results[5]["version"] == 2
    # the overlay still runs version 1 of p1: a policy change is not a deployment
    assert m.overlays["o1"] == FrozenDict(
        {"policy": "p1", "policy_version": 1, "cases": ("c1",), "version": 1}
    )


def test_custom_keys_set_and_delete() -> None:
    m, results = run([Custom("k", 1), Custom("k", {"a": True}), Custom("k"), Custom("k")])
    assert [r["existed"] for r in results] == [False, True, True, False]
    assert m.custom == {}
    m.apply(Custom("k", [1, 2]))
    assert m.read(("custom", "k")) == FrozenDict({"ok": True, "value": (1, 2)})
    assert m.read(("case", "nope"))["error"] == "no case nope"
    assert m.read("")["value"] == 5
    assert not m.read(("table", "x"))["ok"]


def test_log_entries_that_are_not_operations() -> None:
    m = StateMachine()
    assert m.apply_entry(NOOP)["noop"] is True
    assert m.apply_entry("v1")["opaque"] is True  # the spec's model values in lockstep runs
    bad = m.apply_entry(FrozenDict({"op": "Explode"}))
    assert not bad["ok"] and "unknown operation 'Explode'" in bad["error"]
    assert m.apply_entry(to_value(CreateCase("c1")))["ok"]
    assert m.applied == 4 and list(m.cases) == ["c1"]


# -- encoding -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        CreateCase("c1", "new", {"x": [1, {"y": "z"}]}),
        UpdateCaseState("c1", "done"),
        UpdateCaseState("c1", "done", expected="new"),
        ApplyPolicy("p", {"rules": []}),
        DeployOverlay("o", "p", ("c2", "c1")),
        Custom("k", "v"),
        Custom("k"),
    ],
)
def test_operations_round_trip_through_log_values(op: Op) -> None:
    value = to_value(op)
    assert isinstance(value, FrozenDict) and value["op"] == type(op).__name__
    hash(value)  # a log entry value must be hashable (it is a TLA+ value)
    assert from_value(value) == op


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("v1", "not an operation"),
        (FrozenDict({"op": "Nope"}), "unknown operation 'Nope'"),
        (FrozenDict({"op": "CreateCase"}), r"missing fields \['case'\]"),
        (FrozenDict({"op": "Custom", "key": "k", "colour": 1}), r"unknown fields \['colour'\]"),
        (FrozenDict({"op": "CreateCase", "case": 5}), "case_id must be a non-empty string"),
        (
            FrozenDict({"op": "DeployOverlay", "name": "o", "policy": "p", "cases": "c1"}),
            "cases must be a list",
        ),
    ],
)
def test_bad_log_values_are_rejected_with_a_reason(value: object, message: str) -> None:
    with pytest.raises(ImplError, match=message):
        from_value(value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"x": 1.5}, r"data\.x: float is not JSON-like"),
        ({"x": None}, r"data\.x: NoneType is not JSON-like"),
        ({1: "a"}, "object keys must be strings"),
        ({"s": {1, 2}}, r"data\.s: set is not JSON-like"),
    ],
)
def test_payloads_must_be_json_like(data: object, message: str) -> None:
    with pytest.raises(ImplError, match=message):
        CreateCase("c", data=data)


def test_freeze_json_gives_hashable_values() -> None:
    assert freeze_json({"a": [1, {"b": True}]}) == FrozenDict({"a": (1, FrozenDict({"b": True}))})


# -- determinism and snapshots -------------------------------------------------------------------------

OPS: list[Op] = [
    ApplyPolicy("p", {"max": 3}),
    CreateCase("c2", data={"z": 1, "a": 2}),
    CreateCase("c1"),
    DeployOverlay("o", "p", ["c2", "c1"]),
    UpdateCaseState("c1", "closed"),
    Custom("é", "ü"),
]


def test_same_operations_same_bytes_and_order_matters() -> None:
    a, _ = run(OPS)
    b, _ = run(list(OPS))
    assert a.snapshot() == b.snapshot()
    c, _ = run(OPS[1:] + OPS[:1])  # the overlay now fails: no policy yet
    assert c.snapshot() != a.snapshot()


def test_snapshot_restore_round_trip_and_continue() -> None:
    a, _ = run(OPS[:3])
    b = StateMachine.from_snapshot(a.snapshot())
    assert b.snapshot() == a.snapshot()
    rest_a = [a.apply(op) for op in OPS[3:]]
    rest_b = [b.apply(op) for op in OPS[3:]]
    assert rest_a == rest_b
    assert a.snapshot() == b.snapshot()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", "not a state machine snapshot"),
        (b"[1, 2]", "format is not meshcheck-rsm/1"),
        (b'{"format": "meshcheck-rsm/1", "applied": 1}', "missing 'applied' or one of"),
        (
            b'{"format": "meshcheck-rsm/1", "applied": 1, "cases": {"c": 1.5}, "policies": {}, '
            b'"overlays": {}, "custom": {}}',
            "not JSON-like data",
        ),
    ],
)
def test_restore_rejects_what_is_not_a_snapshot_and_keeps_the_state(
    data: bytes, message: str
) -> None:
    m, _ = run(OPS)
    before = m.snapshot()
    with pytest.raises(ImplError, match=message):
        m.restore(data)
    assert m.snapshot() == before


json_data = st.recursive(
    st.integers(-5, 5) | st.booleans() | st.text("ab", max_size=2),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text("xy", max_size=2), inner, max_size=3)
    ),
    max_leaves=6,
)
names = st.sampled_from(["a", "b", "c"])
ops = st.one_of(
    st.builds(CreateCase, names, names, json_data.map(lambda d: {"d": d})),
    st.builds(UpdateCaseState, names, st.sampled_from(["open", "closed", "x"]), st.none() | names),
    st.builds(ApplyPolicy, names, json_data.map(lambda d: {"r": d})),
    st.builds(DeployOverlay, names, names, st.lists(names, max_size=2)),
    st.builds(Custom, names, st.none() | json_data),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(ops, max_size=12), st.integers(0, 12))
def test_replicas_agree_whenever_one_restarts_from_a_snapshot(history: list[Op], cut: int) -> None:
    """Two replicas applying the same log agree on every result and on the bytes, also when one of
    them is rebuilt from a snapshot part way (how InstallSnapshot and restarts use it)."""
    cut = min(cut, len(history))
    a, results_a = run(history)
    b, results_b = run(history[:cut])
    b = StateMachine.from_snapshot(b.snapshot())
    results_b += [b.apply(op) for op in history[cut:]]
    assert results_a == results_b
    assert a.snapshot() == b.snapshot()
