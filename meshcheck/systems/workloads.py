"""meshcheck's workloads on any system, through its client plug-in (plugin.py): the harness draws
each operation, invokes it, and records the invocation and the completion with their times; the
plug-in only says how the system answered.

- `registers`: five keys, reads and writes of unique values; `cas`: compare-and-set besides
  (Jepsen's etcd tests, Kingsbury, jepsen.io/analyses/etcd-3.4.3; register_workload.py);
- `stream`: clients publish messages with unique ids, consume and acknowledge them, and every
  node's copy is read back at the end (stream_workload.py; traces/history/stream.py checks it);
- `watch`, `lease`, `fenced-lock` and `list-append`: each with clients of its own, its history
  in its checker's format (checked.py; docs/history-checkers.md);
- `lock`: each client takes lock "L" (`acquire` with a token of its own, a lease for etcd), holds
  it a moment, `release`s it and `revoke`s the token (which frees the lock if it was taken and the
  release's answer was lost); checked against models.Mutex (lock_workload.py);
- `rsm`: writes of the replicated state machine's entries, checked against models.Rsm, the
  workload of the project's cores whose clients sign (rsm_workload.py).

Each client is bound to one node (Jepsen binds clients to nodes) and turns to the next after an
`info`, as a new process (`c<k>.<round>.<generation>`): whether its last operation took effect is
not known, so nothing it does after is ordered after it. Every workload's clients run that one
loop (checked_clients.py's `Clients`); this module picks them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Sequence

from meshcheck.cluster.workload import History
from meshcheck.systems import checked
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.lock_workload import LockClients
from meshcheck.systems.plugin import Client
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.register_workload import RegisterClients
from meshcheck.systems.rsm_workload import RsmClients
from meshcheck.systems.stream_workload import StreamClients

TIMEOUT = 1.0  # a client's wait for one answer (seconds); twice that for the lock's
Clock = Callable[[], float]


class Workload:
    """`count` clients of `settings.workload`, each bound to a node of `endpoints`, together at
    about `rate` operations a second; `client_pause`: seconds the first lock client stalls, once,
    holding the lock (as a paused process would)."""

    def __init__(
        self,
        make: Callable[[ClientSettings], Client],
        settings: ClientSettings,
        endpoints: Sequence[Endpoint],
        clock: Clock,
        *,
        clients: int,
        rate: float,
        seed: int,
        client_pause: float = 0.0,
    ) -> None:
        self._count = clients
        self.history = History()
        self._round = 0
        kind = checked.KINDS.get(settings.workload)
        driver: type[Clients]
        if kind is not None:  # a checker of its own kind judges it (checked.py)
            driver = kind.clients
        elif settings.workload == "stream":
            driver = StreamClients
        elif settings.workload == "lock":
            driver = LockClients
        elif settings.workload == "rsm":
            driver = RsmClients
        else:
            driver = RegisterClients
        self.clients = driver(make, settings, endpoints, clock, self.history, seed=seed,
                              gap=clients / rate, timeout=TIMEOUT,
                              client_pause=client_pause)  # fmt: skip
        # the workloads a checker of their own kind judges: their clients (their history file)
        self.checked: Clients | None = self.clients if kind is not None else None

    async def run(self, until: float) -> None:
        self._round += 1
        await asyncio.gather(
            *(self.clients.client(k, until, self._round) for k in range(1, self._count + 1))
        )

    def stop(self) -> None:
        """The run stops early: every client ends after the step it is in (checked_clients.py)."""
        self.clients.stop()

    async def read_back(self) -> None:
        """The stream workload's last step: every node's copy read back (stream_workload.py)."""
        assert isinstance(self.clients, StreamClients)
        await self.clients.read_back()
