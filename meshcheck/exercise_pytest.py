"""A pytest plugin that keeps, for each test, how many of the runs it judged were vacuous
(meshcheck/exercise.py): the JUnit report's property `vacuous-runs`, "2/10: the first reason",
from which `meshcheck verify` counts a test all of whose runs were vacuous apart from a pass.
`meshcheck verify` loads it into its property-test run (`-p meshcheck.exercise_pytest`), for
meshcheck's own tests and a plug-in's alike."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from meshcheck import exercise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    exercise.take()  # this test's runs only
    try:
        return (yield)
    finally:
        kept = exercise.tally(exercise.take())
        if kept:
            item.user_properties.append((exercise.PROPERTY, kept))
