"""The replicated state machine: operation semantics, the log-entry encoding, determinism, snapshots."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.rsm import NOOP
from meshcheck.impl.rsm import ApplyPolicy
from meshcheck.impl.rsm import CreateCase
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import DeployOverlay
from meshcheck.impl.rsm import Op
from meshcheck.impl.rsm import StateMachine
from meshcheck.impl.rsm import UpdateCaseState
from meshcheck.impl.rsm import freeze_json
from meshcheck.impl.rsm import from_value
from meshcheck.impl.rsm import to_value


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


def test_redeploying_an_overlay_counts_its_versions_per_name() -> None:
    m, results = run(
        [
            ApplyPolicy("p1", {"allow": ["a"]}),
            DeployOverlay("o1", "p1"),
            DeployOverlay("o2", "p1"),
            DeployOverlay("o1", "p1"),
            ApplyPolicy("p1", {"allow": ["b"]}),
            DeployOverlay("o1", "p1"),
        ]
    )
    assert [r.get("version") for r in results] == [1, 1, 1, 2, 2, 3]
    assert m.overlays["o1"]["version"] == 3 and m.overlays["o1"]["policy_version"] == 2
    assert m.overlays["o2"]["version"] == 1


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


def test_the_digest_is_the_sha256_of_the_snapshot() -> None:
    # what the client-history check compares replicas by: equal states, equal digests
    a, _ = run(OPS)
    b, _ = run(list(OPS))
    c, _ = run(OPS[1:] + OPS[:1])
    assert a.digest() == b.digest() == hashlib.sha256(a.snapshot()).digest()
    assert c.digest() != a.digest()


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


# -- against a dumb twin: every result and every table, field by field -------------------------------


def twin(history: list[Op]) -> tuple[list[dict[str, object]], dict[str, Any]]:
    """The operations' semantics written out again as plainly as possible (the docstrings of
    impl/rsm/ops.py), without the machine's code: each result as a whole, and the tables after."""
    cases: dict[str, dict[str, object]] = {}
    policies: dict[str, dict[str, object]] = {}
    overlays: dict[str, dict[str, object]] = {}
    custom: dict[str, object] = {}
    results: list[dict[str, object]] = []
    for op in history:
        if isinstance(op, CreateCase):
            if op.case_id in cases:
                results.append({"ok": False, "error": f"case {op.case_id} exists"})
            else:
                cases[op.case_id] = {"state": op.state, "data": op.data, "version": 1}
                results.append({"ok": True, "case": op.case_id, "version": 1})
        elif isinstance(op, UpdateCaseState):
            case = cases.get(op.case_id)
            if case is None:
                results.append({"ok": False, "error": f"no case {op.case_id}"})
            elif case["state"] == "closed":
                results.append({"ok": False, "error": f"case {op.case_id} is closed"})
            elif op.expected is not None and op.expected != case["state"]:
                error = f"case {op.case_id} is {case['state']}, not {op.expected}"
                results.append({"ok": False, "error": error})
            else:
                version = int(case["version"]) + 1  # type: ignore[call-overload]
                cases[op.case_id] = {"state": op.state, "data": case["data"], "version": version}
                results.append(
                    {"ok": True, "case": op.case_id, "state": op.state, "version": version}
                )
        elif isinstance(op, ApplyPolicy):
            version = int(policies[op.name]["version"]) + 1 if op.name in policies else 1  # type: ignore[call-overload]
            policies[op.name] = {"rules": op.rules, "version": version}
            results.append({"ok": True, "policy": op.name, "version": version})
        elif isinstance(op, DeployOverlay):
            absent = [c for c in sorted(op.cases) if c not in cases]
            if op.policy not in policies:
                results.append({"ok": False, "error": f"no policy {op.policy}"})
            elif absent:
                results.append({"ok": False, "error": f"no case {absent[0]}"})
            else:
                version = int(overlays[op.name]["version"]) + 1 if op.name in overlays else 1  # type: ignore[call-overload]
                overlays[op.name] = {
                    "policy": op.policy,
                    "policy_version": policies[op.policy]["version"],
                    "cases": tuple(sorted(op.cases)),
                    "version": version,
                }
                results.append({"ok": True, "overlay": op.name, "version": version})
        else:
            results.append({"ok": True, "key": op.key, "existed": op.key in custom})
            if op.value is None:
                custom.pop(op.key, None)
            else:
                custom[op.key] = op.value
    tables = {"case": cases, "policy": policies, "overlay": overlays, "custom": custom}
    return results, tables


states = st.sampled_from(["open", "triage", "closed"])
twin_ops = st.one_of(
    st.builds(CreateCase, names, states, json_data.map(lambda d: {"d": d})),
    st.builds(UpdateCaseState, names, states, st.none() | states),
    st.builds(ApplyPolicy, names, json_data.map(lambda d: {"r": d})),
    st.builds(DeployOverlay, names, names, st.lists(names, max_size=2)),
    st.builds(Custom, names, st.none() | json_data),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(twin_ops, max_size=16))
def test_every_result_and_table_is_the_twins(history: list[Op]) -> None:
    """Each operation's whole result (every field, not only "ok"), the tables, what a read returns
    and what the snapshot holds, against the dumb twin."""
    m = StateMachine()
    results = [dict(m.apply(op)) for op in history]
    expected, tables = twin(history)
    assert results == expected
    assert m.applied == len(history)
    assert m.read("") == FrozenDict({"ok": True, "value": len(history)})
    snapshot = json.loads(m.snapshot())
    assert snapshot["format"] == "meshcheck-rsm/1" and snapshot["applied"] == len(history)
    for kind, table in tables.items():
        for name in ("a", "b", "c"):
            answer = m.read((kind, name))
            if name in table:
                value = table[name]
                want = FrozenDict(value) if isinstance(value, dict) else value
                assert answer == FrozenDict({"ok": True, "value": want})
            else:
                assert answer == FrozenDict({"ok": False, "error": f"no {kind} {name}"})
    plural = {"case": "cases", "policy": "policies", "overlay": "overlays", "custom": "custom"}
    for kind, table in tables.items():
        assert set(snapshot[plural[kind]]) == set(table)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: freeze_json(1.5), "value: float is not JSON-like data"),
        (lambda: ApplyPolicy("p", {"x": [1, 1.5]}), r"rules\.x\[1\]: float is not JSON-like"),
        (lambda: Custom("k", [True, None]), r"value\[1\]: NoneType is not JSON-like"),
        (lambda: DeployOverlay("o", "p", ["c1", ""]), "cases must be a list of case ids"),
        (
            lambda: from_value(FrozenDict({"op": "Nope"})),
            r"\(known: CreateCase, UpdateCaseState, ApplyPolicy, DeployOverlay, Custom\)$",
        ),
    ],
)
def test_a_rejection_names_the_part_that_is_wrong(make: object, message: str) -> None:
    """The path to the bad part of a payload (rules.x[1]), and the operations known, in full."""
    with pytest.raises(ImplError, match=message):
        make()  # type: ignore[operator]


def test_the_snapshot_is_canonical_json_byte_for_byte() -> None:
    """Sorted keys at every level, no whitespace, UTF-8 rather than escapes: one text per state, so a
    replica restored from a snapshot (its tables in sorted order) writes the bytes of one that
    applied the operations in another order."""
    m, _ = run([CreateCase("c2", data={"z": 1, "a": 2}), CreateCase("c1"), Custom("é", "ü")])
    assert (
        m.snapshot()
        == (
            '{"applied":3,"cases":{"c1":{"data":{},"state":"open","version":1},'
            '"c2":{"data":{"a":2,"z":1},"state":"open","version":1}},"custom":{"é":"ü"},'
            '"format":"meshcheck-rsm/1","overlays":{},"policies":{}}'
        ).encode()
    )


def test_entries_that_are_not_operations_are_counted_and_answered_exactly() -> None:
    m = StateMachine()
    assert m.apply_entry(NOOP) == FrozenDict({"ok": True, "noop": True})
    assert m.apply_entry(NOOP) == FrozenDict({"ok": True, "noop": True})
    # an opaque value that happens to contain "op" is still opaque, not a malformed operation
    assert m.apply_entry("loop") == FrozenDict({"ok": True, "opaque": True})
    assert m.applied == 3
    assert m.read(("case",)) == FrozenDict(
        {
            "ok": False,
            "error": "bad query ('case',): use '' or (kind, name) with kind in "
            "['case', 'custom', 'overlay', 'policy']",
        }
    )
    with pytest.raises(ImplError) as caught:
        m.restore(b'{"format": "meshcheck-rsm/1", "applied": 1}')
    assert str(caught.value) == (
        "state machine snapshot is missing 'applied' or one of cases, policies, overlays, custom"
    )
