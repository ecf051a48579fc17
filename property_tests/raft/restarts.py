"""Restart equivalence of Raft (property_tests/restarts.py): Raft's free runs with crashes forced
on and crashed nodes back within 100 ticks, every restarted node shadowed by a fresh one."""

from __future__ import annotations

from typing import Any

from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.free_runs import SAFETY_TICKS
from meshcheck.property_tests.raft.free_runs import cluster
from meshcheck.property_tests.raft.free_runs import run
from meshcheck.property_tests.raft.free_runs import schedules
from meshcheck.property_tests.restarts import Wiring
from meshcheck.property_tests.restarts import check_run


def _drive(sim: Simulator[Any], schedule: Schedule, stop: Any) -> str | None:
    return run(sim, schedule, schedule.ticks, stop)


WIRING = Wiring(
    build=lambda schedule, n, bugs, record: cluster(schedule, n, bugs, record=record),
    drive=_drive,
    knobs={"down": (1, 100)},
)
SCHEDULES = WIRING.schedules(schedules(*SAFETY_TICKS))


def check_restarts(schedule: Schedule, nodes: int, bugs: frozenset[str]) -> None:
    """One run (the harness re-runs a stored failure by this function: its `reruns`)."""
    check_run(WIRING, schedule, nodes, bugs)
