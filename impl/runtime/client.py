"""A client of a real cluster: one TCP connection per node, requests framed as the host expects
(`("write" | "read", id, value)`), answers matched by id, and the leader followed by its hints.

An answer may come after the client stopped waiting for it (its timeout ran out), or a second
time: for a tagged request either is reported with its tag (`Client.on_late`), as a Jepsen client
that gets an answer for an operation it recorded as indeterminate knows how it ended, and one
that gets two answers for one request knows a node answered what it did not owe. A node owes one
answer to a request it took; an answer it no longer owes (a core that kept its table of pending
writes across a restart: impl/raft/mutants.py) shows here.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.config import Address
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.frames import read_frame


@attrs.frozen
class Answer:
    """A node's answer; `error` empty when it took effect. `unknown`: it may or may not have."""

    node: str
    result: Any
    error: str
    leader: str | None
    unknown: bool

    @property
    def ok(self) -> bool:
        return not self.error


class NotSent(ConnectionError):
    """The connection was closed before the request was written: it certainly never left."""


# (the request's tag, the answer that came after the client stopped waiting, whether the request
# had been answered before)
Late = Callable[[Any, "Answer", bool], None]


class Connection:
    """One client connection to one node; `on_late` hears of answers to tagged requests whose
    client stopped waiting, and of second answers."""

    def __init__(
        self,
        node: str,
        codec: Codec,
        on_late: Late | None = None,
        *,
        session: bool = False,
        ids: Iterator[int] | None = None,
        tagged: dict[int, tuple[Any, bool]] | None = None,
    ) -> None:
        self.node = node
        self._codec = codec
        self._on_late = on_late
        self._session = session  # opened as a session's: its ids are the session's (`Client`)
        # id -> (tag, whether it was answered) of a tagged request the client no longer waits for
        # (a session's connections share one table and one sequence of ids)
        self._tagged: dict[int, tuple[Any, bool]] = {} if tagged is None else tagged
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: dict[int, asyncio.Future[Answer]] = {}
        self._ids = itertools.count(1) if ids is None else ids
        self._task: asyncio.Task[None] | None = None

    async def open(self, address: Address, name: str, tls: ssl.SSLContext | None = None) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            *address, ssl=tls, server_hostname=self.node if tls is not None else None
        )
        hello = ("session" if self._session else "client", name)
        self._writer.write(frame(self._codec.encode(hello)))
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self._reader is not None
        try:
            while (data := await read_frame(self._reader)) is not None:
                kind, theirs, result, error, leader, unknown = self._codec.decode(data)
                future = self._waiting.pop(theirs, None)
                answer = Answer(self.node, result, error, leader, unknown)
                if kind != "reply":
                    continue
                if future is not None and not future.done():
                    future.set_result(answer)
                elif theirs in self._tagged and self._on_late is not None:
                    tag, answered = self._tagged[theirs]
                    self._tagged[theirs] = (tag, True)
                    self._on_late(tag, answer, answered)
        except (OSError, ValueError):
            pass
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"{self.node} closed the connection"))
            self._waiting.clear()
            if self._writer is not None:  # a broken connection is closed: the next opens anew
                self._writer.close()

    async def request(self, kind: str, value: Any, timeout: float, tag: Any = None) -> Answer:
        """One request; TimeoutError when no answer comes within `timeout` seconds (an answer
        after that goes to `on_late` with `tag`, if one is given)."""
        if self._writer is None or self._writer.is_closing():
            raise NotSent(f"no connection to {self.node}")
        rid = next(self._ids)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        self._writer.write(frame(self._codec.encode((kind, rid, value))))
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the result when the
            # answer and a cancellation arrive together, swallowing the cancellation, and the
            # client's loop ran on for the rest of the run after a SIGTERM
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._waiting.pop(rid, None)
            if tag is not None:  # answered (True) or not yet: what comes later is reported
                answered = future.done() and not future.cancelled() and not future.exception()
                self._tagged[rid] = (tag, answered)

    async def ended(self) -> None:
        """Until the node closes the connection (or it breaks, or `close`)."""
        if self._task is not None:
            await asyncio.wait([self._task])

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


KEEP = 0.05  # seconds between a session's attempts to connect to a node again


class Client:
    """A client of the whole cluster: tries the node it believes leads, follows hints."""

    def __init__(
        self,
        nodes: Mapping[str, Address],
        codec: Codec,
        name: str = "c1",
        tls: ssl.SSLContext | None = None,
        *,
        session: bool = False,
    ) -> None:
        self._nodes = dict(nodes)
        self._tls = tls
        self._codec = codec
        self.name = name
        # a session: the client's requests carry ids unique across its connections, and a node
        # answers the session on whichever connection it holds now (impl/runtime/host.py), the
        # Raft thesis's client sessions (section 6.3): an answer given after a connection broke
        # (by a node restarted since) still reaches the client once it connects again
        self._session = session
        self._ids = itertools.count(1)
        self._tagged: dict[int, tuple[Any, bool]] = {}
        self._conns: dict[str, Connection] = {}
        self._opening: dict[str, asyncio.Lock] = {}  # one connection to a node opened at a time
        self._keeping: list[asyncio.Task[None]] = []
        self.leader: str | None = None
        self.on_late: Late | None = None  # answers to tagged requests that came too late

    def keep_connected(self) -> None:
        """Hold a connection to every node, opened again whenever it breaks, as a session's
        client does (a ZooKeeper client re-establishes its session the same way): an answer a
        node gives the session while it has no connection there (a node restarted since the
        request) reaches it as soon as the node is back. Until `close`."""
        loop = asyncio.get_running_loop()
        self._keeping = [loop.create_task(self._keep(node)) for node in sorted(self._nodes)]

    async def _keep(self, node: str) -> None:
        while True:
            try:
                conn = await self._conn(node)
            except (ConnectionError, OSError):
                await asyncio.sleep(KEEP)
                continue
            await conn.ended()
            await asyncio.sleep(KEEP)

    async def _conn(self, node: str) -> Connection:
        async with self._opening.setdefault(node, asyncio.Lock()):
            return await self._open(node)

    async def _open(self, node: str) -> Connection:
        conn = self._conns.get(node)
        if conn is None or conn._writer is None or conn._writer.is_closing():
            if conn is not None:
                await conn.close()
            conn = Connection(
                node,
                self._codec,
                self._late,
                session=self._session,
                ids=self._ids if self._session else None,
                tagged=self._tagged if self._session else None,
            )
            await conn.open(self._nodes[node], self.name, self._tls)
            self._conns[node] = conn
        return conn

    def _late(self, tag: Any, answer: Answer, again: bool) -> None:
        if self.on_late is not None:
            self.on_late(tag, answer, again)

    async def ask(
        self, node: str, kind: str, value: Any, timeout: float, tag: Any = None
    ) -> Answer:
        """One request to `node` (ConnectionError, TimeoutError as they come); an answer after
        the timeout, or a second one, goes to `on_late` with `tag`, if one is given."""
        async with asyncio.timeout(timeout):  # a connection opened meanwhile may be slow to come
            conn = await self._conn(node)
        try:
            return await conn.request(kind, value, timeout, tag)
        except TimeoutError:
            raise  # the wait ends, not the connection: a late answer may still come on it
        except (ConnectionError, OSError):
            if self._conns.get(node) is conn:  # not one opened since (keep_connected)
                del self._conns[node]
            await conn.close()
            raise

    async def close(self) -> None:
        for task in self._keeping:
            task.cancel()
        await asyncio.gather(*self._keeping, return_exceptions=True)
        self._keeping = []
        for conn in self._conns.values():
            await conn.close()
        self._conns.clear()


async def write(client: Client, value: Any, *, timeout: float = 5.0, each: float = 0.5) -> Answer:
    """Write `value` through whichever node leads: try the believed leader, follow hints, try the
    others in turn, until an answer that took effect or `timeout` seconds (TimeoutError). Only for
    values that may be applied twice: a retry after a lost answer can apply it again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    order = sorted(client._nodes)
    turn = 0
    while loop.time() < deadline:
        node = client.leader if client.leader in client._nodes else order[turn % len(order)]
        turn += 1
        try:
            answer = await client.ask(node, "write", value, each)
        except (ConnectionError, OSError, TimeoutError):
            client.leader = None
            await asyncio.sleep(0.02)
            continue
        if answer.ok:
            client.leader = node
            return answer
        client.leader = answer.leader if answer.leader != node else None
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no node took the write within {timeout} s")


async def _control(
    address: Address, codec: Codec, command: Any, tls: ssl.SSLContext | None, node: str
) -> Any:
    """One command on a node's control channel (host.py `_from_control`): the value it answers."""
    reader, writer = await asyncio.open_connection(
        *address, ssl=tls, server_hostname=node if tls is not None else None
    )
    try:
        writer.write(frame(codec.encode(("control", "nemesis"))))
        writer.write(frame(codec.encode(command)))
        data = await read_frame(reader)
        if data is None:
            raise ConnectionError("the node closed the control channel")
        answer = codec.decode(data)
        if answer[0] != "ok":
            raise ValueError(answer[1])
        return answer[1]
    finally:
        writer.close()


async def skew_clock(
    address: Address,
    codec: Codec,
    offset: int,
    rate: float,
    tls: ssl.SSLContext | None = None,
    node: str = "",
) -> int:
    """Skew the clock of `node` at `address` (host.py's control channel); its reading after."""
    return int(await _control(address, codec, ("clock", offset, rate), tls, node))


async def crash_core(
    address: Address, codec: Codec, tls: ssl.SSLContext | None = None, node: str = ""
) -> None:
    """Crash `node`'s core inside its process (host.py `crash`): its memory gone, its events
    dropped until `recover_core`."""
    await _control(address, codec, ("crash",), tls, node)


async def recover_core(
    address: Address, codec: Codec, tls: ssl.SSLContext | None = None, node: str = ""
) -> None:
    """Rebuild `node`'s crashed core from its state file, in the same process (host.py)."""
    await _control(address, codec, ("recover",), tls, node)


async def inspect(
    address: Address, codec: Codec, tls: ssl.SSLContext | None = None, node: str = ""
) -> Any:
    """What the protocol lets the harness read of `node` (impl/runtime/protocols.py `inspect`)."""
    return await _control(address, codec, ("inspect",), tls, node)
