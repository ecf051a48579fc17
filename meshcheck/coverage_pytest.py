"""A pytest plugin that records the coverage of a plug-in's property tests (meshcheck/coverage.py).

meshcheck's own property tests are recorded by property_tests/conftest.py, one JSON file per test
into MESHCHECK_COVERAGE_DIR (default reports/coverage). A plug-in's tests live in its own package,
outside that conftest: `meshcheck verify` loads this plugin into its property-test run
(`-p meshcheck.coverage_pytest`) so that they are recorded the same way. It records a test only
when nothing else does (the conftest's own recording, outermost, goes first), so meshcheck's own
tests are never counted twice.

A plug-in's simulated runs are recorded under its adapter's name (`AdapterPlugin.name`), which
need not be the name it is registered by (tests/adapter_example.py's adapter is "raft-adapter",
whatever protocol is built on it). What a test reaches under a name no protocol is registered by
counts for the protocol whose property tests hold the test (`coverage.attribute`), so the
plug-in's coverage row counts the actions its adapter's runs took.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from meshcheck import coverage


def pytest_sessionstart(session: pytest.Session) -> None:
    """A fresh coverage folder per session (not in an xdist worker: the controller cleared it)."""
    if hasattr(session.config, "workerinput") or not coverage.enabled():
        return
    for old in coverage.folder().glob("*.json"):
        old.unlink(missing_ok=True)


def owner(test: Path, root: Path) -> str | None:
    """The registered protocol whose property tests hold the file `test` (None: none, or more
    than one)."""
    from meshcheck import registry

    found = set()
    for name, protocol in registry.protocols().items():
        for where in protocol.test_paths(root)[0]:
            if test == where or where in test.parents:
                found.add(name)
    return found.pop() if len(found) == 1 else None


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    if coverage.recording() or not coverage.enabled():
        return (yield)  # recorded already (property_tests/conftest.py), or not to be
    coverage.start()
    try:
        return (yield)
    finally:
        seen = coverage.stop()
        mine = owner(Path(item.path), item.config.rootpath)
        if mine is not None:
            seen = coverage.attribute(seen, mine)
        if seen:
            try:
                coverage.write(seen, coverage.folder(), item.nodeid)
            except OSError as problem:  # coverage is a measure: never fail a test for it
                item.user_properties.append(("coverage-error", str(problem)))
