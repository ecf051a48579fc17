"""The link proxy's faults on whole frames (impl/runtime/proxy.py): `reorder` lets later frames
overtake held ones and loses none, `duplicate` delivers copies, a frame held when the link is cut
is not delivered; the nemesis refuses both under TLS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from meshcheck.cluster import nemesis
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.frames import read_frame
from meshcheck.impl.runtime.launcher import LOOPBACK
from meshcheck.impl.runtime.launcher import free_ports
from meshcheck.impl.runtime.proxy import HELD
from meshcheck.impl.runtime.proxy import LinkFaults
from meshcheck.impl.runtime.proxy import LinkProxy
from tests.test_cluster_cmd import refused


async def _through(faults: LinkFaults, count: int, *, cut_after: bool = False) -> list[int]:
    """`count` numbered frames sent through a proxy with `faults`; the numbers that arrived, in
    the order they did."""
    got: list[int] = []

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (data := await read_frame(reader)) is not None:
            got.append(int(data))
        writer.close()

    sink_port, proxy_port = free_ports(2)
    server = await asyncio.start_server(sink, LOOPBACK, sink_port)
    proxy = LinkProxy("a->b", (LOOPBACK, sink_port), seed=1)
    await proxy.start(LOOPBACK, proxy_port)
    proxy.set(faults)
    _, writer = await asyncio.open_connection(LOOPBACK, proxy_port)
    for k in range(count):
        writer.write(frame(str(k).encode()))
    await writer.drain()
    if cut_after:  # before the first held frame is due (HELD[0] after it was read)
        proxy.set(LinkFaults(cut=True))
    await asyncio.sleep(0.1)
    await asyncio.sleep(HELD[1] / 1000 + 0.3)
    writer.close()
    await proxy.stop()
    server.close()
    return got


def test_reordered_frames_all_arrive_out_of_order() -> None:
    got = asyncio.run(_through(LinkFaults(reorder=0.5), 60))
    assert sorted(got) == list(range(60))
    assert got != sorted(got)


def test_duplicated_frames_arrive_twice() -> None:
    got = asyncio.run(_through(LinkFaults(duplicate=1.0), 30))
    assert sorted(got) == sorted(2 * list(range(30)))


def test_without_faults_the_frames_keep_their_order() -> None:
    assert asyncio.run(_through(LinkFaults(), 60)) == list(range(60))


def test_a_frame_held_when_the_link_is_cut_is_not_delivered() -> None:
    got = asyncio.run(_through(LinkFaults(reorder=1.0), 30, cut_after=True))
    assert got == []


def test_faults_on_whole_frames_need_links_without_tls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nemesis.needs_frames(("reorder", "duplicate"), tls=False)
    with pytest.raises(MeshcheckError, match="add --no-tls"):
        nemesis.needs_frames(("kill", "duplicate"), tls=True)
    for argv in (["--nemesis", "reorder"], ["--protocol", "manager", "--nemesis", "duplicate"]):
        assert "acts on whole messages" in refused(argv, tmp_path, capsys)


def test_the_plan_of_a_seed_does_not_change_when_kinds_are_added() -> None:
    """A run is replayed by its seed (nemesis.py): the default kinds' plan of seed 1 is pinned, so
    that a new kind of fault, drawn only when asked for, leaves every recorded seed's plan as it
    was."""
    names = ["n1", "n2", "n3", "n4", "n5"]
    plan = nemesis.plan(1, 20, ("kill", "pause", "partition"), names)
    assert [(f.at, f.kind, f.nodes, f.lasts, f.one_way) for f in plan] == PINNED


PINNED = [
    (2.49, "pause", ("n3",), 1.6, False),
    (4.48, "partition", ("n2", "n4"), 1.33, True),
    (6.15, "kill", ("@leader",), 1.96, False),
    (7.62, "partition", ("n2",), 0.84, False),
    (9.03, "partition", ("n3",), 0.79, True),
    (11.07, "pause", ("@leader",), 1.79, False),
    (12.97, "kill", ("@leader",), 0.62, False),
    (14.24, "pause", ("n3",), 0.76, False),
]


def test_a_loss_drops_its_share_of_the_frames_and_keeps_the_rest_in_order() -> None:
    got = asyncio.run(_through(LinkFaults(loss=0.25), 400))
    assert got == sorted(got)
    assert 0.65 * 400 <= len(got) <= 0.85 * 400, len(got)  # about three frames in four arrive
    assert asyncio.run(_through(LinkFaults(loss=0.0), 50)) == list(range(50))


def test_latency_delays_each_frame_not_the_links_throughput() -> None:
    # 20 frames under 300 ms each, sent at once: they arrive together about 300 ms later, in
    # order (held one at a time they would take 6 s)
    async def timed() -> tuple[list[int], float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        got = await _through(LinkFaults(latency=(300, 300)), 20)
        return got, loop.time() - start

    got, seconds = asyncio.run(timed())
    assert got == list(range(20))
    assert seconds < 2.0
