"""Make a lockstep counterexample shorter: drop steps while the implementation still diverges.

Hypothesis shrinks the program it generated, but a stateful program is hard to shrink: deleting one
rule call changes what the next draws mean, so it often stops at a counterexample with steps that do
nothing for the bug (a restart that loses nothing, a message sent and never delivered). This works on
the spec path instead (delta debugging): remove step k (or a chunk of steps), re-derive the rest of the
path from TLC (each later step is the same action instance moving the same messages, so it means the
same thing; a step that is no longer possible goes too, so removing a send removes its delivery),
and keep the shorter path if the implementation with the bug still fails on it. Chunks of steps
first, then single steps, until no single step can go: the result is 1-minimal (every step left is
needed).
"""

from __future__ import annotations

from collections.abc import Sequence

from property_tests.failure import CheckFailed
from specs.tlc.stepper import ActionInstance, State, Transition

from .driver import bag_change
from .lockstep import Follower, lockstep_stepper, successors

Signature = tuple[ActionInstance, tuple[str, ...], tuple[str, ...]]


def _signature(action: ActionInstance, before: State, after: State) -> Signature:
    gone, added = bag_change(before.values, after.values)
    return action, tuple(sorted(map(repr, gone))), tuple(sorted(map(repr, added)))


def _rederive(init: State, wanted: Sequence[Signature]) -> tuple[list[Transition], list[Signature]]:
    """The path from `init` taking, at each step, the successor with that signature, skipping the
    steps that are no longer possible (removing a send removes the delivery of what it sent); the
    path, and the signatures it kept."""
    path: list[Transition] = []
    kept: list[Signature] = []
    state = init
    for sig in wanted:
        action = sig[0]
        options = [t for t in successors(state) if t.action == action]
        exact = [t for t in options if _signature(action, state, t.state) == sig]
        chosen = exact[0] if exact else options[0] if len(options) == 1 else None
        if chosen is None:
            continue
        path.append(chosen)
        kept.append(_signature(action, state, chosen.state))
        state = chosen.state
    return path, kept


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
    trace = failure.trace
    if trace is None or trace.meta.get("source") != "lockstep" or len(trace.steps) < 2:
        return failure
    stepper = lockstep_stepper()
    states = [stepper.state(step.state) for step in trace.steps]
    init = states[0]
    wanted: list[Signature] = [
        _signature(ActionInstance(s.action, s.params), states[k], states[k + 1])
        for k, s in enumerate(trace.steps[1:])
    ]
    best = failure
    replays = 0
    # Chunks first (delta debugging): a long prefix of steps the bug does not need goes in a few
    # replays; then smaller chunks, down to single steps, until nothing more can go.
    size = max(1, len(wanted) // 2)
    while replays < budget:
        shrunk = False
        k = len(wanted) - size
        while k >= 0 and replays < budget:
            path, kept = _rederive(init, wanted[:k] + wanted[k + size :])
            replays += 1
            found = _fails(init, path, bugs)
            if found is not None and found.steps < best.steps:
                best = found
                # the failure may come before the end: keep only the steps it needed
                wanted = kept[: found.steps]
                shrunk = True
            k -= size
        if size == 1 and not shrunk:
            break
        size = max(1, size // 2) if not shrunk else min(size, max(1, len(wanted) // 2))
    return best
