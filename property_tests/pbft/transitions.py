"""PBFT.tla's action properties in Python, on a step from one spec state to the next.

The same names as the spec's (specs/PBFT.tla, "Action properties"; specs/PBFT.md):

- ViewMonotonic: no honest replica's view decreases (Castro and Liskov, OSDI 1999, section 4.4: a
  replica moves to v + 1 when it starts a view change and accepts a NEW-VIEW only for a later view,
  or for the one it is changing to);
- StableCheckpointMonotonic: no honest replica's stable checkpoint, its low watermark h, goes back
  (section 4.3: the log at and below it is discarded once it is stable).

A state is the refinement mapping of impl/pbft/refinement.py (or TLC's state): `view` and `stable`
map every replica to its value, and a Byzantine replica's stay at their initial values there (the
spec's TypeOK), so checking every replica of a state checks the honest ones. The spec has no crash
and impl/pbft/replica.py persists the view and the stable checkpoint before a step's sends: a
restart is no exception to either.

Checked by lockstep (on the implementation's state, before the refinement is compared:
property_tests/pbft/lockstep.py), trace validation (property_tests/pbft/validation.py) and, on the
replicas themselves after every event of every free run, impl/pbft/byzantine/checks.py's
`SafetyMonitor`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping

from meshcheck.impl.base.values import Value


def _never_lower(variable: str, before: Mapping[str, Value], after: Mapping[str, Value]) -> bool:
    old, new = before[variable], after[variable]
    assert isinstance(old, Mapping) and isinstance(new, Mapping)
    return all(int(new[i]) >= int(old[i]) for i in new if i in old)


def view_monotonic(before: Mapping[str, Value], after: Mapping[str, Value]) -> bool:
    """ViewMonotonic: no replica's view is lower after the step."""
    return _never_lower("view", before, after)


def stable_checkpoint_monotonic(before: Mapping[str, Value], after: Mapping[str, Value]) -> bool:
    """StableCheckpointMonotonic: no replica's stable checkpoint is lower after the step."""
    return _never_lower("stable", before, after)


Transition = Callable[[Mapping[str, Value], Mapping[str, Value]], bool]

# PBFT.tla's action properties, in its order, each with the variable it reads.
TRANSITIONS: Mapping[str, Transition] = {
    "ViewMonotonic": view_monotonic,
    "StableCheckpointMonotonic": stable_checkpoint_monotonic,
}
READS: Mapping[str, str] = {"ViewMonotonic": "view", "StableCheckpointMonotonic": "stable"}


def broken(before: Mapping[str, Value], after: Mapping[str, Value]) -> list[str]:
    """The spec names of the action properties the step from `before` to `after` breaks (empty:
    none). A property whose variable the step left alone is not evaluated."""
    return [
        name
        for name, holds in TRANSITIONS.items()
        if before[READS[name]] != after[READS[name]] and not holds(before, after)
    ]
