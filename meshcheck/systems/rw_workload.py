"""meshcheck's `rw-register` workload (traces/history/rw_register.py checks it, as Elle's
rw-register): each client runs transactions of one to four micro-operations on a few registers,
reads (`["r", k, null]`) and writes of values unique per key (`["w", k, v]`). Unique values let a
read name its writer; what committed transactions read and wrote must fit one serial order (in
real time, for strict serializability). How a system runs a transaction is its plug-in's (the SQL
client: one transaction, meshcheck/systems/sql/transactions.py)."""

from __future__ import annotations

import itertools
from typing import Any

from meshcheck.systems.checked_clients import After
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.plugin import Invocation

PREFIX = "rw/"
KEYS = 4  # few keys: transactions contend, as Elle's do
LONGEST = 4  # micro-operations in a transaction


class RwClients(Clients):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.values = itertools.count(1)

    async def step(self, at: Seat) -> After:
        mops: list[list[Any]] = []
        for _ in range(self.rng.randint(1, LONGEST)):
            key = f"{PREFIX}{self.rng.randrange(KEYS)}"
            if self.rng.random() < 0.5:
                mops.append(["r", key, None])
            else:
                mops.append(["w", key, next(self.values)])
        op = Invocation(at.process, "txn", None, mops)
        done, call, ret = await self.invoke(at.client, op, self.timeout_until(at.until), at.home)
        self.pair(op, done, call, ret)
        return After.answered(done.status)
