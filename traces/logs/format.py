"""The NDJSON log format: one step of one node per line, in the spec's vocabulary (docs/logs.md).

    {"run": "seed-17", "node": "s1", "clock": 7, "action": "HandleRequestVoteRequest",
     "params": {"i": "s1", "j": "s2"}, "state": {"currentTerm": 2, "votedFor": "s2"}}

`node` took the step; `action` and `params` are the spec's action and its parameters (a receive
names its sender `j` and may carry the message itself as `m`); `state` is any subset of the spec's
variables after the step, each a function of Server given by its value at `node`; `clock` is a
Lamport clock (a send ticks it, a receive takes max(own, message's) + 1), so that logs written by
each node apart merge into an order consistent with every send and receive; `run` names the run,
the same in every log of it. Values are ITF's (traces/itf.py): ints, strings, booleans, arrays for
sequences, objects for records, `#set`, `#tup`, `#map` and `#bigint` for the rest.

Reading is strict: every problem is a `LogFormatError` naming the file, the line and the field.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.errors import TraceFormatError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.traces import itf

__all__ = ["FIELDS", "LogFormatError", "LogRecord", "dumps", "loads", "merge", "read", "write"]

FIELDS = ("run", "node", "clock", "action", "params", "state")


class LogFormatError(MeshcheckError):
    """A log that is not in the format: `source` is "file:line", `field` the field at fault."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {problem}")


def _frozen(m: Mapping[str, Any]) -> FrozenDict:
    return m if isinstance(m, FrozenDict) else FrozenDict(m)


@attrs.frozen
class LogRecord:
    """One line of a log: node `node` took the step `action(params)` and was then in `state` (any
    subset of the spec's variables, each its value at `node`). `source` is "file:line"."""

    node: str
    action: str
    params: FrozenDict = attrs.field(converter=_frozen)
    state: FrozenDict = attrs.field(converter=_frozen)
    clock: int
    run: str
    source: str = ""

    def label(self) -> str:
        """`Action(i=s1, j=s2)`: the step, without the message `m` (which can be long)."""
        from meshcheck.impl.base.text import format_value

        shown = [f"{k}={format_value(v)}" for k, v in self.params.items() if k != "m"]
        return f"{self.action}({', '.join(shown)})" if shown else self.action


def dumps(record: LogRecord) -> str:
    """The record as one line of JSON (no newline), keys in the documented order."""
    doc = {
        "run": record.run,
        "node": record.node,
        "clock": record.clock,
        "action": record.action,
        "params": {k: itf.encode_value(v) for k, v in record.params.items()},
        "state": {k: itf.encode_value(v) for k, v in record.state.items()},
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True)


def write(records: Iterable[LogRecord], path: str | Path) -> Path:
    """Write records, one line each, to `path`."""
    out = Path(path)
    out.write_text("".join(dumps(r) + "\n" for r in records), encoding="utf-8")
    return out


def _values(doc: dict[str, Any], field: str, source: str) -> FrozenDict:
    j = doc[field]
    if not isinstance(j, dict):
        raise LogFormatError(source, field, f"must be an object, found {itf.json_kind(j)}")
    out: dict[str, Value] = {}
    for name, value in j.items():
        try:
            out[name] = itf.decode_value(value, where=f"{field}.{name}")
        except TraceFormatError as exc:
            raise LogFormatError(source, exc.where, exc.problem) from None
    return FrozenDict(out)


def loads(line: str, source: str) -> LogRecord:
    """The record on one line of a log; `source` ("file:line") locates errors."""
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LogFormatError(source, "", f"not JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise LogFormatError(source, "", f"must be a JSON object, found {itf.json_kind(doc)}")
    for field in FIELDS:
        if field not in doc:
            raise LogFormatError(source, field, "missing (a record has " + ", ".join(FIELDS) + ")")
    for field in ("run", "node", "action"):
        if not isinstance(doc[field], str) or not doc[field]:
            raise LogFormatError(
                source, field, f"must be a non-empty string, found {itf.json_kind(doc[field])}"
            )
    clock = doc["clock"]
    if isinstance(clock, bool) or not isinstance(clock, int) or clock < 0:
        raise LogFormatError(
            source, "clock", f"must be a whole number >= 0, found {json.dumps(clock)}"
        )
    extra = sorted(set(doc) - set(FIELDS))
    if extra:
        raise LogFormatError(source, extra[0], f"unknown field (a record has {', '.join(FIELDS)})")
    return LogRecord(
        node=doc["node"],
        action=doc["action"],
        params=_values(doc, "params", source),
        state=_values(doc, "state", source),
        clock=clock,
        run=doc["run"],
        source=source,
    )


def read(path: str | Path) -> list[LogRecord]:
    """The records of one log file, in file order (blank lines skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LogFormatError(str(path), "", f"cannot read: {exc}") from None
    return [
        loads(line, f"{path}:{n}") for n, line in enumerate(text.splitlines(), 1) if line.strip()
    ]


def merge(logs: Sequence[Sequence[LogRecord]]) -> list[LogRecord]:
    """One order of every record of the logs, consistent with each node's own order and with the
    Lamport clocks (a receive after its send): by clock, ties by node. A node may be spread over
    several logs or share one with others; its records keep their order in the logs (the logs'
    order, then line order), and their clocks must increase. Records of two runs: LogFormatError."""
    run: tuple[str, str] | None = None
    by_node: dict[str, list[LogRecord]] = {}
    for log in logs:
        for record in log:
            if run is None:
                run = (record.run, record.source)
            elif record.run != run[0]:
                raise LogFormatError(
                    record.source,
                    "run",
                    f"{record.run!r} but {run[1]} is of run {run[0]!r}: logs of two runs",
                )
            mine = by_node.setdefault(record.node, [])
            if mine and record.clock <= mine[-1].clock:
                raise LogFormatError(
                    record.source,
                    "clock",
                    f"{record.clock} does not increase on node {record.node!r} "
                    f"({mine[-1].source} has {mine[-1].clock})",
                )
            mine.append(record)
    streams = [[(r.clock, r.node, k, r) for k, r in enumerate(rs)] for rs in by_node.values()]
    return [entry[3] for entry in heapq.merge(*streams)]
