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
from collections.abc import Callable
from typing import Any
from typing import Literal
from typing import TypeVar
from typing import Union
from typing import get_args
from typing import get_origin

import attrs

__all__ = ["mismatch"]

# Globals that keep no node's state (property_tests/restarts.py, core purity): `_checker`,
# `_is_attrs` and `_field_checks` are memos per declared type (a type's checker is a function of
# the type alone).
PURE_GLOBALS = ("_checker", "_is_attrs", "_field_checks")


def mismatch(value: Any, hint: Any, *, skip: str | None = None) -> str | None:
    """Why `value` is not of the declared type `hint` (None: it is), as "its C's field is a X, not
    Y" for the innermost field that is not, or "a X, not Y" for the value itself."""
    return _checker(hint, skip)(value, None)


# where a value sits, for the message: None (the value itself) or (its class's name, its field)
Where = tuple[str, str] | None
# the check of one declared type: why a value there is not of it (None: it is)
Check = Callable[[Any, Where], "str | None"]


def _accept(value: Any, where: Where) -> str | None:
    return None


@functools.cache
def _checker(hint: Any, skip: str | None) -> Check:
    """The check of values declared `hint`, built once per hint: every core runs it on every
    message it receives, so the typing machinery (origins, arguments, annotations) is read here,
    not at each value. An attrs class's fields are looked up when a value of it is checked (a class
    may name itself in its fields)."""
    if type(hint) is type:  # a plain class, the most common hint by far
        return _of_class(hint, skip)
    if hint is Any or hint is object or isinstance(hint, TypeVar):
        return _accept
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return _of_union(hint, skip)
    if origin is Literal:
        allowed = get_args(hint)

        def literal(value: Any, where: Where) -> str | None:
            if any(type(value) is type(a) and value == a for a in allowed):
                return None
            return _say(where, value, hint)

        return literal
    if origin is tuple:
        return _of_tuple(hint, skip)
    if origin in (frozenset, set):
        return _of_items(hint, frozenset | set, _checker(get_args(hint)[0], skip))
    if origin is not None and attrs.has(origin):  # a generic message class: Signed[PrePrepare]
        bound = tuple(zip(getattr(origin, "__parameters__", ()), get_args(hint), strict=True))

        def generic(value: Any, where: Where) -> str | None:
            if not isinstance(value, origin):
                return _say(where, value, hint)
            return _fields(value, origin, skip, bound)

        return generic
    if hint is None:
        return _of_class(type(None), skip)
    if isinstance(hint, type):
        return _of_class(hint, skip)
    return _accept  # a hint this walker does not know: accepted, as Any is


def _of_class(cls: type, skip: str | None) -> Check:
    if cls is int:  # a bool is no int here (True is no sequence number)

        def integer(value: Any, where: Where) -> str | None:
            if isinstance(value, int) and not isinstance(value, bool):
                return None
            return _say(where, value, cls)

        return integer
    if cls is type(None):

        def none(value: Any, where: Where) -> str | None:
            return None if value is None else _say(where, value, cls)

        return none
    if attrs.has(cls):

        def message(value: Any, where: Where) -> str | None:
            if not isinstance(value, cls):
                return _say(where, value, cls)
            return _fields(value, cls, skip, ())

        return message

    def plain(value: Any, where: Where) -> str | None:
        return None if isinstance(value, cls) else _say(where, value, cls)

    return plain


def _of_union(hint: Any, skip: str | None) -> Check:
    arms = get_args(hint)
    checks = [_checker(arm, skip) for arm in arms]
    classes = [_class_of(arm) for arm in arms]

    def union(value: Any, where: Where) -> str | None:
        # the arm of the value's own class first, so that a message of the right kind with a bad
        # field names that field rather than "not any of them"
        for cls, check in zip(classes, checks, strict=True):
            if cls is not None and isinstance(value, cls):
                return check(value, where)
        if any(check(value, where) is None for check in checks):
            return None
        return _say(where, value, hint)

    return union


def _of_tuple(hint: Any, skip: str | None) -> Check:
    args = get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        return _of_items(hint, tuple, _checker(args[0], skip))
    checks = [_checker(arg, skip) for arg in args]

    def fixed(value: Any, where: Where) -> str | None:
        if not isinstance(value, tuple) or len(value) != len(checks):
            return _say(where, value, hint)
        for each, check in zip(value, checks, strict=True):
            problem = check(each, where)
            if problem is not None:
                return problem
        return None

    return fixed


def _fields(
    value: Any, cls: type, skip: str | None, bound: tuple[tuple[Any, Any], ...]
) -> str | None:
    own: type = type(value)
    for name, check in _field_checks(own if _is_attrs(own) else cls, skip, bound):
        problem = check(getattr(value, name), (own.__name__, name))
        if problem is not None:
            return problem
    return None


@functools.cache
def _is_attrs(cls: type) -> bool:
    return attrs.has(cls)


@functools.cache
def _field_checks(
    cls: type, skip: str | None, bound: tuple[tuple[Any, Any], ...]
) -> tuple[tuple[str, Check], ...]:
    """Each field of an attrs class with the check of its resolved annotation (a type variable
    bound by a generic's argument, `bound`, put for it), but those marked `skip`."""
    resolved = typing.get_type_hints(cls)
    types_of = dict(bound)
    out = []
    for f in attrs.fields(cls):
        if skip is not None and f.metadata.get(skip):
            continue
        hint = resolved.get(f.name, Any)
        out.append((f.name, _checker(types_of.get(hint, hint), skip)))
    return tuple(out)


def _class_of(hint: Any) -> type | None:
    """The attrs class a union's arm names (a generic's origin), or None."""
    cls = get_origin(hint) or hint
    return cls if isinstance(cls, type) and attrs.has(cls) else None


def _say(where: Where, value: Any, hint: Any) -> str:
    what = f"a {type(value).__name__}, not {_name(hint)}"
    return f"its {where[0]}'s {where[1]} is {what}" if where else what


def _name(hint: Any) -> str:
    if hint is None or hint is type(None):
        return "None"
    if isinstance(hint, type) and get_origin(hint) is None:
        return hint.__name__
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return " | ".join(_name(arm) for arm in get_args(hint))
    return str(hint).replace("typing.", "").replace("meshcheck.", "")


def _of_items(hint: Any, kind: Any, item: Check) -> Check:
    """The check of a collection declared `hint` (`tuple[X, ...]`, `frozenset[X]`): a `kind`
    whose every item passes `item`."""

    def items(value: Any, where: Where) -> str | None:
        if not isinstance(value, kind):
            return _say(where, value, hint)
        for each in value:
            problem = item(each, where)
            if problem is not None:
                return problem
        return None

    return items
