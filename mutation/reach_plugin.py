"""A pytest plugin for mutation/reach.py (passed with `-p`): coverage.py measures the run, with one
coverage context per test, named by the test's node id as mutmut names tests, so that the data
says which tests execute each line. A test's setup and teardown get contexts of their own (`ID|setup`,
`ID|teardown`): a fixture may be shared by the tests after it (scope module or session), so a line
run there is not the one test's alone, and mutation/reach.py gives its mutants every test.

MESHCHECK_REACH_DATA names the data file; MESHCHECK_REACH_SOURCE the folder measured (the copy of
one core under mutants/). Lines run outside any test (imports, collection) fall in the empty context.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import coverage
import pytest

_cov: coverage.Coverage | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _cov
    _cov = coverage.Coverage(
        data_file=os.environ["MESHCHECK_REACH_DATA"],
        source=[os.environ["MESHCHECK_REACH_SOURCE"]],
        branch=False,
        config_file=False,
    )
    _cov.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _cov is not None:
        _cov.stop()
        _cov.save()


def _phase(name: str) -> Any:
    @pytest.hookimpl(hookwrapper=True)
    def hook(item: pytest.Item) -> Generator[None, None, None]:
        assert _cov is not None
        _cov.switch_context(item.nodeid + name)
        yield
        _cov.switch_context("")

    return hook


pytest_runtest_setup = _phase("|setup")
pytest_runtest_call = _phase("")
pytest_runtest_teardown = _phase("|teardown")
