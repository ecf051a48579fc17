"""What a gossip node in a process writes to its NDJSON log (nodelog.py), for `meshcheck validate
--spec Gossip` (meshcheck/traces/logs/validate.py, through specs/GossipLogs.tla): after each of
Gossip.tla's actions the node's `entries`, `own` and `members` (the refinement mapping's at this
node: impl/gossip/refinement.py), the entries as the keys it holds (a node cannot name the keys it
never heard of: the validator completes them with Nil), and the action's parameters with the
message a Push, a Pull or an answered HandlePull sent.

The failure detector's actions (Heartbeat, HandleHeartbeat, Suspect, Trust) are
FailureDetector.tla's, not Gossip.tla's: the log leaves them out (`ACTIONS`).
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.node import IN
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.refinement import message_record as spec_record

# Gossip.tla's actions a node takes (Crash, LoseMessage, DuplicateMessage, Partition and Heal are
# no node's to log)
ACTIONS = frozenset(
    {"Update", "Push", "Pull", "HandlePush", "HandlePull", "Restart", "Join", "Leave"}
)

# The values of the validation model (traces/logs/models/Gossip.cfg: NumValues = 2). Gossip.tla
# compares two entries' values only when their versions and origins are equal, that is for one
# write, so a log may name each real value by one of the model's, the same one every time.
VALUES = ("v1", "v2")


def model_value(value: Any) -> str:
    return VALUES[zlib.crc32(repr(value).encode()) % len(VALUES)]


def _entry(entry: Entry) -> FrozenDict:
    return FrozenDict(
        {"version": entry.version, "origin": entry.origin, "value": model_value(entry.value)}
    )


def _held(entries: Mapping[str, Entry]) -> FrozenDict:
    return FrozenDict({k: _entry(e) for k, e in sorted(entries.items())})


def log_state(core: Any, action: str = "", nth: int = 0) -> Mapping[str, Any]:
    """The node's `entries`, `own` (the keys it holds) and `members` (itself left out; none when
    it is not a member)."""
    assert isinstance(core, GossipNode)
    members = core.members() - {core.id} if core.status == IN else frozenset()
    return {"entries": _held(core.entries), "own": _held(core.own), "members": members}


def log_params(
    params: Mapping[str, Any], sent: tuple[Any, ...], core: Any = None
) -> Mapping[str, Any]:
    """An Update's value named by the model's."""
    if "v" in params:
        return {**params, "v": model_value(params["v"])}
    return params


def message_record(message: Any) -> Value | None:
    """A message as Gossip.tla's record, its values named by the model's; None for the failure
    detector's heartbeat, which Gossip.tla does not model."""
    record = spec_record(message)
    assert isinstance(record, FrozenDict)
    if record["type"] == "push":
        pushed = record["entries"]
        entries = (
            FrozenDict(
                {k: FrozenDict({**e, "value": model_value(e["value"])}) for k, e in pushed.items()}
            )
            if isinstance(pushed, FrozenDict)
            else pushed
        )
        return FrozenDict({**record, "entries": entries})
    if record["type"] == "pull":
        digest = record["digest"]
        ranks = (
            FrozenDict({k: (r[0], r[1], model_value(r[2])) for k, r in digest.items()})
            if isinstance(digest, FrozenDict)
            else digest
        )
        return FrozenDict({**record, "digest": ranks})
    return None


def fingerprint(core: Any) -> Hashable:
    """What of the node Gossip.tla sees: its entries, its own writes and its view."""
    assert isinstance(core, GossipNode)
    if not hasattr(core, "status"):
        return None  # before its Restart: nothing restored yet
    return (
        tuple(sorted(core.entries.items())),
        tuple(sorted(core.own.items())),
        core.status,
        core.members(),
    )
