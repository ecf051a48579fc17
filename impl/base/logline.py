"""One line of a node's NDJSON log, the format trace validation reads (traces/logs/format.py,
docs/logs.md): written by the real cluster's nodes (impl/runtime/nodelog.py) and by the adapter
contract's simulated runs (impl/adapters/contract.py), in one order of fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def log_record(
    run: str, node: str, clock: int, action: str, params: Any, state: Any
) -> dict[str, Any]:
    """`node`'s record of the spec step `action` at Lamport clock `clock`: its parameters and the
    node's state after it, both already JSON values (impl/base/values.py `to_json`)."""
    return {
        "run": run,
        "node": node,
        "clock": clock,
        "action": action,
        "params": params,
        "state": state,
    }


def log_line(record: Mapping[str, Any]) -> str:
    """The record as one line of the log, its newline included."""
    return json.dumps(record, separators=(",", ":")) + "\n"
