"""The outcome contract of every system plug-in (meshcheck/systems/outcomes.py; docs/plugins.md,
"System plug-ins: what an error is recorded as"): each class of error injected at the plug-in's
client library's boundary, at the moment the row names (`at`: which of the operation's requests it
strikes, so that a transaction's read and its commit are told apart), and the status the
operation must be recorded as, written in the row, not computed by the rule under test.

No server runs. etcd's gateway answers from a script (its one request function, `Gateway._post`,
stood in for); kazoo and nats-py are stood in for by fakes that raise their own exception types
(kazoo's ConnectionLoss and SessionExpiredError, nats-py's TimeoutError, ConnectionClosedError and
NoStreamResponseError, JetStream's APIError); the jsonl client talks to a server in this process
over real sockets, and so do the example services' nodes that forward to a primary (a replica of
examples/replicas/kv.py, a follower of examples/meshkv/server.js, started here), to a primary in
this process, and the project's cores' client (meshcheck/systems/runtime_client.py) to a node that
speaks the runtime's frames in this process; the SQL plug-ins' drivers (psycopg 3, PyMySQL) are stood in for at their
connection, whose statements raise the drivers' own errors (psycopg's SerializationFailure and
OperationalError, PyMySQL's OperationalError with MariaDB's error numbers). Every plug-in
registered with a client must have rows here for every class, so a new plug-in comes with its
own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import nats.errors
import nats.js.errors
import psycopg
import pymysql
import pytest
from kazoo.exceptions import BadVersionError
from kazoo.exceptions import ConnectionLoss
from kazoo.exceptions import LockTimeout
from kazoo.exceptions import NoNodeError
from kazoo.exceptions import SessionExpiredError

from meshcheck.cluster.workload import History
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.frames import read_frame
from meshcheck.impl.runtime.protocols import protocol as runtime_protocol
from meshcheck.systems import nats_client
from meshcheck.systems import registry
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.etcd.client import EtcdClient
from meshcheck.systems.etcd.gateway import Gateway
from meshcheck.systems.etcd.gateway import GatewayError
from meshcheck.systems.etcd.gateway import b64
from meshcheck.systems.jsonl import JsonlClient
from meshcheck.systems.nats_client import NatsClient
from meshcheck.systems.outcomes import FAILURES
from meshcheck.systems.outcomes import Failure
from meshcheck.systems.outcomes import outcome
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.register_workload import RegisterClients
from meshcheck.systems.runtime_client import RuntimeClient
from meshcheck.systems.sql import mariadb as sql_mariadb
from meshcheck.systems.sql import postgresql as sql_postgresql
from meshcheck.systems.sql import transactions
from meshcheck.systems.sql.mariadb import PyMySQL
from meshcheck.systems.sql.postgresql import Psycopg
from meshcheck.systems.sql.statements import POSTGRESQL as DIALECT
from meshcheck.systems.zookeeper.client import ZooKeeperClient

TIMEOUT = 0.1  # the deadline of an operation no answer comes to: its row waits it out
PATIENCE = 10.0  # the deadline of one that is answered: never reached, however loaded the machine
NEVER = 30.0  # what "no answer" sleeps: past any deadline
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@attrs.frozen
class Row:
    """`system`: the plug-in (or the example service); `f`, `key`, `value`: the operation;
    `failure`: the class injected; `at`: the request of the operation it strikes (1: the first);
    `status`: what the operation must complete as."""

    system: str
    f: str
    value: Any
    failure: Failure
    at: int
    status: str
    key: str = "k1"
    workload: str = "registers"

    @property
    def id(self) -> str:
        what = self.f if self.f != "txn" else "txn-" + "-".join(m[0] for m in self.value)
        return f"{self.system}-{what}-{self.failure}-at{self.at}"


def rows(system: str, f: str, value: Any, statuses: dict[Failure, str], **more: Any) -> list[Row]:
    """One row per class: `statuses` maps a class to (the status, at) written "status@at"."""
    out = []
    for failure, said in statuses.items():
        status, _, at = said.partition("@")
        out.append(Row(system, f, value, failure, int(at or 1), status, **more))
    return out


WRITES: dict[Failure, str] = {  # a single-request write whose client can tell when it was sent
    "refused": "fail",
    "lost-before-send": "fail",
    "rejected": "fail",
    "timeout": "info",
    "lost-during-commit": "info",
    "error": "info",
}
READS: dict[Failure, str] = dict.fromkeys(FAILURES, "fail")
UNANSWERED: list[Failure] = [f for f in FAILURES if f != "rejected"]  # a read is never rejected
APPEND = [["r", "la/0", None], ["append", "la/1", 5]]
ONLY_READS = [["r", "la/0", None], ["r", "la/1", None]]

ETCD = [
    *rows("etcd", "read", None, dict.fromkeys(UNANSWERED, "fail")),
    # the gateway does not say whether a request had left: every transport error is taken as
    # lost after it was sent (info), never a wrong fail
    *rows("etcd", "write", "7", dict.fromkeys(UNANSWERED, "info")),
    *rows("etcd", "cas", ("1", "2"), {"rejected": "fail", "timeout": "info", "error": "info"}),
    # a transaction that reads and appends: its read (request 1) and its commit (request 2)
    *rows(
        "etcd",
        "txn",
        APPEND,
        {
            "lost-during-commit": "info@2",
            "timeout": "info@2",
            "error": "info@2",
            "rejected": "fail@2",  # every compare failed, each retry: nothing written
            "refused": "info@2",
            "lost-before-send": "info@1",
        },
        key="",
        workload="list-append",
    ),
    *rows(
        "etcd", "txn", ONLY_READS, dict.fromkeys(UNANSWERED, "fail"), key="", workload="list-append"
    ),
    # the lock: no lease (request 1) takes nothing; a lost lock (2), or a lost read of its
    # token after the lock was taken (3), may hold it
    *rows(
        "etcd",
        "acquire",
        "t1",
        {"refused": "fail@1", "lost-during-commit": "info@2"},
        key="L",
        workload="lock",
    ),
    Row("etcd", "acquire", "t1", "timeout", 3, "info", key="L", workload="lock"),
    *rows(
        "etcd",
        "fenced-write",
        (4, "9"),
        {"rejected": "fail", "lost-during-commit": "info"},
        key="fenced",
        workload="fenced-lock",
    ),
    *rows("etcd", "put", ("lease/k", "7"), {"timeout": "info"}, workload="lease"),
    *rows("etcd", "keepalive", "7", {"error": "info"}, key="", workload="lease"),
]

ZOOKEEPER = [
    # kazoo holds a request made without a connection and sends it once it has one: a refused
    # connection is a request never answered, which may yet be sent
    *rows("zookeeper", "read", None, dict.fromkeys(UNANSWERED, "fail")),
    *rows("zookeeper", "write", "7", {f: WRITES[f] for f in UNANSWERED} | {"refused": "info"}),
    # cas: its read (request 1), then its versioned set (2)
    *rows(
        "zookeeper",
        "cas",
        ("1", "2"),
        {
            "lost-during-commit": "info@2",
            "timeout": "info@2",
            "error": "info@2",
            "rejected": "fail@2",
            "lost-before-send": "fail@1",
            "refused": "fail@1",
        },
        workload="cas",
    ),
    # the lock: kazoo's recipe takes it (request 1); one not taken is withdrawn (its children
    # listed, 2, and its znode deleted, 3): withdrawn, it holds nothing (fail); the withdrawal
    # lost, its znode may yet take the lock (info). A release (after an acquire): its delete (1)
    *rows(
        "zookeeper",
        "acquire",
        "t1",
        {"lost-during-commit": "fail@1", "error": "fail@1"},
        key="L",
        workload="lock",
    ),
    *rows(
        "zookeeper",
        "acquire",
        "t1",
        {"lost-during-commit": "info@2", "timeout": "info@3"},
        key="L",
        workload="lock",
    ),
    *rows(
        "zookeeper",
        "release",
        "t1",
        {"lost-during-commit": "info", "timeout": "info", "error": "info"},
        key="L",
        workload="lock",
    ),
    # the fenced write: its token read (request 1), then the transaction (2)
    *rows(
        "zookeeper",
        "fenced-write",
        (4, "9"),
        {
            "lost-during-commit": "info@2",
            "timeout": "info@2",
            "error": "info@2",
            "lost-before-send": "fail@1",
            "rejected": "fail@1",
        },
        key="fenced",
        workload="fenced-lock",
    ),
]

NATS = [
    *rows("nats", "publish", 7, {**WRITES}, key="", workload="stream"),
    # ack (after a consume that gave messages 7 and 8): rejected is an id this process never
    # consumed; a failure at the second id's ack leaves the first acknowledged: in part, info
    *rows("nats", "ack", [7, 8], {**WRITES}, key="", workload="stream"),
    *rows(
        "nats",
        "ack",
        [7, 8],
        {"lost-before-send": "info@2", "rejected": "info@2"},
        key="",
        workload="stream",
    ),
    # a fetch that timed out got nothing: ok with no messages; any other error, fail
    # (nats-py times a request out when its connection goes while it waits)
    *rows(
        "nats",
        "consume",
        None,
        {**READS, "timeout": "ok", "lost-during-commit": "ok"},
        key="",
        workload="stream",
    ),
    *rows("nats", "read", None, READS, key="", workload="stream"),
]

JSONL = [
    *rows("jsonl", "write", "7", WRITES),
    *rows("jsonl", "cas", ["1", "2"], WRITES),
    *rows("jsonl", "read", None, READS),
]

# the replicas example's replica forwarding to its primary (examples/replicas/kv.py), through the
# jsonl client: the classes the replica can see of its primary
REPLICAS = [
    *rows("replicas", "write", "7", {f: s for f, s in WRITES.items() if f != "lost-before-send"}),
    *rows("replicas", "cas", ["1", "2"], {"refused": "fail", "lost-during-commit": "info"}),
    *rows("replicas", "read", None, {"refused": "fail", "lost-during-commit": "fail"}),
]

# examples/meshkv's follower, relaying to its primary (server.js, followerClient)
MESHKV = [
    *rows("meshkv", "write", "7", {f: s for f, s in WRITES.items() if f != "lost-before-send"}),
    *rows("meshkv", "cas", ["1", "2"], {"refused": "fail", "lost-during-commit": "info"}),
    *rows("meshkv", "read", None, {"refused": "fail", "lost-during-commit": "fail"}),
]


def _sql_rows(system: str, commit: int, write_commit: int) -> list[Row]:
    """A SQL plug-in's rows: `commit` is the request that commits the append transaction (after
    its opening statements, its read and its append), `write_commit` a write's. Anything before
    COMMIT took no effect, whatever struck it: the transaction was never committed."""
    return [
        *rows(system, "read", None, READS),
        *rows(
            system,
            "write",
            "7",
            {
                "refused": "fail@1",
                "lost-before-send": "fail@1",
                "rejected": f"fail@{write_commit}",  # a serialization failure at COMMIT
                "timeout": f"info@{write_commit}",
                "lost-during-commit": f"info@{write_commit}",
                "error": f"info@{write_commit}",
            },
        ),
        # struck before COMMIT: the upsert (the request before it) timed out, or failed
        *rows(system, "write", "7", {"timeout": "fail", "error": "fail"}),
        Row(system, "write", "7", "timeout", write_commit - 1, "fail"),
        Row(system, "write", "7", "error", write_commit - 1, "fail"),
        *rows(system, "cas", ("1", "2"), {"rejected": f"fail@{write_commit}"}, workload="cas"),
        *rows(
            system,
            "txn",
            APPEND,
            {
                "lost-during-commit": f"info@{commit}",
                "timeout": f"info@{commit}",
                "error": f"info@{commit}",
                "rejected": f"fail@{commit}",
                "refused": "fail@1",
                "lost-before-send": f"fail@{commit - 2}",  # lost at the read
            },
            key="",
            workload="list-append",
        ),
        *rows(system, "txn", ONLY_READS, READS, key="", workload="list-append"),
        *rows(
            system,
            "txn",
            [["w", "rw/0", 3], ["r", "rw/1", None]],
            {"lost-during-commit": f"info@{commit}", "rejected": f"fail@{commit}"},
            key="",
            workload="rw-register",
        ),
    ]


# PostgreSQL: BEGIN, then the statements, then COMMIT; MariaDB opens with two (SET TRANSACTION,
# START TRANSACTION)
POSTGRESQL = _sql_rows("postgresql", commit=4, write_commit=3)
MARIADB = _sql_rows("mariadb", commit=5, write_commit=4)

# the project's own cores' client (meshcheck/systems/runtime_client.py): the runtime's frames
MESHCHECK = [
    *rows("meshcheck", "write", "7", WRITES),
    *rows("meshcheck", "read", None, READS),
]

ROWS = [*ETCD, *ZOOKEEPER, *NATS, *JSONL, *REPLICAS, *MESHKV, *POSTGRESQL, *MARIADB, *MESHCHECK]


# -- etcd: the gateway's requests answered from a script -------------------------------------------


def _etcd_answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """What a healthy member answers each request (the register holds "1", lists are empty)."""
    if path == "/v3/kv/txn":
        ranges = [r for r in body["success"] if "request_range" in r]
        kvs = [{"value": b64("[]"), "mod_revision": "3"}]
        return {"succeeded": True, "responses": [{"response_range": {"kvs": kvs}} for _ in ranges]}
    if path == "/v3/kv/range":
        return {"kvs": [{"value": b64("1"), "create_revision": "12", "mod_revision": "3"}]}
    if path == "/v3/lease/grant":
        return {"ID": "7"}
    if path == "/v3/lock/lock":
        return {"key": b64("L/7")}
    if path == "/v3/lease/keepalive":
        return {"result": {"TTL": "5"}}
    return {"header": {"revision": "4"}}


async def _etcd(row: Row, monkeypatch: pytest.MonkeyPatch) -> Completion:
    sent: list[str] = []

    async def post(self: Gateway, path: str, body: dict[str, Any]) -> dict[str, Any]:
        sent.append(path)
        if row.failure == "rejected" and len(sent) >= row.at and body.get("compare"):
            return {"succeeded": False, "responses": []}  # a compare failed
        if len(sent) == row.at and row.failure != "rejected":
            if row.failure == "timeout":
                await asyncio.sleep(NEVER)
            raise {
                "refused": ConnectionRefusedError(111, "Connection refused"),
                "lost-before-send": BrokenPipeError(32, "Broken pipe"),
                # the member closed the connection mid-answer (Gateway.post makes it a
                # ConnectionError)
                "lost-during-commit": asyncio.IncompleteReadError(b"", None),
                "error": GatewayError("etcdserver: leader changed"),
            }[row.failure]
        return _etcd_answer(path, body)

    monkeypatch.setattr(Gateway, "_post", post)
    client = EtcdClient(ClientSettings({}, "linearizable", row.workload))
    await client.open(Endpoint("n1", "127.0.0.1", 2379), TIMEOUT)
    try:
        done = await client.invoke(_op(row), _deadline(row))
    finally:
        await client.close()
    assert len(sent) >= row.at, f"the failure was to strike request {row.at}; {len(sent)} sent"
    return done


# -- ZooKeeper: kazoo's calls stood in for ---------------------------------------------------------


@attrs.define
class _Pending:
    """kazoo's IAsyncResult: answered at once with `value` or `error`, or never (`never`)."""

    value: Any = None
    error: BaseException | None = None
    never: bool = False

    def rawlink(self, callback: Callable[[Any], None]) -> None:
        if not self.never:
            callback(self)

    def get_nowait(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


@attrs.frozen
class _Stat:
    version: int


class _Kazoo:
    """A KazooClient whose `at`-th call ends with the row's failure; the register holds "1" and
    its token znode 4 (a rejected fenced write holds 9)."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.calls = 0

    def _call(self, value: Any, refusal: BaseException | None = None) -> _Pending:
        self.calls += 1
        if self.calls != self.row.at:
            return _Pending(value)
        failure = self.row.failure
        if failure in ("timeout", "refused"):  # refused: kazoo holds it, no answer comes
            return _Pending(never=True)
        if failure == "rejected" and refusal is not None:
            return _Pending(error=refusal)
        errors: dict[str, BaseException] = {
            "lost-during-commit": ConnectionLoss(),
            "error": SessionExpiredError(),
            "lost-before-send": ConnectionLoss(),  # the read before the write (the row's at)
        }
        return _Pending(error=errors[failure]) if failure in errors else _Pending(value)

    def get_async(self, path: str) -> _Pending:
        held = b"9" if self.row.failure == "rejected" else b"4"
        return self._call((held if path.endswith("-token") else b"1", _Stat(1)))

    def sync_async(self, path: str) -> _Pending:
        return self._call(path)

    def set_async(self, path: str, data: bytes, version: int) -> _Pending:
        return self._call(_Stat(2), BadVersionError())

    def create_async(self, path: str, data: bytes, makepath: bool = False) -> _Pending:
        return self._call(path)

    def ensure_path_async(self, path: str) -> _Pending:
        return self._call(True)

    def get_children_async(self, path: str) -> _Pending:
        return self._call(["p-__lock__0000000007"])

    def delete_async(self, path: str) -> _Pending:
        return self._call(True)

    def Lock(self, path: str, identifier: str) -> _Lock:
        return _Lock(self, path)

    def transaction(self) -> Any:
        kazoo = self

        class Txn:
            def create(self, path: str, data: bytes) -> None: ...

            def set_data(self, path: str, data: bytes, version: int = -1) -> None: ...

            def commit_async(self) -> _Pending:
                return kazoo._call([_Stat(2), _Stat(2)], NoNodeError())

        return Txn()


class _Lock:
    """kazoo's Lock recipe: its acquire is the kazoo's next call; one the row's failure does not
    strike was not taken in time (kazoo's LockTimeout), unless it comes before a release."""

    prefix = "p-__lock__"
    node = "p-__lock__0000000007"

    def __init__(self, kazoo: _Kazoo, path: str) -> None:
        self.kazoo, self.path = kazoo, path
        self.is_acquired = False

    def acquire(self, blocking: bool, timeout: float) -> bool:
        pending = self.kazoo._call(True)
        if pending.error is not None:
            raise pending.error
        if self.kazoo.row.f == "acquire":
            raise LockTimeout("not taken in time")
        self.is_acquired = True
        return True

    def cancel(self) -> None: ...


async def _zookeeper(row: Row) -> Completion:
    client = ZooKeeperClient(ClientSettings({}, "sync", row.workload))
    if not (row.failure == "lost-before-send" and row.f in ("read", "write")):
        client._kz = _Kazoo(row)  # else: a closed client, nothing can be sent
        client._pool = ThreadPoolExecutor(1)
    try:
        if row.f == "release":  # the lock taken first, its calls not counted
            kazoo, client._kz = client._kz, _Kazoo(attrs.evolve(row, f="take", at=0))
            assert await client.invoke(attrs.evolve(_op(row), f="acquire"), PATIENCE) == (
                Completion("ok", 7)
            )
            client._kz = kazoo
        return await client.invoke(_op(row), _deadline(row))
    finally:
        client._kz = None
        await client.close()


# -- NATS: nats-py's connection stood in for -------------------------------------------------------


@attrs.frozen
class _Ack:
    seq: int


class _Nats:
    """A connection to a server whose answer to the row's request is its failure."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.is_connected = row.failure != "refused"
        self.is_closed = False
        self.connected_url = None  # which server: tests/test_plugin_served.py

    def error(self) -> BaseException:
        if self.row.failure in ("timeout", "lost-during-commit"):
            # a request whose connection goes while it awaits the answer times out in nats-py
            self.is_connected = self.row.failure == "timeout"
            return nats.errors.TimeoutError()
        return {
            "lost-before-send": nats.errors.ConnectionClosedError(),
            "rejected": nats.js.errors.NoStreamResponseError(),
            "error": nats.js.errors.APIError(code=500, description="stream store failed"),
        }[self.row.failure]

    def jetstream(self, timeout: float) -> Any:
        return self

    async def publish(self, *args: Any, **kwargs: Any) -> _Ack:
        raise self.error()

    async def add_consumer(self, *args: Any, **kwargs: Any) -> None: ...

    async def pull_subscribe_bind(self, **kwargs: Any) -> Any:
        return self

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        if self.row.f == "consume":
            raise self.error()
        return [_Msg(self, 7, 1), _Msg(self, 8, 2)]  # ack's: consumed first

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error()

    async def close(self) -> None:
        self.is_closed = True


@attrs.frozen
class _Msg:
    """A message consumed: its ack, the `n`-th, ends with the row's failure at the row's `at`."""

    conn: _Nats
    value: int
    n: int

    @property
    def data(self) -> bytes:
        return json.dumps(self.value).encode()

    async def ack_sync(self, timeout: float) -> None:
        if self.n == self.conn.row.at:
            raise self.conn.error()


async def _nats(row: Row, monkeypatch: pytest.MonkeyPatch) -> Completion:
    async def refused(endpoint: Endpoint, timeout: float) -> Any:
        raise nats.errors.NoServersError()

    monkeypatch.setattr(nats_client, "_connect", refused)
    client = NatsClient(ClientSettings({}, "linearizable", "stream"))
    client.endpoint = Endpoint("n1", "127.0.0.1", 4222)
    conn = _Nats(row)
    client.conn = conn  # type: ignore[assignment]
    client.ready = True
    if row.f == "ack":
        conn.is_connected = True
        got = await client.invoke(Invocation("c1", "consume", None, None), PATIENCE)
        assert got == Completion("ok", [7, 8])
        conn.is_connected = row.failure != "refused"
        if row.failure == "rejected":  # an id this process never consumed, at its `at`
            ids = [9] if row.at == 1 else [7, 9]
            return await client.invoke(Invocation("c1", "ack", None, ids), PATIENCE)
    return await client.invoke(_op(row), _deadline(row))


# -- jsonl: a server in this process ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def _jsonl(row: Row) -> Completion:
    """The client opens on a server; the row's failure is how the server treats the request."""
    if row.failure == "refused":
        client = JsonlClient(ClientSettings({}, "linearizable", "cas"))
        await client.open(Endpoint("n1", "127.0.0.1", _free_port()), TIMEOUT)
        return await client.invoke(_op(row), _deadline(row))
    accepted: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        if row.failure == "lost-before-send":
            return  # the node goes down before the request: closed below
        request = json.loads(await reader.readline())
        if row.failure == "timeout":
            await asyncio.sleep(NEVER)
        if row.failure == "lost-during-commit":
            writer.close()
            return
        kind = {"rejected": "fail", "error": "info"}[row.failure]
        writer.write(json.dumps({"id": request["id"], "type": kind, "error": "x"}).encode() + b"\n")
        await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = JsonlClient(ClientSettings({}, "linearizable", "cas"))
    try:
        await client.open(Endpoint("n1", "127.0.0.1", port), PATIENCE)
        if row.failure == "lost-before-send":  # the node went down between two operations
            server.close()
            for _ in range(50):
                if accepted:
                    break
                await asyncio.sleep(0.01)
            accepted[0].close()
            for _ in range(500):  # until its closing reaches the client
                if client._reader is not None and client._reader.at_eof():
                    break
                await asyncio.sleep(0.01)
        return await client.invoke(_op(row), _deadline(row))
    finally:
        await client.close()
        server.close()


# -- the cores' client: a node's frames answered in this process -----------------------------------


async def _meshcheck(row: Row) -> Completion:
    """The runtime client (the `meshcheck` plug-in's) against a node in this process that speaks
    the runtime's frames (impl/runtime/host.py): the row's failure is how it treats the request;
    `lost-before-send`: the node closed the connection after a first answered request."""
    settings = ClientSettings({"protocol": "raft"}, "linearizable", "registers")
    client = RuntimeClient(settings)
    codec = runtime_protocol("raft").codec()
    if row.failure == "refused":
        await client.open(Endpoint("n1", "127.0.0.1", _free_port()), TIMEOUT)
        return await client.invoke(_op(row), _deadline(row))
    accepted: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await read_frame(reader)  # the hello: ("client", name)
        while (data := await read_frame(reader)) is not None:
            _, rid, _ = codec.decode(data)
            ok = row.failure == "lost-before-send"  # the first request answered, then closed
            if row.failure == "timeout":
                await asyncio.sleep(NEVER)
            if row.failure == "lost-during-commit":
                writer.close()
                return
            error = "" if ok else "not the leader" if row.failure == "rejected" else "x"
            unknown = row.failure == "error"
            writer.write(frame(codec.encode(("reply", rid, None, error, None, unknown))))
            await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await client.open(Endpoint("n1", "127.0.0.1", port), PATIENCE)
        if row.failure == "lost-before-send":  # the node went down between two operations
            assert (await client.invoke(_op(row), PATIENCE)).status == "ok"
            accepted[0].close()
            for _ in range(500):  # until its closing reaches the client
                conn = client._conns.get("n1")
                if conn is None or conn._writer is None or conn._writer.is_closing():
                    break
                await asyncio.sleep(0.01)
        return await client.invoke(_op(row), _deadline(row))
    finally:
        await client.close()
        server.close()


# -- the examples: a node that forwards, started here, its primary in this process -----------------


def _service(system: str, port: int, primary: int, tmp_path: Path) -> list[str]:
    """The command of the example service's node that forwards to a primary on port `primary`:
    a replica of examples/replicas, or a follower of examples/meshkv (n2; n1 the primary)."""
    if system == "replicas":
        return [sys.executable, str(EXAMPLES / "replicas" / "kv.py"), "--role", "replica",
                "--listen", f"127.0.0.1:{port}", "--data", str(tmp_path),
                "--primary", f"127.0.0.1:{primary}"]  # fmt: skip
    peers = f"n1=127.0.0.1:{primary}:{_free_port()},n2=127.0.0.1:{port}:{_free_port()}"
    steps = str(tmp_path / "n2-steps.ndjson")
    return ["node", str(EXAMPLES / "meshkv" / "server.js"), "--id", "n2", "--peers", peers,
            "--data", str(tmp_path / "n2"), "--steps", steps]  # fmt: skip


async def _forwarding(row: Row, tmp_path: Path) -> Completion:
    """An example service's node that forwards each request to its primary, the primary here:
    the row's failure is how the primary treats the forwarded request (`refused`: it is down)."""

    async def primary(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            if request["f"] == "dump":  # a replica's first sync
                writer.write(json.dumps({"id": 0, "type": "ok", "value": {}}).encode() + b"\n")
            elif row.failure == "timeout":
                await asyncio.sleep(NEVER)
            elif row.failure == "lost-during-commit":
                writer.close()
                return
            else:
                kind = {"rejected": "fail", "error": "info"}[row.failure]
                answer = {"id": request["id"], "type": kind, "error": "x"}
                writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(primary, "127.0.0.1", 0)
    port = _free_port()
    command = _service(row.system, port, server.sockets[0].getsockname()[1], tmp_path)
    node = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    client = JsonlClient(ClientSettings({}, "linearizable", "cas"))
    try:
        for _ in range(250):  # until it serves (a replica: once synced)
            try:
                r, w = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            if row.system == "meshkv":  # it forwards from the start
                w.close()
                break
            w.write(b'{"id": 0, "f": "status"}\n')
            synced = json.loads(await r.readline())["type"] == "ok"
            w.close()
            if synced:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError(f"{row.system}: its node never served")
        if row.failure == "refused":  # the primary is down
            server.close()
            await server.wait_closed()
        await client.open(Endpoint("n2", "127.0.0.1", port), PATIENCE)
        return await client.invoke(_op(row), _deadline(row))
    finally:
        await client.close()
        node.kill()
        await node.wait()
        server.close()


# -- SQL: the driver's connection stood in for, raising the driver's own errors -------------------


def _sql_errors(system: str) -> dict[str, BaseException]:
    """Each class as the driver raises it: psycopg's errors carry their SQLSTATE, PyMySQL's
    MariaDB's error number."""
    if system == "postgresql":
        return {
            "refused": psycopg.OperationalError("connection refused"),
            "lost-before-send": psycopg.OperationalError("server closed the connection"),
            "rejected": psycopg.errors.SerializationFailure("could not serialize access"),
            "lost-during-commit": psycopg.OperationalError("server closed the connection"),
            "error": psycopg.errors.DiskFull("could not extend file"),
        }
    return {
        "refused": pymysql.err.OperationalError(2003, "Can't connect to server"),
        "lost-before-send": pymysql.err.InterfaceError(0, ""),
        "rejected": pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
        "lost-during-commit": pymysql.err.OperationalError(2013, "Lost connection during query"),
        "error": pymysql.err.InternalError(1180, "Got error 6 during COMMIT"),
    }


class _SqlConn:
    """A DB-API connection whose `at`-th statement ends with the row's failure (a timeout:
    blocks until the client ends the connection); the register holds "1", lists are empty."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.sent: list[str] = []
        self.ended = threading.Event()
        self.rowcount = 1

    def cursor(self) -> _SqlConn:
        return self

    def execute(self, query: str, params: Any = None) -> None:
        self.sent.append(query)
        if len(self.sent) != self.row.at or self.row.failure == "refused":
            return
        if self.row.failure == "timeout":
            self.ended.wait(NEVER)
            raise _sql_errors(self.row.system)["lost-during-commit"]
        raise _sql_errors(self.row.system)[self.row.failure]

    def fetchone(self) -> Any:
        return ("1",) if self.row.f == "read" else None

    def cancel_safe(self, timeout: float) -> None:
        self.ended.set()

    def close(self) -> None:
        self.ended.set()


async def _sql(row: Row, monkeypatch: pytest.MonkeyPatch) -> Completion:
    driver: type[Psycopg | PyMySQL] = Psycopg if row.system == "postgresql" else PyMySQL
    conn = _SqlConn(row)

    def connect(self: Any, endpoint: Endpoint, options: Any, timeout: float) -> _SqlConn:
        if row.failure == "refused":
            raise _sql_errors(row.system)["refused"]
        return conn

    monkeypatch.setattr(driver, "connect", connect)
    plugin = sql_postgresql.POSTGRESQL if row.system == "postgresql" else sql_mariadb.MARIADB
    assert plugin.client is not None
    client = plugin.client(ClientSettings({}, "linearizable", row.workload))
    with contextlib.suppress(TimeoutError):
        await client.open(Endpoint("n1", "127.0.0.1", 5432), PATIENCE)
    try:
        done = await client.invoke(_op(row), _deadline(row))
    finally:
        await client.close()
    if row.failure != "refused":
        assert len(conn.sent) >= row.at, f"the failure was to strike request {row.at}: {conn.sent}"
    return done


class _Cursor:
    """A cursor that records what it is sent and answers every read with nothing."""

    rowcount = 1

    def __init__(self) -> None:
        self.sent: list[str] = []

    def execute(self, query: Any, params: Any = None) -> None:
        self.sent.append(str(query))

    def fetchone(self) -> Any:
        return None


def test_no_commit_is_sent_once_the_client_gave_up() -> None:
    """The thread running a transaction whose client gave up (its deadline passed) stops before
    COMMIT, so the `fail` the client recorded stays true; one that sent COMMIT first makes the
    client's giving up say so (the outcome is then unknown)."""
    op = Invocation("c1", "txn", None, [["append", "la/0", 1]])
    given_up, cur = transactions.Guard(), _Cursor()
    assert given_up.abandon() is False
    with pytest.raises(transactions.Abandoned):
        transactions.run(cur, DIALECT, "serializable", op, given_up, "list-append")
    assert "COMMIT" not in cur.sent and cur.sent[0] == "BEGIN ISOLATION LEVEL SERIALIZABLE"
    committed, cur = transactions.Guard(), _Cursor()
    transactions.run(cur, DIALECT, "read-committed", op, committed, "list-append")
    assert cur.sent[-1] == "COMMIT"
    assert committed.abandon() is True


def _deadline(row: Row) -> float:
    """The operation's deadline: short where no answer comes (a timeout; a ZooKeeper request
    kazoo holds without a connection), else long enough never to be reached."""
    if row.failure == "timeout" or (row.system == "zookeeper" and row.failure == "refused"):
        return TIMEOUT
    return PATIENCE


def _op(row: Row) -> Invocation:
    return Invocation("c1", row.f, row.key or None, row.value)


Run = Callable[[Row, pytest.MonkeyPatch, Path], Coroutine[Any, Any, Completion]]
RUNS: dict[str, Run] = {
    "etcd": lambda row, mp, _: _etcd(row, mp),
    "zookeeper": lambda row, mp, _: _zookeeper(row),
    "nats": lambda row, mp, _: _nats(row, mp),
    "jsonl": lambda row, mp, _: _jsonl(row),
    "replicas": lambda row, mp, tmp: _forwarding(row, tmp),
    "meshkv": lambda row, mp, tmp: _forwarding(row, tmp),
    "postgresql": lambda row, mp, _: _sql(row, mp),
    "mariadb": lambda row, mp, _: _sql(row, mp),
    "meshcheck": lambda row, mp, _: _meshcheck(row),
}


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_each_error_is_recorded_as_the_rule_says(
    row: Row, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    done = asyncio.run(RUNS[row.system](row, monkeypatch, tmp_path))
    assert done.status == row.status, f"{row.id}: {done}"


def test_every_plugin_with_a_client_has_every_class_injected() -> None:
    """A plug-in registered with a client (a new one too) has rows here for each class of error,
    and a write among them that a class leaves unknown."""
    clients = {name for name, p in registry.plugins().items() if p.client is not None}
    assert clients >= {"etcd", "zookeeper", "nats", "jsonl"}, clients
    missing = sorted(clients - set(RUNS))
    assert not missing, f"plug-ins without outcome rows in {__file__}: {missing}"
    for name in clients:
        mine = [r for r in ROWS if r.system == name]
        assert {r.failure for r in mine} == set(FAILURES), name
        assert any(r.status == "info" for r in mine), name


def test_the_rule() -> None:
    """outcome() itself, each class for an operation that writes and for one that does not."""
    table = {
        ("refused", True): "fail",
        ("lost-before-send", True): "fail",
        ("rejected", True): "fail",
        ("timeout", True): "info",
        ("lost-during-commit", True): "info",
        ("error", True): "info",
    }
    for failure in FAILURES:
        assert outcome(failure, writes=True) == table[failure, True], failure
        assert outcome(failure, writes=False) == "fail", failure


def test_a_transport_error_a_plugin_lets_through_is_recorded_unknown() -> None:
    """The harness's own net (checked_clients.py): an OSError or a TimeoutError that escapes a
    plug-in's invoke is `info`, in the run's history too, whatever the operation."""

    class Escaping:
        def __init__(self, error: BaseException) -> None:
            self.error = error

        async def open(self, endpoint: Endpoint, timeout: float) -> None: ...

        async def invoke(self, op: Invocation, timeout: float) -> Completion:
            raise self.error

        async def close(self) -> None: ...

    for error in (ConnectionResetError(104, "reset"), TimeoutError()):
        history = History()
        settings = ClientSettings({}, "linearizable", "registers")
        clients = RegisterClients(lambda _s, e=error: Escaping(e), settings,
                                  [Endpoint("n1", "127.0.0.1", 1)], lambda: 0.0, history,
                                  seed=1, gap=0.1, timeout=TIMEOUT)  # fmt: skip
        op = Invocation("c1", "write", "k1", "7")
        done, _, _ = asyncio.run(clients.invoke(Escaping(error), op, TIMEOUT, 0))
        assert done.status == "info", error
        assert [o.status for o in history.ops] == ["info"], error


def test_the_node_that_served_is_recorded_beside_the_node_asked() -> None:
    """A client bound to n2 whose operations n1 served (a replica forwarding to its primary):
    the run's history keeps n2 as asked and n1 as served, through the register workload's step
    and the shared invoke alike; a plug-in that cannot tell leaves `served` empty."""

    class Forwarded:
        def __init__(self, served: str | None) -> None:
            self.served = served

        async def open(self, endpoint: Endpoint, timeout: float) -> None: ...

        async def invoke(self, op: Invocation, timeout: float) -> Completion:
            return Completion("ok", None, self.served, self.served)

        async def close(self) -> None: ...

    for served, expected in (("n1", "n1"), (None, "")):
        history = History()
        settings = ClientSettings({}, "linearizable", "registers")
        ends = [Endpoint("n1", "127.0.0.1", 1), Endpoint("n2", "127.0.0.1", 2)]
        clients = RegisterClients(lambda _s, s=served: Forwarded(s), settings, ends,
                                  lambda: 0.0, history, seed=1, gap=0.1, timeout=TIMEOUT)  # fmt: skip
        seat = Seat(Forwarded(served), 2, 1, 1.0, 1)
        asyncio.run(clients.step(seat))
        asyncio.run(clients.invoke(seat.client, Invocation("c1", "write", "k1", "7"), TIMEOUT, 1))
        assert [(o.node, o.served) for o in history.asked()] == [("n2", expected)] * 2
