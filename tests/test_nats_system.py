"""NATS JetStream's client plug-in (meshcheck/systems/nats_client.py) against a real cluster of three
nats-server processes started from the system file's own command (meshcheck/systems/known/nats.toml).
Skipped, with one line, when nats-server is missing (`make nats` installs it)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.runtime.launcher import LOOPBACK, Processes, free_ports
from meshcheck.systems.nats_client import NATS, NatsClient, leader
from meshcheck.systems.plugin import ClientSettings, Endpoint, Invocation

pytestmark = pytest.mark.skipif(
    shutil.which("nats-server") is None, reason="nats-server missing: `make nats` installs it"
)

FILE = NATS.file
assert FILE is not None
SPEC: dict[str, Any] = tomllib.loads(FILE.read_text(encoding="utf-8"))
NAMES = ["n1", "n2", "n3"]
TIMEOUT = 5.0


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    assert "{" not in template, template
    return template


class Cluster:
    """Three servers from the system file's `[nodes]` command, on loopback."""

    def __init__(self, folder: Path) -> None:
        self.procs = Processes(folder)
        ports = free_ports(2 * len(NAMES))
        self.ports = {
            n: {"client": ports[2 * k], "cluster": ports[2 * k + 1]} for k, n in enumerate(NAMES)
        }
        nodes = SPEC["nodes"]
        self.values = {
            n: {
                "name": n,
                "host": LOOPBACK,
                "data": str(folder / "data" / n),
                "port.client": str(self.ports[n]["client"]),
                "port.cluster": str(self.ports[n]["cluster"]),
            }
            for n in NAMES
        }
        peers = nodes["join"].join(_fill(nodes["peer"], self.values[n]) for n in NAMES)
        for n in NAMES:
            self.values[n]["peers"] = peers

    def start(self, name: str) -> None:
        command = [_fill(part, self.values[name]) for part in SPEC["nodes"]["command"]]
        self.procs.spawn(name, command, (LOOPBACK, self.ports[name]["client"]), 20.0)

    def endpoint(self, name: str) -> Endpoint:
        return Endpoint(name, LOOPBACK, self.ports[name]["client"], self.ports[name])

    def endpoints(self) -> list[Endpoint]:
        return [self.endpoint(n) for n in NAMES]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        for n in NAMES:
            c.start(n)
        yield c
    finally:
        c.procs.stop()


def _settings(**options: Any) -> ClientSettings:
    return ClientSettings({**SPEC["client"], **options}, "direct", "stream")


async def _opened(c: Cluster, name: str, **options: Any) -> NatsClient:
    client = NatsClient(_settings(**options))
    deadline = time.monotonic() + 30
    while True:  # the JetStream cluster elects its metadata leader after the servers listen
        await client.open(c.endpoint(name), TIMEOUT)
        if client.consumer is not None or time.monotonic() > deadline:
            return client
        await client.close()
        await asyncio.sleep(0.5)


def _op(f: str, value: Any = None, process: str = "0") -> Invocation:
    return Invocation(process, f, None, value)


async def _stream_leader(c: Cluster) -> str:
    import nats

    conn = await nats.connect(f"nats://{LOOPBACK}:{c.ports['n1']['client']}")
    try:
        reply = await conn.request("$JS.API.STREAM.INFO.meshcheck", b"", timeout=TIMEOUT)
    finally:
        await conn.close()
    name: str = json.loads(reply.data)["cluster"]["leader"]
    return name


def test_publish_consume_ack_and_read_back_on_every_node(cluster: Cluster) -> None:
    """Every acknowledged publish is consumed once, acknowledged, and read back through every node
    in the order of its sequence; `leader` names the server JetStream says leads the stream."""

    async def run() -> None:
        clients = [await _opened(cluster, n) for n in NAMES]
        try:
            assert all(c.consumer is not None for c in clients)
            seqs: dict[str, int] = {}
            for k in range(30):
                client = clients[k % 3]
                done = await client.invoke(_op("publish", f"m{k}"), TIMEOUT)
                assert done.status == "ok", done
                seqs[f"m{k}"] = done.output
            # a retried id is dropped by the duplicate window: the same sequence, not a new one
            again = await clients[1].invoke(_op("publish", "m4"), TIMEOUT)
            assert (again.status, again.output) == ("ok", seqs["m4"])
            assert sorted(seqs.values()) == list(range(1, 31))
            consumed: dict[str, int] = {}
            for _ in range(40):
                for client in clients:
                    got = await client.invoke(_op("consume"), 1.0)
                    assert got.status == "ok", got
                    for seq, value in got.output:
                        assert value not in consumed  # acknowledged before ack_wait: no redelivery
                        consumed[value] = seq
                        acked = await client.invoke(_op("ack", value), TIMEOUT)
                        assert acked.status == "ok", acked
                if len(consumed) == 30:
                    break
            assert consumed == seqs
            # an id this client never consumed cannot be acknowledged
            assert (await clients[0].invoke(_op("ack", "m0"), TIMEOUT)).status == "fail"
            in_order = [[s, v] for v, s in sorted(seqs.items(), key=lambda kv: kv[1])]
            for client in clients:
                back = await client.invoke(_op("read-back"), 10.0)
                assert (back.status, back.output) == ("ok", in_order)
            named = await _stream_leader(cluster)
            assert named in NAMES
            # asked first of the nodes that do not lead: still the leader's name
            order = sorted(cluster.endpoints(), key=lambda e: e.node == named)
            assert await leader(order) == named
        finally:
            for client in clients:
                await client.close()

    asyncio.run(run())


def test_no_quorum_publish_is_not_ok_and_leader_moves_after_a_kill(cluster: Cluster) -> None:
    """With two of three servers paused a publish cannot be acknowledged (fail or info, never ok);
    after the leader is killed another server leads and publishes are acknowledged again."""

    async def run() -> None:
        first = await _stream_leader_after_open(cluster)
        others = [n for n in NAMES if n != first]
        client = await _opened(cluster, others[0])
        try:
            assert (await client.invoke(_op("publish", "before"), TIMEOUT)).status == "ok"
            for n in (first, others[1]):
                cluster.procs.pause(n)
            stuck = await client.invoke(_op("publish", "stuck"), 2.0)
            assert stuck.status in ("fail", "info"), stuck
            for n in (first, others[1]):
                cluster.procs.resume(n)
            cluster.procs.kill(first)
            deadline = time.monotonic() + 30
            now: str | None = first
            while time.monotonic() < deadline:
                now = await leader([cluster.endpoint(n) for n in others], 1.0)
                if now is not None and now != first:
                    break
                await asyncio.sleep(0.5)
            assert now in others
            done = await client.invoke(_op("publish", "after"), TIMEOUT)
            assert done.status == "ok", done
            back = await client.invoke(_op("read-back"), 10.0)
            values = [v for _, v in back.output]
            assert back.status == "ok" and "before" in values and "after" in values
        finally:
            await client.close()

    asyncio.run(run())


async def _stream_leader_after_open(c: Cluster) -> str:
    client = await _opened(c, "n1")
    await client.close()
    return await _stream_leader(c)


def test_leader_is_none_when_no_node_answers(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    assert asyncio.run(leader([Endpoint("n1", LOOPBACK, port)], 0.5)) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"replicas": 7}, "replicas"),
        ({"replicas": "three"}, "replicas"),
        ({"batch": 0}, "batch"),
        ({"ack_wait": True}, "ack_wait"),
    ],
)
def test_bad_client_options_are_one_line(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        NatsClient(_settings(**options))


def test_only_the_stream_workload() -> None:
    with pytest.raises(ConfigError, match="stream"):
        NatsClient(ClientSettings({}, "direct", "registers"))
    assert NATS.workloads == ("stream",)
    assert SPEC["client"]["workloads"] == ["stream"]
