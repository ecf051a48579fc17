"""The stream workload's history as the stream checker reads it (traces/history/stream.py), and
its verdict: JSON lines, a first line declaring at-least-once delivery (a consumer whose
acknowledgement was lost is given the message again, so duplicates are counted, not wrong), then
each operation's invocation and completion in time order, the invocation naming the node the
client asked (`"node"`) and the completion the node that served it where the plug-in said
(`"served"`), as register histories do (traces/history/jepsen.py); a lost message's line names
them. An `info` operation has no completion line: nobody knows whether it took effect, which is
how the checker reads an open invocation."""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshcheck.cluster.checks import Verdict
from meshcheck.traces.history import stream
from meshcheck.traces.history import stream_models
from meshcheck.traces.history.history import Op

DELIVERY = "at-least-once"
CHECK = "stream (nothing acknowledged lost, one order)"


def _value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def dumps(ops: Sequence[Op]) -> str:
    events: list[tuple[float, int, dict[str, Any]]] = []
    for o in ops:
        base = {"process": o.process, "f": o.f}
        asked = {"node": o.node} if o.node else {}
        events.append((o.call, 0, {**base, "type": "invoke", "value": _value(o.input), **asked}))
        if o.ret != math.inf:
            out = o.output if o.f in ("consume", "read") else o.input
            served = {"served": o.served} if o.served else {}
            events.append((o.ret, 1, {**base, "type": o.status, "value": _value(out), **served}))
    events.sort(key=lambda e: (e[0], e[1]))
    head = json.dumps({"delivery": DELIVERY}) + "\n"
    return head + "".join(json.dumps(e) + "\n" for _, _, e in events)


def verdict(path: Path) -> tuple[Verdict, str]:
    """The checker's verdict on the history file at `path`, and its whole report."""
    text, holds = stream.run(str(path), None)
    detail = text.splitlines()[0].removeprefix(f"{path}: ")
    return Verdict(CHECK, holds, detail), text


def replay_command(folder: Path, promised: str = "") -> str:
    """The command that checks the run's history to the run's verdict: the checker's own, or,
    for a promised model other than the one it judges by itself, against that model."""
    command = f"meshcheck history check {shlex.quote(str(folder / 'history.jsonl'))} --model stream"
    if promised and promised != stream_models.DEFAULT:
        command += f" --consistency {promised}"
    return command
