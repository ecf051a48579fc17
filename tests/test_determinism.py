"""Determinism across processes (property_tests/determinism.py): the committed logs of the stored
traces and of a free run of each core give one digest after every entry in processes of three
hash seeds; the state machine mutant whose state follows a set's order (impl/rsm/mutants.py
`overlay_cases_in_set_order`) is caught there, and by nothing that runs in one process."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pytest

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.simulation import RaftPlugin
from meshcheck.impl.rsm import mutants
from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Workload
from meshcheck.property_tests import determinism
from meshcheck.property_tests.determinism import Divergence
from meshcheck.property_tests.determinism import Log

SET_ORDER = frozenset({mutants.OVERLAY_CASES_IN_SET_ORDER})


@pytest.fixture(scope="module")
def logs() -> list[Log]:
    return determinism.logs()


@pytest.fixture(scope="module")
def found(logs: list[Log]) -> Mapping[frozenset[str], list[Divergence]]:
    """The divergences of the logs, correct and with the mutant (one round of processes)."""
    variants: tuple[frozenset[str], ...] = (frozenset(), SET_ORDER)
    return dict(zip(variants, determinism.compare_variants(logs, variants), strict=True))


def _ops(log: Log) -> set[str]:
    return {e["op"] for e in log.entries if isinstance(e, FrozenDict) and "op" in e}


def test_every_log_gives_one_digest_under_every_hash_seed(
    logs: list[Log], found: Mapping[frozenset[str], list[Divergence]]
) -> None:
    names = [log.name for log in logs]
    for core in determinism.TRACED:
        assert any(name.startswith(f"traces/{core}/") for name in names), core
    # the PBFT traces keep each executed operation as its repr: read back as the operation
    assert any(_ops(log) for log in logs if log.name.startswith("traces/counterexamples/pbft/"))
    for core in determinism.RUNS:
        (run,) = (log for log in logs if log.name == f"free run of {core}, seed 1")
        assert "DeployOverlay" in _ops(run), core
    assert found[frozenset()] == []


def test_a_state_that_follows_set_order_differs_between_hash_seeds(
    found: Mapping[frozenset[str], list[Divergence]],
) -> None:
    divergences = found[SET_ORDER]
    assert divergences, "the mutant survived the determinism check"
    for divergence in divergences:
        assert divergence.entry["op"] == "DeployOverlay"
        assert len(divergence.entry["cases"]) > 1
        assert [seed for seed, _ in divergence.digests] == list(determinism.SEEDS)
        assert "digests differ after entry" in str(divergence)
    # the free runs' clients deploy overlays of several cases; the stored traces hold none
    assert {d.log for d in divergences} >= {"free run of raft, seed 1", "free run of pbft, seed 1"}


def test_one_hash_seed_does_not_see_the_mutant(
    logs: list[Log], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the check runs processes of different hash seeds: with one, every check is blind."""
    # processes of one hash seed agree, and so do two machines of this process
    assert determinism.compare(logs, SET_ORDER, seeds=("7", "7")) == []
    entries = [log.entries for log in logs]
    assert determinism.apply_logs(entries, SET_ORDER) == determinism.apply_logs(entries, SET_ORDER)

    # a simulated Raft cluster whose machines have the mutant, snapshots shipped among them: State
    # Machine Safety holds, and at every count of entries applied every node's digest is one
    def new_node(self: RaftPlugin, node_id: str, rng: random.Random) -> RaftNode:
        config = RaftConfig(node_id, self.servers, **self._options)
        return RaftNode(config, rng, machine=lambda: StateMachine(SET_ORDER))

    monkeypatch.setattr(RaftPlugin, "new_node", new_node)
    sim = raft_cluster(
        3,
        seed=1,
        faults=Faults(drop=0.05, duplicate=0.05, crash=0.2, until=750),
        workload=Workload(every=15, make=determinism.write, until=1200),
        snapshot_interval=7,
        record=False,
    )
    sim.run(until=1500)
    assert sim.divergences == []
    states: Mapping[int, set[bytes]] = defaultdict(set)
    for applied in sim.applied.values():
        for entry in applied:
            if entry.state is not None:
                states[entry.state[0]].add(entry.state[1])
    overlays = [v for v in sim.first_applied.values() if _is_overlay(v)]
    assert overlays and states
    assert all(len(digests) == 1 for digests in states.values())


def _is_overlay(value: Any) -> bool:
    return isinstance(value, FrozenDict) and value.get("op") == "DeployOverlay"


def test_an_unknown_state_machine_mutant_is_one_clear_error() -> None:
    with pytest.raises(ImplError, match="no_such: not a mutant of the state machine"):
        StateMachine(frozenset({"no_such"}))


def test_an_operation_kept_as_its_repr_is_read_back() -> None:
    value = FrozenDict({"op": "Custom", "key": "k0", "value": FrozenDict({"n": (1, -2, True)})})
    assert determinism.from_repr(repr(value)) == value
    assert determinism.from_repr("v1") == "v1"
    assert determinism.from_repr("FrozenDict({'op': open('x')})") == "FrozenDict({'op': open('x')})"
