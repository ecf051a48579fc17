"""What the validation of hybrid nodes' logs (impl/runtime/hybrid_log.py) decides from the logs
themselves: the constants of specs/HybridLogs.tla a run fixes (validate.py's LogSpec `fit`).

- `Ops`: every client operation a record names (an `OrderOp`'s `o`, the ops of a logged
  `history`), by the name impl/hybrid/machine.py `op_name` gives it (`c3/17`: client c3's 17th).
- `MaxEpoch`: the highest epoch a record names (an Order's `e`, a logged `epoch`): Hybrid.tla's
  Switch(i) needs the epoch it enters within 1..MaxEpoch, and no more are modelled.

`Nodes` and `Byzantine` are the deployment's (traces/logs/models/Hybrid.cfg, `--set`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Sequence

from meshcheck.impl.base.values import Value
from meshcheck.traces.logs.format import LogRecord


def fit_hybrid(records: Sequence[LogRecord], constants: Mapping[str, Value]) -> dict[str, str]:
    """HybridLogs.tla's Ops and MaxEpoch for these records."""
    ops: set[str] = set()
    epochs = [1]
    for r in records:
        o = r.params.get("o")
        if isinstance(o, str):
            ops.add(o)
        e = r.params.get("e")
        if isinstance(e, int):
            epochs.append(e)
        at = r.state.get("epoch")
        if isinstance(at, int):
            epochs.append(at)
        history = r.state.get("history")
        if isinstance(history, tuple):
            ops.update(h for h in history if isinstance(h, str))
    return {
        "Ops": "{" + ", ".join(json.dumps(o) for o in sorted(ops)) + "}",
        "MaxEpoch": str(max(epochs)),
    }
