"""The built-in `jsonl` client (meshcheck/systems/jsonl.py) against a fake server: each completion
type, a timeout and a dropped connection as info (a read's as fail), a malformed answer as one
clear error, and the plug-in registered under its entry point."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest

from meshcheck.systems.jsonl import JSONL
from meshcheck.systems.jsonl import JsonlClient
from meshcheck.systems.jsonl import JsonlError
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.plugin import SystemPlugin

# the fake server's answer to a request: a line to send (str), None to say nothing, or "close"
Answer = Callable[[dict[str, Any]], Awaitable[str | None]]


async def served(
    answer: Answer, ops: list[Invocation], timeout: float = 1.0
) -> tuple[list[Completion], list[dict[str, Any]]]:
    """Start a server answering each request line with `answer`, invoke `ops` through one client
    in turn; the completions and the requests the server got."""
    got: list[dict[str, Any]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            got.append(request)
            reply = await answer(request)
            if reply == "close":
                writer.close()
                return
            if reply is not None:
                writer.write(reply.encode() + b"\n")
                await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = JsonlClient(ClientSettings({}, "linearizable", "cas"))
    try:
        await client.open(Endpoint("n1", "127.0.0.1", port), timeout)
        done = [await client.invoke(op, timeout) for op in ops]
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
    return done, got


def run(
    answer: Answer, *ops: Invocation, timeout: float = 1.0
) -> tuple[list[Completion], list[dict[str, Any]]]:
    return asyncio.run(served(answer, list(ops), timeout))


READ = Invocation("c1", "read", "k1", None)
WRITE = Invocation("c1", "write", "k1", 7)
CAS = Invocation("c1", "cas", "k1", (7, 8))


def replying(**fields: Any) -> Answer:
    async def answer(request: dict[str, Any]) -> str:
        return json.dumps({"id": request["id"], **fields})

    return answer


def test_requests_carry_the_protocol_fields() -> None:
    _, got = run(replying(type="ok", value=None), READ, WRITE, CAS)
    assert got == [
        {"id": 1, "f": "read", "key": "k1", "value": None},
        {"id": 2, "f": "write", "key": "k1", "value": 7},
        {"id": 3, "f": "cas", "key": "k1", "value": [7, 8]},
    ]


def test_ok_read_gives_its_value_and_ok_write_none() -> None:
    done, _ = run(replying(type="ok", value=[1, "a"]), READ, WRITE)
    assert done == [Completion("ok", [1, "a"]), Completion("ok")]


def test_fail_and_info_keep_their_error() -> None:
    done, _ = run(replying(type="fail", error="cas: value differs"), CAS)
    assert done == [Completion("fail", "cas: value differs")]
    done, _ = run(replying(type="info", error="lost the primary"), WRITE, CAS)
    assert done == [Completion("info", "lost the primary")] * 2


def test_an_answer_that_names_its_server_and_leader_carries_them() -> None:
    """A replica forwarding to its primary answers with the primary's name: the completion says
    who served it (and who leads), which the report names instead of the node asked."""
    done, _ = run(replying(type="ok", value=3, served="n2", leader="n2"), READ, WRITE)
    assert done == [Completion("ok", 3, "n2", "n2"), Completion("ok", None, "n2", "n2")]
    done, _ = run(replying(type="fail", error="syncing", served="n1"), WRITE)
    assert done == [Completion("fail", "syncing", "n1")]
    with pytest.raises(JsonlError, match="answered served '5': expected a node"):
        run(replying(type="ok", served=5), WRITE)


def test_a_reads_info_is_fail() -> None:
    done, _ = run(replying(type="info", error="lost the primary"), READ)
    assert done == [Completion("fail", "lost the primary")]


async def silent(request: dict[str, Any]) -> None:
    return None


def test_timeout_is_info_and_a_reads_fail() -> None:
    done, _ = run(silent, WRITE, READ, timeout=0.2)
    assert [d.status for d in done] == ["info", "fail"]


def test_after_a_timeout_the_late_answer_is_not_taken_for_the_next() -> None:
    """The first answer comes after the client gave up; the client redials, and the second
    operation gets its own answer (by id), not the stale one."""

    async def late_first(request: dict[str, Any]) -> str:
        if request["id"] == 1:
            await asyncio.sleep(0.3)
            return json.dumps({"id": 1, "type": "ok", "value": "stale"})
        return json.dumps({"id": request["id"], "type": "ok", "value": "fresh"})

    done, _ = run(late_first, READ, READ, timeout=0.2)
    assert done == [Completion("fail", "TimeoutError"), Completion("ok", "fresh")]


async def hang_up(request: dict[str, Any]) -> str:
    return "close"


def test_dropped_connection_is_info_and_a_reads_fail() -> None:
    done, _ = run(hang_up, WRITE, CAS, READ)
    assert [d.status for d in done] == ["info", "info", "fail"]


def test_an_answer_to_another_id_is_skipped() -> None:
    async def other_first(request: dict[str, Any]) -> str:
        wrong = json.dumps({"id": 99, "type": "ok", "value": "wrong"})
        return wrong + "\n" + json.dumps({"id": request["id"], "type": "ok", "value": "right"})

    done, _ = run(other_first, READ)
    assert done == [Completion("ok", "right")]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("not json", "which is no JSON"),
        ('{"type": "ok"}', "which has no id"),
        ('{"id": 1, "type": "done"}', "type must be one of ok, fail, info"),
        ('{"id": 1, "type": "ok"}', "a read ok without a value"),
    ],
)
def test_malformed_answer_is_one_clear_error(line: str, says: str) -> None:
    async def bad(request: dict[str, Any]) -> str:
        return line

    with pytest.raises(JsonlError) as caught:
        run(bad, READ)
    message = str(caught.value)
    assert says in message
    assert message.startswith("jsonl: n1 (127.0.0.1:")
    assert "\n" not in message


def test_unreachable_node_is_fail_not_done() -> None:
    """Nothing listens: the operation was never sent, so it certainly did not happen."""

    async def scenario() -> Completion:
        client = JsonlClient(ClientSettings({}, "linearizable", "registers"))
        await client.open(Endpoint("n2", "127.0.0.1", 1), 0.5)  # down now: the invoke dials again
        return await client.invoke(WRITE, 0.5)

    assert asyncio.run(scenario()).status == "fail"


def test_registered_as_the_jsonl_system_plugin() -> None:
    (found,) = [e for e in entry_points(group="meshcheck.systems") if e.name == "jsonl"]
    plugin = found.load()
    assert plugin is JSONL
    assert isinstance(plugin, SystemPlugin)
    assert plugin.name == "jsonl"
    assert plugin.workloads == ("registers", "cas")
