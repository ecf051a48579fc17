"""HotStuff.tla's action property LockMonotonic in Python, on a step from one spec state to the next.

LockMonotonic (specs/HotStuff.tla): an honest replica's locked block never moves to a lower view
(Yin et al., PODC 2019, Algorithm 4's update: the lock moves to b' only when b' is higher; the
safety proof rests on it). A state is the refinement mapping of impl/hotstuff/refinement.py (or
TLC's state): `locked` maps every replica to its locked block as a chain of entries, and a
Byzantine replica's stays Genesis there (the spec's TypeOK), so checking every replica of a state
checks the honest ones.

Checked by lockstep (on the implementation's state, before the refinement is compared:
property_tests/hotstuff/lockstep.py) and trace validation (property_tests/hotstuff/validation.py);
the free runs' `Monitor` (property_tests/hotstuff/free_runs.py) checks it on the replicas
themselves after every step, across restarts too.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence

from meshcheck.impl.base.values import Value


def block_view(chain: Value) -> int:
    """HotStuff.tla's View(b): the view of a chain's last entry, 0 for Genesis (the empty chain)."""
    assert isinstance(chain, Sequence)
    if not chain:
        return 0
    last = chain[-1]
    assert isinstance(last, Mapping)
    return int(last["view"])


def lock_monotonic(before: Mapping[str, Value], after: Mapping[str, Value]) -> bool:
    """LockMonotonic: no replica's locked block is of a lower view after the step."""
    old, new = before["locked"], after["locked"]
    assert isinstance(old, Mapping) and isinstance(new, Mapping)
    return all(block_view(new[i]) >= block_view(old[i]) for i in new if i in old)


def broken(before: Mapping[str, Value], after: Mapping[str, Value]) -> list[str]:
    """The spec names of the action properties the step from `before` to `after` breaks (empty:
    none); not evaluated when the step left every lock alone."""
    if before["locked"] == after["locked"] or lock_monotonic(before, after):
        return []
    return ["LockMonotonic"]
