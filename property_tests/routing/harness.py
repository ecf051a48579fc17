"""The routing checks' harness: no lockstep spec (the manager drives whole simulated clusters; its
steps are theirs), and what re-runs a recorded free run (property_tests/record.py)."""

from __future__ import annotations

from meshcheck.impl.pbft import byzantine
from meshcheck.property_tests import free_runs as shared
from meshcheck.property_tests.harness import Harness
from meshcheck.property_tests.routing import free_runs

HARNESS = Harness(
    "routing",
    (),
    reruns={"free_run": free_runs.run_once},
    schedules=(shared, byzantine),
)
