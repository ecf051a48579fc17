"""What a Raft node in a process writes to its NDJSON log (nodelog.py), for `meshcheck validate
--spec Raft` (meshcheck/traces/logs/validate.py): every variable of specs/Raft.tla the server
holds after each action (the refinement mapping's at this server: impl/raft/refinement.py), and
the action's parameters, client values named by the validation model's.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.refinement import server_slice
from meshcheck.impl.rsm.ops import NOOP

# The values of Raft's validation model (property_tests/raft/models/Logs.cfg: Value = {v1, v2}). A
# real run's client values are the state machine's operations; Raft.tla does nothing with a value
# but store and compare it, so a log names each by one of the model's, the same one every time
# (a stable hash), and the leader's no-op as itself.
VALUES = ("v1", "v2")


def model_value(value: Any) -> Any:
    if value == NOOP:
        return value
    return VALUES[zlib.crc32(repr(value).encode()) % len(VALUES)]


def _entries(value: Any) -> Any:
    """`value` with every log entry record's value named by the model's (`model_value`)."""
    if isinstance(value, FrozenDict):
        if set(value) == {"term", "value"}:
            return FrozenDict({"term": value["term"], "value": model_value(value["value"])})
        return FrozenDict({k: _entries(v) for k, v in value.items()})
    if isinstance(value, tuple):
        return tuple(_entries(v) for v in value)
    return value


def log_state(core: Any, action: str = "", nth: int = 0) -> Mapping[str, Any]:
    """Every variable of Raft.tla a server holds (the refinement mapping's at this server): with
    all of them logged, the validator's frontier stays small under faults."""
    assert isinstance(core, RaftNode)
    return server_slice(core, model_value)


def fingerprint(core: Any) -> Hashable:
    """Every per-server variable of Raft.tla at this node (impl/raft/refinement.py `_row`), the
    log by its version stamp (impl/raft/log.py)."""
    assert isinstance(core, RaftNode)
    r = core.reads
    return (
        core.term,
        core.voted_for,
        core.role,
        core.log.version,
        core.commit_index,
        core.votes_granted,
        tuple(sorted(core.next_index.items())),
        tuple(sorted(core.match_index.items())),
        (r.seq, r.index, r.acks, r.served),
    )


def log_params(
    params: Mapping[str, Any], sent: tuple[Any, ...] = (), core: Any = None
) -> Mapping[str, Any]:
    out = {k: _entries(v) for k, v in params.items()}
    if "v" in out:
        out["v"] = model_value(out["v"])
    return out
