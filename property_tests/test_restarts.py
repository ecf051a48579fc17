"""Restart equivalence and core purity (property_tests/restarts.py) under pytest: every protocol's
check holds on the correct cores with the loaded profile; the snapshot walker, the simulator's
step watchers and the purity check each do what they say; and each check fails on a broken
implementation: the two catalogue mutants of this class, a plug-in that hands a restarted node its
predecessor's state machine, and a core global written during a run."""

from __future__ import annotations

import random
import sys
import types
from typing import Any
from typing import ClassVar

import attrs
import pytest
from hypothesis import settings

from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hotstuff.mutants import VERIFIED_CACHE_ON_CLASS
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.mutants import PENDING_WRITES_OUTLIVE_RESTART
from meshcheck.impl.raft.simulation import RaftPlugin
from meshcheck.impl.rsm import StateMachine
from meshcheck.property_tests import profiles
from meshcheck.property_tests import restarts
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip.checks import CHECKS as GOSSIP
from meshcheck.property_tests.hotstuff.checks import CHECKS as HOTSTUFF
from meshcheck.property_tests.hybrid.checks import CHECKS as HYBRID
from meshcheck.property_tests.pbft.checks import CHECKS as PBFT
from meshcheck.property_tests.pysyncobj.checks import CHECKS as PYSYNCOBJ
from meshcheck.property_tests.raft import restarts as raft_restarts
from meshcheck.property_tests.raft.checks import CHECKS as RAFT

CHECKS: dict[str, tuple[Check, ...]] = {
    "raft": RAFT,
    "pbft": PBFT,
    "hotstuff": HOTSTUFF,
    "gossip": GOSSIP,
    "hybrid": HYBRID,
    "pysyncobj": PYSYNCOBJ,
}
RESTART_CHECKS = [
    pytest.param(check, id=f"{protocol}: {check.name}")
    for protocol, checks in CHECKS.items()
    for check in checks
    if check.name.startswith("restart equivalence")
]

# the mutant tests: a few fixed examples, no shrinking (profiles.FEW's, four of them)
FEW = settings(profiles.FEW, max_examples=4)


# -- every protocol holds ---------------------------------------------------------------------------


def test_every_protocol_registers_the_check_after_its_cheaper_ones() -> None:
    """Raft at 3 and 5 nodes, PBFT and HotStuff at 4 replicas, gossip, the hybrid layer and the
    PySyncObj adapter; last in each list (the cheaper checks kill first under `meshcheck mutants`)."""
    assert len(RESTART_CHECKS) == 7
    for checks in CHECKS.values():
        names = [c.name.startswith("restart equivalence") for c in checks]
        assert names[-1] and names == sorted(names)


@pytest.mark.parametrize("check", RESTART_CHECKS)
def test_a_restarted_node_is_a_fresh_node(check: Check) -> None:
    check.run(frozenset(), settings())


# -- the two mutants of the catalogue ---------------------------------------------------------------


def test_pending_writes_kept_on_the_class_are_caught() -> None:
    """Raft's table of client writes kept in a registry on the class: the restarted follower
    answers its predecessor's requests (seen as a Reply the fresh node does not send, and as the
    registry changed by the run)."""
    # another test of this process that switched the mutant on outside the check (its rule test,
    # `meshcheck mutants raft`) may have left tables in the registry; a run that writes what is
    # already there changes nothing purity could see, so the check starts from an empty registry
    kept = dict(RaftNode._PENDING_BY_ID)
    RaftNode._PENDING_BY_ID.clear()
    try:
        with pytest.raises(CheckFailed) as failed:
            RAFT[-2].run(frozenset({PENDING_WRITES_OUTLIVE_RESTART}), FEW)
    finally:
        RaftNode._PENDING_BY_ID.clear()
        RaftNode._PENDING_BY_ID.update(kept)
    assert "RaftNode._PENDING_BY_ID" in failed.value.message
    assert failed.value.trace is not None  # the run, recorded, for the corpus


def test_a_pending_write_kept_across_a_restart_is_state_a_fresh_node_lacks() -> None:
    """The same mutant seen by the shadowing alone: on a run whose leader crashes with a write
    pending, the restarted node holds the write in its table right after its Restart, the fresh
    one does not."""
    schedule = restarts.with_crashes(Schedule(seed=13, ticks=1500, drop=0.05, down=(1, 100)))
    _, problem = restarts.watched_run(
        raft_restarts.WIRING, schedule, 3, frozenset({PENDING_WRITES_OUTLIVE_RESTART})
    )
    assert problem == (
        "restart equivalence: s1, incarnation 1 (restarted at t=400), at t=400: its state right "
        "after the restart differs from a fresh node's (restarted != fresh):\n"
        "  node._writes_pending[11]: 20 != (absent)"
    )
    _, holds = restarts.watched_run(raft_restarts.WIRING, schedule, 3, frozenset())
    assert holds is None


def test_a_verified_signature_cache_on_the_class_is_caught() -> None:
    """HotStuff's cache of checked signatures shared by every replica and incarnation: every
    other check passes (a verification is a pure function within a run); core purity names it."""
    from meshcheck.impl.hotstuff.replica import Replica

    before = set(Replica._VERIFIED_BY_ALL)
    with pytest.raises(CheckFailed) as failed:
        HOTSTUFF[-1].run(frozenset({VERIFIED_CACHE_ON_CLASS}), FEW)
    assert "Replica._VERIFIED_BY_ALL" in failed.value.message
    # the run's writes were undone: the next run starts from the same globals
    assert before == Replica._VERIFIED_BY_ALL


# -- a plug-in that hands a restarted node state of its predecessor --------------------------------


class SharingPlugin(RaftPlugin):
    """A plug-in that keeps each node's state machine and hands it to the node's next
    incarnation (a cache of the expensive object, as a host might keep): the restarted node then
    holds what it never persisted."""

    def new_node(self, node_id: str, rng: random.Random) -> RaftNode:
        machines: dict[str, StateMachine] = self.__dict__.setdefault("machines", {})
        machine = machines.setdefault(node_id, StateMachine())
        config = RaftConfig(node_id, self.servers, **self._options)
        return RaftNode(config, rng, lambda: machine)


def test_a_plugin_that_hands_over_the_state_machine_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import meshcheck.impl.raft.simulation as simulation

    monkeypatch.setattr(simulation, "RaftPlugin", SharingPlugin)
    schedule = restarts.with_crashes(Schedule(seed=1, ticks=1500, down=(1, 100)))
    _, problem = restarts.watched_run(raft_restarts.WIRING, schedule, 3, frozenset())
    assert problem is not None and "differs from a fresh node's" in problem
    assert "node.machine." in problem


# -- the snapshot walker ----------------------------------------------------------------------------


@attrs.frozen
class Entry:
    term: int
    value: Any


class Core:
    PROCESS_STAMPS: ClassVar[tuple[str, ...]] = ("stamp",)

    def __init__(self, shared: Any, entries: list[Entry], stamp: int) -> None:
        self.shared = shared
        self.log = {"entries": entries}
        self.rng = random.Random(3)
        self.stamp = stamp
        self.same = self.log  # an alias is part of the state
        self.leader: str | None = None


def test_snapshots_differ_by_path_and_leave_the_environment_out() -> None:
    keys_a, keys_b = {"k": 1}, {"k": 2}  # each cluster's shared keys, unequal
    a = Core(keys_a, [Entry(1, "x"), Entry(2, FrozenDict({"v": 1}))], stamp=7)
    b = Core(keys_b, [Entry(1, "x"), Entry(3, FrozenDict({"v": 1}))], stamp=9)
    env_a, env_b = restarts.reachable([keys_a]), restarts.reachable([keys_b])
    found = restarts.differences(restarts.snapshot(a, env_a), restarts.snapshot(b, env_b))
    assert found == ["node.log['entries'][1].term: 2 != 3"]  # not the keys, not the stamp
    # without the environment, the shared keys are compared like any state
    shown = restarts.differences(restarts.snapshot(a), restarts.snapshot(b))
    assert "node.shared['k']: 1 != 2" in shown


class Memoed(Core):
    MEMO_FIELDS: ClassVar[tuple[str, ...]] = ("last",)

    def __init__(self, last: dict[str, int], other: dict[str, int]) -> None:
        super().__init__({}, [], 0)
        self.last = last
        self.other = other


def test_a_memo_field_is_not_compared_and_an_undeclared_one_is() -> None:
    a = Memoed({"commitIndex": 19}, {"x": 1})
    b = Memoed({}, {"x": 1})
    assert restarts.differences(restarts.snapshot(a), restarts.snapshot(b)) == []
    b.other["x"] = 2  # the same kind of field, not declared: compared
    assert restarts.differences(restarts.snapshot(a), restarts.snapshot(b)) == [
        "node.other['x']: 1 != 2"
    ]


def test_a_generator_is_compared_by_its_state_and_an_alias_by_its_place() -> None:
    a = Core({}, [], 0)
    b = Core({}, [], 0)
    assert restarts.snapshot(a) == restarts.snapshot(b)
    b.rng.random()
    assert restarts.differences(restarts.snapshot(a), restarts.snapshot(b))[0].startswith(
        "node.rng: "
    )
    b = Core({}, [], 0)
    b.leader = "s2"
    assert restarts.differences(restarts.snapshot(a), restarts.snapshot(b)) == [
        "node.leader: None != 's2'"
    ]
    b = Core({}, [], 0)
    b.same = {"entries": []}  # equal, but no longer the same object
    assert restarts.differences(restarts.snapshot(a), restarts.snapshot(b)) == [
        "node.same: <same object as .log> != dict(…1 parts)"
    ]


# -- the simulator's watchers -----------------------------------------------------------------------


def test_watchers_see_every_step_and_each_restart_with_its_incarnations_seed() -> None:
    sim = raft_restarts.WIRING.build(
        restarts.with_crashes(Schedule(seed=2, ticks=1000, down=(1, 100))), 3, frozenset(), False
    )
    seen: list[tuple[str, Any, Any]] = []
    sim.watchers.append(lambda i, node, event, effects: seen.append((i, node, event)))
    events = sim.events
    sim.run(until=1000)
    restarts_seen = [(i, node) for i, node, event in seen if isinstance(event, Restart)]
    assert len(seen) - len(restarts_seen) == sim.events - events
    assert len(restarts_seen) == sim.fault_counts["restart"] > 0
    i, node = restarts_seen[-1]
    assert sim.nodes[i] is node
    assert sim.node_seed(i) == f"2:{i}:{sim.incarnation[i]}"


# -- core purity ------------------------------------------------------------------------------------


@pytest.fixture
def core_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("meshcheck.impl.raft.scratch")
    exec(
        "CACHE = {}\n"
        "MEMO = {}\n"
        "PURE_GLOBALS = ('MEMO',)\n"
        "class Table:\n"
        "    rows = []\n"
        "def add(x, seen=[]):\n"
        "    seen.append(x)\n",
        module.__dict__,
    )
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_purity_names_each_global_a_run_changed_and_puts_containers_back(
    core_module: Any,
) -> None:
    before = restarts.global_state()
    saved = restarts.saved_containers()
    core_module.CACHE["s1"] = 1
    core_module.MEMO["x"] = 2  # declared pure: not looked at
    core_module.Table.rows.append(3)
    core_module.add(4)
    changed = restarts.changed_globals(before, restarts.global_state())
    assert sorted(changed) == [
        "meshcheck.impl.raft.scratch.CACHE",
        "meshcheck.impl.raft.scratch.Table.rows",
        "meshcheck.impl.raft.scratch.add() defaults",
    ]
    assert changed["meshcheck.impl.raft.scratch.CACHE"] == (
        "meshcheck.impl.raft.scratch.CACHE['s1']: (absent) != 1"
    )
    restarts.restore(saved, list(changed))
    assert core_module.CACHE == {} and core_module.Table.rows == []
    assert core_module.MEMO == {"x": 2}


def test_a_run_that_writes_a_core_global_fails(
    core_module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scratch bug, not in the catalogue: a node that files its term in a module global."""
    step = RaftNode.step

    def leaky(self: RaftNode, event: Any) -> Any:
        core_module.CACHE[self.id] = self.term
        return step(self, event)

    monkeypatch.setattr(RaftNode, "step", leaky)
    schedule = restarts.with_crashes(Schedule(seed=0, ticks=500, down=(1, 100)))
    _, problem = restarts.watched_run(raft_restarts.WIRING, schedule, 3, frozenset())
    assert problem is not None and problem.startswith("core purity")
    assert "meshcheck.impl.raft.scratch.CACHE[" in problem
    assert core_module.CACHE == {}  # put back
