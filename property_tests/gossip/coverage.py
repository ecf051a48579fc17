"""Gossip's rare conditions (meshcheck/coverage.py), reported by the node where they happen
(probes, impl/base/probes.py): the abstract state cannot tell them apart from common steps.

- caught_up_after_restart: a node that restarted pulls from a peer and the answer brings it
  entries it lost (anti-entropy for a node that was away);
- duplicate_merged: a push brings an entry equal to the one held (a duplicate, or the same entry by
  two paths), which the merge must leave unchanged (idempotence);
- suspicion_cleared: a heartbeat from a suspected peer clears the suspicion (Trust);
- new_incarnation_heard: a watcher hears a restarted peer's new incarnation (a higher boot count)
  and starts its watch afresh (property_tests/gossip/restart.py scripts it).
"""

from __future__ import annotations

from meshcheck.coverage import CoverageSpec
from meshcheck.coverage import Rare

CONDITIONS = (
    Rare(
        "caught_up_after_restart",
        "a restarted node's pull brings back entries it lost",
        "probe",
    ),
    Rare("duplicate_merged", "a push brings an entry equal to the one held", "probe"),
    Rare("suspicion_cleared", "a heartbeat clears a suspicion (Trust)", "probe"),
    Rare(
        "new_incarnation_heard",
        "a watcher hears a restarted peer's new incarnation (a higher boot count)",
        "probe",
    ),
)

COVERAGE = CoverageSpec(CONDITIONS)
