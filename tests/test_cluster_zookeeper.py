"""Apache ZooKeeper under `meshcheck cluster test --system zookeeper`, from its system file alone:
three servers, each in its own network namespace, under kills, pauses and partitions, the history
linearizable with synced reads; plain reads of a follower cut off from its leader are stale, as
ZooKeeper documents (sequential consistency, not linearizable reads: zookeeperProgrammers.html,
"Consistency Guarantees"), which the linearizability check refuses and the check for reads that
may be stale allows; a file that claims plain reads linearizable is caught, with its anomaly, and so
are servers that each list only themselves.
Skipped (one line) without Java and Debian's zookeeper (`make zookeeper`), kazoo, or namespaces."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.netns import missing
from meshcheck.systems import promises
from meshcheck.systems import registry
from meshcheck.systems.run import RunOptions
from meshcheck.systems.run import run
from meshcheck.systems.zookeeper import FILE
from meshcheck.traces.history import checker
from meshcheck.traces.history import models
from tests.test_cluster_cmd import nodes_of

pytest.importorskip("kazoo", reason="kazoo is not installed: pip install -e '.[systems]'")
pytestmark = pytest.mark.skipif(
    shutil.which("java") is None
    or not Path("/usr/share/zookeeper/bin/zkServer.sh").exists()
    or missing() is not None,
    reason=f"ZooKeeper in namespaces: {missing() or 'ZooKeeper is not installed: `make zookeeper`'}",
)
# A follower cut off from its leader keeps serving its clients until it gives the leader up
# (syncLimit ticks, 2.5 s in the file): each server in turn cut for 2 s, so that two of the cuts
# fall on followers. A client on a cut follower reads until its first write there times out
# (1 s: then it turns to the next server), so ten clients at 200 operations a second make
# stale reads likely: with seeds 1 to 4, the plain reads of 1, 2 and 3 were not linearizable.
CUTS = tuple(Fault(1.0 + 3 * k, "partition", (f"z{k + 1}",), 2.0) for k in range(3))
SEEDS = (1, 2, 3, 4)
LOAD = RunOptions(time=10.0, rate=200.0, clients=10, plan=CUTS, network="netns")


def servers_of(folder: Path) -> list[int]:
    """The live ZooKeeper servers whose configuration is under `folder`."""
    return nodes_of(folder, b"QuorumPeerMain")


@pytest.mark.slow  # make test runs ZooKeeper's sync reads under cuts in the stale-read test below
def test_zookeeper_under_kills_pauses_and_partitions_is_linearizable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # seed 10: the leader paused, then killed, then its sends cut, then cut both ways
    out = tmp_path / "report"
    code = main(
        ["cluster", "test", "--system", "zookeeper", "--workload", "registers", "--time", "10",
         "--seed", "10", "--out", str(out), "--quiet"]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert re.search(r"\| linearizable \(kv\) +\| holds", printed)
    assert "| progress after healing | holds" in printed
    struck = (out / "nemesis.log").read_text().splitlines()
    assert {line.split()[1] for line in struck} == {"kill", "pause", "partition"}
    assert main(["history", "check", str(out / "history.jsonl"), "--model", "kv"]) == 0
    assert servers_of(tmp_path) == []


def test_plain_reads_of_a_cut_off_follower_are_stale_as_documented_and_sync_reads_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the stronger models as information, within INFORMATION_BUDGET in all: linearizability is
    # decided in hundredths of a second on these thousand operations, and sequential consistency
    # (not local) is unknown at any budget here: it spent the whole 10 s of each stale run, a
    # second is ample for the one this test asserts
    monkeypatch.setattr(promises, "INFORMATION_BUDGET", 1.0)
    zookeeper = registry.resolve("zookeeper")
    assert isinstance(zookeeper, registry.System)
    for seed in SEEDS:
        plain = attrs.evolve(LOAD, seed=seed, reads="plain", read_check="serializable")
        outcome = run(zookeeper, plain, tmp_path / f"plain-{seed}", lambda _: None)
        # what ZooKeeper promises of plain reads holds: the writes and cas linearizable, every
        # read a value some write wrote
        assert outcome.safe, outcome.verdicts
        whole = checker.check(outcome.history.ops, models.KeyValue(), 60.0)
        if whole.verdict == "not linearizable":
            break
    assert whole.verdict == "not linearizable", "no plain read was seen stale"
    stale = {v.check: v for v in outcome.verdicts}["serializable reads return written values"]
    assert " 0 of them older" not in stale.detail
    # judged by what ZooKeeper promises of plain reads (zookeeper.toml [promises]): sequential
    # consistency holds, linearizability's failure is information, not the run's verdict
    said = {v.check: (v.holds, v.role) for v in outcome.verdicts}
    assert said["sequential (promised)"] == (True, "promise"), outcome.verdicts
    assert said["linearizable"] == (False, "information"), outcome.verdicts
    # the same cuts and draws with a sync before each read: linearizable
    synced = attrs.evolve(LOAD, seed=seed, reads="sync")
    outcome = run(zookeeper, synced, tmp_path / f"sync-{seed}", lambda _: None)
    assert {v.check: v.holds for v in outcome.verdicts}["linearizable (kv)"] is True
    assert servers_of(tmp_path) == []


@pytest.mark.slow  # a third ensemble in namespaces; the stale-read test above runs in make test
def test_a_file_claiming_plain_reads_linearizable_is_caught_with_its_anomaly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a broken setting: ZooKeeper's file with plain reads judged linearizable, which ZooKeeper
    # does not promise; the run must refuse the history and draw the anomaly
    text = FILE.read_text(encoding="utf-8")
    claimed = 'reads = { sync = "linearizable", plain = "serializable" }'
    assert claimed in text
    broken = tmp_path / "zookeeper-plain.toml"
    broken.write_text(text.replace(claimed, 'reads = { plain = "linearizable" }'), encoding="utf-8")
    zookeeper = registry.resolve(str(broken))
    assert isinstance(zookeeper, registry.System)
    for seed in SEEDS:
        options = attrs.evolve(LOAD, seed=seed, reads="plain")
        outcome = run(zookeeper, options, tmp_path / f"run-{seed}", lambda _: None)
        verdict = {v.check: v for v in outcome.verdicts}["linearizable (kv)"]
        if verdict.holds is False:
            break
    assert verdict.holds is False, verdict
    assert verdict.detail.endswith("(anomaly.txt, anomaly.svg)")
    report = tmp_path / f"run-{seed}"
    anomaly = (report / "anomaly.txt").read_text()
    assert anomaly.startswith("anomaly: not linearizable (kv, key k")
    assert "the nemesis from" in anomaly and "partition" in anomaly
    assert "documented: ZooKeeper promises sequential consistency" in anomaly
    assert servers_of(tmp_path) == []


def test_bad_input_for_zookeeper_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for flags, says in [
        (["--reads", "linearizable"], "--reads linearizable: choose from sync or plain"),
        (["--nodes", "7"], "--nodes 7"),
        (["--workload", "lock", "--reads", "plain"], "--reads plain: the lock workload reads"),
    ]:
        code = main(
            ["cluster", "test", "--system", "zookeeper", *flags, "--out", str(tmp_path), "--quiet"]
        )
        err = capsys.readouterr().err
        assert code == 2 and err.startswith(f"meshcheck: {says}") and err.count("\n") == 1, err


@pytest.mark.slow  # another ensemble; the stale-read test is make test's broken-setting case
def test_servers_that_each_list_only_themselves_are_caught_without_a_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a broken setting: each server's zoo.cfg names itself alone, so the "ensemble" is three
    # one-server ensembles, each its own leader; clients bound to different servers disagree at
    # once (on loopback, no fault: measured violated within the first second, seed 1)
    text = FILE.read_text(encoding="utf-8")
    assert "\n{peers}\n" in text
    alone = "\nserver.{i}={host}:{port.peer}:{port.election};{host}:{port.client}\n"
    broken = tmp_path / "zookeeper-alone.toml"
    broken.write_text(text.replace("\n{peers}\n", alone), encoding="utf-8")
    out = tmp_path / "report"
    code = main(
        ["cluster", "test", "--system", str(broken), "--workload", "registers", "--time", "5",
         "--seed", "1", "--nemesis", "none", "--network", "loopback", "--out", str(out), "--quiet"]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert re.search(r"\| linearizable \(kv\) +\| VIOLATED", printed)
    assert (out / "anomaly.txt").read_text().startswith("anomaly: not linearizable (kv, key k")
    assert servers_of(tmp_path) == []
