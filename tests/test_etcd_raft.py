"""etcd's Raft library (go.etcd.io/etcd/raft, etcd 3.4 from Debian) under meshcheck's simulator,
through the Go driver in drivers/etcd-raft (docs/etcd-raft.md) and the driver protocol: free runs
with loss, duplication, delay, crashes and partitions, clients reading and writing, the Raft
invariants on every step's state (election safety, log matching, leader completeness, state
machine safety) and the clients' history checked; the runs' NDJSON logs validated step by step
against specs/RaftEtcd.tla; a run replays; a driver that serves reads anywhere is caught by the
history check, one that forgets its vote across a restart by the log's validation; bad driver
arguments are one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshcheck.drivers.pipe import DriverProcess
from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.adapters.contract import open_log
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.etcd_raft import NODES
from meshcheck.property_tests.etcd_raft import SPEC
from meshcheck.property_tests.etcd_raft import check_validated
from meshcheck.property_tests.etcd_raft import etcd_plugin
from meshcheck.property_tests.etcd_raft import validated_run
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.traces.logs.format import read
from meshcheck.traces.logs.validate import Verdict
from meshcheck.traces.logs.validate import validate
from tests.adapter_example import check_sim
from tests.adapter_example import sim_config

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / ".build" / "etcd-raft-driver"


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


def _cluster(
    process: DriverProcess, schedule: Schedule, log: NdjsonLog | None = None
) -> Simulator[Any]:
    plugin = etcd_plugin(process, log)
    return Simulator(plugin, NODES, sim_config(schedule))


def _validated(process: DriverProcess, schedule: Schedule, folder: Path) -> Verdict:
    """The run checked as the free runs are (CheckFailed when it breaks), its NDJSON log
    validated against specs/RaftEtcd.tla."""
    log, out = open_log(folder, f"seed-{schedule.seed}")
    with out:
        check_sim(_cluster(process, schedule, log), schedule)
    records = read(folder / f"seed-{schedule.seed}.ndjson")
    return validate(records, SPEC, deadline=time.monotonic() + 120)


def test_etcds_raft_holds_under_faults_and_its_clients_see_a_linearizable_history(
    driver: DriverProcess,
) -> None:
    actions: set[str] = set()
    answered: dict[str, int] = {}
    for seed in range(1, 7):
        schedule = _schedule(seed)
        sim = check_sim(_cluster(driver, schedule), schedule)
        actions |= {s.action for s in sim.trace().steps}
        assert sim.history is not None
        for o in sim.history.history():
            if o.status == "ok":
                answered[o.kind] = answered.get(o.kind, 0) + 1
    # the runs did what the checks judge: elections, replication, crashes, reads and writes
    # answered (a read is no step of the trace: ReadIndex changes no spec variable, its heartbeats
    # are steps of their own)
    assert {
        "Timeout",
        "HandleAppendEntriesRequest",
        "Heartbeat",
        "Restart",
        "ClientRequest",
    } <= actions
    assert sum(answered.values()) > 100 and answered.get("read", 0) > 10, answered


# every action of RaftEtcd.tla these runs take: all but HandleRequestVoteRequestLeaderKnown (a
# server that knows its term's leader without having voted in that term, asked by a candidate of
# the same term: with three servers that candidate would need a vote the leader had, docs/etcd-
# raft.md) and the actions no run of the driver takes (pre-vote, snapshots, ReadIndex's own steps)
RAFT_ETCD_ACTIONS = {
    "Timeout", "HandleRequestVoteRequest", "HandleRequestVoteResponse",
    "HandleRequestVoteResponseLost", "ClientRequest", "AppendEntries", "PipelineAppendEntries",
    "Heartbeat", "HandleAppendEntriesRequest", "HandleAppendEntriesRequestBelowCommit",
    "HandleAppendEntriesResponse", "HandleAppendEntriesResponseBackOff", "IgnoreStaleRequest",
    "RestartKeepingCommit",
}  # fmt: skip


def test_runs_with_every_fault_validate_against_raft_etcd(
    driver: DriverProcess, tmp_path: Path
) -> None:
    """Seeds 34 and 73 of the free runs' schedule between them take every action above: each
    log is a behaviour of RaftEtcd.tla (100 of seeds 31-130 were, docs/etcd-raft.md)."""
    taken: set[str] = set()
    for seed in (34, 73):
        verdict = _validated(driver, _schedule(seed), tmp_path)
        assert verdict.ok, verdict.render()
        assert verdict.records > 200
        taken |= {r.action for r in read(tmp_path / f"seed-{seed}.ndjson")}
    assert taken == RAFT_ETCD_ACTIONS, taken ^ RAFT_ETCD_ACTIONS


def test_a_vote_not_made_durable_is_caught_by_the_logs_validation(
    built: Path, tmp_path: Path
) -> None:
    """The history check needs a scripted path for this bug (below); validation catches it in a
    free run, at the first restart of a node that had voted in its term: the spec keeps the vote
    (26 of seeds 1-30 rejected, docs/etcd-raft.md). Seed 3 is valid with the correct driver."""
    with DriverProcess([str(built)], name="etcd-raft", timeout=30) as process:
        assert _validated(process, _schedule(3), tmp_path / "correct").ok
    args = [str(built), "--bug", "vote-not-durable"]
    with DriverProcess(args, name="etcd-raft", timeout=30) as process:
        verdict = _validated(process, _schedule(3), tmp_path / "bug")
    assert verdict.verdict == "invalid" and verdict.diagnosis is not None
    assert verdict.diagnosis.record == "RestartKeepingCommit(i=s2)"
    assert "votedFor[s2]: logged None, spec s2" in verdict.diagnosis.reason


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
        # the NDJSON log of the spec steps taken, in the order taken (docs/logs.md)
        self.log: list[dict[str, Any]] = []
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
        for step in done.get("steps", []):
            if step.get("in_spec", True):
                params = dict(step["params"])
                if "message" in step:
                    params["m"] = step["message"]
                state = self.process.call({"call": "state", "node": node}, node)["state"]
                self.log.append(
                    {"run": "scripted", "node": node, "clock": len(self.log) + 1,
                     "action": step["action"], "params": params, "state": state}
                )  # fmt: skip
        sends: list[dict[str, Any]] = done.get("sends", [])
        return sends

    def validated(self, folder: Path) -> Verdict:
        """The steps so far, as a log, validated against specs/RaftEtcd.tla."""
        path = folder / "scripted.ndjson"
        path.write_text("".join(json.dumps(line) + "\n" for line in self.log))
        return validate(read(path), SPEC, deadline=time.monotonic() + 60)

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


def test_a_vote_refused_because_the_leader_is_known_is_a_step_of_the_spec(
    driver: DriverProcess, tmp_path: Path
) -> None:
    """RaftEtcd.tla's HandleRequestVoteRequestLeaderKnown, which no free run took (docs/etcd-
    raft.md): s1 wins with s2's vote, its heartbeat reaches s3 before its own vote request does
    (its append, which would make s3's log newer than the request says, is lost), and s3, which
    has not voted in the term but knows its leader, refuses where Raft.tla grants. The scripted
    run's log is valid; with Raft.tla's handler for that step it is not."""
    run = _Scripted(driver)
    asks = {s["to"]: s for s in run.campaign("s1") if s["record"]["mtype"] == "MsgVote"}
    (granted,) = run.deliver("s1", asks["s2"])
    run.deliver("s2", granted)
    beats: list[dict[str, Any]] = []
    for tick in range(1, 20):
        sends = run.call("s1", {"call": "fire", "timer": "tick", "now": 2000 + 10 * tick})
        beats = [s for s in sends if s["to"] == "s3" and s["record"]["mtype"] == "MsgHeartbeat"]
        if beats:
            break
    run.deliver("s1", beats[0])
    (answer,) = run.deliver("s1", asks["s3"])
    assert run.log[-1]["action"] == "HandleRequestVoteRequestLeaderKnown"
    assert run.log[-1]["state"]["votedFor"] == "None"
    assert answer["record"]["mtype"] == "MsgVoteResp"
    verdict = run.validated(tmp_path)
    assert verdict.ok and verdict.records == len(run.log), verdict.render()
    # as Raft.tla's handler the same step is no step of the spec: there s3 grants
    run.log[-1]["action"] = "HandleRequestVoteRequest"
    verdict = run.validated(tmp_path)
    assert verdict.diagnosis is not None, verdict.render()
    assert "votedFor[s3]: logged None, spec s1" in verdict.diagnosis.reason


def test_verifys_check_validates_fresh_seeds_and_rejects_the_forgotten_vote(built: Path) -> None:
    """`meshcheck verify`'s row (meshcheck/verify_etcd.py): runs of the driver's own schedule
    (property_tests/etcd_raft.py), here two drawn from an exploration's seed, each valid, and
    the driver that forgets its vote rejected at a restart."""
    ok, records, _, detail = check_validated(built, 2, seed=20261126)
    assert ok and records > 100, detail
    assert detail.startswith("2 runs valid") and "rejected at a restart" in detail


def test_without_the_driver_verifys_row_is_a_skip_with_the_fix(tmp_path: Path) -> None:
    from meshcheck.verify_etcd import etcd_raft_row

    row = etcd_raft_row(tmp_path, "default", None)
    assert row.result == "skip" and "make etcd-raft builds it" in row.detail


def test_runs_with_pre_vote_and_check_quorum_validate(built: Path, tmp_path: Path) -> None:
    """The driver with the library's PreVote and CheckQuorum (`--pre-vote --check-quorum`),
    its log validated with RaftEtcd.tla's PreVote and CheckQuorum: seed 37 takes the pre-vote's
    answers, a refusal's newer term, a lost pre-election, a vote request ignored in the lease and
    the leader's step-down (40 of seeds 1-40 valid, docs/etcd-raft.md)."""
    run = validated_run(built, 37, tmp_path, pre_vote=True, check_quorum=True)
    assert run.problem is None and run.verdict == "valid", run.diagnosis
    taken = {r.action for r in read(tmp_path / "seed-37.ndjson")}
    assert {
        "PreVoteTimeout", "HandlePreVoteRequestEtcd", "HandlePreVoteResponse",
        "HandlePreVoteResponseNewerTerm", "HandlePreVoteResponseLost",
        "IgnoreVoteRequestInLease", "LeaderStepDown",
    } <= taken, taken  # fmt: skip
    assert "Timeout" not in taken  # with pre-vote every election starts with a pre-election
