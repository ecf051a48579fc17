"""Restart equivalence of the gossip layer (property_tests/restarts.py): gossip's free runs with
crashes forced on, every restarted member shadowed by a fresh one."""

from __future__ import annotations

from typing import Any

from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip.free_runs import STORM
from meshcheck.property_tests.gossip.free_runs import cluster
from meshcheck.property_tests.gossip.free_runs import schedules
from meshcheck.property_tests.restarts import Wiring
from meshcheck.property_tests.restarts import check_run

MAX_TICKS = 4000


def _drive(sim: Simulator[Any], schedule: Schedule, stop: Any) -> str | None:
    return free_runs.run(sim, schedule, schedule.ticks, STORM, stop)


WIRING = Wiring(build=cluster, drive=_drive, knobs={"down": (1, 100)})
SCHEDULES = WIRING.schedules(schedules(MAX_TICKS))


def check_restarts(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
    """One run (the harness re-runs a stored failure by this function: its `reruns`)."""
    check_run(WIRING, schedule, n, bugs)
