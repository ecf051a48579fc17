"""The checks `meshcheck mutants pysyncobj` runs against the bugs injected into PySyncObj
(property_tests/pysyncobj/bugs.py)."""

from __future__ import annotations

from functools import partial

from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.pysyncobj.free_runs import free_run_safety
from meshcheck.property_tests.pysyncobj.restarts import SCHEDULES
from meshcheck.property_tests.pysyncobj.restarts import check_restarts
from meshcheck.property_tests.restarts import restart_check

# the profile's examples the restart-equivalence runs get (ci: 10; a run takes 0.1 to 0.4 s)
RESTART_SHARE = 1 / 6

CHECKS: tuple[Check, ...] = (
    Check(
        "free runs (3 nodes)",
        partial(free_run_safety, nodes=3, fifo=True),
        "PySyncObj under random faults on FIFO links (its TCP): Raft's invariants and the client-history checks",
    ),
    Check(
        "free runs (5 nodes)",
        partial(free_run_safety, nodes=5, fifo=True),
        "PySyncObj under random faults on FIFO links (its TCP): Raft's invariants and the client-history checks",
    ),
    restart_check("3 nodes", check_restarts, 3, SCHEDULES, RESTART_SHARE),
)
