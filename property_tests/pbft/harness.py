"""The pbft harness: what the shared harness (property_tests/harness.py) takes as its parameter for
this protocol (the object its `Protocol.harness` names)."""

from __future__ import annotations

from meshcheck.impl.pbft import byzantine
from meshcheck.property_tests.harness import Harness
from meshcheck.property_tests.pbft import client_restart
from meshcheck.property_tests.pbft import free_runs
from meshcheck.property_tests.pbft import recovery
from meshcheck.property_tests.pbft import retry
from meshcheck.property_tests.pbft.lockstep import PBFT
from meshcheck.property_tests.pbft.restarts import check_restarts
from meshcheck.property_tests.pbft.validation import check_validation

HARNESS = Harness(
    "pbft",
    (PBFT,),
    storm=free_runs.STORM,
    reruns={
        "safety": free_runs.check_safety,
        "liveness": free_runs.check_liveness,
        "slow": free_runs.check_slow,
        "validation": check_validation,
        "retry": retry.check_retry,
        "client restart": client_restart.check_client_restart,
        "restarts": check_restarts,
        "recovery": recovery.check_catch_up,
    },
    schedules=(free_runs, byzantine),
)
