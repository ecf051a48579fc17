"""etcd's Raft library (go.etcd.io/etcd/raft, etcd 3.4 from Debian) under meshcheck's simulator,
through the Go driver in drivers/etcd-raft (docs/etcd-raft.md) and the driver protocol: free runs
with loss, duplication, delay, crashes and partitions, clients reading and writing, the Raft
invariants on every step's state (election safety, log matching, leader completeness, state
machine safety) and the clients' history checked; a run replays; a driver that serves reads
anywhere is caught by the history check; bad driver arguments are one line and exit 2."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshcheck.drivers.pipe import DriverProcess, pipe_plugin
from meshcheck.impl.adapters.contract import Ghost, raft_committed
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from tests.adapter_example import check_sim, sim_config

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / ".build" / "etcd-raft-driver"
# what the driver's `state` gives of Raft.tla's variables (docs/etcd-raft.md): the library keeps
# its vote in its hard state, which RawNode.Status does not show as the spec's votedFor
VARIABLES = ("currentTerm", "role", "commitIndex", "log", "snapshotIndex", "snapshotTerm")
NODES = ("s1", "s2", "s3")


@pytest.fixture(scope="module")
def built() -> Path:
    """The driver, built by `make etcd-raft` (skipped with its one line when it cannot be)."""
    made = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "etcd-raft"], capture_output=True, text=True, check=False
    )
    if not DRIVER.exists():
        said = (made.stdout + made.stderr).strip().splitlines()
        pytest.skip(said[-1] if said else "make etcd-raft built no driver")
    return DRIVER


@pytest.fixture
def driver(built: Path) -> Iterator[DriverProcess]:
    with DriverProcess([str(built)], name="etcd-raft", timeout=30) as process:
        yield process


def _schedule(seed: int) -> Schedule:
    return Schedule(
        seed=seed, ticks=1500, drop=0.05, duplicate=0.05, delay=0.1, crash=0.3, partition=0.3,
        reads=0.5,
    )  # fmt: skip


def _cluster(process: DriverProcess, schedule: Schedule) -> Simulator[Any]:
    plugin = pipe_plugin(
        process,
        NODES,
        variables=VARIABLES,
        ghosts=(Ghost("committed", (), raft_committed),),
        spec="Raft",
    )
    return Simulator(plugin, NODES, sim_config(schedule))


def test_etcds_raft_holds_under_faults_and_its_clients_see_a_linearizable_history(
    driver: DriverProcess,
) -> None:
    actions: set[str] = set()
    ok = 0
    for seed in range(1, 7):
        schedule = _schedule(seed)
        sim = check_sim(_cluster(driver, schedule), schedule)
        actions |= {s.action for s in sim.trace().steps}
        assert sim.history is not None
        ok += sum(1 for o in sim.history.history() if o.status == "ok")
    # the runs did what the checks judge: elections, replication, crashes, reads and writes answered
    assert {
        "Timeout",
        "HandleAppendEntriesRequest",
        "Restart",
        "ClientRequest",
        "ClientRead",
    } <= actions
    assert ok > 100


def test_a_run_replays(driver: DriverProcess) -> None:
    """The library draws its election timeouts from the node's generator (drivers/etcd-raft/
    rand.go): the same schedule, the same run."""
    runs = []
    for _ in range(2):
        sim = _cluster(driver, _schedule(5))
        sim.run(until=1500)
        runs.append([(s.action, s.params, s.state) for s in sim.trace().steps])
    assert len(runs[0]) > 100 and runs[0] == runs[1]


def test_a_driver_that_reads_anywhere_is_caught_by_the_history(built: Path) -> None:
    # seed 16: 8 of 30 seeds catch it (docs/etcd-raft.md); the correct driver holds on seed 16
    schedule = _schedule(16)
    with DriverProcess([str(built)], name="etcd-raft", timeout=30) as process:
        check_sim(_cluster(process, schedule), schedule)
    with (
        DriverProcess(
            [str(built), "--bug", "reads-anywhere"], name="etcd-raft", timeout=30
        ) as process,
        pytest.raises(CheckFailed, match="not linearizable"),
    ):
        check_sim(_cluster(process, schedule), schedule)


@pytest.mark.parametrize(
    ("args", "says"),
    [(["--bug", "nope"], 'no bug "nope"'), (["--verbose"], "usage: etcd-raft-driver")],
)
def test_bad_driver_arguments_are_one_line_and_exit_2(
    built: Path, args: list[str], says: str
) -> None:
    done = subprocess.run(
        [str(built), *args], capture_output=True, text=True, check=False, input=""
    )
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines


class _Scripted:
    """Requests to the driver by hand, each node's durable writes kept as meshcheck's disk keeps
    them, so that a node can crash and boot from exactly what it wrote."""

    def __init__(self, process: DriverProcess) -> None:
        self.process = process
        self.disk: dict[str, dict[str, Any]] = {n: {} for n in NODES}
        process.hello(NODES)
        for k, n in enumerate(NODES):
            self.call(n, {"call": "boot", "persisted": {}, "now": 0, "seed": 11 + k})

    def call(self, node: str, request: dict[str, Any]) -> list[dict[str, Any]]:
        """The request's sends (each with its spec-like record), its writes kept."""
        done = self.process.call({**request, "node": node}, node).get("done", {})
        for w in done.get("writes", []):
            if "put" in w:
                self.disk[node][w["put"]] = {"value": w["value"]}
            else:
                items = self.disk[node].get(w["splice"], {"items": []})["items"]
                self.disk[node][w["splice"]] = {"items": items[: w["start"]] + w["items"]}
        sends: list[dict[str, Any]] = done.get("sends", [])
        return sends

    def campaign(self, node: str) -> list[dict[str, Any]]:
        for tick in range(1, 200):
            sends = self.call(node, {"call": "fire", "timer": "tick", "now": 10 * tick})
            if any(s["record"]["mtype"] == "MsgVote" for s in sends):
                return sends
        raise AssertionError(f"{node} never campaigned")

    def deliver(self, source: str, send: dict[str, Any]) -> list[dict[str, Any]]:
        return self.call(
            send["to"], {"call": "deliver", "source": source, "message": send["message"], "now": 0}
        )

    def crash(self, node: str) -> None:
        self.call(node, {"call": "boot", "persisted": self.disk[node], "now": 0, "seed": 99})

    def leaders(self) -> dict[str, int]:
        out = {}
        for n in NODES:
            state = self.process.call({"call": "state", "node": n}, n)["state"]
            if state["role"] == "Leader":
                out[n] = state["currentTerm"]
        return out


def _double_vote(process: DriverProcess) -> dict[str, int]:
    """s1 and s3 campaign in the same term; s2 votes for s1, crashes and boots from its disk, and
    is then asked by s3: a node that remembered its vote refuses. The leaders after both count."""
    run = _Scripted(process)
    to = {s["to"]: s for s in run.campaign("s1") if s["record"]["mtype"] == "MsgVote"}
    s3_asks = {s["to"]: s for s in run.campaign("s3") if s["record"]["mtype"] == "MsgVote"}
    assert to["s2"]["record"]["mterm"] == s3_asks["s2"]["record"]["mterm"]  # one term
    for_s1 = run.deliver("s1", to["s2"])
    run.crash("s2")
    for_s3 = run.deliver("s3", s3_asks["s2"])
    for answer in (*for_s1, *for_s3):
        run.deliver("s2", answer)
    return run.leaders()


def test_a_vote_not_made_durable_elects_two_leaders_in_a_term(built: Path) -> None:
    """The free runs do not reach it (0 of 30 seeds, docs/etcd-raft.md); this scripted path does:
    with the vote in the hard state, one leader; without it, s2 votes twice and ElectionSafety
    breaks."""
    with DriverProcess([str(built)], name="etcd-raft", timeout=30) as process:
        assert list(_double_vote(process)) == ["s1"]
    with DriverProcess([str(built), "--bug", "vote-not-durable"], name="e", timeout=30) as process:
        leaders = _double_vote(process)
    assert sorted(leaders) == ["s1", "s3"] and leaders["s1"] == leaders["s3"], leaders
