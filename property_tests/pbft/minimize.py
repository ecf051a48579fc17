"""Make a PBFT lockstep counterexample shorter (property_tests/minimize.py: delta debugging on the
spec path). A step's signature is its action instance and what it did: the messages it added to
msgs and the new values of the other variables it changed (Execute(i) names no request, and
StableCheckpoint(i, n) no digest: the successors of one instance differ there).
"""

from __future__ import annotations

from collections.abc import Sequence

from property_tests.failure import CheckFailed
from property_tests.minimize import minimize_path
from specs.tlc.stepper import ActionInstance, State, Transition

from .lockstep import Follower, PathMismatch, lockstep_stepper, successors

Signature = tuple[ActionInstance, tuple[str, ...]]


def _signature(action: ActionInstance, before: State, after: State) -> Signature:
    old, new = before.values, after.values
    changes: list[str] = []
    for var, value in new.items():
        if value == old[var]:
            continue
        if isinstance(value, frozenset) and isinstance(old[var], frozenset):
            changes.extend(f"{var} + {m!r}" for m in value - old[var])
        else:
            changes.append(f"{var} = {value!r}")
    return action, tuple(sorted(changes))


def replay(init: State, path: Sequence[Transition], bugs: frozenset[str]) -> CheckFailed | None:
    """The failure of the implementation with `bugs` following `path` (None: it follows it, or the
    path is not one it can be made to follow)."""
    try:
        follower = Follower(init, bugs, replay=True)
        for t in path:
            follower.take(t)
    except CheckFailed as failure:
        return failure
    except PathMismatch:
        return None
    return None


def minimize(failure: CheckFailed, bugs: frozenset[str], *, budget: int = 400) -> CheckFailed:
    """A 1-minimal version of a lockstep failure (at most `budget` replays); `failure` itself when
    it has no trace or nothing can go."""
    return minimize_path(
        failure,
        stepper=lockstep_stepper(),
        successors=successors,
        signature=_signature,
        replay=lambda init, path: replay(init, path, bugs),
        budget=budget,
    )
