"""The spec's action names, and how a core reports which of its effects each action produced.

One vocabulary: the actions of specs/PBFT.tla are the names the replica and the client give their
own steps, like etcd-io/raft's trace events (state_trace.go). A core knows which spec action it is
taking when it takes it (receiving the last commit of a quorum *is* Execute(i)), so rather than have
the simulator plugin guess from the effects, each core returns an `Action` effect (impl/base/effects.py)
there: the action and its parameters, followed by the effects that belong to it. `lead` puts a
step's first action at the front, so that what the step did before it (a Persist, a stored message's
timer) is that action's too.

A step holds at most one action that changes the replica's own state (view, status, executed,
stable), and it comes first; actions that only send (PrePrepare, Prepare, Commit) may follow it.
Anything more is deferred to a later step (replica.py's zero-delay `progress` timer).
"""

from __future__ import annotations

from typing import Final

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect

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


def lead(effects: list[Effect]) -> list[Effect]:
    """`effects` with the first `Action` moved to the front (unchanged without one)."""
    for k, effect in enumerate(effects):
        if isinstance(effect, Action):
            return [effect, *effects[:k], *effects[k + 1 :]] if k else effects
    return effects
