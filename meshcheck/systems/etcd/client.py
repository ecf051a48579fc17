"""etcd's client plug-in: meshcheck's operations over etcd's JSON gateway (gateway.py), and who
leads as etcd's maintenance status says (the nemesis's `@leader`).

- `read`: a range of the key, linearizable (etcd's default) or, with `--reads serializable`,
  served by the member asked from its own store (may be stale); `write`: a put; `cas`: a
  transaction that compares the value (or, for None, that the key is absent) and puts on success;
- `acquire` with a token: a lease of `lease_ttl` seconds (the file's `[client]` option, default
  5) granted, then lock `key` taken with it (`/v3/lock/lock`); `release`: the lock's key unlocked;
  `revoke`: the lease revoked, which frees the lock if the lease still holds it.

etcd's errors: a read's is `fail` (it changed nothing); a write's, cas's or lock's is `info`, never
`fail` (etcd may have proposed and committed it before the error: "leader changed", "request timed
out"); a lease that could not be granted makes the acquire `fail` (nothing was taken). A transport
error or a timeout is `info`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from meshcheck.systems.etcd.gateway import Gateway, GatewayError
from meshcheck.systems.plugin import (
    Client,
    ClientSettings,
    Completion,
    Endpoint,
    Invocation,
    SystemPlugin,
)

LEASE_TTL = 5  # seconds: a lock's lease, far beyond a critical section
TRANSPORT = (ConnectionError, OSError, TimeoutError, ValueError)


class EtcdClient:
    def __init__(self, settings: ClientSettings) -> None:
        self.serializable = settings.reads == "serializable"
        self.ttl = int(dict(settings.options).get("lease_ttl", LEASE_TTL))
        self._gateway: Gateway | None = None
        self._leases: dict[str, str] = {}  # token -> its lease
        self._keys: dict[str, str] = {}  # token -> the key that holds the lock for it

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        await self.close()
        self._gateway = Gateway((endpoint.host, endpoint.port))

    async def close(self) -> None:
        if self._gateway is not None:
            await self._gateway.close()

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        g = self._gateway
        assert g is not None, "invoke before open"
        key = str(op.key)
        try:
            if op.f == "read":
                return Completion("ok", await g.get(key, timeout, serializable=self.serializable))
            if op.f == "write":
                await g.put(key, str(op.value), timeout)
                return Completion("ok")
            if op.f == "cas":
                old, new = op.value
                return Completion("ok" if await g.cas(key, old, new, timeout) else "fail")
            token = str(op.value)
            if op.f == "acquire":
                try:
                    self._leases[token] = await g.grant(self.ttl, timeout)
                except (GatewayError, *TRANSPORT):
                    return Completion("fail")  # no lease: nothing taken
                self._keys[token] = await g.lock(key, self._leases[token], timeout)
                return Completion("ok")
            if op.f == "release":
                await g.unlock(self._keys.pop(token), timeout)
                return Completion("ok")
            if op.f == "revoke":
                lease = self._leases.pop(token, None)
                if lease is not None:
                    await g.revoke(lease, timeout)
                return Completion("ok")
        except GatewayError as e:
            return Completion("fail" if op.f == "read" else "info", str(e))
        except TRANSPORT as e:
            return Completion("info", str(e))
        raise ValueError(f"etcd's client does no {op.f!r}")


async def leader(endpoints: Sequence[Endpoint]) -> str | None:
    """The member the members name as their leader (each asked for its status, at once): the
    name of the first that names a leader among the members that answered; None when none does."""

    async def status(e: Endpoint) -> tuple[str, str] | None:
        g = Gateway((e.host, e.port))
        try:
            return await g.status(0.5)
        except (GatewayError, *TRANSPORT):
            return None
        finally:
            await g.close()

    answers = await asyncio.gather(*(status(e) for e in endpoints))
    names = {a[0]: e.node for e, a in zip(endpoints, answers, strict=True) if a is not None}
    for a in answers:
        if a is not None and a[1] in names:
            return names[a[1]]
    return None


def _client(settings: ClientSettings) -> Client:
    return EtcdClient(settings)


ETCD = SystemPlugin(
    name="etcd",
    client=_client,
    workloads=("registers", "cas", "lock"),
    leader=leader,
    file=Path(__file__).parents[1] / "known" / "etcd.toml",
)
