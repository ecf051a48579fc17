"""The project's own cores under the disk faults (`meshcheck cluster test --nemesis power,corrupt`,
meshcheck/cluster/disk_faults.py): each node's data directory on a lazy filesystem; a power
failure drops what it did not fsync. Raft holds under power failures and corruption (a node that
cannot read its damaged state file refuses to start and is left down, reported); the runtime's
two disk mutants (impl/runtime/mutants.py) lose acknowledged writes at a power failure of every
node and pass a kill -9 with the same seed, which is why the fault exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshcheck.cluster.run import Options
from meshcheck.cluster.run import Outcome
from meshcheck.cluster.run import run
from meshcheck.faults.lazyfs import fuse_unavailable
from meshcheck.faults.lazyfs import is_mounted
from meshcheck.impl.runtime.mutants import ACK_BEFORE_FSYNC
from meshcheck.impl.runtime.mutants import SKIP_FSYNC

_WHY = fuse_unavailable()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"FUSE cannot be mounted: {_WHY}")

# seed 1's plan under `power` alone: every node at t=1.5 s, then one node, then a minority;
# under `power,corrupt`, seed 3's: one node, a corruption of n3, then every node
MUTANT_SEED, HOLDS_SEED = 1, 3
# four PBFT replicas, seed 9: a minority, every replica at t=3.2 s, then a corruption of n0
PBFT_SEED = 9


def _run(tmp_path: Path, name: str, nemesis: tuple[str, ...], seed: int, **kw: object) -> Outcome:
    folder = tmp_path / name
    options = Options(
        protocol=str(kw.pop("protocol", "raft")),
        nodes=int(kw.pop("nodes", 3)),  # type: ignore[call-overload]
        time=10.0,
        nemesis=nemesis,
        seed=seed,
        validate=False,
        **kw,  # type: ignore[arg-type]
    )
    outcome = run(options, folder)
    data = folder / "data"
    assert not any(is_mounted(p) for p in data.iterdir()), "a lazy mount outlived the run"
    return outcome


def _failed(outcome: Outcome) -> set[str]:
    return {v.check for v in outcome.failed}


def test_raft_holds_under_power_failures_and_corruption(tmp_path: Path) -> None:
    outcome = _run(tmp_path, "holds", ("power", "corrupt"), HOLDS_SEED)
    assert outcome.safe, outcome.failed
    kinds = [f.kind for f in outcome.plan]
    assert "corrupt" in kinds and any(f.scope == "all" for f in outcome.plan)
    log = (tmp_path / "holds" / "nemesis.log").read_text(encoding="utf-8")
    assert "power failure of n1,n2,n3: unsynced changes dropped" in log
    # the file-level evidence: the nodes' step logs are never fsynced (docs/faults.md)
    assert re.search(
        r"n\d lost: bytes not synced: node\.ndjson \(\d+ of \d+ bytes survive\)", log
    ), log
    # what was done to which file, and what the node made of it
    assert "corrupt n3: state.wal: " in log
    assert "n3 did not come back, left down" in log or "n3 came back on its damaged" in log


# make test runs skip_fsync; ack_before_fsync, the same fault with fewer writes lost, is the slow
# tier's
BUGS = [SKIP_FSYNC, pytest.param(ACK_BEFORE_FSYNC, marks=pytest.mark.slow)]


@pytest.mark.parametrize("bug", BUGS)
@pytest.mark.moved(
    stand_in="tests/test_lazy_fs_cluster.py::test_the_mutant_without_fsyncs_loses_acknowledged_writes_at_a_power_failure",
    why="the core without its fsyncs loses every acknowledged write at a power failure of every "
    "node; the durability verdict's failing is tests/test_cluster_cmd.py's "
    "test_raft_durability_counts_a_node_whose_snapshot_may_hold_the_write",
)
def test_a_runtime_mutant_of_the_fsync_loses_acknowledged_writes_at_a_power_failure(
    tmp_path: Path, bug: str
) -> None:
    """The durability check is the one made for the bug: it fails on every run. A read that sees
    the loss makes the history non-linearizable too when one comes after it (skip_fsync loses
    enough that one always does; ack_before_fsync's second of lag loses a few writes, which a
    loaded machine's reads can miss)."""
    outcome = _run(tmp_path, "power", ("power",), MUTANT_SEED, bugs=frozenset({bug}))
    failed = _failed(outcome)
    assert "acknowledged writes durable" in failed, outcome.verdicts
    if bug == SKIP_FSYNC:
        assert "linearizable (rsm)" in failed, outcome.verdicts
    durable = next(v for v in outcome.verdicts if v.check == "acknowledged writes durable")
    assert "is on 0 of 3 disks" in durable.detail or "is on 1 of 3 disks" in durable.detail


# make test-all's (17 s): that kill -9 alone misses what the power failure catches says why the
# lazy filesystem is needed; it guards no check.
@pytest.mark.slow
@pytest.mark.parametrize("bug", BUGS)
def test_the_same_mutant_passes_kill_9_with_the_same_seed(tmp_path: Path, bug: str) -> None:
    outcome = _run(tmp_path, "kill", ("kill",), MUTANT_SEED, bugs=frozenset({bug}))
    assert any(f.kind == "kill" for f in outcome.plan)
    assert outcome.safe, outcome.failed


@pytest.mark.slow  # four PBFT replicas and their clients: the heavier protocol under the same
def test_pbft_holds_under_power_failures_and_corruption(tmp_path: Path) -> None:
    outcome = _run(tmp_path, "pbft", ("power", "corrupt"), PBFT_SEED, protocol="pbft", nodes=4)
    assert outcome.safe, outcome.failed
    assert {f.scope for f in outcome.plan if f.kind == "power"} >= {"all"}
    assert "corrupt" in [f.kind for f in outcome.plan]
