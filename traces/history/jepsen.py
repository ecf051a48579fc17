"""Histories in Jepsen's shape, one JSON object per line, and the checker's report on them.

Each line is an event: `{"process": 0, "type": "invoke", "f": "write", "value": 3}`, then the
same process's completion, `"type"` one of `ok`, `fail` or `info` (jepsen.history; Knossos reads
the same). A process has at most one operation running. A read's value is on its completion; a
write's and a cas's (`[old, new]`) on the invocation. For the kv model an event names its key in a
`"key"` field, or its value is Jepsen's `[key, value]` tuple (jepsen.independent). Events of the
`"nemesis"` process are not client operations and are skipped. An invocation that never completes
is pending, as an `info` completion. An operation's times are the line numbers of its invocation
and completion. meshcheck's own runs add the node the client asked (`"node"`, on the invocation)
and, where the client could tell, the node that served it (`"served"`, on the completion); a file
without them reads as before.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import reader
from meshcheck.traces.history.checker import Result
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import Status
from meshcheck.traces.history.models import Model
from meshcheck.traces.history.window import Window
from meshcheck.traces.history.window import label
from meshcheck.traces.history.window import plural
from meshcheck.traces.history.window import span


def read(path: str | Path, model: Model) -> list[Op]:
    """The operations of the history in `path`, in invocation order: JSON lines, or Jepsen's own
    history.edn (reader.py says which). Raises `MeshcheckError` naming the line and the field of
    the first malformed event."""
    return _operations(reader.read(path, spread=True), model, str(path))


def parse(lines: Sequence[str], model: Model, name: str = "<history>") -> list[Op]:
    """Operations from JSON lines, one event a line; times are line numbers."""
    return _operations(reader.json_objects(lines, name), model, name)


def parse_edn(text: str, model: Model, name: str = "<history>") -> list[Op]:
    """Operations from Jepsen's history.edn: maps one after another, or one vector (or list) of
    them. Times are the lines the events start on (Jepsen writes one a line); when several share a
    line, their order in the file."""
    return _operations(reader.spread_lines(reader.edn_maps(text, name)), model, name)


def _operations(events: reader.Events, model: Model, name: str) -> list[Op]:
    running: dict[Hashable, tuple[float, str, Hashable, Hashable]] = {}  # process -> invocation
    asked: dict[Hashable, str] = {}  # process -> the node its running operation went to
    done: list[Op] = []
    for number, event in events:
        bad = functools.partial(_bad, name, number)
        if "process" not in event:
            raise bad("process", "missing")
        process = reader.hashable(event["process"])
        if process == "nemesis":
            continue
        if not isinstance(process, int | str) or isinstance(process, bool):
            raise bad("process", "expected a number or a name")
        kind = event.get("type")
        if kind not in reader.TYPES:
            raise bad("type", "expected invoke, ok, fail or info")
        f = event.get("f")
        if f not in model.fs:
            raise bad("f", f"expected {_alternatives(sorted(model.fs))} for the {model.name} model")
        key, value = _key_value(event, model, bad)
        if kind == "invoke":
            if process in running:
                raise bad("type", f"invoke while process {process} has an operation running")
            if f == "cas" and not (isinstance(value, tuple) and len(value) == 2):
                raise bad("value", "expected [old, new] for a cas")
            running[process] = (number, f, key, value)
            node = event.get("node", "")
            if not isinstance(node, str):
                raise bad("node", "expected the name of the node asked")
            asked[process] = node
            continue
        if process not in running:
            raise bad("type", f"{kind} without an invocation by process {process}")
        call, f0, key0, value0 = running.pop(process)
        if f != f0:
            raise bad("f", f"expected {f0}, as the invocation on line {int(call)}")
        if model.keyed and key != key0 and key is not None:
            raise bad("key", f"expected {key0!r}, as the invocation on line {int(call)}")
        status: Status = "ok" if kind == "ok" else "fail" if kind == "fail" else "info"
        if model.both_values:  # the input on the invocation, the output on the completion
            inp, output = value0, value if status == "ok" else None
        else:
            output = value if (f == "read" and status == "ok") else None
            inp = None if f == "read" else value0
        ret = math.inf if status == "info" else float(number)
        node = asked.pop(process, "")
        served = event.get("served", "")  # absent in older files and from plug-ins that cannot tell
        if not isinstance(served, str):
            raise bad("served", "expected the name of the node that served it")
        done.append(
            Op(process, f, inp, output, float(call), ret, status, key0, len(done), node, served)
        )
    for process, (call, f, key, value) in running.items():
        inp = value if model.both_values or f != "read" else None
        node = asked.get(process, "")
        done.append(Op(process, f, inp, None, float(call), math.inf, "info", key, len(done), node))
    done.sort(key=lambda o: o.call)
    return done


def _bad(name: str, number: float, field: str, expected: str) -> MeshcheckError:
    return MeshcheckError(f"{name}:{int(number)}: field {json.dumps(field)}: {expected}")


def _key_value(
    event: dict[str, Any], model: Model, bad: Callable[[str, str], MeshcheckError]
) -> tuple[Hashable, Hashable]:
    try:
        value = model.decode(event.get("value"))
    except ValueError as exc:
        raise bad("value", f"{exc} for the {model.name} model") from None
    if not model.keyed:  # a single object: no key
        return None, value
    if "key" in event:
        return reader.hashable(event["key"]), value
    if isinstance(value, tuple) and len(value) == 2:
        return value[0], value[1]
    raise bad("value", f'expected [key, value] (or a "key" field) for the {model.name} model')


def _alternatives(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _time(t: float) -> str:
    return "-" if t == math.inf else f"line {int(t)}"


def _show(value: Hashable) -> str:
    return json.dumps(value, default=str)


def render(result: Result, model: Model, source: str, window: Window | None = None) -> str:
    """The report: one line for a linearizable history; for one that is not, the smallest
    failing window (`window.smallest`; without it, the failing prefix), one operation a line:
    process, f(input)->output, call..ret (lines of the file; an info operation's return is open),
    status."""
    head = f"{source}: {result.verdict} ({model.name} model, {plural(result.ops, 'operation')}, "
    head += f"{result.seconds:.2f} s)"
    if result.verdict == "linearizable":
        return head + "\n"
    if result.verdict == "unknown":
        cut = "the end" if result.cut == math.inf else _time(result.cut)
        return (
            head
            + f"\nthe budget ran out; the first {plural(result.prefix_ops, 'operation')} (invoked "
            + f"before {cut}) are linearizable, nothing is claimed about the rest\n"
        )
    part = "" if result.partition is None else f" of key {_show(result.partition)}"
    cut = "the end" if result.cut == math.inf else _time(result.cut)
    lines = [head]
    if window is None:
        ops: Sequence[Op] = result.window
        lines.append(
            f"non-linearizable window{part}: its {plural(len(ops), 'operation')} invoked before "
            f"{cut} (those still running then pending) have no linearization"
        )
    else:
        ops = window.ops
        if window.minimal:
            why = f"without any one of them (and {model.dependents}) the rest is linearizable"
        else:
            why = "the budget ran out before it was shrunk to a minimal one"
        lines.append(
            f"smallest non-linearizable window{part}: {plural(len(ops), 'operation')} "
            f"(of {len(result.window)} invoked before {cut}); {why}"
        )
    lines.extend(table(ops))
    return "\n".join(lines) + "\n"


def table(ops: Sequence[Op]) -> list[str]:
    """The operations one a line, indented: process, (node,) f(input)->output, call..ret (lines of
    the file; an info operation's return is open), status."""
    asked = any(o.server for o in ops)  # the node column, where the history names them
    rows = [("process", *(("node",) if asked else ()), "operation", "lines", "status")]
    for o in ops:
        rows.append((str(o.process), *((_node(o),) if asked else ()), label(o), span(o), o.status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def _node(o: Op) -> str:
    """The window's node column: the node that served it, `r3 (asked)` where only the node
    asked is known, `r1 (asked r3)` where they differ (history.where)."""
    if o.served:
        return o.served if not o.node or o.node == o.served else f"{o.served} (asked {o.node})"
    return f"{o.node} (asked)" if o.node else "-"


def _events(ops: Sequence[Op], model: Model) -> list[tuple[float, int, dict[str, Any]]]:
    """The events of `dumps`, each with its time, in the file's order."""
    lanes: dict[Hashable, list[float]] = {}  # process -> when each of its lanes is free again
    events: list[tuple[float, int, dict[str, Any]]] = []
    for o in sorted(ops, key=lambda o: o.call):
        free = lanes.setdefault(o.process, [])
        lane = next((k for k, until in enumerate(free) if until < o.call), len(free))
        if lane == len(free):
            free.append(o.ret)
        else:
            free[lane] = o.ret
        process = o.process if lane == 0 else f"{o.process}.{lane}"
        both = model.both_values
        invoked = o.input if (both or o.f != "read") else None
        base: dict[str, Any] = {"process": process, "f": o.f}
        if model.keyed:
            base["key"] = o.key
        asked = {"node": o.node} if o.node else {}
        events.append((o.call, 0, {**base, "type": "invoke", "value": invoked, **asked}))
        if o.ret != math.inf:
            value = o.output if (both or o.f == "read") else o.input
            served = {"served": o.served} if o.served else {}
            events.append((o.ret, 1, {**base, "type": o.status, "value": value, **served}))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def dumps(ops: Sequence[Op], model: Model) -> str:
    """The history as JSON lines in the shape `parse` reads (and Jepsen writes): each operation's
    invocation, then its completion (`ok`, `fail`, `info`; none for one still pending), in time
    order, an invocation before a completion at the same time (so the two stay concurrent).

    A process runs one operation at a time in this shape; a client that keeps several running at
    once (the simulator's open-loop clients do) is written as several processes, "c1", "c1.1",
    "c1.2", ..., each operation on the first of them free at its invocation."""
    return "".join(
        json.dumps(event, default=_json_default) + "\n" for _, _, event in _events(ops, model)
    )


def line_times(ops: Sequence[Op], model: Model) -> list[float]:
    """The time of each line `dumps` writes (line n at index n - 1): what maps the line numbers a
    history read back from the file has for times to the times the run recorded."""
    return [t for t, _, _ in _events(ops, model)]


def _json_default(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON data")
