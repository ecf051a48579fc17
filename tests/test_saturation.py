"""The saturation stop (property_tests/saturation.py): a Hypothesis run ends once its coverage has
not grown for a window of examples, its `max_examples` the upper bound, and stops at the same
example every time."""

from __future__ import annotations

import pytest
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck import coverage
from meshcheck.property_tests import saturation
from meshcheck.property_tests.profiles import SATURATION
from meshcheck.property_tests.saturation import Saturation

POLICY = Saturation(share=0.25, least=10, least_budget=40)  # dev's: a window of 50 of 200
BUDGET = settings(max_examples=200, derandomize=True, database=None, deadline=None)


def run(
    kinds: int, budget: settings = BUDGET, policy: Saturation | None = POLICY
) -> saturation.Run:
    """One Hypothesis run whose examples reach `kinds` distinct spec actions of a toy protocol
    in all (each example fires action a<x mod kinds>); the run as the stop noted it."""

    @budget
    @given(st.integers(0, 10**9))
    def reaches(x: int) -> None:
        coverage.actions("toy", [f"a{x % kinds}"])

    saturation.take_runs()
    with saturation.configured(policy):
        reaches()
    (found,) = saturation.take_runs()
    return found


def test_a_run_that_reaches_nothing_new_stops_a_window_after_its_last_growth() -> None:
    found = run(3)
    assert found.stopped and found.budget == 200
    assert found.examples == found.last_growth + 50 < 200
    assert found.identity.endswith("run.<locals>.reaches(kinds=3)")


def test_two_runs_stop_at_the_same_example() -> None:
    assert run(3) == run(3)


def test_what_a_test_recorded_before_the_run_does_not_move_the_stop() -> None:
    """Growth is counted from the run's start: inside a test that already fired every action (a
    recorder running, as under pytest) the run stops where it stops alone (`meshcheck mutants`)."""
    alone = run(3)
    coverage.start()
    try:
        coverage.actions("toy", ["a0", "a1", "a2"])
        inside = run(3)
    finally:
        coverage.stop()
    assert inside == alone


def test_a_run_that_keeps_reaching_new_actions_runs_its_whole_budget() -> None:
    found = run(10**9)
    assert (found.examples, found.stopped) == (200, False)


def test_without_a_policy_every_example_runs() -> None:
    assert run(3, policy=None).examples == 200


def test_saturation_off_in_the_environment_runs_every_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(saturation.ENV, "0")
    assert run(3).examples == 200


def test_a_budget_under_the_policys_least_runs_whole() -> None:
    small = settings(BUDGET, max_examples=30)
    assert (run(3, small).examples, run(3, small).stopped) == (30, False)


def test_a_run_that_does_not_shrink_hunts_a_kill_and_runs_whole() -> None:
    """Every check that must kill a mutant runs without shrinking: it keeps all its examples."""
    hunt = settings(BUDGET, phases=[Phase.generate])
    assert (run(3, hunt).examples, run(3, hunt).stopped) == (200, False)


def test_a_failure_found_is_reported_as_without_the_stop() -> None:
    """Once an example failed, Hypothesis's own rules decide (it shrinks and reports it)."""

    @BUDGET
    @given(st.integers(0, 100))
    def fails_above_fifty(x: int) -> None:
        coverage.actions("toy", ["a"])
        assert x <= 50

    with saturation.configured(POLICY), pytest.raises(AssertionError):
        fails_above_fifty()


def test_only_the_dev_profile_stops_early() -> None:
    """`make test` (ci) and the deep profile keep every example; `make verify` (dev) stops."""
    assert set(SATURATION) == {"dev"}
    assert SATURATION["dev"].window(200) == 50 and SATURATION["dev"].window(39) is None
