"""The gossip harness: what the shared harness (property_tests/harness.py) takes for this protocol.

Its lockstep spec is Gossip.tla under models/Lockstep.cfg (lockstep.py); the corpus is stored free
runs, each re-run from its seed by the check that found it (`reruns`: the free runs' and trace
validation's), with the mutant it was written for.
"""

from __future__ import annotations

from meshcheck.property_tests import free_runs
from meshcheck.property_tests.gossip import free_runs as gossip_runs
from meshcheck.property_tests.gossip import rejoin
from meshcheck.property_tests.gossip import restart
from meshcheck.property_tests.gossip.lockstep import GOSSIP
from meshcheck.property_tests.gossip.restarts import check_restarts
from meshcheck.property_tests.gossip.validation import check_validation
from meshcheck.property_tests.harness import Harness

HARNESS = Harness(
    "gossip",
    (GOSSIP,),
    storm=gossip_runs.STORM,
    reruns={
        "free run": gossip_runs.check_run,
        "validation": check_validation,
        "restart": restart.check_restart,
        "rejoin": rejoin.check_rejoin,
        "restarts": check_restarts,
    },
    schedules=(free_runs,),
)
