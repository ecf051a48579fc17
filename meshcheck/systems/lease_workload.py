"""meshcheck's `lease` workload (traces/history/lease.py checks it): each client grants a lease of
`TTL` seconds (the file's `[client] lease_workload_ttl`, default 3), puts a key attached to it,
keeps the lease alive (a renewal every TTL/3 seconds) for one to two and a half TTLs, then lets it
lapse and watches the key go; all the while every client reads keys, its own and the others'. A
key must not vanish while its lease is kept alive, and must vanish once the lease lapses (etcd's
lease API, etcd.io/docs/v3.4/learning/api/, "Lease API"); both within the run's bound
(checked.py: the revoke loop's period plus the clock faults' size).

Known mutant (`broken = "stalled-keepalive"`): the keep-alive loop stalls for two TTLs and records
renewals it never sent (a client library's loop paused longer than the TTL while the application
believes its lease alive): the checker must report `vanished-early`."""

from __future__ import annotations

from typing import Any

from meshcheck.systems.checked_clients import After
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.plugin import Invocation

PREFIX = "lease/"
TTL = 3
KEPT = (1.0, 2.5)  # TTLs a lease is kept alive
LAPSE = 1.5  # TTLs the key is watched after the last renewal


class LeaseClients(Clients):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ttl = int(dict(self.settings.options).get("lease_workload_ttl", TTL))
        self.keys: list[str] = []  # every key put so far (any client reads any)
        self.serial = 0

    async def step(self, at: Seat) -> After:
        return After.GO_ON if await self._one_lease(at) else After.NEW_PROCESS

    def rest(self, after: After) -> float:
        """A lease's life waits as it goes: none after it, a moment after an unanswered step."""
        return 0.1 if after is After.NEW_PROCESS else 0.0

    async def _one_lease(self, at: Seat) -> bool:
        """Grant, put, keep alive, lapse; False after an operation without an answer."""
        client, process, home, until = at.client, at.process, at.home, at.until
        timeout = self.timeout_until(until)
        done, call, ret = await self.invoke(client, Invocation(process, "grant", None, self.ttl),
                                            timeout, home)  # fmt: skip
        if done.status != "ok":
            return done.status != "info"
        lease = str(done.output)
        self.line(call, 0, {"f": "grant", "lease": lease, "ttl": self.ttl, "time": call,
                            "ret": ret})  # fmt: skip
        self.serial += 1
        key = f"{PREFIX}{process}.{self.serial}"
        op = Invocation(process, "put", key, (key, lease))
        done, call, ret = await self.invoke(client, op, self.timeout_until(until), home)
        if done.status == "info":
            return False
        if done.status != "ok":
            return True
        self.line(call, 0, {"f": "put", "key": key, "lease": lease, "time": call, "ret": ret})
        self.keys.append(key)
        kept = self.clock() + self.rng.uniform(*KEPT) * self.ttl
        renewed = self.clock()
        stalled = self.broken == "stalled-keepalive"
        while self.clock() < min(kept, until):
            if self.clock() - renewed >= self.ttl / 3:
                if stalled:  # the mutant: renewals recorded, none sent
                    now = self.clock()
                    self.line(now, 0, {"f": "keepalive", "lease": lease, "time": now, "ret": now})
                    renewed = now
                else:
                    op = Invocation(process, "keepalive", None, lease)
                    done, call, ret = await self.invoke(client, op, self.timeout_until(until), home)
                    if done.status == "ok":
                        renewed = call
                        self.line(call, 0, {"f": "keepalive", "lease": lease, "time": call,
                                            "ret": ret})  # fmt: skip
                    elif done.status == "info":
                        return False
            if not await self._read(at, key):
                return False
            await self.pause(self.rng.uniform(0.05, 0.25))
        lapse = self.clock() + LAPSE * self.ttl
        while self.clock() < min(lapse, until):
            if not await self._read(at, key):
                return False
            await self.pause(self.rng.uniform(0.1, 0.3))
        return True

    async def _read(self, at: Seat, own: str) -> bool:
        """Read this client's key or, one time in three, another's; False without an answer."""
        key = own if self.rng.random() < 0.67 or not self.keys else self.rng.choice(self.keys)
        op = Invocation(at.process, "read", key, None)
        done, call, ret = await self.invoke(at.client, op, self.timeout_until(at.until), at.home)
        if done.status == "ok":
            present = done.output is not None
            self.line(call, 0, {"f": "read", "key": key, "present": present, "time": call,
                                "ret": ret})  # fmt: skip
        return done.status != "info"
