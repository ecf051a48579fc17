"""The nemesis's disk faults in the plan (meshcheck/cluster/nemesis.py) and as carried out
(strike.py): a power failure strikes one node, a minority or every node at once; a corruption a
minority, counted down for the rest of the run; the minority rule holds for all but the power
failure of every node, which waits for every other fault on a node to be undone."""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from meshcheck.cluster import disk_faults
from meshcheck.cluster import nemesis
from meshcheck.cluster import strike
from meshcheck.cluster.nemesis import LEADER
from meshcheck.cluster.nemesis import Fault
from meshcheck.faults.corrupt import Corruption
from meshcheck.impl.base.errors import MeshcheckError

FIVE = [f"n{k}" for k in range(1, 6)]


def _down_at(plan: list[Fault], t: float) -> set[str]:
    """The nodes a plan holds down at `t`, a corruption's until the end (it may refuse to start)."""
    out: set[str] = set()
    for f in plan:
        until = math.inf if f.kind == "corrupt" else f.at + f.lasts
        if f.kind in strike.DOWN and f.at <= t < until:
            out |= set(f.nodes)
    return out


def test_power_failures_strike_one_node_a_minority_or_every_node() -> None:
    scopes: dict[str, int] = {}
    for seed in range(40):
        plan = nemesis.plan(seed, 60, ("power", "corrupt", "kill"), FIVE)
        assert plan == nemesis.plan(seed, 60, ("power", "corrupt", "kill"), FIVE)
        for f in plan:
            if f.kind == "power":
                scopes[f.scope] = scopes.get(f.scope, 0) + 1
                if f.scope == "all":
                    assert f.nodes == tuple(FIVE)
                    assert "every node at once" in f.describe()
                    others = [
                        g
                        for g in plan
                        if g is not f
                        and g.kind in strike.DOWN
                        and g.at < f.at + f.lasts
                        and f.at < g.at + g.lasts
                    ]
                    assert others == [], (seed, f, others)
                else:
                    assert len(f.nodes) <= 2
                    assert (f.scope == "one") == (len(f.nodes) == 1 and f.scope != "minority")
            if f.kind == "corrupt":
                assert 1 <= len(f.nodes) <= 2 and LEADER not in f.nodes
                assert "truncated or bit-flipped" in f.describe()
        every = [f for f in plan if f.kind == "power" and f.scope == "all"]
        for t in [x / 20 for x in range(1200)]:
            if not any(f.at <= t < f.at + f.lasts for f in every):
                assert len(_down_at(plan, t)) <= 2, (seed, t)  # a minority of five
    assert set(scopes) == set(nemesis.SCOPES), scopes


def test_parse_kinds_and_the_help_know_the_disk_faults() -> None:
    assert nemesis.parse_kinds("power,corrupt") == ("power", "corrupt")
    with pytest.raises(MeshcheckError, match="power, corrupt"):
        nemesis.parse_kinds("powerr")
    import inspect

    from meshcheck import cluster_cmd

    source = inspect.getsource(cluster_cmd.add_parser)
    for kind in nemesis.KINDS:
        assert kind in source, f"--nemesis's help does not name {kind}"


class Recorder:
    """Processes that only count who is down."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.most = 0
        self.seen: list[tuple[str, frozenset[str]]] = []

    def kill(self, name: str) -> None:
        self.down.add(name)
        self.most = max(self.most, len(self.down))

    def start(self, name: str) -> None:
        self.down.discard(name)

    def pause(self, name: str) -> None:
        self.kill(name)

    def resume(self, name: str) -> None:
        self.start(name)


def _run(plan: list[Fault], target: Recorder, names: tuple[str, ...]) -> list[str]:
    struck: list[tuple[float, str]] = []
    began = time.monotonic()

    async def leader() -> str:
        return "n1"

    async def disk_fault(fault: Fault) -> object:
        target.seen.append((fault.kind, frozenset(target.down)))
        for n in fault.nodes:
            target.kill(n)

        async def restart() -> None:
            for n in fault.nodes:
                target.start(n)

        return restart

    asyncio.run(
        strike.carry_out(
            plan,
            target,
            names,
            lambda: time.monotonic() - began,
            struck,
            leader=leader,
            links=lambda fault: lambda: None,
            power=disk_fault,  # type: ignore[arg-type]
            corrupt=disk_fault,  # type: ignore[arg-type]
        )
    )
    return [what for _at, what in sorted(struck)]


def test_a_power_failure_of_every_node_waits_for_the_kill_in_force() -> None:
    names = ("n1", "n2", "n3")
    # the kill of n2 lasts to 0.3 s; the power failure of all is planned at 0.1 s
    plan = [Fault(0.0, "kill", ("n2",), 0.3), Fault(0.1, "power", names, 0.1, scope="all")]
    target = Recorder()
    done = _run(plan, target, names)
    assert target.seen == [("power", frozenset())]  # n2 was back when the power failed
    assert target.most == 3  # every node down at once: the point of the fault
    assert done[:2] == ["kill n2", "kill n2 undone"]
    assert done[2:] == ["power n1,n2,n3", "power n1,n2,n3 undone"]


def test_a_corruption_of_two_counts_two_places_and_names_the_leader_when_it_strikes() -> None:
    names = tuple(FIVE)
    plan = [
        Fault(0.0, "corrupt", ("n2", "n3"), 0.2),
        Fault(0.05, "power", (LEADER,), 0.1, scope="one"),
    ]
    assert strike.most_down(plan, names) == 3
    target = Recorder()
    done = _run(plan, target, names)
    assert "corrupt n2,n3" in done and "power n1" in done
    assert target.most == 3


def test_most_down_leaves_out_the_power_failure_of_every_node() -> None:
    names = ("n1", "n2", "n3")
    plan = [Fault(0.0, "power", names, 1.0, scope="all"), Fault(2.0, "kill", ("n1",), 1.0)]
    assert strike.most_down(plan, names) == 1


def test_a_power_failure_without_fuse_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from meshcheck.faults import lazyfs
    from tests.test_cluster_cmd import refused

    monkeypatch.setattr(lazyfs, "fuse_unavailable", lambda: "no /dev/fuse on this machine")
    err = refused(["--nemesis", "kill,power"], tmp_path, capsys)
    assert "--nemesis power: each node's data directory goes on a lazy filesystem" in err
    assert "no /dev/fuse" in err
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_corrupt_is_refused_where_the_checks_need_every_node_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_cluster_cmd import refused

    err = refused(["--protocol", "gossip", "--nemesis", "corrupt"], tmp_path, capsys)
    assert "--nemesis corrupt: a node that refuses its damaged state file stays down" in err


class _Outage:
    """Nodes whose restart after a power failure of every node is ready only once every one of
    them is starting (a Galera node whose peers all failed waits for them), and disks that lose
    nothing: a Barrier of the three starts, broken when they come one after another."""

    durability = "journal"

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.up = set(names)
        self.together = threading.Barrier(len(names), timeout=2.0)

    def kill(self, name: str) -> None:
        self.up.discard(name)

    def start(self, name: str) -> None:
        self.together.wait()  # BrokenBarrierError: this node never became ready
        self.up.add(name)

    def pause(self, name: str) -> None: ...

    def resume(self, name: str) -> None: ...

    def running(self) -> list[str]:
        return sorted(self.up)

    def tail(self, name: str, lines: int = 3) -> str:
        return ""

    def losses(self, node: str) -> list[str]:
        return []

    def power_failure(self, node: str) -> int:
        return 0

    def corrupt(self, node: str, rng: random.Random, globs: Sequence[str]) -> list[Corruption]:
        return []


def test_a_power_failure_of_every_node_restarts_them_together() -> None:
    names = ("g1", "g2", "g3")
    outage = _Outage(names)
    said: list[str] = []
    power, _ = disk_faults.callbacks(outage, outage, 0, (), said.append, settle=0.0)

    async def fail_and_restart() -> None:
        back = await power(Fault(0.0, "power", names, 0.1, scope="all"))
        await back()

    asyncio.run(fail_and_restart())
    assert outage.running() == list(names), said
    assert not [line for line in said if "did not come back" in line], said
