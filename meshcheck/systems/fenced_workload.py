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

from meshcheck.systems.checked_clients import After
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.plugin import Invocation

LOCK = "L"
REGISTER = "fenced"
HOLD = (0.01, 0.05)


class FencedClients(Clients):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.values = itertools.count(1)
        self.handles = itertools.count(1)
        self.stall = self.client_pause  # not yet stalled (the first client, once)

    async def step(self, at: Seat) -> After:
        """Acquire, write, hold, write, release, revoke; the first client of the first round
        holds the lock `client_pause` seconds once."""
        process = at.process
        handle = f"{process}#{next(self.handles)}"
        timeout = self.timeout_until(at.until, 2.0)
        op = Invocation(process, "acquire", LOCK, handle)
        done, call, ret = await self.invoke(at.client, op, timeout, at.home)
        if done.status == "fail":  # no lease could be had: nothing taken
            return After.NEXT_NODE
        self.pair(Invocation(process, "acquire", LOCK, None), done, call, ret)
        lost = done.status == "info"  # an open invocation: the process must change
        if done.status == "ok":
            token = int(done.output)
            lost |= await self._write(at, token)
            stall = self.stall if at.k == 1 and at.round == 1 else 0.0
            await self.pause(stall or self.rng.uniform(*HOLD))
            if stall:
                self.stall = 0.0
            lost |= await self._write(at, token)
            op = Invocation(process, "release", LOCK, handle)
            done, call, ret = await self.invoke(at.client, op, timeout, at.home)
            self.pair(Invocation(process, "release", LOCK, None), done, call, ret)
            lost |= done.status == "info"
        op = Invocation(process, "revoke", LOCK, handle)
        done, _, _ = await self.invoke(at.client, op, timeout, at.home, record=False)
        return After.NEW_PROCESS if lost or done.status != "ok" else After.GO_ON

    async def _write(self, at: Seat, token: int) -> bool:
        """Write the register with `token`; whether the write went unanswered."""
        op = Invocation(at.process, "fenced-write", REGISTER, (token, str(next(self.values))))
        done, call, ret = await self.invoke(at.client, op, self.timeout_until(at.until), at.home)
        self.pair(op, done, call, ret, "write")
        return done.status == "info"
