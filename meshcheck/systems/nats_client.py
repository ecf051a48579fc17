"""The client plug-in of NATS JetStream (meshcheck/systems/known/nats.toml): the `stream` workload
over nats-py, NATS's asyncio client.

One replicated stream (`replicas` copies, file storage) is created by whichever
client opens first; creating it again with the same configuration is a no-op in JetStream, so every
client does it. Each process (the workload's consumer) has a durable pull consumer of its own,
named after it, that reads the stream whole from its start with explicit acknowledgement, at most
`batch` messages unacknowledged (so that a redelivery after `ack_wait` comes in the stream's order,
not after later messages). The verbs (the stream checker's, traces/history/stream.py):

- `publish` (value: the message's unique id): JetStream's publish with the id as `Nats-Msg-Id`
  (its duplicate window drops a retried id); ok with the stream sequence the server acknowledged.
- `consume`: fetch up to `batch` messages from the process's consumer; ok with the ids delivered,
  in order (none when none came in time). The client keeps them until it acknowledges them.
- `ack` (value: an id, or a list of ids, this process consumed): each acknowledgement waited for
  (JetStream's double ack); until then the consumer redelivers the message after `ack_wait`.
- `read`: the whole stream through this node, its ids in sequence order up to the stream's last:
  with `read_back = "leader"` (the default) each message as the stream's leader answers
  `$JS.API.STREAM.MSG.GET`, the stream as JetStream committed it; with `"direct"`, as any replica
  answers a direct get (`allow_direct`: a replica that is behind answers "not found" for a message
  it has not caught up on yet, ADR-31 in github.com/nats-io/nats-architecture-and-design).

Outcomes follow the one rule (meshcheck/systems/outcomes.py, docs/plugins.md): `fail` only when the
request certainly had no effect: no server took the subject (`rejected`: nats-py's
NoRespondersError, which JetStream's publish raises as NoStreamResponseError), the connection was
closed before sending (`lost-before-send`: nats-py raises ConnectionClosedError only from its
checks before it writes a request; one whose connection goes while it awaits the answer times
out), or could not be made (`refused`); `info` for a timeout or any answer that leaves the effect
unknown (`error`: JetStream's APIError). A consume or a read changes no message: `fail` whatever
stopped it.

Who served an operation: the server the connection is on (nats-py's `connected_url`, the one
server this client dials, reconnection off), which answered it: the client's requests go to it,
and JetStream's answers come back through it (a publish is stored by the stream's leader and its
replicas, whichever server took it). An `ok` operation names that server's node as `served`; one
without an answer names none and the report says the node asked. A `read` also names the stream's
leader, as the stream info it starts with says (`cluster.leader`); the other verbs do not ask it
(a stream info beside each publish).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import urllib.request
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as Connection
from nats.aio.msg import Msg
from nats.js.api import AckPolicy
from nats.js.api import ConsumerConfig
from nats.js.api import StorageType
from nats.js.api import StreamConfig

from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems.outcomes import Failure
from meshcheck.systems.outcomes import outcome
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.plugin import SystemPlugin

STREAM = "meshcheck"
SUBJECT = "meshcheck.events"
DEFAULTS: Mapping[str, Any] = {
    "stream": STREAM,
    "subject": SUBJECT,
    "replicas": 3,
    "batch": 5,
    "ack_wait": 5.0,
    "read_back": "leader",
}
READ_BACK = ("leader", "direct")
VERBS = ("publish", "consume", "ack", "read")
# JetStream's error code for a stream that does not exist (server/errors.json, JSStreamNotFoundErr)
STREAM_NOT_FOUND = 10059
# the server's answer to a direct get of a sequence it does not hold
NOT_FOUND = "404"


def _url(endpoint: Endpoint) -> str:
    return f"nats://{endpoint.host}:{endpoint.port}"


async def _ignore(_exc: Exception) -> None:
    """nats-py reports connection errors through a callback besides raising them; the raise is
    what the client acts on."""


async def _connect(endpoint: Endpoint, timeout: float) -> Connection:
    """A connection to the one server, no reconnection (the harness binds clients to nodes). nats-py
    retries a first connection without end when `max_reconnect_attempts` is 0; 1 makes it give up
    (NoServersError), and the deadline bounds it whatever the library does."""
    return await asyncio.wait_for(
        nats.connect(
            _url(endpoint),
            connect_timeout=timeout,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=_ignore,
        ),
        timeout + 1.0,
    )


def _options(settings: ClientSettings) -> dict[str, Any]:
    """The file's `[client]` options over the defaults; a key of the wrong type is a ConfigError."""
    merged = {**DEFAULTS}
    for key, value in settings.options.items():
        if key not in DEFAULTS:
            continue  # the harness's own keys (plugin, port, workloads, reads)
        want = type(DEFAULTS[key])
        ok = isinstance(value, (int, float)) if want is float else isinstance(value, want)
        if not ok or isinstance(value, bool):
            raise ConfigError(f"[client] {key}: expected {want.__name__}, got {value!r}")
        merged[key] = value
    if merged["replicas"] not in range(1, 6):
        raise ConfigError(
            f"[client] replicas: JetStream keeps 1 to 5 copies, not {merged['replicas']}"
        )
    if merged["read_back"] not in READ_BACK:
        raise ConfigError(
            f"[client] read_back: {' or '.join(READ_BACK)}, not {merged['read_back']!r}"
        )
    if merged["batch"] < 1:
        raise ConfigError(f"[client] batch: at least 1, not {merged['batch']}")
    return merged


class NatsClient:
    """One client bound to one server (Client in plugin.py)."""

    def __init__(self, settings: ClientSettings) -> None:
        if settings.workload != "stream":
            raise ConfigError(f"nats: no workload {settings.workload!r} (only stream)")
        options = _options(settings)
        self.stream: str = options["stream"]
        self.subject: str = options["subject"]
        self.replicas: int = options["replicas"]
        self.batch: int = options["batch"]
        self.ack_wait: float = float(options["ack_wait"])
        self.direct: bool = options["read_back"] == "direct"
        self.endpoint: Endpoint | None = None
        self.conn: Connection | None = None
        self.ready = False  # the stream exists
        self.consumers: dict[str, Any] = {}  # each process's pull subscription
        self.held: dict[str, Msg] = {}  # consumed, not yet acknowledged

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        try:
            self.conn = await _connect(endpoint, timeout)
        except nats.errors.Error as exc:  # the server is down: the harness's contract is OSError
            raise ConnectionError(f"{endpoint.node}: {exc}") from exc
        # no quorum yet: every invoke tries again
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, TimeoutError):
            await self._prepare(timeout)

    async def close(self) -> None:
        conn, self.conn, self.ready = self.conn, None, False
        self.consumers.clear()
        self.held.clear()
        if conn is not None and not conn.is_closed:
            await conn.close()

    async def _prepare(self, timeout: float) -> None:
        """The stream exists (JetStream creates it once; the same configuration again is a no-op)."""
        if self.ready:
            return
        assert self.conn is not None
        js = self.conn.jetstream(timeout=timeout)
        await js.add_stream(
            StreamConfig(
                name=self.stream,
                subjects=[self.subject],
                num_replicas=self.replicas,
                storage=StorageType.FILE,
                allow_direct=self.direct,
            )
        )
        self.ready = True

    async def _consumer(self, process: str, timeout: float) -> Any:
        """The process's durable consumer (made once, the same configuration again a no-op) and
        this connection's pull subscription to it."""
        if process in self.consumers:
            return self.consumers[process]
        assert self.conn is not None
        js = self.conn.jetstream(timeout=timeout)
        durable = durable_name(process)
        await js.add_consumer(
            self.stream,
            ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                max_ack_pending=self.batch,
            ),
        )
        sub = await js.pull_subscribe_bind(durable=durable, stream=self.stream)
        self.consumers[process] = sub
        return sub

    async def _connected(self, timeout: float) -> bool:
        """Connected again if the server dropped the connection (the nemesis killed or restarted
        it); False when it cannot be reached."""
        if self.conn is not None and self.conn.is_connected:
            return True
        if self.endpoint is None:
            return False
        await self.close()
        try:
            self.conn = await _connect(self.endpoint, timeout)
        except (nats.errors.Error, OSError, TimeoutError):
            return False
        return True

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        done = await self._invoke(op, timeout)
        server = self._server() if done.status == "ok" else None
        return attrs.evolve(done, served=server) if server else done

    def _server(self) -> str | None:
        """The node of the server this connection is on (nats-py's `connected_url`), None when it
        is on none, or on a server that is not this client's endpoint."""
        url = None if self.conn is None else self.conn.connected_url
        here = self.endpoint
        if url is None or here is None:
            return None
        return here.node if (url.hostname, url.port) == (here.host, here.port) else None

    async def _invoke(self, op: Invocation, timeout: float) -> Completion:
        if op.f not in VERBS:
            return Completion("fail", f"nats: no verb {op.f!r}")
        if not await self._connected(timeout):
            return Completion(outcome("refused", writes=op.f != "read"), "not connected")
        if op.f == "ack":
            return await self._ack(op, timeout)
        if op.f == "read":
            return await self._read_back(timeout)
        try:
            await self._prepare(timeout)
            consumer = None if op.f == "publish" else await self._consumer(op.process, timeout)
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
            return Completion("fail", f"no stream: {exc!r}")  # nothing was published or taken
        if consumer is None:
            return await self._publish(op, timeout)
        return await self._consume(consumer, timeout)

    async def _publish(self, op: Invocation, timeout: float) -> Completion:
        assert self.conn is not None
        msg_id = str(op.value)
        js = self.conn.jetstream(timeout=timeout)
        try:
            ack = await js.publish(
                self.subject,
                json.dumps(op.value).encode(),
                timeout=timeout,
                stream=self.stream,
                headers={"Nats-Msg-Id": msg_id},
            )
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
            return Completion(outcome(_failure(exc), writes=True), repr(exc))
        return Completion("ok", ack.seq)

    async def _consume(self, consumer: Any, timeout: float) -> Completion:
        try:
            msgs = await consumer.fetch(self.batch, timeout=timeout)
        except (nats.errors.TimeoutError, TimeoutError):
            return Completion("ok", [])
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            return Completion(outcome(_failure(exc), writes=False), repr(exc))
        got: list[Any] = []
        for msg in msgs:
            value = json.loads(msg.data)
            self.held[str(value)] = msg
            got.append(value)
        return Completion("ok", got)

    async def _ack(self, op: Invocation, timeout: float) -> Completion:
        """Each id acknowledged in turn: fail when none was (not consumed here, or refused), info
        when one may have been and the rest were not tried."""
        ids = list(op.value) if isinstance(op.value, list | tuple) else [op.value]
        for k, value in enumerate(ids):
            msg = self.held.get(str(value))
            if msg is None:
                return Completion("fail" if k == 0 else "info", f"{value}: not consumed here")
            try:
                await msg.ack_sync(timeout=timeout)
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
                # the ids before this one were acknowledged: the ack took effect in part
                return Completion(outcome(_failure(exc), writes=True) if k == 0 else "info",
                                  repr(exc))  # fmt: skip
            del self.held[str(value)]
        return Completion("ok", None)

    async def _read_back(self, timeout: float) -> Completion:
        assert self.conn is not None
        try:
            info = await _stream_info(self.conn, self.stream, timeout)
        except (nats.errors.Error, TimeoutError) as exc:
            return Completion("fail", f"no stream info: {exc!r}")
        last = int(info.get("state", {}).get("last_seq", 0))
        got: list[Any] = []
        for seq in range(1, last + 1):
            found = await self._get(seq, timeout)
            if found is None:
                return Completion("fail", f"sequence {seq}: no answer")
            if found is not NOT_FOUND:
                got.append(found)
        leader = info.get("cluster", {}).get("leader")
        return Completion("ok", got, leader=leader if isinstance(leader, str) and leader else None)

    async def _get(self, seq: int, timeout: float, tries: int = 3) -> Any:
        """The value at `seq` as the leader (or, direct, a replica) answers it, NOT_FOUND when
        there is none, None when nobody answered in `tries` attempts."""
        assert self.conn is not None
        api = "DIRECT.GET" if self.direct else "STREAM.MSG.GET"
        subject = f"$JS.API.{api}.{self.stream}"
        for _ in range(tries):
            try:
                reply = await self.conn.request(
                    subject, json.dumps({"seq": seq}).encode(), timeout=timeout / tries
                )
            except (nats.errors.Error, TimeoutError):
                continue
            if self.direct:
                if (reply.headers or {}).get("Status") == NOT_FOUND:
                    return NOT_FOUND
                return json.loads(reply.data)
            answer = json.loads(reply.data)
            if "message" in answer:
                return json.loads(base64.b64decode(answer["message"].get("data", "")))
            if answer.get("error", {}).get("code") == int(NOT_FOUND):
                return NOT_FOUND
        return None


def _failure(exc: BaseException) -> Failure:
    """The class of an error nats-py raised for a request (outcomes.py)."""
    if isinstance(exc, nats.errors.NoRespondersError | nats.js.errors.NoStreamResponseError):
        return "rejected"  # no server took the subject: nothing was stored
    if isinstance(exc, nats.errors.ConnectionClosedError):
        return "lost-before-send"  # raised by nats-py's checks before it writes the request
    if isinstance(exc, TimeoutError):  # nats.errors.TimeoutError is one too
        return "timeout"
    return "error"


def durable_name(process: str) -> str:
    """A JetStream durable name for a workload process (`c1.2.0`): no dots, spaces, `*` or `>`."""
    return "p-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in process)


async def _stream_info(conn: Connection, stream: str, timeout: float) -> dict[str, Any]:
    """JetStream's `$JS.API.STREAM.INFO` answer (the stream's leader gives it)."""
    reply = await conn.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=timeout)
    info: dict[str, Any] = json.loads(reply.data)
    return info


async def leader(endpoints: Sequence[Endpoint], timeout: float = 2.0) -> str | None:
    """The server that leads the stream, as JetStream's `$JS.API.STREAM.INFO` says (its
    `cluster.leader`, the `--server_name` the system file gives each node). Before the workload's
    first client has made the stream, the leader of JetStream's metadata (which places streams and
    their leaders), as the monitoring port's `/jsz` says. None when no node answers."""
    for endpoint in endpoints:
        try:
            conn = await _connect(endpoint, timeout)
        except (nats.errors.Error, OSError, TimeoutError):
            continue
        try:
            info = await _stream_info(conn, STREAM, timeout)
        except (nats.errors.Error, TimeoutError):
            continue
        finally:
            await conn.close()
        if info.get("error", {}).get("err_code") == STREAM_NOT_FOUND:
            return await asyncio.to_thread(_meta_leader, endpoint, timeout)
        name = info.get("cluster", {}).get("leader")
        if isinstance(name, str) and name:
            return name
    return None


def _meta_leader(endpoint: Endpoint, timeout: float) -> str | None:
    port = endpoint.ports.get("monitor")
    if port is None:
        return None
    try:
        with urllib.request.urlopen(f"http://{endpoint.host}:{port}/jsz", timeout=timeout) as r:
            jsz = json.loads(r.read())
    except (OSError, ValueError):
        return None
    name = jsz.get("meta_cluster", {}).get("leader")
    return name if isinstance(name, str) and name else None


NATS = SystemPlugin(
    name="nats",
    client=NatsClient,
    workloads=("stream",),
    leader=leader,
    file=Path(__file__).parent / "known" / "nats.toml",
)
