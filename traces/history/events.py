"""Events of a history file, read without a sequential model: what the checkers that are not
linearizability searches (list-append, stream, watch, lease, fenced lock) start from.

A file is JSON lines (one object a line) or Jepsen's history.edn, read as traces/history/jepsen.py
reads it (traces/history/reader.py). `read` gives every object with its time (its line); `pair`
matches each process's invocation with its completion (`ok`, `fail`, `info`), as Jepsen's
histories do. Each checker validates the fields it needs and names the line of the first bad one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import history
from meshcheck.traces.history import reader


@attrs.frozen(eq=False)
class Event:
    """One object of the file and the line it is on (its time)."""

    line: float
    fields: dict[str, Any]

    def bad(self, name: str, field: str, expected: str) -> MeshcheckError:
        return MeshcheckError(f"{name}:{int(self.line)}: field {json.dumps(field)}: {expected}")


@attrs.frozen(eq=False)
class Call:
    """An invocation and its completion: `ret` is infinite and `status` info when the client never
    learnt the outcome (or the file ends first). `value` is the completion's value when it is ok,
    else the invocation's."""

    index: int
    process: Hashable
    f: str
    invoked: Any
    value: Any
    call: float
    ret: float
    status: str
    event: Event
    # the completion's own object (None: the file ends first), for what only it says, such as
    # the node that served the operation (`"served"`)
    done: Event | None = None


# a Call's fields but its index (its place in invocation order, known once all are sorted)
_Fields = tuple[Hashable, str, Any, Any, float, float, str, Event, Event | None]


def read(path: str | Path) -> tuple[str, list[Event]]:
    """The file's name and its events in order; raises `MeshcheckError` (one line) when it cannot
    be read or parsed (reader.py)."""
    with reader.bulk():
        return str(path), [Event(line, fields) for line, fields in reader.read(path)]


hashable = reader.hashable


def scalar(event: Event, name: str, field: str, what: str = "a value") -> Hashable:
    """A field that must be a string or a number (a key, an id, an element)."""
    value = event.fields.get(field)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise event.bad(name, field, f"expected {what} (a number or a string)")
    return value


def number(event: Event, name: str, field: str) -> float:
    value = event.fields.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise event.bad(name, field, "expected a number")
    return float(value)


def pair(events: Sequence[Event], name: str, fs: Sequence[str]) -> list[Call]:
    """Invocations matched with their completions (one operation running per process at a time),
    in invocation order; `nemesis` events skipped. `fs` are the operations the checker knows."""
    running: dict[Hashable, tuple[Event, str]] = {}
    done: list[_Fields] = []
    for e in events:
        fields = e.fields
        if "process" not in fields:
            done.append(_alone(e, name, fs))
            continue
        process = fields["process"]
        if type(process) is not int and type(process) is not str:  # else the long way
            process = hashable(process)
            if process == "nemesis":
                continue
            if isinstance(process, bool) or not isinstance(process, int | str):
                raise e.bad(name, "process", "expected a number or a name")
        elif process == "nemesis":
            continue
        kind = fields.get("type")
        if kind not in reader.TYPES:
            raise e.bad(name, "type", "expected invoke, ok, fail or info")
        f = fields.get("f")
        if not isinstance(f, str) or f not in fs:
            raise e.bad(name, "f", "expected " + " or ".join(fs))
        if kind == "invoke":
            if process in running:
                raise e.bad(name, "type", f"invoke while process {process} has one running")
            running[process] = (e, f)
            continue
        if process not in running:
            raise e.bad(name, "type", f"{kind} without an invocation by process {process}")
        start, f0 = running.pop(process)
        if f != f0:
            raise e.bad(name, "f", f"expected {f0}, as the invocation on line {int(start.line)}")
        invoked = start.fields.get("value")
        value = fields.get("value") if kind == "ok" else invoked
        ret = math.inf if kind == "info" else e.line
        done.append((process, f, invoked, value, start.line, ret, kind, start, e))
    for start, f in running.values():
        value = start.fields.get("value")
        process = hashable(start.fields["process"])
        done.append((process, f, value, value, start.line, math.inf, "info", start, None))
    done.sort(key=lambda c: c[4])  # stable: calls at one time keep the order they were found in
    return [Call(i, *c) for i, c in enumerate(done)]


def _alone(e: Event, name: str, fs: Sequence[str]) -> _Fields:
    """A completion with no process (Elle's test histories write committed transactions so): an
    operation of its own, invoked at some time before it (line 0: nothing precedes it in real
    time). An invocation without a process cannot be paired with its completion."""
    kind, f = e.fields.get("type"), e.fields.get("f")
    if kind not in reader.TYPES or kind == "invoke":
        raise e.bad(name, "process", "missing (only a completion may stand without one)")
    if not isinstance(f, str) or f not in fs:
        raise e.bad(name, "f", "expected " + " or ".join(fs))
    value = e.fields.get("value")
    ret = math.inf if kind == "info" else e.line
    return (f"(line {int(e.line)})", f, value, value, 0.0, ret, kind, e, e)


def where(c: Call, name: str) -> str:
    """Where a call ran, in history.where's words (`on n1 (asked n3)`): the node its invocation
    asked (`"node"`) and the node its completion says served it (`"served"`); "" when the file
    names neither (histories of other tools)."""
    node = c.event.fields.get("node", "")
    if not isinstance(node, str):
        raise c.event.bad(name, "node", "expected the name of the node asked")
    served = "" if c.done is None else c.done.fields.get("served", "")
    if not isinstance(served, str):
        assert c.done is not None
        raise c.done.bad(name, "served", "expected the name of the node that served it")
    return history.place(served, node)


def span(call: float, ret: float) -> str:
    """`lines 3..7`, or `line 3..` for an operation that never completed."""
    if ret == math.inf:
        return f"lines {int(call)}.."
    return f"lines {int(call)}..{int(ret)}"


class Findings:
    """What a checker found, by kind, in the order found; `render` prints the verdict line and up
    to `shown` of each kind."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[str]] = {}

    def add(self, kind: str, text: str) -> None:
        self.by_kind.setdefault(kind, []).append(text)

    def count(self, kind: str) -> int:
        return len(self.by_kind.get(kind, ()))

    def render(
        self, name: str, what: str, ok: str, *, shown: int = 5, allowed: Sequence[str] = ()
    ) -> str:
        """`ok` is what holds when nothing was found; kinds in `allowed` are counted, not wrong."""
        bad = {k: v for k, v in self.by_kind.items() if k not in allowed}
        counted = "".join(
            f"; {k}: {len(v)} (allowed)" for k, v in self.by_kind.items() if k in allowed
        )
        if not bad:
            return f"{name}: {ok} ({what}{counted})\n"
        kinds = ", ".join(f"{k} ({len(v)})" for k, v in bad.items())
        out = [f"{name}: violated ({what}{counted}): {kinds}"]
        for kind, texts in bad.items():
            more = f" (the first {shown} of {len(texts)})" if len(texts) > shown else ""
            out.append(f"{kind}{more}:")
            out.extend(f"  {t}" for t in texts[:shown])
        return "\n".join(out) + "\n"

    def holds(self, allowed: Sequence[str] = ()) -> bool:
        return all(k in allowed for k in self.by_kind)
