"""A power failure of a whole Raft cluster of the project's own core (impl/runtime), its nodes'
data directory on the lazy filesystem (docs/faults.md): every acknowledged write is still in a
majority of the nodes' logs when they come back. The mutant of the state file's discipline that
skips its fsyncs (impl/runtime/disk.py with sync=False in the node processes) passes a kill -9 of
every node, since the page cache keeps what it wrote, and loses acknowledged writes at the power
failure: what this fault adds to those meshcheck had."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from meshcheck.faults.lazyfs import LazyFsError
from meshcheck.faults.lazyfs import LazyMount
from meshcheck.faults.lazyfs import fuse_unavailable
from meshcheck.faults.lazyfs import is_mounted
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.runtime.client import Client
from meshcheck.impl.runtime.client import write
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.launcher import LocalCluster
from meshcheck.impl.runtime.launcher import alive
from meshcheck.impl.runtime.protocols import protocol

_WHY = fuse_unavailable()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"FUSE cannot be mounted: {_WHY}")

CODEC = protocol("raft").codec()
NODES = ["n1", "n2", "n3"]
WRITES = 10

# The node process with the mutant: every state file written without its fsyncs.
_NO_FSYNC = """
import sys
from meshcheck.impl.runtime import disk, node_main
real = disk.Disk.__init__
def no_fsync(self, *args, **kwargs):
    real(self, *args, **{**kwargs, "sync": False})
disk.Disk.__init__ = no_fsync
sys.exit(node_main.main(sys.argv[1:]))
"""


class NoFsyncCluster(LocalCluster):
    """The project's Raft nodes with the mutant state file."""

    def start(self, node: str, *, wait: float = 30.0) -> None:
        command = [sys.executable, "-c", _NO_FSYNC, str(self.config_path), node]
        self.spawn(node, command, self.config.nodes[node], wait)


async def _writes(cluster: LocalCluster, first: int, count: int) -> list[Custom]:
    client = Client(cluster.config.nodes, CODEC)
    acknowledged = []
    try:
        for k in range(first, first + count):
            op = Custom(f"k{k % 3}", k)
            await write(client, op, timeout=30)
            acknowledged.append(op)
    finally:
        await client.close()
    return acknowledged


def _lost(tmp_path: Path, *, mutant: bool, power_failure: bool) -> list[Custom]:
    """The acknowledged writes not in a majority's log after every node went down (kill -9, then
    the power failure if asked) and came back and took one more write."""
    kind = NoFsyncCluster if mutant else LocalCluster
    cluster = kind("raft", NODES, tmp_path / "cluster", seed=3)
    data = Path(cluster.config.data)
    backing = tmp_path / "backing"
    backing.mkdir()
    fs = LazyMount(backing, data)
    try:
        fs.mount()
    except LazyFsError as e:
        pytest.skip(f"FUSE cannot be mounted: {e}")
    with fs, cluster:
        cluster.start_all()
        acknowledged = asyncio.run(_writes(cluster, 0, WRITES))
        for node in NODES:
            cluster.kill(node)
        if power_failure:
            fs.power_failure()
        cluster.start_all()
        asyncio.run(_writes(cluster, WRITES, 1))  # the cluster serves again
        cluster.stop()
        pids = cluster.pids()
        logs = {}
        for node in NODES:
            disk = Disk(cluster.config.state_file(node), CODEC)
            logs[node] = [e.value for e in disk.load().get("log", ())]
            disk.close()
    assert not any(alive(p) for p in pids)
    assert not is_mounted(data)
    majority = len(NODES) // 2 + 1
    return [op for op in acknowledged if sum(op in log for log in logs.values()) < majority]


@pytest.mark.moved(
    stand_in="tests/test_cluster_disk_faults.py::test_raft_holds_under_power_failures_and_corruption",
    why="the correct Raft core through a power failure of every node on the lazy file system",
)
def test_a_power_failure_of_every_node_loses_no_acknowledged_write(tmp_path: Path) -> None:
    assert _lost(tmp_path, mutant=False, power_failure=True) == []


@pytest.mark.slow  # a third cluster of processes: the control, that kill -9 cannot see the mutant
def test_the_mutant_without_fsyncs_passes_kill_9_of_every_node(tmp_path: Path) -> None:
    assert _lost(tmp_path, mutant=True, power_failure=False) == []


def test_the_mutant_without_fsyncs_loses_acknowledged_writes_at_a_power_failure(
    tmp_path: Path,
) -> None:
    lost = _lost(tmp_path, mutant=True, power_failure=True)
    assert len(lost) == WRITES  # its state files never had a durable name: every write is gone
