"""A trace: the one shape every trace in meshcheck has, from TLC or from the implementation.

A trace is a sequence of states (variable name to value, see `impl.base.values`); each state but the first
was reached by a step with an action name and its parameter bindings. `Step.action` of the first state
is "Init". A liveness counterexample is a lasso: `loop` is the index of the state the last state steps
back to (the behaviour repeats states[loop:] forever); None for a finite trace.

The same names are used for the spec's actions, the implementation's trace events and the Hypothesis
rules, so `action` means the same thing in a model trace and an implementation trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.base.values import FrozenDict

INIT = "Init"


def _frozen(m: Mapping[str, Any]) -> FrozenDict:
    return m if isinstance(m, FrozenDict) else FrozenDict(m)


@attrs.frozen
class Step:
    """One state of a trace and the step that led to it."""

    state: FrozenDict = attrs.field(converter=_frozen)  # variable -> Value
    action: str = INIT
    params: FrozenDict = attrs.field(factory=FrozenDict, converter=_frozen)  # name -> Value
    meta: FrozenDict = attrs.field(
        factory=FrozenDict, converter=_frozen
    )  # e.g. faults, events, node

    def label(self) -> str:
        """`Action(p=v, q=w)`: the step as people write it."""
        if not self.params:
            return self.action
        from meshcheck.impl.base.text import format_value

        args = ", ".join(f"{k}={format_value(v)}" for k, v in self.params.items())
        return f"{self.action}({args})"


@attrs.frozen
class Trace:
    """A finite trace or a lasso of states over the variables `vars`."""

    vars: tuple[str, ...]
    steps: tuple[Step, ...]
    loop: int | None = None
    meta: FrozenDict = attrs.field(
        factory=FrozenDict, converter=_frozen
    )  # source, spec, violation, seed

    def __attrs_post_init__(self) -> None:
        if self.loop is not None and not 0 <= self.loop < len(self.steps):
            raise ValueError(f"loop index {self.loop} outside the trace (0..{len(self.steps) - 1})")

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def states(self) -> tuple[FrozenDict, ...]:
        return tuple(s.state for s in self.steps)

    def changed(self, i: int) -> frozenset[str]:
        """The variables whose value step i changed (all of them for the first state)."""
        if i == 0:
            return frozenset(self.steps[0].state)
        before, after = self.steps[i - 1].state, self.steps[i].state
        return frozenset(v for v in after if before.get(v) != after[v])
