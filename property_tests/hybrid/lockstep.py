"""Lockstep of impl/hybrid against its two specs: TLC says what may happen next, Hypothesis picks
it, the implementation must follow (the machine's skeleton is property_tests/lockstep.py).

- `threat_lockstep`: specs/ThreatLevel.tla and the `ThreatModel` (threat_driver.py): evidence
  intake, counting, the window, the quiet period, the dwell, one level at a time;
- `hybrid_lockstep`: specs/Hybrid.tla and the honest `HybridNode`s with their replicated machines
  (driver.py): epochs, the switch, ops in flight, the committed history across switches.

One rule per spec action (`state.ReportEvidence(...)`, `state.Switch(...)`), enabled when TLC's
Stepper finds a successor by it; the driver makes the implementation take the same step, and the
refinement mapping must then equal TLC's successor state, variable for variable. Each spec step is
one driver step here (no implementation event holds several). A mismatch, or the implementation
refusing a step, raises `CheckFailed` with the variables that differ and the spec path that led
there, as an ITF trace (it replays on the spec, and against the implementation: the harness's replay_on_impl). The
machine, the failure's trace, stored-trace replay and shrinking are property_tests/harness.py; the
two specs (`THREAT`, `HYBRID`) and their drivers are what is the hybrid layer's own.

Neither runs once per BFT protocol: ThreatLevel.tla has no protocol at all, and Hybrid.tla's
lockstep works at the spec's per-epoch chains, below which PBFT and HotStuff are alike (driver.py
says why); the free runs and trace validation run with each.
"""

from __future__ import annotations

import functools
from typing import Any

from meshcheck.impl.pbft import crypto
from meshcheck.property_tests import harness
from meshcheck.property_tests.hybrid.driver import HybridDriver
from meshcheck.property_tests.hybrid.driver import Model
from meshcheck.property_tests.hybrid.threat_driver import ThreatDriver
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Transition


@functools.cache
def hybrid_model() -> Model:
    return Model.from_cfg(HYBRID.config_path)


class Follower(harness.Follower):
    """The implementation following a path of either spec: the `ThreatModel` along ThreatLevel.tla,
    the honest hybrid nodes along Hybrid.tla."""

    def start(self, init: State) -> Any:
        if self.target.name == "ThreatLevel":
            return ThreatDriver(self.target.config_path, self.bugs)
        return HybridDriver(hybrid_model(), self.bugs)

    def drive(self, t: Transition) -> None:
        self.driver.take(t.action.name, t.action.params)


# the hybrid layer's PBFT signs with impl/pbft/crypto.py's keys: its memo of Ed25519 results
THREAT = harness.LockstepSpec(
    "hybrid", "ThreatLevel", "ThreatLockstep.cfg", Follower, named=True, context=crypto.memoised
)
HYBRID = harness.LockstepSpec(
    "hybrid", "Hybrid", "HybridLockstep.cfg", Follower, named=True, context=crypto.memoised
)
SPECS = (THREAT, HYBRID)

# the checks against ThreatLevel.tla and Hybrid.tla: CheckFailed on a divergence
threat_lockstep = THREAT.lockstep
hybrid_lockstep = HYBRID.lockstep
