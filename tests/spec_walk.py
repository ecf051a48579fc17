"""`Walk`: a scripted behaviour of a spec, one named action instance at a time, through the Stepper.

The spec tests (test_pbft_spec, test_threat_spec, test_hybrid_spec) show that every action of a
quick model fires by walking a behaviour that takes each of them, with every invariant checked
after each step.
"""

from __future__ import annotations

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper


class Walk:
    """Drives a Stepper through a scripted behaviour, one named action instance at a time."""

    def __init__(self, st: Stepper) -> None:
        self.st = st
        (self.state,) = st.init_states()
        self.taken: list[str] = []

    def enabled(self, name: str, **params: Value) -> bool:
        return any(
            t.action.name == name and t.action.params == FrozenDict(params)
            for t in self.st.successors(self.state)
        )

    def __call__(self, name: str, **params: Value) -> State:
        """Take `name(params)`: it must be enabled, lead to one state, and break no invariant."""
        matches = [
            t
            for t in self.st.successors(self.state)
            if t.action.name == name and t.action.params == FrozenDict(params)
        ]
        assert matches, f"{name}{params} is not enabled after {self.taken}"
        assert len({t.state for t in matches}) == 1, f"{name}{params} has several successors"
        self.state = matches[0].state
        self.taken.append(name)
        assert self.st.violated(self.state) == [], self.taken
        return self.state
