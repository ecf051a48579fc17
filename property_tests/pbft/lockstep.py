"""Lockstep of impl/pbft against specs/PBFT.tla: TLC says what may happen next, Hypothesis picks it,
the implementation must follow (the machine's skeleton is property_tests/lockstep.py).

One rule per spec action (`state.Prepare(...)`, `state.NewView(...)`), enabled when TLC's Stepper
finds a successor by it under models/Lockstep.cfg (four replicas, r1 Byzantine: the primary of
view 0 equivocates whenever the driver has it sign two pre-prepares). The `Driver` makes the group
take the step (driver.py: deliveries, then the replica's reaction), and the refinement mapping
must then equal TLC's successor state, variable for variable; before that, the step must break
none of the spec's action properties (ViewMonotonic, StableCheckpointMonotonic: transitions.py).

One event of the implementation may be more than one spec step: a replica's step holds at most one
action that changes its state, first, and then any actions that only send (impl/pbft/actions.py):
a new primary pre-prepares the requests it knew of right after its NEW-VIEW, a backup prepares
the pre-prepares that a moving window brought in. The simulator records each such action as a
step of its own; the first must be the spec's step, and every later one must be a step the spec
allows from there (TLC checks each; a Commit the spec does not allow yet is how a quorum of 2f
shows). The spec path then continues from where the implementation got to.

A mismatch, the implementation acting before the spec's guard holds, or failing to take the step,
raises `CheckFailed` with the variables that differ and the spec path that led there (an ITF
trace: every step of it is a spec step, so it replays on the spec, and against the implementation
as a regression test). The machine, the failure's trace, stored-trace replay and shrinking are
property_tests/harness.py; the `Follower` here is PBFT's own.
"""

from __future__ import annotations

import functools

from hypothesis import reject

from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft import crypto
from meshcheck.property_tests import harness
from meshcheck.property_tests.harness import PathMismatch
from meshcheck.property_tests.histories import LOCKSTEP_BUDGET
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.lockstep import differences
from meshcheck.property_tests.pbft.driver import Driver
from meshcheck.property_tests.pbft.free_runs import honest
from meshcheck.property_tests.pbft.free_runs import request_key
from meshcheck.property_tests.pbft.model import Model
from meshcheck.property_tests.pbft.transitions import broken
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.specs.tlc.stepper import Transition

__all__ = ["PBFT", "Follower", "PathMismatch", "lockstep", "lockstep_stepper", "successors"]


@functools.cache
def lockstep_model() -> Model:
    return Model.from_cfg(PBFT.config_path)


def brief(rec: Value) -> str:
    """A message in a few words: `Prepare(view=0, seq=1, req="a", src="r2")`."""
    if not isinstance(rec, FrozenDict):
        return format_value(rec)
    fields = [f"{k}={format_value(v)}" for k, v in rec.items() if k != "type"]
    return f"{rec.get('type')}({', '.join(fields)})"


def describe(t: Transition, before: State) -> str:
    """The step as one line: the action instance and what it sent."""
    new, old = t.state["msgs"], before["msgs"]
    added = (
        sorted(new - old, key=repr)
        if isinstance(new, frozenset) and isinstance(old, frozenset)
        else []
    )
    if not added:
        return t.action.label()
    more = f" and {len(added) - 1} more" if len(added) > 1 else ""
    return f"{t.action.label()} {brief(added[0])}{more}"


def beyond_max_seq(before: FrozenDict, after: FrozenDict) -> bool:
    """Whether `after` holds a message `before` did not, at a sequence number past MaxSeq."""
    limit = lockstep_model().max_seq
    new = set(after["msgs"]) - set(before["msgs"])
    return any(isinstance(m, FrozenDict) and int(m.get("seq", 0)) > limit for m in new)


class Follower(harness.Follower):
    """The implementation following a spec path, checked after every step.

    With `replay` (the path is given in advance) the spec steps the implementation takes on its own
    within one event are expected next in it."""

    def start(self, init: State) -> Driver:
        return Driver(lockstep_model(), bugs=self.bugs)

    def describe(self, t: Transition, before: State) -> str:
        return describe(t, before)

    def compare(self, label: harness.Label, want: FrozenDict, got: FrozenDict) -> None:
        """The refinement check, after PBFT.tla's action properties checked on the step from the
        spec's state before (the one the implementation was found in) to the implementation's
        own state, so that a replica whose view or stable checkpoint went back is reported by the
        property's name, not only as a state that differs from the spec's."""
        names = broken(self.path[-2].state, got)
        if names:
            problem = f"after {label} the implementation breaks {', '.join(names)}:"
            self.fail([problem, *differences(want, got)])
        super().compare(label, want, got)

    def history_problem(self) -> str | None:
        """The client core's history (the spec's opaque requests "a", "b", ...: each named once)."""
        sim = self.driver.sim
        return check_history(
            sim, honest=honest(sim), dedup=True, identity=request_key, budget=LOCKSTEP_BUDGET
        )

    def take(self, t: Transition) -> harness.Label:
        """Take the spec's step `t` from the current spec state; its one-line description. After
        it, `state` is where the implementation got to (t.state, or further: see the module)."""
        early = self.taken_early(t)
        if early is not None:
            return early
        label = self.label(t)
        self.path.append(Step(t.state.values, t.action.name, t.action.params))
        start = self.driver.sim.trace_length()
        try:
            self.driver.take(t.action.name, t.action.params, self.state.values, t.state.values)
        except Exception as exc:  # the implementation could not take a spec step: a bug too
            self.fail([f"the implementation failed to take {label}: {type(exc).__name__}: {exc}"])
        taken = self.driver.sim.trace().steps[start:]
        want = t.state.values
        if not taken:
            self.fail([f"the implementation did not take {label}: nothing the spec sees changed"])
        first = taken[0]
        if (first.action, first.params) != (t.action.name, t.action.params):
            self.fail(
                [
                    f"where the spec took {label}, the implementation took {first.label()}:",
                    *differences(want, first.state),
                ]
            )
        self.compare(label, want, first.state)
        state = t.state
        stepper = self.target.stepper()
        for step in taken[1:]:
            action = ActionInstance(step.action, step.params)
            found = [s for s in self.target.successors.by(state, action) if s.values == step.state]
            if not found and not self.replay and beyond_max_seq(state.values, step.state):
                # the implementation went on past the model's MaxSeq, a bound of the model and not
                # of the protocol (a primary pre-prepares what its window allows): this example has
                # left the model, so it is discarded, not failed
                reject()
            if not found:
                self.fail(
                    [
                        f"after {label} the implementation also took {step.label()} in the same "
                        f"event, which the spec does not allow there"
                        + ("" if action in stepper.actions else " (no such action instance)"),
                        *differences(state.values, step.state),
                    ]
                )
            state = found[0]
            self.path.append(Step(state.values, action.name, action.params))
            if self.replay:
                self.ahead.append(Transition(action, state))
        self.state = state
        return label


PBFT = harness.LockstepSpec(
    "pbft", "PBFT", "Lockstep.cfg", Follower, machine="PbftLockstep", context=crypto.memoised
)
successors = PBFT.successors


def lockstep_stepper() -> Stepper:
    """One Stepper over PBFT.tla and the lockstep model per process (building one takes seconds)."""
    return PBFT.stepper()


lockstep = PBFT.lockstep  # the check: CheckFailed on a divergence
