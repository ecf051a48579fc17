"""TLC values <-> Python values (specs/tlc/values.py): the documented mapping, and TLC's fingerprints.

The reference is TLC itself: stepper_values.tla makes TLC build one value of every kind in its own
representation (SUBSET, lazy functions, intervals, ...), and the tests check the Python value we read and
that the value we build back has the fingerprint TLC gave its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.specs.tlc.runtime import TLCRuntime
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.specs.tlc.values import Converter
from meshcheck.specs.tlc.values import TLCValueError
from meshcheck.specs.tlc.values import ValueBuilder
from meshcheck.specs.tlc.values import to_python

SPECS = Path(__file__).resolve().parent / "specs"

# What each variable of stepper_values.tla must read as (the table in specs/tlc/values.py).
EXPECTED: dict[str, Value] = {
    "b": True,
    "n": -3,
    "str": 'hello "world"',
    "mv": "s1",
    "none": "Nil",
    "empty": frozenset(),
    "interval": frozenset({2, 3, 4}),
    "powerset": frozenset({frozenset(), frozenset({1}), frozenset({2}), frozenset({1, 2})}),
    "bools": frozenset({False, True}),
    "rcdset": frozenset({FrozenDict({"src": "s1", "n": 1})}),
    "tuplekeys": FrozenDict({(1, "a"): 1, (1, "b"): 1, (2, "a"): 2, (2, "b"): 2}),
    "nested": ((1, 2), (), ((3,),)),
    "sqfcn": (1, 4, 9),
    "shifted": FrozenDict({2: 2, 3: 3}),
    "emptyfcn": (),
    "strfcn": FrozenDict({"a": 0, "b": 0}),
    "rcd": FrozenDict({"a": 0, "b": 0}),
    "mvfcn": FrozenDict({"s1": frozenset({"s1"})}),
    "fcnset": frozenset({FrozenDict({"x": 1}), FrozenDict({"x": 2})}),
    "appended": (8, 7, 6),
    "crossed": frozenset({(1, "u"), (1, "v")}),
    "mvset": frozenset({"s1", "Nil"}),
}


@pytest.fixture(scope="module")
def kinds() -> Iterator[tuple[Stepper, State]]:
    with Stepper(SPECS / "stepper_values.tla") as stepper:
        (state,) = stepper.init_states()
        yield stepper, state


def _tlc_value(stepper: Stepper, state: State, var: str) -> Any:
    return state.java.lookup(stepper._vars.keys[var])


def test_the_spec_covers_every_expected_variable(kinds: tuple[Stepper, State]) -> None:
    stepper, _ = kinds
    assert set(stepper.vars) == set(EXPECTED)


@pytest.mark.parametrize("var", sorted(EXPECTED))
def test_tlc_value_reads_as_documented(kinds: tuple[Stepper, State], var: str) -> None:
    stepper, state = kinds
    got = to_python(_tlc_value(stepper, state, var))
    assert got == EXPECTED[var]
    assert type(got) is type(EXPECTED[var])  # a sequence is a tuple, never a FrozenDict over 1..n


@pytest.mark.parametrize("var", sorted(EXPECTED))
def test_built_value_has_tlcs_own_fingerprint(kinds: tuple[Stepper, State], var: str) -> None:
    stepper, state = kinds
    tlc_fp = stepper.values.fingerprint(_tlc_value(stepper, state, var))
    assert stepper.values.fingerprint(EXPECTED[var]) == tlc_fp
    assert to_python(stepper.values.to_tlc(EXPECTED[var])) == EXPECTED[var]


def test_whole_state_built_from_python_is_tlcs_state(kinds: tuple[Stepper, State]) -> None:
    stepper, state = kinds
    built = stepper.state(EXPECTED)
    assert built == state  # by fingerprint
    assert built.values == state.values == EXPECTED
    assert bool(built.java.equals(state.java))  # and TLC's own equality of states


def test_model_value_and_string_differ_for_tlc(kinds: tuple[Stepper, State]) -> None:
    """The builder must know the model values: the same text as a string is another TLA+ value."""
    stepper, state = kinds
    tlc_fp = stepper.values.fingerprint(_tlc_value(stepper, state, "mv"))
    unaware = ValueBuilder(stepper.rt)  # no model values: "s1" becomes the string "s1"
    assert unaware.fingerprint("s1") != tlc_fp
    assert stepper.values.fingerprint("s1") == tlc_fp


def test_equal_tla_values_fingerprint_alike(kinds: tuple[Stepper, State]) -> None:
    """Python values that denote one TLA+ value build to one TLC value, whatever their Python type."""
    b = kinds[0].values
    assert b.fingerprint(FrozenDict({1: "a", 2: "b"})) == b.fingerprint(("a", "b"))
    assert b.fingerprint(FrozenDict()) == b.fingerprint(())
    assert b.fingerprint({"x": 1, "y": 2}) == b.fingerprint(FrozenDict({"y": 2, "x": 1}))
    assert b.fingerprint(frozenset({3, 1, 2})) == b.fingerprint({2, 3, 1})
    assert b.fingerprint(FrozenDict({2: "a"})) != b.fingerprint(("a",))  # domain {2} is not 1..1


def test_every_representation_of_a_sequence_reads_as_a_tuple(kinds: tuple[Stepper, State]) -> None:
    """TLC turns a TupleValue into a FcnRcdValue over an IntervalValue (TupleValue.toFcnRcd) when a
    function operator meets a sequence; that form must read as the same tuple."""
    b = kinds[0].values
    for seq in [("a", "b", "c"), (), ((1,), ())]:
        as_function = b.to_tlc(seq).toFcnRcd()
        assert as_function.intv is not None or not seq
        got = to_python(as_function)
        assert got == seq and type(got) is tuple
        assert b.fingerprint(as_function) == b.fingerprint(seq)


def test_memo_of_built_values_keeps_tla_equality(kinds: tuple[Stepper, State]) -> None:
    """Python's == is not TLA+'s: True == 1 and 1 == 1.0. The builder's memo must not confuse them."""
    b = kinds[0].values
    ints, bools = b.to_tlc(frozenset({1})), b.to_tlc(frozenset({True}))
    assert to_python(ints) == frozenset({1}) and type(next(iter(to_python(bools)))) is bool
    assert b.fingerprint(ints) != b.fingerprint(bools)
    assert b.to_tlc(((1,), "a")) is b.to_tlc(((1,), "a"))  # memo hit: the same TLC value
    with pytest.raises(TLCValueError, match=r"not a TLA\+ value: 1\.0"):
        b.to_tlc(((1.0,), "a"))


@pytest.mark.parametrize("var", sorted(EXPECTED))
def test_memoizing_converter_agrees_with_to_python(kinds: tuple[Stepper, State], var: str) -> None:
    stepper, state = kinds
    convert = Converter(stepper.rt)
    tlc = _tlc_value(stepper, state, var)
    first, again = convert(tlc), convert(tlc)
    assert first == again == to_python(tlc) == EXPECTED[var]
    assert type(first) is type(EXPECTED[var])


def test_infinite_set_is_refused_by_kind(kinds: tuple[Stepper, State]) -> None:
    nat = kinds[0].rt.jclass("tlc2.module.Naturals").Nat()
    with pytest.raises(TLCValueError, match=r"infinite set .*Nat"):
        to_python(nat)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (1.5, "not a TLA+ value: 1.5"),
        (None, "not a TLA+ value: None"),
        (2**40, "outside TLC's range"),
        (("a", b"x"), "not a TLA+ value: b'x'"),
    ],
)
def test_python_value_without_tla_counterpart_is_refused(
    kinds: tuple[Stepper, State], bad: Any, message: str
) -> None:
    with pytest.raises(TLCValueError, match=re.escape(message)):
        kinds[0].values.to_tlc(bad)


def test_non_value_is_refused() -> None:
    with pytest.raises(TLCValueError, match="not a TLC value"):
        to_python("plain python")
    with pytest.raises(TLCValueError, match="unassigned"):
        to_python(None)


# ------------------------------------------------------------------ round trips of generated values

MODEL_VALUES = ("m1", "m2", "m3")
_TEXT = st.text(alphabet='ab "\\\n\t\r\x0cé', max_size=6).filter(lambda s: s not in MODEL_VALUES)
_ATOMS: dict[str, st.SearchStrategy[Value]] = {
    "int": st.integers(-(2**31), 2**31 - 1),
    "str": _TEXT,
    "bool": st.booleans(),
    "mv": st.sampled_from(MODEL_VALUES),
}
_KEY_TYPES = ("int", "str", "mv")
_FIELDS = ("f", "g", "h")


def _type_of() -> st.SearchStrategy[Any]:
    """Descriptions of TLA+ types, so that every set and function domain holds comparable values."""
    atom = st.sampled_from(sorted(_ATOMS))
    return st.recursive(
        atom,
        lambda inner: st.one_of(
            st.tuples(st.just("set"), inner),
            st.tuples(st.just("seq"), inner),
            st.tuples(st.just("fcn"), st.sampled_from(_KEY_TYPES), inner),
            st.tuples(st.just("rcd"), st.lists(inner, min_size=1, max_size=3)),
            st.tuples(st.just("tuple"), st.lists(inner, min_size=1, max_size=3)),
        ),
        max_leaves=4,
    )


def _value_of(t: Any) -> st.SearchStrategy[Value]:
    if isinstance(t, str):
        return _ATOMS[t]
    kind = t[0]
    if kind == "set":
        return st.frozensets(_value_of(t[1]), max_size=3)
    if kind == "seq":
        return st.lists(_value_of(t[1]), max_size=3).map(tuple)
    if kind == "fcn":
        return st.dictionaries(_ATOMS[t[1]], _value_of(t[2]), max_size=3).map(FrozenDict)
    if kind == "rcd":
        parts = [_value_of(x) for x in t[1]]
        return st.tuples(*parts).map(lambda vs: FrozenDict(zip(_FIELDS, vs, strict=False)))
    return st.tuples(*[_value_of(x) for x in t[1]])


def _canonical(v: Value) -> Value:
    """The Python value TLC gives back: functions over exactly 1..n (n >= 0) are tuples."""
    if isinstance(v, frozenset):
        return frozenset(_canonical(x) for x in v)
    if isinstance(v, tuple):
        return tuple(_canonical(x) for x in v)
    if isinstance(v, FrozenDict):
        keys = list(v)
        if all(type(k) is int for k in keys) and set(keys) == set(range(1, len(keys) + 1)):
            return tuple(_canonical(v[i]) for i in range(1, len(keys) + 1))
        return FrozenDict((_canonical(k), _canonical(x)) for k, x in v.items())
    return v


@pytest.fixture(scope="module")
def builder() -> Iterator[ValueBuilder]:
    rt = TLCRuntime()
    try:
        yield ValueBuilder(rt, MODEL_VALUES)
    finally:
        rt.close()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_round_trip_of_generated_values(builder: ValueBuilder, data: st.DataObject) -> None:
    value = data.draw(_type_of().flatmap(_value_of), label="value")
    expected = _canonical(value)
    tlc = builder.to_tlc(value)
    assert to_python(tlc) == expected
    # The canonical form builds to the same TLC value (a tuple and a function over 1..n are one value).
    assert builder.fingerprint(expected) == builder.fingerprint(tlc)
