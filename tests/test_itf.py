"""ITF in and out (traces/itf.py): round trips, byte-for-byte determinism, and one test per malformed input."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.errors import TraceFormatError
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Unserializable
from meshcheck.impl.base.values import Value
from meshcheck.impl.base.values import freeze
from meshcheck.traces import itf
from meshcheck.traces.itf import decode_value
from meshcheck.traces.itf import encode_value

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
S = ("s1", "s2", "s3")


def fd(**kw: Any) -> FrozenDict:
    return FrozenDict(kw)


def raft_state(
    term: tuple[int, ...], role: tuple[str, ...], log: tuple[Any, ...], msgs: list[Any]
) -> dict[str, Value]:
    return {
        "currentTerm": FrozenDict(zip(S, term, strict=True)),
        "state": FrozenDict(zip(S, role, strict=True)),
        "log": FrozenDict(zip(S, log, strict=True)),
        "msgs": frozenset(msgs),
    }


def raft_trace() -> Trace:
    """A small Raft-like lasso with every kind of value, step params, step meta and trace meta."""
    rv = fd(mtype="RequestVote", mterm=1, msource="s1", mdest="s2")
    return Trace(
        vars=("currentTerm", "state", "log", "msgs"),
        steps=(
            Step(raft_state((0, 0, 0), ("Follower",) * 3, ((), (), ()), [])),
            Step(
                raft_state((1, 0, 0), ("Candidate", "Follower", "Follower"), ((), (), ()), [rv]),
                action="Timeout",
                params=fd(i="s1"),
                meta=fd(node="s1", faults=("drop", "dup")),
            ),
            Step(
                raft_state((1, 1, 0), ("Candidate", "Follower", "Follower"), ((), (), ()), []),
                action="HandleRequestVoteRequest",
                params=fd(i="s2", j="s1", m=rv),
            ),
            Step(
                raft_state(
                    (1, 1, 0), ("Leader", "Follower", "Follower"), (((1, "v1"),), (), ()), []
                ),
                action="BecomeLeader",
                params=fd(i="s1"),
            ),
        ),
        loop=2,
        meta=FrozenDict(
            {
                "source": "tlc",
                "spec": "specs/Raft.tla",
                "violation": fd(kind="invariant", name="OneLeader"),
                "constants": FrozenDict({"Server": frozenset(S), "MaxTerm": 3}),
                "seed": 2**64 + 1,
            }
        ),
    )


def one_var(value: Value, **meta: Any) -> Trace:
    return Trace(vars=("x",), steps=(Step({"x": value}),), meta=FrozenDict(meta))


# ---------------------------------------------------------------------------------------------------
# Round trips


EVERY_KIND: list[Value] = [
    True,
    False,
    0,
    -7,
    2**53 - 1,
    -(2**53 - 1),
    2**53,  # first integer that needs #bigint
    -(2**53),
    10**40,
    "",
    "s1",
    "#not-a-tag",
    'with "quotes" and \\ and \u00e9\u4e2d\n',
    (),
    (1, "a", (2, 3)),
    frozenset(),
    frozenset({1, 2, 10}),
    frozenset(
        {fd(mtype="AppendEntries", mterm=2), fd(mtype="RequestVote", mterm=1)}
    ),  # set of records
    FrozenDict(),
    fd(f=1, g=frozenset({"a"})),
    FrozenDict({("s1", 1): "v1", ("s2", 2): "v2"}),  # map with tuple keys
    FrozenDict({1: "a", 2**60: "b"}),  # int keys, one big
    FrozenDict({"#meta": 1, "ok": 2}),  # str keys that could be read as ITF tags go to #map
    FrozenDict({frozenset({1}): fd(a=(1,)), True: False}),
    Unserializable("Nat"),
]


# ids in TLA+ notation (sets sorted), not repr: a set's repr follows the process's hash seed, and
# pytest-xdist's workers must collect the same test ids
@pytest.mark.parametrize("value", EVERY_KIND, ids=format_value)
def test_every_value_kind_round_trips_through_a_file(value: Value, tmp_path: Path) -> None:
    trace = one_var(value)
    path = itf.write(trace, tmp_path / "deep" / "er" / "t.itf.json")
    back = itf.read(path)
    assert back == trace
    assert typed(back.steps[0].state["x"]) == typed(value)


def test_big_ints_are_written_as_bigint_and_small_ones_as_numbers() -> None:
    assert encode_value(2**53 - 1) == 2**53 - 1
    assert encode_value(2**53) == {"#bigint": str(2**53)}
    assert encode_value(-(2**53)) == {"#bigint": str(-(2**53))}
    assert decode_value({"#bigint": "-18446744073709551616"}) == -(2**64)


def test_records_maps_tuples_and_sets_are_written_as_adr015_says() -> None:
    assert encode_value(fd(b=1, a=2)) == {"a": 2, "b": 1}
    assert encode_value(FrozenDict({2: "x", 1: "y"})) == {"#map": [[1, "y"], [2, "x"]]}
    assert encode_value((1, 2)) == [1, 2]
    assert encode_value(frozenset({3, 1, 2})) == {"#set": [1, 2, 3]}
    assert decode_value({"#tup": [1, [2]]}) == (1, (2,))


def test_a_whole_trace_round_trips_with_params_meta_lasso_and_constants() -> None:
    trace = raft_trace()
    back = itf.loads(itf.dumps(trace))
    assert back == trace
    assert back.loop == 2
    assert back.steps[1].meta == fd(node="s1", faults=("drop", "dup"))
    assert back.steps[2].params["m"] == fd(mtype="RequestVote", mterm=1, msource="s1", mdest="s2")
    assert back.meta["constants"] == FrozenDict({"Server": frozenset(S), "MaxTerm": 3})


def test_constants_become_itf_params_set_in_the_first_state() -> None:
    doc = json.loads(itf.dumps(raft_trace()))
    assert doc["params"] == ["MaxTerm", "Server"]
    assert doc["states"][0]["MaxTerm"] == 3
    assert "MaxTerm" not in doc["states"][1]
    assert "constants" not in doc["#meta"]
    assert doc["#meta"]["format"] == "ITF"


def test_the_action_goes_into_each_states_meta_and_init_first() -> None:
    doc = json.loads(itf.dumps(raft_trace()))
    metas = [s["#meta"] for s in doc["states"]]
    assert metas[0] == {"action": "Init"}
    assert metas[1] == {
        "action": "Timeout",
        "params": {"i": "s1"},
        "node": "s1",
        "faults": ["drop", "dup"],
    }


def test_the_golden_file_pins_the_layout() -> None:
    """One key per line down to each state's variables, values compact: a diff names state and variable."""
    golden = DATA / "raft_lasso.itf.json"
    assert itf.dumps(raft_trace()) == golden.read_text(encoding="ascii")
    assert itf.read(golden) == raft_trace()


def test_a_trace_in_apalache_shape_reads() -> None:
    trace = itf.read(DATA / "apalache_style.itf.json")
    assert trace.vars == ("clock", "pending", "owner", "history", "infinite")
    assert trace.loop == 1
    assert [s.action for s in trace.steps] == [INIT] * 3  # no labels: unlabelled steps
    assert trace.steps[1].meta == fd(index=1)
    assert trace.meta == FrozenDict(
        {
            "description": "hand-written in the shape Apalache and Quint write: no action labels, #bigint everywhere",
            "index-base": 0,
            "constants": fd(Nodes=frozenset({"n1", "n2"})),
        }
    )
    s1 = trace.steps[1].state
    assert s1["clock"] == 2**64
    assert s1["pending"] == frozenset({fd(kind="grant", to="n1"), fd(kind="grant", to="n2")})
    assert s1["owner"] == FrozenDict({("n1", 1): "n2", ("n2", 1): "n2"})
    assert s1["history"] == ((-3, "grant"),)
    assert s1["infinite"] == Unserializable("Nat")
    assert trace.steps[2].state["owner"] == FrozenDict()
    # and it writes back to a file that reads as the same trace, unlabelled steps staying unlabelled
    again = itf.dumps(trace)
    assert itf.loads(again) == trace
    assert json.loads(again)["states"][1]["#meta"] == {"index": 1}


def test_write_replaces_a_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "t.itf.json"
    path.write_text("old junk")
    assert itf.write(raft_trace(), path) == path
    assert itf.read(path) == raft_trace()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.itf.json"]


def test_values_outside_the_domain_are_refused_on_write() -> None:
    for bad in (1.5, None, [1], {"a": 1}, {1}):
        with pytest.raises(TypeError, match="not a TLA"):
            encode_value(bad)
    with pytest.raises(TypeError, match="not a TLA"):
        itf.dumps(one_var(frozenset({1.5})))


def test_step_meta_may_not_shadow_the_action() -> None:
    trace = Trace(vars=("x",), steps=(Step({"x": 1}, meta=fd(action="Sneaky")),))
    with pytest.raises(ValueError, match="must not hold 'action'"):
        itf.dumps(trace)


# ---------------------------------------------------------------------------------------------------
# Determinism


def reversed_copy(v: Value) -> Value:
    """The same value built in the opposite order at every level (other insertion, other iteration)."""
    if isinstance(v, tuple):
        return tuple(reversed_copy(x) for x in v)
    if isinstance(v, frozenset):
        items = [reversed_copy(x) for x in v][::-1]
        # a table grown then emptied iterates in a different order; the padding is objects no
        # value equals (integers 1000.. were once used, and removed a 1000 that was a value)
        pads = [object() for _ in range(100)]
        s: set[object] = set(pads)
        s.update(items)
        s.difference_update(pads)
        return frozenset(s)
    if isinstance(v, FrozenDict):
        return FrozenDict([(reversed_copy(k), reversed_copy(x)) for k, x in v.items()][::-1])
    return v


def test_the_same_trace_gives_the_same_bytes_whatever_the_construction_order() -> None:
    trace = raft_trace()
    other = Trace(
        vars=trace.vars,
        steps=tuple(
            Step(
                reversed_copy(s.state),
                action=s.action,
                params=reversed_copy(s.params),
                meta=reversed_copy(s.meta),
            )
            for s in trace.steps
        ),
        loop=trace.loop,
        meta=reversed_copy(trace.meta),
    )
    assert list(other.steps[0].state["currentTerm"]) == ["s3", "s2", "s1"]  # really built otherwise
    assert itf.dumps(other) == itf.dumps(trace)


_HASH_SCRIPT = """
import pickle, sys
sys.path.insert(0, sys.argv[1])
from meshcheck.traces import itf
sys.stdout.write(itf.dumps(pickle.loads(sys.stdin.buffer.read())))
"""


def test_the_bytes_do_not_depend_on_string_hashing() -> None:
    """Set iteration order of strings changes with PYTHONHASHSEED; the written text must not.

    The trace crosses into each process as a pickle, so its sets are rebuilt there, in that process's
    hash order.
    """
    trace = raft_trace()
    texts = set()
    for seed in ("1", "2", "3"):
        out = subprocess.run(
            [sys.executable, "-c", _HASH_SCRIPT, str(ROOT)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            input=pickle.dumps(trace),
            capture_output=True,
            check=True,
            cwd=ROOT,
        )
        texts.add(out.stdout.decode("ascii"))
    assert texts == {itf.dumps(trace)}


# ---------------------------------------------------------------------------------------------------
# Hypothesis: decode(encode(v)) == v


def typed(v: Value) -> Any:
    """v with every leaf tagged by its type, so True and 1 (equal in Python) stay apart."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, tuple):
        return ("tuple", tuple(typed(x) for x in v))
    if isinstance(v, frozenset):
        return ("set", frozenset(typed(x) for x in v))
    if isinstance(v, FrozenDict):
        return ("fun", frozenset((typed(k), typed(x)) for k, x in v.items()))
    assert isinstance(v, Unserializable)
    return ("unserializable", v.text)


scalars = (
    st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.text(max_size=6)
    | st.sampled_from(["#set", "#map", "#tup", "#bigint", "s1"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4).map(tuple)
        | st.frozensets(inner, max_size=4)
        | st.dictionaries(inner, inner, max_size=4).map(FrozenDict)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4).map(FrozenDict)
        | st.builds(Unserializable, st.text(max_size=4))
    ),
    max_leaves=16,
)


# Hypothesis describes the nested recursive strategy in a repr of tens of kB and warns about its size.
quiet_repr = pytest.mark.filterwarnings("ignore:Generating overly large repr")


@quiet_repr
@settings(max_examples=300, deadline=None)
@given(values)
def test_decode_of_encode_is_the_identity(v: Value) -> None:
    j = encode_value(v)
    back = decode_value(json.loads(json.dumps(j)))
    assert back == v
    assert typed(back) == typed(v)


@quiet_repr
@settings(max_examples=100, deadline=None)
@given(values)
def test_encoding_does_not_depend_on_construction_order(v: Value) -> None:
    assert json.dumps(encode_value(reversed_copy(v))) == json.dumps(encode_value(v))


@quiet_repr
@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=4), st.data())
def test_traces_of_generated_values_round_trip(states: list[Value], data: st.DataObject) -> None:
    loop = data.draw(st.none() | st.integers(0, len(states) - 1))
    trace = Trace(
        vars=("v",),
        steps=tuple(
            Step({"v": v}, action=INIT if i == 0 else "Next", params=fd(p=v))
            for i, v in enumerate(states)
        ),
        loop=loop,
        meta=fd(source="impl"),
    )
    assert itf.loads(itf.dumps(trace)) == trace


# ---------------------------------------------------------------------------------------------------
# Malformed input: one test each, naming the place


def base_doc() -> dict[str, Any]:
    return {
        "vars": ["x", "y"],
        "states": [
            {"#meta": {"action": "Init"}, "x": 1, "y": {"#set": []}},
            {"#meta": {"action": "Incr", "params": {"n": 1}}, "x": 2, "y": {"#set": [1]}},
        ],
    }


def error_of(text: str) -> TraceFormatError:
    with pytest.raises(TraceFormatError) as info:
        itf.loads(text, path="t.itf.json")
    assert info.value.path == "t.itf.json"
    assert isinstance(info.value, MeshcheckError)
    return info.value


def error_with(change: Any) -> TraceFormatError:
    doc = base_doc()
    change(doc)
    return error_of(json.dumps(doc))


def test_the_base_document_is_valid() -> None:
    trace = itf.loads(json.dumps(base_doc()))
    assert trace.steps[1] == Step({"x": 2, "y": frozenset({1})}, action="Incr", params=fd(n=1))


def test_not_json_names_line_and_column() -> None:
    err = error_of('{\n  "vars": [x]\n}')
    assert err.where == ""
    assert err.problem.startswith("not JSON: Expecting value")
    assert "line 2, column 12" in err.problem
    assert str(err) == f"t.itf.json: {err.problem}"


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.9, -2])
def test_a_truncated_file_is_called_truncated(cut: float) -> None:
    text = itf.dumps(raft_trace())
    end = int(len(text) * cut) if cut > 0 else len(text) + int(cut)
    err = error_of(text[:end])
    assert err.problem.startswith("truncated"), err.problem


def test_an_empty_file() -> None:
    assert "empty file" in error_of("  \n").problem


def test_trailing_garbage_is_not_truncation() -> None:
    err = error_of(json.dumps(base_doc()) + " x")
    assert err.problem.startswith("not JSON: Extra data")


def test_not_an_object() -> None:
    err = error_of("[1, 2]")
    assert (err.where, err.problem) == (
        "",
        "not an ITF trace: the document is an array, not an object",
    )


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (lambda d: d.pop("vars"), "vars", "missing"),
        (
            lambda d: d.update(vars="x"),
            "vars",
            "must be an array of variable names, found a string",
        ),
        (lambda d: d.update(vars=["x", 3]), "vars[1]", "must be a variable name"),
        (lambda d: d.update(vars=["x", "x"]), "vars[1]", "listed twice"),
        (lambda d: d.update(vars=["x", "#y"]), "vars[1]", "must not start with '#'"),
        (lambda d: d.pop("states"), "states", "missing"),
        (
            lambda d: d.update(states={"x": 1}),
            "states",
            "must be an array of states, found an object",
        ),
        (lambda d: d.update(states=[]), "states", "empty"),
        (
            lambda d: d["states"].append([1]),
            "states[2]",
            "must be an object mapping variables to values",
        ),
        (lambda d: d.update(extra=1), "extra", "unknown key"),
    ],
)
def test_ill_formed_vars_and_states(change: Any, where: str, problem: str) -> None:
    err = error_with(change)
    assert err.where == where
    assert problem in err.problem


def test_a_state_missing_a_declared_variable() -> None:
    err = error_with(lambda d: d["states"][1].pop("y"))
    assert (err.where, err.problem) == ("states[1]", "missing variable y")


def test_a_state_holding_an_undeclared_variable() -> None:
    err = error_with(lambda d: d["states"][1].update(z=0))
    assert err.where == "states[1]"
    assert err.problem == "holds 'z', which is not declared in vars (x, y)"


@pytest.mark.parametrize(
    ("value", "where", "problem"),
    [
        (1.5, "states[1].x", "number 1.5 is not an integer"),
        (1e3, "states[1].x", "number 1000.0 is not an integer"),
        ([1, {"a": [0, 2.0]}], "states[1].x[1].a[1]", "number 2.0 is not an integer"),
        (2**53, "states[1].x", "beyond JSON's exact range"),
        (None, "states[1].x", "null is not an ITF value"),
        ({"#bigint": "12a"}, "states[1].x.#bigint", "decimal digits"),
        ({"#bigint": "+5"}, "states[1].x.#bigint", "decimal digits"),
        ({"#bigint": ""}, "states[1].x.#bigint", "decimal digits"),
        ({"#bigint": 12}, "states[1].x.#bigint", "found 12"),
        ({"#set": 1}, "states[1].x.#set", "must be an array, found an integer"),
        (
            {"#set": [1, {"#set": {}}]},
            "states[1].x.#set[1].#set",
            "must be an array, found an object",
        ),
        ({"#tup": {"a": 1}}, "states[1].x.#tup", "must be an array"),
        (
            {"#map": [[1]]},
            "states[1].x.#map[0]",
            "must be a [key, value] pair, found an array of 1",
        ),
        ({"#map": [1]}, "states[1].x.#map[0]", "must be a [key, value] pair, found an integer"),
        ({"#map": [[1, "a"], [1, "b"]]}, "states[1].x.#map[1]", "same key appears twice"),
        ({"#map": {"1": 2}}, "states[1].x.#map", "must be an array"),
        ({"#unserializable": 3}, "states[1].x.#unserializable", "must be a string"),
        ({"#foo": 1}, "states[1].x", "unknown key '#foo'"),
        ({"a": {"#sets": []}}, "states[1].x.a", "unknown key '#sets'"),
        ({"#set": [], "a": 1}, "states[1].x", "must be the only key of its object, found also 'a'"),
    ],
)
def test_malformed_values_name_their_place(value: Any, where: str, problem: str) -> None:
    err = error_with(lambda d: d["states"][1].update(x=value))
    assert err.where == where
    assert problem in err.problem, err.problem


def test_nan_and_infinity_are_not_values() -> None:
    text = json.dumps(base_doc()).replace('"x": 2', '"x": NaN')
    err = error_of(text)
    assert (err.where, err.problem) == (
        "states[1].x",
        "NaN is not a JSON number and not an ITF value",
    )


def test_a_key_given_twice_in_one_object() -> None:
    text = json.dumps(base_doc()).replace('"x": 2', '"x": 2, "x": 3')
    err = error_of(text)
    assert (err.where, err.problem) == ("states[1]", "key 'x' appears twice")


@pytest.mark.parametrize(
    ("loop", "found"),
    [(2, "found 2"), (-1, "found -1"), ("1", "found a string"), (True, "found a boolean")],
)
def test_loop_out_of_range_or_ill_typed(loop: Any, found: str) -> None:
    err = error_with(lambda d: d.update(loop=loop))
    assert err.where == "loop"
    assert err.problem == f"must be a state index from 0 to 1, {found}"


def test_loop_in_range_and_null_loop_are_fine() -> None:
    doc = base_doc()
    doc["loop"] = 1
    assert itf.loads(json.dumps(doc)).loop == 1
    doc["loop"] = None
    assert itf.loads(json.dumps(doc)).loop is None


@pytest.mark.parametrize(
    ("action", "found"),
    [(3, "an integer"), (["Incr"], "an array"), ("", "an empty string"), (None, "null")],
)
def test_an_action_that_is_not_a_name(action: Any, found: str) -> None:
    err = error_with(lambda d: d["states"][1]["#meta"].update(action=action))
    assert err.where == "states[1].#meta.action"
    assert err.problem == f"must be the action's name (a string), found {found}"


def test_step_params_must_be_an_object() -> None:
    err = error_with(lambda d: d["states"][1]["#meta"].update(params=[1]))
    assert err.where == "states[1].#meta.params"


def test_meta_must_be_an_object() -> None:
    assert error_with(lambda d: d.update({"#meta": [1]})).where == "#meta"
    assert error_with(lambda d: d["states"][0].update({"#meta": "Init"})).where == "states[0].#meta"


def test_params_must_be_set_in_the_first_state_and_stay_constant() -> None:
    err = error_with(lambda d: d.update(params=["N"]))
    assert (err.where, err.problem) == ("states[0]", "missing parameter 'N' (declared in params)")

    def changing(d: dict[str, Any]) -> None:
        d["params"] = ["N"]
        d["states"][0]["N"] = 3
        d["states"][1]["N"] = 4

    err = error_with(changing)
    assert (err.where, err.problem) == (
        "states[1].N",
        "parameter 'N' differs from its value in states[0]",
    )
    err = error_with(lambda d: d.update(params=["x"]))
    assert err.where == "params[0]"


def test_read_reports_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="cannot read: No such file"):
        itf.read(tmp_path / "nope.itf.json")
    binary = tmp_path / "b.itf.json"
    binary.write_bytes(b'{"vars": ["\xff"]}')
    with pytest.raises(TraceFormatError, match=r"not UTF-8 text \(byte 11\)"):
        itf.read(binary)


def test_decode_value_errors_carry_the_given_place() -> None:
    with pytest.raises(TraceFormatError) as info:
        decode_value({"#set": [1.5]}, where="msgs")
    assert info.value.where == "msgs.#set[0]"


def test_freeze_and_decode_agree_on_plain_json() -> None:
    """A record in ITF is what `freeze` makes of the same JSON object (one value domain)."""
    j = {"a": [1, 2], "b": {"c": "d"}}
    assert decode_value(copy.deepcopy(j)) == freeze(j)


# ---------------------------------------------------------------------------------------------------
# What other tools write: any JSON in #meta, #tup and #map kept (Quint's traces, tests/data/quint/)

QUINT = DATA / "quint"


def test_meta_may_hold_any_json_and_it_is_written_back_as_it_was() -> None:
    """ADR-015 leaves `#meta` to the writer: fractions, null, objects of any keys are read."""
    doc = base_doc()
    doc["#meta"] = {
        "duration": 1.5,
        "description": None,
        "tool": {"name": "apalache", "version": "0.44", "flags": ["--length=4"], "ratio": 0.5},
        "odd": {"#weird": 1},
        "index": 3,
    }
    doc["states"][1]["#meta"].update(duration=0.25, note=None, sizes=[1, 2.5])
    trace = itf.loads(json.dumps(doc))
    assert trace.meta["duration"] == itf.Json("1.5")
    assert trace.meta["description"] == itf.Json("null")
    assert trace.meta["index"] == 3  # an ITF value stays one
    assert trace.meta["tool"] == itf.Json(json.dumps(doc["#meta"]["tool"], sort_keys=True))
    assert trace.steps[1].meta["note"] == itf.Json("null")
    assert trace.steps[1].action == "Incr"
    back = json.loads(itf.dumps(trace))
    for key, value in doc["#meta"].items():
        assert back["#meta"][key] == value
    assert back["states"][1]["#meta"]["sizes"] == [1, 2.5]
    assert itf.loads(itf.dumps(trace)) == trace
    from meshcheck.traces.show import render

    text = render(trace)
    assert "duration:    1.5" in text and "description: null" in text


def test_meta_that_is_not_json_is_still_refused() -> None:
    err = error_of('{"#meta": {"x": NaN}, "vars": ["x"], "states": [{"x": 1}]}')
    assert (err.where, err.problem) == ("#meta.x", "NaN is not a JSON number")
    err = error_of('{"#meta": {"t": {"a": 1, "a": 2}}, "vars": ["x"], "states": [{"x": 1}]}')
    assert err.problem == "key 'a' appears twice"


@pytest.mark.parametrize("name", ["counter", "handshake"])
def test_a_quint_trace_round_trips_keeping_its_encodings(name: str, tmp_path: Path) -> None:
    """Quint writes every map as #map (string keys too), every integer as #bigint and the unit
    value as #tup: a trace read and written again keeps them, state for state."""
    path = QUINT / f"{name}.itf.json"
    original = json.loads(path.read_text())
    trace = itf.read(path)
    written = itf.write(trace, tmp_path / "again.itf.json")
    again = json.loads(written.read_text())
    for before, after in zip(original["states"], again["states"], strict=True):
        assert {k: v for k, v in after.items() if k != "#meta"} == {
            k: v for k, v in before.items() if k != "#meta"
        }
    assert {k: again["#meta"][k] for k in original["#meta"]} == original["#meta"]
    assert itf.read(written) == trace
    if name == "handshake":
        assert again["states"][0]["phase"] == {"#map": [["a", "idle"], ["b", "idle"]]}
    else:
        assert again["states"][0]["mbt::nondetPicks"]["k"]["value"] == {"#tup": []}


def test_tup_and_map_values_equal_plain_ones() -> None:
    tup, plain = decode_value({"#tup": [1, "a"]}), decode_value([1, "a"])
    assert tup == plain and hash(tup) == hash(plain) and type(plain) is tuple
    m = decode_value({"#map": [["a", 1]]})
    assert m == FrozenDict({"a": 1}) and hash(m) == hash(FrozenDict({"a": 1}))
    assert encode_value(m) == {"#map": [["a", 1]]} and encode_value(FrozenDict({"a": 1})) == {
        "a": 1
    }
    big = decode_value({"#bigint": "7"})
    assert big == 7 and hash(big) == hash(7) and encode_value(big) == {"#bigint": "7"}
    assert encode_value(7) == 7
    assert encode_value(tup) == {"#tup": [1, "a"]} and encode_value(plain) == [1, "a"]
    assert pickle.loads(pickle.dumps(m)) == m and type(pickle.loads(pickle.dumps(m))) is itf.Map
