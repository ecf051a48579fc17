"""What a HotStuff replica in a process writes to its NDJSON log (nodelog.py), for `meshcheck
validate --spec HotStuff` (meshcheck/traces/logs/validate.py, through specs/HotStuffLogs.tla).

After each of HotStuff.tla's actions the replica core reports (`Propose`, `Vote`, `FormQC`,
`Timeout`, `NewView`: impl/hotstuff/replica.py), the replica's slice of the refinement mapping
(impl/hotstuff/refinement.py) after that action, from the core's own snapshot of it
(`Replica.snapshots`: a step may take several actions): `view`, `lastVoted`, `highQC` (the block
of its highest QC), `locked`, and, on a `Vote` after which its committed head is of a view
divisible by COMMITTED_EVERY, `committed`. The spec's `msgs` follows from the actions.

Blocks. The spec's block is its chain from genesis (refinement.py `Chains`), as long as the run;
the log names a block by its view and its parent's view, `{"view": 5, "parent": 3}`, and
`committed` by the committed heads, and the validation rebuilds the chains
(meshcheck/traces/logs/hotstuff.py `decode`). `committed` is every prefix of the committed chain:
written after every commit it would make the log quadratic in the run's length, as PBFT's
`executed` would (pbft_log.py); a replica whose commits went wrong shows a different set at the next
one logged. A crash and restart is a stutter of HotStuff.tla (the replica persists every variable
of the spec before it sends): the log shows none.
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hotstuff.messages import GENESIS
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.impl.hotstuff.replica import Snapshot

COMMITTED_EVERY = 8


def block(core: Replica, h: bytes) -> FrozenDict:
    """A block as the log names it: its view and its parent's view (genesis: 0 and 0)."""
    if h == GENESIS.hash:
        return FrozenDict({"view": 0, "parent": 0})
    b = core.blocks[h]
    return FrozenDict({"view": b.view, "parent": core.block_view(b.parent)})


def _snapshot(core: Replica, nth: int) -> Snapshot:
    """The spec's state of the replica after the step's nth action (the core's own record)."""
    snapshots = getattr(core, "snapshots", ())
    return snapshots[nth] if nth < len(snapshots) else core.snapshot()


def log_state(core: Any, action: str, nth: int = 0) -> Mapping[str, Any]:
    assert isinstance(core, Replica)
    s = _snapshot(core, nth)
    state: dict[str, Any] = {
        "view": s.view,
        "lastVoted": s.last_voted,
        "highQC": block(core, s.high_qc),
        "locked": block(core, s.locked),
    }
    if action == "Vote" and any(core.block_view(h) % COMMITTED_EVERY == 0 for h in s.commits):
        state["committed"] = frozenset(block(core, h) for h in s.commits)
    return state


def log_params(
    params: Mapping[str, Any], sent: tuple[Any, ...], core: Any = None
) -> Mapping[str, Any]:
    """A block parameter (Vote(i, b), FormQC(i, b): the core gives its hash) as the log names it."""
    if "b" not in params:
        return params
    assert isinstance(core, Replica)
    return {**params, "b": block(core, params["b"])}


def fingerprint(core: Any) -> Hashable:
    """What of the replica the spec sees: its view, last voted view, highQC, lock and commits."""
    assert isinstance(core, Replica)
    if not core.started:
        return None  # before its Restart: nothing restored yet
    return core.snapshot()
