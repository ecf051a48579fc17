"""What crosses the pipe (docs/driver-protocol.md): two kinds of values and one record.

- Spec values (a node's `state`, a step's parameters, a message's spec record) are ITF values
  (Apalache ADR-015, meshcheck/traces/itf.py): records as JSON objects, sequences as arrays, sets
  as `{"#set": [...]}`, tuples as `{"#tup": [...]}`, functions with other keys as
  `{"#map": [[k, v], ...]}`, big integers as `{"#bigint": "..."}`. They are compared with the spec,
  so a set must stay a set.
- Opaque values (the implementation's messages and durable writes, the clients' values and
  results) are any JSON. meshcheck never looks inside a message or a write: it holds them
  (`hold`: arrays as tuples, objects as FrozenDicts, so they can sit in the simulated network's
  bags and on its disk) and hands them back exactly (`release`).
- What a node did in one step (`Collected`): `collected_to_json` and `collected_from_json`, the
  field names of docs/driver-protocol.md.

A malformed field from a driver is a `WireError` naming it, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.adapters.contract import Collected
from meshcheck.impl.adapters.contract import SpecStep
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.traces.itf import decode_value
from meshcheck.traces.itf import encode_value

PROTOCOL = 1  # the version of docs/driver-protocol.md this code speaks


class WireError(MeshcheckError):
    """A line of the protocol that does not say what docs/driver-protocol.md says it must."""


def hold(j: Any) -> Any:
    """JSON as a hashable value: arrays as tuples, objects as FrozenDicts, the rest as it is."""
    if isinstance(j, list):
        return tuple(hold(x) for x in j)
    if isinstance(j, dict):
        return FrozenDict({k: hold(v) for k, v in j.items()})
    return j


def release(v: Any) -> Any:
    """`hold`'s inverse: the JSON a held value was (WireError for anything JSON cannot carry)."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, tuple | list):
        return [release(x) for x in v]
    if isinstance(v, Mapping):
        if not all(isinstance(k, str) for k in v):
            raise WireError(f"an object with keys that are not strings: {v!r}")
        return {k: release(x) for k, x in v.items()}
    raise WireError(f"{type(v).__name__} is not JSON: {v!r}")


@attrs.frozen
class Opaque:
    """A durable value a driver wrote (a `put`'s value, a `splice`'s item), held. The wrapper tells
    a put of an array from a spliced key on the way back (`persisted_to_json`)."""

    json: Any


def persisted_to_json(persisted: Mapping[str, Any]) -> dict[str, Any]:
    """The simulated disk's content for `boot`: a put key as `{"value": v}`, a spliced key as
    `{"items": [v, ...]}`."""
    out: dict[str, Any] = {}
    for key, value in persisted.items():
        if isinstance(value, Opaque):
            out[key] = {"value": release(value.json)}
        elif isinstance(value, tuple | list) and all(isinstance(x, Opaque) for x in value):
            out[key] = {"items": [release(x.json) for x in value]}
        else:
            raise WireError(f"persisted {key!r}: not written by a driver ({type(value).__name__})")
    return out


# -- reading a driver's answer --------------------------------------------------------------------


def field(obj: Any, key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    """`obj[key]`, of JSON type `kind`; WireError naming `where.key` when it is missing or not."""
    if not isinstance(obj, dict):
        raise WireError(f"{where}: expected an object, got {_kind(obj)}")
    if key not in obj:
        if default is not ...:
            return default
        raise WireError(f"{where}.{key}: missing")
    value = obj[key]
    if isinstance(value, bool) and kind is int:
        raise WireError(f"{where}.{key}: expected a whole number, got a boolean")
    if not isinstance(value, kind):
        raise WireError(f"{where}.{key}: expected {_name(kind)}, got {_kind(value)}")
    return value


def _name(kind: type | tuple[type, ...]) -> str:
    names = {
        int: "a whole number",
        str: "a string",
        bool: "true or false",
        list: "an array",
        dict: "an object",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "an array" if isinstance(value, list) else "an object"
    )


def spec_value(j: Any, where: str) -> Value:
    try:
        return decode_value(j, where=where)
    except MeshcheckError as exc:
        raise WireError(f"{where}: not an ITF value ({exc})") from None


def collected_from_json(
    done: Any, records: Callable[[Any, Value], None], where: str = "done"
) -> Collected:
    """A driver's `done` object as what the node did; each send's spec record (`record`, when the
    driver gives one) handed to `records(held message, record)`."""
    if not isinstance(done, dict):
        raise WireError(f"{where}: expected an object, got {_kind(done)}")
    writes: list[Write] = []
    for k, w in enumerate(field(done, "writes", list, where, [])):
        at = f"{where}.writes[{k}]"
        if isinstance(w, dict) and "put" in w:
            writes.append(
                Put(field(w, "put", str, at), Opaque(hold(field(w, "value", object, at))))
            )
        elif isinstance(w, dict) and "splice" in w:
            items = field(w, "items", list, at)
            start = field(w, "start", int, at)
            writes.append(
                Splice(field(w, "splice", str, at), start, tuple(Opaque(hold(x)) for x in items))
            )
        else:
            raise WireError(f'{at}: expected {{"put": ...}} or {{"splice": ...}}')
    sends: list[tuple[str, Any]] = []
    for k, s in enumerate(field(done, "sends", list, where, [])):
        at = f"{where}.sends[{k}]"
        message = hold(field(s, "message", object, at))
        if "record" in s:
            records(message, spec_value(s["record"], f"{at}.record"))
        sends.append((field(s, "to", str, at), message))
    applied = []
    for k, a in enumerate(field(done, "applied", list, where, [])):
        at = f"{where}.applied[{k}]"
        if not isinstance(a, list) or len(a) != 3 or not isinstance(a[0], int):
            raise WireError(f"{at}: expected [index, value, result]")
        applied.append((a[0], hold(a[1]), hold(a[2])))
    replies = []
    for k, r in enumerate(field(done, "replies", list, where, [])):
        at = f"{where}.replies[{k}]"
        leader = field(r, "leader", (str, type(None)), at, None)
        replies.append(
            Reply(
                field(r, "request", int, at),
                hold(r.get("result")),
                field(r, "error", str, at, ""),
                leader,
                field(r, "unknown", bool, at, False),
            )
        )
    timers = []
    for k, t in enumerate(field(done, "timers", list, where, [])):
        at = f"{where}.timers[{k}]"
        if not (isinstance(t, list) and len(t) == 2 and isinstance(t[0], str)):
            raise WireError(f"{at}: expected [name, after]")
        if not isinstance(t[1], int) or isinstance(t[1], bool) or t[1] < 0:
            raise WireError(f"{at}: the delay must be a whole number of ticks, at least 0")
        timers.append(SetTimer(t[0], t[1]))
    steps = [
        _step(s, f"{where}.steps[{k}]", len(sends))
        for k, s in enumerate(field(done, "steps", list, where, []))
    ]
    return Collected(
        tuple(writes), tuple(sends), tuple(applied), tuple(replies), tuple(timers), tuple(steps)
    )


def _step(s: Any, at: str, sent: int) -> SpecStep:
    params = spec_value(field(s, "params", dict, at, {}), f"{at}.params")
    owned = field(s, "sends", list, at, [])
    if not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < sent for k in owned):
        raise WireError(f"{at}.sends: indexes into this answer's {sent} sends")
    upto = field(s, "log_upto", (int, type(None)), at, None)
    message = s.get("message")
    return SpecStep(
        field(s, "action", str, at),
        params if isinstance(params, Mapping) else {},
        tuple(owned),
        hide=tuple(str(h) for h in field(s, "hide", list, at, [])),
        log_upto=upto,
        in_spec=field(s, "in_spec", bool, at, True),
        message=None if message is None else spec_value(message, f"{at}.message"),
    )


# -- writing a driver's answer (serve.py) ---------------------------------------------------------


def collected_to_json(
    done: Collected, encode: Callable[[Any], Any], record: Callable[[Any], Value] | None
) -> dict[str, Any]:
    """What the node did, as a driver answers it: its messages and writes through `encode` (the
    implementation's values as JSON), each send with its spec record when `record` is given."""
    out: dict[str, Any] = {}
    if done.writes:
        out["writes"] = [
            {"put": w.key, "value": encode(w.value)}
            if isinstance(w, Put)
            else {"splice": w.key, "start": w.start, "items": [encode(x) for x in w.items]}
            for w in done.writes
        ]
    if done.sends:
        out["sends"] = [
            {
                "to": dest,
                "message": encode(m),
                **({"record": encode_value(record(m))} if record else {}),
            }
            for dest, m in done.sends
        ]
    if done.applied:
        out["applied"] = [[i, release(v), release(r)] for i, v, r in done.applied]
    if done.replies:
        out["replies"] = [
            {
                "request": r.request_id,
                "result": release(r.result),
                "error": r.error,
                "leader": r.leader,
                "unknown": r.unknown,
            }
            for r in done.replies
        ]
    if done.timers:
        out["timers"] = [[t.timer, t.after] for t in done.timers]
    if done.steps:
        out["steps"] = [_step_json(s) for s in done.steps]
    return out


def _step_json(s: SpecStep) -> dict[str, Any]:
    out: dict[str, Any] = {"action": s.name, "params": encode_value(s.params)}
    if s.sends:
        out["sends"] = list(s.sends)
    if s.hide:
        out["hide"] = list(s.hide)
    if s.log_upto is not None:
        out["log_upto"] = s.log_upto
    if not s.in_spec:
        out["in_spec"] = False
    if s.message is not None:
        out["message"] = encode_value(s.message)
    return out
