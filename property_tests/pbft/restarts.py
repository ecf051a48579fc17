"""Restart equivalence of PBFT (property_tests/restarts.py): PBFT's free runs (Byzantine replicas
and the message fuzzer included) with crashes forced on, every honest replica restarted after a
crash shadowed by a fresh one."""

from __future__ import annotations

from typing import Any

from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.free_runs import SAFETY_TICKS
from meshcheck.property_tests.pbft.free_runs import cluster
from meshcheck.property_tests.pbft.free_runs import run
from meshcheck.property_tests.pbft.free_runs import schedules
from meshcheck.property_tests.restarts import Wiring
from meshcheck.property_tests.restarts import check_run


def _drive(sim: Simulator[Any], schedule: Schedule, stop: Any) -> str | None:
    return run(sim, schedule, schedule.ticks, stop)


WIRING = Wiring(
    build=lambda schedule, n, bugs, record: cluster(schedule, n, bugs, record=record),
    drive=_drive,
    # a Byzantine replica's wrapper keeps the test's state by design
    honest=lambda sim, i: isinstance(sim.nodes[i], Replica),
)
SCHEDULES = WIRING.schedules(schedules(4, *SAFETY_TICKS))


def check_restarts(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
    """One run (the harness re-runs a stored failure by this function: its `reruns`)."""
    check_run(WIRING, schedule, n, bugs)
