"""What a PBFT replica in a process writes to its NDJSON log (nodelog.py), for `meshcheck validate
--spec PBFT` (meshcheck/traces/logs/validate.py).

A replica logs its own slice of specs/PBFT.tla's variables after each of its actions: `view`,
`status`, `executed` and `stable` (the mapping of impl/pbft/refinement.py at one replica). The
spec's `msgs` is what the replicas sent, and follows from the logged actions; `requested` and
`accepted` are the client's, and the validator infers a `Request(r)` before the first record that
pre-prepares r (the spec's client may send any request at any time).

Requests. The spec orders opaque requests; a process orders batches of them (section 5.1 of the
paper: the primary packs what is queued into one pre-prepare). A batch is one spec request, named
by a stable hash of the requests it holds, by client and timestamp (`request`): every replica
names the same batch alike, and a request that two batches hold is two spec requests, as it is
two sequence numbers. What a client
sent, and that each request is executed once, the history checks judge
(meshcheck/cluster/checks.py), not the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft.messages import NOOP
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.replica import Replica

PREFIX = "b"  # a batch's name: "b" and 12 hex digits of the hash of its requests' identities


def request(batch: Batch) -> Value:
    """The spec request of a batch: NOOP for the empty batch, else a stable hash of its requests'
    identities, (client, timestamp) each (section 4.1: the operation alone names no request, two
    clients may ask for the same)."""
    if not batch:
        return NOOP
    keys = tuple((r.body.client, r.body.timestamp) for r in batch)
    return PREFIX + hashlib.sha256(repr(keys).encode()).hexdigest()[:12]


# The actions after which `executed` is logged: those that may replace it (a stable checkpoint
# with its state, a new view's), and an Execute at a checkpoint number. The other actions leave it
# UNCHANGED in PBFT.tla, and an Execute appends the one request committed at its number, so the
# validator knows it without the log; a replica whose list went wrong shows a different one at the
# next checkpoint number. The list grows with the run: written after every step, it would make
# the log quadratic in the run's length.
REPLACE_EXECUTED = frozenset({"StableCheckpoint", "NewView", "AcceptNewView"})


def log_state(core: Any, action: str, nth: int = 0) -> Mapping[str, Any]:
    assert isinstance(core, Replica)
    state: dict[str, Any] = {"view": core.view, "status": core.status, "stable": core.stable}
    at_checkpoint = action == "Execute" and len(core.executed) % core.config.checkpoint_every == 0
    if action in REPLACE_EXECUTED or at_checkpoint:
        state["executed"] = tuple(request(b) for b in core.executed)
    return state


def log_params(
    params: Mapping[str, Any], sent: tuple[Any, ...], core: Any = None
) -> Mapping[str, Any]:
    """The action's parameters, a pre-prepared batch (PrePrepare(i, r)) by its spec name, from the
    pre-prepare the action sends."""
    if "r" not in params:
        return params
    for m in sent:
        if isinstance(m, Signed) and isinstance(m.body, PrePrepare):
            return {**params, "r": request(m.body.batch)}
    raise ValueError(f"PrePrepare({dict(params)}) sent no pre-prepare")


def fingerprint(core: Any) -> Hashable:
    """What of a replica the spec sees: its view, status, stable checkpoint and what it executed
    (by its length and the version of the list: impl/pbft/replica.py `history_epoch`)."""
    assert isinstance(core, Replica)
    if not hasattr(core, "history_epoch"):
        return None  # before its Restart: nothing restored yet
    return (core.view, core.status, core.stable, len(core.executed), core.history_epoch)
