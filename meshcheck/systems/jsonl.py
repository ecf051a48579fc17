"""The built-in client `jsonl`: for a service in any language, no Python needed (docs/systems.md).

TCP, one JSON object per line each way. Request: {"id": N, "f": "read"|"write"|"cas", "key": K,
"value": V} (a cas's value is [old, new]). Response: {"id": N, "type": "ok", "value": V}, or
{"id": N, "type": "fail", "error": "..."} (certainly not done), or {"id": N, "type": "info",
"error": "..."} (maybe done). A timeout, a dropped connection or an answer that is not such an
object is `info`; a read's error is `fail` (a read changes nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

from meshcheck.systems.plugin import (
    Client,
    ClientSettings,
    Completion,
    Endpoint,
    Invocation,
    SystemPlugin,
)

LINE_LIMIT = 1 << 20


class JsonlClient:
    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._endpoint: Endpoint | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        self._endpoint = endpoint
        await self.close()
        # the node is down: the next invoke tries again (and is info if it cannot)
        with contextlib.suppress(OSError, TimeoutError):
            await self._connect(timeout)

    async def _connect(self, timeout: float) -> None:
        assert self._endpoint is not None
        async with asyncio.timeout(timeout):
            self._reader, self._writer = await asyncio.open_connection(
                self._endpoint.host, self._endpoint.port, limit=LINE_LIMIT
            )

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        request = {"id": next(self._ids), "f": op.f, "key": op.key, "value": _json(op.value)}
        try:
            async with asyncio.timeout(timeout):
                if self._writer is None or self._writer.is_closing():
                    await self._connect(timeout)
                assert self._reader is not None and self._writer is not None
                self._writer.write(json.dumps(request).encode() + b"\n")
                await self._writer.drain()
                while True:
                    line = await self._reader.readline()
                    if not line:
                        raise ConnectionError("the connection closed")
                    answer = json.loads(line)
                    if isinstance(answer, dict) and answer.get("id") == request["id"]:
                        break
        except (OSError, TimeoutError, ValueError, ConnectionError, asyncio.LimitOverrunError):
            await self.close()  # whatever comes late on it is not read as another's answer
            return Completion("info")
        kind = answer.get("type")
        if kind == "ok":
            return Completion("ok", answer.get("value"))
        if kind == "fail" or (kind == "info" and op.f == "read"):
            return Completion("fail", answer.get("error"))
        return Completion("info", answer.get("error"))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _client(settings: ClientSettings) -> Client:
    return JsonlClient(settings)


JSONL = SystemPlugin(name="jsonl", client=_client, workloads=("registers", "cas"))
