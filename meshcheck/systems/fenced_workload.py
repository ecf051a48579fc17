"""meshcheck's `fenced-lock` workload (traces/history/fenced_lock.py checks it): each client
acquires lock "L" (etcd: a lease, then the lock; the token is the lock key's create revision, as
Jepsen's etcd 3.4.3 analysis advises), writes the protected register with its token through a
transaction that rejects a token smaller than the register's last (Kleppmann, "How to do
distributed locking", 2016), holds a moment, writes again, releases and revokes. The first client,
once, stalls `--client-pause` seconds while it holds the lock (a process paused past its lease):
another client then takes the lock, and the stalled one's second write must be rejected.

Two answers: whether two holders overlapped (etcd's locks are leases: they may, and do under a
pause longer than the lease, which etcd's documentation and Jepsen's analysis say), and whether
fencing kept the register safe (it must).

Known mutant (`broken = "unfenced"`): the plug-in writes the register without the token compare:
the checker must report `stale-write-accepted` once holders overlap."""

from __future__ import annotations

import itertools
from typing import Any

from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.plugin import Invocation

LOCK = "L"
REGISTER = "fenced"
HOLD = (0.01, 0.05)


class FencedClients(Clients):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.values = itertools.count(1)
        self.handles = itertools.count(1)

    async def client(self, k: int, until: float, round_: int) -> None:
        home = k - 1
        client = self.make(self.settings)
        await self.bind(client, home)
        generation = 0
        pause = self.client_pause if k == 1 and round_ == 1 else 0.0
        try:
            while self.clock() < until:
                process = f"c{k}.{round_}.{generation}"
                handle = f"{process}#{next(self.handles)}"
                timeout = self.timeout_until(until, 2.0)
                op = Invocation(process, "acquire", LOCK, handle)
                done, call, ret = await self.invoke(client, op, timeout, home)
                if done.status == "fail":  # no lease could be had: nothing taken
                    home = await self.turn(client, home)
                    await self.pause(0.1)
                    continue
                self.pair(Invocation(process, "acquire", LOCK, None), done, call, ret)
                lost = done.status == "info"  # an open invocation: the process must change
                if done.status == "ok":
                    token = int(done.output)
                    lost |= await self._write(client, process, token, home, until)
                    await self.pause(pause or self.rng.uniform(*HOLD))
                    pause = 0.0
                    lost |= await self._write(client, process, token, home, until)
                    op = Invocation(process, "release", LOCK, handle)
                    done, call, ret = await self.invoke(client, op, timeout, home)
                    self.pair(Invocation(process, "release", LOCK, None), done, call, ret)
                    lost |= done.status == "info"
                op = Invocation(process, "revoke", LOCK, handle)
                done, _, _ = await self.invoke(client, op, timeout, home, record=False)
                if lost or done.status != "ok":
                    generation += 1
                    home = await self.turn(client, home)
                await self.pause(self.rng.uniform(0, 2 * self.gap))
        finally:
            await client.close()

    async def _write(self, client: Any, process: str, token: int, home: int, until: float) -> bool:
        """Write the register with `token`; whether the write went unanswered."""
        op = Invocation(process, "fenced-write", REGISTER, (token, str(next(self.values))))
        done, call, ret = await self.invoke(client, op, self.timeout_until(until), home)
        self.pair(op, done, call, ret, "write")
        return done.status == "info"
