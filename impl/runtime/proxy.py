"""The nemesis's network: a userspace TCP proxy on every directed node-to-node link, controlled by
the harness (toxiproxy's design: no root, no iptables).

Node a sends to peer b through the proxy of link (a, b): a's configuration routes b's address to
the proxy (config.py `routes`), the proxy connects on to b. Because a connection carries one
direction's frames (the sender opens it: host.py `Link`), a one-way cut is the cut of one proxy.

The proxy reads the runtime's frames (frames.py), so its faults act on whole messages, as the
simulator's do: `cut` closes what is open and refuses what comes (a partition), `loss` drops a share
of frames, `latency` holds each frame back (a fixed part plus a random one) while keeping their
order, as TCP does. The randomness is the proxy's own seeded generator.
"""

from __future__ import annotations

import asyncio
import random

import attrs

from meshcheck.impl.runtime.config import Address
from meshcheck.impl.runtime.frames import FrameError, frame, read_frame


@attrs.define
class LinkFaults:
    """What a link does to its frames now."""

    cut: bool = False
    loss: float = 0.0
    latency: tuple[int, int] = (0, 0)  # milliseconds, drawn per frame


class LinkProxy:
    """The proxy of one directed link: listens on `listen`, forwards to `target`."""

    def __init__(self, name: str, target: Address, seed: int) -> None:
        self.name = name
        self.target = target
        self.faults = LinkFaults()
        self._rng = random.Random(f"{seed}:{name}")
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.frames = 0
        self.dropped = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._close_all()

    def set(self, faults: LinkFaults) -> None:
        self.faults = faults
        if faults.cut:
            self._close_all()

    def _close_all(self) -> None:
        for writer in list(self._open):
            writer.close()
        self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.faults.cut:
                return
            _, upstream = await asyncio.open_connection(*self.target)
            self._open.add(upstream)
            due = 0.0  # frames leave in order: none before the one ahead of it
            loop = asyncio.get_running_loop()
            while (data := await read_frame(reader)) is not None:
                faults = self.faults
                if faults.cut:
                    return
                self.frames += 1
                if faults.loss and self._rng.random() < faults.loss:
                    self.dropped += 1
                    continue
                lo, hi = faults.latency
                if hi > 0:
                    due = max(due, loop.time() + self._rng.randint(lo, hi) / 1000)
                    wait = due - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                upstream.write(frame(data))
                await upstream.drain()
        except (OSError, FrameError):
            pass
        except asyncio.CancelledError:
            return  # the harness's loop is ending: the link ends with it
        finally:
            for w in (writer, upstream):
                if w is not None:
                    self._open.discard(w)
                    w.close()
