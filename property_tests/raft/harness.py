"""The raft harness: what the shared harness (property_tests/harness.py) takes as its parameter for
this protocol (the object its `Protocol.harness` names)."""

from __future__ import annotations

from meshcheck.property_tests.harness import Harness
from meshcheck.property_tests.raft import directed
from meshcheck.property_tests.raft import free_runs
from meshcheck.property_tests.raft import leader_restart
from meshcheck.property_tests.raft import recovery
from meshcheck.property_tests.raft.lockstep import RAFT
from meshcheck.property_tests.raft.restarts import check_restarts
from meshcheck.property_tests.raft.validation import check_validation

HARNESS = Harness(
    "raft",
    (RAFT,),
    storm=free_runs.STORM,
    reruns={
        "safety": free_runs.check_safety,
        "liveness": free_runs.check_liveness,
        "validation": check_validation,
        "leader restart": leader_restart.check_leader_restart,
        "restarts": check_restarts,
        "recovery": recovery.check_recovery,
        "scenario": directed.check_scenario,
    },
    schedules=(free_runs,),
)
