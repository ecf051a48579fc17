"""A plug-in's own pace and storm bound, declared once on its `Adapter` (property_tests/plugin.py)
and taken by every check the harness runs on it: its free runs (the election timeout its nodes
get, the timeouts `free_run_check` draws, the liveness promises' bounds, the storm bound) as its
directed scenarios (`target`). A library meshcheck did not write may beat more slowly or more
often than the reference core: held to the core's pace, a correct slow one fails, and a fast one is
let off with a stall its own heartbeat does not allow.

tinyraft (tests/outside_raft) stands in for such a library, its heartbeat changed: every 400 ticks
(it needs elections of 1200..2400 ticks), or every 10 (its leader commits sooner).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import attrs
import hypothesis
import pytest

from meshcheck.impl.adapters.contract import Driver
from meshcheck.impl.adapters.raft_core import CoreDriver
from meshcheck.impl.raft import message_record
from meshcheck.property_tests import plugin
from meshcheck.property_tests.directed.library import BY_NAME
from meshcheck.property_tests.directed.run import outcome
from meshcheck.property_tests.directed.target import REFERENCE
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.plugin import STORM
from meshcheck.property_tests.plugin import Adapter
from meshcheck.property_tests.plugin import Storm
from meshcheck.property_tests.plugin import Timing
from meshcheck.property_tests.plugin import check_run
from meshcheck.property_tests.plugin import election_timeouts
from meshcheck.property_tests.plugin import free_run_check
from meshcheck.property_tests.plugin import target
from meshcheck.property_tests.plugin import write_log
from meshcheck.violated import HISTORY_ANOMALY
from meshcheck.violated import STORM as STORM_BOUND
from meshcheck.violated import Violated

pytestmark = pytest.mark.fast

SOURCE = Path(__file__).with_name("outside_raft")
SLOW = Timing(election_timeout=(1200, 2400), heartbeat=400)
CALM = Schedule(seed=1, ticks=1500)
# a few drawn runs, never shrunk (a run at the wrong pace fails at once)
FEW = hypothesis.settings(
    max_examples=4,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(hypothesis.Phase.generate,),
    suppress_health_check=list(hypothesis.HealthCheck),
)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> Adapter:
    """tinyraft's adapter, imported from the source folder, its spec named (not installed here)."""
    monkeypatch.syspath_prepend(str(SOURCE))
    adapter: Adapter = importlib.import_module("tinyraft_meshcheck.adapter").ADAPTER
    return attrs.evolve(adapter, spec="Raft")


def _beating(monkeypatch: pytest.MonkeyPatch, heartbeat: int) -> None:
    monkeypatch.setattr(importlib.import_module("tinyraft.server"), "HEARTBEAT", heartbeat)


def test_an_adapter_that_declares_nothing_runs_at_the_reference_pace(tiny: Adapter) -> None:
    """The reference core's pace and Raft's storm bound, and the timeouts its free runs draw."""
    assert (tiny.timing, tiny.storm) == (REFERENCE, STORM)
    assert election_timeouts(REFERENCE) == ((150, 300), (150, 160))
    assert election_timeouts(SLOW) == ((1200, 2400), (1200, 1280))
    made = target(tiny)
    assert (made.timing, made.storm) == (REFERENCE, STORM)


def test_a_slow_library_s_free_runs_take_the_pace_it_declares(
    tiny: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beating every 400 ticks, its followers time out between heartbeats at elections of
    150..300 ticks: no leader stays, EventuallyLeader fails. Declared on its adapter, its nodes
    get elections of 1200..2400 ticks, and the run holds."""
    _beating(monkeypatch, SLOW.heartbeat)
    with pytest.raises(CheckFailed, match="EventuallyLeader"):
        check_run(tiny, CALM)
    run = check_run(attrs.evolve(tiny, timing=SLOW), CALM)
    assert {node.driver.config.timeout for node in run.sim.nodes.values()} == {(1200, 2400)}


def test_the_free_runs_it_is_checked_with_draw_timeouts_of_its_pace(
    tiny: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`free_run_check` (its `meshcheck mutants` check): the drawn election timeouts are its
    pace's, and its drawn runs hold; at the reference core's they fail."""
    _beating(monkeypatch, SLOW.heartbeat)
    given: set[tuple[int, int]] = set()

    def recording(
        node_id: str, servers: tuple[str, ...], bugs: frozenset[str], timeout: tuple[int, int]
    ) -> Driver:
        given.add(timeout)
        driver: Driver = tiny.driver(node_id, servers, bugs, timeout)
        return driver

    with pytest.raises(CheckFailed):
        free_run_check(attrs.evolve(tiny, driver=recording), frozenset(), FEW)
    assert given and given <= set(election_timeouts(REFERENCE))
    given.clear()
    free_run_check(attrs.evolve(tiny, driver=recording, timing=SLOW), frozenset(), FEW)
    assert given and given <= set(election_timeouts(SLOW))


def test_a_fast_library_is_held_to_the_bounds_of_its_own_heartbeat(
    tiny: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beating every 10 ticks, and saying so, its leader is held to commit within a few of its
    heartbeats: the liveness promises' bounds derive from the heartbeat it declares
    (property_tests/raft/targets.py). Its leader that stops committing (tinyraft's
    commit_stops_at_old_term) fails LeaderCommitsStoredEntries 1,740 ticks after healing, where
    the reference core's heartbeat of 50 would let it stall for 3,900."""
    _beating(monkeypatch, 10)
    fast = attrs.evolve(tiny, timing=attrs.evolve(REFERENCE, heartbeat=10))
    schedule = Schedule(
        seed=2, ticks=1500, drop=0.05, duplicate=0.05, delay=0.1, crash=0.3, partition=0.3
    ).with_knobs(timeout=(150, 160))
    stall = r"commitIndex \d+ for 1,741 ticks after the network healed"
    with pytest.raises(CheckFailed, match=f"LeaderCommitsStoredEntries: .*{stall}"):
        check_run(fast, schedule, 3, frozenset({"commit_stops_at_old_term"}))


def test_its_free_runs_are_held_to_the_storm_bound_it_declares(tiny: Adapter) -> None:
    """Raft's bound by default; the adapter's own (here one no cluster keeps: no message in
    flight) once it declares one."""
    check_run(tiny, CALM)
    tight = attrs.evolve(tiny, storm=Storm(in_flight_per_node=0, events_per_node_tick=1))
    with pytest.raises(
        CheckFailed, match=r"messages in flight \(a correct cluster keeps under 0\)"
    ) as failed:
        check_run(tight, CALM)
    # named as the scenarios name it, not "(unnamed)"
    assert failed.value.violated is not None and failed.value.violated.name == STORM_BOUND


def test_a_free_run_s_client_history_failure_is_named_by_its_check(
    tiny: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the reference core's free runs name it: the history check's name, a history anomaly
    (here a stand-in verdict of that check on a calm run)."""
    verdict = "linearizable: not linearizable (key 'k'): a stand-in"
    monkeypatch.setattr(plugin, "check_history", lambda sim, linearize=None: verdict)
    with pytest.raises(CheckFailed, match="a stand-in") as failed:
        check_run(tiny, CALM)
    assert failed.value.violated == Violated(HISTORY_ANOMALY, "linearizable")


def test_its_validation_log_s_run_stops_at_the_storm_bound_it_declares() -> None:
    """`write_log` (what `meshcheck validate` reads of it) stops its run at the adapter's bound:
    here at once, one record in (a Raft adapter whose values the validation model takes)."""
    core = Adapter("raft-adapter", CoreDriver, message_record, spec="Raft")
    assert len(write_log(core, Schedule(seed=1, ticks=500)).records) > 100
    tight = attrs.evolve(core, storm=Storm(in_flight_per_node=0, events_per_node_tick=1))
    assert len(write_log(tight, Schedule(seed=1, ticks=500)).records) == 1


def test_its_directed_scenarios_take_what_it_declares(
    tiny: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`target(adapter)` takes the adapter's pace and storm bound; a target's own still wins."""
    _beating(monkeypatch, SLOW.heartbeat)
    paced = attrs.evolve(
        tiny, timing=SLOW, storm=Storm(in_flight_per_node=50, events_per_node_tick=2)
    )
    made = target(paced)
    assert (made.timing, made.storm) == (SLOW, paced.storm)
    assert outcome(made, BY_NAME["lost-reply"], 1).verdict == "pass"
    assert target(paced, timing=REFERENCE, storm=STORM).timing == REFERENCE
