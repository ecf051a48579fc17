"""A pytest plugin that records a plug-in's failing property checks as meshcheck's own are recorded.

meshcheck's own property tests have their failures written by property_tests/conftest.py: each
counterexample to reports/failures/<test>.itf.json (MESHCHECK_FAILURES names another folder), the
failure ending with the line that replays it (property_tests/record.py). A plug-in's tests live in
its own package (docs/plugins.md), outside that conftest: `meshcheck verify` loads this plugin
into its property-test run (`-p meshcheck.failures_pytest`), and the command that runs such a test
again loads it too, so that their failures are written the same way. A plug-in's free run is no
trace `meshcheck trace replay` replays (its adapter is no harness of meshcheck's), so its replay
line is the command that runs the test again, whose path exists (`record.again_command`), and
which writes its counterexample to the same file again.

It records a test only when nothing else has (the conftest's recording of meshcheck's own tests,
inner to this one, gives the failure its replay line first), and leaves the client history to the
conftest: a plug-in's answers are judged as its own (property_tests/plugin.py's `own_answers`),
not by the model `meshcheck history check --model rsm` re-checks.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from meshcheck.property_tests.record import again_command
from meshcheck.property_tests.record import record_failure


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    try:
        return (yield)
    except Exception as exc:
        again = again_command(Path(item.path), item.nodeid, outside=True)
        record_failure(exc, test_name(item), item.user_properties, again=again, history=False)
        raise


def test_name(item: pytest.Item) -> str:
    """The test as `verify` names it, its module and its name in it ("test_x::test_y[2]"): the
    same wherever pytest's root folder is (verify's run and the again line's differ, and a node
    id is relative to it), so that running it again writes its counterexample to the same file."""
    _, _, name = item.nodeid.partition("::")
    return f"{Path(item.path).stem}::{name}"
