"""`never_taken` (property_tests/coverage.py): a lockstep test's every-action assertion is made of
the fixed-seed search, to which a fresh draw adds and from which it never takes away."""

from __future__ import annotations

from collections import Counter

from hypothesis import settings

from meshcheck.property_tests.coverage import Search
from meshcheck.property_tests.coverage import never_taken


def _search(calls: list[bool]) -> Search:
    def search(budget: settings, fired: Counter[str]) -> None:
        calls.append(budget.derandomize)
        fired["Push"] += 1
        if budget.derandomize:  # the fixed-seed search reaches HandlePush; this draw does not
            fired["HandlePush"] += 1

    return search


def test_a_draw_that_misses_an_action_is_completed_by_the_fixed_seed_search() -> None:
    calls: list[bool] = []
    never, fired = never_taken(_search(calls), settings(derandomize=False), ["Push", "HandlePush"])
    assert never == [] and fired["HandlePush"] == 1
    assert calls == [False, True]  # the derandomized search ran because the draw missed one


def test_the_fixed_seed_search_runs_once_and_what_it_misses_is_reported() -> None:
    calls: list[bool] = []
    never, _ = never_taken(_search(calls), settings(derandomize=True), ["Push", "Crash"])
    assert never == ["Crash"]
    assert calls == [True]


def test_a_draw_that_takes_everything_costs_one_search() -> None:
    calls: list[bool] = []
    never, _ = never_taken(_search(calls), settings(derandomize=False), ["Push"])
    assert never == [] and calls == [False]
