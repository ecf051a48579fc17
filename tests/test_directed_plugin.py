"""The directed scenarios (property_tests/directed/) on a plug-in: a Raft library meshcheck did not
write (tests/outside_raft's tinyraft: dict messages, a state machine of its own, no leader no-op)
is judged by the shared harness as its free runs are (property_tests/plugin.py):

- its client answers as its own (`own_answers`), not as impl/rsm's: the correct library passes
  every scenario, where the judgement by meshcheck's state machine failed it "not linearizable";
- the shape's action properties on every step besides the invariants after each: a leader whose
  matchIndex goes back inside a scenario fails it, by the property's name, on any target;
- the pace and the storm bound its target declares (`target(adapter, storm=..., timing=...)`):
  its nodes get the election timeout it needs, and the scenarios' waits and CommitLiveness bound
  scale with it; the reference core's pace stays every other target's.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

import attrs
import pytest

from meshcheck.impl.base.values import Value
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.sim import Faults
from meshcheck.property_tests.directed.library import BY_NAME
from meshcheck.property_tests.directed.library import SCENARIOS
from meshcheck.property_tests.directed.library import Scenario
from meshcheck.property_tests.directed.run import outcome
from meshcheck.property_tests.directed.run import schedule_of
from meshcheck.property_tests.directed.script import Script
from meshcheck.property_tests.directed.target import REFERENCE
from meshcheck.property_tests.directed.target import Bounds
from meshcheck.property_tests.free_runs import Storm
from meshcheck.property_tests.plugin import STORM
from meshcheck.property_tests.plugin import Adapter
from meshcheck.property_tests.plugin import Timing
from meshcheck.property_tests.plugin import own_answers
from meshcheck.property_tests.plugin import target
from meshcheck.property_tests.pysyncobj.directed import TARGET as PYSYNCOBJ_TARGET
from meshcheck.property_tests.raft.directed import TARGET as RAFT_TARGET
from tests.adapter_example import TARGET as EXAMPLE_TARGET

pytestmark = pytest.mark.fast

SOURCE = Path(__file__).with_name("outside_raft")
# a tinyraft whose leader beats every 400 ticks: it needs elections of 1200..2400 ticks
SLOW_HEARTBEAT = 400
SLOW = Timing(election_timeout=(1200, 2400), heartbeat=SLOW_HEARTBEAT)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> Adapter:
    """tinyraft's adapter, imported from the source folder, its spec named (not installed here)."""
    monkeypatch.syspath_prepend(str(SOURCE))
    adapter: Adapter = importlib.import_module("tinyraft_meshcheck.adapter").ADAPTER
    return attrs.evolve(adapter, spec="Raft")


# -- (a) a plug-in's client answers are its own ----------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_library_with_its_own_state_machine_passes_every_scenario(
    tiny: Adapter, scenario: Scenario
) -> None:
    found = outcome(target(tiny), scenario, 1)
    assert found.verdict == "pass", found.problem
    assert found.reached is not None


def test_its_answers_are_judged_as_its_own(tiny: Adapter) -> None:
    """tinyraft answers a write with {"previous": ...}: judged by impl/rsm's model (a target that
    leaves `linearize` unset, as every target was judged before), the correct library is "not
    linearizable"; its plug-in target judges its own answers, as its free runs do."""
    plugin = target(tiny)
    assert plugin.linearize is own_answers
    found = outcome(plugin, BY_NAME["lost-reply"], 1)
    assert found.verdict == "pass", found.problem
    judged_by_rsm = outcome(attrs.evolve(plugin, linearize=None), BY_NAME["lost-reply"], 1)
    assert judged_by_rsm.verdict == "fail"
    assert judged_by_rsm.problem is not None
    assert judged_by_rsm.problem.startswith("linearizable: not linearizable"), judged_by_rsm
    assert "{'previous': None}" in judged_by_rsm.problem


# -- (b) the shape's action properties on every step -----------------------------------------------


def test_a_match_index_regression_in_a_scenario_fails_by_name(tiny: Adapter) -> None:
    """match_regress: tinyraft's leader sets matchIndex from each answer, so the older answer
    `reordered-replies` delivers after the newer moves it back; the invariants all hold (its
    commitIndex is unharmed), MatchIndexMonotonic does not."""
    assert outcome(target(tiny), BY_NAME["reordered-replies"], 1).verdict == "pass"
    found = outcome(target(tiny), BY_NAME["reordered-replies"], 1, frozenset({"match_regress"}))
    assert found.verdict == "fail", found
    assert found.problem is not None and "violates MatchIndexMonotonic" in found.problem


def _no_invariants(state: Mapping[str, Value], safe: Mapping[str, Value] | None) -> list[str]:
    return []


@pytest.mark.parametrize("checks_invariants", [True, False], ids=["raft", "no invariants"])
def test_the_action_properties_are_the_harness_s_not_the_target_s(checks_invariants: bool) -> None:
    """stale_match_index (impl/raft/mutants.py) on the reference core's target, and on the same
    target with a `violated` that checks nothing: both fail by the property's name, which the
    harness takes from the shape of the spec the target names (Raft.tla's), not from the target.
    """
    chosen = (
        RAFT_TARGET if checks_invariants else attrs.evolve(RAFT_TARGET, violated=_no_invariants)
    )
    scenario = BY_NAME["reordered-replies"]
    assert outcome(chosen, scenario, 1).verdict == "pass"
    found = outcome(chosen, scenario, 1, frozenset({"stale_match_index"}))
    assert found.verdict == "fail", found
    assert found.problem is not None and "violates MatchIndexMonotonic" in found.problem


# -- (c) the pace and the storm bound a plug-in declares -------------------------------------------


def test_the_reference_pace_gives_the_bounds_as_they_were() -> None:
    """The reference core's pace (RaftConfig's defaults) is every target's unless it declares
    one: waits of 3000 ticks, a CommitLiveness bound of 600, a heartbeat's round of 60."""
    fields = attrs.fields(RaftConfig)
    assert REFERENCE.election_timeout == fields.election_timeout.default
    assert REFERENCE.heartbeat == fields.heartbeat_interval.default
    assert Bounds.of(REFERENCE) == Bounds(wait=3000, stall=600, round=60)
    for made in (RAFT_TARGET, PYSYNCOBJ_TARGET, EXAMPLE_TARGET):
        assert made.timing == REFERENCE


def test_a_slow_library_needs_its_own_pace(tiny: Adapter, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tinyraft whose leader beats every 400 ticks: given the reference core's elections of
    150..300 ticks its followers time out between heartbeats and no scenario gets past its start;
    its target declaring elections of 1200..2400 ticks, its nodes draw from those, the waits and
    the CommitLiveness bound scale with them, and the scenarios pass."""
    server = importlib.import_module("tinyraft.server")
    monkeypatch.setattr(server, "HEARTBEAT", SLOW_HEARTBEAT)
    scenario = BY_NAME["lost-reply"]
    assert outcome(target(tiny), scenario, 1).verdict != "pass"

    slow = target(tiny, timing=SLOW)
    assert slow.timing == SLOW
    sim = slow.cluster(3, 1, frozenset(), Faults(), None)
    assert {node.driver.config.timeout for node in sim.nodes.values()} == {(1200, 2400)}
    script = Script(slow, schedule_of(scenario.name, 1), scenario.nodes, frozenset())
    assert script.bounds == Bounds(wait=24000, stall=4800, round=410)
    assert (script.limit, script.watch.bound) == (24000, 4800)
    for name in ("lost-reply", "figure-8"):
        found = outcome(slow, BY_NAME[name], 1)
        assert found.verdict == "pass", (name, found.problem)


def test_a_plugin_declares_its_storm_bound(tiny: Adapter) -> None:
    """The storm bound a scenario's run is held to is the one the plug-in's target declares
    (Raft's by default): here one no cluster keeps, no message in flight."""
    assert target(tiny).storm == STORM
    tight = target(tiny, storm=Storm(in_flight_per_node=0, events_per_node_tick=1))
    found = outcome(tight, BY_NAME["lost-reply"], 1)
    assert found.verdict == "fail" and found.problem is not None
    assert ": Storm: " in found.problem
