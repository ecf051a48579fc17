"""The nemesis's network: a userspace TCP proxy on every directed node-to-node link, controlled by
the harness (toxiproxy's design: no root, no iptables).

Node a sends to peer b through the proxy of link (a, b): a's configuration routes b's address to
the proxy (config.py `routes`), the proxy connects on to b. Because a connection carries one
direction's frames (the sender opens it: host.py `Link`), a one-way cut is the cut of one proxy.

Without TLS the proxy reads the runtime's frames (frames.py), so its faults act on whole messages,
as the simulator's do: `cut` closes what is open and refuses what comes (a partition), `loss` drops
a share of frames, `latency` holds each frame back (a fixed part plus a random one) from when it
was read while keeping their order, as TCP does (a delay, not a bandwidth: the frames behind it
are read on meanwhile); `reorder` holds a share of frames back for 50 to 300 ms while the frames
after them pass (the specs' network is a bag: a message sent on a connection that broke may
arrive after one sent later on the next, as with etcd's two streams per peer), and `duplicate`
sends a share of frames a second time, up to 300 ms later (a sender's retry of a message that did
arrive). Both act on whole frames, so on links without TLS only (nemesis.py `needs_frames`).
Under TLS the frames are sealed and the proxy sees bytes: `cut` and `latency` act on what it
reads, and `loss` becomes a reset (the connection is closed with what it held, which the sender's
link sees as a broken connection and reconnects: TCP's own loss is never seen by the ends, a reset
is). The randomness is the proxy's own seeded generator.
"""

from __future__ import annotations

import asyncio
import random

import attrs

from meshcheck.impl.runtime.config import Address
from meshcheck.impl.runtime.frames import FrameError
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.frames import read_frame


@attrs.define
class LinkFaults:
    """What a link does to its frames now."""

    cut: bool = False
    loss: float = 0.0
    latency: tuple[int, int] = (0, 0)  # milliseconds, drawn per frame
    reorder: float = 0.0  # the share of frames held back while later ones pass (no TLS)
    duplicate: float = 0.0  # the share of frames sent twice (no TLS)


class _Held:
    """The frames of one connection held under latency, and how many are not yet sent on."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self.count = 0

    def put(self, due: float, data: bytes) -> None:
        self.count += 1
        self.queue.put_nowait((due, data))


# how long `reorder` holds a frame back, and the most a `duplicate` copy comes after its original
HELD = (50, 300)  # milliseconds


class LinkProxy:
    """The proxy of one directed link: listens on `listen`, forwards to `target`."""

    def __init__(self, name: str, target: Address, seed: int, *, sealed: bool = False) -> None:
        self.name = name
        self.target = target
        self.sealed = sealed  # TLS: bytes, not frames
        self.faults = LinkFaults()
        self._rng = random.Random(f"{seed}:{name}")
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.frames = 0
        self.dropped = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)

    async def stop(self) -> None:
        self.close()

    def close(self) -> None:
        """`stop` from outside a coroutine (a run's teardown, however it ends)."""
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

    async def _next(self, reader: asyncio.StreamReader) -> bytes | None:
        """The next frame's payload, or under TLS the next bytes; None at the end."""
        if not self.sealed:
            return await read_frame(reader)
        data = await reader.read(65536)
        return data or None

    def _later(
        self, upstream: asyncio.StreamWriter, data: bytes, loop: asyncio.AbstractEventLoop
    ) -> None:
        """`data`'s frame written on `upstream` after a while (`HELD`), unless the link is cut or
        the connection gone by then: a frame is written whole, between two others."""

        def write() -> None:
            if not self.faults.cut and not upstream.is_closing():
                upstream.write(frame(data))

        loop.call_later(self._rng.randint(*HELD) / 1000, write)

    async def _forward(
        self, upstream: asyncio.StreamWriter, data: bytes, loop: asyncio.AbstractEventLoop
    ) -> None:
        """`data` on to the receiver now, or held back (`reorder`), and maybe sent twice."""
        faults = self.faults
        if not self.sealed and faults.reorder and self._rng.random() < faults.reorder:
            self._later(upstream, data, loop)
            return
        upstream.write(data if self.sealed else frame(data))
        if not self.sealed and faults.duplicate and self._rng.random() < faults.duplicate:
            self._later(upstream, data, loop)
        await upstream.drain()

    async def _send_held(self, held: _Held, upstream: asyncio.StreamWriter) -> None:
        """The frames held under latency, each on to the receiver when it is due, in order;
        dropped once the link is cut."""
        loop = asyncio.get_running_loop()
        while True:
            due, data = await held.queue.get()
            try:
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not self.faults.cut and not upstream.is_closing():
                    await self._forward(upstream, data, loop)
            except OSError:
                pass
            finally:
                held.count -= 1
                held.queue.task_done()

    async def _back(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The receiver's bytes back to the sender (TLS's handshake and alerts), while not cut."""
        try:
            while (data := await reader.read(65536)) and not self.faults.cut:
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        upstream: asyncio.StreamWriter | None = None
        returning: asyncio.Task[None] | None = None
        sending: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        try:
            if self.faults.cut:
                return
            back, upstream = await asyncio.open_connection(*self.target)
            self._open.add(upstream)
            if self.sealed:  # TLS answers the handshake: the other direction is carried too
                returning = loop.create_task(self._back(back, writer))
            # A frame under latency leaves `latency` after it was read, in order, while the frames
            # after it are read on: a delay of each frame, not of the link's throughput (held
            # one at a time, a link carried a frame per delay and the status messages alone
            # backed up without end under 700 ms).
            held = _Held()
            sending = loop.create_task(self._send_held(held, upstream))
            due = 0.0  # what it reads leaves in order: nothing before what is ahead of it
            while (data := await self._next(reader)) is not None:
                faults = self.faults
                if faults.cut:
                    return
                self.frames += 1
                if faults.loss and self._rng.random() < faults.loss:
                    self.dropped += 1
                    if self.sealed:
                        return  # a reset: closed below, with what the connection held
                    continue
                lo, hi = faults.latency
                if hi > 0 or held.count:  # behind what is held, even once the latency is gone
                    due = max(due, loop.time() + self._rng.randint(lo, hi) / 1000)
                    held.put(due, data)
                    continue
                await self._forward(upstream, data, loop)
            await held.queue.join()  # the sender closed its end: what is held still arrives
        except (OSError, FrameError):
            pass
        except asyncio.CancelledError:
            return  # the harness's loop is ending: the link ends with it
        finally:
            for task in (returning, sending):
                if task is not None:
                    task.cancel()
            for w in (writer, upstream):
                if w is not None:
                    self._open.discard(w)
                    w.close()
