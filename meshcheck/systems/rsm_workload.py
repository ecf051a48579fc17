"""meshcheck's `rsm` workload: each client writes entries of the replicated state machine
(impl/rsm/ops.py), `Custom(key, value)` over five keys, a value unique per run or, one time in
five, None (which deletes the key); an entry's answer is the machine's result (whether the key
existed), so the history is judged against the rsm model (traces/history/models.py `Rsm`), as
the cores' runner judged its client cores' (meshcheck/cluster/workload.py `MemberClients`,
meshcheck/cluster/checks.py `linearizable`). The cores whose clients sign run it (their client
cores order writes only: meshcheck/systems/runtime_client.py `MemberClient`).

A client core speaks to every replica and is bound to none: an operation whose outcome is not
known makes a new process (`c<k>.<round>.<generation>`), as every workload's, but no turn to
another node."""

from __future__ import annotations

import itertools
from typing import Any

from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.systems.checked_clients import After
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.verdicts import KEYS

NONE_WRITES = 0.2  # the share of writes of None (the cores' runner's)


class RsmClients(Clients):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.values = itertools.count(1)

    async def step(self, at: Seat) -> After:
        key = f"k{self.rng.randrange(KEYS)}"
        written = None if self.rng.random() < NONE_WRITES else next(self.values)
        entry = to_value(Custom(key, written))
        op = Invocation(at.process, "write", key, entry)
        timeout = self.timeout_until(at.until)
        done, call, ret = await self.invoke(at.client, op, timeout, at.home, record=False)
        # recorded as the entry itself, not `record`'s hashable copy: the rsm model decodes it
        output = done.output if done.status == "ok" else None
        self.history.record(at.process, "write", entry, output, call, ret, done.status, key)
        self.history.nodes.append("")  # asked of every replica
        self.history.served.append(done.served or "")
        if done.status == "info":
            at.generation += 1  # a new process, on no other node (the module's docstring)
        return After.GO_ON
