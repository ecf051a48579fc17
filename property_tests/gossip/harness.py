"""The gossip harness: what the shared harness (property_tests/harness.py) takes for this protocol.

Its lockstep spec is Gossip.tla under models/Lockstep.cfg (lockstep.py); the corpus is stored free
runs, each re-run from its seed by the check that found it (`reruns`: the free runs' and trace
validation's), with the mutant it was written for.
"""

from __future__ import annotations

import attrs

from meshcheck.property_tests import corpus, free_runs
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.gossip import free_runs as gossip_runs
from meshcheck.property_tests.gossip import rejoin, restart
from meshcheck.property_tests.gossip.lockstep import GOSSIP
from meshcheck.property_tests.gossip.restarts import check_restarts
from meshcheck.property_tests.gossip.validation import check_validation
from meshcheck.property_tests.harness import Harness


@attrs.frozen
class GossipHarness(Harness):
    """A `Harness` whose stored traces are free runs (`#meta.source` "impl"), not spec paths."""

    def stored_runs(self, bugs: frozenset[str]) -> None:
        """Re-run every stored run with `bugs` switched on besides its own: the first that fails
        raises its CheckFailed."""
        entries = corpus.entries([self.protocol])  # the runs written for these bugs first
        for entry in sorted(entries, key=lambda e: not (e.bugs & bugs)):
            replayed = corpus.replay(entry, bugs)
            if not replayed.holds:
                raise CheckFailed(f"{entry.name}: {replayed.problem}", steps=replayed.steps)


HARNESS = GossipHarness(
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
