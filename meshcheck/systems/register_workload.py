"""meshcheck's `registers` and `cas` workloads (checked for linearizability against the kv model):
each client reads and writes five keys (`cas`: compare-and-set besides, its `old` the value the
key was last seen to hold, or now and then another), values unique per run (Jepsen's etcd tests,
Kingsbury, jepsen.io/analyses/etcd-3.4.3)."""

from __future__ import annotations

import itertools
from typing import Any

from meshcheck.systems.checked_clients import After
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.verdicts import KEYS


class RegisterClients(Clients):
    seeded = "system-clients:{seed}"  # the registers' draws, as for the stream's

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.values = itertools.count(1)
        self.seen: dict[str, str] = {}  # the last value each key was seen to hold (cas's `old`)

    async def step(self, at: Seat) -> After:
        key = f"k{self.rng.randrange(KEYS)}"
        draw = self.rng.random()
        timeout = self.timeout_until(at.until)
        value: Any
        if draw < 0.5:
            f, value = "read", None
        elif self.settings.workload == "cas" and draw < 0.75:
            old = self.seen.get(key) if self.rng.random() < 0.8 else str(self.rng.randrange(1, 9))
            f, value = "cas", (old, str(next(self.values)))
        else:
            f, value = "write", str(next(self.values))
        op = Invocation(at.process, f, key, value)
        done, call, _ = await self.invoke(at.client, op, timeout, at.home, record=False)
        output = done.output if f == "read" and done.status == "ok" else None
        if done.status == "ok":
            seen = output if f == "read" else value if f == "write" else value[1]
            if seen is not None:
                self.seen[key] = seen
        self.record(op, done.status, output, call, self.clock(), at.home, done.served)
        return After.answered(done.status)
