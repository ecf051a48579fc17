"""The HotStuff harness: what the shared harness (property_tests/harness.py) takes for this
protocol.

Lockstep against HotStuff.tla with every replica honest (property_tests/hotstuff/lockstep.py); the
corpus is stored free runs (traces/hotstuff/), each re-run from its seed by the check that found it
(`reruns`), with the mutant it was written for (as gossip's, property_tests/gossip/harness.py).
"""

from __future__ import annotations

import attrs

from meshcheck.impl.base.trace import Trace
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.harness import Harness
from meshcheck.property_tests.harness import LockstepSpec
from meshcheck.property_tests.hotstuff import free_runs as hotstuff_runs
from meshcheck.property_tests.hotstuff import recovery
from meshcheck.property_tests.hotstuff import restart
from meshcheck.property_tests.hotstuff.lockstep import HOTSTUFF
from meshcheck.property_tests.hotstuff.lockstep import HOTSTUFF_BYZANTINE
from meshcheck.property_tests.hotstuff.restarts import check_restarts
from meshcheck.property_tests.hotstuff.validation import check_validation


@attrs.frozen
class HotStuffHarness(Harness):
    """A `Harness` whose stored traces are free runs (`#meta.source` "impl", `stored_runs`), and
    whose lockstep paths are drawn in one of two models."""

    def specs_for(self, trace: Trace) -> tuple[LockstepSpec, ...]:
        """A lockstep path, on the model it was drawn in: the honest one, or r1 a Byzantine
        puppet (`#meta.config` names models/LockstepByzantine.cfg; both are HotStuff.tla's)."""
        config = str(trace.meta.get("config", ""))
        puppet = config.endswith(f"/models/{HOTSTUFF_BYZANTINE.config}")
        return (HOTSTUFF_BYZANTINE,) if puppet else self.specs


HARNESS = HotStuffHarness(
    "hotstuff",
    (HOTSTUFF,),
    storm=hotstuff_runs.STORM,
    reruns={
        "safety": hotstuff_runs.check_safety,
        "liveness": hotstuff_runs.check_liveness,
        "slow": hotstuff_runs.check_slow,
        "validation": check_validation,
        "restart": restart.check_restart,
        "restarts": check_restarts,
        "recovery": recovery.check_recovery,
    },
    schedules=(free_runs,),
)
