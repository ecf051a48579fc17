"""Whether a value another node sent has the shape its classes declare.

A signature, a seal or a MAC covers whatever its signer put in a message: a Byzantine node signs a
string where a sequence number belongs, a client's request where a pre-prepare belongs inside a
prepared certificate, a number where a tuple of entries belongs, as readily as a real message. An
honest node that reads such a message as what its class says it is fails inside its step (an
AttributeError, a TypeError from comparing a string with a number): one message from one Byzantine
node stops an honest one. So every core asks, before it reads a message from another node, whether
the message has the shape its annotations declare, and treats one that has not as the sender's
offence (PBFT, impl/pbft/messages.py `malformed`) or as no message at all (the hybrid layer,
impl/hybrid/entries.py).

`mismatch(value, hint)` walks the *declared types*, never the value's own structure: an attrs
class's fields by their annotations (`typing.get_type_hints`), a `Signed[PrePrepare]` with the
body's type put for its type variable, `tuple[X, ...]`, fixed tuples, unions and `X | None`,
`frozenset[X]`, `Literal[...]`. So its depth is that of the annotations, however deep a sender
nests its values. `Any`, `object` and type variables left open accept anything: a client's
operation is its own business. A `bool` is no `int` here (`True` is no sequence number).

Fields whose metadata holds `skip` are not looked at: PBFT's unsigned fields, which a relayer may
change and which are checked where they are used (a batch against its signed digest).
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import attrs

__all__ = ["mismatch"]


def mismatch(value: Any, hint: Any, *, skip: str | None = None) -> str | None:
    """Why `value` is not of the declared type `hint` (None: it is), as "its C's field is a X, not
    Y" for the innermost field that is not, or "a X, not Y" for the value itself."""
    return _check(value, hint, skip, None)


def _check(value: Any, hint: Any, skip: str | None, where: str | None) -> str | None:
    if hint is Any or hint is object or isinstance(hint, TypeVar):
        return None
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        arms = get_args(hint)
        # the arm of the value's own class first, so that a message of the right kind with a bad
        # field names that field rather than "not any of them"
        for arm in arms:
            if _is_class_of(arm, value):
                return _check(value, arm, skip, where)
        if any(_check(value, arm, skip, where) is None for arm in arms):
            return None
        return _say(where, value, hint)
    if origin is Literal:
        allowed = get_args(hint)
        if any(type(value) is type(a) and value == a for a in allowed):
            return None
        return _say(where, value, hint)
    if origin is tuple:
        if not isinstance(value, tuple):
            return _say(where, value, hint)
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return _first(_check(item, args[0], skip, where) for item in value)
        if len(args) != len(value):
            return _say(where, value, hint)
        return _first(_check(item, arg, skip, where) for item, arg in zip(value, args, strict=True))
    if origin in (frozenset, set):
        if not isinstance(value, frozenset | set):
            return _say(where, value, hint)
        (item_hint,) = get_args(hint)
        return _first(_check(item, item_hint, skip, where) for item in value)
    if origin is not None and attrs.has(origin):  # a generic message class: Signed[PrePrepare]
        if not isinstance(value, origin):
            return _say(where, value, hint)
        bound = dict(zip(getattr(origin, "__parameters__", ()), get_args(hint), strict=True))
        return _fields(value, origin, skip, bound)
    if hint is None or hint is type(None):
        return None if value is None else _say(where, value, hint)
    if hint is int:
        return (
            None
            if isinstance(value, int) and not isinstance(value, bool)
            else _say(where, value, hint)
        )
    if isinstance(hint, type):
        if not isinstance(value, hint):
            return _say(where, value, hint)
        return _fields(value, hint, skip, {}) if attrs.has(hint) else None
    return None  # a hint this walker does not know: accepted, as Any is


def _fields(value: Any, cls: type, skip: str | None, bound: dict[Any, Any]) -> str | None:
    for name, hint in _hints(type(value) if attrs.has(type(value)) else cls, skip):
        hint = bound.get(hint, hint)
        problem = _check(getattr(value, name), hint, skip, f"its {type(value).__name__}'s {name}")
        if problem is not None:
            return problem
    return None


@functools.cache
def _hints(cls: type, skip: str | None) -> tuple[tuple[str, Any], ...]:
    """Each field of an attrs class with its resolved annotation, but those marked `skip`."""
    resolved = typing.get_type_hints(cls)
    return tuple(
        (f.name, resolved.get(f.name, Any))
        for f in attrs.fields(cls)
        if skip is None or not f.metadata.get(skip)
    )


def _is_class_of(hint: Any, value: Any) -> bool:
    cls = get_origin(hint) or hint
    return isinstance(cls, type) and attrs.has(cls) and isinstance(value, cls)


def _first(problems: typing.Iterable[str | None]) -> str | None:
    return next((p for p in problems if p is not None), None)


def _say(where: str | None, value: Any, hint: Any) -> str:
    what = f"a {type(value).__name__}, not {_name(hint)}"
    return f"{where} is {what}" if where else what


def _name(hint: Any) -> str:
    if hint is None or hint is type(None):
        return "None"
    if isinstance(hint, type) and get_origin(hint) is None:
        return hint.__name__
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return " | ".join(_name(arm) for arm in get_args(hint))
    return str(hint).replace("typing.", "").replace("meshcheck.", "")
