"""The client plug-in of NATS JetStream (meshcheck/systems/known/nats.toml): the `stream` workload
over nats-py, NATS's asyncio client.

One replicated stream (`replicas` copies, file storage, `allow_direct`) and one durable pull
consumer (explicit acknowledgement) are created by whichever client opens first; creating them
again with the same configuration is a no-op in JetStream, so every client does it. The verbs:

- `publish` (value: the message's unique id): JetStream's publish with the id as `Nats-Msg-Id`
  (its duplicate window drops a retried id); ok with the stream sequence the server acknowledged.
- `consume`: fetch up to `batch` messages from the shared consumer; ok with `[[seq, value], ...]`
  (empty when none came in time). The client keeps what it was given until it acknowledges it.
- `ack` (value: a message's id this client consumed): the acknowledgement, waited for (JetStream's
  double ack); until then the consumer redelivers the message after `ack_wait` seconds.
- `read-back`: the whole stream through this node, `[[seq, value], ...]`, by JetStream's direct get
  (any current replica answers it) for each sequence up to the stream's last.

Outcomes follow Jepsen's client contract (plugin.py): `fail` only when the request certainly had
no effect (no server took the subject, the connection was closed before sending, the request was
refused), `info` for a timeout or any answer that leaves the effect unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as Connection
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems.plugin import (
    ClientSettings,
    Completion,
    Endpoint,
    Invocation,
    SystemPlugin,
)

STREAM = "meshcheck"
SUBJECT = "meshcheck.events"
CONSUMER = "meshcheck"
DEFAULTS: Mapping[str, Any] = {
    "stream": STREAM,
    "subject": SUBJECT,
    "replicas": 3,
    "batch": 5,
    "ack_wait": 5.0,
}
VERBS = ("publish", "consume", "ack", "read-back")
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
        self.endpoint: Endpoint | None = None
        self.conn: Connection | None = None
        self.consumer: Any = None  # the pull subscription, once the consumer exists
        self.held: dict[str, Msg] = {}  # consumed, not yet acknowledged

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.conn = await _connect(endpoint, timeout)
        # no quorum yet: every invoke tries again
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, TimeoutError):
            await self._prepare(timeout)

    async def close(self) -> None:
        conn, self.conn, self.consumer = self.conn, None, None
        self.held.clear()
        if conn is not None and not conn.is_closed:
            await conn.close()

    async def _prepare(self, timeout: float) -> None:
        """The stream and the consumer exist (JetStream creates them once; the same configuration
        again is a no-op), and this client's pull subscription is bound to the consumer."""
        if self.consumer is not None:
            return
        assert self.conn is not None
        js = self.conn.jetstream(timeout=timeout)
        await js.add_stream(
            StreamConfig(
                name=self.stream,
                subjects=[self.subject],
                num_replicas=self.replicas,
                storage=StorageType.FILE,
                allow_direct=True,
            )
        )
        await js.add_consumer(
            self.stream,
            ConsumerConfig(
                durable_name=CONSUMER,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
            ),
        )
        self.consumer = await js.pull_subscribe_bind(durable=CONSUMER, stream=self.stream)

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
        if op.f not in VERBS:
            return Completion("fail", f"nats: no verb {op.f!r}")
        if not await self._connected(timeout):
            return Completion("fail", "not connected")
        if op.f == "ack":
            return await self._ack(op, timeout)
        if op.f == "read-back":
            return await self._read_back(timeout)
        try:
            await self._prepare(timeout)
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
            return Completion("fail", f"no stream: {exc!r}")  # nothing was sent yet
        if op.f == "publish":
            return await self._publish(op, timeout)
        return await self._consume(timeout)

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
        except nats.errors.NoRespondersError:
            return Completion("fail", "no responders")  # no server took the subject
        except nats.errors.ConnectionClosedError:
            return Completion("info", "connection closed")
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
            return Completion("info", repr(exc))
        return Completion("ok", ack.seq)

    async def _consume(self, timeout: float) -> Completion:
        try:
            msgs = await self.consumer.fetch(self.batch, timeout=timeout)
        except (nats.errors.TimeoutError, TimeoutError):
            return Completion("ok", [])
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            return Completion("fail", repr(exc))
        got: list[list[Any]] = []
        for msg in msgs:
            value = json.loads(msg.data)
            self.held[str(value)] = msg
            got.append([msg.metadata.sequence.stream, value])
        return Completion("ok", got)

    async def _ack(self, op: Invocation, timeout: float) -> Completion:
        msg = self.held.get(str(op.value))
        if msg is None:
            return Completion("fail", "not consumed by this client")
        try:
            await msg.ack_sync(timeout=timeout)
        except nats.errors.MsgAlreadyAckdError:
            return Completion("fail", "already acknowledged")
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
            return Completion("info", repr(exc))
        del self.held[str(op.value)]
        return Completion("ok", None)

    async def _read_back(self, timeout: float) -> Completion:
        assert self.conn is not None
        try:
            info = await _stream_info(self.conn, self.stream, timeout)
        except (nats.errors.Error, TimeoutError) as exc:
            return Completion("fail", f"no stream info: {exc!r}")
        last = int(info.get("state", {}).get("last_seq", 0))
        got: list[list[Any]] = []
        for seq in range(1, last + 1):
            found = await self._direct_get(seq, timeout)
            if found is None:
                return Completion("fail", f"sequence {seq}: no answer")
            if found is not NOT_FOUND:
                got.append([seq, found])
        return Completion("ok", got)

    async def _direct_get(self, seq: int, timeout: float, tries: int = 3) -> Any:
        """The value at `seq` as a current replica answers it, NOT_FOUND when it holds none, None
        when no replica answered in `tries` attempts."""
        assert self.conn is not None
        subject = f"$JS.API.DIRECT.GET.{self.stream}"
        for _ in range(tries):
            try:
                reply = await self.conn.request(
                    subject, json.dumps({"seq": seq}).encode(), timeout=timeout / tries
                )
            except (nats.errors.Error, TimeoutError):
                continue
            if (reply.headers or {}).get("Status") == NOT_FOUND:
                return NOT_FOUND
            return json.loads(reply.data)
        return None


async def _stream_info(conn: Connection, stream: str, timeout: float) -> dict[str, Any]:
    """JetStream's `$JS.API.STREAM.INFO` answer (the stream's leader gives it)."""
    reply = await conn.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=timeout)
    info: dict[str, Any] = json.loads(reply.data)
    return info


async def leader(endpoints: Sequence[Endpoint], timeout: float = 2.0) -> str | None:
    """The server that leads the stream, as JetStream's `$JS.API.STREAM.INFO` says (its
    `cluster.leader`, the `--server_name` the system file gives each node); None when no node
    answers or the stream has no leader now."""
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
        name = info.get("cluster", {}).get("leader")
        if isinstance(name, str) and name:
            return name
    return None


NATS = SystemPlugin(
    name="nats",
    client=NatsClient,
    workloads=("stream",),
    leader=leader,
    file=Path(__file__).parent / "known" / "nats.toml",
)
