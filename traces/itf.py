"""Traces in and out of ITF, the Informal Trace Format of Apalache and Quint (Apalache ADR-015).

The document is a JSON object: `#meta` (optional object), `params` (optional list of constant names),
`vars` (list of variable names), `states` (list of objects mapping every variable to a value, each with
an optional `#meta`) and `loop` (optional index of the state a lasso returns to).

Values, Python side as in `impl.base.values`:

    ITF                                  Python
    true / false                         bool
    123, {"#bigint": "-123"}             int (written as #bigint beyond +-(2^53-1), JSON's exact range)
    "text"                               str
    [a, b], {"#tup": [a, b]}             tuple (written as a JSON array)
    {"#set": [a, b]}                     frozenset
    {"f": 1, "g": 2}                     FrozenDict (written so when every key is a str without "#")
    {"#map": [[k, v], ...]}              FrozenDict (any other keys)
    {"#unserializable": "Nat"}           Unserializable("Nat") (a value no tool could write out)

A value read from `{"#tup": [...]}` is a `Tup`, one read from `{"#map": [...]}` a `Map` and one from
`{"#bigint": "..."}` a `BigInt` (a tuple, a FrozenDict and an int that compare, hash and display as
any other): writing a trace that was read keeps the encodings its writer chose (Quint writes every
map as `#map`, every integer as `#bigint`, the unit value as `#tup`).

`#meta`, at the top and in each state, may hold any JSON (ADR-015 leaves it to the writer: Quint
writes a timestamp, Apalache a description, other tools durations in seconds, null, objects). A
value there that is not an ITF value (1.5, null, an object with keys ITF does not define) is kept
as `Json`, its JSON text, shown and written back as it was.

What meshcheck keeps where:

- the action that led to a state, in that state's `#meta`: {"action": "Incr", "params": {...}, plus every
  other `Step.meta` key (faults, event, node)}. The first state is labelled "Init". A later state without
  an action (traces from Apalache or Quint) reads as `action == "Init"`, meshcheck's mark for an
  unlabelled step (the replayer then looks for any action of the spec that leads there; the views
  label it by traces/labels.py), and is written back without one. `action` must be a name and
  `params` an object when present: meshcheck reads them.
- `Trace.meta` in the top-level `#meta`, after "format": "ITF" and "format-description" (which reading
  drops again when they have those standard values: they describe the file, not the trace).
- `Trace.meta["constants"]` (a FrozenDict of name to value) as ITF's `params`: the names in `params`,
  the values in the first state, as ADR-015 puts them.
- `Trace.loop` in `loop`.

Layout of the text (`dumps`): one JSON key per line down to the variables of each state, each value
compact on its line. A diff of two traces then names the state and the variable that differ, and the
same trace always gives the same bytes: sets, maps, records and meta keys are written in one canonical
order (`sort_key`, `ordered`), never in Python's hash-dependent iteration order. The text is ASCII (non-ASCII
characters escaped), so any tool reads it whatever its default encoding.

Reading is strict: every problem is a `TraceFormatError` naming the file and a path into the document
(`states[3].log[2]`, `states[3].msgs.#set[0].mterm`, `vars[1]`, `loop`).
"""

from __future__ import annotations

import heapq
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.errors import TraceFormatError
from meshcheck.impl.base.text import not_a_value
from meshcheck.impl.base.text import ordered
from meshcheck.impl.base.text import sort_key
from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Json
from meshcheck.impl.base.values import Unserializable
from meshcheck.impl.base.values import Value

FORMAT = "ITF"
FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
# RFC 7159's exact integer range, the one ADR-015 allows plain JSON numbers in
MAX_JSON_INT = 2**53 - 1
CONSTANTS = "constants"  # the key of Trace.meta that ITF's `params` maps to

_TAGS = ("#bigint", "#map", "#set", "#tup", "#unserializable")
_TOP_KEYS = ("#meta", "params", "vars", "states", "loop")
_BIGINT = re.compile(r"-?[0-9]+")


class BigInt(int):
    """An integer read from ITF's `{"#bigint": "..."}`: written back so, whatever its size."""

    __slots__ = ()


class Tup(tuple):  # type: ignore[type-arg]
    """A tuple read from ITF's `{"#tup": [...]}`: written back so."""

    __slots__ = ()


class Map(FrozenDict):
    """A function read from ITF's `{"#map": [...]}`: written back so, whatever its keys."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (Map, (dict(self),))


# ---------------------------------------------------------------------------------------------------
# Values


def encode_value(v: Value) -> Any:
    """The ITF (JSON-ready) form of a value; TypeError for anything outside the value domain."""
    t = type(v)  # exact types first (the common case), subclasses through isinstance below
    if t is str or t is bool:
        return v
    if t is int:
        return v if -MAX_JSON_INT <= v <= MAX_JSON_INT else {"#bigint": str(v)}
    if t is FrozenDict:
        return _encode_function(v)
    if t is frozenset:
        return {"#set": [encode_value(x) for x in ordered(v)]}
    if t is tuple:
        return [encode_value(x) for x in v]
    if t is Map:
        return {"#map": [[encode_value(k), encode_value(v[k])] for k in ordered(v)]}
    if t is Tup:
        return {"#tup": [encode_value(x) for x in v]}
    if t is BigInt:
        return {"#bigint": str(int(v))}
    if isinstance(v, bool | str):
        return v
    if isinstance(v, int):
        return encode_value(int(v))
    if isinstance(v, tuple):
        return [encode_value(x) for x in v]
    if isinstance(v, frozenset):
        return {"#set": [encode_value(x) for x in ordered(v)]}
    if isinstance(v, FrozenDict):
        return _encode_function(v)
    if isinstance(v, Unserializable):
        return {"#unserializable": v.text}
    if isinstance(v, Json):
        return v.value()
    raise TypeError(not_a_value(v))


def _encode_function(v: FrozenDict) -> Any:
    if all(type(k) is str and k[:1] != "#" for k in v):  # a record
        return {k: encode_value(v[k]) for k in sorted(v)}
    keys = ordered(v)
    return {"#map": [[encode_value(k), encode_value(v[k])] for k in keys]}


# A place in the document, built lazily: a string, or (parent place, key or index). Decoding makes one
# per value; rendering it as `states[3].log[2]` happens only for an error (measured: a third of the
# time of reading a 3.6 MB trace went into formatting places eagerly).
_Where = str | tuple["_Where", str | int]


def _path(where: _Where) -> str:
    parts: list[str | int] = []
    while isinstance(where, tuple):
        where, part = where
        parts.append(part)
    out = where
    for part in reversed(parts):
        out = f"{out}[{part}]" if isinstance(part, int) else f"{out}.{part}" if out else part
    return out


def _at(where: _Where, part: str | int) -> _Where:
    return (where, part)


class _Bad(Exception):
    """A problem at a place in the document; `loads` adds the file's name."""

    def __init__(self, where: _Where, problem: str) -> None:
        self.where = _path(where)
        self.problem = problem
        super().__init__(self.where, problem)


class _Repeated(dict[str, Any]):
    """A JSON object in which some key appeared twice (json would keep the last one silently)."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[str, Any]], duplicates: list[str]) -> None:
        super().__init__(pairs)
        self.duplicates = duplicates


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) == len(pairs):
        return d
    seen: set[str] = set()
    duplicates = []
    for k, _ in pairs:
        if k in seen:
            duplicates.append(k)
        seen.add(k)
    return _Repeated(pairs, duplicates)


@attrs.frozen
class _NonFinite:
    """NaN or Infinity, which Python's json accepts but JSON does not."""

    name: str


def json_kind(j: Any, *, number: str = "a number") -> str:
    """What a parsed JSON value is, as an error message says what it found: "null", "a boolean",
    ..., "an object"; `number` for a number that is no integer (NaN and Infinity included)."""
    kinds = (
        (type(None), "null"),
        (bool, "a boolean"),
        (int, "an integer"),
        (float | _NonFinite, number),
        (str, "a string"),
        (list, "an array"),
    )
    return next((name for t, name in kinds if isinstance(j, t)), "an object")


def _kind(j: Any) -> str:
    return json_kind(j, number="a non-integer number")


def _check_object(j: Mapping[str, Any], where: _Where) -> None:
    if type(j) is _Repeated:
        raise _Bad(where, f"key {j.duplicates[0]!r} appears twice")


def _decode(j: Any, where: _Where) -> Value:
    t = type(j)  # json.loads makes exactly these types: dispatch on identity, most frequent first
    if t is str or t is bool:
        return j
    if t is int:
        if not -MAX_JSON_INT <= j <= MAX_JSON_INT:
            raise _Bad(
                where,
                f"integer {j} is beyond JSON's exact range +-(2^53-1): "
                f'write it as {{"#bigint": "{j}"}}',
            )
        return j
    if t is dict or t is _Repeated:
        return _decode_object(j, where)
    if t is list:
        return tuple([_decode(x, (where, i)) for i, x in enumerate(j)])
    if t is float:
        raise _Bad(where, f"number {j!r} is not an integer (ITF has no fractions or exponents)")
    if t is _NonFinite:
        raise _Bad(where, f"{j.name} is not a JSON number and not an ITF value")
    raise _Bad(where, f"{_kind(j)} is not an ITF value")


def _decode_object(j: dict[str, Any], where: _Where) -> Value:
    _check_object(j, where)
    tags = [k for k in j if k[:1] == "#"]
    if not tags:  # a record
        return FrozenDict({k: _decode(v, (where, k)) for k, v in j.items()})
    for tag in tags:
        if tag not in _TAGS:
            raise _Bad(where, f"unknown key {tag!r} (ITF knows {', '.join(_TAGS)})")
    if len(j) != 1:
        others = ", ".join(repr(k) for k in j if k != tags[0])
        raise _Bad(where, f"{tags[0]!r} must be the only key of its object, found also {others}")
    tag = tags[0]
    payload = j[tag]
    inner = (where, tag)
    if tag == "#bigint":
        if not isinstance(payload, str) or not _BIGINT.fullmatch(payload):
            shown = json.dumps(payload) if not isinstance(payload, _NonFinite) else payload.name
            raise _Bad(
                inner, f"must be a string of decimal digits with an optional '-', found {shown}"
            )
        try:
            return BigInt(payload)
        except ValueError:  # beyond Python's limit on digits converted (sys.set_int_max_str_digits)
            raise _Bad(inner, f"integer of {len(payload)} digits is too long to read") from None
    if tag == "#unserializable":
        if not isinstance(payload, str):
            raise _Bad(inner, f"must be a string describing the value, found {_kind(payload)}")
        return Unserializable(payload)
    if type(payload) is not list:
        raise _Bad(inner, f"must be an array, found {_kind(payload)}")
    if tag == "#tup":
        return Tup([_decode(x, (inner, i)) for i, x in enumerate(payload)])
    if tag == "#set":
        return frozenset([_decode(x, (inner, i)) for i, x in enumerate(payload)])
    items: dict[Value, Value] = {}  # "#map"
    for i, pair in enumerate(payload):
        at = (inner, i)
        if type(pair) is not list or len(pair) != 2:
            found = f"an array of {len(pair)}" if isinstance(pair, list) else _kind(pair)
            raise _Bad(at, f"must be a [key, value] pair, found {found}")
        key = _decode(pair[0], (at, 0))
        if key in items:
            raise _Bad(at, "the same key appears twice in this map")
        items[key] = _decode(pair[1], (at, 1))
    return Map(items)


def decode_value(j: Any, *, where: str = "") -> Value:
    """The value an ITF (parsed JSON) expression stands for; TraceFormatError if it is not one."""
    try:
        return _decode(j, where)
    except _Bad as bad:
        raise TraceFormatError("<value>", bad.where, bad.problem) from None


# ---------------------------------------------------------------------------------------------------
# Writing


def _text(j: Any) -> str:
    return json.dumps(j, ensure_ascii=True, allow_nan=False, separators=(", ", ": "))


_quote = json.encoder.encode_basestring_ascii  # how json.dumps(ensure_ascii=True) writes a str


class _Writer:
    """The compact JSON text of values, `_text(encode_value(v))` byte for byte, each distinct
    container written once: a trace's consecutive states share the objects of what did not change
    (a variable, one node's log in a function of nodes, the records of the messages bag), so the
    text of a container is kept by its `id` and reused. The memo holds the object too, so that no
    id is reused while it is alive. Writing a trace is then linear in the text it writes (measured
    in bench/bench_trace.py: a 1,100-step Raft trace went from 12.6 s to under a second).
    """

    __slots__ = ("_keys", "_last", "_memo", "_order", "_prev")

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Value, str]] = {}
        self._keys: dict[int, tuple[Value, tuple[Any, ...]]] = {}  # `sort_key`, by id likewise
        self._order: dict[int, tuple[Value, list[Value]]] = {}  # a set's or map's sorted elements
        self._last: dict[str, Value] = {}  # per variable, its value in the state written last
        self._prev: Value | None = None  # while writing a variable: its value in the state before

    def variable(self, name: str, v: Value) -> str:
        """The text of variable `name`'s value `v`, the next state's after the last one written: a
        set or map that changed a little from the state before is put in order by merging what it
        gained into its old order, not sorted again (the messages bag of a long run holds
        hundreds of records, and gains or loses one or two per step)."""
        hit = self._memo.get(id(v))
        if hit is not None:
            self._last[name] = v
            return hit[1]
        self._prev = self._last.get(name)
        self._last[name] = v
        try:
            return self.text(v)
        finally:
            self._prev = None

    def _ordered(self, v: frozenset[Value] | FrozenDict) -> list[Value]:
        """`ordered(v)` (its elements, or its keys), with the sort keys of containers memoised."""
        prev, self._prev = self._prev, None  # only the variable's own value, not its parts
        items = list(v)
        kinds = {type(x) for x in items}
        if kinds == {str} or kinds == {int}:
            return sorted(items)
        before = self._order.get(id(prev))
        if before is not None:  # by identity, not equality: 1 == True, and a Tup equals a tuple
            present = {id(x) for x in items}
            kept = [x for x in before[1] if id(x) in present]
            had = {id(x) for x in before[1]}
            added = sorted([x for x in items if id(x) not in had], key=self._key)
            out = list(heapq.merge(kept, added, key=self._key)) if added else kept
        else:
            out = sorted(items, key=self._key)
        self._order[id(v)] = (v, out)
        return out

    def _key(self, v: Value) -> tuple[Any, ...]:
        t = type(v)
        if t is str:
            return (2, v)
        if t is int:
            return (1, v)
        if t is bool:
            return (0, int(v))
        hit = self._keys.get(id(v))
        if hit is not None:
            return hit[1]
        key = self._key
        out: tuple[Any, ...]
        if isinstance(v, tuple):
            out = (3, tuple([key(x) for x in v]))
        elif isinstance(v, frozenset):
            out = (4, tuple(sorted([key(x) for x in v])))
        elif isinstance(v, FrozenDict):
            out = (5, tuple(sorted([(key(k), key(x)) for k, x in v.items()])))
        else:
            out = sort_key(v)
        self._keys[id(v)] = (v, out)
        return out

    def text(self, v: Value) -> str:
        t = type(v)
        if t is str:
            return _quote(v)
        if t is int:
            return int.__repr__(v) if -MAX_JSON_INT <= v <= MAX_JSON_INT else self._big(v)
        if t is bool:
            return "true" if v else "false"
        hit = self._memo.get(id(v))
        if hit is not None:
            return hit[1]
        out = self._container(v)
        self._memo[id(v)] = (v, out)
        return out

    def _big(self, v: int) -> str:
        return '{"#bigint": ' + _quote(str(int(v))) + "}"

    def _container(self, v: Value) -> str:
        t = type(v)
        text = self.text
        if t is FrozenDict or (t is not Map and isinstance(v, FrozenDict)):
            if all(type(k) is str and k[:1] != "#" for k in v):  # a record
                return "{" + ", ".join([_quote(k) + ": " + text(v[k]) for k in sorted(v)]) + "}"
            return self._pairs(v)
        if t is tuple:
            return "[" + ", ".join([text(x) for x in v]) + "]"
        if t is frozenset:
            return '{"#set": [' + ", ".join([text(x) for x in self._ordered(v)]) + "]}"
        if t is Map:
            return self._pairs(v)
        if t is Tup:
            return '{"#tup": [' + ", ".join([text(x) for x in v]) + "]}"
        if t is BigInt:
            return self._big(v)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return _quote(v)
        if isinstance(v, int):
            return self.text(int(v))
        if isinstance(v, tuple):
            return "[" + ", ".join([text(x) for x in v]) + "]"
        if isinstance(v, frozenset):
            return '{"#set": [' + ", ".join([text(x) for x in self._ordered(v)]) + "]}"
        if isinstance(v, Unserializable):
            return '{"#unserializable": ' + _quote(v.text) + "}"
        if isinstance(v, Json):
            return _text(v.value())
        raise TypeError(not_a_value(v))

    def _pairs(self, v: FrozenDict) -> str:
        text = self.text
        pairs = ", ".join(["[" + text(k) + ", " + text(v[k]) + "]" for k in self._ordered(v)])
        return '{"#map": [' + pairs + "]}"


def _name_ok(name: object) -> bool:
    return isinstance(name, str) and bool(name) and not name.startswith("#")


def _constants(trace: Trace) -> FrozenDict | None:
    """Trace.meta["constants"] when ITF's `params` can carry it (names that no variable shadows)."""
    c = trace.meta.get(CONSTANTS)
    if not isinstance(c, FrozenDict) or not c:
        return None
    if not all(_name_ok(k) and k not in trace.vars for k in c):
        return None  # stays in #meta, where it also round-trips
    return c


def _state_meta(i: int, step: Step) -> dict[str, Any]:
    for key in ("action", "params"):
        if key in step.meta:
            raise ValueError(f"step {i}: Step.meta must not hold {key!r}: it is a field of Step")
    meta: dict[str, Any] = {}
    if i == 0 or step.action != INIT:  # a later step labelled Init is unlabelled: no action written
        meta["action"] = step.action
    if step.params:
        bad = [k for k in step.params if not _name_ok(k)]
        if bad:
            raise ValueError(
                f"step {i}: parameter names must be non-empty str without '#': {bad!r}"
            )
        meta["params"] = {k: encode_value(step.params[k]) for k in sorted(step.params)}
    for key in sorted(step.meta, key=sort_key):
        if not isinstance(key, str):
            raise ValueError(f"step {i}: Step.meta keys must be str, found {key!r}")
        meta[key] = encode_value(step.meta[key])
    return meta


def dumps(trace: Trace) -> str:
    """The ITF text of a trace: deterministic bytes, one line per top-level key and per variable."""
    for name in trace.vars:
        if not _name_ok(name):
            raise ValueError(f"variable names must be non-empty str without '#': {name!r}")
    constants = _constants(trace)
    top_meta: dict[str, Any] = {"format": FORMAT, "format-description": FORMAT_DESCRIPTION}
    for key in sorted(trace.meta, key=sort_key):
        if not isinstance(key, str):
            raise ValueError(f"Trace.meta keys must be str, found {key!r}")
        if key == CONSTANTS and constants is not None:
            continue
        top_meta[key] = encode_value(trace.meta[key])

    fields = [f'  "#meta": {_text(top_meta)}']
    if constants is not None:
        fields.append(f'  "params": {_text(sorted(constants))}')
    fields.append(f'  "vars": {_text(list(trace.vars))}')
    states = []
    writer = _Writer()
    text, variable = writer.text, writer.variable
    names = [(v, f"      {_quote(v)}: ") for v in trace.vars]
    for i, step in enumerate(trace.steps):
        missing = [v for v in trace.vars if v not in step.state]
        extra = [v for v in step.state if v not in trace.vars]
        if missing or extra:
            raise ValueError(f"step {i}: missing variables {missing}, undeclared {extra}")
        lines = [f'      "#meta": {_text(_state_meta(i, step))}']
        if i == 0 and constants is not None:
            lines += [f"      {_quote(k)}: {text(constants[k])}" for k in sorted(constants)]
        state = step.state
        lines += [prefix + variable(v, state[v]) for v, prefix in names]
        states.append("    {\n" + ",\n".join(lines) + "\n    }")
    fields.append('  "states": [\n' + ",\n".join(states) + "\n  ]" if states else '  "states": []')
    if trace.loop is not None:
        fields.append(f'  "loop": {trace.loop}')
    return "{\n" + ",\n".join(fields) + "\n}\n"


def write(trace: Trace, path: str | Path) -> Path:
    """Write the trace to `path` (creating its folders); the file appears whole or not at all."""
    path = Path(path)
    text = dumps(trace)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="ascii")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------------------------------
# Reading


def _parse(text: str) -> Any:
    if not text.strip():
        raise _Bad("", "empty file: expected an ITF trace (a JSON object)")
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_NonFinite)
    except json.JSONDecodeError as err:
        at = f"line {err.lineno}, column {err.colno}"
        ends_early = err.pos >= len(text.rstrip()) or err.msg.startswith("Unterminated string")
        if ends_early and err.msg != "Extra data":
            raise _Bad(
                "", f"truncated: the JSON text ends before the document is complete ({at})"
            ) from None
        raise _Bad("", f"not JSON: {err.msg} ({at})") from None
    except RecursionError:
        raise _Bad("", "not readable: the JSON nests too deeply") from None


class _Shared:
    """Decoding that reuses the value of a JSON array or object met before (the same object)."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Any, Value]] = {}

    def decode(self, j: Any, where: _Where) -> Value:
        t = type(j)
        if t is not dict and t is not list and t is not _Repeated:
            return _decode(j, where)
        hit = self._memo.get(id(j))
        if hit is not None:
            return hit[1]
        v = _decode(j, where)
        self._memo[id(j)] = (j, v)
        return v


# A variable's line in a state, as `dumps` writes it: its name, its value, the comma after it.
_VARIABLE_LINE = re.compile(r'^      ("(?:[^"\\\n]|\\.)*"): (.+)$', re.MULTILINE)
_MARK = "\x00"  # starts the strings that stand for a variable's value in the skeleton below


def _parse_states_shared(text: str) -> Any:
    """The document parsed with each state variable's value text parsed once however many states
    repeat it (the same JSON object in each), so that decoding it (`_Shared`) happens once too; or
    None when the text is not in `dumps`' layout, and `_parse` reads it as any JSON.

    A trace repeats most of its state from one step to the next: a 1,100-step Raft trace is 89 MB of
    text of which a few MB are distinct. Each variable line's value is replaced by a string naming
    its text (a NUL and a number: a string that no ITF text holds when it has no escaped NUL), the
    rest parsed as JSON, and each string put back by its parsed value. The result is used only when
    every such string was found as the value of a key of a state, so a line of another layout that
    happens to look like a variable's is never read wrongly; whatever does not parse here (a
    malformed text) is left to `_parse`, which reports it.
    """
    if "\\u0000" in text or _MARK in text:
        return None
    texts: list[str] = []

    def mark(m: re.Match[str]) -> str:
        if m.group(1).startswith('"#'):
            return m.group(0)
        value = m.group(2)  # and its comma, if one follows: no JSON value ends with one
        comma = "," if value[-1:] == "," else ""
        texts.append(value[:-1] if comma else value)
        return f'      {m.group(1)}: "\\u0000{len(texts) - 1}"{comma}'

    skeleton = _VARIABLE_LINE.sub(mark, text)
    if not texts:
        return None
    hooks: dict[str, Any] = {"object_pairs_hook": _object, "parse_constant": _NonFinite}
    try:
        parsed = {t: json.loads(t, **hooks) for t in set(texts)}
        doc = json.loads(skeleton, **hooks)
    except (json.JSONDecodeError, RecursionError):
        return None
    states = doc.get("states") if type(doc) is dict else None
    if type(states) is not list:
        return None
    found = 0
    for state in states:
        if type(state) is not dict:
            continue
        for key, value in state.items():
            if type(value) is str and value[:1] == _MARK:
                state[key] = parsed[texts[int(value[1:])]]
                found += 1
    return doc if found == len(texts) else None


def _names(j: Any, where: str, what: str) -> tuple[str, ...]:
    if not isinstance(j, list):
        raise _Bad(where, f"must be an array of {what} names, found {_kind(j)}")
    seen: set[str] = set()
    for i, name in enumerate(j):
        if not isinstance(name, str) or not name:
            raise _Bad(
                _at(where, i), f"must be a {what} name (a non-empty string), found {_kind(name)}"
            )
        if name.startswith("#"):
            raise _Bad(_at(where, i), f"{what} name {name!r} must not start with '#'")
        if name in seen:
            raise _Bad(_at(where, i), f"{what} {name!r} is listed twice")
        seen.add(name)
    return tuple(j)


def _meta_object(j: Any, where: _Where) -> dict[str, Value]:
    if not isinstance(j, dict):
        raise _Bad(where, f"must be an object, found {_kind(j)}")
    _check_object(j, where)
    return {k: _meta_value(v, _at(where, k)) for k, v in j.items()}


def _meta_value(j: Any, where: _Where) -> Value:
    """A `#meta` entry: its ITF value when it is one, else its JSON kept as `Json`."""
    try:
        return _decode(j, where)
    except _Bad:
        _check_json(j, where)
        return Json(json.dumps(j, sort_keys=True, ensure_ascii=True, allow_nan=False))


def _check_json(j: Any, where: _Where) -> None:
    """Only JSON: no NaN or Infinity, no key twice (Python's json reads both)."""
    if isinstance(j, _NonFinite):
        raise _Bad(where, f"{j.name} is not a JSON number")
    if isinstance(j, dict):
        _check_object(j, where)
        for k, v in j.items():
            _check_json(v, _at(where, k))
    elif isinstance(j, list):
        for i, v in enumerate(j):
            _check_json(v, _at(where, i))


def _step(
    j: Any, i: int, vars: tuple[str, ...], params: tuple[str, ...], shared: _Shared
) -> tuple[Step, dict[str, Value]]:
    where = f"states[{i}]"
    if not isinstance(j, dict):
        raise _Bad(where, f"must be an object mapping variables to values, found {_kind(j)}")
    _check_object(j, where)
    missing = [v for v in vars if v not in j]
    if missing:
        raise _Bad(where, f"missing variable{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    for key in j:
        if key != "#meta" and key not in vars and key not in params:
            raise _Bad(where, f"holds {key!r}, which is not declared in vars ({', '.join(vars)})")
    state = FrozenDict((v, shared.decode(j[v], _at(where, v))) for v in vars)
    constants = {p: shared.decode(j[p], _at(where, p)) for p in params if p in j}
    raw = j.get("#meta", {})
    action = raw.get("action", INIT) if isinstance(raw, dict) else INIT
    if not isinstance(action, str) or not action:
        found = "an empty string" if action == "" else _kind(action)
        raise _Bad(
            _at(where, "#meta.action"), f"must be the action's name (a string), found {found}"
        )
    meta = _meta_object(raw, _at(where, "#meta"))
    meta.pop("action", None)
    step_params = meta.pop("params", FrozenDict())
    if not isinstance(step_params, FrozenDict) or not all(isinstance(k, str) for k in step_params):
        raise _Bad(_at(where, "#meta.params"), "must be an object of parameter name to value")
    return Step(state=state, action=action, params=step_params, meta=FrozenDict(meta)), constants


def _trace(doc: Any) -> Trace:
    shared = _Shared()
    if not isinstance(doc, dict):
        raise _Bad("", f"not an ITF trace: the document is {_kind(doc)}, not an object")
    _check_object(doc, "")
    for key in doc:
        if key not in _TOP_KEYS:
            raise _Bad(key, f"unknown key (an ITF trace has {', '.join(_TOP_KEYS)})")
    for key in ("vars", "states"):
        if key not in doc:
            raise _Bad(key, "missing: an ITF trace needs 'vars' (variable names) and 'states'")
    vars = _names(doc["vars"], "vars", "variable")
    params = _names(doc.get("params", []), "params", "parameter")
    for i, p in enumerate(params):
        if p in vars:
            raise _Bad(f"params[{i}]", f"{p!r} is declared both as a parameter and as a variable")
    meta = _meta_object(doc.get("#meta", {}), "#meta")
    if meta.get("format") == FORMAT:
        del meta["format"]
    if meta.get("format-description") == FORMAT_DESCRIPTION:
        del meta["format-description"]

    states = doc["states"]
    if not isinstance(states, list):
        raise _Bad("states", f"must be an array of states, found {_kind(states)}")
    if not states:
        raise _Bad("states", "empty: a trace has at least its initial state")
    steps = []
    constants: dict[str, Value] = {}
    for i, j in enumerate(states):
        step, values = _step(j, i, vars, params, shared)
        if i == 0:
            missing = [p for p in params if p not in values]
            if missing:
                raise _Bad("states[0]", f"missing parameter {missing[0]!r} (declared in params)")
            constants = values
        for p, value in values.items():
            if value != constants[p]:
                raise _Bad(
                    _at(f"states[{i}]", p), f"parameter {p!r} differs from its value in states[0]"
                )
        steps.append(step)
    if params:
        if CONSTANTS in meta:
            raise _Bad(f"#meta.{CONSTANTS}", "clashes with 'params', which meshcheck reads into it")
        meta[CONSTANTS] = FrozenDict(constants)

    loop = doc.get("loop")
    if loop is not None and (
        isinstance(loop, bool) or not isinstance(loop, int) or not 0 <= loop < len(steps)
    ):
        shown = str(loop) if isinstance(loop, int) and not isinstance(loop, bool) else _kind(loop)
        raise _Bad("loop", f"must be a state index from 0 to {len(steps) - 1}, found {shown}")
    return Trace(vars=vars, steps=tuple(steps), loop=loop, meta=FrozenDict(meta))


def loads(text: str, *, path: str = "<string>") -> Trace:
    """The trace an ITF text holds; TraceFormatError(path, where, problem) for any malformed input."""
    try:
        return _trace(_parse_states_shared(text) or _parse(text))
    except _Bad as bad:
        raise TraceFormatError(path, bad.where, bad.problem) from None


def read_meta(path: str | Path) -> Mapping[str, Any]:
    """The top-level `#meta` of an ITF file as JSON, for a caller that only sorts traces by it
    (`meshcheck verify` lists every stored trace, 22 MB of them, before it replays each, which
    reads the file whole again): orjson's parse alone, about a sixth of `read`'s time. A file
    whose `#meta` is not a JSON object there (or that is not JSON) is read by `read`, which
    names what is wrong (TraceFormatError). The states are not checked here."""
    import orjson

    try:
        doc = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        doc = None
    meta = doc.get("#meta", {}) if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return read(path).meta
    return meta


def read(path: str | Path) -> Trace:
    """The trace in an ITF file."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise TraceFormatError(name, "", f"cannot read: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise TraceFormatError(name, "", f"not UTF-8 text (byte {err.start})") from None
    return loads(text, path=name)
