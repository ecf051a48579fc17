"""Lockstep of impl/hybrid against its two specs: TLC says what may happen next, Hypothesis picks
it, the implementation must follow (the machine's skeleton is property_tests/lockstep.py).

- `threat_lockstep`: specs/ThreatLevel.tla and the `ThreatModel` (threat_driver.py): evidence
  intake, counting, the window, the quiet period, the dwell, one level at a time;
- `hybrid_lockstep`: specs/Hybrid.tla and the honest `HybridNode`s with their replicated machines
  (driver.py): epochs, the switch, ops in flight, the committed history across switches.

One rule per spec action (`state.ReportEvidence(...)`, `state.Switch(...)`), enabled when TLC's
Stepper finds a successor by it; the driver makes the implementation take the same step, and the
refinement mapping must then equal TLC's successor state, variable for variable. Each spec step is
one driver step here (no implementation event holds several). A mismatch, or the implementation
refusing a step, raises `CheckFailed` with the variables that differ and the spec path that led
there, as an ITF trace (it replays on the spec, and against the implementation: stored.py).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any, NoReturn

from hypothesis import settings as Settings

from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.hybrid.driver import HybridDriver, Model
from meshcheck.property_tests.hybrid.spec import HYBRID, THREAT, Spec
from meshcheck.property_tests.hybrid.threat_driver import ThreatDriver
from meshcheck.property_tests.lockstep import LockstepBase, build_machine, differences, run_machine
from meshcheck.specs.tlc.stepper import State, Transition
from meshcheck.traces.model import Step

DriverFactory = Callable[[frozenset[str]], Any]


@functools.cache
def hybrid_model() -> Model:
    return Model.from_cfg(HYBRID.config)


def _driver(spec: Spec, bugs: frozenset[str]) -> Any:
    if spec is THREAT:
        return ThreatDriver(THREAT.config, bugs)
    return HybridDriver(hybrid_model(), bugs)


class Follower:
    """The implementation following a path of `spec`, compared after every step."""

    def __init__(
        self, spec: Spec, init: State, bugs: frozenset[str], source: str = "lockstep"
    ) -> None:
        self.spec = spec
        self.bugs = bugs
        self.source = source
        self.state = init
        self.path: list[Step] = [Step(init.values)]
        self.driver = _driver(spec, bugs)
        got = self.driver.state()
        if got != init.values:
            self.fail(["the initial state differs:", *differences(init.values, got)])

    def fail(self, problem: list[str]) -> NoReturn:
        steps = [s.label() for s in self.path[1:]]
        shown = ", ".join(steps[-6:])
        message = (
            f"{self.source} of {self.spec.name}.tla diverged after {len(steps)} steps "
            f"({'... ' if len(steps) > 6 else ''}{shown}):\n  " + "\n  ".join(problem)
        )
        trace = self.spec.trace(self.path, self.bugs, tuple(problem), self.source)
        raise CheckFailed(message, steps=len(steps), trace=trace)

    def take(self, t: Transition) -> str:
        label = t.action.label()
        self.path.append(Step(t.state.values, t.action.name, t.action.params))
        try:
            self.driver.take(t.action.name, t.action.params)
        except Exception as exc:  # the implementation could not take a spec step: a bug too
            self.fail([f"the implementation failed to take {label}: {type(exc).__name__}: {exc}"])
        want, got = t.state.values, self.driver.state()
        if got != want:
            problem = f"after {label} the implementation is not in the spec's state:"
            self.fail([problem, *differences(want, got)])
        self.state = t.state
        return label


def _base(spec: Spec) -> type[LockstepBase]:
    class Base(LockstepBase):
        def start(self) -> State:
            (init,) = spec.stepper().init_states()
            self.follower = Follower(spec, init, self.bugs)
            return init

        def successors(self, state: State) -> list[Transition]:
            return spec.successors(state)

        def follow(self, t: Transition) -> State:
            self.follower.take(t)
            return t.state

    Base.__name__ = Base.__qualname__ = f"{spec.name}LockstepBase"
    return Base


def lockstep_machine(
    spec: Spec, bugs: frozenset[str] = frozenset(), fired: Counter[str] | None = None
) -> type[LockstepBase]:
    """The lockstep machine of `spec` for an implementation with `bugs` (impl/hybrid/mutants.py)
    switched on; `fired` counts the spec actions it chose, across every example."""
    actions = tuple(spec.stepper().action_names)
    return build_machine(f"{spec.name}Lockstep", _base(spec), actions, bugs, fired)


def threat_lockstep(
    bugs: frozenset[str], settings: Settings, *, fired: Counter[str] | None = None
) -> None:
    """The check against ThreatLevel.tla: CheckFailed on a divergence."""
    run_machine(lockstep_machine(THREAT, bugs, fired), settings)


def hybrid_lockstep(
    bugs: frozenset[str], settings: Settings, *, fired: Counter[str] | None = None
) -> None:
    """The check against Hybrid.tla: CheckFailed on a divergence."""
    run_machine(lockstep_machine(HYBRID, bugs, fired), settings)
