"""Make a hybrid lockstep counterexample shorter (property_tests/minimize.py: delta debugging on the
spec path), for either spec: the failure's trace names it (`#meta.spec_name`). A step's signature
is its action instance and what it changed: the members it added to a set and the new values of
the other variables (Apply(i) names no entry, OrderEvidence(e, k) no record: the step's effect
tells the candidates apart when a removed step changes what comes next).
"""

from __future__ import annotations

from collections.abc import Sequence

from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.hybrid.lockstep import Follower
from meshcheck.property_tests.hybrid.spec import SPECS, Spec
from meshcheck.property_tests.minimize import effect_signature, minimize_path
from meshcheck.specs.tlc.stepper import State, Transition


def replay(
    spec: Spec, init: State, path: Sequence[Transition], bugs: frozenset[str]
) -> CheckFailed | None:
    """The failure of the implementation with `bugs` following `path` (None: it follows it)."""
    try:
        follower = Follower(spec, init, bugs)
        for t in path:
            follower.take(t)
    except CheckFailed as failure:
        return failure
    return None


def minimize(failure: CheckFailed, bugs: frozenset[str], *, budget: int = 400) -> CheckFailed:
    """A 1-minimal version of a lockstep failure (at most `budget` replays); `failure` itself when
    it has no trace or nothing can go."""
    trace = failure.trace
    spec = SPECS.get(str(trace.meta.get("spec_name"))) if trace is not None else None
    if spec is None:
        return failure
    return minimize_path(
        failure,
        stepper=spec.stepper(),
        successors=spec.successors,
        signature=effect_signature,
        replay=lambda init, path: replay(spec, init, path, bugs),
        budget=budget,
    )
