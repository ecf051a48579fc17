"""meshcheck's `list-append` workload (traces/history/list_append.py checks it, as Jepsen's Elle):
each client runs transactions of one to four micro-operations on a few keys, reads (`["r", k,
null]`) and appends of values unique per key (`["append", k, v]`); what a committed transaction read
and appended must fit one serial order, in real time (strict serializability: etcd's API guarantees,
etcd.io/docs/v3.4/learning/api_guarantees/; Jepsen's etcd 3.4.3 analysis ran the same). How a
system runs a transaction is its plug-in's (etcd: a read-then-txn guarded by mod_revision
compares, meshcheck/systems/etcd/appends.py)."""

from __future__ import annotations

import itertools
from typing import Any

from meshcheck.systems.checked_clients import After
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.plugin import Invocation

PREFIX = "la/"
KEYS = 4  # few keys: transactions contend, as Elle's do
LONGEST = 4  # micro-operations in a transaction


class AppendClients(Clients):
    """Transactions of reads and writes of unique values; the write's name and the keys' prefix
    are the workload's (rw-register's writes, meshcheck/systems/rw_workload.py, share the rest)."""

    prefix = PREFIX
    write = "append"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.values = itertools.count(1)

    async def step(self, at: Seat) -> After:
        mops: list[list[Any]] = []
        for _ in range(self.rng.randint(1, LONGEST)):
            key = f"{self.prefix}{self.rng.randrange(KEYS)}"
            if self.rng.random() < 0.5:
                mops.append(["r", key, None])
            else:
                mops.append([self.write, key, next(self.values)])
        op = Invocation(at.process, "txn", None, mops)
        done, call, ret = await self.invoke(at.client, op, self.timeout_until(at.until), at.home)
        self.pair(op, done, call, ret)
        return After.answered(done.status)
