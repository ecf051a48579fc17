"""meshcheck's workloads on any system, through its client plug-in (plugin.py): the harness draws
each operation, invokes it, and records the invocation and the completion with their times; the
plug-in only says how the system answered.

- `registers`: five keys, reads and writes of unique values; `cas`: compare-and-set besides
  (Jepsen's etcd tests, Kingsbury, jepsen.io/analyses/etcd-3.4.3);
- `stream`: clients publish messages with unique ids, consume and acknowledge them, and every
  node's copy is read back at the end (stream_workload.py; traces/history/stream.py checks it);
- `watch`, `lease`, `fenced-lock` and `list-append`: each with clients of its own, its history
  in its checker's format (checked.py; docs/history-checkers.md);
- `lock`: each client takes lock "L" (`acquire` with a token of its own, a lease for etcd), holds
  it a moment, `release`s it and `revoke`s the token (which frees the lock if it was taken and the
  release's answer was lost); checked against models.Mutex.

Each client is bound to one node (Jepsen binds clients to nodes) and turns to the next after an
`info`, as a new process (`c<k>.<round>.<generation>`): whether its last operation took effect is
not known, so nothing it does after is ordered after it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Callable, Sequence
from typing import Any

from meshcheck.cluster.workload import History
from meshcheck.systems import checked
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.plugin import Client, ClientSettings, Completion, Endpoint, Invocation
from meshcheck.systems.stream_workload import StreamClients
from meshcheck.systems.verdicts import KEYS

HOLD = (0.01, 0.05)  # seconds a client holds the lock
TIMEOUT = 1.0  # a client's wait for one answer (seconds); twice that for the lock's
LOCK = "L"
Clock = Callable[[], float]


class Workload:
    """`count` clients of `settings.workload`, each bound to a node of `endpoints`, together at
    about `rate` operations a second; `client_pause`: seconds the first lock client stalls, once,
    holding the lock (as a paused process would)."""

    def __init__(
        self,
        make: Callable[[ClientSettings], Client],
        settings: ClientSettings,
        endpoints: Sequence[Endpoint],
        clock: Clock,
        *,
        clients: int,
        rate: float,
        seed: int,
        client_pause: float = 0.0,
    ) -> None:
        self._make = make
        self._settings = settings
        self._endpoints = list(endpoints)
        self._clock = clock
        self._count = clients
        self._rng = random.Random(f"system-clients:{seed}")
        self._gap = clients / rate
        self._values = itertools.count(1)
        self._tokens = itertools.count(1)
        self._pause = client_pause
        self.history = History()
        self._round = 0
        self._seen: dict[str, str] = {}  # the last value each key was seen to hold (cas's `old`)
        self._stream = StreamClients(
            make,
            settings,
            endpoints,
            clock,
            self.history,
            seed=seed,
            gap=self._gap,
            timeout=TIMEOUT,
        )
        kind = checked.KINDS.get(settings.workload)
        # the workloads a checker of their own kind judges (checked.py): their own clients
        self.checked: Clients | None = None
        if kind is not None:
            self.checked = kind.clients(make, settings, endpoints, clock, self.history, seed=seed,
                                        gap=self._gap, timeout=TIMEOUT,
                                        client_pause=client_pause)  # fmt: skip

    async def run(self, until: float) -> None:
        self._round += 1
        if self.checked is not None:
            drive = self.checked
            await asyncio.gather(
                *(drive.client(k, until, self._round) for k in range(1, self._count + 1))
            )
            return
        if self._settings.workload == "stream":
            clients = (
                self._stream.client(k, until, self._round) for k in range(1, self._count + 1)
            )
            await asyncio.gather(*clients)
            return
        one = self._locker if self._settings.workload == "lock" else self._client
        await asyncio.gather(*(one(k, until) for k in range(1, self._count + 1)))

    async def read_back(self) -> None:
        """The stream workload's last step: every node's copy read back (stream_workload.py)."""
        await self._stream.read_back()

    async def _bind(self, client: Client, home: int) -> None:
        with contextlib.suppress(OSError, TimeoutError):  # a node down: its invocations say so
            await client.open(self._endpoints[home], TIMEOUT)

    async def _invoke(self, client: Client, op: Invocation, timeout: float) -> Completion:
        try:
            return await client.invoke(op, timeout)
        except (OSError, TimeoutError):  # a plug-in that let the transport's error through
            return Completion("info")

    def _record(self, op: Invocation, output: Any, call: float, status: str, key: Any) -> None:
        self.history.record(op.process, op.f, op.value, output, call, self._clock(), status, key)

    async def _client(self, k: int, until: float) -> None:
        home = (k - 1) % len(self._endpoints)
        client = self._make(self._settings)
        await self._bind(client, home)
        generation = 0
        try:
            while self._clock() < until:
                status = await self._one(client, f"c{k}.{self._round}.{generation}", home, until)
                if status == "info":
                    generation += 1  # after an `info` the client is a new process, as in Jepsen
                    home = (home + 1) % len(self._endpoints)
                    await client.close()
                    await self._bind(client, home)
                await asyncio.sleep(self._rng.uniform(0, 2 * self._gap))
        finally:
            await client.close()

    async def _one(self, client: Client, process: str, home: int, until: float) -> str:
        key = f"k{self._rng.randrange(KEYS)}"
        draw = self._rng.random()
        timeout = min(TIMEOUT, until - self._clock() + 0.5)
        value: Any
        if draw < 0.5:
            f, value = "read", None
        elif self._settings.workload == "cas" and draw < 0.75:
            old = (
                self._seen.get(key) if self._rng.random() < 0.8 else str(self._rng.randrange(1, 9))
            )
            f, value = "cas", (old, str(next(self._values)))
        else:
            f, value = "write", str(next(self._values))
        op = Invocation(process, f, key, value)
        call = self._clock()
        done = await self._invoke(client, op, timeout)
        output = done.output if f == "read" and done.status == "ok" else None
        if done.status == "ok":
            seen = output if f == "read" else value if f == "write" else value[1]
            if seen is not None:
                self._seen[key] = seen
        self._record(op, output, call, done.status, key)
        self.history.nodes.append(self._endpoints[home].node)
        return done.status

    async def _locker(self, k: int, until: float) -> None:
        """Acquire with a fresh token, hold a moment (or, the first client once, the whole pause:
        the clients keep no lease alive, as a paused process would not), release, revoke. An
        acquire or a release without an answer is `info`, and the revoke that follows frees the
        lock if it was taken (models.Mutex)."""
        home = (k - 1) % len(self._endpoints)
        generation = 0
        pause = self._pause if k == 1 else 0.0
        client = self._make(self._settings)
        await self._bind(client, home)

        async def turn() -> None:
            nonlocal home
            await client.close()
            home = (home + 1) % len(self._endpoints)
            await self._bind(client, home)

        async def step(f: str, process: str, token: str, timeout: float) -> str:
            op = Invocation(process, f, LOCK, token)
            call = self._clock()
            done = await self._invoke(client, op, timeout)
            if f == "acquire" and done.status == "fail":
                return "fail"  # certainly not taken (no lease could be had): not recorded
            status: str = done.status
            if f == "revoke" and status != "ok":
                status = "info"  # whether the token still holds the lock is not known
            self._record(op, None, call, status, None)
            return status

        try:
            while self._clock() < until:
                timeout = min(2 * TIMEOUT, until - self._clock() + 0.5)
                process = f"c{k}.{self._round}.{generation}"
                token = f"{process}#{next(self._tokens)}"
                taken = await step("acquire", process, token, timeout)
                if taken == "fail":
                    await turn()
                    await asyncio.sleep(0.1)
                    continue
                lost = taken != "ok"
                if not lost:
                    await asyncio.sleep(pause or self._rng.uniform(*HOLD))
                    pause = 0.0
                    lost = await step("release", process, token, timeout) != "ok"
                if lost:
                    generation += 1
                    process = f"c{k}.{self._round}.{generation}"
                if await step("revoke", process, token, timeout) != "ok":
                    generation += 1
                    await turn()
                await asyncio.sleep(self._rng.uniform(0, 2 * self._gap))
        finally:
            await client.close()
