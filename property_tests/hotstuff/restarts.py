"""Restart equivalence of HotStuff (property_tests/restarts.py): HotStuff's free runs (Byzantine
replicas included) with crashes forced on, every honest replica restarted after a crash shadowed
by a fresh one."""

from __future__ import annotations

from typing import Any

from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff.free_runs import SAFETY_TICKS, STORM, cluster, schedules
from meshcheck.property_tests.restarts import Wiring, check_run


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
