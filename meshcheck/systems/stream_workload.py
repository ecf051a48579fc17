"""meshcheck's `stream` workload on any system whose client plug-in runs it (workloads.py's
`Workload` drives it): clients publish messages with unique ids, consume them and acknowledge what
they were given, and at the end every node's copy of the stream is read back; checked by the stream
checker (traces/history/stream.py): no acknowledged publish lost, one order seen by every consumer
and every read-back, nothing invented, duplicates counted (a consumer whose acknowledgement was
lost is given the message again: delivery is at least once).

Each client is bound to one node and, after an `info`, turns to the next as a new process (as the
other workloads' clients do). A process is a consumer: the plug-in gives it a cursor of its own
over the whole stream (JetStream: a durable consumer named after it), so each consumer sees every
message, in the stream's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from meshcheck.cluster.workload import History
from meshcheck.systems.plugin import Client, ClientSettings, Completion, Endpoint, Invocation

PUBLISH = 0.5  # the share of a client's operations that publish; the rest consume (and ack)
READ_TIMEOUT = 10.0  # one read-back's wait (seconds): it reads the whole stream
READ_WAIT = 60.0  # how long a node has to answer its read-back (it may be restarting)
Clock = Callable[[], float]
Make = Callable[[ClientSettings], Client]


class StreamClients:
    """The stream workload's clients, recording into `history`."""

    def __init__(
        self,
        make: Make,
        settings: ClientSettings,
        endpoints: Sequence[Endpoint],
        clock: Clock,
        history: History,
        rng: random.Random,
        gap: float,
        timeout: float,
    ) -> None:
        self._make = make
        self._settings = settings
        self._endpoints = list(endpoints)
        self._clock = clock
        self.history = history
        self._rng = rng
        self._gap = gap
        self._timeout = timeout
        self._ids = itertools.count(1)

    async def _bind(self, client: Client, home: int, timeout: float) -> None:
        with contextlib.suppress(OSError, TimeoutError):  # a node down: its invocations say so
            await client.open(self._endpoints[home], timeout)

    async def _step(
        self, client: Client, process: str, f: str, value: Any, timeout: float, node: str
    ) -> Completion:
        op = Invocation(process, f, None, value)
        call = self._clock()
        try:
            done = await client.invoke(op, timeout)
        except (OSError, TimeoutError):  # a plug-in that let the transport's error through
            done = Completion("info")
        if f == "read" and done.status == "info":
            done = Completion("fail", done.output)  # a read changes nothing: unanswered, it failed
        output = done.output if f in ("consume", "read") and done.status == "ok" else None
        if isinstance(output, list):
            output = tuple(output)
        self.history.record(process, f, value, output, call, self._clock(), done.status)
        self.history.nodes.append(node)
        return done

    async def client(self, k: int, until: float, round_: int) -> None:
        home = (k - 1) % len(self._endpoints)
        client = self._make(self._settings)
        await self._bind(client, home, self._timeout)
        generation = 0
        try:
            while self._clock() < until:
                process = f"c{k}.{round_}.{generation}"
                node = self._endpoints[home].node
                timeout = min(self._timeout, until - self._clock() + 0.5)
                if self._rng.random() < PUBLISH:
                    mid = f"m{next(self._ids)}"
                    status = (
                        await self._step(client, process, "publish", mid, timeout, node)
                    ).status
                else:
                    got = await self._step(client, process, "consume", None, timeout, node)
                    status = got.status
                    if status == "ok" and got.output:
                        ids = tuple(got.output)
                        status = (
                            await self._step(client, process, "ack", ids, timeout, node)
                        ).status
                if status == "info":
                    generation += 1  # whether it took effect is not known: a new process
                    home = (home + 1) % len(self._endpoints)
                    await client.close()
                    await self._bind(client, home, self._timeout)
                await asyncio.sleep(self._rng.uniform(0, 2 * self._gap))
        finally:
            await client.close()

    async def read_back(self) -> None:
        """Every node's copy of the stream, read through a client bound to it (its process is the
        node's name), retried until the node answers or READ_WAIT has passed."""

        async def one(endpoint: Endpoint) -> None:
            client = self._make(self._settings)
            deadline = time.monotonic() + READ_WAIT
            try:
                while True:
                    await self._bind(client, self._endpoints.index(endpoint), READ_TIMEOUT)
                    done = await self._step(
                        client, endpoint.node, "read", None, READ_TIMEOUT, endpoint.node
                    )
                    if done.status == "ok" or time.monotonic() > deadline:
                        return
                    await client.close()
                    await asyncio.sleep(1.0)
            finally:
                await client.close()

        await asyncio.gather(*(one(e) for e in self._endpoints))
