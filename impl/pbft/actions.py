"""The spec's action names, and how a core marks which of its effects each action produced.

One vocabulary (DESIGN.md): the actions of specs/PBFT.tla are the names the replica and the client
give their own steps, like etcd's trace events. A core knows which spec action it is taking when it
takes it (receiving the last commit of a quorum *is* Execute(i)), so rather than have the simulator
plugin guess from the effects, each core lists `last_actions`: the action, its parameters, and the
index of the first effect that belongs to it. The plugin cuts the step's effects there.

A step holds at most one action that changes the replica's own state (view, status, executed,
stable), and it comes first; actions that only send (PrePrepare, Prepare, Commit) may follow it.
Anything more is deferred to a later step (replica.py's zero-delay `progress` timer).
"""

from __future__ import annotations

from typing import Final

import attrs

from meshcheck.impl.base.values import FrozenDict

REQUEST: Final = "Request"  # Request(r): the client sends r
PRE_PREPARE: Final = "PrePrepare"  # PrePrepare(i, r)
PREPARE: Final = "Prepare"  # Prepare(i, v, n)
COMMIT: Final = "Commit"  # Commit(i, v, n)
EXECUTE: Final = "Execute"  # Execute(i)
STABLE_CHECKPOINT: Final = "StableCheckpoint"  # StableCheckpoint(i, n)
START_VIEW_CHANGE: Final = "StartViewChange"  # StartViewChange(i)
NEW_VIEW: Final = "NewView"  # NewView(i)
ACCEPT_NEW_VIEW: Final = "AcceptNewView"  # AcceptNewView(i, v)
ACCEPT: Final = "Accept"  # Accept(n, r): the client accepts f+1 matching replies

ACTIONS: Final = (
    REQUEST,
    PRE_PREPARE,
    PREPARE,
    COMMIT,
    EXECUTE,
    STABLE_CHECKPOINT,
    START_VIEW_CHANGE,
    NEW_VIEW,
    ACCEPT_NEW_VIEW,
    ACCEPT,
)

# the actions that change a replica's own spec variables (the others only add to msgs)
STATE_CHANGING: Final = frozenset(
    {EXECUTE, STABLE_CHECKPOINT, START_VIEW_CHANGE, NEW_VIEW, ACCEPT_NEW_VIEW}
)


@attrs.frozen
class ActionMark:
    """Spec action `name(params)` produced the step's effects from index `start` on (up to the next
    mark's start)."""

    name: str
    params: FrozenDict
    start: int
