"""meshcheck's `stream` workload on any system whose client plug-in runs it (workloads.py's
`Workload` drives it): clients publish messages with unique ids, consume them and acknowledge what
they were given, and at the end every node's copy of the stream is read back; checked by the stream
checker (traces/history/stream.py): no acknowledged publish lost, one order seen by every consumer
and every read-back, nothing invented, duplicates counted (a consumer whose acknowledgement was
lost is given the message again: delivery is at least once).

Each client is bound to one node and, after an `info`, turns to the next as a new process (the
loop every workload's clients run: checked_clients.py). A process is a consumer: the plug-in
gives it a cursor of its own over the whole stream (JetStream: a durable consumer named after
it), so each consumer sees every message, in the stream's order.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from meshcheck.systems.checked_clients import After
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Invocation

PUBLISH = 0.5  # the share of a client's operations that publish; the rest consume (and ack)
READ_TIMEOUT = 10.0  # one read-back's wait (seconds): it reads the whole stream
READ_WAIT = 60.0  # how long a node has to answer its read-back (it may be restarting)


class StreamClients(Clients):
    """The stream workload's clients, recording into `history` (its checker reads the History:
    stream_history.py writes its file)."""

    seeded = "system-clients:{seed}"  # the stream's draws, as for the registers' and the lock's

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ids = itertools.count(1)

    async def step(self, at: Seat) -> After:
        """A publish or, as often, a consume and the acknowledgement of what it was given."""
        timeout = self.timeout_until(at.until)
        if self.rng.random() < PUBLISH:
            mid = f"m{next(self._ids)}"
            return After.answered((await self._one(at, "publish", mid, timeout)).status)
        got = await self._one(at, "consume", None, timeout)
        if got.status == "ok" and got.output:
            got = await self._one(at, "ack", tuple(got.output), timeout)
        return After.answered(got.status)

    async def _one(
        self, at: Seat, f: str, value: Any, timeout: float, process: str = ""
    ) -> Completion:
        """One operation (by `process`, if given, else the seat's), recorded with its output where
        it has one (a consume's, a read's)."""
        op = Invocation(process or at.process, f, None, value)
        done, call, ret = await self.invoke(at.client, op, timeout, at.home, record=False)
        if f == "read" and done.status == "info":
            done = Completion("fail", done.output)  # a read changes nothing: unanswered, it failed
        output = done.output if f in ("consume", "read") and done.status == "ok" else None
        self.record(op, done.status, output, call, ret, at.home, done.served)
        return done

    async def read_back(self) -> None:
        """Every node's copy of the stream, read through a client bound to it (its process is the
        node's name), retried until the node answers or READ_WAIT has passed."""

        async def one(home: int) -> None:
            endpoint = self.endpoints[home]
            # the reader's seat: its process is its node's name (Seat.process is a client's)
            at = Seat(self.make(self.settings), 0, 0, 0.0, home)
            deadline = time.monotonic() + READ_WAIT
            try:
                while True:
                    await self.bind(at.client, home, READ_TIMEOUT)
                    done = await self._one(at, "read", None, READ_TIMEOUT, endpoint.node)
                    if done.status == "ok" or time.monotonic() > deadline:
                        return
                    await at.client.close()
                    await asyncio.sleep(1.0)
            finally:
                await at.client.close()

        await asyncio.gather(*(one(home) for home in range(len(self.endpoints))))
