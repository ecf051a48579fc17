"""Write each HotStuff mutant's shortest stored run into traces/hotstuff/ (the regression corpus).

`meshcheck mutants --save` writes lockstep counterexamples (spec paths); HotStuff has no lockstep
yet, so its corpus is free runs, as gossip's (property_tests/gossip/save.py): for each mutant, the
failing run with the fewest recorded steps among small schedules of four replicas (no fault, loss,
crashes, partitions; no Byzantine replica or one that equivocates and votes for everything; for
a mutant only a Byzantine replica's QC shows, one that fuzzes and grows QCs),
kept with what re-runs it (`#meta.rerun`) and the mutant (`#meta.bugs`). tests/test_corpus.py
re-runs each: it holds with no mutant and fails with its own.

    python -m meshcheck.property_tests.hotstuff.save [MUTANT ...]
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Final

from meshcheck.impl.base.trace import Trace
from meshcheck.impl.hotstuff.mutants import BACKOFF_NOT_RESET_ON_COMMIT
from meshcheck.impl.hotstuff.mutants import BACKOFF_RESET_ON_VOTE
from meshcheck.impl.hotstuff.mutants import BUGS
from meshcheck.impl.hotstuff.mutants import QC_COUNTS_VOTES
from meshcheck.property_tests import record
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff import client_replies
from meshcheck.property_tests.hotstuff import restart
from meshcheck.property_tests.hotstuff import restarts
from meshcheck.property_tests.hotstuff.free_runs import check_safety

FAULTS: tuple[dict[str, float], ...] = ({}, {"drop": 0.05}, {"crash": 0.3}, {"partition": 0.3})
BYZANTINE: tuple[dict[str, tuple[str, ...]], ...] = (
    {},
    {"r1": ("equivocate", "vote_all")},
    {"r1": ("equivocate",)},
)


# a mutant that only a Byzantine replica's own QC shows: runs with one growing QCs instead
GROWING: Final[Mapping[str, tuple[dict[str, tuple[str, ...]], ...]]] = {
    QC_COUNTS_VOTES: ({"r1": ("fuzz", "grow")}, {"r2": ("fuzz", "grow")}),
}


def candidates(seeds: int = 4, mutant: str = "") -> Iterator[Schedule]:
    byzantines = GROWING.get(mutant, BYZANTINE)
    for byzantine, faults, seed in itertools.product(byzantines, FAULTS, range(seeds)):
        yield Schedule(seed=seed, ticks=1000, **faults, every=25, byzantine=byzantine)


def shortest(mutant: str, budget: int = 48) -> tuple[Trace, record.Rerun]:
    """The failing run with the fewest recorded steps among the first `budget` candidates (for
    the mutants the free runs miss, among the restart scenario's: property_tests/hotstuff/restart.py)."""
    if mutant in restart.MUTANTS:
        return restart.shortest(mutant)
    best: tuple[Trace, record.Rerun] | None = None
    bugs = frozenset({mutant})
    for schedule in itertools.islice(candidates(mutant=mutant), budget):
        try:
            check_safety(schedule, 4, bugs)
        except CheckFailed as failed:
            trace = failed.trace
            if trace is not None and (best is None or len(trace.steps) < len(best[0].steps)):
                best = (trace, record.Rerun("hotstuff", "safety", 4, repr(schedule)))
    if best is None:
        raise SystemExit(f"meshcheck: no candidate run kills {mutant}")
    return best


# the mutants whose run is a bug found and fixed, kept with it in traces/counterexamples/hotstuff/
# (a back-off that the slow regime alone shows: its failing run, the whole slow phase with a view
# timer running out every few hundred ticks, is megabytes of states; the fixed run is not), and
# the recovery property's, kept there with its initial state only (property_tests/recovery.py)
FIXED: Final = frozenset({BACKOFF_RESET_ON_VOTE, BACKOFF_NOT_RESET_ON_COMMIT})


def main(argv: Sequence[str]) -> int:
    # the mutants only restart equivalence kills have their runs written by restarts.py; the
    # client's that trust one replica have none (a sequence of replies: client_replies.py)
    others = {*restarts.MUTANTS, *FIXED, *client_replies.MUTANTS}
    mine = {m: d for m, d in BUGS.items() if m not in others}
    return record.save_shortest("hotstuff", mine, shortest, list(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
