"""Make a PBFT lockstep counterexample shorter (property_tests/minimize.py: delta debugging on the
spec path). A step's signature is its action instance and what it did: the messages it added to
msgs and the new values of the other variables it changed (Execute(i) names no request, and
StableCheckpoint(i, n) no digest: the successors of one instance differ there).
"""

from __future__ import annotations

from collections.abc import Sequence

from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.minimize import effect_signature, minimize_path
from meshcheck.property_tests.pbft.lockstep import (
    Follower,
    PathMismatch,
    lockstep_stepper,
    successors,
)
from meshcheck.specs.tlc.stepper import State, Transition


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
        signature=effect_signature,
        replay=lambda init, path: replay(init, path, bugs),
        budget=budget,
    )
