"""Restart equivalence of the hybrid layer (property_tests/restarts.py): the hybrid free runs
(a client proposing ops, Byzantine behaviours turned on and off during the run) with crashes
forced on, every honest node restarted after a crash shadowed by a fresh one. A node once made
Byzantine stays out of the plug-in's `honest` (impl/hybrid/consensus.py `make_honest`): its
restarts keep the test's wrappers by design (HybridPlugin.new_node)."""

from __future__ import annotations

from typing import Any

from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hybrid.free_runs import Run
from meshcheck.property_tests.hybrid.free_runs import play
from meshcheck.property_tests.hybrid.free_runs import prepare
from meshcheck.property_tests.hybrid.free_runs import schedules
from meshcheck.property_tests.restarts import Wiring
from meshcheck.property_tests.restarts import check_run


def _build(schedule: Schedule, n: int, bugs: frozenset[str], record: bool) -> Run:
    return prepare(schedule, bugs, record=record, monitor=False, n=n)


def _drive(run: Run, schedule: Schedule, stop: Any) -> str | None:
    play(run, schedule)
    return None


def _simulator(run: Run) -> Simulator[Any]:
    return run.hc.sim


WIRING = Wiring(
    build=_build,
    drive=_drive,
    simulator=_simulator,
    honest=lambda sim, i: i in getattr(sim.plugin, "honest", ()),
)
SCHEDULES = WIRING.schedules(schedules())


def check_restarts(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
    """One run (the harness re-runs a stored failure by this function: its `reruns`)."""
    check_run(WIRING, schedule, n, bugs)
