"""The system runner's clients, every workload's (workloads.py's `Workload` picks them): the
registers and cas workloads (register_workload.py), the lock (lock_workload.py), the stream
(stream_workload.py) and the workloads checked by a checker of their own kind (watch, lease,
fenced-lock, list-append: checked.py lists them). One client loop for all: each client is bound to
a node and, after an `info`, turns to the next node as a new process; a workload gives only its
`step` (what the client does next, and how it records it) and, where it differs, its `rest`
between steps. Every operation is recorded in the run's History (for the progress check, the
latency and timeline figures) and, for a checked workload, in the checker's own format in `lines`
(what history.jsonl holds)."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import json
import random
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.cluster.workload import History
from meshcheck.systems.plugin import Client
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation

Clock = Callable[[], float]
Make = Callable[[ClientSettings], Client]


class After(enum.Enum):
    """What a client does after a step."""

    GO_ON = "go on"  # the same process, on the same node
    NEW_PROCESS = "new process"  # an outcome is not known: a new process, on the next node
    NEXT_NODE = "next node"  # the node took nothing (a lock without a lease): the next node

    @classmethod
    def answered(cls, status: str) -> After:
        """After an operation that completed `status`: only `info` makes a new process."""
        return cls.NEW_PROCESS if status == "info" else cls.GO_ON


@attrs.define
class Seat:
    """One client's place in the loop: its client, its number `k` (1-based), the run's round, the
    round's deadline, the node it is bound to (`home`, an index of the endpoints, modulo their
    number) and its generation (how many times it became a new process)."""

    client: Client
    k: int
    round: int
    until: float
    home: int
    generation: int = 0

    @property
    def process(self) -> str:
        return f"c{self.k}.{self.round}.{self.generation}"


class Clients(abc.ABC):
    """`count` clients of one workload; `broken` (the file's options' `broken`, or the run's)
    names a mutant of the workload the checker must catch (each driver says which it knows)."""

    seeded = "system-clients:{workload}:{seed}"  # the name that seeds the clients' draws

    def __init__(
        self,
        make: Make,
        settings: ClientSettings,
        endpoints: Sequence[Endpoint],
        clock: Clock,
        history: History,
        *,
        seed: int,
        gap: float,
        timeout: float,
        client_pause: float = 0.0,
    ) -> None:
        self.make = make
        self.settings = settings
        self.endpoints = list(endpoints)
        self.clock = clock
        self.history = history
        self.rng = random.Random(self.seeded.format(workload=settings.workload, seed=seed))
        self.gap = gap
        self.timeout = timeout
        self.client_pause = client_pause
        self.broken = str(dict(settings.options).get("broken", ""))
        self.lines: list[tuple[float, int, dict[str, Any]]] = []
        # set when the run stops early (meshcheck/systems/run.py): each client ends the step it
        # is in, every operation of it completed or timed out and recorded, and takes no other
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        """End every client after its step under way; a rest or a stall between steps ends now."""
        self.stopping.set()

    # -- what each workload gives ----------------------------------------------------------------

    @abc.abstractmethod
    async def step(self, at: Seat) -> After:
        """The client's next operation (or operations: a lease's life), invoked and recorded;
        what the client does after it."""

    def rest(self, after: After) -> float:
        """Seconds the client waits after a step: a moment after moving on from a node that took
        nothing, else up to twice the gap (so the clients together keep the run's rate)."""
        if after is After.NEXT_NODE:
            return 0.1
        return self.rng.uniform(0, 2 * self.gap)

    async def finish(self) -> None:  # noqa: B027 (a hook: most workloads read nothing at the end)
        """After the clients: what the workload reads at the end (nothing, unless it says)."""

    def dumps(self) -> str:
        """history.jsonl in the checker's format: the lines, in time order."""
        # by time alone: the sort is stable, so lines of one time keep the order they were
        # made in (a completion before the next invocation its process made at the same reading)
        ordered = sorted(self.lines, key=lambda e: e[0])
        return "".join(json.dumps(e) + "\n" for _, _, e in ordered)

    # -- shared by the workloads -----------------------------------------------------------------

    async def client(self, k: int, until: float, round_: int) -> None:
        """Client k's steps until `until` (the run's round `round_`: its second round runs after
        the faults, for recovery), starting on node k (modulo their number)."""
        at = Seat(self.make(self.settings), k, round_, until, k - 1)
        await self.bind(at.client, at.home)
        try:
            while self.clock() < until and not self.stopping.is_set():
                after = await self.step(at)
                if after is not After.GO_ON:
                    at.generation += after is After.NEW_PROCESS
                    at.home = await self.turn(at.client, at.home)
                seconds = self.rest(after)
                if seconds > 0:
                    await self.pause(seconds)
        finally:
            await at.client.close()

    def line(self, at: float, order: int, fields: dict[str, Any]) -> None:
        self.lines.append((at, order, fields))

    def node(self, home: int) -> str:
        return self.endpoints[home % len(self.endpoints)].node

    async def bind(self, client: Client, home: int, timeout: float | None = None) -> None:
        """Open `client` on node `home` (waiting `timeout`, by default the clients')."""
        with contextlib.suppress(OSError, TimeoutError):  # a node down: its invocations say so
            await client.open(
                self.endpoints[home % len(self.endpoints)],
                self.timeout if timeout is None else timeout,
            )

    async def turn(self, client: Client, home: int) -> int:
        """Close the client and bind it to the next node; that node's index."""
        await client.close()
        home = (home + 1) % len(self.endpoints)
        await self.bind(client, home)
        return home

    async def invoke(
        self, client: Client, op: Invocation, timeout: float, home: int, record: bool = True
    ) -> tuple[Completion, float, float]:
        """Invoke `op`; its completion, and when it was invoked and completed. Recorded in the
        run's History unless `record` is false."""
        call = self.clock()
        try:
            done = await client.invoke(op, timeout)
        except (OSError, TimeoutError):  # a plug-in that let the transport's error through
            done = Completion("info")
        ret = self.clock()
        if record:
            self.record(op, done.status, done.output if done.status == "ok" else None, call, ret,
                        home, done.served)  # fmt: skip
        return done, call, ret

    def record(
        self,
        op: Invocation,
        status: str,
        output: Any,
        call: float,
        ret: float,
        home: int,
        served: str | None = None,
    ) -> None:
        """The operation in the run's History, as asked of node `home` and served by `served`
        (the plug-in's Completion.served; None where it cannot tell)."""
        self.history.record(op.process, op.f, _hashable(op.value), _hashable(output), call, ret,
                            status, op.key)  # fmt: skip
        self.history.nodes.append(self.node(home))
        self.history.served.append(served or "")

    def pair(self, op: Invocation, done: Completion, call: float, ret: float, f: str = "") -> None:
        """The operation as an invocation and a completion line, Jepsen's way; an ok completion
        carries its output, the others the invocation's value. An `info` completion says the
        outcome is unknown (the checkers read it as never completed) and lets the process go on:
        a lock holder whose write went unanswered still releases the lock as itself."""
        base = {"process": op.process, "f": f or op.f}
        self.line(call, 0, {**base, "type": "invoke", "value": _plain(op.value)})
        value = done.output if done.status == "ok" else op.value
        self.line(ret, 1, {**base, "type": done.status, "value": _plain(value)})

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or until the clients stop (`stop`)."""
        if seconds <= 0 or self.stopping.is_set():
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    def timeout_until(self, until: float, scale: float = 1.0) -> float:
        return max(0.1, min(scale * self.timeout, until - self.clock() + 0.5))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _hashable(value: Any) -> Any:
    """What the History keeps (its operations are hashed by the figures): lists as tuples."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
