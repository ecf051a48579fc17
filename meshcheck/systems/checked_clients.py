"""What the workloads checked by a checker of their own kind share (watch, lease, fenced-lock,
list-append: checked.py lists them): clients bound to a node each, turning to the next node as a
new process after an `info` (as workloads.py's do), every operation recorded in the run's History
(for the progress check, the latency and timeline figures) and, in the checker's own format, in
`lines` (what history.jsonl holds)."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import random
from collections.abc import Callable, Sequence
from typing import Any

from meshcheck.cluster.workload import History
from meshcheck.systems.plugin import Client, ClientSettings, Completion, Endpoint, Invocation

Clock = Callable[[], float]
Make = Callable[[ClientSettings], Client]


class Clients(abc.ABC):
    """`count` clients of one workload; `broken` (the file's options' `broken`, or the run's)
    names a mutant of the workload the checker must catch (each driver says which it knows)."""

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
        self.rng = random.Random(f"system-clients:{settings.workload}:{seed}")
        self.gap = gap
        self.timeout = timeout
        self.client_pause = client_pause
        self.broken = str(dict(settings.options).get("broken", ""))
        self.lines: list[tuple[float, int, dict[str, Any]]] = []

    # -- what each workload gives ----------------------------------------------------------------

    @abc.abstractmethod
    async def client(self, k: int, until: float, round_: int) -> None:
        """Client k's operations until `until` (the run's round `round_`: its second round runs
        after the faults, for recovery)."""

    async def finish(self) -> None:  # noqa: B027 (a hook: most workloads read nothing at the end)
        """After the clients: what the workload reads at the end (nothing, unless it says)."""

    def dumps(self) -> str:
        """history.jsonl in the checker's format: the lines, in time order."""
        # by time alone: the sort is stable, so lines of one time keep the order they were
        # made in (a completion before the next invocation its process made at the same reading)
        ordered = sorted(self.lines, key=lambda e: e[0])
        return "".join(json.dumps(e) + "\n" for _, _, e in ordered)

    # -- shared by the workloads -----------------------------------------------------------------

    def line(self, at: float, order: int, fields: dict[str, Any]) -> None:
        self.lines.append((at, order, fields))

    async def bind(self, client: Client, home: int) -> None:
        with contextlib.suppress(OSError, TimeoutError):  # a node down: its invocations say so
            await client.open(self.endpoints[home % len(self.endpoints)], self.timeout)

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
            output = done.output if done.status == "ok" else None
            self.history.record(op.process, op.f, _hashable(op.value), _hashable(output), call,
                                ret, done.status, op.key)  # fmt: skip
            self.history.nodes.append(self.endpoints[home % len(self.endpoints)].node)
        return done, call, ret

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
        await asyncio.sleep(max(0.0, seconds))

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
