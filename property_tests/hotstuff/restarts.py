"""Restart equivalence of HotStuff (property_tests/restarts.py): HotStuff's free runs (Byzantine
replicas included) with crashes forced on, every honest replica restarted after a crash shadowed
by a fresh one."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.trace import Trace
from meshcheck.impl.hotstuff.mutants import BUGS
from meshcheck.impl.hotstuff.mutants import VERIFIED_CACHE_ON_CLASS
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests import record
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff.free_runs import SAFETY_TICKS
from meshcheck.property_tests.hotstuff.free_runs import STORM
from meshcheck.property_tests.hotstuff.free_runs import cluster
from meshcheck.property_tests.hotstuff.free_runs import schedules
from meshcheck.property_tests.restarts import Wiring
from meshcheck.property_tests.restarts import check_run
from meshcheck.property_tests.restarts import with_crashes


def _drive(sim: Simulator[Any], schedule: Schedule, stop: Any) -> str | None:
    return free_runs.run(sim, schedule, schedule.ticks, STORM, stop)


WIRING = Wiring(
    build=lambda schedule, n, bugs, record: cluster(schedule, n, bugs, heal=False, record=record),
    drive=_drive,
    # a Byzantine replica's wrapper keeps the test's state by design
    honest=lambda sim, i: i in getattr(sim.plugin, "honest", ()),
)
SCHEDULES = WIRING.schedules(schedules(4, *SAFETY_TICKS))


def check_restarts(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
    """One run (the harness re-runs a stored failure by this function: its `reruns`)."""
    check_run(WIRING, schedule, n, bugs)


# -- the corpus ---------------------------------------------------------------------------------------

# small schedules of four replicas, as property_tests/hotstuff/save.py's, crashes on
CANDIDATES = tuple(
    with_crashes(Schedule(seed=seed, ticks=ticks, every=25, byzantine={}, batch=4))
    for ticks in (300, 500, 1000)
    for seed in range(4)
)


def shortest(mutant: str) -> tuple[Trace, record.Rerun]:
    """The failing restart-equivalence run with the fewest recorded steps among CANDIDATES, for
    a mutant that only this check kills (its corpus entry: traces/hotstuff/MUTANT.itf.json)."""
    return scenarios.shortest(
        "hotstuff", "restarts", check_restarts, CANDIDATES, mutant, 4, among="candidate run"
    )


# the catalogue mutants only this check kills: their corpus runs are written here, not by
# property_tests/hotstuff/save.py
MUTANTS = (VERIFIED_CACHE_ON_CLASS,)


def main(argv: Sequence[str]) -> int:
    """`python -m meshcheck.property_tests.hotstuff.restarts [MUTANT ...]`: write each mutant's
    shortest failing run (record.save_shortest; default: MUTANTS)."""
    return record.save_shortest("hotstuff", {m: BUGS[m] for m in MUTANTS}, shortest, list(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
