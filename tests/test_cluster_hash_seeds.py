"""Each node process of a real cluster runs with a PYTHONHASHSEED of its own, drawn from the run's
seed and the node's name (impl/runtime/launcher.py `hash_seeds`): distinct between the nodes of a
run, the same for the same run again, written in cluster.json and in the node's log. So a
replicated state that follows a set's iteration order differs between the nodes of one run, and the
check of the applied state (meshcheck/cluster/checks.py `applied_state`) sees it: the state
machine's mutant `overlay_cases_in_set_order` (impl/rsm/mutants.py) under the `overlays` workload
(meshcheck/cluster/workload.py), against the correct machine's nodes that agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshcheck.cluster.options import Outcome
from meshcheck.cluster.run import Options
from meshcheck.cluster.run import run
from meshcheck.impl.rsm import mutants
from meshcheck.impl.runtime.config import ClusterConfig
from meshcheck.impl.runtime.launcher import LocalCluster
from meshcheck.impl.runtime.launcher import hash_seeds
from tests.test_cluster_cmd import refused

NODES = ["n1", "n2", "n3", "n4", "n5"]
APPLIED = "applied state (inspected)"


def test_the_nodes_of_a_run_get_distinct_hash_seeds_and_a_run_again_the_same(
    tmp_path: Path,
) -> None:
    seeds = hash_seeds(7, NODES)
    assert sorted(seeds) == NODES
    assert len(set(seeds.values())) == len(NODES)  # distinct between the nodes of one run
    assert all(1 <= s < 2**32 for s in seeds.values())  # PYTHONHASHSEED's range, 0 left out
    assert hash_seeds(7, list(reversed(NODES))) == seeds  # the same run again
    assert hash_seeds(8, NODES) != seeds  # another run's seed, other hash seeds
    # the configuration every node process reads (and a user sees) holds them
    LocalCluster("raft", NODES, tmp_path, seed=7)
    assert ClusterConfig.read(tmp_path / "cluster.json").hash_seeds == seeds


def _run(folder: Path, bugs: frozenset[str]) -> Outcome:
    """A short Raft run of the overlays workload, no faults. Each node's log names the hash seed
    cluster.json gave it, and some overlay was deployed (what the mutant changes)."""
    outcome = run(
        Options(
            time=2,
            nemesis=(),
            seed=1,
            workload="overlays",
            clients=3,
            rate=60,
            tls=False,
            validate=False,
            bugs=bugs,
        ),
        folder,
    )
    config = ClusterConfig.read(folder / "cluster.json")
    assert len(set(config.hash_seeds.values())) == 3
    for node, seed in config.hash_seeds.items():
        first = (folder / f"{node}.log").read_text(encoding="utf-8").splitlines()[0]
        assert first == f"{node} up, PYTHONHASHSEED={seed}"
    deployed = [o for o in outcome.history.ops if o.status == "ok" and "overlay" in o.output]
    assert deployed, "no overlay was deployed: nothing the mutant changes was written"
    return outcome


def test_a_state_in_a_sets_order_is_caught_by_the_applied_state_of_real_processes(
    tmp_path: Path,
) -> None:
    """The correct machine's nodes hold one state at each commit index; with the mutant, nodes of
    different hash seeds hold different states at one commit index (the history is not
    linearizable either: a read of an overlay answers its cases in the node's set order, the
    `rsm` model's machine in sorted order)."""
    correct = _run(tmp_path / "correct", frozenset())
    assert correct.failed == [], correct.verdicts
    assert any(v.check == APPLIED and v.holds for v in correct.verdicts), correct.verdicts
    mutant = _run(tmp_path / "mutant", frozenset({mutants.OVERLAY_CASES_IN_SET_ORDER}))
    caught = {v.check: v.detail for v in mutant.failed}
    assert re.match(r"two states at commit index \d+: ", caught.get(APPLIED, "")), mutant.verdicts


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["--protocol", "pbft", "--bugs", mutants.OVERLAY_CASES_IN_SET_ORDER],
            f"--bugs: {mutants.OVERLAY_CASES_IN_SET_ORDER} is not a pbft catalogue mutant",
        ),
        (["--protocol", "pbft", "--workload", "overlays"], "--workload overlays: pbft runs"),
    ],
)
def test_only_raft_takes_the_state_machines_mutants_and_the_overlays(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert says in refused(argv, tmp_path, capsys)
