"""`meshcheck cluster test --network netns` (meshcheck/cluster/netns_links.py): the project's own
Raft nodes, each in its own network namespace with no proxy, the harness in one more; the nemesis's
partitions, latency and loss in the kernel's network. A 3 s cut of the leader really cuts it (a new
term is elected, which a partition that does nothing would not cause), every check holds, and
nothing of the run is left; the faults the namespace network cannot make are one clear line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.cluster import nemesis
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.netns import PREFIX
from meshcheck.cluster.netns import NamespaceNetwork
from meshcheck.cluster.netns import missing
from meshcheck.cluster.netns import namespaces
from meshcheck.cluster.netns_links import NamespaceLinks
from meshcheck.cluster.run import Options
from meshcheck.cluster.run import run
from tests.test_cluster_cmd import nodes_of

WHY = missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"namespace networks: {WHY}")


def _ours() -> set[str]:
    """This process's namespaces (a run in-process names them by its pid; other test files, run
    beside this one, have theirs)."""
    return {n for n in namespaces() if n.startswith(f"{PREFIX}-{os.getpid()}-")}


def test_a_raft_cluster_over_namespaces_elects_again_when_its_leader_is_cut(
    tmp_path: Path,
) -> None:
    before = _ours()
    plan = (Fault(1.0, "partition", (nemesis.LEADER,), 3.0), Fault(4.5, "latency", ("n2",), 1.0))
    outcome = run(Options(time=7, seed=2, plan=plan, validate=False, network="netns"), tmp_path)
    assert outcome.safe, outcome.failed
    terms = [s.seen["term"] for s in outcome.samples]
    assert terms and max(terms) > min(terms), "the leader's cut brought no new election"
    # each fault struck, then undone; on a loaded machine a heal may be logged after the next
    # fault's strike (the heal's rules go in while the latency's start), so per kind, not overall
    struck = [what for _, what in outcome.struck]
    for kind in ("partition", "latency"):
        own = [w for w in struck if w.split()[0] == kind]
        assert len(own) == 2 and own[1].endswith("undone") and not own[0].endswith("undone"), struck
    assert nodes_of(tmp_path) == []
    assert _ours() == before


def test_overlapping_faults_each_undo_only_their_own() -> None:
    with NamespaceNetwork(["n1", "n2", "n3"]) as net:
        links = NamespaceLinks(net, ["n1", "n2", "n3"])
        undo_a = links.strike(Fault(0, "partition", ("n1",), 1))
        undo_b = links.strike(Fault(0, "partition", ("n1", "n2"), 1, one_way=True))
        assert net.cuts() == {
            ("n1", "n2"), ("n1", "n3"), ("n2", "n1"), ("n3", "n1"), ("n2", "n3"),
        }  # fmt: skip
        undo_a()
        assert net.cuts() == {("n1", "n3"), ("n2", "n3")}  # b's one-way cut still holds
        undo_b()
        assert net.cuts() == frozenset()
        slow_a = links.strike(Fault(0, "latency", ("n1",), 1))
        slow_b = links.strike(Fault(0, "latency", ("n1",), 1))
        slow_a()
        assert "n1" in net._slow  # the other latency fault on n1 is still in force
        slow_b()
        assert "n1" not in net._slow


def test_what_the_namespace_network_cannot_do_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for argv, message in (
        (["--nemesis", "reorder", "--no-tls"], "--nemesis reorder: acts on whole frames"),
        (["--delay", "5"], "--network netns: not with --delay"),
        (["--network", "carrier-pigeon"], "--network carrier-pigeon: choose from netns, proxy"),
    ):
        network = [] if "--network" in argv else ["--network", "netns"]
        code = main(["cluster", "test", *network, *argv, "--out", str(tmp_path), "--time", "2"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], err


def test_a_cluster_test_killed_with_sigkill_leaves_nothing(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "meshcheck", "cluster", "test", "--network", "netns"]
    argv += ["--nemesis", "partition", "--time", "30", "--no-validate", "--out", str(tmp_path)]
    harness = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ours = f"{PREFIX}-{harness.pid}-"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(nodes_of(tmp_path)) < 3:
        time.sleep(0.2)
    assert len(nodes_of(tmp_path)) == 3, "the cluster did not start"
    assert len([n for n in namespaces() if n.startswith(ours)]) == 5  # 3 nodes, harness, bridge
    os.kill(harness.pid, signal.SIGKILL)
    harness.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (
        nodes_of(tmp_path) or any(n.startswith(ours) for n in namespaces())
    ):
        time.sleep(0.1)
    assert nodes_of(tmp_path) == []
    assert [n for n in namespaces() if n.startswith(ours)] == []
