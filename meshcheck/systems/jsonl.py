"""The built-in `jsonl` client: for a service in any language, one JSON object per line each way
over TCP, so that no Python need be written to put a service under test (docs/tutorial-own-service.md).

Request: `{"id": N, "f": "read"|"write"|"cas", "key": "k1", "value": V}` (a cas's value is
`[old, new]`). Answer: `{"id": N, "type": "ok", "value": V}` (a read's value: null for a key never
written), `{"id": N, "type": "fail", "error": "..."}` (certainly not done) or
`{"id": N, "type": "info", "error": "..."}` (maybe done). An answer may name the node that
served it (`"served": "r1"`: a replica that forwarded the request to its primary says the
primary's name) and the leader or primary as that node knows it (`"leader": "r1"`); the report
then names the server rather than the node asked (plugin.Completion). By the one rule (meshcheck/systems/
outcomes.py, docs/plugins.md): a timeout or a connection dropped after the request was sent is
`info`; one that could not be made, or that the node had closed before the request was sent, is
`fail`; a read changes nothing, so whatever stops it is `fail`. A line that is no such answer is a
bug of the service's protocol, not an outcome of the operation: `JsonlError`, one line naming the
node and the line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.outcomes import Failure
from meshcheck.systems.outcomes import outcome
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.plugin import Status
from meshcheck.systems.plugin import SystemPlugin

VERBS = ("read", "write", "cas")
TYPES: tuple[Status, ...] = ("ok", "fail", "info")
LINE_LIMIT = 1 << 20  # bytes of one answer line


class JsonlError(MeshcheckError):
    """The service answered a line that is no answer of the protocol."""


class JsonlClient:
    """One connection to one node; one operation at a time. A connection that broke or timed out
    is dropped, and the next operation dials again (within its own timeout: an operation that
    cannot be sent is certainly not done, `fail`)."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.endpoint: Endpoint | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._next_id = 0

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        await self._drop()
        # a node that is down now may be up by the first operation, which dials again
        with contextlib.suppress(OSError, TimeoutError):
            await self._dial(timeout)

    async def _dial(self, timeout: float) -> None:
        assert self.endpoint is not None
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.endpoint.host, self.endpoint.port, limit=LINE_LIMIT),
            timeout,
        )

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        if op.f not in VERBS:
            raise JsonlError(f"jsonl: no operation {op.f!r} (the protocol has {', '.join(VERBS)})")
        if self.endpoint is None:
            raise JsonlError("jsonl: invoke before open")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        writes = op.f != "read"
        if self._reader is not None and self._reader.at_eof():
            await self._drop()  # the node closed the connection: the request goes on a new one
        if self._writer is None:
            try:
                await self._dial(timeout)
            except (OSError, TimeoutError) as e:
                return Completion(outcome("refused", writes=writes), f"cannot connect: {_why(e)}")
        assert self._reader is not None and self._writer is not None
        self._next_id += 1
        ask = self._next_id
        value = list(op.value) if isinstance(op.value, tuple) else op.value
        request = {"id": ask, "f": op.f, "key": op.key, "value": value}
        try:
            self._writer.write((json.dumps(request) + "\n").encode())
            await self._writer.drain()
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError
                line = await asyncio.wait_for(self._reader.readline(), left)
                if not line:
                    raise ConnectionResetError("the node closed the connection")
                answer = self._parse(line)
                if answer["id"] == ask:  # an older answer (of an operation timed out) is skipped
                    return self._completion(op, answer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
            # ValueError: asyncio's line longer than the limit
            await self._drop()
            if isinstance(e, ValueError):
                raise self._bad(f"an answer line longer than {LINE_LIMIT} bytes") from e
            return Completion(outcome(_failure(e), writes=writes), _why(e))

    def _parse(self, line: bytes) -> dict[str, Any]:
        text = line.decode(errors="replace").strip()
        try:
            answer = json.loads(text)
        except json.JSONDecodeError:
            raise self._bad(f"answered {_clip(text)}, which is no JSON") from None
        if not isinstance(answer, dict) or "id" not in answer:
            raise self._bad(f"answered {_clip(text)}, which has no id")
        if answer.get("type") not in TYPES:
            raise self._bad(f"answered {_clip(text)}: type must be one of {', '.join(TYPES)}")
        return answer

    def _completion(self, op: Invocation, answer: dict[str, Any]) -> Completion:
        status: Status = answer["type"]
        served, leader = self._named(answer, "served"), self._named(answer, "leader")
        if status == "ok":
            if op.f == "read":
                if "value" not in answer:
                    raise self._bad(
                        f"answered a read ok without a value: {_clip(json.dumps(answer))}"
                    )
                return Completion("ok", answer["value"], served, leader)
            return Completion("ok", None, served, leader)
        error = answer.get("error")
        if status == "info":  # a read the service may have done changed nothing: fail
            status = outcome("error", writes=op.f != "read")
        return Completion(status, error if isinstance(error, str) else None, served, leader)

    def _named(self, answer: dict[str, Any], field: str) -> str | None:
        """The answer's `served` or `leader`: a node's name, or None where it says none."""
        name = answer.get(field)
        if name is None:
            return None
        if not isinstance(name, str) or not name:
            raise self._bad(f"answered {field} {_clip(json.dumps(name))}: expected a node's name")
        return name

    def _bad(self, what: str) -> JsonlError:
        where = (
            ""
            if self.endpoint is None
            else f"{self.endpoint.node} ({self.endpoint.host}:{self.endpoint.port})"
        )
        return JsonlError(f"jsonl: {where} {what}")

    async def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def close(self) -> None:
        await self._drop()


def _failure(e: BaseException) -> Failure:
    """The class of an error after the request was written (outcomes.py)."""
    return "timeout" if isinstance(e, TimeoutError) else "lost-during-commit"


def _why(e: BaseException) -> str:
    return str(e) or type(e).__name__


def _clip(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


JSONL = SystemPlugin(name="jsonl", client=JsonlClient, workloads=("registers", "cas"))
