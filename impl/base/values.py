"""The Python side of a TLA+ value.

One mapping, used by the TLC bridge, the ITF reader and writer, the implementation's refinement maps and
the tests, so that a model state and an implementation state compare with `==`:

    TLA+ / TLC                      Python
    BOOLEAN                         bool
    integer                         int
    string, model value             str
    set                             frozenset
    sequence, tuple                 tuple
    record, function                FrozenDict (a hashable, read-only dict)

Records and functions are both FrozenDicts (a record is a function from strings), so that sets of
records (message bags) are hashable and a function over strings equals the record with the same fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import NoReturn
from typing import TypeAlias

import attrs

Value: TypeAlias = Any  # bool | int | str | frozenset[Value] | tuple[Value, ...] | FrozenDict


class FrozenDict(dict[Any, Any]):
    """A dict that cannot change and can be hashed (a TLA+ function or record)."""

    __slots__ = ("_hash",)

    def __init__(self, items: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = (), /) -> None:
        super().__init__(items)
        self._hash: int | None = None

    def __hash__(self) -> int:  # type: ignore[override]
        if self._hash is None:
            self._hash = hash(frozenset(self.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("FrozenDict is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly
    __ior__ = _readonly

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


def freeze(value: Any) -> Value:
    """Turn JSON-like Python data (lists, dicts, sets) into the value domain above."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return FrozenDict((freeze(k), freeze(v)) for k, v in value.items())
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    raise TypeError(f"not a TLA+ value: {value!r} ({type(value).__name__})")


# ---------------------------------------------------------------------------------------------------
# What a trace may hold besides TLA+ values (traces/itf.py reads and writes them)


@attrs.frozen
class Json:
    """A `#meta` value that is not an ITF value (a fraction, null, an object with keys ITF does
    not define): its JSON text, canonical (sorted keys), written back as that JSON."""

    text: str

    def value(self) -> Any:
        return json.loads(self.text)


@attrs.frozen
class Unserializable:
    """A value its writer could not express in ITF (Apalache writes `Nat` or an infinite set so).

    It compares equal only to itself, so a state holding one never matches a real state by accident.
    """

    text: str


def to_json(value: Any) -> Any:
    """A spec value as JSON, with ITF's tags for what JSON lacks (sets, tuples stay arrays)."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return {"#set": [to_json(v) for v in sorted(value, key=repr)]}
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    return repr(value)
