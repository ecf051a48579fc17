"""A participant of a real cluster that is not a node: its core runs in the harness's process, on
the harness's asyncio loop, and speaks the nodes' own wire to every node.

PBFT's client is such a core (impl/pbft/client.py): it signs its requests, sends them to the
primary and, when no result comes, to every replica, and accepts a result once f+1 replicas
replied alike. A client that took a single node's word would not be checking PBFT; so the harness
hosts the client core itself, as host.py hosts a replica, and the replicas let it in as a
`("member", name)` connection, which carries the wire both ways (a node cannot connect to the
harness). What the simulator does for the core, this does for real:

- one event at a time, each to the end of its effects (`_step` never awaits);
- `Send` goes to the node's connection, dropped while there is none (the client core sends again
  on its retry timer, as it does over a lossy network); a connection that breaks (its node was
  killed) is opened again every RECONNECT seconds;
- `SetTimer` and `CancelTimer` on the loop, `Tick` on the clock (clock.py);
- `Persist` goes to the participant's state file when it has one (disk.py, written and not
  fsynced: what a client process keeps when it is killed, the machine staying up), else to memory;
- `Invoke(id, value)` names the id of the request just made, and `Reply(id, result)` completes it
  (`request`).

`crash` is a kill -9 of the participant as a process of its own: its memory, timers and
connections gone, a request in flight failed (`Crashed`: its operation may or may not take
effect), nothing more written; `restart(core)` starts a fresh core from what the state file holds,
as a client process started again would (the nemesis's `crash-client`, meshcheck/cluster/nemesis.py).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Invoke
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.runtime.clock import Clock
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.config import Address
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.frames import FrameError
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.frames import read_frame
from meshcheck.impl.runtime.timers import Timers

RECONNECT = 0.05  # seconds between attempts to reach a node


class Crashed(ConnectionError):
    """The participant crashed with the request in flight: it may or may not take effect."""


class Member:
    """Host the core `core` of participant `name` against the nodes at `nodes`."""

    def __init__(
        self,
        name: str,
        core: Any,
        codec: Codec,
        nodes: Mapping[str, Address],
        *,
        tls: ssl.SSLContext | None = None,
        clock: Clock | None = None,
        state: Path | None = None,
    ) -> None:
        self.name = name
        self.core = core
        self.codec = codec
        self.clock = clock or Clock()
        self._nodes = dict(nodes)
        self._tls = tls
        self._writers: dict[str, asyncio.StreamWriter] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._timers = Timers(self._fire)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._made: list[int] = []  # the ids of the requests the step under way made
        self.disk: dict[str, Any] = {}  # what it persisted, without a state file
        # its state file (disk.py, not fsynced): what a restart reads back
        self.store = None if state is None else Disk(state, codec, sync=False)
        self.running = asyncio.Event()  # set from `start` until `crash` or `stop`
        self.lamport = 0
        self.refused = 0  # frames the codec refused

    async def start(self) -> None:
        """Start the core from what it persisted (nothing at a first start), and its
        connections."""
        persisted = self.disk if self.store is None else self.store.load()
        self._step(Restart(dict(persisted), now=self.clock.now()))
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._connect(node)) for node in sorted(self._nodes)]
        self.running.set()

    async def stop(self) -> None:
        await self._end(None)

    async def crash(self) -> None:
        """A kill -9 of the participant: its core, timers and connections gone, a request in
        flight failed with `Crashed`; only its state file is left."""
        await self._end(Crashed(f"{self.name} crashed with the request in flight"))

    async def restart(self, core: Any) -> None:
        """`core`, new, started from the state file (or what was kept in memory)."""
        self.core = core
        self.lamport = 0
        await self.start()

    async def _end(self, failure: Exception | None) -> None:
        self.running.clear()
        self._timers.cancel_all()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
        for future in self._waiting.values():
            if not future.done():
                if failure is None:
                    future.cancel()
                else:
                    future.set_exception(failure)
        if self.store is not None:
            self.store.close()

    async def request(self, value: Any, timeout: float) -> Any:
        """Hand `value` to the core as a client request; its result, or TimeoutError after
        `timeout` seconds (the request may still take effect: the core keeps sending it);
        `Crashed` when the participant is down or crashes meanwhile."""
        if not self.running.is_set():
            raise Crashed(f"{self.name} is down")
        self._made = []
        self._step(ClientRequest(value, 0, now=self.clock.now()))
        if len(self._made) != 1:
            raise RuntimeError(f"{self.name}: the core made {len(self._made)} requests, not one")
        rid = self._made[0]
        try:
            async with asyncio.timeout(timeout):  # not wait_for: see impl/runtime/client.py
                return await self._waiting[rid]
        finally:
            self._waiting.pop(rid, None)  # a late result has no one to go to

    # -- the core -------------------------------------------------------------------------------

    def _step(self, event: Any) -> None:
        effects: list[Effect] = self.core.step(event)
        for effect in effects:
            if isinstance(effect, Send):
                writer = self._writers.get(effect.dest)
                if writer is not None and not writer.is_closing():
                    self.lamport += 1
                    writer.write(frame(self.codec.encode((self.lamport, effect.message))))
            elif isinstance(effect, SetTimer):
                self._timers.set(effect.timer, max(effect.after, 0) / 1000)
            elif isinstance(effect, CancelTimer):
                self._timers.cancel(effect.timer)
            elif isinstance(effect, Persist) and self.store is not None:
                self.store.persist(effect.writes)
            elif isinstance(effect, Persist):
                for write in effect.writes:
                    if isinstance(write, Put):
                        self.disk[write.key] = write.value
                    elif isinstance(write, Splice):
                        kept = tuple(self.disk.get(write.key, ()))[: write.start]
                        self.disk[write.key] = (*kept, *write.items)
            elif isinstance(effect, Invoke):
                self._made.append(effect.request_id)
                self._waiting[effect.request_id] = asyncio.get_running_loop().create_future()
            elif isinstance(effect, Reply):
                future = self._waiting.get(effect.request_id)
                if future is not None and not future.done():
                    future.set_result(effect.result)

    def _fire(self, name: str) -> None:
        self._step(Tick(name, now=self.clock.now()))

    # -- the connections ------------------------------------------------------------------------

    async def _connect(self, node: str) -> None:
        """Keep a connection to `node` open, and deliver what comes on it."""
        hello = frame(self.codec.encode(("member", self.name)))
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    *self._nodes[node],
                    ssl=self._tls,
                    server_hostname=node if self._tls is not None else None,
                )
            except OSError:
                await asyncio.sleep(RECONNECT)
                continue
            writer.write(hello)
            self._writers[node] = writer
            try:
                while (data := await read_frame(reader)) is not None:
                    stamped = self.codec.decode_stamped(data)
                    if stamped is None:
                        self.refused += 1
                        continue
                    self.lamport = max(self.lamport, int(stamped[0])) + 1
                    self._step(Deliver(node, stamped[1], now=self.clock.now()))
            except (OSError, FrameError, ValueError, TypeError):
                pass
            finally:
                if self._writers.get(node) is writer:
                    del self._writers[node]
                writer.close()
            await asyncio.sleep(RECONNECT)
