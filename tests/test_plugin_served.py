"""Which node served an operation, as each plug-in says it (plugin.Completion's `served` and
`leader`; docs/plugins.md, "Who served it"): each met at its library's boundary, as
tests/test_plugin_outcomes.py meets them (etcd's gateway answering from a script, kazoo's and
nats-py's connections stood in for), and meshkv's nodes run for real, a follower relaying its
primary's name. An operation nobody answered names no server: the report says the node asked."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import attrs
import pytest

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems import stream_history
from meshcheck.systems.etcd.client import EtcdClient
from meshcheck.systems.etcd.gateway import Gateway
from meshcheck.systems.etcd.gateway import GatewayError
from meshcheck.systems.jsonl import JsonlClient
from meshcheck.systems.nats_client import NatsClient
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.zookeeper.client import ZooKeeperClient
from meshcheck.traces.history.history import Op
from tests.test_plugin_outcomes import EXAMPLES
from tests.test_plugin_outcomes import PATIENCE
from tests.test_plugin_outcomes import TIMEOUT
from tests.test_plugin_outcomes import ZOOKEEPER
from tests.test_plugin_outcomes import _Kazoo

WRITE = Invocation("c1", "write", "k1", "7")
READ = Invocation("c1", "read", "k1", None)


# -- etcd: the member the answer's header names, by the member list's name -----------------------


def _etcd(answer: dict[str, Any] | Exception, members: dict[str, Any] | Exception) -> Completion:
    """A write on a client bound to e1, its answer `answer`, the member list `members`."""

    async def post(self: Gateway, path: str, body: dict[str, Any]) -> dict[str, Any]:
        said = members if path == "/v3/cluster/member/list" else answer
        if isinstance(said, Exception):
            raise said
        return said

    async def go() -> Completion:
        client = EtcdClient(ClientSettings({}, "linearizable", "registers"))
        await client.open(Endpoint("e1", "127.0.0.1", 2379), PATIENCE)
        try:
            return await client.invoke(WRITE, PATIENCE)
        finally:
            await client.close()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Gateway, "_post", post)
        return asyncio.run(go())


MEMBERS = {"members": [{"ID": "5", "name": "e1"}, {"ID": "23", "name": "e3"}]}


def test_etcd_names_the_member_its_answer_header_names() -> None:
    # member 23 is 17 in hex: the header's decimal ID matched to the member list's
    assert _etcd({"header": {"member_id": "23"}}, MEMBERS) == Completion("ok", served="e3")
    assert _etcd({"header": {"member_id": "5"}}, MEMBERS) == Completion("ok", served="e1")


def test_etcd_names_none_where_nothing_says_who_answered() -> None:
    unknown = {"header": {"member_id": "99"}}  # a member the list does not have
    assert _etcd(unknown, MEMBERS) == Completion("ok")
    assert _etcd({"header": {"member_id": "23"}}, GatewayError("down")) == Completion("ok")
    assert _etcd({"header": {}}, MEMBERS) == Completion("ok")  # no member named
    refused = _etcd(GatewayError("etcdserver: leader changed"), MEMBERS)  # no header
    assert (refused.status, refused.served) == ("info", None)


# -- ZooKeeper: the session's one server -----------------------------------------------------------


def _zookeeper(at: int) -> Completion:
    """A read through kazoo (stood in for), on a session with z2; its `at`-th call times out."""
    row = next(r for r in ZOOKEEPER if r.f == "read" and r.failure == "timeout")
    client = ZooKeeperClient(ClientSettings({}, "plain", "registers"))
    client._kz = _Kazoo(attrs.evolve(row, at=at))
    client._pool = ThreadPoolExecutor(1)
    client._node = "z2"

    async def go() -> Completion:
        try:
            return await client.invoke(READ, TIMEOUT if at else PATIENCE)
        finally:
            client._kz = None
            await client.close()

    return asyncio.run(go())


def test_zookeeper_names_the_sessions_server_when_it_answered() -> None:
    assert _zookeeper(at=0) == Completion("ok", "1", served="z2")
    assert _zookeeper(at=1) == Completion("fail")  # no answer: nobody is named


# -- NATS: the connected server; a read-back also names the stream's leader -------------------------


class _Server:
    """nats-py's connection to 127.0.0.1:4222, whose stream holds one message, its leader n3."""

    def __init__(self, connected: bool = True) -> None:
        self.is_connected = True
        self.is_closed = False
        self.connected_url = urlparse("nats://127.0.0.1:4222") if connected else None

    def jetstream(self, timeout: float) -> Any:
        return self

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        class Ack:
            seq = 4

        return Ack()

    async def request(self, subject: str, *args: Any, **kwargs: Any) -> Any:
        class Reply:
            headers = None
            data = json.dumps(
                {"state": {"last_seq": 1}, "cluster": {"leader": "n3"}}
                if ".INFO." in subject
                else {"message": {"data": base64.b64encode(b"7").decode()}}
            ).encode()

        return Reply()

    async def close(self) -> None:
        self.is_closed = True


def _nats(op: Invocation, port: int = 4222, connected: bool = True) -> Completion:
    client = NatsClient(ClientSettings({}, "linearizable", "stream"))
    client.endpoint = Endpoint("n1", "127.0.0.1", port)
    client.conn = _Server(connected)  # type: ignore[assignment]
    client.ready = True
    return asyncio.run(client.invoke(op, PATIENCE))


def test_nats_names_the_connected_server_and_a_read_the_streams_leader() -> None:
    publish = Invocation("c1", "publish", None, 7)
    assert _nats(publish) == Completion("ok", 4, served="n1")
    read = Invocation("c1", "read", None, None)
    assert _nats(read) == Completion("ok", [7], served="n1", leader="n3")
    # a connection on no server, or on another than the endpoint's: nobody is named
    assert _nats(publish, connected=False) == Completion("ok", 4)
    assert _nats(publish, port=4223) == Completion("ok", 4)


# -- meshkv: its nodes, for real --------------------------------------------------------------------


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.skipif(shutil.which("node") is None, reason="`make nodejs` installs node")
def test_meshkv_names_the_primary_whichever_node_was_asked(tmp_path: Path) -> None:
    """A primary n1 and a follower n2: the follower relays each request and the primary's
    answer, which names the primary; with the primary gone, the follower's own refusal names the
    follower, and a write it had sent when the primary went names nobody."""
    ports = {n: (_port(), _port()) for n in ("n1", "n2")}
    peers = ",".join(f"{n}=127.0.0.1:{c}:{p}" for n, (c, p) in ports.items())

    async def go() -> list[Completion]:
        nodes = {
            n: await asyncio.create_subprocess_exec(
                "node",
                str(EXAMPLES / "meshkv" / "server.js"),
                "--id",
                n,
                "--peers",
                peers,
                "--data",
                str(tmp_path / n),
                "--steps",
                str(tmp_path / f"{n}-steps.ndjson"),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            for n in ports
        }
        got: list[Completion] = []
        try:
            for n in ("n1", "n2"):
                client = JsonlClient(ClientSettings({}, "linearizable", "registers"))
                await client.open(Endpoint(n, "127.0.0.1", ports[n][0]), PATIENCE)
                for _ in range(250):  # until the node listens and the primary has recovered
                    done = await client.invoke(WRITE, PATIENCE)
                    if done.status != "fail":
                        break
                    await asyncio.sleep(0.02)
                got += [done, await client.invoke(READ, PATIENCE)]
                await client.close()
            nodes["n1"].kill()
            await nodes["n1"].wait()
            client = JsonlClient(ClientSettings({}, "linearizable", "registers"))
            await client.open(Endpoint("n2", "127.0.0.1", ports["n2"][0]), PATIENCE)
            got.append(await client.invoke(READ, PATIENCE))
            await client.close()
        finally:
            for node in nodes.values():
                if node.returncode is None:
                    node.kill()
                    await node.wait()
        return got

    got = asyncio.run(go())
    assert [(c.status, c.served, c.leader) for c in got[:4]] == [("ok", "n1", "n1")] * 4, got
    assert got[3].output == "7"
    assert (got[4].status, got[4].served, got[4].leader) == ("fail", "n2", "n1"), got[4]


# -- a stream's report: the lost message's line names where its publish ran -------------------------


def test_a_lost_messages_line_names_the_server_and_the_node_asked(tmp_path: Path) -> None:
    """The stream workload's history keeps the node asked and the one that served (as register
    histories do), and the checker's `lost` line and the losses account name them."""

    def op(process: str, f: str, value: Any, out: Any, call: float, served: str = "") -> Op:
        return Op(process, f, value, out, call, call + 0.1, "ok", None, int(call), "n3", served)

    ops = [
        op("c1", "publish", "m1", None, 0.0, "n3"),
        op("c2", "publish", "m2", None, 1.0, "n1"),  # asked n3, served by n1
        op("c3", "publish", "m3", None, 2.0),  # the plug-in could not tell
        op("n1", "read", None, ("m1",), 4.0),
    ]
    path = tmp_path / "history.jsonl"
    path.write_text(stream_history.dumps(ops), encoding="utf-8")
    verdict, report = stream_history.verdict(path)
    assert verdict.holds is False
    assert "m2 (published ok by c2 on n1 (asked n3), lines 4..5)" in report, report
    assert "m3 (published ok by c3 asked n3, lines 6..7)" in report, report
    assert "c2 published 'm2' on n1 (asked n3) (lines 4..5)" in report, report
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"node": "n3"', '"node": 3')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MeshcheckError, match=r'history.jsonl:2: field "node": expected the name'):
        stream_history.verdict(path)
