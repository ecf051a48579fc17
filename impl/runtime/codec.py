"""One codec for everything a node puts on a wire or a disk: the cores' messages, their log entries
and client values, as JSON with tags.

A codec knows a closed set of classes (the attrs classes of the modules it is given) and refuses
everything else, both ways: a frame that names a class it does not know, a field the class does not
have, or a value of a type it has no tag for is a `CodecError`, never a guess. A Byzantine peer can
send any bytes; what it cannot do is make an honest node build an object of its choosing.

    JSON                         Python
    null, true, 1, 1.5, "s"      None, bool, int, float, str
    [a, b]                       list
    {"t": [a, b]}                tuple
    {"s": [a, b]}                frozenset
    {"d": [[k, v], ...]}         FrozenDict (impl/base/values.py)
    {"m": [[k, v], ...]}         dict
    {"b": "base64"}              bytes
    {"c": "module.Class",        an attrs instance: its init arguments, by name
     "f": {"name": value}}
    {"e": ["module.Enum", v]}    a member of an enum of the given modules, by its value

Why JSON and not a binary format: the standard library's encoder is C, frames stay readable in a
packet capture and a log, and no second library decides what a message is.
"""

from __future__ import annotations

import base64
import binascii
import enum
import importlib
import json
import pkgutil
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.values import FrozenDict


class CodecError(MeshcheckError):
    """A value the codec cannot encode, or bytes it refuses to decode."""


def _name(cls: type) -> str:
    return f"{cls.__module__.removeprefix('meshcheck.impl.')}.{cls.__qualname__}"


def classes_in(*packages: str) -> list[type]:
    """The attrs classes and the enums defined in the modules of `packages` (dotted names, each a
    package or a module), in a stable order."""
    found: dict[str, type] = {}
    for name in packages:
        module = importlib.import_module(name)
        modules: list[ModuleType] = [module]
        if hasattr(module, "__path__"):
            for info in pkgutil.walk_packages(module.__path__, f"{name}."):
                modules.append(importlib.import_module(info.name))
        for mod in modules:
            for value in vars(mod).values():
                if (
                    isinstance(value, type)
                    and (attrs.has(value) or issubclass(value, enum.Enum))
                    and value.__module__ == mod.__name__
                ):
                    found[_name(value)] = value
    return [found[k] for k in sorted(found)]


class Codec:
    """Encode and decode values of the given classes (and the plain values above)."""

    def __init__(self, classes: Iterable[type]) -> None:
        self._classes: dict[str, type] = {}
        self._fields: dict[type, tuple[tuple[str, str], ...]] = {}
        self._enums: dict[str, type[enum.Enum]] = {}
        for cls in classes:
            if isinstance(cls, type) and issubclass(cls, enum.Enum):
                self._enums[_name(cls)] = cls
                continue
            if not attrs.has(cls):
                raise CodecError(f"{cls.__qualname__} is not an attrs class")
            # a field its __init__ does not take is derived from the others (HotStuff's block
            # hash): it is not sent, and the receiver's constructor computes it again, so a
            # sender cannot pair a block with a hash of its choosing
            fields = [a for a in attrs.fields(cls) if a.init]
            self._classes[_name(cls)] = cls
            self._fields[cls] = tuple((a.name, a.alias or a.name) for a in fields)

    def knows(self, cls: type) -> bool:
        return cls in self._fields or cls in self._enums.values()

    # -- encoding -------------------------------------------------------------------------------------

    def encode(self, value: Any) -> bytes:
        """The bytes of `value` (CodecError for what this codec does not know)."""
        return json.dumps(self._out(value), separators=(",", ":"), allow_nan=False).encode()

    def _out(self, value: Any) -> Any:
        if isinstance(value, enum.Enum):  # before int and str: an IntEnum is an int
            if self._enums.get(_name(type(value))) is not type(value):
                raise CodecError(f"cannot encode a {type(value).__qualname__}: not a known enum")
            return {"e": [_name(type(value)), self._out(value.value)]}
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return value
        if isinstance(value, tuple):
            return {"t": [self._out(v) for v in value]}
        if isinstance(value, list):
            return [self._out(v) for v in value]
        if isinstance(value, frozenset):
            return {"s": [self._out(v) for v in sorted(value, key=repr)]}
        if isinstance(value, FrozenDict):
            return {"d": [[self._out(k), self._out(v)] for k, v in value.items()]}
        if isinstance(value, dict):
            return {"m": [[self._out(k), self._out(v)] for k, v in value.items()]}
        if isinstance(value, bytes):
            return {"b": base64.b64encode(value).decode("ascii")}
        fields = self._fields.get(type(value))
        if fields is None:
            raise CodecError(f"cannot encode a {type(value).__qualname__}: not a known class")
        return {
            "c": _name(type(value)),
            "f": {alias: self._out(getattr(value, name)) for name, alias in fields},
        }

    # -- decoding -------------------------------------------------------------------------------------

    def decode(self, data: bytes) -> Any:
        """The value `data` encodes (CodecError for anything but what `encode` makes)."""
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise CodecError(f"not a frame of this codec: {e}") from None
        try:
            return self._in(raw)
        except RecursionError:
            raise CodecError("a frame nested too deep") from None

    def decode_stamped(self, data: bytes) -> tuple[Any, Any] | None:
        """A message between members of a cluster, (the sender's clock, the message), as `data`
        encodes it; None when `data` is no frame of this codec or holds no such pair (the
        receiver counts it refused and reads on)."""
        try:
            stamped = self.decode(data)
        except CodecError:
            return None
        if not (isinstance(stamped, tuple) and len(stamped) == 2):
            return None
        return stamped[0], stamped[1]

    def _in(self, raw: Any) -> Any:
        if raw is None or isinstance(raw, bool | int | str | float):
            return raw
        if isinstance(raw, list):
            return [self._in(v) for v in raw]
        if not isinstance(raw, dict) or len(raw) not in (1, 2):
            raise CodecError(f"a frame holds an object with keys {sorted(raw)}")
        if len(raw) == 2:
            return self._instance(raw)
        ((tag, body),) = raw.items()
        if tag == "t" and isinstance(body, list):
            return tuple(self._in(v) for v in body)
        if tag == "s" and isinstance(body, list):
            return frozenset(self._hashable(self._in(v)) for v in body)
        if tag in ("d", "m") and isinstance(body, list):
            pairs = [self._pair(p) for p in body]
            return FrozenDict(pairs) if tag == "d" else dict(pairs)
        if tag == "e" and isinstance(body, list) and len(body) == 2:
            cls = self._enums.get(body[0]) if isinstance(body[0], str) else None
            if cls is None:
                raise CodecError(f"a frame names an unknown enum {body[0]!r}")
            try:
                return cls(self._in(body[1]))
            except (ValueError, TypeError):
                raise CodecError(f"{body[1]!r} is not a value of {body[0]}") from None
        if tag == "b" and isinstance(body, str):
            try:
                return base64.b64decode(body, validate=True)
            except binascii.Error:
                raise CodecError("bytes that are not base64") from None
        raise CodecError(f"a frame holds an unknown tag {tag!r}")

    def _pair(self, raw: Any) -> tuple[Any, Any]:
        if not isinstance(raw, list) or len(raw) != 2:
            raise CodecError("a mapping's item is not a [key, value] pair")
        return self._hashable(self._in(raw[0])), self._in(raw[1])

    @staticmethod
    def _hashable(value: Any) -> Any:
        try:
            hash(value)
        except TypeError:
            raise CodecError(f"a set member or key that cannot be hashed: {value!r}") from None
        return value

    def _instance(self, raw: dict[str, Any]) -> Any:
        name, fields = raw.get("c"), raw.get("f")
        if not isinstance(name, str) or not isinstance(fields, dict):
            raise CodecError(f"a frame holds an object with keys {sorted(raw)}")
        cls = self._classes.get(name)
        if cls is None:
            raise CodecError(f"a frame names an unknown class {name!r}")
        aliases = {alias for _, alias in self._fields[cls]}
        if set(fields) != aliases:
            raise CodecError(
                f"a {name} frame has fields {sorted(fields)}, the class {sorted(aliases)}"
            )
        try:
            return cls(**{k: self._in(v) for k, v in fields.items()})
        except (TypeError, ValueError, MeshcheckError) as e:
            raise CodecError(f"a {name} frame its class refuses: {e}") from None
