"""The restart scenario every protocol gets by describing itself (property_tests/scenarios.py
`Restarting`), on a plug-in: the example adapter (tests/adapter_example.py, the reference Raft
core behind property_tests/plugin.py's harness) says how its cluster is built, which node to
restart (its leader, read from the spec's variables its adapter gives) and what its runs must end
with; the scenario crashes that node, restarts it, and holds it to catching up. The correct core
passes it, with one cycle and with three; a restart that keeps state it must drop fails it, and so
does a catalogue mutant of the core, each with its recorded run (the drawn check,
`Scripted.drawn`, is the one every protocol's scripted scenario runs under its own tests)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import attrs
import hypothesis
import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.raft import mutants
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import plugin
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.scenarios import applied
from meshcheck.property_tests.scenarios import caught
from meshcheck.property_tests.scenarios import crashes
from meshcheck.property_tests.scenarios import held
from meshcheck.property_tests.scenarios import recorded_failure
from meshcheck.violated import LIVENESS_BOUND
from meshcheck.violated import RESTART_CATCH_UP
from meshcheck.violated import Violated
from tests import adapter_example

ADAPTER = adapter_example.adapter()


def _leader(sim: Simulator[Any], rng: random.Random) -> str | None:
    """Which node the plug-in restarts: an up leader, read from the spec's variables its state()
    gives (Raft.tla's `role`)."""
    role = sim.plugin.abstract_state(sim.nodes, FrozenDict(), {})["role"]
    return next((i for i in sim.node_ids if role.get(i) == "Leader" and sim.up[i]), None)


RESTARTING = attrs.evolve(plugin.restarting(ADAPTER), victim=_leader)
SCRIPTED = RESTARTING.scripted("restarted_node_catches_up", 1 / 10, 3)


@pytest.mark.parametrize("cycles", [1, 3])
def test_a_restarted_node_of_a_plug_in_catches_up(cycles: int) -> None:
    for s in held(SCRIPTED, 3, [Schedule(seed=seed, ticks=0, cycles=cycles) for seed in range(2)]):
        victims = crashes(s.sim)
        assert len(victims) == cycles, s.sim.fault_log
        victim = victims[-1]
        others = max(applied(s.sim, i) for i in s.sim.node_ids if i != victim)
        assert applied(s.sim, victim) > 0 and others > 0


def test_a_restart_that_keeps_its_commit_index_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug made up here, of the class the scenario is for: a restarted node takes its whole log
    as committed (commitIndex is volatile: Raft's Figure 2) without applying it."""
    load = RaftNode._load

    def keeps_commit_index(self: RaftNode, persisted: Mapping[str, Any]) -> None:
        load(self, persisted)
        self.commit_index = self.log.last_index

    monkeypatch.setattr(RaftNode, "_load", keeps_commit_index)
    schedule = Schedule(seed=0, ticks=0, cycles=1)
    problem = caught(SCRIPTED.check, schedule, 3, frozenset())
    assert problem.startswith("applied at most once"), problem


def test_a_leader_that_proposes_its_uncommitted_entries_again_is_caught() -> None:
    """A catalogue mutant of the core behind the adapter, `repropose_uncommitted`: the restarted
    leader's successor appends again the entries it holds uncommitted, applied twice."""
    schedule = Schedule(seed=0, ticks=0, cycles=3)
    problem = caught(SCRIPTED.check, schedule, 3, frozenset({mutants.REPROPOSE_UNCOMMITTED}))
    assert problem.startswith("applied at most once"), problem


def test_the_plug_in_s_checks_hold_it_to_the_restart_scenario() -> None:
    """`meshcheck mutants` on a plug-in runs the restart scenario beside its free runs
    (`plugin.checks`): the check holds on the correct core, and fails on the catalogue mutant above
    within a few drawn runs (any node restarted, not only the leader)."""
    restart = {c.name: c for c in plugin.checks(ADAPTER)}["restart (3 nodes)"]
    few = hypothesis.settings(
        max_examples=30,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[hypothesis.Phase.generate],  # a failure is the point here, not its shrinking
    )
    restart.run(frozenset(), few)
    with pytest.raises(CheckFailed, match="applied at most once"):
        restart.run(frozenset({mutants.REPROPOSE_UNCOMMITTED}), few)


def test_a_node_that_does_not_catch_up_breaks_restart_catch_up_in_bounded_runs() -> None:
    """A restarted node that never catches up (a stand-in here: the catch-up never holds) breaks
    the named bound RestartCatchUp, within the scenario's `limit`; drawn, the verdict comes after
    the profile's share of runs and the failing one's replay, its schedule not shrunk (each
    smaller seed Hypothesis would try is another whole run)."""
    never = attrs.evolve(RESTARTING, caught_up=lambda sim, node, mark: False, limit=300)
    scripted = never.scripted("restarted_node_catches_up", 1 / 10, 3)
    failed = recorded_failure(scripted.check, Schedule(seed=0, ticks=0, cycles=1), 3, frozenset())
    assert failed.violated == Violated(LIVENESS_BOUND, RESTART_CATCH_UP)
    assert "RestartCatchUp: " in failed.message and "within 300 ticks" in failed.message

    runs: list[Schedule] = []
    scenario = never.scenario

    def counted(schedule: Schedule, n: int, bugs: frozenset[str], record: bool) -> Any:
        runs.append(schedule)
        return scenario(schedule, n, bugs, record)

    drawn = attrs.evolve(scripted, run=counted)
    few = hypothesis.settings(max_examples=30, database=None, derandomize=True, deadline=None)
    with pytest.raises(CheckFailed, match="RestartCatchUp"):
        drawn.drawn(frozenset(), few)
    # the first draw fails (unrecorded, then recorded), and Hypothesis replays it once: no shrinking
    assert len(runs) == 4 and len(set(runs)) == 1, runs
