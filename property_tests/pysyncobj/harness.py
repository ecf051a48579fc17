"""PySyncObj's harness: no lockstep spec (PySyncObj cannot be made to take a step the spec picks:
its timers and batching are its own), its free runs' storm bound, and what re-runs a recorded free
run (property_tests/record.py)."""

from __future__ import annotations

from meshcheck.property_tests import free_runs as shared
from meshcheck.property_tests.harness import Harness
from meshcheck.property_tests.pysyncobj import directed
from meshcheck.property_tests.pysyncobj import free_runs
from meshcheck.property_tests.pysyncobj import scenarios
from meshcheck.property_tests.pysyncobj.restarts import check_restarts

HARNESS = Harness(
    "pysyncobj",
    (),
    storm=free_runs.STORM,
    reruns={
        "safety": free_runs.check_safety,
        "stale_append": scenarios.check_stale_append,
        "restarts": check_restarts,
        "scenario": directed.check_scenario,
    },
    schedules=(shared,),
)
