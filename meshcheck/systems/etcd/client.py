"""etcd's client plug-in: meshcheck's operations over etcd's JSON gateway (gateway.py), and who
leads as etcd's maintenance status says (the nemesis's `@leader`).

- `read`: a range of the key, linearizable (etcd's default) or, with `--reads serializable`,
  served by the member asked from its own store (may be stale); `write`: a put; `cas`: a
  transaction that compares the value (or, for None, that the key is absent) and puts on success;
- `acquire` with a token: a lease of `lease_ttl` seconds (the file's `[client]` option, default
  5) granted, then lock `key` taken with it (`/v3/lock/lock`); `release`: the lock's key unlocked;
  `revoke`: the lease revoked, which frees the lock if the lease still holds it.

- the watch workload: `put` (the revision it made), `delete` (its revision, None when there was
  nothing to delete) and `watch` (a prefix from a revision, on a connection of its own, for a
  while: the events sent, and the error that ended it, if any);
- the lease workload: `grant` (a lease of the value's TTL: its ID), `keepalive` (one renewal: ok
  while the lease lives, fail once it is gone), `put` with a `[value, lease]`, `read`, `revoke`;
- the fenced-lock workload: `acquire`'s output is the fencing token, the create revision of the
  lock's key; `fenced-write` of `[token, value]` puts the register in a transaction that compares
  the token with the register's last one (smaller: rejected, `fail`);
- the list-append workload: `txn` of micro-operations, a read-then-txn guarded by mod_revision
  compares (appends.py).

Mutants the checks must catch (the `[client]` option `broken`, or a run's): `unfenced` puts the
fenced register without its compare; `unguarded-txn` commits a list-append transaction without its
mod_revision compares (a lost update).

etcd's errors, by the one rule (meshcheck/systems/outcomes.py, docs/plugins.md): an answer that is
etcd's error is `error` (etcd may have proposed and committed the write before it: "leader
changed", "request timed out"); a timeout is `timeout`; any other transport error is
`lost-during-commit`, the gateway not saying whether the request had left (an operation of several
requests may have written with an earlier one). So a read's, or a read-only transaction's, is
`fail` (it changed nothing) and a write's, cas's, lock's or writing transaction's `info`, never
`fail`; a cas whose compare failed is `rejected`, `fail`. A lease that could not be granted makes
the acquire `fail` (nothing was taken: a lease is no lock).

Who served an operation: the member whose answer's header names it (`header.member_id`, the
member the gateway's connection reaches, which hands a write to the Raft leader and answers it),
by the name the cluster's member list gives that ID (etcd's `--name`, the node's name in the
system file), asked once per client. An operation no member answered (a transport error before
any answer, an error answer, which carries no header; a watch, on a connection of its own) names
none: the report says the node asked. The leader is not asked per operation (a status request
beside each one): `leader` is left to the nemesis's sampling (`leader` below).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

import attrs

from meshcheck.systems.etcd import appends
from meshcheck.systems.etcd.gateway import Gateway
from meshcheck.systems.etcd.gateway import GatewayError
from meshcheck.systems.etcd.gateway import b64
from meshcheck.systems.etcd.gateway import watch
from meshcheck.systems.outcomes import Failure
from meshcheck.systems.outcomes import outcome
from meshcheck.systems.plugin import Client
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.plugin import SystemPlugin

LEASE_TTL = 5  # seconds: a lock's lease, far beyond a critical section
TRANSPORT = (ConnectionError, OSError, TimeoutError, ValueError)
TOKEN = "{key}-token"  # where the fenced register keeps the last token it accepted
DIGITS = 20  # tokens zero-padded, so that etcd's byte-wise compare orders them as numbers


class EtcdClient:
    def __init__(self, settings: ClientSettings) -> None:
        self.serializable = settings.reads == "serializable"
        self.ttl = int(dict(settings.options).get("lease_ttl", LEASE_TTL))
        self.broken = str(dict(settings.options).get("broken", ""))  # a mutant the checks catch
        self._gateway: Gateway | None = None
        self._endpoint: Endpoint | None = None
        self._leases: dict[str, str] = {}  # token -> its lease
        self._keys: dict[str, str] = {}  # token -> the key that holds the lock for it
        self._names: dict[str, str] = {}  # member ID (hex) -> its name, from the member list

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        await self.close()
        self._endpoint = endpoint
        self._gateway = Gateway((endpoint.host, endpoint.port))

    async def close(self) -> None:
        if self._gateway is not None:
            await self._gateway.close()

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        g = self._gateway
        assert g is not None, "invoke before open"
        g.member = ""
        done = await self._invoke(g, op, timeout)
        served = await self._served(g, timeout)
        return attrs.evolve(done, served=served) if served else done

    async def _served(self, g: Gateway, timeout: float) -> str | None:
        """The name of the member that answered the operation's last request (None: none did),
        the member list asked the first time an ID is met (its failure leaves the name unknown)."""
        member = g.member
        if not member:
            return None
        if member not in self._names:
            with contextlib.suppress(GatewayError, *TRANSPORT):
                self._names.update(await g.members(min(timeout, 1.0)))
        return self._names.get(member)

    async def _invoke(self, g: Gateway, op: Invocation, timeout: float) -> Completion:
        key = str(op.key)
        try:
            if op.f == "read":
                return Completion("ok", await g.get(key, timeout, serializable=self.serializable))
            if op.f == "write":
                await g.put(key, str(op.value), timeout)
                return Completion("ok")
            if op.f in ("put", "delete", "watch", "grant", "keepalive", "fenced-write", "txn"):
                return await self._more(g, op, key, timeout)
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
                return Completion("ok", await g.created(self._keys[token], timeout))
            if op.f == "release":
                await g.unlock(self._keys.pop(token), timeout)
                return Completion("ok")
            if op.f == "revoke":
                lease = self._leases.pop(token, None)
                if lease is not None:
                    await g.revoke(lease, timeout)
                return Completion("ok")
        except GatewayError as e:
            return Completion(outcome("error", writes=not _reads_only(op)), str(e))
        except TRANSPORT as e:
            return Completion(outcome(_failure(e), writes=not _reads_only(op)), str(e) or repr(e))
        raise ValueError(f"etcd's client does no {op.f!r}")

    async def _more(self, g: Gateway, op: Invocation, key: str, timeout: float) -> Completion:
        """The watch, lease, fenced-lock and list-append workloads' operations."""
        if op.f == "put":
            value, lease = op.value if isinstance(op.value, (list, tuple)) else (op.value, "")
            return Completion("ok", await g.put_revision(key, str(value), timeout, str(lease)))
        if op.f == "delete":
            return Completion("ok", await g.delete(key, timeout))
        if op.f == "watch":
            assert self._endpoint is not None
            start, until = op.value
            address = (self._endpoint.host, self._endpoint.port)
            seen, ended = await watch(address, key, int(start), timeout, int(until))
            return Completion("ok", {"events": seen, "ended": ended})
        if op.f == "grant":
            return Completion("ok", await g.grant(int(op.value), timeout))
        if op.f == "keepalive":
            return Completion("ok" if await g.keepalive(str(op.value), timeout) > 0 else "fail")
        if op.f == "fenced-write":
            token, value = op.value
            mine = str(token).zfill(DIGITS)
            put = [
                {"request_put": {"key": b64(key), "value": b64(str(value))}},
                {"request_put": {"key": b64(TOKEN.format(key=key)), "value": b64(mine)}},
            ]
            if self.broken == "unfenced":
                await g.txn([], put, timeout=timeout)
                return Completion("ok")
            older = {  # the register's token is absent (version 0) or not above ours
                "key": b64(TOKEN.format(key=key)),
                "target": "VALUE",
                "result": "LESS",
                "value": b64(str(int(token) + 1).zfill(DIGITS)),
            }
            absent = {
                "key": b64(TOKEN.format(key=key)),
                "target": "VERSION",
                "result": "EQUAL",
                "version": "0",
            }
            for compare in (older, absent):
                answer = await g.txn([compare], put, timeout=timeout)
                if answer.get("succeeded", False):
                    return Completion("ok")
            return Completion("fail", "a newer token was accepted")
        guarded = self.broken != "unguarded-txn"
        mops = list(op.value)
        committed, done = await appends.transact(g, mops, timeout, self.serializable, guarded)
        return Completion("ok" if committed else "fail", done)


def _failure(e: BaseException) -> Failure:
    """The class of a transport error: the gateway does not say whether the request had left."""
    return "timeout" if isinstance(e, TimeoutError) else "lost-during-commit"


def _reads_only(op: Invocation) -> bool:
    """An operation that changes nothing: its error means it certainly did not take effect."""
    if op.f == "txn":
        return all(m[0] == "r" for m in op.value)
    return op.f in ("read", "watch")


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
    workloads=("registers", "cas", "lock", "watch", "lease", "fenced-lock", "list-append"),
    leader=leader,
    file=Path(__file__).parents[1] / "known" / "etcd.toml",
)
