"""Make a lockstep counterexample shorter: drop steps while the implementation still diverges.

Hypothesis shrinks the program it generated, but a stateful program is hard to shrink: deleting one
rule call changes what the next draws mean, so it often stops at a counterexample with steps that do
nothing for the bug (a restart that loses nothing, a message sent and never used). This works on the
spec path instead (delta debugging): remove step k (or a chunk of steps), re-derive the rest of the
path from TLC (each later step is the same action instance with the same `signature`, what it did
in the protocol's terms, so it means the same thing; a step that is no longer possible goes too, so
removing a send removes its use), and keep the shorter path if the implementation with the bug still
fails on it. Chunks of steps first, then single steps, until no single step can go: the result is
1-minimal (every step left is needed).

The protocol supplies the signature of a step and `replay`: make the implementation follow a path,
returning the CheckFailed it raises (None when it follows to the end, or when the path is one the
follower cannot drive: not a failure of the implementation).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Sequence

from meshcheck.property_tests.failure import CheckFailed
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.specs.tlc.stepper import Transition

Signature = tuple[ActionInstance, Hashable]
Signer = Callable[[ActionInstance, State, State], Signature]
Replay = Callable[[State, Sequence[Transition]], CheckFailed | None]


def effect_signature(
    action: ActionInstance, before: State, after: State
) -> tuple[ActionInstance, tuple[str, ...]]:
    """A step's signature by what it did: its action instance, the members it added to set-valued
    variables, and the new values of the other variables it changed. For specs whose action
    parameters do not say everything (PBFT's Execute(i) names no request, Hybrid's Apply(i) no
    entry), so that the candidates of a removed step are told apart by their effect."""
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


def _rederive(
    init: State,
    wanted: Sequence[Signature],
    successors: Callable[[State], list[Transition]],
    signature: Signer,
) -> tuple[list[Transition], list[Signature]]:
    """The path from `init` taking, at each step, the successor with that signature, skipping the
    steps that are no longer possible; the path, and the signatures it kept."""
    path: list[Transition] = []
    kept: list[Signature] = []
    state = init
    for sig in wanted:
        action = sig[0]
        options = [t for t in successors(state) if t.action == action]
        exact = [t for t in options if signature(action, state, t.state) == sig]
        chosen = exact[0] if exact else options[0] if len(options) == 1 else None
        if chosen is None:
            continue
        path.append(chosen)
        kept.append(signature(action, state, chosen.state))
        state = chosen.state
    return path, kept


def minimize_path(
    failure: CheckFailed,
    *,
    stepper: Stepper,
    successors: Callable[[State], list[Transition]],
    signature: Signer,
    replay: Replay,
    budget: int = 400,
) -> CheckFailed:
    """A 1-minimal version of a lockstep failure (at most `budget` replays); `failure` itself when
    it has no trace or nothing can go."""
    trace = failure.trace
    if trace is None or trace.meta.get("source") != "lockstep" or len(trace.steps) < 2:
        return failure
    states = [stepper.state(step.state) for step in trace.steps]
    init = states[0]
    wanted: list[Signature] = [
        signature(ActionInstance(s.action, s.params), states[k], states[k + 1])
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
            path, kept = _rederive(init, wanted[:k] + wanted[k + size :], successors, signature)
            replays += 1
            found = replay(init, path)
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
