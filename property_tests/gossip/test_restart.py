"""The scripted restart scenario of the gossip layer (property_tests/gossip/restart.py) under
pytest: the correct nodes pass it, with one crash/restart cycle and with three, and in the loaded
Hypothesis profile; the mutant it is for fails it, and so do two it was not written for (so it
can fail); the free runs do not kill that mutant (the point of the scenario)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.gossip import mutants
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip.free_runs import once
from meshcheck.property_tests.gossip.restart import SCRIPTED
from meshcheck.property_tests.gossip.restart import TRUST_ROUNDS
from meshcheck.property_tests.gossip.restart import check_restart
from meshcheck.property_tests.gossip.restart import restart_scenario_check
from meshcheck.property_tests.gossip.restart import scenario
from meshcheck.property_tests.scenarios import caught
from meshcheck.property_tests.scenarios import crashes
from meshcheck.property_tests.scenarios import held

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


@pytest.mark.parametrize("cycles", [1, 3])
@pytest.mark.parametrize("up", [5, 50])
def test_a_restarted_member_is_trusted_again_and_its_new_write_wins(cycles: int, up: int) -> None:
    schedules = [
        Schedule(seed=seed, ticks=0, up=up, cycles=cycles, window=100) for seed in range(3)
    ]
    for s in held(SCRIPTED, 5, schedules):
        victims = crashes(s.sim)
        assert len(victims) == cycles, s.sim.fault_log
        assert s.sim.nodes[victims[0]].boot == cycles + 1  # raised at every restart


def test_the_check_holds_in_the_loaded_profile() -> None:
    restart_scenario_check(frozenset(), settings(), n=5)


def test_a_boot_count_not_raised_keeps_the_member_suspected() -> None:
    schedule = Schedule(seed=0, ticks=0, up=20, cycles=1, window=100)
    bugs = frozenset({mutants.BOOT_NOT_RAISED})
    problem = caught(check_restart, schedule, 5, bugs)
    assert f"({TRUST_ROUNDS} rounds) after it restarted" in problem
    assert "(boot 1, beat" in problem  # the boot count of its first life


@pytest.mark.parametrize(
    ("mutant", "caught"),
    [
        (mutants.SILENT_AFTER_RESTART, "after it restarted"),  # no heartbeat after the restart
        (mutants.SUSPICION_NEVER_CLEARED, "(no Trust)"),
    ],
)
def test_restart_bugs_it_was_not_written_for_fail_it(mutant: str, caught: str) -> None:
    schedule = Schedule(seed=1, ticks=0, up=20, cycles=1, window=100)
    problem = scenario(schedule, 5, frozenset({mutant}), record=False).problem
    assert problem is not None and caught in problem, problem


def test_the_free_runs_do_not_see_a_boot_count_not_raised() -> None:
    """The bug class the scenario is for: the free runs' crash-heavy schedules hold with the
    mutant on (their detector oracle counts heartbeats by the same (boot, beat) rule, and nothing
    asks that a restarted member be trusted again within a bound)."""
    bugs = frozenset({mutants.BOOT_NOT_RAISED})
    for seed in range(3):
        schedule = Schedule(seed=seed, ticks=3000, crash=0.6, every=200, window=4, kill=1, tail=10)
        assert once(schedule, 5, bugs, record=False).problem is None


def test_a_watch_kept_across_a_restart_delays_the_next_suspicion() -> None:
    """The bug the scenario found (fixed in impl/gossip/node.py `_heard`, switched back on by the
    mutant `window_kept_across_restart`): a watcher added the new incarnation's first heartbeat
    to the old incarnation's window, so the gap of the peer's down time became an inter-arrival
    time; at the peer's next crash, phi stayed under the threshold for more than ten rounds."""
    schedule = Schedule(seed=1, ticks=0, up=5, cycles=3, window=10)
    assert scenario(schedule, 5, frozenset(), record=False).problem is None
    bugs = frozenset({mutants.WINDOW_KEPT_ACROSS_RESTART})
    problem = scenario(schedule, 5, bugs, record=False).problem
    assert problem is not None and "not every watcher of" in problem, problem
