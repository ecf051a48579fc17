"""Restart equivalence of PySyncObj under the adapter (property_tests/restarts.py): the free runs
of property_tests/pysyncobj/ on FIFO links with crashes forced on, every restarted node (a new
SyncObj built by the adapter, impl/adapters/contract.py) shadowed by a fresh one."""

from __future__ import annotations

from typing import Any

from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pysyncobj.bugs import injected
from meshcheck.property_tests.pysyncobj.free_runs import SAFETY_TICKS
from meshcheck.property_tests.pysyncobj.free_runs import STORM
from meshcheck.property_tests.pysyncobj.free_runs import cluster
from meshcheck.property_tests.pysyncobj.free_runs import schedules
from meshcheck.property_tests.restarts import Wiring
from meshcheck.property_tests.restarts import check_run

Run = tuple[Simulator[Any], frozenset[str]]


def _build(schedule: Schedule, n: int, bugs: frozenset[str], record: bool) -> Run:
    return cluster(schedule, n, record=record), bugs


def _drive(run: Run, schedule: Schedule, stop: Any) -> str | None:
    sim, bugs = run
    with injected(bugs):  # PySyncObj's injected bugs are patches of its class, while it runs
        return free_runs.run(sim, schedule, schedule.ticks, STORM, stop)


WIRING = Wiring(build=_build, drive=_drive, simulator=lambda run: run[0], knobs={"down": (1, 100)})
SCHEDULES = WIRING.schedules(schedules(*SAFETY_TICKS, fifo=True))


def check_restarts(schedule: Schedule, nodes: int, bugs: frozenset[str]) -> None:
    """One run (the harness re-runs a stored failure by this function: its `reruns`)."""
    check_run(WIRING, schedule, nodes, bugs)
