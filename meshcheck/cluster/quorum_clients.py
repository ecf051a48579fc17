"""Clients of the hybrid dispatcher on a real cluster: each signs its operation, sends it to every
node, and takes an answer when f+1 nodes gave the same one (at least one of them honest: Castro
and Liskov, OSDI 1999, section 4.1), as impl/hybrid/consensus.py's client does in the simulator.

An operation is tagged with the epoch the client last heard of. An answer is either "committed"
(with its result, the epoch it took effect in and its position) or "rejected: epoch e ended"
without it; then the client proposes it again, under the same sequence number, in epoch e + 1
(the state machine applies each (client, seq) once, so a retry of an op that did commit gets its
first result). No decision within the client's timeout: the operation is `info`.

The workload is PBFT's (workload.py `MemberClients`): writes of unique values and deletes, each
answered with whether the key existed, so the order of the writes on one key shows in the
history.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import ssl
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.cluster.workload import History
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.runtime.client import Answer
from meshcheck.impl.runtime.client import Client
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.config import Address
from meshcheck.traces.history.history import Op


@attrs.define
class Session:
    """One client: its connections, its next sequence numbers, its process's generation."""

    name: str
    client: Client
    seq: Iterator[int]
    generation: int = 0


class QuorumClients:
    """`names` clients, one operation in flight each, together at about `rate` a second."""

    def __init__(
        self,
        nodes: Mapping[str, Address],
        codec: Codec,
        keys: Keys,
        names: Sequence[str],
        *,
        rate: float,
        keys_written: int,
        seed: int,
        clock: Callable[[], float],
        timeout: float,
        tls: ssl.SSLContext | None = None,
        agreed: Callable[[object], bool] = lambda status: status == COMMITTED,
    ) -> None:
        self._agreed = agreed  # which answer's status is a decision (the manager's mutant: any)
        self._nodes = dict(nodes)
        self._codec = codec
        self._keys = keys
        self._names = list(names)
        self._gap = len(self._names) / rate
        self._written = keys_written
        self._rng = random.Random(f"clients:{seed}")
        self._clock = clock
        self._timeout = timeout
        self._tls = tls
        self._values = itertools.count(1)
        self._f = (len(self._nodes) - 1) // 3
        self.epoch = 1  # the latest epoch any answer taught the clients
        self.history = History()
        self.leader: str | None = None  # the nemesis's @leader: none here (no client follows one)
        self._opened: dict[str, int] = {}  # sessions opened so far, by client name

    async def run(self, until: float) -> None:
        await asyncio.gather(*(self._client(n, until) for n in self._names))

    def session(self, name: str) -> Session:
        """A client named `name` ("c<k>"): its connections and its sequence numbers, fresh ones
        for each session of the name (the state machine applies a (client, seq) once: a second
        run that numbered from 1 again would be answered the first run's results)."""
        opened = self._opened[name] = self._opened.get(name, 0) + 1
        client = Client(self._nodes, self._codec, f"{name}.{opened}", self._tls)
        return Session(name, client, itertools.count(1_000_000 * opened + 1))

    async def _client(self, name: str, until: float) -> None:
        session = self.session(name)
        try:
            while self._clock() < until:
                await self.one(session)
                await asyncio.sleep(self._rng.uniform(0, 2 * self._gap))
        finally:
            await session.client.close()

    async def one(self, session: Session) -> tuple[Op, FrozenDict | None]:
        """One write of `session`'s, recorded in the history: the operation and the decided record
        (None: no decision, the operation is `info`)."""
        key = f"k{self._rng.randrange(self._written)}"
        written = None if self._rng.random() < 0.2 else next(self._values)
        value = to_value(Custom(key, written))
        call = self._clock()
        record = await self._decide(
            session.client, session.name, next(session.seq), value, call + self._timeout
        )
        ret = self._clock()
        process = f"{session.name}.{session.generation}"
        ops = self.history.ops
        if record is None:
            session.generation += 1  # it may still take effect: a new process, as Jepsen's
            ops.append(Op(process, "write", value, None, call, math.inf, "info", None, len(ops)))
            self.history.latencies.append((call, ret - call, "info"))
        else:
            ret = max(ret, math.nextafter(call, math.inf))
            ops.append(Op(process, "write", value, record.get("result"), call, ret, "ok", None,
                          len(ops)))  # fmt: skip
            self.history.latencies.append((call, ret - call, "ok"))
        self.history.nodes.append("")
        return ops[-1], record

    async def _decide(
        self, client: Client, name: str, seq: int, value: Any, deadline: float
    ) -> FrozenDict | None:
        """Propose (name, seq) until f+1 nodes commit it or `deadline`: the committed record, or
        None. A rejection moves the op to the next epoch."""
        while self._clock() < deadline:
            op = self._keys.sign_op(ClientOp(name, seq, value, self.epoch))
            record = await self._round_of(client, op, deadline)
            if record is None:
                return None
            if self._agreed(record.get("status")):
                epoch = record.get("epoch")
                if isinstance(epoch, int):
                    self.epoch = max(self.epoch, epoch)
                return record
            ended = record.get("ended")
            self.epoch = max(self.epoch, ended + 1 if isinstance(ended, int) else self.epoch + 1)
        return None

    async def _round_of(self, client: Client, op: ClientOp, deadline: float) -> FrozenDict | None:
        """Send `op` to every node; the first answer f+1 of them gave alike (None: none by
        `deadline`)."""
        wait = max(0.01, deadline - self._clock())

        async def ask(node: str) -> Answer | None:
            try:
                return await client.ask(node, "write", op, wait)
            except (ConnectionError, OSError, TimeoutError):
                return None

        votes: dict[tuple[str, Any], set[str]] = {}
        asks = [asyncio.ensure_future(ask(n)) for n in sorted(self._nodes)]
        try:
            for done in asyncio.as_completed(asks):
                answer = await done
                if answer is None:
                    continue
                result = answer.result if isinstance(answer.result, FrozenDict) else FrozenDict()
                voters = votes.setdefault((answer.error, result), set())
                voters.add(answer.node)
                if len(voters) >= self._f + 1:
                    if answer.error and not result:
                        return FrozenDict({"status": "rejected", "reason": answer.error})
                    return result
            return None
        finally:
            for task in asks:
                task.cancel()
