"""The namespace network (meshcheck/cluster/netns.py): nodes in their own network namespaces behind a
bridge talk TCP and UDP; a partition stops them and a heal restores them; a one-way cut blocks one
direction only; a delay lengthens a round trip; a loss drops a share; every fault is recorded with
its time; and nothing is left behind, not even when the harness is killed with SIGKILL.

Traffic stays inside the run's namespaces (198.18.0.0/24 there, no default route); every loop is
bounded by a count or a timeout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshcheck.cluster.clock_faults import ShiftedClock
from meshcheck.cluster.clock_faults import unavailable
from meshcheck.cluster.netns import NamespaceNetwork
from meshcheck.cluster.netns import NetnsError
from meshcheck.cluster.netns import missing
from meshcheck.cluster.netns import namespaces
from meshcheck.cluster.netns import sweep_stale

WHY = missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"namespace networks: {WHY}")

ECHO = str(Path(__file__).parents[1] / "meshcheck" / "cluster" / "echo.py")
PORT = "7000"


@pytest.fixture
def net() -> Iterator[NamespaceNetwork]:
    with NamespaceNetwork(["a", "b", "c"]) as network:
        for node in network.nodes:
            server = network.popen(
                node,
                [sys.executable, ECHO, "serve-tcp", network.address(node), PORT],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield network


def rtt(net: NamespaceNetwork, frm: str, to: str, trips: int = 20) -> float | None:
    """The median round trip from `frm` to `to`'s echo server in milliseconds, None if it failed."""
    done = net.run_in(frm, [sys.executable, ECHO, "rtt", net.address(to), PORT, str(trips), "1"])
    if done.returncode != 0:
        assert "timed out" in done.stderr or "refused" in done.stderr, done.stderr
        return None
    return float(json.loads(done.stdout)["median_us"]) / 1000


def datagrams(net: NamespaceNetwork, frm: str, to: str, count: int, gap: float = 0.002) -> int:
    """How many of `count` UDP datagrams from `frm` reach `to`: the receiver stops when all came,
    or when none came for 1 s (the wait a cut or a loss is judged by)."""
    receiver = net.popen(
        to,
        [sys.executable, ECHO, "count-udp", net.address(to), "7001", "1", "20", str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
    payload = f"from-{frm}"
    argv = [
        sys.executable,
        ECHO,
        "send-udp",
        net.address(to),
        "7001",
        str(count),
        str(gap),
        payload,
    ]
    assert net.run_in(frm, argv).returncode == 0
    out, _ = receiver.communicate(timeout=30)
    got = json.loads(out)
    assert all(p == payload for p in got["payloads"])
    return int(got["received"])


def test_nodes_talk_a_partition_stops_them_and_a_heal_restores(net: NamespaceNetwork) -> None:
    assert rtt(net, "a", "b") is not None
    net.partition([["a"], ["b", "c"]])
    assert rtt(net, "a", "b") is None
    assert rtt(net, "c", "a") is None
    assert rtt(net, "b", "c") is not None  # same side
    assert net.cuts() == {("a", "b"), ("a", "c"), ("b", "a"), ("c", "a")}
    net.heal()
    assert rtt(net, "a", "b") is not None
    assert rtt(net, "c", "a") is not None
    kinds = [(r.kind, r.nodes) for r in net.log.records]
    assert kinds == [("partition", ("a", "b", "c")), ("heal", ("a", "b", "c"))]
    first, second = net.log.records
    assert 0 <= first.at < second.at and first.wall <= second.wall
    assert "a | b c" in net.log.report()


def test_a_one_way_cut_blocks_one_direction_only(net: NamespaceNetwork) -> None:
    assert datagrams(net, "a", "b", 5) == 5
    net.cut(["a"], ["b"])
    assert datagrams(net, "a", "b", 5) == 0
    assert datagrams(net, "b", "a", 5) == 5
    assert datagrams(net, "a", "c", 5) == 5  # c is not cut
    net.heal()
    assert datagrams(net, "a", "b", 5) == 5


def dropped_by(net: NamespaceNetwork, node: str) -> set[str]:
    """The nodes whose packets `node`'s own rules drop (its nftables table, as it stands)."""
    table = net.run_in(node, ["nft", "list", "table", "inet", "meshcheck"]).stdout
    by_address = {net.address(n): n for n in net.nodes}
    return {
        by_address[word.strip("{},")]
        for line in table.splitlines()
        if "saddr" in line and line.strip().endswith("drop")
        for word in line.split()
        if word.strip("{},") in by_address
    }


def test_undoing_a_cut_removes_exactly_the_rules_it_added(net: NamespaceNetwork) -> None:
    """Each fault is undone alone (the nemesis's faults overlap): the receivers' rules lose the
    senders this fault cut and keep those another fault in force still cuts."""
    one_way = net.cut(["a"], ["b"])
    assert {n: dropped_by(net, n) for n in net.nodes} == {"a": set(), "b": {"a"}, "c": set()}
    both = net.partition([["a"], ["b", "c"]])
    assert {n: dropped_by(net, n) for n in net.nodes} == {"a": {"b", "c"}, "b": {"a"}, "c": {"a"}}
    net.uncut(both)
    assert {n: dropped_by(net, n) for n in net.nodes} == {"a": set(), "b": {"a"}, "c": set()}
    assert datagrams(net, "a", "b", 5) == 0 and datagrams(net, "b", "a", 5) == 5
    net.uncut(one_way)
    assert {n: dropped_by(net, n) for n in net.nodes} == {"a": set(), "b": set(), "c": set()}
    assert datagrams(net, "a", "b", 5) == 5
    assert net.cuts() == frozenset()


def test_a_delay_lengthens_a_round_trip_and_heals(net: NamespaceNetwork) -> None:
    before = rtt(net, "a", "b")
    assert before is not None and before < 20
    net.slow(["a"], 100, 10)
    slowed = rtt(net, "a", "b", trips=10)
    assert slowed is not None and 85 <= slowed < 1000, slowed
    assert rtt(net, "b", "c") is not None and rtt(net, "b", "c") < 20  # type: ignore[operator]
    net.heal()
    after = rtt(net, "a", "b")
    assert after is not None and after < 20
    assert net.log.records[0].kind == "slow" and "100ms +-10ms" in net.log.records[0].detail


def test_a_loss_drops_a_share_of_what_a_node_sends(net: NamespaceNetwork) -> None:
    assert datagrams(net, "a", "b", 300) >= 295
    net.lose(["a"], 0.5)
    got = datagrams(net, "a", "b", 300)
    assert 0.25 * 300 <= got <= 0.75 * 300, got
    assert datagrams(net, "b", "a", 100) >= 98  # only a's sends
    net.heal()
    assert datagrams(net, "a", "b", 300) >= 295


def test_no_route_out_of_a_node(net: NamespaceNetwork) -> None:
    routes = net.run_in("a", ["ip", "-4", "route", "show"]).stdout.strip().splitlines()
    assert routes == ["198.18.0.0/24 dev eth0 proto kernel scope link src 198.18.0.2"], routes
    assert net.run_in("a", ["ip", "-6", "addr", "show"]).stdout == ""  # no IPv6 path around a cut
    links = net.run_in("a", ["ip", "-o", "link", "show"]).stdout
    assert sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines()) == [
        "eth0",
        "lo",
    ]


def test_two_runs_side_by_side_do_not_collide(net: NamespaceNetwork) -> None:
    with NamespaceNetwork(["a", "b"]) as other:
        assert not set(other.all_namespaces()) & set(net.all_namespaces())
        assert other.address("b") == net.address("b")  # the same address, in another world
        other.partition([["a"], ["b"]])
        assert rtt(net, "a", "b") is not None  # the other run's partition is its own
    assert not set(other.all_namespaces()) & set(namespaces())


def test_close_leaves_nothing() -> None:
    with NamespaceNetwork(["a", "b"]) as network:
        server = network.popen("b", ["sleep", "60"])
        # in a process group of its own (a delayer): a terminal's Ctrl-C reaches the harness alone
        assert os.getpgid(server.pid) == server.pid != os.getpgid(0)
        names = network.all_namespaces()
        assert set(names) <= set(namespaces())
    assert server.poll() is not None
    assert not set(names) & set(namespaces())


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(NetnsError, match="distinct"):
        NamespaceNetwork(["a", "a"])
    with pytest.raises(NetnsError, match="a-z"):
        NamespaceNetwork(["A b"])
    network = NamespaceNetwork(["a"])
    with pytest.raises(NetnsError, match="no node 'z'"):
        network.partition([["a"], ["z"]])
    with pytest.raises(NetnsError, match="jitter"):
        network.slow(["a"], 10, 20)
    with pytest.raises(NetnsError, match="between 0 and 1"):
        network.lose(["a"], 1.5)


HARNESS = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from meshcheck.cluster.clock_faults import ShiftedClock, unavailable
    from meshcheck.cluster.netns import NamespaceNetwork
    net = NamespaceNetwork(["a", "b"]).build()
    net.slow(["a"], 5)
    pids = [net.popen(n, ["sleep", "300"]).pid for n in net.nodes]
    if unavailable() is None:
        pids.append(ShiftedClock("a", Path(sys.argv[1])).popen(["sleep", "300"]).pid)
    print(" ".join(net.all_namespaces()), flush=True)
    print(" ".join(map(str, [*pids, *(p.pid for p in net._slow.values() if p)])), flush=True)
    time.sleep(300)
    """
)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip() for line in out.splitlines()}


def _leftovers(names: list[str], pids: list[int]) -> list[str]:
    """What of the run is still there: its namespaces, its processes, any process naming them (the
    reaper included)."""
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [
        *(f"namespace {n}" for n in set(names) & set(namespaces())),
        *(f"process {p}" for p in pids if _running(p)),
        *(f"ps: {line}" for line in ps.splitlines() if any(n in line for n in names)),
    ]


def test_nothing_is_left_when_the_harness_is_killed(tmp_path: Path) -> None:
    links_before = _links()
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    assert harness.stdout is not None
    names = harness.stdout.readline().split()
    pids = [int(p) for p in harness.stdout.readline().split()]
    assert len(names) == 3 and len(pids) >= 3
    assert set(names) <= set(namespaces())
    assert all(_running(p) for p in pids)
    os.kill(harness.pid, signal.SIGKILL)
    harness.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _leftovers(names, pids):
        time.sleep(0.1)
    assert _leftovers(names, pids) == []
    assert not _links() - links_before  # nothing new on the host (the veths never were there)


def test_a_sweep_removes_what_a_dead_harness_left() -> None:
    dead = subprocess.Popen(["true"])  # a pid now dead (reused within the test: unlikely)
    dead.wait()
    left = f"mcnet-{dead.pid}-5eed00-a"
    alive = f"mcnet-{os.getpid()}-5eed00-a"
    for name in (left, alive):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        swept = sweep_stale()  # (and any other dead run's, should one be ending beside this test)
        assert left in swept and alive not in swept
        assert left not in namespaces() and alive in namespaces()
    finally:
        for name in (left, alive):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.mark.skipif(unavailable() is not None, reason=f"{unavailable()}")
def test_a_node_on_a_fake_clock_in_its_namespace(net: NamespaceNetwork, tmp_path: Path) -> None:
    """The two kinds of fault together, in one log: a node's process in its namespace, on a clock
    an hour ahead."""
    clock = ShiftedClock("a", tmp_path, net.log)
    clock.set(3600)
    probe = net.popen(
        "a",
        [sys.executable, "-c", "import time; print(time.time())"],
        env={**os.environ, **clock.env()},
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = probe.communicate(timeout=30)
    assert 3590 < float(out) - time.time() < 3610
    net.partition([["a"], ["b"]])
    assert [r.kind for r in net.log.records] == ["clock", "partition"]
