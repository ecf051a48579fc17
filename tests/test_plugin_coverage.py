"""A plug-in's coverage, installed from outside the tree (tests/outside.py) as a user installs one:
its tests run its adapter's nodes (impl/raft without the leader's no-op, tests/noop_free_plugin.py,
under the adapter name "raft-adapter"), and `meshcheck verify --protocol nonoopraft --only tests`
counts what they took for the protocol they are the tests of (meshcheck/coverage_pytest.py); its
coverage row passes with the actions taken, and `meshcheck coverage --protocol nonoopraft` reports
the same after it. A package whose tests run nothing is tests/test_plugin_outside.py's: a skip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshcheck import registry
from tests import outside

ROOT = Path(__file__).resolve().parent.parent

PYPROJECT = outside.pyproject("nonoopraft", "NONOOPRAFT")

DESCRIPTOR = '''\
"""A Raft whose new leader appends no no-op, checked from its own package."""

from meshcheck.protocol import Models, Protocol

NONOOPRAFT = Protocol(
    name="nonoopraft",
    title="a Raft without the leader's no-op, outside meshcheck's tree",
    models=Models(spec="Raft"),
    property_tests=("nonoopraft_meshcheck.tests",),
)
'''

TESTS = """\
from meshcheck.property_tests.free_runs import Schedule
from tests.adapter_example import check_run
from tests.noop_free_plugin import NoNoOpDriver


def test_a_free_run_of_its_nodes_holds() -> None:
    schedule = Schedule(seed=3, ticks=800, drop=0.05, crash=0.3)
    sim = check_run(schedule, 3, driver=NoNoOpDriver)
    assert max(n.state()["commitIndex"] for n in sim.nodes.values()) > 0
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plugin")
    src = outside.plugin_source(folder / "nonoopraft", PYPROJECT, DESCRIPTOR, TESTS, "test_runs.py")
    python = outside.fresh_venv(folder / "venv")
    outside.install(python, src)
    return python


def test_its_coverage_row_counts_what_its_adapter_took(env: Path, tmp_path: Path) -> None:
    # its tests import tests/noop_free_plugin.py, as the tutorial's import tests/adapter_example.py:
    # this checkout on the module path
    _, rows = outside.verify_checks(env, "nonoopraft", "tests", cwd=tmp_path, PYTHONPATH=str(ROOT))
    [covered] = [r for r in rows if r["kind"] == "coverage" and r["name"] == "nonoopraft"]
    table = len(registry.actions_of(registry.get("raft")))
    fired = re.match(rf"actions (\d+)/{table};", covered["detail"])
    assert fired is not None, covered
    assert covered["result"] == "pass" and int(fired.group(1)) >= 8, covered
    assert covered["count"] > 0  # the distinct states of its runs
    # `meshcheck coverage` reads what verify measured
    shown = outside.meshcheck(
        env, "coverage", "--protocol", "nonoopraft", cwd=tmp_path, PYTHONPATH=str(ROOT)
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith("| nonoopraft "))
    assert re.search(rf"\| +{fired.group(1)}/{table} \|", row), row
