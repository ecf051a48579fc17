"""Make a Raft lockstep counterexample shorter (property_tests/minimize.py: delta debugging on the
spec path). A step's signature is its action instance and the messages it took from and added to
the bag: the spec's handlers choose their message inside the action, so the instance alone does not
say which message a re-derived step takes.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.minimize import minimize_path
from meshcheck.property_tests.raft.driver import bag_change
from meshcheck.property_tests.raft.lockstep import Follower, lockstep_stepper, successors
from meshcheck.specs.tlc.stepper import ActionInstance, State, Transition

Signature = tuple[ActionInstance, tuple[tuple[str, ...], tuple[str, ...]]]


def _signature(action: ActionInstance, before: State, after: State) -> Signature:
    gone, added = bag_change(before.values, after.values)
    return action, (tuple(sorted(map(repr, gone))), tuple(sorted(map(repr, added))))


def _fails(init: State, path: Sequence[Transition], bugs: frozenset[str]) -> CheckFailed | None:
    try:
        follower = Follower(init, bugs)
        for t in path:
            follower.take(t, successors(t.state))
    except CheckFailed as failure:
        return failure
    return None


def minimize(failure: CheckFailed, bugs: frozenset[str], *, budget: int = 400) -> CheckFailed:
    """A 1-minimal version of a lockstep failure (at most `budget` replays); `failure` itself when
    it has no trace or nothing can go."""
    return minimize_path(
        failure,
        stepper=lockstep_stepper(),
        successors=successors,
        signature=_signature,
        replay=lambda init, path: _fails(init, path, bugs),
        budget=budget,
    )
