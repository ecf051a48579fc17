"""examples/meshkv, the example service of docs/tutorial-own-service.md: three node processes on
loopback ports driven by the `jsonl` client (tests/meshkv_harness.py). The service holds under
every fault a test can make on loopback (kill -9, a clock set back, a power failure of every node,
a node's files corrupted), and each planted bug is caught, by the history checker, under the
fault made for it. A bug's test is the mutant of the service's holding test under the same fault.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.cluster.clock_faults import libfaketime
from meshcheck.faults.lazyfs import fuse_unavailable
from tests import meshkv_harness as mk
from tests.test_cluster_cmd import nodes_of

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="`make nodejs` installs node")

SECONDS = 3.0
needs_faketime = pytest.mark.skipif(libfaketime() is None, reason="`make netns`: libfaketime")
needs_fuse = pytest.mark.skipif(fuse_unavailable() is not None, reason="`make fuse`")


def holds(tmp_path: Path, nemesis: mk.Nemesis | None, **cluster: object) -> None:
    """The history is linearizable and the step logs are a behaviour of MeshKV.tla."""
    with mk.Cluster(tmp_path, **cluster) as c:  # type: ignore[arg-type]
        history, result = mk.run(c, SECONDS, nemesis=nemesis)
    assert mk.oks(history) > 50, "the cluster served almost nothing"
    assert result.verdict == "linearizable", result
    logs = mk.validate(c)
    assert logs.verdict == "valid", logs.render()


def caught(
    tmp_path: Path, nemesis: mk.Nemesis | None, tries: int = 1, **cluster: object
) -> mk.Cluster:
    """The first run (of `tries`, seeds 1, 2, ...) whose history is not linearizable; fails when
    none is."""
    for seed in range(1, tries + 1):
        with mk.Cluster(tmp_path / f"seed-{seed}", **cluster) as c:  # type: ignore[arg-type]
            history, result = mk.run(c, SECONDS, seed=seed, nemesis=nemesis)
        assert mk.oks(history) > 50, "the cluster served almost nothing"
        if result.verdict == "not linearizable":
            return c
    raise AssertionError(f"{cluster.get('bug')} not caught in {tries} runs")


def invalid_at(cluster: mk.Cluster, action: str) -> None:
    """The step logs are no behaviour of MeshKV.tla, first at a step `action`."""
    logs = mk.validate(cluster)
    assert logs.verdict == "invalid", logs.render()
    assert logs.diagnosis is not None and logs.diagnosis.record.startswith(action + "(")


def test_holds_under_kill(tmp_path: Path) -> None:
    holds(tmp_path, mk.kills())


def test_follower_reads_are_stale(tmp_path: Path) -> None:
    """A follower learns the commit point on the next message from the primary: a read it answers
    meanwhile misses a write already acknowledged. Partitions make the window longer; on loopback
    the replication delay alone shows it."""
    invalid_at(caught(tmp_path, mk.kills(), tries=2, bug="follower-reads"), "Read")


def test_no_fsync_survives_kill(tmp_path: Path) -> None:
    """Acknowledging before the fsync loses nothing when only processes die: the kernel has the
    writes."""
    holds(tmp_path, mk.kills(), bug="no-fsync")


@needs_fuse
def test_holds_under_power_failure(tmp_path: Path) -> None:
    holds(tmp_path, mk.power_failures(), lazy=True)


@needs_fuse
def test_no_fsync_loses_acknowledged_writes_at_a_power_failure(tmp_path: Path) -> None:
    """The history shows the writes lost; the step logs show the primary recovering fewer records
    than it acknowledged."""
    invalid_at(caught(tmp_path, mk.power_failures(), tries=3, bug="no-fsync", lazy=True), "Recover")


@needs_faketime
def test_holds_under_clock_jumps(tmp_path: Path) -> None:
    holds(tmp_path, mk.clock_back(), clocks=True)


@needs_faketime
def test_lww_clock_loses_writes_when_the_clock_goes_back(tmp_path: Path) -> None:
    caught(tmp_path, mk.clock_back(), tries=2, bug="lww-clock", clocks=True)


CHECKPOINT = "state.json"  # the primary's checkpoint of its map
VERSION = b'"000'  # where a key's version starts in it: a flip makes it far newer than it is


def test_holds_under_corruption(tmp_path: Path) -> None:
    holds(tmp_path, mk.corruptions())
    holds(tmp_path / "primary", mk.corruptions(primary=True))
    holds(tmp_path / "checkpoint", mk.corruptions(primary=True, file=CHECKPOINT, at=VERSION))


def test_no_checksum_serves_corrupted_data(tmp_path: Path) -> None:
    """A bit flipped in a key's version in the primary's checkpoint, read back unchecked: the
    version raised hides every later write of the key, acknowledged or not. (A flip anywhere in
    a random file of a random node is caught far less often: most land where they harm nothing,
    or break the JSON, which even an unchecked read notices.)"""
    nemesis = mk.corruptions(primary=True, file=CHECKPOINT, at=VERSION)
    caught(tmp_path, nemesis, tries=3, bug="no-checksum")


# The same service through the generic runner, from its system file alone.


def cluster_test(out: Path, nemesis: str, seed: int, capsys: pytest.CaptureFixture[str]) -> str:
    argv = ["cluster", "test", "--system", str(mk.SYSTEM_FILE), "--network", "loopback",
            "--workload", "cas", "--nemesis", nemesis, "--time", "6", "--seed", str(seed),
            "--out", str(out), "--quiet"]  # fmt: skip
    code = main(argv)
    printed = capsys.readouterr().out
    assert code == (0 if "| holds" in row_line(printed, "linearizable (kv)") else 1), printed
    return printed


def row_line(printed: str, check: str) -> str:
    return next(line for line in printed.splitlines() if line.startswith(f"| {check} "))


@needs_faketime
def test_runner_holds_under_kills_pauses_and_clocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = cluster_test(tmp_path / "run", "kill,pause,clock", 10, capsys)
    assert "| holds" in row_line(printed, "linearizable (kv)"), printed
    assert "| holds" in row_line(printed, "logs valid (MeshKV.tla)"), printed
    struck = (tmp_path / "run" / "nemesis.log").read_text().splitlines()
    assert {line.split()[1] for line in struck} == {"kill", "pause", "clock"}
    assert nodes_of(tmp_path, b"server.js") == []


@needs_faketime
def test_runner_catches_lww_clock_under_clock_faults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHKV_BUG", "lww-clock")  # the nodes inherit the environment
    printed = cluster_test(tmp_path / "run", "clock", 1, capsys)
    assert "| VIOLATED" in row_line(printed, "linearizable (kv)"), printed
    assert (tmp_path / "run" / "anomaly.txt").exists()


def test_validate_takes_the_model_beside_the_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`meshcheck validate --spec examples/meshkv/MeshKV.tla LOGS`: MeshKV.cfg is the model; a
    .tla with no .cfg beside it and no --model is one line, exit 2."""
    with mk.Cluster(tmp_path / "run") as c:
        mk.run(c, 1.5)
    logs = [str(p) for p in sorted(c.steps.glob("*-steps.ndjson"))]
    assert main(["validate", "--spec", str(mk.SPEC), *logs]) == 0
    assert capsys.readouterr().out.startswith("valid: ")
    alone = tmp_path / "MeshKV.tla"
    alone.write_text(mk.SPEC.read_text())
    assert main(["validate", "--spec", str(alone), *logs]) == 2
    err = capsys.readouterr().err
    assert "needs --model CFG" in err and err.count("\n") == 1, err
