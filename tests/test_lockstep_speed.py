"""What keeps lockstep cheap without changing what it checks (property_tests/lockstep.py,
property_tests/harness.py): the implementation is started by an example's first rule, not when
Hypothesis makes the machine; the cycle collector is tuned for the run and restored after it."""

from __future__ import annotations

import gc
from typing import Any

import attrs
import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests import harness
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.lockstep import few_collections
from meshcheck.specs.tlc.stepper import State
from tests.toy.harness import TWOPHASE


def follower_of(machine: object) -> harness.Follower | None:
    found: harness.Follower | None = getattr(machine, "follower")  # noqa: B009
    return found


def test_the_implementation_starts_at_the_first_rule() -> None:
    machine = harness.lockstep_machine(TWOPHASE)()
    assert machine.state is TWOPHASE.init()
    assert follower_of(machine) is None  # nothing built yet: an abandoned example costs no cluster
    machine.begin()
    follower = follower_of(machine)
    assert follower is not None
    assert follower.state is TWOPHASE.init()
    machine.begin()  # once per example
    assert follower_of(machine) is follower


def test_a_wrong_initial_state_still_fails_at_the_first_rule() -> None:
    """Starting late must not skip the initial-state comparison."""
    follower = TWOPHASE.follower

    class Broken(follower):  # type: ignore[misc,valid-type]
        def start(self, init: State) -> Any:
            driver = super().start(init)
            state = driver.state

            def wrong() -> FrozenDict:
                values = dict(state())
                first = next(iter(values))
                values[first] = "wrong"
                return FrozenDict(values)

            driver.state = wrong
            return driver

    machine = harness.lockstep_machine(attrs.evolve(TWOPHASE, follower=Broken))()
    with pytest.raises(CheckFailed, match="initial state differs"):
        machine.begin()


def test_few_collections_restores_the_collector() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with few_collections(young=12_345):
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_freeze_count() > 0
        with few_collections(young=99):  # nested: the outer setting stands
            assert gc.get_threshold()[0] == 12_345
        assert gc.get_threshold()[0] == 12_345
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen
    with pytest.raises(RuntimeError), few_collections():
        raise RuntimeError("a failing run restores it too")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_few_collections_leaves_what_others_froze_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with few_collections():
            pass
        assert gc.get_freeze_count() == frozen > 0
    finally:
        gc.unfreeze()
