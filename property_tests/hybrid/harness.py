"""The hybrid harness: what the shared harness (property_tests/harness.py) takes as its parameter for
this protocol (the object its `Protocol.harness` names)."""

from __future__ import annotations

from meshcheck.property_tests.harness import Harness
from meshcheck.property_tests.hybrid import free_runs
from meshcheck.property_tests.hybrid.leader_reelected import check_leader_reelected
from meshcheck.property_tests.hybrid.lockstep import SPECS
from meshcheck.property_tests.hybrid.no_false_accusation import no_false_accusation_run
from meshcheck.property_tests.hybrid.restarts import check_restarts
from meshcheck.property_tests.hybrid.validation import validate_run

HARNESS = Harness(
    "hybrid",
    SPECS,
    reruns={
        "free_run": free_runs.run,
        "no_false_accusation": no_false_accusation_run,
        "validation": validate_run,
        "restarts": check_restarts,
        "leader re-elected": check_leader_reelected,
    },
    schedules=(free_runs,),
)
