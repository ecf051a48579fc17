"""Apache ZooKeeper as a system under test (meshcheck/systems/known/zookeeper.toml and its client
plug-in, meshcheck/systems/zookeeper/): the plug-in against a real ensemble of three servers started
from the system file: registers through versioned setData, reads with and without sync, kazoo's
lock with its fencing token, the leader as the servers name it. Skipped (one line) without Java,
Debian's zookeeper (`make zookeeper`) or kazoo (the `systems` extra)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.impl.runtime.launcher import LOOPBACK
from meshcheck.impl.runtime.launcher import free_ports
from meshcheck.systems.nodes import SystemNodes
from meshcheck.systems.plugin import Client
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.system_file import load
from meshcheck.systems.zookeeper import FILE
from meshcheck.systems.zookeeper import ZOOKEEPER
from meshcheck.systems.zookeeper import four_letter as who_leads
from meshcheck.systems.zookeeper.client import ZooKeeperClient

JAR = Path("/usr/share/java/zookeeper.jar")
needs_zookeeper = pytest.mark.skipif(
    shutil.which("java") is None or not JAR.exists(),
    reason="Java or ZooKeeper is not installed: `make zookeeper`",
)
pytest.importorskip("kazoo", reason="kazoo is not installed: pip install -e '.[systems]'")
pytestmark = needs_zookeeper

SYSTEM = load(FILE)
NODES = ("z1", "z2", "z3")
TIMEOUT = 2.0


class Ensemble(SystemNodes):
    """The system file's three servers on loopback, as `cluster test --network loopback` starts
    them (meshcheck/systems/nodes.py: each one's zoo.cfg and myid written before it starts)."""

    def __init__(self, folder: Path) -> None:
        free = iter(free_ports(len(NODES) * len(SYSTEM.nodes.ports)))
        super().__init__(
            SYSTEM,
            NODES,
            folder,
            hosts=dict.fromkeys(NODES, LOOPBACK),
            ports={n: {p: next(free) for p in SYSTEM.nodes.ports} for n in NODES},
            data=lambda n: folder / "data" / n,
        )


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ensemble]:
    with Ensemble(tmp_path_factory.mktemp("zookeeper")) as e:
        for node in NODES:
            e.start(node)
        serving(e)
        yield e


def serving(ensemble: Ensemble, wait: float = 30.0) -> None:
    """Until every server serves, one leading (its client port opens before the election: a
    session had before may be dropped as its server changes mode)."""
    endpoints = [ensemble.endpoint(n) for n in NODES]
    deadline = time.monotonic() + wait
    while sorted(str(m) for m in asyncio.run(_modes(endpoints))) != [
        "follower",
        "follower",
        "leader",
    ]:
        assert time.monotonic() < deadline, "the ensemble did not elect a leader"
        time.sleep(0.1)


def make_client(settings: ClientSettings) -> Client:
    assert ZOOKEEPER.client is not None
    return ZOOKEEPER.client(settings)


def settings(reads: str = "sync", workload: str = "registers") -> ClientSettings:
    return ClientSettings(dict(SYSTEM.client.options), reads, workload)


async def _client(ensemble: Ensemble, node: str, reads: str = "sync") -> Client:
    c = make_client(settings(reads))
    await c.open(ensemble.endpoint(node), 20.0)
    return c


def _op(f: str, key: str | None, value: object = None) -> Invocation:
    return Invocation("c1", f, key, value)


def test_the_plugin_is_the_entry_point_and_ships_its_file() -> None:
    from importlib.metadata import entry_points

    (point,) = [e for e in entry_points(group="meshcheck.systems") if e.name == "zookeeper"]
    assert point.load() is ZOOKEEPER
    assert ZOOKEEPER.file == FILE and FILE.exists()
    assert set(SYSTEM.client.workloads) <= set(ZOOKEEPER.workloads)
    assert "fenced-lock" in SYSTEM.client.workloads
    # sync reads are judged linearizable, plain ones as reads that may be stale
    assert SYSTEM.client.reads == ("sync", "plain")
    assert [SYSTEM.client.check(m) for m in SYSTEM.client.reads] == ["linearizable", "serializable"]


def test_registers_through_versioned_set_data(ensemble: Ensemble) -> None:
    """Writes, cas and reads across servers. Another client's plain read may miss a write done:
    ZooKeeper promises no simultaneous cross-client views (zookeeperProgrammers.html,
    "Consistency Guarantees"), and this test saw it, no fault struck; so the reads across servers
    are synced, and the plain client reads its own write, which it is promised to see."""

    async def go() -> list[Completion]:
        a = await _client(ensemble, "z1")
        b = await _client(ensemble, "z2")
        c = await _client(ensemble, "z3", reads="plain")
        try:
            return [
                await a.invoke(_op("read", "r1"), TIMEOUT),  # absent: None
                await a.invoke(_op("write", "r1", "1"), TIMEOUT),
                await b.invoke(_op("read", "r1"), TIMEOUT),  # synced: a's write was done
                await b.invoke(_op("cas", "r1", ("1", "2")), TIMEOUT),
                await a.invoke(_op("cas", "r1", ("1", "3")), TIMEOUT),  # holds 2: fails
                await a.invoke(_op("read", "r1"), TIMEOUT),
                await a.invoke(_op("cas", "r2", (None, "5")), TIMEOUT),  # absent: created
                await b.invoke(_op("cas", "r2", (None, "6")), TIMEOUT),  # exists now: fails
                await b.invoke(_op("write", "r2", "7"), TIMEOUT),
                await a.invoke(_op("read", "r2"), TIMEOUT),
                await c.invoke(_op("write", "r5", "8"), TIMEOUT),
                await c.invoke(_op("read", "r5"), TIMEOUT),  # plain, its own write: seen
            ]
        finally:
            for client in (a, b, c):
                await client.close()

    done = asyncio.run(go())
    assert [(c.status, c.output) for c in done] == [
        ("ok", None), ("ok", None), ("ok", "1"), ("ok", None), ("fail", None), ("ok", "2"),
        ("ok", None), ("fail", None), ("ok", None), ("ok", "7"), ("ok", None), ("ok", "8"),
    ]  # fmt: skip
    # the server of each client's session answered each operation done (a refused cas: no name)
    assert [c.served for c in done] == [
        "z1", "z1", "z2", "z2", None, "z1", "z1", None, "z2", "z1", "z3", "z3",
    ]  # fmt: skip


def test_concurrent_cas_increments_lose_no_update(ensemble: Ensemble) -> None:
    """Three clients, one on each server, each incrementing one counter by cas from the value it
    read: the counter ends at the number of cas that said ok (a cas that set without the version
    it read would let two increments of one value both succeed)."""

    async def one(client: Client, tries: int) -> int:
        done = 0
        for _ in range(tries):
            read = await client.invoke(_op("read", "counter"), TIMEOUT)
            old = read.output if read.status == "ok" else None
            new = str(int(old or 0) + 1)
            done += (await client.invoke(_op("cas", "counter", (old, new)), TIMEOUT)).status == "ok"
        return done

    async def go() -> tuple[int, Completion]:
        clients = [await _client(ensemble, n) for n in NODES]
        try:
            counts = await asyncio.gather(*(one(c, 25) for c in clients))
            return sum(counts), await clients[0].invoke(_op("read", "counter"), TIMEOUT)
        finally:
            for c in clients:
                await c.close()

    ok, final = asyncio.run(go())
    assert final.status == "ok" and ok > 1
    assert int(final.output) == ok


def test_lock_takes_turns_and_its_fencing_token_grows(ensemble: Ensemble) -> None:
    async def go() -> list[Completion]:
        a = await _client(ensemble, "z1")
        b = await _client(ensemble, "z3")
        try:
            return [
                await a.invoke(_op("acquire", "L", "a1"), TIMEOUT),
                await b.invoke(_op("acquire", "L", "b1"), 0.5),  # held by a: not taken
                await a.invoke(_op("release", "L", "a1"), TIMEOUT),
                await b.invoke(_op("acquire", "L", "b2"), TIMEOUT),
                await a.invoke(_op("release", "L", "a1"), TIMEOUT),  # a holds nothing now
                await b.invoke(_op("revoke", "L", "b2"), TIMEOUT),  # frees it
                await a.invoke(_op("acquire", "L", "a2"), TIMEOUT),
                await a.invoke(_op("release", "L", "a2"), TIMEOUT),
            ]
        finally:
            await a.close()
            await b.close()

    done = asyncio.run(go())
    assert [c.status for c in done] == ["ok", "fail", "ok", "ok", "fail", "ok", "ok", "ok"]
    tokens = [done[0].output, done[3].output, done[6].output]
    assert all(isinstance(t, int) for t in tokens)
    # b's withdrawn attempt took a sequence number too: the tokens grow, not by one
    assert tokens == sorted(set(tokens)) and tokens[1] > tokens[0] + 1


def test_leader_is_the_one_server_that_says_so(ensemble: Ensemble) -> None:
    assert ZOOKEEPER.leader is who_leads.leader
    endpoints = [ensemble.endpoint(n) for n in NODES]
    modes = asyncio.run(_modes(endpoints))
    assert sorted(str(m) for m in modes) == ["follower", "follower", "leader"]
    assert asyncio.run(ZOOKEEPER.leader(endpoints)) == NODES[modes.index("leader")]


async def _modes(endpoints: list[Endpoint]) -> list[str | None]:
    return [await who_leads.mode(e) for e in endpoints]


def test_a_killed_servers_client_fails_reads_and_a_new_leader_serves(ensemble: Ensemble) -> None:
    endpoints = [ensemble.endpoint(n) for n in NODES]
    old = asyncio.run(who_leads.leader(endpoints))
    assert old in NODES
    other = next(n for n in NODES if n != old)

    async def go() -> tuple[Completion, Completion, str | None]:
        on_old = await _client(ensemble, old)
        on_other = await _client(ensemble, other)
        try:
            ensemble.kill(old)
            read = await on_old.invoke(_op("read", "r1"), 1.0)  # its server is gone: fail
            deadline = time.monotonic() + 20
            write = Completion("info")
            while write.status != "ok" and time.monotonic() < deadline:
                write = await on_other.invoke(_op("write", "r3", "9"), 1.0)
            return read, write, await who_leads.leader(endpoints)
        finally:
            await on_old.close()
            await on_other.close()

    try:
        read, write, new = asyncio.run(go())
    finally:
        ensemble.start(old)
        serving(ensemble)
    assert read.status == "fail"
    assert write.status == "ok"
    assert new in NODES and new != old


def test_open_on_a_dead_server_is_a_timeout_and_the_client_opens_again(ensemble: Ensemble) -> None:
    """The workload binds a client with `open` and rebinds the same client after an `info`: a
    server that does not answer is a TimeoutError in time (never kazoo's own error), and the
    client then serves from another server."""
    (dead,) = free_ports(1)

    async def go() -> tuple[float, Completion, Completion]:
        c = make_client(settings())
        try:
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await c.open(Endpoint("z9", LOOPBACK, dead), 1.0)
            waited = time.monotonic() - started
            unbound = await c.invoke(_op("write", "r4", "1"), 0.5)
            await c.close()
            await c.open(ensemble.endpoint("z2"), 20.0)
            return waited, unbound, await c.invoke(_op("write", "r4", "2"), TIMEOUT)
        finally:
            await c.close()

    waited, unbound, write = asyncio.run(go())
    assert waited < 3.0
    assert unbound.status == "info"  # sent, maybe, to a server that may come back
    assert write.status == "ok"


def _expire(ensemble: Ensemble, node: str, client: Client) -> None:
    """End `client`'s session from outside, as ZooKeeper ends one that timed out: a second
    connection with its session id and password closes it, and its ephemeral znodes (its lock)
    go, while the client still believes it holds what it held."""
    from kazoo.client import KazooClient

    assert isinstance(client, ZooKeeperClient)
    session_id, password = client.session()
    endpoint = ensemble.endpoint(node)
    twin = KazooClient(hosts=f"{endpoint.host}:{endpoint.port}", client_id=(session_id, password))
    twin.start(10)
    twin.stop()
    twin.close()


def test_a_holder_whose_session_expired_is_fenced_off_by_its_token(
    ensemble: Ensemble, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ZooKeeper's lock recipe has a holder whose session expired go on believing it holds the
    lock while another takes it: two holders at once, as documented. The register it protects,
    fenced by the lock znode's sequence number, rejects the stale holder's write; the
    fenced-lock checker says so: mutual exclusion no, fencing held."""
    events: list[dict[str, object]] = []

    async def step(client: Client, process: int, f: str, key: str, value: object) -> Completion:
        events.append({"process": process, "type": "invoke", "f": f, "value": value})
        done = await client.invoke(Invocation(f"p{process}", f, key, value), TIMEOUT)
        shown = done.output if f == "acquire" else value
        events.append({"process": process, "type": done.status, "f": f, "value": shown})
        return done

    async def go() -> list[Completion]:
        a = await _client(ensemble, "z1")
        b = await _client(ensemble, "z2")
        try:
            got = await step(a, 0, "acquire", "F", "a1")
            first = await step(a, 0, "write", "fenced", [got.output, "a"])
            _expire(ensemble, "z1", a)
            other = await step(b, 1, "acquire", "F", "b1")  # a's znode went with its session
            second = await step(b, 1, "write", "fenced", [other.output, "b"])
            # kazoo answers a's next call with the expiry, then opens a new session: a goes on,
            # a zombie holder with its old token
            while (await a.invoke(_op("read", "r1"), TIMEOUT)).status != "ok":
                await asyncio.sleep(0.1)
            stale = await step(a, 0, "write", "fenced", [got.output, "stale"])
            await step(b, 1, "release", "F", "b1")
            await step(a, 0, "release", "F", "a1")
            return [got, first, other, second, stale]
        finally:
            await a.close()
            await b.close()

    got, first, other, second, stale = asyncio.run(go())
    assert [c.status for c in (got, first, other, second)] == ["ok"] * 4
    assert other.output > got.output
    assert stale.status == "fail"  # fenced off
    history = tmp_path / "fenced.jsonl"
    history.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    assert main(["history", "check", str(history), "--model", "fenced-lock"]) == 1
    first_line = capsys.readouterr().out.splitlines()[0]
    assert "mutual exclusion: no (1 overlap); fencing: held" in first_line, first_line


def test_a_fenced_write_is_refused_below_the_token_and_raced_in_its_multi(
    ensemble: Ensemble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fenced register refuses a token below the largest it accepted, and a newer token
    written between a write's compare and its commit fails that write's `multi` (the token
    znode's version moved): tried again, the compare refuses it. The `unfenced` mutant accepts the
    stale token."""

    def fenced(token: int, value: str) -> Invocation:
        return Invocation("c1", "fenced-write", "raced", (token, value))

    async def go() -> tuple[int, list[Completion]]:
        a = await _client(ensemble, "z1")
        b = await _client(ensemble, "z2")
        options = {**dict(SYSTEM.client.options), "broken": "unfenced"}
        bare = make_client(ClientSettings(options, "sync", "fenced-lock"))
        await bare.open(ensemble.endpoint("z3"), 20.0)
        assert isinstance(a, ZooKeeperClient)
        commit = a._commit
        commits = 0

        async def raced(*args: Any) -> Exception | None:
            nonlocal commits
            commits += 1
            if commits == 2:  # a's compare saw token 5; b writes 7 before a commits 6
                assert (await b.invoke(fenced(7, "b"), TIMEOUT)).status == "ok"
            return await commit(*args)

        monkeypatch.setattr(a, "_commit", raced)
        try:
            done = [
                await a.invoke(fenced(5, "a"), TIMEOUT),
                await a.invoke(fenced(6, "late"), TIMEOUT),  # raced by 7: refused
                await a.invoke(_op("read", "raced"), TIMEOUT),
                await a.invoke(fenced(4, "stale"), TIMEOUT),  # below 7: refused
                await bare.invoke(fenced(4, "stale"), TIMEOUT),  # the mutant: accepted
                await a.invoke(_op("read", "raced"), TIMEOUT),
            ]
            return commits, done
        finally:
            for c in (a, b, bare):
                await c.close()

    commits, (first, late, read, stale, unfenced, after) = asyncio.run(go())
    assert first.status == "ok"
    assert commits == 2  # the raced multi was not tried again: the second compare refused it
    assert late.status == "fail" and read.output == "b"
    assert stale.status == "fail"
    assert unfenced.status == "ok" and after.output == "stale"


def test_without_kazoo_the_client_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from meshcheck.impl.base.errors import MeshcheckError

    monkeypatch.setitem(sys.modules, "kazoo.client", None)  # an import of it fails
    monkeypatch.delitem(sys.modules, "meshcheck.systems.zookeeper.client")
    with pytest.raises(
        MeshcheckError, match=r"needs kazoo: pip install 'meshcheck-verify\[systems\]'"
    ):
        make_client(settings())
