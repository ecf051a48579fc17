"""What the protocols' lockstep tests expect of a check, said once (property_tests/*/test_lockstep.py
and the tests of other checks that follow a spec path).

`KILL` is the budget a test gives a search that must kill a mutant: derandomized, no shrinking, no
example database, the first failure reported. `every_action_fires` holds a correct run to taking
every action of the spec, `counterexample` a failure to a trace that names its mutant and has a
state per step, and `Walk` follows a scripted spec path on a driver, state by state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import Protocol

from hypothesis import Phase
from hypothesis import settings

from meshcheck.impl.base.trace import Trace
from meshcheck.property_tests.coverage import never_taken
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Transition

KILL = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    report_multiple_bugs=False,
    phases=[Phase.generate],
)


def every_action_fires(
    check: Callable[..., None],
    budget: settings,
    actions: Iterable[str],
    *,
    what: str = "lockstep never took",
) -> None:
    """The lockstep `check` of the correct implementation with `budget` (and, where a random draw
    missed one, derandomized: `never_taken`) takes every action of `actions`: an action the test
    never takes is an action nobody tested."""

    def search(budget: settings, fired: Counter[str]) -> None:
        check(frozenset(), budget, fired=fired)

    never, fired = never_taken(search, budget, actions)
    assert not never, f"{what} {never} (taken: {dict(fired)})"


def counterexample(failed: CheckFailed, bug: str) -> Trace:
    """The failure's trace: it names `bug` alone, and holds the initial state, then one per step."""
    trace = failed.trace
    assert trace is not None and trace.meta["bugs"] == (bug,)
    assert len(trace.steps) == failed.steps + 1  # the initial state, then one per step
    return trace


class SpecDriver(Protocol):
    """A lockstep driver: takes a spec step on the implementation, and shows its state."""

    def take(
        self,
        action: str,
        params: Mapping[str, Any],
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        /,
    ) -> None: ...

    def state(self) -> Mapping[str, Any]: ...


class Walk:
    """A scripted path through a spec, taken on a driver: after every step the driver's state is
    the spec's (`differences` says how they differ when not)."""

    def __init__(
        self,
        state: State,
        driver: SpecDriver,
        successors: Callable[[State], Iterable[Transition]],
        differences: Callable[[Mapping[str, Any], Mapping[str, Any]], object],
    ) -> None:
        self.state = state
        self.driver = driver
        self.successors = successors
        self.differences = differences

    def take(self, t: Transition) -> None:
        self.driver.take(t.action.name, t.action.params, self.state.values, t.state.values)
        assert self.driver.state() == t.state.values, self.differences(
            t.state.values, self.driver.state()
        )
        self.state = t.state

    def only(self, label: str) -> Transition:
        """The one successor of the current state with this label."""
        (t,) = [t for t in self.successors(self.state) if t.action.label() == label]
        return t

    def labelled(self, label: str) -> list[Transition]:
        """Every successor of the current state with this label."""
        return [t for t in self.successors(self.state) if t.action.label() == label]
