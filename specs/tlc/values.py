"""TLC's values to Python and back, following `impl.base.values` exactly.

One rule per TLA+ value, so that equal TLA+ values give equal Python values whatever TLC's internal
representation (TLC holds one TLA+ value in several classes: a sequence may be a `TupleValue` or a
`FcnRcdValue` over `1..n`, a record may be a `RecordValue` or a function over strings, a set may be a
`SetEnumValue`, an `IntervalValue` or a lazy set expression):

    TLC                                             Python
    BoolValue                                       bool
    IntValue                                        int
    StringValue, ModelValue                         str
    any finite set (SetEnum, Interval, SUBSET, ...) frozenset
    function whose domain is exactly 1..n, n >= 0   tuple (so <<>>, and any empty function, is ())
    any other function or record                    FrozenDict

TLC agrees: it fingerprints a tuple as the function over 1..n and a record as the function over its field
names (`FcnRcdValue.fingerPrint`, `TupleValue.fingerPrint`, `RecordValue.fingerPrint` all start with the
FCNRCDVALUE tag), so the Python rule and TLC's state identity coincide.

A model value and a string with the same text both become that `str`: `ValueBuilder` tells them apart on
the way back by the names of the model values the configuration declares.

Speed: one state of Ongaro's raft.tla is a few hundred values, and each crossing into Java costs about a
microsecond, so the converters dispatch on the Python proxy type (no Java call) and read public fields
directly instead of calling accessors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value

if TYPE_CHECKING:
    from meshcheck.specs.tlc.runtime import TLCRuntime

__all__ = ["Converter", "TLCValueError", "ValueBuilder", "to_python"]

# tlc2.value.ValueConstants: the kind byte of each value class.
_KIND_NAMES = {
    0: "boolean",
    1: "integer",
    2: "real",
    3: "string",
    4: "record",
    5: "set",
    6: "set comprehension",
    7: "tuple",
    8: "function (lambda)",
    9: "function",
    10: "operator (lambda)",
    11: "operator",
    12: "Java method (overridden operator)",
    13: "set of functions",
    14: "set of records",
    15: "set of tuples",
    16: "SUBSET",
    17: "set difference",
    18: "set intersection",
    19: "set union",
    20: "UNION",
    21: "model value",
    22: "user value (e.g. Nat, Int)",
    23: "interval",
    24: "undefined value",
    25: "lazy value",
    26: "dummy value",
}
# Kinds that are sets TLC can enumerate when they are finite.
_SET_KINDS = frozenset({5, 6, 13, 14, 15, 16, 17, 18, 19, 20, 23})
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # TLC's IntValue is a Java int


class TLCValueError(MeshcheckError):
    """A value that has no Python (or no TLC) counterpart: an infinite set, an operator, a float..."""


def _describe(v: Any) -> str:
    try:
        kind = int(v.getKind())
        text = str(v.toString())
    except Exception:  # the value may not even print (e.g. an infinite set comprehension)
        return type(v).__name__
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{_KIND_NAMES.get(kind, f'kind {kind}')} {text}"


# ------------------------------------------------------------------ TLC -> Python

_Convert = Callable[[Any], Value]
_Handler = Callable[[Any, _Convert], Value]  # (value, converter for its parts) -> Python value
_handlers: dict[type, _Handler] = {}  # proxy type -> handler; one entry per class and class loader


def to_python(v: Any) -> Value:
    """The Python value of a TLC value (an `IValue` of any runtime); TLCValueError when it has none."""
    handler = _handlers.get(type(v))
    if handler is None:
        handler = _handler_for(v)
    return handler(v, to_python)


class Converter:
    """`to_python` with a memo of the compound values it converted, keyed by TLC's fingerprint.

    Why: the successors of a state share most of their values with it (UNCHANGED variables are the very
    same Java objects, and a message bag gains or loses one message), and converting a compound value
    costs one call into Java per part, while its fingerprint costs one call in all. Keying by fingerprint
    is exactly as safe as TLC's model checker, which identifies states by the same 64-bit fingerprints;
    and equal TLA+ values held in different classes (a tuple, a function over 1..n) share a fingerprint,
    which is the Python rule too. Atoms are not memoized: reading one is a single call already.

    One Converter per runtime (it needs that runtime's `FP64`); the memo is dropped when it grows past
    `limit` entries.
    """

    def __init__(self, rt: TLCRuntime, limit: int = 200_000) -> None:
        fp64 = rt.jclass("tlc2.util.FP64")
        fp64.Init()  # idempotent; without it every fingerprint is 0
        self._seed = int(fp64.New())
        self._memo: dict[int, Value] = {}
        self._limit = limit

    def __call__(self, v: Any) -> Value:
        handler = _handlers.get(type(v))
        if handler is None:
            handler = _handler_for(v)
        if handler in _ATOMIC:
            return handler(v, self)
        fp = int(_java_call(v, lambda: v.fingerPrint(self._seed)))
        value = self._memo.get(fp, _MISSING)
        if value is _MISSING:
            value = handler(v, self)
            if len(self._memo) >= self._limit:
                self._memo.clear()
            self._memo[fp] = value
        return value


_MISSING: Any = object()


def _handler_for(v: Any) -> _Handler:
    """Find (and cache, per proxy type) the handler of v's class."""
    if v is None:
        raise TLCValueError("no value (a variable or binding TLC left unassigned)")
    try:
        kind = int(v.getKind())
    except AttributeError:
        raise TLCValueError(f"not a TLC value: {v!r}") from None
    name = str(v.getClass().getName())
    handler = _BY_CLASS.get(name)
    if handler is None:
        handler = _enumerable_set if kind in _SET_KINDS else _by_kind
    _handlers[type(v)] = handler
    return handler


def _bool(v: Any, conv: _Convert) -> Value:
    return bool(v.val)


def _int(v: Any, conv: _Convert) -> Value:
    return int(v.val)


def _model_value(v: Any, conv: _Convert) -> Value:
    return str(v)  # JPype's str() is one call to toString(): about 4x cheaper than reading v.val


def _string(v: Any, conv: _Convert) -> Value:
    text = str(v)  # TLC's text: quoted, with \" \\ \n \t \r \f escaped (StringValue.PrintVersion)
    inner = text[1:-1]
    if "\\" in inner:
        inner = _UNESCAPE.sub(_unescape, inner)
    return inner


_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f"}


def _unescape(m: re.Match[str]) -> str:
    c = m.group(1)
    return _ESCAPES.get(c, c)


def _items(arr: Any, conv: _Convert) -> list[Value]:
    """The Python values of a Java Value[] (indexing is twice as fast as JPype's array iterator)."""
    return [conv(arr[i]) for i in range(len(arr))]


def _set_enum(v: Any, conv: _Convert) -> Value:
    return frozenset(_items(v.elems.toArray(), conv))


def _interval(v: Any, conv: _Convert) -> Value:
    return frozenset(range(int(v.low), int(v.high) + 1))


def _tuple(v: Any, conv: _Convert) -> Value:
    return tuple(_items(v.elems, conv))


def _record(v: Any, conv: _Convert) -> Value:
    names = v.names
    if len(names) == 0:
        return ()
    values = v.values
    return FrozenDict((str(names[i]), conv(values[i])) for i in range(len(names)))


def _fcn_rcd(v: Any, conv: _Convert) -> Value:
    values = _items(v.values, conv)
    intv = v.intv
    if intv is not None:  # made by TupleValue.toFcnRcd: always 1..n, but read what is there
        low = int(intv.low)
        if low == 1 or not values:
            return tuple(values)
        return FrozenDict(zip(range(low, low + len(values)), values, strict=True))
    return _function(_items(v.domain, conv), values)


def _function(keys: list[Value], values: list[Value]) -> Value:
    """A function as a tuple when its domain is exactly 1..n, else as a FrozenDict."""
    n = len(keys)
    if all(type(k) is int for k in keys) and set(keys) == set(range(1, n + 1)):
        ordered = sorted(zip(keys, values, strict=True))
        return tuple(val for _, val in ordered)
    return FrozenDict(zip(keys, values, strict=True))


def _fcn_lambda(v: Any, conv: _Convert) -> Value:
    # [x \in S |-> e] that TLC has not tabulated yet: tabulating evaluates e over a finite S.
    return _fcn_rcd(_java_call(v, v.toFcnRcd), conv)


def _lazy(v: Any, conv: _Convert) -> Value:
    inner = v.getValue()
    if inner is None:
        raise TLCValueError(f"cannot convert an unevaluated expression: {_describe(v)}")
    return conv(inner)


def _enumerable_set(v: Any, conv: _Convert) -> Value:
    if not bool(_java_call(v, v.isFinite)):
        raise TLCValueError(f"cannot convert an infinite set to Python: {_describe(v)}")
    return _set_enum(_java_call(v, v.toSetEnum), conv)


def _by_kind(v: Any, conv: _Convert) -> Value:
    """A value of a class outside TLC's usual ones (a subclass, a module override): dispatch on kind."""
    kind = int(v.getKind())
    if kind in (4, 7, 8, 9):
        return _fcn_rcd(_java_call(v, v.toFcnRcd), conv)
    if kind == 22:  # Nat, Int, Real are UserValues; anything finite there can be enumerated
        return _enumerable_set(v, conv)
    raise TLCValueError(f"cannot convert a TLC {_describe(v)} to Python")


def _java_call(v: Any, call: Callable[[], Any]) -> Any:
    """Call into TLC, turning its evaluation errors into TLCValueError."""
    import jpype

    try:
        result = call()
    except jpype.JException as exc:
        raise TLCValueError(f"TLC cannot convert {_describe(v)}: {exc.getMessage()}") from None
    if result is None:
        raise TLCValueError(f"TLC cannot convert {_describe(v)}")
    return result


_BY_CLASS: dict[str, _Handler] = {
    "tlc2.value.impl.BoolValue": _bool,
    "tlc2.value.impl.IntValue": _int,
    "tlc2.value.impl.StringValue": _string,
    "tlc2.value.impl.ModelValue": _model_value,
    "tlc2.value.impl.SetEnumValue": _set_enum,
    "tlc2.value.impl.IntervalValue": _interval,
    "tlc2.value.impl.TupleValue": _tuple,
    "tlc2.value.impl.RecordValue": _record,
    "tlc2.value.impl.FcnRcdValue": _fcn_rcd,
    "tlc2.value.impl.FcnLambdaValue": _fcn_lambda,
    "tlc2.value.impl.LazyValue": _lazy,
}
_ATOMIC = frozenset({_bool, _int, _string, _model_value, _interval})


# ------------------------------------------------------------------ Python -> TLC


class ValueBuilder:
    """Builds TLC values of one runtime from Python values.

    A `str` becomes a ModelValue when it names one of `model_values` (the configuration's model values:
    `Stepper.values` passes them), otherwise a StringValue. The values built are normalized, so their
    fingerprints equal those of the values TLC computes itself.
    """

    def __init__(
        self, rt: TLCRuntime, model_values: Iterable[str] = (), *, limit: int = 100_000
    ) -> None:
        self._rt = rt
        self.model_values = frozenset(model_values)
        j = rt.jclass
        self._Value = j("tlc2.value.impl.Value")
        self._values = _array_type(self._Value)
        self._strings = _array_type(j("util.UniqueString"))
        self._true = j("tlc2.value.impl.BoolValue").ValTrue
        self._false = j("tlc2.value.impl.BoolValue").ValFalse
        self._int = j("tlc2.value.impl.IntValue").gen
        self._String = j("tlc2.value.impl.StringValue")
        self._model = j("tlc2.value.impl.ModelValue").make
        self._SetEnum = j("tlc2.value.impl.SetEnumValue")
        self._Tuple = j("tlc2.value.impl.TupleValue")
        self._Record = j("tlc2.value.impl.RecordValue")
        self._FcnRcd = j("tlc2.value.impl.FcnRcdValue")
        self._unique = j("util.UniqueString").uniqueStringOf
        self._fp_new = j("tlc2.util.FP64").New
        j("tlc2.util.FP64").Init()  # idempotent; without it every fingerprint is 0
        self._atoms: dict[tuple[type, Value], Any] = {}
        self._memo: dict[Value, Any] = {}
        self._limit = limit

    def to_tlc(self, value: Value) -> Any:
        """The TLC value (a `tlc2.value.impl.Value` of this runtime) of a Python value.

        Whole compound values are memoized: a lockstep test builds the implementation's state at every
        step, and most of its variables hold the value they held a step before. Only values made of
        int, str, frozenset, tuple and FrozenDict are memoized, because Python's `==` is TLA+'s equality
        exactly there (True == 1 and 1 == 1.0 in Python, not in TLA+).
        """
        kind = type(value)
        if kind is bool or kind is int or kind is str:
            return self._atom_of(value)
        if (kind is frozenset or kind is tuple or kind is FrozenDict) and _memoizable(value):
            built = self._memo.get(value)
            if built is None:
                built = self._build(value)
                if len(self._memo) >= self._limit:
                    self._memo.clear()
                self._memo[value] = built
            return built
        return self._build(value)

    def _build(self, value: Value) -> Any:
        kind = type(value)
        if kind is bool or kind is int or kind is str:
            return self._atom_of(value)
        if isinstance(value, frozenset | set):
            elems = self._values([self._build(e) for e in value])
            return self._SetEnum(elems, False).normalize()
        if isinstance(value, tuple | list):
            return self._Tuple(self._values([self._build(e) for e in value]))
        if isinstance(value, Mapping):
            return self._mapping(value)
        raise TLCValueError(f"not a TLA+ value: {value!r} ({kind.__name__})")

    def _atom_of(self, value: bool | int | str) -> Any:
        # Atoms recur (server names, small integers): build each once per builder.
        key = (type(value), value)
        atom = self._atoms.get(key)
        if atom is None:
            atom = self._atom(value)
            self._atoms[key] = atom
        return atom

    def _atom(self, value: bool | int | str) -> Any:
        if isinstance(value, bool):
            return self._true if value else self._false
        if isinstance(value, int):
            if not _INT_MIN <= value <= _INT_MAX:
                raise TLCValueError(f"integer {value} is outside TLC's range (32-bit signed)")
            return self._int(value)
        if value in self.model_values:
            return self._model(value)
        return self._String(value)

    def _mapping(self, value: Mapping[Value, Value]) -> Any:
        n = len(value)
        keys = list(value)
        if all(type(k) is int for k in keys) and set(keys) == set(range(1, n + 1)):
            # Also the empty function: TLC's <<>> (TupleValue.EmptyTuple) is the empty function.
            return self._Tuple(self._values([self._build(value[i]) for i in range(1, n + 1)]))
        vals = self._values([self._build(value[k]) for k in keys])
        if all(type(k) is str and k not in self.model_values for k in keys):
            names = self._strings([self._unique(k) for k in keys])
            return self._Record(names, vals, False).normalize()
        domain = self._values([self._build(k) for k in keys])
        return self._FcnRcd(domain, vals, False).normalize()

    def fingerprint(self, value: Any) -> int:
        """TLC's 64-bit fingerprint of a value, given as Python or as a TLC value of this runtime.

        Needs `FP64.Init()` of this runtime (a `Stepper` calls it): before it, every fingerprint is 0.
        """
        tlc = value if isinstance(value, self._Value) else self.to_tlc(value)
        return int(tlc.fingerPrint(self._fp_new()))


def _array_type(cls: Any) -> Any:
    """The Java array type cls[] of a class from a runtime's own loader.

    `jpype.JArray(cls)` looks the array class up by name in the default loader and fails for TLC's
    classes; the type of an empty array made by reflection is the right one (and builds arrays from
    Python lists in one call, about 0.4 us an element).
    """
    import jpype

    return type(jpype.JClass("java.lang.reflect.Array").newInstance(cls.class_, 0))


def _memoizable(value: Value) -> bool:
    """Whether value is made only of int, str, frozenset, tuple and FrozenDict (no bool, no float...)."""
    stack = [value]
    while stack:
        x = stack.pop()
        kind = type(x)
        if kind is int or kind is str:
            continue
        if kind is frozenset or kind is tuple:
            stack.extend(x)
        elif kind is FrozenDict:
            stack.extend(x.keys())
            stack.extend(x.values())
        else:
            return False
    return True
