"""A ZooKeeper client for meshcheck's workloads, on kazoo (kazoo.readthedocs.io), bound to one
server (Jepsen binds clients to nodes: kazoo is given that server alone, so it never fails over).

Registers (`registers`, `cas`): key `k` is the znode `<root>/k`, its data the value (utf-8).
- write: setData at any version, the znode created when it is absent;
- cas (old, new): getData, then setData with the version read, so that a write between the two
  makes it fail (BadVersion); a value other than `old` fails it at once;
- read: getData, after `sync` when the read mode is `sync`. ZooKeeper promises sequential
  consistency, not linearizable reads: a plain read is served by the server the client is on and
  "may be stale"; `sync` first has that server catch up with the leader
  (zookeeper.apache.org/doc/r3.8.0/zookeeperProgrammers.html, "Consistency Guarantees").

Fenced writes (the `fenced-lock` workload's `fenced-write` of [token, value], or a `write` whose
value is [token, value]): the register `<root>/k` has a token znode beside it, `<root>/k-token`,
holding the token of the write it last accepted. The write reads the token znode; a smaller token
than it holds is rejected (fail); otherwise one `multi` (kazoo's transaction) sets the token znode
at the version read and the register, so that a write that came between fails the whole
transaction, which is then tried again from the read (Kleppmann, "How to do distributed locking",
2016: the storage checks the token). The mutant `unfenced` (the `[client]` option `broken`, or the
run's `--broken`) skips the compare and the version: a stale holder's write is accepted.

Lock (`lock`): kazoo's Lock recipe (an ephemeral sequential znode under `<root>/lock/<key>`; the
lowest sequence number holds). An acquire's output is its fencing token, the lock znode's sequence
number, which grows with each acquisition of the same lock. `release` deletes that znode;
`revoke` (the client does not know whether its acquire took) deletes it if it exists, as ending the
session would. The lock's lease id (the workload's value) names kazoo's Lock object.

Completions, by the one rule (meshcheck/systems/outcomes.py, docs/plugins.md): ok; fail when
ZooKeeper certainly did nothing (a read's error, a cas whose value or version differed, a write
never sent because the client is closed or the read before it failed, a lock not taken before its
deadline after kazoo withdrew its znode); info when it may have (a lost connection, kazoo's
ConnectionLoss; an expired session or any other error of kazoo's; no answer in time). Kazoo holds a
request made without a connection and sends it once it has one: a refused connection is no answer
in time, not a request that never left.

Who served an operation: the server of the session, the one kazoo was given, which answered it (a
follower hands a write to the leader and answers when it has applied it; a read it answers from
its own copy). Kazoo keeps that server's address and no other (it has no public accessor of the
connected peer, and needs none with one host), so an `ok` operation names the endpoint's node as
`served`; one that got no answer, or was refused, names none and the report says the node asked.
The leader is not asked per operation (`srvr` on a connection of its own beside each one): the
nemesis samples it (four_letter.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError
from kazoo.exceptions import ConnectionLoss
from kazoo.exceptions import KazooException
from kazoo.exceptions import NodeExistsError
from kazoo.exceptions import NoNodeError
from kazoo.exceptions import RolledBackError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.recipe.lock import Lock

from meshcheck.systems.outcomes import Failure
from meshcheck.systems.outcomes import outcome
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.zookeeper.bridge import answer

READS = ("sync", "plain")
ROOT = "/meshcheck"
SESSION = 4.0  # seconds: the session timeout asked for (the server bounds it by its tickTime)
SLACK = 1.0  # seconds a blocking kazoo call (the lock recipe's) is given beyond its own deadline
TOKEN = "{path}-token"  # the znode beside a fenced register: the token of its last accepted write
_RACED = (BadVersionError, NodeExistsError, NoNodeError)  # another write came between
_LOST = (KazooException, KazooTimeoutError, TimeoutError, OSError)
# kazoo logs each lost connection and retry as a warning, which Python's last-resort handler would
# print over the run's progress lines: the completions say what a client saw
_QUIET = logging.getLogger(__name__)
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def _decode(data: bytes | None) -> str | None:
    return data.decode("utf-8") if data else None


def _failure(e: BaseException) -> Failure:
    """The class of an error a kazoo call ended with (outcomes.py)."""
    if isinstance(e, KazooTimeoutError | TimeoutError):
        return "timeout"  # no answer in time (the request may still be sent, or applied)
    if isinstance(e, ConnectionLoss | OSError):
        return "lost-during-commit"
    return "error"  # an expired session, a closed connection: kazoo may have sent it first


def token(node: str) -> int:
    """The fencing token of a lock znode: its sequence number (the name's last ten digits)."""
    return int(node[-10:])


class ZooKeeperClient:
    def __init__(self, settings: ClientSettings) -> None:
        if settings.reads not in READS:
            raise ValueError(f"reads {settings.reads!r}: ZooKeeper reads are {' or '.join(READS)}")
        self._sync = settings.reads == "sync"
        self._root = str(settings.options.get("root", ROOT)).rstrip("/")
        self._session = float(settings.options.get("session_timeout", SESSION))
        self._kz: Any = None
        self._node: str | None = None  # the node of the session's one server
        self._pool: ThreadPoolExecutor | None = None
        self._locks: dict[Any, Any] = {}
        self._fenced = str(settings.options.get("broken", "")) != "unfenced"

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        """A session with the server of `endpoint` (TimeoutError when none is had in `timeout`
        seconds: the server is down or has no quorum). Kazoo keeps trying after that, on that
        server only; until it has a session every invocation times out (a read fails, anything
        else is info)."""
        await self.close()
        self._node = endpoint.node
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="zookeeper-client")
        self._kz = KazooClient(
            hosts=f"{endpoint.host}:{endpoint.port}",
            timeout=self._session,
            connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1.0},
            logger=_QUIET,
        )
        try:
            await self._blocking(self._kz.start, timeout + SLACK, timeout)
        except _LOST as e:
            raise TimeoutError(f"no ZooKeeper session with {endpoint.node}: {e}") from None

    async def close(self) -> None:
        for lock in self._locks.values():
            lock.cancel()
        self._locks.clear()
        kz, self._kz = self._kz, None
        pool, self._pool = self._pool, None
        if kz is not None:
            await self._stop(kz)
        if pool is not None:
            pool.shutdown(wait=False)

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        done = await self._invoke(op, timeout)
        if done.status == "ok" and self._node is not None:  # the session's server answered
            return attrs.evolve(done, served=self._node)
        return done

    async def _invoke(self, op: Invocation, timeout: float) -> Completion:
        if self._kz is None:  # never opened, or closed: nothing was sent
            return Completion(outcome("lost-before-send", writes=op.f != "read"))
        if op.f == "read":
            return await self._read(self._path(op.key), timeout)
        if op.f == "fenced-write" or (op.f == "write" and isinstance(op.value, list | tuple)):
            token, value = op.value
            return await self._fenced_write(self._path(op.key), int(token), str(value), timeout)
        if op.f == "write":
            return await self._write(self._path(op.key), str(op.value), timeout)
        if op.f == "cas":
            old, new = op.value
            return await self._cas(self._path(op.key), old, str(new), timeout)
        if op.f == "acquire":
            return await self._acquire(op.key or "L", op.value, timeout)
        if op.f == "release":
            return await self._release(op.value, timeout)
        if op.f == "revoke":
            return await self._revoke(op.value, timeout)
        raise ValueError(f"operation {op.f!r}: the ZooKeeper client has no such operation")

    def session(self) -> tuple[int, bytes]:
        """The session's id and password (kazoo's `client_id`): what another connection needs to
        take the session over or end it."""
        if self._kz is None or self._kz.client_id is None:
            raise ConnectionError("no session")
        session_id, password = self._kz.client_id
        return int(session_id), bytes(password)

    def _path(self, key: str | None) -> str:
        if not key:
            raise ValueError("a register operation needs a key")
        return f"{self._root}/{key}"

    async def _read(self, path: str, timeout: float) -> Completion:
        try:
            async with asyncio.timeout(timeout):
                if self._sync:
                    await answer(self._kz.sync_async(path), timeout)
                data, _ = await answer(self._kz.get_async(path), timeout)
        except NoNodeError:
            return Completion("ok", None)
        except _LOST as e:
            return Completion(outcome(_failure(e), writes=False))  # a read changes nothing
        return Completion("ok", _decode(data))

    async def _write(self, path: str, value: str, timeout: float) -> Completion:
        data = value.encode("utf-8")
        try:
            async with asyncio.timeout(timeout):
                try:
                    await answer(self._kz.set_async(path, data, -1), timeout)
                except NoNodeError:
                    try:
                        await answer(self._kz.create_async(path, data, makepath=True), timeout)
                    except NodeExistsError:  # created between the two: set it
                        await answer(self._kz.set_async(path, data, -1), timeout)
        except _LOST as e:
            return Completion(outcome(_failure(e), writes=True))
        return Completion("ok")

    async def _fenced_write(self, path: str, token: int, value: str, timeout: float) -> Completion:
        """A write to a register fenced by lock tokens: rejected (fail) when the register's token
        znode holds a larger token; otherwise one transaction that sets the token znode at the
        version read (a `check` of what the compare saw) and the register, or creates both; a
        write that came between fails it whole, and it is tried again from the read."""
        mark = TOKEN.format(path=path)
        sent = False  # a transaction may have taken effect once sent
        try:
            async with asyncio.timeout(timeout):
                while True:
                    try:
                        held, stat = await answer(self._kz.get_async(mark), timeout)
                    except NoNodeError:
                        held, stat = b"", None
                    if self._fenced and held and int(held) > token:
                        return Completion(
                            outcome("rejected", writes=True), "a newer token was accepted"
                        )
                    if stat is None:  # the register's first write: its folder first
                        await answer(self._kz.ensure_path_async(self._root), timeout)
                    sent = True
                    failed = await self._commit(path, mark, token, value, stat, timeout)
                    if failed is None:
                        return Completion("ok")
                    if not isinstance(failed, _RACED):
                        raise failed
                    sent = False  # refused whole: nothing of it took effect
        except _LOST as e:  # a transaction not yet sent took no effect
            return Completion(outcome(_failure(e) if sent else "lost-before-send", writes=True))

    async def _commit(
        self, path: str, mark: str, token: int, value: str, stat: Any, timeout: float
    ) -> Exception | None:
        """The fenced write's transaction: None when it committed, else the error of the operation
        that failed it (the others are rolled back)."""
        txn = self._kz.transaction()
        mine, data = str(token).encode(), value.encode("utf-8")
        if stat is None:
            txn.create(mark, mine)
            txn.create(path, data)
        else:
            txn.set_data(mark, mine, stat.version if self._fenced else -1)
            txn.set_data(path, data)
        results = await answer(txn.commit_async(), timeout)
        errors = [r for r in results if isinstance(r, Exception)]
        return next((e for e in errors if not isinstance(e, RolledBackError)), None) or (
            errors[0] if errors else None
        )

    async def _cas(self, path: str, old: Any, new: str, timeout: float) -> Completion:
        expected = None if old is None else str(old)
        try:
            async with asyncio.timeout(timeout):
                try:
                    data, stat = await answer(self._kz.get_async(path), timeout)
                except NoNodeError:
                    data, stat = None, None
        except _LOST:  # nothing written yet
            return Completion(outcome("lost-before-send", writes=True))
        if _decode(data) != expected:
            return Completion(outcome("rejected", writes=True))
        try:
            async with asyncio.timeout(timeout):
                if stat is None:
                    pending = self._kz.create_async(path, new.encode("utf-8"), makepath=True)
                else:
                    pending = self._kz.set_async(path, new.encode("utf-8"), stat.version)
                await answer(pending, timeout)
        except _RACED:  # another write came between the read and this one
            return Completion(outcome("rejected", writes=True))
        except _LOST as e:
            return Completion(outcome(_failure(e), writes=True))
        return Completion("ok")

    async def _acquire(self, name: str, lease: Any, timeout: float) -> Completion:
        lock = self._kz.Lock(f"{self._root}/lock/{name}", identifier=str(lease))
        self._locks[lease] = lock
        try:
            got = await self._blocking(lock.acquire, timeout + SLACK, True, timeout)
        except _LOST:
            got = False
        if got:
            return Completion("ok", token(lock.node))
        # not taken in time (or the connection went): kazoo withdraws its znode as far as it can,
        # which may not be far; withdrawn here, the acquire certainly holds nothing (had the znode
        # come first a moment, nobody else could have taken the lock meanwhile)
        withdrawn = await self._revoke(lease, timeout)
        return Completion("fail" if withdrawn.status == "ok" else "info")

    async def _release(self, lease: Any, timeout: float) -> Completion:
        lock = self._locks.get(lease)
        if lock is None or not lock.is_acquired:
            return Completion("fail")
        try:
            await answer(self._kz.delete_async(f"{lock.path}/{lock.node}"), timeout)
        except NoNodeError:
            # the znode went with an expired session: the lock was lost before this release
            pass
        except _LOST as e:
            return Completion(outcome(_failure(e), writes=True))
        lock.is_acquired = False
        del self._locks[lease]
        return Completion("ok")

    async def _revoke(self, lease: Any, timeout: float) -> Completion:
        lock: Lock | None = self._locks.pop(lease, None)
        if lock is None:
            return Completion("ok")  # this client never tried to take it with that lease
        lock.cancel()
        try:
            async with asyncio.timeout(timeout):
                children = await answer(self._kz.get_children_async(lock.path), timeout)
                for child in children:
                    if child.startswith(lock.prefix):
                        with contextlib.suppress(NoNodeError):
                            await answer(self._kz.delete_async(f"{lock.path}/{child}"), timeout)
        except NoNodeError:
            pass
        except _LOST as e:
            return Completion(outcome(_failure(e), writes=True))
        return Completion("ok")

    async def _blocking(self, call: Any, deadline: float, *args: Any) -> Any:
        """`call(*args)`, a blocking kazoo call, on this client's own thread (one at a time, as
        the client invokes), awaited for at most `deadline` seconds."""
        loop = asyncio.get_running_loop()
        if self._pool is None:
            raise TimeoutError("the client is closed")
        return await asyncio.wait_for(loop.run_in_executor(self._pool, call, *args), deadline)

    async def _stop(self, kz: Any) -> None:
        def stop() -> None:
            with contextlib.suppress(Exception):
                kz.stop()
            with contextlib.suppress(Exception):
                kz.close()

        await asyncio.get_running_loop().run_in_executor(None, stop)
