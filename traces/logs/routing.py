"""What the validation of the manager's routing log (meshcheck/cluster/routing_log.py) decides from
the log itself: the constants of specs/RoutingLogs.tla a run fixes (validate.py's LogSpec `fit`).

- `Ops`: every operation a record names (its `o`, "o17": the router's 17th operation).
- `MaxChanges`: the LevelChange records, one change each.
- `MaxEpoch`: one epoch, and one more for each LevelChange whose level calls for the other
  protocol than the one running (Routing.tla's LevelChange begins an epoch then, and only then).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Sequence

from meshcheck.impl.base.values import Value
from meshcheck.traces.logs.format import LogRecord

BFT_LEVELS = frozenset({"High", "Critical"})  # Routing.tla's ProtocolOf: "bft" at these


def fit_routing(records: Sequence[LogRecord], constants: Mapping[str, Value]) -> dict[str, str]:
    """RoutingLogs.tla's Ops, MaxEpoch and MaxChanges for these records."""
    ops: set[str] = set()
    changes, epochs, bft = 0, 1, False
    for r in records:
        o = r.params.get("o")
        if isinstance(o, str):
            ops.add(o)
        if r.action == "LevelChange":
            changes += 1
            calls_bft = r.params.get("l") in BFT_LEVELS
            if calls_bft != bft:
                epochs, bft = epochs + 1, calls_bft
    return {
        "Ops": "{" + ", ".join(json.dumps(o) for o in sorted(ops)) + "}",
        "MaxEpoch": str(epochs),
        "MaxChanges": str(changes),
    }
