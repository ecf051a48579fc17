"""pytest loads the Hypothesis profile MESHCHECK_HYPOTHESIS names (property_tests/profiles.py);
writes every failing check's counterexample to reports/failures/ (property_tests/record.py), so
that the failure ends with the command that replays it (a failed client-history check's history
too, with the `meshcheck history check` command that re-checks it); and records how many examples each test
ran (`meshcheck verify` reports them).

Counting: most property tests run their Hypothesis test inside a check (`free_run_safety` builds
one, lockstep runs a state machine), where Hypothesis's pytest plugin records no statistics. So
every test listens to Hypothesis's statistics itself (`hypothesis.statistics.collector`, the hook
the plugin uses, passed on to the plugin when it listens too) and adds the examples run (the test
cases of every phase but shrinking, passing or failing) to the JUnit report as the test case's
property `hypothesis-examples`.

The saturation stop (property_tests/saturation.py): the Hypothesis runs of each test, as the stop
noted them, go into the report too: `hypothesis-runs`, the test functions they ran (one per line:
how `meshcheck verify` finds the checks a test runs, and the mutants those killed), and
`hypothesis-saturated`, for runs the stop ended, the examples they ran and their budget
("57/200"; several runs summed). So does the test's CPU time (`cpu-seconds`, this process's, the
JVM's threads included).

Coverage (meshcheck/coverage.py): every test is recorded, and a test that reached anything writes
it as one JSON file into `reports/coverage/` (or MESHCHECK_COVERAGE_DIR), cleared when a session
starts; `meshcheck coverage` and `meshcheck verify` merge the files. MESHCHECK_COVERAGE=0 turns
recording off (to measure what it costs).

What failed: a failing check's violated property (property_tests/failure.py, "invariant
ElectionSafety") goes into the report as the property `violated`, which `meshcheck verify` says
first in every report of the failure.

Ed25519: every test runs with the exact memo of signatures and verifications on
(property_tests/crypto_memo.py says why that changes only what a test costs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis.statistics import collector

from meshcheck import coverage
from meshcheck.property_tests import histories
from meshcheck.property_tests import saturation
from meshcheck.property_tests.crypto_memo import exact_ed25519_memo as exact_ed25519_memo
from meshcheck.property_tests.profiles import load_from_env
from meshcheck.property_tests.record import again_command
from meshcheck.property_tests.record import record_failure

# the shared assertions of the protocols' tests (property_tests/expect.py) report as a test's own do
pytest.register_assert_rewrite("meshcheck.property_tests.expect")

load_from_env()

EXAMPLES = "hypothesis-examples"
RUNS = "hypothesis-runs"
SATURATED = "hypothesis-saturated"
CPU = "cpu-seconds"


def examples_in(stats: Mapping[str, Any]) -> int:
    """Test cases run in one Hypothesis run's statistics (every phase but shrinking; invalid
    draws, which Hypothesis discards, are not examples)."""
    return sum(
        case.get("status") in ("valid", "interesting")
        for phase, found in stats.items()
        if phase.endswith("-phase") and phase != "shrink-phase" and isinstance(found, Mapping)
        for case in found.get("test-cases", ())
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """A fresh coverage folder per session (not in an xdist worker: the controller cleared it)."""
    if hasattr(session.config, "workerinput"):
        return
    for old in coverage.folder().glob("*.json"):
        old.unlink(missing_ok=True)  # another session may have cleared it first


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    ran: list[int] = []
    statistics: Any = collector  # typed as holding None only: it holds a callback when set
    outer: Callable[[Any], None] | None = statistics.value

    def count(stats: Any) -> None:
        ran.append(examples_in(stats))
        if outer is not None:
            outer(stats)

    histories.forget()  # a client-history failure is matched to this test's failure only
    saturation.take_runs()  # this test's runs only
    cpu = time.process_time()
    if coverage.enabled():
        coverage.start()
    try:
        with statistics.with_value(count):
            return (yield)
    except Exception as exc:
        # its counterexample, client history and violated property (property_tests/record.py)
        again = again_command(Path(item.path), item.nodeid)
        record_failure(exc, item.nodeid, item.user_properties, again=again)
        raise
    finally:
        if ran:
            item.user_properties.append((EXAMPLES, sum(ran)))
        item.user_properties.append((CPU, round(time.process_time() - cpu, 3)))
        runs = saturation.take_runs()
        if runs:
            item.user_properties.append((RUNS, "\n".join(sorted({r.identity for r in runs}))))
        stopped = [r for r in runs if r.stopped]
        if stopped:
            done = sum(r.examples for r in stopped)
            item.user_properties.append((SATURATED, f"{done}/{sum(r.budget for r in stopped)}"))
        seen = coverage.stop()
        if seen:
            try:
                coverage.write(seen, coverage.folder(), item.nodeid)
            except OSError as problem:  # coverage is a measure: never fail a test for it
                item.user_properties.append(("coverage-error", str(problem)))
