"""An implementation's client values as the validation model's finite `Value` set, for NDJSON logs.

Raft.tla's `Value` is a finite set of model values (property_tests/raft/models/Logs.cfg: v1 and
v2); an implementation's commands are unbounded. A log written for trace validation maps each
command onto one of the model's values (`spec_value`), and the leader's no-op onto the spec's
`NoOp` (Raft paper section 8): an entry replaced by another of the same term is still seen when the
two map apart. Used by the PySyncObj adapter's log (impl/adapters/pysyncobj.py, its `log_view`) and
by the directed scenarios' logs of the reference core (property_tests/directed/logs.py).
`record_view` does the same to a record already written as JSON (an adapter's NdjsonLog that maps
nothing), leaving a value that is one of the model's already as it is: the directed scenarios'
logs of a plug-in (property_tests/directed/run.py).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.base.values import to_json
from meshcheck.impl.rsm import NOOP

# The validation model's client values (property_tests/raft/models/Logs.cfg: Value = {v1, v2})
SPEC_VALUES = ("v1", "v2")
_VIEWED: dict[FrozenDict, FrozenDict] = {}


def spec_value(value: Value) -> Value:
    """A command as one of the validation model's values: the no-op as the spec's NoOp, any other
    (a write, a read through the log) as SPEC_VALUES[crc32 of its JSON mod 2]."""
    if value == NOOP:
        return NOOP
    text = json.dumps(to_json(value), sort_keys=True, separators=(",", ":"))
    return SPEC_VALUES[zlib.crc32(text.encode()) % len(SPEC_VALUES)]


def _viewed(entry: FrozenDict) -> FrozenDict:
    found = _VIEWED.get(entry)
    if found is None:
        if len(_VIEWED) > 100_000:
            _VIEWED.clear()
        found = _VIEWED[entry] = FrozenDict(
            {"term": entry["term"], "value": spec_value(entry["value"])}
        )
    return found


def log_view(name: str, value: Value) -> Value:
    """What an NDJSON log writes for a parameter or variable (AdapterPlugin's `log_view`): a
    client value `v`, each log entry's value and each entry an AppendEntries message `m` carries
    through `spec_value`, the rest as it is."""
    if name == "v":
        return spec_value(value)
    if name == "log" and isinstance(value, tuple):
        return tuple(_viewed(e) if isinstance(e, FrozenDict) else e for e in value)
    if name == "m" and isinstance(value, FrozenDict) and "mentries" in value:
        return FrozenDict({**value, "mentries": log_view("log", value["mentries"])})
    return value


def _json_value(value: Any) -> Any:
    """A client value written as JSON, as `spec_value` maps it; one of the model's values (or the
    no-op) already, as it is."""
    if value == NOOP or value in SPEC_VALUES:
        return value
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return SPEC_VALUES[zlib.crc32(text.encode()) % len(SPEC_VALUES)]


def _json_log(entries: Any) -> Any:
    if not isinstance(entries, list):
        return entries
    return [
        {**e, "value": _json_value(e["value"])} if isinstance(e, dict) and "value" in e else e
        for e in entries
    ]


def record_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """An NDJSON log record (as JSON) with its client values as the validation model's: the
    parameter `v`, the entries of a message `m` and of the variable `log` (`log_view`'s fields)."""
    params = dict(record.get("params") or {})
    if "v" in params:
        params["v"] = _json_value(params["v"])
    m = params.get("m")
    if isinstance(m, dict) and "mentries" in m:
        params["m"] = {**m, "mentries": _json_log(m["mentries"])}
    state = dict(record.get("state") or {})
    if "log" in state:
        state["log"] = _json_log(state["log"])
    return {**record, "params": params, "state": state}
