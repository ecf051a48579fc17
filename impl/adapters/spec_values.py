"""An implementation's client values as the validation model's finite `Value` set, for NDJSON logs.

Raft.tla's `Value` is a finite set of model values (property_tests/raft/models/Logs.cfg: v1 and
v2); an implementation's commands are unbounded. A log written for trace validation maps each
command onto one of the model's values (`spec_value`), and the leader's no-op onto the spec's
`NoOp` (Raft paper section 8): an entry replaced by another of the same term is still seen when the
two map apart. Used by the PySyncObj adapter's log (impl/adapters/pysyncobj.py, its `log_view`) and
by the directed scenarios' logs of the reference core (property_tests/directed/logs.py).
"""

from __future__ import annotations

import json
import zlib

from meshcheck.impl.base.values import FrozenDict, Value, to_json
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
