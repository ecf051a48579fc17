"""`meshcheck claims deployment` (meshcheck/claims/deployment.py): how an election, a recovery and
a target's verdict are read off a run; one short Raft run on processes measured end to end; any
system from its file (`--system`, docs/systems.md) measured through the generic runner, etcd end
to end beside the project's Raft in one table; bad input is one line and exit 2."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from meshcheck.claims import deployment as dep
from meshcheck.cli import main
from meshcheck.cluster.inspection import Sample
from meshcheck.cluster.nemesis import LEADER
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.run import run
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.plugin import Status
from meshcheck.traces.history.history import Op

DATA = Path(__file__).parent / "data" / "systems"
needs_etcd = pytest.mark.skipif(shutil.which("etcd") is None, reason="etcd is not installed")


def _raft(at: float, node: str, role: str, term: int) -> Sample:
    return Sample(at, node, {"role": role, "term": term, "commit": 0})


KILL = [(2.0, "kill n1"), (3.5, "kill n1 undone")]


def test_an_election_is_timed_from_the_leaders_kill_to_a_leader_of_a_later_term() -> None:
    samples = [
        _raft(1.9, "n1", "Leader", 3),
        _raft(2.1, "n2", "Leader", 3),  # the old term's leadership, as n2 last heard it: not new
        _raft(2.4, "n2", "Candidate", 4),
        _raft(2.6, "n3", "Leader", 4),
    ]
    assert dep.elections(samples, KILL) == [pytest.approx(0.6)]
    # no new leader in the samples: never
    assert dep.elections(samples[:3], KILL) == [math.inf]
    # the killed node was not leading (the clients' leader was stale): not an election
    follower = [_raft(1.9, "n1", "Follower", 3), *samples[1:]]
    assert dep.elections(follower, KILL) == []


def test_a_target_is_judged_on_its_p99_its_slowest_sample_or_its_rate() -> None:
    fast = dep.Row(dep.RAFT_LATENCY, "5 nodes", tuple([5.0] * 99 + [30.0]))
    assert fast.verdict == "holds"  # the p99 of 100 samples is the 99th
    slow_tail = dep.Row(dep.RAFT_LATENCY, "5 nodes", tuple([5.0] * 90 + [30.0] * 10))
    assert slow_tail.verdict == "p50 only"
    assert dep.Row(dep.RAFT_LATENCY, "5 nodes", (12.0, 15.0)).verdict == "does not hold"
    assert dep.Row(dep.RAFT_LATENCY, "5 nodes", ()).verdict == "does not hold"
    # an election is judged on the slowest: one kill that waited is what a user waits
    assert dep.Row(dep.RAFT_ELECTION, "", (0.3, 0.4, 2.5)).verdict == "does not hold"
    assert dep.Row(dep.RAFT_ELECTION, "", (0.3, math.inf)).verdict == "does not hold"
    assert dep.Row(dep.RAFT_RATE, "", rate=12_000.0).verdict == "holds"
    assert dep.Row(dep.RAFT_RATE, "", rate=900.0).verdict == "does not hold"
    cells = dep.Row(dep.RAFT_RATE, "5 nodes", rate=900.0).cells()
    assert cells[3:5] == ("> 10,000 ops/s", "900 ops/s")


@pytest.mark.slow  # a deployment measurement; the Raft cluster tests start the same processes
def test_a_short_raft_run_on_processes_gives_an_election_and_a_recovery(tmp_path: Path) -> None:
    kills = (Fault(1.5, "kill", (LEADER,), 1.0),)
    outcome = run(dep._options("raft", 3, 4.0, 5, plan=kills), tmp_path)
    assert outcome.holds, outcome.failed
    (election,) = dep.elections(outcome.samples, outcome.struck)
    (recovery,) = dep.recoveries(outcome)
    # a new leader within a few election timeouts (150-300 ms), a write acknowledged after it
    assert 0.1 < election < 3.0 and election <= recovery + 0.2 < 5.0
    assert dep.write_latencies_ms(outcome) and dep.ok_rate(outcome) > 0


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "f"
    afile.write_text("")
    assert main(["claims", "deployment", "--out", str(afile)]) == 2
    assert capsys.readouterr().err.strip() == f"meshcheck: --out {afile}: not a folder"
    assert main(["claims", "deployment", "--json", str(tmp_path / "no" / "x.json")]) == 2
    assert "cannot write a file there" in capsys.readouterr().err


def _write(call: float, ret: float, status: Status = "ok") -> Op:
    return Op(process="c1", f="write", input="1", output=None, call=call, ret=ret, status=status)


def test_a_recovery_ends_with_the_outage_not_with_a_write_the_dying_leader_took() -> None:
    struck = [(2.0, "kill e1"), (3.5, "kill e1 undone")]
    ops = [
        _write(1.9, 1.95),
        _write(2.001, 2.01),  # taken before the signal landed: acknowledged at once
        _write(2.01, math.inf, "info"),
        _write(2.9, 3.1),  # the first acknowledgement after the outage
        _write(3.1, 3.11),
    ]
    assert dep.recoveries_of(ops, struck) == [pytest.approx(1.1)]
    assert dep.recoveries_of(ops[:3], struck) == [pytest.approx(0.01)]
    assert dep.recoveries_of(ops[:1], struck) == [math.inf]  # nothing acknowledged after it
    # two kills: each outage is sought before the next kill
    two = [*struck, (5.0, "kill e2"), (6.0, "kill e2 undone")]
    assert dep.recoveries_of([*ops, _write(5.2, 5.6)], two) == [
        pytest.approx(1.1),
        pytest.approx(0.6),
    ]


def test_an_election_is_timed_until_the_system_names_another_leader() -> None:
    struck = [(2.0, "kill e1"), (3.5, "kill e1 undone")]
    leaders: list[tuple[float, str | None]] = [
        (1.8, "e1"),
        (1.9, None),  # nobody answered in time: not a leader named
        (2.1, None),
        (2.2, "e1"),  # a member still naming the dead leader: not a new one
        (2.6, "e2"),
    ]
    assert dep.leader_changes(leaders, struck) == [pytest.approx(0.6)]
    assert dep.leader_changes(leaders[:4], struck) == [math.inf]
    # the node killed was not the one last named leader: no election to time
    assert dep.leader_changes([(1.8, "e3"), *leaders[1:]], struck) == []


def test_system_names_are_repeatable_and_comma_separated() -> None:
    from meshcheck.claims.command import system_names

    assert system_names(None) == ["meshcheck"]
    assert system_names(["meshcheck,etcd", "etcd", "x.toml"]) == ["meshcheck", "etcd", "x.toml"]
    with pytest.raises(MeshcheckError, match="an empty system name"):
        system_names(["etcd,"])


def _missing(tmp_path: Path) -> Path:
    """The toy system, its executable named as one that is not installed."""
    text = (DATA / "toy.toml").read_text(encoding="utf-8")
    text = text.replace('needs = ["python3", "./toy_kv.py"]', 'needs = ["no-such-server-7"]')
    assert "no-such-server-7" in text
    path = tmp_path / "gone.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_system_not_installed_is_one_line_alone_and_skipped_among_several(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = str(_missing(tmp_path))
    assert main(["claims", "deployment", "--system", gone, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("meshcheck: ") and "no-such-server-7 not found" in err
    assert "\n" not in err
    said: list[str] = []
    found = dep.measurers([gone, str(DATA / "toy.toml")], said.append)
    assert [name for name, _ in found] == ["toy"]  # the file's name: the table's, the folder's
    # two files that give the same name are told apart
    twin = tmp_path / "twin.toml"
    twin.write_text((DATA / "toy.toml").read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copy(DATA / "toy_kv.py", tmp_path / "toy_kv.py")
    assert [n for n, _ in dep.measurers([str(DATA / "toy.toml"), str(twin)], print)] == [
        "toy",
        "toy-2",
    ]
    assert len(said) == 1 and said[0].startswith(f"skipped {gone}: ")
    with pytest.raises(MeshcheckError, match="no system asked for is installed"):
        dep.measurers([gone, gone], said.append)


def test_a_plugin_that_runs_its_system_itself_is_measured_only_if_it_is_the_projects_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from meshcheck.systems import registry
    from meshcheck.systems.plugin import SystemPlugin

    other = SystemPlugin(name="other", runner=lambda args, progress: 0)
    monkeypatch.setattr(registry, "_loaded", {**registry.plugins(), "other": other})
    # the project's cores: their own runs, the whole table
    assert dep.measurers(["meshcheck"], print) == [("meshcheck", dep.measure)]
    with pytest.raises(MeshcheckError, match="--system other: its plug-in runs its system by code"):
        dep.measurers(["other"], print)


@pytest.mark.parametrize(
    ("system", "says"),
    [
        ("no-such-system", "--system no-such-system: neither a system file nor a known system"),
        ("etcd,,meshcheck", "--system 'etcd,,meshcheck': an empty system name"),
    ],
)
def test_a_bad_system_is_one_line_and_exit_2(
    system: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["claims", "deployment", "--system", system, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"meshcheck: {says}") and "\n" not in err


@pytest.mark.slow  # three runs of a toy service's processes, a few seconds each
def test_a_system_whose_plugin_cannot_say_who_leads_gets_no_election_row(tmp_path: Path) -> None:
    from meshcheck.systems.registry import System
    from meshcheck.systems.registry import resolve

    system = resolve(str(DATA / "toy.toml"))
    assert isinstance(system, System)
    plan = dep.Plan(2.0, (1.0,), 3.0, 4)
    said: list[str] = []
    rows = dep.measure_system(system, plan, tmp_path, said.append)
    assert [r.target for r in rows] == [dep.RAFT_LATENCY, dep.RAFT_RATE, dep.RAFT_RECOVERY]
    assert "no election measured" in said[-1]
    assert rows[0].samples and rows[1].rate is not None and rows[1].rate > 0
    assert (tmp_path / "kills" / "history.jsonl").is_file()


@pytest.mark.slow  # etcd's members as processes: about 40 s
@needs_etcd
def test_etcd_is_measured_on_the_consensus_targets_through_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, js = tmp_path / "out", tmp_path / "rows.json"
    code = main(["claims", "deployment", "--system", "etcd", "--quick", "--quiet",
                 "--out", str(out), "--json", str(js)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code in (0, 1), printed
    import json

    rows = json.loads(js.read_text())
    assert [(r["system"], r["claim"]) for r in rows] == [
        ("etcd", t.claim)
        for t in (dep.RAFT_LATENCY, dep.RAFT_RATE, dep.RAFT_ELECTION, dep.RAFT_RECOVERY)
    ]
    latency, rate, election, recovery = rows
    assert len(latency["samples"]) > 100 and rate["rate"] > 0
    # a new leader named after the leader's kill, within etcd's election timeouts (1 s default)
    ((elected,), (recovered,)) = election["samples"], recovery["samples"]
    assert 0.1 < elected < 5.0 and 0.1 < recovered < 5.0
    assert "| etcd   | Raft over 10,000 ops/s" in printed
