"""Samples of what running nodes hold, taken beside the clients: every `EVERY` seconds, every node's
answer to `("inspect",)` on its control channel (impl/runtime/host.py), which is what the
protocol lets the harness read of its core between two steps (impl/runtime/protocols.py
`inspect`: Raft's role, term, commit index and applied state; gossip's entries and suspicions),
over one control connection per node kept open.

The samples serve checks that a history alone cannot (gossip's failure detector: meshcheck/cluster/
health.py) and measurements (how long an election took: meshcheck/claims/deployment.py). A node
that is down or paused gives no sample.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.codec import CodecError
from meshcheck.impl.runtime.config import Address
from meshcheck.impl.runtime.frames import FrameError
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.frames import read_frame

EVERY = 0.1  # seconds between two samples of every node


@attrs.frozen
class Sample:
    """What `node` answered at `at` seconds of the run."""

    at: float
    node: str
    seen: Mapping[str, Any]


class _Channel:
    """One control connection to one node, kept from sample to sample (a TLS handshake for each
    sample of each node, ten times a second, was load the nodes shared their cores with); any
    failure or a late answer closes it, and the next sample opens another, so that an answer is
    never read as another command's."""

    def __init__(self, node: str, address: Address, codec: Codec, tls: ssl.SSLContext | None):
        self.node, self.address, self.codec, self.tls = node, address, codec, tls
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def inspect(self) -> Any:
        if self.streams is None:
            self.streams = await asyncio.open_connection(
                *self.address,
                ssl=self.tls,
                server_hostname=self.node if self.tls is not None else None,
            )
            self.streams[1].write(frame(self.codec.encode(("control", "inspection"))))
        reader, writer = self.streams
        writer.write(frame(self.codec.encode(("inspect",))))
        data = await read_frame(reader)
        if data is None:
            raise ConnectionError(f"{self.node} closed the control channel")
        answer = self.codec.decode(data)
        if answer[0] != "ok":
            raise ValueError(answer[1])  # the core is down: the channel stays good
        return answer[1]

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def sample(
    nodes: Mapping[str, Address],
    codec: Codec,
    tls: ssl.SSLContext | None,
    clock: Callable[[], float],
    out: list[Sample],
) -> None:
    """Sample every node into `out` until cancelled."""
    channels = {n: _Channel(n, a, codec, tls) for n, a in nodes.items()}

    async def one(node: str) -> None:
        channel = channels[node]
        try:
            async with asyncio.timeout(EVERY * 5):  # not wait_for: see impl/runtime/client.py
                seen = await channel.inspect()
        except ValueError:
            return
        except (ConnectionError, OSError, TimeoutError, CodecError, FrameError):
            channel.close()
            return
        out.append(Sample(clock(), node, seen))

    try:
        while True:
            await asyncio.gather(*(one(n) for n in sorted(nodes)))
            await asyncio.sleep(EVERY)
    finally:
        for channel in channels.values():
            channel.close()


def agreed(samples: Sequence[Sample], nodes: Sequence[str], since: float, key: str) -> bool:
    """Whether every node's latest sample taken after `since` shows the same `key` (Raft: every
    node at one commit index, once the clients stopped)."""
    latest: dict[str, Any] = {}
    for s in samples:
        if s.at >= since:
            latest[s.node] = s.seen.get(key)
    return len(latest) == len(nodes) and len(set(latest.values())) == 1
