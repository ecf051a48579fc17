"""Who leads a ZooKeeper ensemble, as its servers say: the four-letter word `srvr` on the client
port answers with a line `Mode: leader` (or follower, standalone) when the server serves
(zookeeper.apache.org/doc/r3.8.0/zookeeperAdmin.html, "The Four Letter Words"; the generated
zoo.cfg whitelists it with `4lw.commands.whitelist`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from meshcheck.systems.plugin import Endpoint

TIMEOUT = 0.5  # seconds: one server's answer


async def mode(endpoint: Endpoint, timeout: float = TIMEOUT) -> str | None:
    """The server's `Mode:` (leader, follower, standalone), None when it does not say (down,
    paused, not serving: a server without a quorum answers that it is not serving requests)."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
            writer.write(b"srvr")
            await writer.drain()
            text = (await reader.read()).decode("utf-8", "replace")
    except (OSError, TimeoutError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    for line in text.splitlines():
        if line.startswith("Mode:"):
            return line.partition(":")[2].strip()
    return None


async def leader(endpoints: Sequence[Endpoint]) -> str | None:
    """The node whose server says it leads (asked together); None when none does. Right after a
    partition a deposed leader may still say so until it gives up (syncLimit ticks)."""
    modes = await asyncio.gather(*(mode(e) for e in endpoints))
    return next((e.node for e, m in zip(endpoints, modes, strict=True) if m == "leader"), None)
