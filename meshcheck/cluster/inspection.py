"""Samples of what running nodes hold, taken beside the clients: every `EVERY` seconds, every node's
answer to `("inspect",)` on its control channel (impl/runtime/host.py), which is what the
protocol lets the harness read of its core between two steps (impl/runtime/protocols.py
`inspect`: Raft's role, term and commit index; gossip's entries and suspicions).

The samples serve checks that a history alone cannot (gossip's failure detector: meshcheck/cluster/
health.py) and measurements (how long an election took: meshcheck/claims/deployment.py). A node
that is down or paused gives no sample.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from meshcheck.impl.runtime.client import inspect
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.config import Address

EVERY = 0.1  # seconds between two samples of every node


@attrs.frozen
class Sample:
    """What `node` answered at `at` seconds of the run."""

    at: float
    node: str
    seen: Mapping[str, Any]


async def sample(
    nodes: Mapping[str, Address],
    codec: Codec,
    tls: ssl.SSLContext | None,
    clock: Callable[[], float],
    out: list[Sample],
) -> None:
    """Sample every node into `out` until cancelled."""

    async def one(node: str) -> None:
        try:
            async with asyncio.timeout(EVERY * 5):  # not wait_for: see impl/runtime/client.py
                seen = await inspect(nodes[node], codec, tls, node)
        except (ConnectionError, OSError, TimeoutError, ValueError):
            return
        out.append(Sample(clock(), node, seen))

    while True:
        await asyncio.gather(*(one(n) for n in sorted(nodes)))
        await asyncio.sleep(EVERY)
