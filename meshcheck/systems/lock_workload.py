"""meshcheck's `lock` workload (checked against models.Mutex): each client takes lock "L"
(`acquire` with a token of its own, a lease for etcd), holds it a moment, `release`s it and
`revoke`s the token (which frees the lock if it was taken and the release's answer was lost). The
first client stalls `client_pause` seconds once a round, holding the lock: the clients keep no
lease alive, as a paused process would not."""

from __future__ import annotations

import itertools
from typing import Any

from meshcheck.systems.checked_clients import After
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.plugin import Invocation

HOLD = (0.01, 0.05)  # seconds a client holds the lock
LOCK = "L"


class LockClients(Clients):
    seeded = "system-clients:{seed}"  # the lock's draws, as for the stream's

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens = itertools.count(1)
        self.stalled: set[int] = set()  # the rounds whose first client has stalled

    async def step(self, at: Seat) -> After:
        """Acquire with a fresh token, hold a moment, release, revoke. An acquire or a release
        without an answer is `info`, and the revoke that follows, by a new process, frees the
        lock if it was taken (models.Mutex)."""
        timeout = self.timeout_until(at.until, 2.0)
        token = f"{at.process}#{next(self.tokens)}"
        taken = await self._lock(at, "acquire", token, timeout)
        if taken == "fail":
            return After.NEXT_NODE
        lost = taken != "ok"
        if not lost:
            stall = 0.0
            if at.k == 1 and at.round not in self.stalled:
                stall = self.client_pause
                self.stalled.add(at.round)
            await self.pause(stall or self.rng.uniform(*HOLD))
            lost = await self._lock(at, "release", token, timeout) != "ok"
        if lost:
            at.generation += 1
        if await self._lock(at, "revoke", token, timeout) != "ok":
            return After.NEW_PROCESS
        return After.GO_ON

    async def _lock(self, at: Seat, f: str, token: str, timeout: float) -> str:
        """One lock operation, recorded (keyless) unless an acquire certainly took nothing."""
        op = Invocation(at.process, f, LOCK, token)
        done, call, _ = await self.invoke(at.client, op, timeout, at.home, record=False)
        if f == "acquire" and done.status == "fail":
            return "fail"  # certainly not taken (no lease could be had): not recorded
        status: str = done.status
        if f == "revoke" and status != "ok":
            status = "info"  # whether the token still holds the lock is not known
        self.history.record(op.process, f, token, None, call, self.clock(), status, None)
        return status
