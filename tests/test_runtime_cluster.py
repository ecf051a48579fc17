"""Real Raft clusters of the project's own core (impl/runtime): OS processes on loopback, TCP
between them, fsynced state files. The same RaftNode the simulator steps elects a leader, takes
writes, survives kill -9 of its leader and a SIGSTOP pause, and a restarted process reads back
exactly what it fsynced. No process outlives its test, however the test's process ends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.runtime.client import Client
from meshcheck.impl.runtime.client import skew_clock
from meshcheck.impl.runtime.client import write
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.launcher import LocalCluster
from meshcheck.impl.runtime.launcher import alive
from meshcheck.impl.runtime.member import Member
from meshcheck.impl.runtime.protocols import protocol

CODEC = protocol("raft").codec()
NODES = ["n1", "n2", "n3"]


def logs(cluster: LocalCluster) -> dict[str, tuple[Entry, ...]]:
    """Each node's log as its state file holds it (the cluster stopped)."""
    out = {}
    for node in NODES:
        disk = Disk(cluster.config.state_file(node), CODEC)
        out[node] = tuple(disk.load().get("log", ()))
        disk.close()
    return out


def values(log: tuple[Entry, ...]) -> list[object]:
    """The client writes of a log, each once (a write whose answer was lost is retried, and Raft
    without sessions may apply it twice: section 8 of the Raft paper)."""
    out: list[object] = []
    for e in log:
        if isinstance(e.value, Custom) and e.value not in out:
            out.append(e.value)
    return out


def test_a_leader_killed_and_paused_loses_no_acknowledged_write(tmp_path: Path) -> None:
    acknowledged: list[Custom] = []

    async def drive(cluster: LocalCluster) -> None:
        client = Client(cluster.config.nodes, CODEC)
        for k in range(20):
            op = Custom(f"k{k % 3}", k)
            await write(client, op)
            acknowledged.append(op)
        first = client.leader
        assert first is not None
        cluster.kill(first)  # kill -9: only what it wrote survives
        for k in range(20, 40):
            op = Custom(f"k{k % 3}", k)
            await write(client, op)
            acknowledged.append(op)
        second = client.leader
        assert second is not None and second != first
        cluster.start(first)  # reads its state file back
        cluster.pause(second)  # SIGSTOP: the others elect a leader without it
        for k in range(40, 50):
            op = Custom(f"k{k % 3}", k)
            await write(client, op, timeout=10)
            acknowledged.append(op)
        assert client.leader != second
        cluster.resume(second)
        await asyncio.sleep(0.6)  # heartbeats bring every node up to date
        await client.close()

    with LocalCluster("raft", NODES, tmp_path, seed=1) as cluster:
        cluster.start_all()
        asyncio.run(drive(cluster))
        pids = cluster.pids()
    assert not any(alive(p) for p in pids)
    held = logs(cluster)
    for node in NODES:  # every node holds every acknowledged write, in the order acknowledged
        assert values(held[node]) == acknowledged, node


def test_a_damaged_state_file_stops_the_node_with_one_line(tmp_path: Path) -> None:
    with LocalCluster("raft", NODES, tmp_path) as cluster:
        cluster.start_all()
        asyncio.run(write(Client(cluster.config.nodes, CODEC), Custom("k", 1)))
    path = cluster.config.state_file("n1")
    path.write_bytes(path.read_bytes()[:-3])
    with (
        LocalCluster("raft", NODES, tmp_path, fresh=False) as again,
        pytest.raises(ImplError) as refused,
    ):
        again.start("n1", wait=5)
    assert "exited with 2" in str(refused.value)
    assert "truncated record" in str(refused.value)


PARENT = """
import sys, time
from pathlib import Path
from meshcheck.impl.runtime.launcher import LocalCluster
cluster = LocalCluster("raft", ["n1", "n2", "n3"], Path(sys.argv[1]))
cluster.start_all()
print(" ".join(str(p) for p in cluster.pids()), flush=True)
time.sleep(60)
"""


def test_nodes_end_with_the_process_that_started_them_even_on_kill_9(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PARENT), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 3 and all(alive(p) for p in pids)
    finally:
        parent.kill()  # SIGKILL: no handler of the parent runs
        parent.wait()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(alive(p) for p in pids)


def test_the_nemesis_skews_a_nodes_clock_through_its_control_channel(tmp_path: Path) -> None:
    """The clock fault: a jump and a rate; a rate out of range is refused, not applied."""

    async def skew(cluster: LocalCluster) -> tuple[int, int, str]:
        address = cluster.config.nodes["n1"]
        before = await skew_clock(address, CODEC, 0, 1.0)
        after = await skew_clock(address, CODEC, 60_000, 2.0)
        try:
            await skew_clock(address, CODEC, 0, 50.0)
        except ValueError as e:
            return before, after, str(e)
        return before, after, ""

    with LocalCluster("raft", NODES, tmp_path) as cluster:
        cluster.start("n1")
        before, after, refused = asyncio.run(skew(cluster))
    assert 60_000 <= after - before < 65_000
    assert "not between 0.1 and 10" in refused


def test_with_tls_only_a_nodes_certificate_speaks_as_that_node(tmp_path: Path) -> None:
    """Mutual TLS (impl/runtime/tls.py): the clients' certificate may write, but a connection that
    claims to be peer n2 with it is closed at once, and a connection without TLS gets nothing."""

    async def probe(cluster: LocalCluster) -> tuple[bool, bytes, bool]:
        tls = cluster.client_tls()
        answer = await write(Client(cluster.config.nodes, CODEC, tls=tls), Custom("k", 1))
        reader, writer = await asyncio.open_connection(
            *cluster.config.nodes["n1"], ssl=tls, server_hostname="n1"
        )
        writer.write(frame(CODEC.encode(("peer", "n2"))))
        closed = await asyncio.wait_for(reader.read(), 5)  # b"": the node hung up
        writer.close()
        plain_reader, plain = await asyncio.open_connection(*cluster.config.nodes["n1"])
        plain.write(frame(CODEC.encode(("client", "x"))) + frame(CODEC.encode(("write", 1, 1))))
        try:
            refused = await asyncio.wait_for(plain_reader.read(), 5) == b""
        except ConnectionError:
            refused = True
        plain.close()
        return answer.ok, closed, refused

    with LocalCluster("raft", NODES, tmp_path, tls=True) as cluster:
        cluster.start_all()
        ok, closed, refused = asyncio.run(probe(cluster))
    assert ok and closed == b"" and refused


def test_a_pbft_client_core_in_the_harness_is_let_in_by_name_only(tmp_path: Path) -> None:
    """PBFT's clients are cores hosted by the harness (impl/runtime/member.py) and connect as
    `("member", name)`: one of the configured clients gets a result f+1 replicas agree on, and
    stays served when the primary is killed; a name the configuration does not list is hung up
    on."""
    pbft = protocol("pbft")
    replicas = ["n1", "n2", "n3", "n4"]
    options = {"keys": 5, "clients": ["c1"]}

    async def probe(cluster: LocalCluster) -> tuple[object, object, bytes]:
        assert pbft.build_member is not None
        core = pbft.build_member("c1", replicas, options)
        member = Member("c1", core, pbft.codec(), cluster.config.nodes)
        await member.start()
        first = await member.request(to_value(Custom("k", 1)), 10.0)
        cluster.kill("n1")  # the primary of view 0
        second = await member.request(to_value(Custom("k", None)), 20.0)
        await member.stop()
        reader, writer = await asyncio.open_connection(*cluster.config.nodes["n2"])
        writer.write(frame(pbft.codec().encode(("member", "c9"))))
        closed = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return first, second, closed

    with LocalCluster("pbft", replicas, tmp_path, options=options) as cluster:
        cluster.start_all()
        first, second, closed = asyncio.run(probe(cluster))
    assert dict(first) == {"ok": True, "key": "k", "existed": False}  # type: ignore[call-overload]
    assert dict(second) == {"ok": True, "key": "k", "existed": True}  # type: ignore[call-overload]
    assert closed == b""
