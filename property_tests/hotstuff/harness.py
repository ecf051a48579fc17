"""The HotStuff harness: what the shared harness (property_tests/harness.py) takes for this
protocol.

Lockstep against HotStuff.tla with every replica honest (property_tests/hotstuff/lockstep.py); the
corpus is stored free runs (traces/hotstuff/), each re-run from its seed by the check that found it
(`reruns`), with the mutant it was written for (as gossip's, property_tests/gossip/harness.py).
"""

from __future__ import annotations

import attrs

from meshcheck.property_tests import corpus, free_runs
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.harness import Harness
from meshcheck.property_tests.hotstuff import free_runs as hotstuff_runs
from meshcheck.property_tests.hotstuff.lockstep import HOTSTUFF
from meshcheck.property_tests.hotstuff.validation import check_validation


@attrs.frozen
class HotStuffHarness(Harness):
    """A `Harness` whose stored traces are free runs (`#meta.source` "impl"), not spec paths."""

    def stored_runs(self, bugs: frozenset[str]) -> None:
        """Re-run every stored run with `bugs` switched on besides its own: the first that fails
        raises its CheckFailed (the runs written for these bugs first)."""
        entries = corpus.entries([self.protocol])
        for entry in sorted(entries, key=lambda e: not (e.bugs & bugs)):
            replayed = corpus.replay(entry, bugs)
            if not replayed.holds:
                raise CheckFailed(f"{entry.name}: {replayed.problem}", steps=replayed.steps)


HARNESS = HotStuffHarness(
    "hotstuff",
    (HOTSTUFF,),
    storm=hotstuff_runs.STORM,
    reruns={
        "safety": hotstuff_runs.check_safety,
        "liveness": hotstuff_runs.check_liveness,
        "validation": check_validation,
    },
    schedules=(free_runs,),
)
