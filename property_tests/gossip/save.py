"""Write each gossip mutant's shortest stored run into traces/gossip/ (the regression corpus).

`meshcheck mutants --save` writes lockstep counterexamples (spec paths); gossip has no lockstep yet,
so its corpus is free runs: for each mutant, the shortest failing run (fewest recorded steps)
among small schedules (3 to 5 nodes, a few seconds of faults, a calm tail as long as the
convergence bound), kept with what re-runs it (`#meta.rerun`) and the mutant (`#meta.bugs`).
tests/test_corpus.py re-runs each: it holds with no mutant and fails with its own.

    python -m meshcheck.property_tests.gossip.save [MUTANT ...]
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from collections.abc import Sequence

from meshcheck.impl.base.trace import Trace
from meshcheck.impl.gossip.mutants import BUGS
from meshcheck.property_tests import record
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip import rejoin
from meshcheck.property_tests.gossip import restart
from meshcheck.property_tests.gossip.free_runs import CONVERGENCE_ROUNDS
from meshcheck.property_tests.gossip.free_runs import check_run
from meshcheck.property_tests.gossip.free_runs import once

FAULTS = (
    {"drop": 0.1},
    {"crash": 0.6},
    {"partition": 0.6},
    {"drop": 0.1, "duplicate": 0.1, "crash": 0.3, "partition": 0.3},
)


def candidates(seeds: int = 3) -> Iterator[tuple[int, Schedule]]:
    for n, ticks, faults, window, seed in itertools.product(
        (3, 4, 5), (1000, 2000, 3000), FAULTS, (4, 100), range(seeds)
    ):
        yield (
            n,
            Schedule(
                seed=seed,
                ticks=ticks,
                **faults,
                every=200,
                window=window,
                kill=1,
                tail=CONVERGENCE_ROUNDS,
            ),
        )


def _holds_recorded(schedule: Schedule, n: int) -> bool:
    try:
        return once(schedule, n, frozenset(), True).problem is None
    except CheckFailed:
        return False


def shortest(mutant: str, budget: int = 144) -> tuple[Trace, record.Rerun]:
    """The failing run with the fewest recorded steps among the first `budget` candidates (for
    the mutants the free runs miss, among the restart scenario's, property_tests/gossip/restart.py, or the rejoin scenario's,
    property_tests/gossip/rejoin.py)."""
    if mutant in restart.MUTANTS:
        return restart.shortest(mutant)
    if mutant in rejoin.MUTANTS:
        return rejoin.shortest(mutant)
    best: tuple[Trace, record.Rerun] | None = None
    bugs = frozenset({mutant})
    for n, schedule in itertools.islice(candidates(), budget):
        try:
            check_run(schedule, n, bugs)
        except CheckFailed as failed:
            trace = failed.trace
            if trace is None or (best is not None and len(trace.steps) >= len(best[0].steps)):
                continue
            # kept only if the same run, recorded, holds without the mutant: a failure the
            # recording itself causes (a contract violation of the plug-in) kills every mutant
            # at the same early step and would pass for the shortest run of each
            if _holds_recorded(schedule, n):
                best = (trace, record.Rerun("gossip", "free run", n, repr(schedule)))
    if best is None:
        raise SystemExit(f"meshcheck: no candidate run kills {mutant}")
    return best


def main(argv: Sequence[str]) -> int:
    return record.save_shortest("gossip", BUGS, shortest, list(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
