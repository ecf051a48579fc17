"""A pytest plugin that `meshcheck verify` loads into its property-test run
(`-p meshcheck.verify_order`): it writes the tests collected, in collection order, to the file
MESHCHECK_VERIFY_ORDER names, one `classname<TAB>name<TAB>file` line per test as pytest's JUnit
report names it, with the test's file (whole). A run spread over pytest-xdist workers reports its
tests in the order they finish; verify sorts its rows by this file, so that they are listed as a
run in one process lists them, and names each test's file from it: the JUnit report does not, and
a plug-in's test, outside the project, is named there relative to the folder verify handed pytest
(the command that runs it again needs the file, verify_summary.again).

Under xdist the controller collects nothing and every worker collects the same tests; the first
worker (gw0, by the id xdist gives it in its config) writes the file. It also registers the marker `fast`, which `--profile fast` selects
(a plug-in's own tests may carry it under its own pytest configuration).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.junitxml import mangle_test_address

ENV = "MESHCHECK_VERIFY_ORDER"
MARK = (
    "fast: make verify's fast profile runs it (meshcheck verify --profile fast: the 3-minute gate)"
)


def pytest_configure(config: pytest.Config) -> None:
    """The marker `--profile fast` selects (`-m fast`), known to a plug-in's own tests too."""
    config.addinivalue_line("markers", MARK)


def pytest_collection_finish(session: pytest.Session) -> None:
    path = os.environ.get(ENV)
    if not path or not session.items:
        return
    # an xdist worker knows its id from its config; the environment's PYTEST_XDIST_WORKER may be
    # an outer run's (verify run inside a test on worker gw1 wrote no file, and its rows no file)
    worker = getattr(session.config, "workerinput", {}).get("workerid", "gw0")
    if worker != "gw0":
        return
    lines = []
    for item in session.items:
        names = mangle_test_address(item.nodeid)
        lines.append(f"{'.'.join(names[:-1])}\t{names[-1]}\t{Path(item.path).resolve()}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _lines(path: Path) -> list[tuple[str, str, str]]:
    """The file's (classname, name, file) lines; a line of two columns has no file ("")."""
    if not path.is_file():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        classname, _, rest = line.partition("\t")
        name, tab, file = rest.rpartition("\t")
        found.append((classname, name, file) if tab else (classname, rest, ""))
    return found


def read(path: Path) -> dict[tuple[str, str], int]:
    """The position of each test (classname, name) in collection order; empty without the file."""
    order: dict[tuple[str, str], int] = {}
    for classname, name, _ in _lines(path):
        order.setdefault((classname, name), len(order))
    return order


def files(path: Path) -> dict[tuple[str, str], Path]:
    """The file of each test (classname, name), whole; empty without the file."""
    return {(c, n): Path(f) for c, n, f in _lines(path) if f}
