"""A harness killed with SIGKILL in the middle of a power failure (`meshcheck cluster test
--network netns --nemesis power,corrupt`) leaves nothing behind: no node process, no lazy
filesystem's daemon, no FUSE mount (findmnt), no network namespace of the run. The nodes die by
their parent-death signal (impl/runtime/launcher.py), each mount's daemon unmounts once its end of
the harness's socket closes (meshcheck/faults/lazyfs.py), the namespaces go with the processes that
held them (meshcheck/cluster/netns.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshcheck.cluster import nemesis
from meshcheck.cluster.netns import PREFIX
from meshcheck.cluster.netns import missing
from meshcheck.cluster.netns import namespaces
from meshcheck.faults.lazyfs import fuse_unavailable
from tests.test_cluster_cmd import nodes_of

_WHY = fuse_unavailable() or missing()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"FUSE or namespaces: {_WHY}")

SEED = 2  # a power failure of a minority at t=3.5 s for 1.9 s: the kill comes in the middle of it
NODES = ["n1", "n2", "n3"]


def _mounts(folder: Path) -> list[str]:
    """The mounts under `folder`, as findmnt lists them."""
    listed = subprocess.run(
        ["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [m for m in listed if m.startswith(str(folder))]


def test_a_harness_killed_during_a_power_failure_leaves_nothing(tmp_path: Path) -> None:
    first = nemesis.plan(SEED, 30, ("power", "corrupt"), NODES)[0]
    assert (first.kind, first.scope) == ("power", "minority")
    kill_at = first.at + first.lasts / 2
    argv = [sys.executable, "-m", "meshcheck", "cluster", "test", "--network", "netns",
            "--nemesis", "power,corrupt", "--seed", str(SEED), "--time", "30", "--no-validate",
            "--out", str(tmp_path)]  # fmt: skip
    progress = tmp_path / "progress.txt"
    with progress.open("w") as err:
        harness = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    ours = f"{PREFIX}-{harness.pid}-"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _last_t(progress) < kill_at:
            assert harness.poll() is None, progress.read_text()
            time.sleep(0.05)
        assert len(_mounts(tmp_path)) == 3, "the nodes' data directories were not mounted"
        assert [n for n in namespaces() if n.startswith(ours)], "no namespace to leave behind"
        assert _daemons(tmp_path), "no lazy filesystem's daemon"
        os.kill(harness.pid, signal.SIGKILL)
        harness.wait(timeout=10)
    finally:
        if harness.poll() is None:
            harness.kill()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (
        nodes_of(tmp_path)
        or _daemons(tmp_path)
        or _mounts(tmp_path)
        or any(n.startswith(ours) for n in namespaces())
    ):
        time.sleep(0.1)
    assert nodes_of(tmp_path) == []
    assert _daemons(tmp_path) == []
    assert _mounts(tmp_path) == []
    assert [n for n in namespaces() if n.startswith(ours)] == []


def _last_t(progress: Path) -> float:
    """The clock of the run's last progress line (`t=  4.0/30s ...`), -1 before the first."""
    lines = [ln.strip() for ln in progress.read_text().splitlines() if ln.strip().startswith("t=")]
    return float(lines[-1].removeprefix("t=").split("/")[0]) if lines else -1.0


def _daemons(folder: Path) -> list[int]:
    """The lazy filesystem's daemons serving a folder under `folder`."""
    return nodes_of(folder, b"meshcheck.faults.lazyfs_daemon")
