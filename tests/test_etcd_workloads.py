"""etcd under the watch, lease, fenced-lock and list-append workloads (meshcheck/systems/checked.py,
docs/etcd.md): each runs from etcd's system file and holds under kills (loopback) and partitions (a
namespace per member) in a short run; each checker catches its workload's mutant on the real system
(`broken`: watchers that resume one revision too far, a keep-alive loop stalled past the TTL that
records renewals, a register written without the token compare, transactions committed without
their mod_revision compares); a client paused past its lease is a second holder, which fencing
keeps from the register; a power failure of every member loses etcd's acknowledged writes (its
`member` directory is never made durable); the long pause, the lease bound, the leader count and
bad input need no etcd."""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.cluster import nemesis
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.netns import missing
from meshcheck.systems import checked
from meshcheck.systems import registry
from meshcheck.systems.run import RunOptions
from meshcheck.systems.run import leader_changes
from meshcheck.systems.run import run

NEW = ("watch", "lease", "fenced-lock", "list-append")
no_etcd = shutil.which("etcd") is None
needs_etcd = pytest.mark.skipif(no_etcd, reason="etcd is not installed: `make etcd`")
needs_netns = pytest.mark.skipif(
    no_etcd or missing() is not None,
    reason=f"etcd in namespaces: {missing() or 'etcd is not installed: `make etcd`'}",
)


def etcd() -> registry.System:
    system = registry.resolve("etcd")
    assert isinstance(system, registry.System)
    return system


def verdicts(outcome: object) -> dict[str, bool | None]:
    return {v.check: v.holds for v in outcome.verdicts}  # type: ignore[attr-defined]


def assert_holds(outcome: object) -> None:
    """Every verdict holds; but a lease may outlive its TTL after a leader change (etcd's new
    leader renews every lease: lease/lessor.go `Promote`), so that one is owed only without."""
    found = verdicts(outcome)
    if outcome.leader_changes:  # type: ignore[attr-defined]
        found.pop("lease: gone once lapsed", None)
    assert all(found.values()), outcome.verdicts  # type: ignore[attr-defined]
    assert found


@needs_etcd
@pytest.mark.slow  # four etcd runs; make test keeps each workload's mutant run below
@pytest.mark.parametrize("workload", NEW)
def test_each_workload_holds_under_kills(workload: str, tmp_path: Path) -> None:
    """A member killed (the leader first) and restarted: the workload's own checker holds, the
    clients made progress after, and the history is in the checker's format (the replay line
    gives the same verdict)."""
    plan = (Fault(1.0, "kill", (nemesis.LEADER,), 1.5),)
    options = RunOptions(time=6, seed=3, workload=workload, plan=plan, network="loopback")
    outcome = run(etcd(), options, tmp_path, lambda _: None)
    assert_holds(outcome)
    assert len(outcome.struck) == 2, outcome.struck
    replay = (tmp_path / "replay.txt").read_text().split()
    assert replay[:3] == ["meshcheck", "history", "check"]
    assert main(replay[1:]) == (0 if outcome.holds else 1)  # the run's verdict, replayed


@needs_netns
@pytest.mark.slow  # four etcd runs in namespaces
@pytest.mark.parametrize("workload", NEW)
def test_each_workload_holds_under_a_partition(workload: str, tmp_path: Path) -> None:
    plan = (Fault(1.0, "partition", (nemesis.LEADER,), 2.0),)
    options = RunOptions(time=6, seed=4, workload=workload, plan=plan, network="netns")
    outcome = run(etcd(), options, tmp_path, lambda _: None)
    assert_holds(outcome)
    assert "partition" in (tmp_path / "network.log").read_text()


@needs_etcd
@pytest.mark.parametrize(
    ("workload", "broken", "check", "finding", "seconds"),
    [
        # make test runs list-append's; watch's and lease's are the slow tier's (two runs each)
        pytest.param(
            "watch",
            "watch-skip",
            "watch: every change, in order",
            "skipped (",
            8,
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "lease",
            "stalled-keepalive",
            "lease: never gone while kept alive",
            "vanished-early (",
            8,
            marks=pytest.mark.slow,
        ),
        # 5 s: a shorter run is lengthened by 5 s of calm (meshcheck/systems/run.py RECOVERY)
        ("list-append", "unguarded-txn", "list-append (Elle)", "not serializable", 5),
    ],
)
def test_each_checker_catches_its_workloads_mutant(
    workload: str, broken: str, check: str, finding: str, seconds: int, tmp_path: Path
) -> None:
    """The same run without the mutant holds; with it, the workload's checker refuses it."""
    system = etcd()
    options = RunOptions(time=seconds, seed=5, workload=workload, nemesis=(), network="loopback")
    assert run(system, options, tmp_path / "sound", lambda _: None).holds
    broke = attrs.evolve(options, broken=broken)
    outcome = run(system, broke, tmp_path / "broken", lambda _: None)
    assert verdicts(outcome)[check] is False, outcome.verdicts
    assert finding in (tmp_path / "broken" / "anomaly.txt").read_text()


@needs_etcd
@pytest.mark.moved(
    stand_in="tests/test_cluster_etcd.py::test_a_client_paused_past_its_lease_is_a_second_holder",
    why="etcd with a client stalled past its lease, a second holder caught; the fenced-lock "
    "checker's two verdicts are its own tests' (tests/test_history_checkers.py)",
)
def test_fencing_keeps_a_holder_paused_past_its_lease_off_the_register(tmp_path: Path) -> None:
    """The first holder stalls 7 s, past its 5 s lease: another takes the lock under it, so
    mutual exclusion fails (as etcd's leases allow, Jepsen's etcd 3.4.3 analysis); the token
    compare rejects the stalled holder's write, so fencing holds. Without the compare (the
    `unfenced` mutant) the stale write is accepted and the fencing verdict fails."""
    system = etcd()
    options = RunOptions(time=12, seed=6, workload="fenced-lock", nemesis=(),
                         network="loopback", client_pause=7)  # fmt: skip
    fenced = verdicts(run(system, options, tmp_path / "fenced", lambda _: None))
    assert fenced["fenced lock: mutual exclusion"] is False
    assert fenced["fenced lock: fencing kept the register safe"] is True
    bare = attrs.evolve(options, broken="unfenced")
    unfenced = verdicts(run(system, bare, tmp_path / "bare", lambda _: None))
    assert unfenced["fenced lock: fencing kept the register safe"] is False
    assert "stale-write-accepted" in (tmp_path / "bare" / "anomaly.txt").read_text()


@needs_etcd  # docs/findings.md, etcd: a power failure of every member
@pytest.mark.moved(
    stand_in="tests/test_lazy_fs_cluster.py::test_the_mutant_without_fsyncs_loses_acknowledged_writes_at_a_power_failure",
    why="a power failure of every node on the lazy file system loses acknowledged writes whose "
    "names were never synced; etcd runs from its file in make test (tests/test_cluster_etcd.py)",
)
def test_a_power_failure_of_every_member_loses_acknowledged_writes(tmp_path: Path) -> None:
    """etcd 3.4 creates its `member` directory and never fsyncs the data directory that holds
    it: on a file system that keeps only what was synced (meshcheck/faults/lazy_tree.py, POSIX's
    rules), a power failure of every member before anything else syncs it leaves each member
    empty, and they bootstrap a new cluster. Every change acknowledged before it is gone from the
    store's history, and the watchers were sent revisions that now mean other changes."""
    plan = (Fault(2.0, "power", ("e1", "e2", "e3"), 1.0, scope="all"),)
    options = RunOptions(time=8, seed=7, workload="watch", plan=plan, network="loopback",
                         nemesis=("power",))  # fmt: skip
    outcome = run(etcd(), options, tmp_path, lambda _: None)
    found = verdicts(outcome)
    assert found["watch: acknowledged changes in the history"] is False, outcome.verdicts
    assert found["watch: every change, in order"] is False


def test_a_long_pause_lasts_what_it_is_asked() -> None:
    """--long-pause 6: every pause of the plan lasts 6 s, and still never more than a minority is
    down or paused at once."""
    names = ["e1", "e2", "e3"]
    for seed in range(20):
        plan = nemesis.plan(seed, 20, ("pause", "kill"), names, pause=6.0)
        pauses = [f for f in plan if f.kind == "pause"]
        assert all(f.lasts == 6.0 for f in pauses), plan
        for f in plan:
            at = [g for g in plan if g is not f and g.at < f.at + f.lasts and f.at < g.at + g.lasts]
            assert not at, (f, at)
    assert any(f.kind == "pause" for s in range(20) for f in nemesis.plan(s, 20, ("pause",), names,
                                                                          pause=6.0))  # fmt: skip


def test_the_lease_bound_is_the_slack_plus_the_largest_clock_fault() -> None:
    plan = [Fault(1.0, "clock", ("e1",), 2.0, False, -3000, 2.0), Fault(4.0, "kill", ("e2",), 1.0)]
    assert checked.clock_bound("lease", plan) == checked.LEASE_SLACK + 3.0 + 2.0
    assert checked.clock_bound("lease", plan[1:]) == checked.LEASE_SLACK
    assert checked.clock_bound("watch", plan) == 0.0


def test_leader_changes_count_who_led_not_the_gaps() -> None:
    assert leader_changes([(0.0, "e1"), (1.0, None), (2.0, "e1"), (3.0, "e2"), (4.0, "e3")]) == 2
    assert leader_changes([]) == 0


@pytest.mark.parametrize("flag", [["--long-pause", "6"], ["--broken", "unfenced"]])
def test_the_cores_refuse_the_system_runs_flags(
    flag: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "test", "--protocol", "raft", *flag, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{flag[0]}: only for a system run from its file" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--workload", "watch", "--broken", "unfenced"],
         "--broken unfenced: the watch workload's mutants are watch-skip"),
        (["--workload", "registers", "--broken", "x"],
         "--broken x: the registers workload's mutants are none"),
        (["--workload", "watch", "--reads", "serializable"],
         "--reads serializable: the watch workload reads nothing"),
        (["--workload", "lease", "--long-pause", "x"], "--long-pause x"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if no_etcd:
        pytest.skip("etcd is not installed: `make etcd`")
    argv = ["cluster", "test", "--system", "etcd", "--network", "loopback", *flags]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1, err
