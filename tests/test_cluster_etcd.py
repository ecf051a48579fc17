"""etcd under meshcheck, described by its system file (meshcheck/systems/known/etcd.toml) and its
client plug-in (meshcheck/systems/etcd/): three members of Debian's etcd-server (`make etcd`), each
in its own network namespace, under kills, pauses and partitions; the run from the file compared
with what etcd's own code path printed before it (tests/data/systems/etcd_before_*.txt: the same
plan for the same seed, the same checks, each holding); Jepsen's stalled lock holder still caught;
a stale read that etcd's serializable mode allows is what the linearizability check refuses (the
check shown to fail on the real system); bad input is one line and exit 2."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.cluster import anomaly
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.netns import missing
from meshcheck.systems import registry
from meshcheck.systems.etcd.gateway import Gateway
from meshcheck.systems.run import RunOptions
from meshcheck.systems.run import run
from meshcheck.systems.verdicts import linearizable_kv
from meshcheck.systems.verdicts import mutual_exclusion
from meshcheck.systems.verdicts import reads_written
from meshcheck.traces.history import jepsen
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import KeyValue
from tests.test_cluster_cmd import nodes_of

needs_etcd = pytest.mark.skipif(
    shutil.which("etcd") is None or missing() is not None,
    reason=f"etcd in namespaces: {missing() or 'etcd is not installed: `make etcd`'}",
)
BEFORE = Path(__file__).parent / "data" / "systems"


def etcd_pids(folder: Path) -> list[int]:
    """The live etcd processes whose data directory is under `folder`."""
    return nodes_of(folder, b"etcd")


def plan_and_checks(printed: str) -> tuple[list[str], list[tuple[str, str]]]:
    """What a run printed: its plan's lines, and each check's (name, result) (the table's rows
    after operations, latency and nemesis, whose numbers are the run's timing)."""
    plan = [line.strip() for line in printed.splitlines() if line.startswith("  t=")]
    rows = [
        tuple(c.strip() for c in line.strip("|").split("|")[:2])
        for line in printed.splitlines()
        if line.startswith("| ") and not line.startswith("| check ")
    ]
    # the rows since added (the before files predate them), checked on their own below
    skip = (
        "operations",
        "latency (ok)",
        "nemesis",
        "leader changes",
        "acknowledged writes kept (kv)",
        "exercised",  # enough or vacuous: docs/vacuous-runs.md
    )
    # the promise's row, since added (docs/systems.md, Promises), is the promise's own check
    checks = [(r[0], r[1]) for r in rows if r[0] not in skip and not r[0].endswith("(promised)")]
    return plan, checks


@needs_etcd
@pytest.mark.parametrize(
    "workload",
    # make test compares registers; the other two are the slow tier's (an etcd run each)
    [
        "registers",
        pytest.param("cas", marks=pytest.mark.slow),
        pytest.param("lock", marks=pytest.mark.slow),
    ],
)
def test_etcd_from_its_file_runs_as_its_own_code_path_did(
    workload: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # seed 10: the leader paused, then killed, then its sends cut (a one-way partition); before,
    # through etcd's own run and its peer proxies, now in the kernel between namespaces
    out = tmp_path / "report"
    code = main(
        ["cluster", "test", "--system", "etcd", "--time", "8", "--seed", "10", "--workload",
         workload, "--out", str(out), "--quiet"]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    before = (BEFORE / f"etcd_before_{workload}.txt").read_text(encoding="utf-8")
    assert plan_and_checks(printed) == plan_and_checks(before), printed
    assert all(result == "holds" for _, result in plan_and_checks(printed)[1])
    if workload != "lock":
        assert re.search(r"\| acknowledged writes kept \(kv\) +\| holds", printed), printed
        assert "0 lost" in (out / "losses.txt").read_text(encoding="utf-8")
    struck = (out / "nemesis.log").read_text().splitlines()
    assert {line.split()[1] for line in struck} == {"kill", "pause", "partition"}
    assert "@leader" not in "".join(struck)  # the targets resolved by etcd's own status
    model = "mutex" if workload == "lock" else "kv"
    assert main(["history", "check", str(out / "history.jsonl"), "--model", model]) == 0
    # each operation done names the member that answered it (its header's member_id)
    lines = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    done = [e for e in lines if e.get("type") == "ok"]
    assert done and {e.get("served") for e in done} <= {"e1", "e2", "e3"}, done[:3]
    for name in ("nemesis.txt", "latency.svg", "timeline.svg", "network.log", "cluster.json"):
        assert (out / name).stat().st_size > 0, name
    assert etcd_pids(tmp_path) == []


def test_a_stale_read_is_what_the_linearizability_check_refuses() -> None:
    # the history the scenario above made: "2" written (acknowledged) before a read that
    # returned "1"; linearizable reads would never return it, etcd's serializable ones may
    ops = [
        Op("c1", "write", "1", None, 0.0, 0.1, "ok", "k", 0),
        Op("c1", "write", "2", None, 0.2, 0.3, "ok", "k", 1),
        Op("c2", "read", None, "1", 0.4, 0.5, "ok", "k", 2),
    ]
    verdict = linearizable_kv(ops, 10.0)
    assert verdict.holds is False and "key k" in verdict.detail
    fresh = [*ops[:2], Op("c2", "read", None, "2", 0.4, 0.5, "ok", "k", 2)]
    assert linearizable_kv(fresh, 10.0).holds
    # a write that got no answer may have taken effect: a read of it is no violation
    pending = [ops[0], Op("c1", "write", "3", None, 0.2, math.inf, "info", "k", 1), fresh[2]]
    assert linearizable_kv(
        [*pending[:2], Op("c2", "read", None, "3", 0.4, 0.5, "ok", "k", 2)], 10.0
    ).holds


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--system", "nosuchsystem"], "--system nosuchsystem: neither a system file nor a known"),
        (["--system", "etcd", "--nemesis", "reorder"], "--nemesis reorder: etcd runs under"),
        (
            ["--system", "etcd", "--network", "loopback", "--nemesis", "partition"],
            "--nemesis partition: not on --network loopback",
        ),
        (
            ["--system", "etcd", "--network", "proxy"],
            "--network proxy: etcd's file does not let its peers be reached through link proxies",
        ),
        (["--system", "etcd", "--bugs", "x"], "--bugs: only for the project's own cores"),
        (
            ["--system", "etcd", "--protocol", "pbft"],
            "--protocol: only for the project's own cores",
        ),
        (["--system", "etcd", "--workload", "status"], "--workload status: etcd runs registers"),
        (["--system", "etcd", "--nodes", "12"], "--nodes"),
        (["--system", "etcd", "--reads", "stale"], "--reads stale: choose from linearizable or"),
        (["--system", "etcd", "--workload", "lock", "--reads", "serializable"], "reads nothing"),
        (["--reads", "serializable"], "--reads serializable: the cores' reads are linearizable"),
        (["--client-pause", "6"], "--client-pause: only for a system whose file lists the lock"),
        (
            ["--system", "etcd", "--client-pause", "6"],
            "--client-pause: only the lock and fenced-lock",
        ),
        (["--system", "etcd", "--workload", "lock", "--client-pause", "x"], "--client-pause x"),
    ],
)
def test_bad_input_for_etcd_is_one_line_and_exit_2(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "test", *flags, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_without_etcd_installed_one_line_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    assert (
        main(
            ["cluster", "test", "--system", "etcd", "--network", "loopback", "--out", str(tmp_path)]
        )
        == 2
    )
    file = registry.KNOWN / "etcd.toml"
    assert capsys.readouterr().err.strip() == (
        f"meshcheck: {file}: install.needs: etcd not found: `make etcd` installs Debian's "
        "etcd-server (apt-get, as root)"
    )


@needs_etcd
def test_a_partition_of_the_plan_cuts_a_member_off_in_the_kernel(tmp_path: Path) -> None:
    """e1 cut off both ways from t=1 s to t=4 s: no operation sent to it in that time completes
    (a linearizable read or a write needs the leader's quorum), while the others go on; without
    the cut (the nemesis's network strike a no-op) e1 answers throughout."""
    etcd = registry.resolve("etcd")
    assert isinstance(etcd, registry.System)
    cut = (Fault(1.0, "partition", ("e1",), 3.0),)
    options = RunOptions(time=6, seed=1, plan=cut, network="netns", clients=6, rate=200)
    outcome = run(etcd, options, tmp_path, lambda _: None)
    h = outcome.history
    sent = list(zip(h.ops, h.nodes, strict=True))
    struck = dict((what, t) for t, what in outcome.struck)
    # from just after the rules went in (an answer already on its way may still arrive) to the heal
    start, end = struck["partition e1"] + 0.2, struck["partition e1 undone"]
    at_e1 = [op for op, node in sent if node == "e1" and op.call < end and op.ret > start]
    assert at_e1, "no operation was in flight at e1 during the cut"
    assert [op for op in at_e1 if op.status == "ok" and op.ret < end] == []
    others = [op for op, node in sent if node != "e1" and start < op.ret < end]
    assert sum(op.status == "ok" for op in others) > 20, others
    assert outcome.safe, outcome.verdicts
    assert "partition e1" in (tmp_path / "nemesis.log").read_text()
    assert "partition" in (tmp_path / "network.log").read_text()


@needs_etcd  # Jepsen's lock finding reproduced (docs/etcd.md)
def test_a_client_paused_past_its_lease_is_a_second_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No fault in etcd: the first client stalls 6 s holding the lock, its 5 s lease expires under
    it, another client takes the lock, and the first still releases it as its own. The mutex check
    reports two holders at once, with what etcd documents of it; the same run without the pause
    holds."""
    flags = ["cluster", "test", "--system", "etcd", "--workload", "lock", "--time", "10",
             "--seed", "1", "--nemesis", "none", "--quiet"]  # fmt: skip
    assert main([*flags, "--client-pause", "6", "--out", str(tmp_path / "paused")]) == 1
    printed = capsys.readouterr().out
    before = (BEFORE / "etcd_before_paused.txt").read_text(encoding="utf-8")
    assert plan_and_checks(printed) == plan_and_checks(before), printed
    assert "| mutual exclusion (mutex) | VIOLATED" in printed and "two holders at once" in printed
    assert "advises fencing with the lock key's revision" in printed
    # the window names the stalled holder, c1, and the client that took the lock under it; the
    # replay line names the same two (tests/test_history_reports.py checks it on such a run's
    # history, kept in tests/data)
    report = (tmp_path / "paused" / "anomaly.txt").read_text()
    holders = {line.split()[2].split(".")[0] for line in report.splitlines() if "acquire(" in line}
    assert "c1" in holders and len(holders) == 2, report
    assert main([*flags, "--out", str(tmp_path / "calm")]) == 0
    assert etcd_pids(tmp_path) == []


def test_two_holders_at_once_is_what_the_mutex_check_refuses() -> None:
    # L2 took the lock while L1 held it (a lease that expired under a holder that did not know
    # is how it happens with etcd's locks: the holder's release then finds the lock not its own)
    two = [
        Op("c1", "acquire", "L1", None, 0.0, 0.1, "ok", None, 0),
        Op("c2", "acquire", "L2", None, 0.2, 0.3, "ok", None, 1),
        Op("c1", "release", "L1", None, 0.4, 0.5, "ok", None, 2),
    ]
    verdict = mutual_exclusion(two, 10.0)
    assert verdict.holds is False and "two holders" in verdict.detail
    # in turn, it holds; an acquire without an answer followed by its lease's revoke frees the
    # lock whether or not it was taken
    turns = [two[0], two[2], Op("c2", "acquire", "L2", None, 0.6, 0.7, "ok", None, 3)]
    assert mutual_exclusion(turns, 10.0).holds
    unknown = [
        Op("c1", "acquire", "L1", None, 0.0, math.inf, "info", None, 0),
        Op("c1.1", "revoke", "L1", None, 0.2, 0.3, "ok", None, 1),
        Op("c2", "acquire", "L2", None, 0.4, 0.5, "ok", None, 2),
    ]
    assert mutual_exclusion(unknown, 10.0).holds
    # a release by a lease that never held the lock cannot have happened
    stray = [Op("c1", "release", "L9", None, 0.0, 0.1, "ok", None, 0)]
    assert mutual_exclusion(stray, 10.0).holds is False


def test_a_serializable_read_may_be_stale_but_never_from_nowhere() -> None:
    w1 = Op("c1", "write", "1", None, 0.0, 0.1, "ok", "k", 0)
    w2 = Op("c1", "write", "2", None, 0.2, 0.3, "ok", "k", 1)
    stale = Op("c2", "read", None, "1", 0.4, 0.5, "ok", "k", 2)
    verdict = reads_written([w1, w2, stale])
    assert (
        verdict.holds
        and verdict.detail == "1 read, 1 of them older than the write last done before"
    )
    # a value no write wrote, or one written only after the read returned
    made_up = Op("c2", "read", None, "7", 0.4, 0.5, "ok", "k", 2)
    assert reads_written([w1, w2, made_up]).holds is False
    future = Op("c2", "read", None, "3", 0.4, 0.5, "ok", "k", 2)
    w3 = Op("c1", "write", "3", None, 0.6, 0.7, "ok", "k", 3)
    assert reads_written([w1, w2, future, w3]).holds is False
    # a cas's new value counts as written; a write without an answer may have written
    cas = Op("c1", "cas", ("2", "4"), None, 0.35, 0.38, "ok", "k", 3)
    pending = Op("c3", "write", "5", None, 0.1, math.inf, "info", "k", 4)
    reads = [Op("c2", "read", None, v, 0.4, 0.5, "ok", "k", 5) for v in ("4", "5")]
    assert all(reads_written([w1, w2, cas, pending, r]).holds for r in reads)


@pytest.mark.slow  # etcd again; the anomaly report's drawing is tested below without a cluster
@needs_etcd
def test_etcd_whose_linearizable_reads_are_served_locally_is_caught_and_drawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a mutant of etcd's read path, made at the client: every read is served by the member asked
    # from its own store (serializable) while the check expects linearizable reads, as an etcd
    # whose ReadIndex were skipped would answer. e1 cut off both ways for 3 s serves its clients
    # older values while the others write, and the check says so, with the window (measured
    # with the seeded plans of seeds 1 to 4, partitions only: each caught)
    served_locally = Gateway.get

    async def get(self: Gateway, key: str, timeout: float, *, serializable: bool = False) -> Any:
        return await served_locally(self, key, timeout, serializable=True)

    monkeypatch.setattr(Gateway, "get", get)
    cut = (Fault(1.0, "partition", ("e1",), 3.0),)
    etcd = registry.resolve("etcd")
    assert isinstance(etcd, registry.System)
    for seed in (1, 2, 3):  # the clients' draws; a read at e1 after a write elsewhere is likely
        options = RunOptions(time=6, seed=seed, plan=cut, network="netns")
        outcome = run(etcd, options, tmp_path, lambda _: None)
        verdict = {v.check: v for v in outcome.verdicts}["linearizable (kv)"]
        if verdict.holds is False:
            break
    assert verdict.holds is False, verdict
    assert verdict.detail.endswith("(anomaly.txt, anomaly.svg)")
    text = (tmp_path / "anomaly.txt").read_text()
    assert text.startswith("anomaly: not linearizable (kv, key k")
    assert "the nemesis from" in text and "documented: not as allowed" in text
    assert (tmp_path / "anomaly.svg").read_text().startswith("<svg")
    assert etcd_pids(tmp_path) == []


def test_the_anomaly_report_names_the_window_and_the_faults_around_it(tmp_path: Path) -> None:
    ops = [
        Op("c1", "write", "1", None, 0.0, 0.1, "ok", "k", 0),
        Op("c1", "write", "2", None, 1.2, 1.3, "ok", "k", 1),
        Op("c2", "read", None, "1", 1.4, 1.5, "ok", "k", 2),
        Op("c3", "write", "9", None, 5.0, 5.1, "ok", "j", 3),
    ]
    struck = [(1.0, "partition e1"), (1.45, "kill e2"), (2.0, "partition e1 undone"), (9.0, "x")]
    (tmp_path / "history.jsonl").write_text(jepsen.dumps(ops, KeyValue()), encoding="utf-8")
    text = anomaly.report(ops, KeyValue(), struck, tmp_path, title="t", documented="no")
    assert text is not None
    lines = text.splitlines()
    assert lines[0] == "anomaly: not linearizable (kv, key k)"
    assert "3 operations" in lines[1]  # both writes and the stale read; key j is not in it
    assert "t=1.000s  partition e1" in text and "t=9.000s" not in text
    assert "in force when the window opened: no fault" in text  # the window opens at t=0.0
    assert lines[-2] == "documented: no"
    assert lines[-1].startswith(
        f"replay: meshcheck history check {tmp_path}/history.jsonl --model kv"
    )
    # a linearizable history has no anomaly
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "history.jsonl").write_text(jepsen.dumps(ops[:2], KeyValue()))
    assert anomaly.report(ops[:2], KeyValue(), struck, tmp_path / "x", title="t") is None
