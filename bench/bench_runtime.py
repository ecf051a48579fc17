"""What the runtime (impl/runtime) costs per message, against a bare asyncio echo, and what a write
costs on a real cluster.

Rows:
- message round trip: one Raft AppendEntriesRequest carrying one entry, sent and echoed back over
  loopback TCP, one at a time (median microseconds per round trip over 2,000). Baseline: the same
  bytes through a bare asyncio echo (no framing, no codec). Subject: the runtime's path, encoded by
  the codec (impl/runtime/codec.py), framed (frames.py), decoded and encoded again by the echoing
  end; and the same over mutual TLS 1.3 (tls.py).
- fsync of one state record (disk.py: a Raft node's term and one log entry), the floor of a write's
  latency on this machine's disk.
- a sequential write on a three-process Raft cluster (launcher.py, client.py: plain TCP; each write
  acknowledged only once a majority fsynced it), milliseconds per write over 200.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Row
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.runtime.client import Client
from meshcheck.impl.runtime.client import write
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.frames import read_frame
from meshcheck.impl.runtime.launcher import LocalCluster
from meshcheck.impl.runtime.protocols import protocol
from meshcheck.impl.runtime.tls import CLIENT
from meshcheck.impl.runtime.tls import client_context
from meshcheck.impl.runtime.tls import make_certificates
from meshcheck.impl.runtime.tls import server_context

CODEC = protocol("raft").codec()
MESSAGE = AppendEntriesRequest("n1", "n2", 3, 41, 3, (Entry(3, to_value(Custom("k1", 12345))),), 40)
TRIPS = 2000
WRITES = 200


async def _close(writer: asyncio.StreamWriter, server: asyncio.Server) -> None:
    """Hang up the measuring end, then stop the echo server."""
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def _bare(trips: int) -> float:
    payload = CODEC.encode(MESSAGE)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.readexactly(len(payload)):
                writer.write(data)
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            writer.close()  # the measuring end hung up

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    for _ in range(trips):
        writer.write(payload)
        await reader.readexactly(len(payload))
    seconds = time.perf_counter() - start
    await _close(writer, server)
    return seconds / trips * 1e6


async def _runtime(trips: int, tls: Path | None) -> float:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (data := await read_frame(reader)) is not None:
                writer.write(frame(CODEC.encode(CODEC.decode(data))))
        except (asyncio.CancelledError, ConnectionError):
            pass
        writer.close()  # the measuring end hung up

    server = await asyncio.start_server(
        echo, "127.0.0.1", 0, ssl=server_context(tls, "n2") if tls else None
    )
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        port,
        ssl=client_context(tls, CLIENT) if tls else None,
        server_hostname="n2" if tls else None,
    )
    start = time.perf_counter()
    for _ in range(trips):
        writer.write(frame(CODEC.encode(MESSAGE)))
        data = await read_frame(reader)
        assert data is not None and CODEC.decode(data) == MESSAGE
    seconds = time.perf_counter() - start
    await _close(writer, server)
    return seconds / trips * 1e6


def _fsync(folder: Path, writes: int = 200) -> float:
    disk = Disk(folder / "bench.wal", CODEC, compact_after=10**9)
    disk.load()
    start = time.perf_counter()
    for k in range(writes):
        disk.persist((Put("hard", (3, "n1")), Splice("log", k, (MESSAGE.entries[0],))))
    seconds = time.perf_counter() - start
    disk.close()
    return seconds / writes * 1e3


def _cluster_writes(folder: Path) -> float:
    async def go(cluster: LocalCluster) -> float:
        client = Client(cluster.config.nodes, CODEC)
        await write(client, to_value(Custom("warm", 0)), timeout=10)
        start = time.perf_counter()
        for k in range(WRITES):
            await write(client, to_value(Custom("k", k)), timeout=10)
        seconds = time.perf_counter() - start
        await client.close()
        return seconds / WRITES * 1e3

    with LocalCluster("raft", ["n1", "n2", "n3"], folder) as cluster:
        cluster.start_all()
        return asyncio.run(go(cluster))


def bench(runs: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="meshcheck-bench-runtime-") as scratch:
        root = Path(scratch)
        make_certificates(root / "tls", ["n2"])
        bare = statistics.median(asyncio.run(_bare(TRIPS)) for _ in range(runs))
        plain = statistics.median(asyncio.run(_runtime(TRIPS, None)) for _ in range(runs))
        sealed = statistics.median(asyncio.run(_runtime(TRIPS, root / "tls")) for _ in range(runs))
        fsync = statistics.median(_fsync(root) for _ in range(runs))
        writes = statistics.median(_cluster_writes(root / f"c{k}") for k in range(runs))
    group = f"Runtime ({os.cpu_count()} cores)"
    return [
        Row(group, "round trip, bare asyncio echo", bare, "us", runs),
        Row(group, "round trip, codec + frames", plain, "us", runs, "bare echo", bare / plain),
        Row(
            group,
            "round trip, codec + frames + mTLS",
            sealed,
            "us",
            runs,
            "bare echo",
            bare / sealed,
        ),
        Row(group, "fsync of one state record", fsync, "ms", runs),
        Row(
            group,
            "sequential Raft write, 3 processes",
            writes,
            "ms",
            runs,
            "one fsync",
            fsync / writes,
        ),
    ]
