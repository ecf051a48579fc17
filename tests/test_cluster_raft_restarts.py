"""The three Raft catalogue mutants the processes could not tell apart until the harness could see
what they break (docs/cluster.md, "What it has caught"):

- `pending_writes_outlive_restart` keeps the leader's table of pending writes in a registry on
  the class, which a kill -9 takes with the process: the nemesis's `crash` rebuilds the core from
  its disk inside the running process (impl/runtime/host.py), as the simulator's crash does;
- `pending_writes_persisted` reloads a table of pending writes from the disk: the restarted core
  answers requests it answered before, or no longer owes;
- `install_stale_snapshot` restores a follower's state machine from a snapshot older than what
  it applied: only the machine shows it, sampled through the control channel.

The clients see every answer a node gives (an answer after their timeout ends the `info`
operation it answers; a second answer to one request is one the node did not owe), and the Raft
nodes' state machines are checked against their commit indexes and each other. Each check is
shown failing on its mutant and holding on the correct core.
"""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path
from typing import Any
from typing import ClassVar

import pytest

from meshcheck.cluster import checks
from meshcheck.cluster import nemesis
from meshcheck.cluster.inspection import Sample
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.run import Options
from meshcheck.cluster.run import run
from meshcheck.cluster.workload import History
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.raft import mutants
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.host import Host
from meshcheck.impl.runtime.nodelog import NodeLog
from meshcheck.impl.runtime.protocols import protocol
from tests.test_cluster_cmd import nodes_of
from tests.test_cluster_cmd import tries_until_caught

CODEC = protocol("raft").codec()

# -- the host's crash of the core, without processes -----------------------------------------------


class Counting:
    """A core that counts its steps on disk and keeps a table on its class, as the mutant does."""

    TABLE: ClassVar[dict[str, int]] = {}

    def __init__(self) -> None:
        self.count = 0
        self.seen: list[Any] = []

    def step(self, event: Any) -> list[Effect]:
        self.seen.append(event)
        if isinstance(event, Restart):
            self.count = event.persisted.get("count", 0)
            return []
        self.count += 1
        Counting.TABLE["n1"] = self.count
        return [Action("Step", FrozenDict({"i": "n1"})), Persist((Put("count", self.count),))]


def _no_exit(code: int) -> None:
    raise AssertionError(f"the host ended its process (exit {code}): its stderr has the trace")


def test_a_crashed_core_drops_its_events_and_is_rebuilt_from_its_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a step that raises ends a node's process (host.py `_step`); here it would end the test's
    monkeypatch.setattr(os, "_exit", _no_exit)
    log = NodeLog(tmp_path / "node.ndjson", "run", "n1", lambda c, a, nth: {"count": c.count})
    disk = Disk(tmp_path / "state.wal", CODEC)
    disk.load()
    built: list[Counting] = []

    def rebuild(incarnation: int) -> Any:
        built.append(Counting())
        return built[-1]

    first = Counting()
    host = Host("n1", first, CODEC, disk, {}, log=log, rebuild=rebuild)
    first.step(Restart({}))
    for _ in range(3):
        host._step(Tick("t"))
    host.crash()
    host._step(Tick("t"))  # to no core: dropped
    crashed = host.down
    host.recover()
    assert crashed and first.count == 3 and not host.down
    assert built and host.core is built[0] and host.incarnation == 1
    assert built[0].count == 3  # restarted from what the disk holds
    assert isinstance(built[0].seen[0], Restart)
    assert Counting.TABLE["n1"] == 3  # the process's class state outlives the core
    host._step(Tick("t"))
    assert built[0].count == 4
    log.close()
    disk.close()
    actions = [
        line.split('"action":"')[1].split('"')[0] for line in log.path.read_text().splitlines()
    ]
    assert actions == ["Step", "Step", "Step", "Restart", "Step"]


def test_a_host_without_a_way_to_rebuild_its_core_refuses_a_crash(tmp_path: Path) -> None:
    disk = Disk(tmp_path / "state.wal", CODEC)
    disk.load()
    host = Host("n1", Counting(), CODEC, disk, {})
    with pytest.raises(Exception, match="cannot rebuild its core"):
        host.crash()
    disk.close()


def test_a_crash_counts_as_a_node_down_in_the_plan() -> None:
    names = ["n1", "n2", "n3"]
    for seed in range(20):
        plan = nemesis.plan(seed, 60, ("crash", "kill"), names)
        assert any(f.kind == "crash" for f in plan)
        for f in plan:  # never two nodes of three down at once
            overlapping = [
                g for g in plan if g is not f and g.at < f.at + f.lasts and f.at < g.at + g.lasts
            ]
            assert not overlapping, (f, overlapping)


# -- the checks, on made-up runs -------------------------------------------------------------------


def test_an_answer_after_the_timeout_ends_the_operation_a_second_one_is_reported() -> None:
    history = History()
    history.record("c1.0", "write", "w", None, 1.0, 2.0, "info")
    history.answered_late(0, {"ok": True}, 2.5, True)
    assert history.ops[0].status == "ok" and history.ops[0].ret == 2.5
    history.record("c2.0", "write", "x", None, 3.0, 4.0, "info")
    history.answered_late(1, None, 4.5, False)  # "outcome unknown": still info
    assert history.ops[1].status == "info" and history.ops[1].ret == math.inf
    assert checks.answered_once(history.ops, [], history.late).holds
    twice = checks.answered_once(history.ops, [(0, 5.0, {"ok": True, "noop": True})])
    assert twice.holds is False and "answered again at t=5.000s" in twice.detail


def sample(at: float, node: str, commit: int, applied: int, digest: str) -> Sample:
    return Sample(at, node, {"commit": commit, "applied": applied, "digest": digest})


def test_the_applied_state_must_follow_the_commit_index_and_agree_at_one_index() -> None:
    good = [
        sample(0.1, "n1", 5, 5, "a"),
        sample(0.1, "n2", 5, 5, "a"),
        sample(0.2, "n1", 7, 7, "b"),
    ]
    assert checks.applied_state(good).holds
    behind = [*good, sample(0.3, "n3", 9, 4, "c")]
    verdict = checks.applied_state(behind)
    assert verdict.holds is False and "applied 4 entries, its commit index is 9" in verdict.detail
    two = [*good, sample(0.3, "n3", 7, 7, "z")]
    verdict = checks.applied_state(two)
    assert verdict.holds is False and "two states at commit index 7" in verdict.detail
    assert checks.applied_state([]).holds is None


# -- the mutants in real processes ---------------------------------------------------------------

# The leader cut off from the others, and its core crashed 0.1 s later while it holds the writes
# its clients sent meanwhile (none can reach a follower); rebuilt a second later, still cut off;
# back at 3.5 s, it truncates its suffix for the new leader's entries. Both faults name the
# leader the clients saw: 0.1 s is before they can see another.
CUT_AND_CRASH = (
    Fault(1.0, "partition", (nemesis.LEADER,), 2.5),
    Fault(1.1, "crash", (nemesis.LEADER,), 1.0),
)


# make test-all only: in a clean-clone make test (2026-11-27) the planned cut and crash did not
# catch the mutant once in three suites (4 of 4 alone); the timing is real processes', to be made
# deterministic before it guards make test again
@pytest.mark.slow
def test_a_table_of_pending_writes_on_the_class_is_caught_after_a_crash_of_the_core(
    tmp_path: Path,
) -> None:
    """pending_writes_outlive_restart: the rebuilt core takes over the class registry's table and,
    as a follower, answers the writes it held with the results of the entries the new leader put
    at their indexes (a no-op's, another key's): an acknowledged write applied nowhere, a result
    no sequential order gives (measured: 4 of 4 runs, docs/cluster.md)."""
    options = Options(
        time=5,
        seed=1,
        plan=CUT_AND_CRASH,
        validate=False,  # the logs stay valid: the answers are not in the spec
        bugs=frozenset({mutants.PENDING_WRITES_OUTLIVE_RESTART}),
    )
    outcome = run(options, tmp_path)
    failed = {v.check for v in outcome.failed}
    assert failed & {"linearizable (rsm)", "acknowledged writes durable"}, outcome.verdicts
    assert outcome.history.late  # the stale answers came after the clients' timeouts
    assert nodes_of(tmp_path) == []


@pytest.mark.slow  # the correct core under the same faults: every check, the logs included
def test_the_correct_core_holds_under_the_cut_and_crash_of_its_leader(tmp_path: Path) -> None:
    outcome = run(Options(time=5, seed=1, plan=CUT_AND_CRASH), tmp_path)
    assert outcome.holds, [v for v in outcome.verdicts if not v.holds]
    checked = {v.check for v in outcome.verdicts}
    assert {"one answer per request", "applied state (inspected)"} <= checked


@pytest.mark.slow  # a second mutant in processes
def test_a_table_of_pending_writes_reloaded_from_disk_is_caught_after_a_kill(
    tmp_path: Path,
) -> None:
    """pending_writes_persisted: the leader writes its table with each of its log writes, and a
    process restarted after a kill -9 reloads it. It answers again requests it had answered since
    the table's last write, or answers the writes it held with the results of the entries the new
    leader put at their indexes; the clients, sessions that connect again, hear either (under the
    default nemesis, 3 of 3 seeds; under the planned cut and crash of the leader, 4 of 4:
    docs/cluster.md)."""
    options = Options(
        time=8,
        seed=2,
        nemesis=("kill", "pause", "partition"),
        validate=False,
        bugs=frozenset({mutants.PENDING_WRITES_PERSISTED}),
    )
    outcome = run(options, tmp_path)
    failed = {v.check for v in outcome.failed}
    caught = {"linearizable (rsm)", "acknowledged writes durable", "one answer per request"}
    assert failed & caught, outcome.verdicts


# A follower cut off long enough for the leader to compact past its log (a snapshot every 20
# entries), then its links reordering and duplicating frames while it catches up: a snapshot the
# leader sent again before the first was acknowledged can arrive after the follower applied past
# it (frames whole on the proxies: no TLS).
STALE_SNAPSHOT = (
    Fault(1.0, "partition", ("n3",), 1.5),
    Fault(2.3, "reorder", ("n3",), 2.0),
    Fault(2.3, "duplicate", ("n3",), 2.0),
)


@pytest.mark.slow  # a third mutant in processes, and the correct core under the same faults
def test_a_follower_restoring_a_stale_snapshot_is_caught_by_its_state_machine(
    tmp_path: Path,
) -> None:
    """install_stale_snapshot: no log or state file shows the state machine, the samples of it do
    (a machine that applied fewer entries than its commit index). Whether a stale snapshot arrives
    is up to real timing (caught in 2 of 4 seeds' runs, 1 and 4: docs/cluster.md): four tries,
    each a fair chance."""
    core = (("snapshot_interval", 20),)
    options = Options(
        time=6,
        plan=STALE_SNAPSHOT,
        tls=False,
        core=core,
        validate=False,
        bugs=frozenset({mutants.INSTALL_STALE_SNAPSHOT}),
    )
    failed = tries_until_caught("applied state (inspected)", range(1, 5), options, tmp_path)
    assert "applied state (inspected)" in failed[-1], failed
    correct = run(
        Options(time=6, seed=1, plan=STALE_SNAPSHOT, tls=False, core=core), tmp_path / "correct"
    )
    assert correct.holds, [v for v in correct.verdicts if not v.holds]


def test_the_late_answers_reach_a_client_over_its_connection() -> None:
    """A client's connection outlives a request's timeout (impl/runtime/client.py), so that an
    answer after it is heard: here a node that answers a request twice, late."""
    from meshcheck.impl.runtime.client import Client
    from meshcheck.impl.runtime.frames import frame
    from meshcheck.impl.runtime.frames import read_frame

    heard: list[tuple[Any, bool]] = []

    async def node(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_frame(reader)  # hello
        _, theirs, _ = CODEC.decode(await read_frame(reader) or b"")
        await asyncio.sleep(0.2)  # after the client's timeout
        for _ in range(2):
            writer.write(frame(CODEC.encode(("reply", theirs, "done", "", "n1", False))))
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(node, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Client({"n1": ("127.0.0.1", port)}, CODEC)
        client.on_late = lambda tag, answer, again: heard.append((tag, again))
        with pytest.raises(TimeoutError):
            await client.ask("n1", "write", "v", 0.05, tag="op")
        await asyncio.sleep(0.4)
        await client.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert heard == [("op", False), ("op", True)]


class Taking:
    """A core that takes client requests and answers none of them by itself."""

    def __init__(self) -> None:
        self.taken: list[int] = []

    def step(self, event: Any) -> list[Effect]:
        if isinstance(event, ClientRequest):
            self.taken.append(event.request_id)
        return []


def test_a_node_answers_a_session_on_its_next_connection(tmp_path: Path) -> None:
    """A session's answer given while it has no connection to the node (a process restarted after
    a kill answers what it reloaded) waits for the session to connect again; a plain client's
    answer after its connection closed goes nowhere."""
    from meshcheck.impl.runtime.client import Client

    core = Taking()
    disk = Disk(tmp_path / "state.wal", CODEC)
    heard: list[tuple[Any, Any, bool]] = []

    async def main() -> None:
        host = Host("n1", core, CODEC, disk, {})
        server = await host.start("127.0.0.1", 0)
        nodes = {"n1": ("127.0.0.1", server.sockets[0].getsockname()[1])}
        client = Client(nodes, CODEC, "c1.1", session=True)
        client.on_late = lambda tag, answer, again: heard.append((tag, answer.result, again))
        with pytest.raises(TimeoutError):
            await client.ask("n1", "write", "v", 0.05, tag="w")
        await client.close()  # the connection is gone when the core answers
        await asyncio.sleep(0.05)
        host._answer(Reply(core.taken[0], "done", leader="n1"))
        plain = Client(nodes, CODEC, "c2.1")
        with pytest.raises(TimeoutError):
            await plain.ask("n1", "write", "x", 0.05)
        await plain.close()
        await asyncio.sleep(0.05)
        host._answer(Reply(core.taken[1], "lost", leader="n1"))  # no session: nowhere to go
        client.keep_connected()  # the same session, connected again
        await asyncio.sleep(0.3)
        await client.close()
        server.close()
        await server.wait_closed()
        await host.stop()

    asyncio.run(main())
    assert core.taken[0] > 2**32 > core.taken[1]  # a session's id, a plain client's
    assert heard == [("w", "done", False)]
