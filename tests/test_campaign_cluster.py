"""`meshcheck campaign --cluster`: a run as a worker runs it (a fake `cluster test` that writes a
report and exits 1), its report coming back as an archive unpacked under OUT/runs/seed-S/, the
summary and the again-line of a violating seed, bad input in one line; and two cluster tests of the
toy service on a Dask LocalCluster of two workers, their reports gathered."""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meshcheck.campaign import cluster_run
from meshcheck.campaign import cluster_task
from meshcheck.campaign import engines
from meshcheck.campaign.cluster_task import Run
from meshcheck.cli import main
from tests.test_systems_run import needs_python3
from tests.test_systems_run import toy


def fake_runner(argv: list[str], out: Path) -> cluster_task.Ran:
    """A `cluster test` that writes a report, and finds a violation under odd seeds."""
    seed = int(argv[argv.index("--seed") + 1])
    assert argv[argv.index("--out") + 1] == str(out)
    (out / "logs").mkdir(parents=True)
    (out / "history.jsonl").write_text(f'{{"seed": {seed}}}\n', encoding="utf-8")
    (out / "logs" / "t1.out").write_text("node t1\n", encoding="utf-8")
    held = seed % 2 == 0
    table = f"| linearizable (kv) | {'holds' if held else 'VIOLATED'} |\n"
    return (0 if held else 1), table, ""


def test_a_run_comes_back_as_its_verdict_and_an_archive_of_its_report(tmp_path: Path) -> None:
    run = Run(7, ("--system", "toy.toml", "--time", "3"), hosts="/h/a.toml")
    outcome = cluster_task.run_one(run, fake_runner)
    assert (outcome.code, outcome.verdict) == (1, "| linearizable (kv) | VIOLATED |\n")
    folder = cluster_run.gather(outcome, tmp_path)
    assert folder == tmp_path / "runs" / "seed-7"
    assert (folder / "history.jsonl").read_text() == '{"seed": 7}\n'
    assert (folder / "logs" / "t1.out").read_text() == "node t1\n"
    assert "VIOLATED" in (folder / "verdict.txt").read_text()
    assert cluster_run.again(run) == (
        "meshcheck cluster test --system toy.toml --time 3 --hosts /h/a.toml --seed 7"
    )

    def broken(argv: list[str], out: Path) -> cluster_task.Ran:
        raise OSError("no python")

    failed = cluster_task.run_one(run, broken)
    assert (failed.code, failed.errors, failed.archive) == (3, "OSError: no python", b"")


def test_an_archive_writes_nothing_outside_its_folder(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("../escaped", "kept"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    cluster_task.unpack(buffer.getvalue(), tmp_path / "in")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["kept"]


def test_a_campaign_lists_each_run_and_the_again_line_of_each_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engines, "start", lambda *a: Inline())
    monkeypatch.setattr(cluster_run, "run_one", lambda run: cluster_task.run_one(run, fake_runner))
    config = cluster_run.ClusterConfig(
        ("--system", "toy.toml"), 3, ("a.toml", "b.toml"), "local", 1, None, tmp_path, (4, 5)
    )
    said: list[str] = []
    assert cluster_run.run(config, said.append) == 1
    text = "\n".join(said)
    drawn = int(re.search(r"seeds 4, 5, (\d+)", said[0]).group(1))  # type: ignore[union-attr]
    assert sum(line.startswith("  [") for line in said) == 3
    assert re.search(rf"\| 4 +\| a.toml \| holds +\| +[\d.]+ \| {tmp_path}/runs/seed-4 +\|", text)
    assert re.search(r"\| 5 +\| b.toml \| VIOLATED \|", text)
    assert re.search(rf"\| {drawn} +\| a.toml \|", text)
    again = [line for line in said if line.startswith("violated: seed 5;")]
    assert again == [
        "violated: seed 5; again: meshcheck cluster test --system toy.toml --hosts b.toml --seed 5"
    ]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(
        f"seed-{s}" for s in (4, 5, drawn)
    )


class Inline:
    """An engine that runs each call where it is made."""

    workers = 1

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return _Handle(fn(*args))

    def wait(self, pending: Any, timeout: float) -> set[Any]:
        return set(pending)

    def value(self, handle: Any) -> Any:
        return handle.value

    def close(self) -> None:
        pass


class _Handle:
    def __init__(self, value: Any) -> None:
        self.value = value


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--cluster", "--runs", "2"], "campaign --cluster: name the system to test"),
        (["--cluster", "--system", "SYSTEM"], "campaign --cluster: give the number of cluster"),
        (["--cluster", "--system", "SYSTEM", "--runs", "2", "--minutes", "1"], "campaign --cluster: --minutes is for property checks"),
        (["--cluster", "--system", "SYSTEM", "--runs", "1", "--seed", "1", "--seed", "2"], "campaign --cluster: 2 seeds for --runs 1"),
        (["--cluster", "--system", "SYSTEM", "--runs", "2", "--hosts", "nope.toml"], "campaign --cluster: --hosts nope.toml: no such file"),
        (["--cluster", "--system", "SYSTEM", "--runs", "2", "--address", "h:1"], "campaign: --address is for --engine dask or ray"),
        (["--cluster", "--system", "nope.toml", "--runs", "2"], "nope.toml: no such system file"),
        (["--minutes", "1", "--runs", "2", "--time", "3"], "campaign: --runs, --time only with --cluster"),
    ],
)  # fmt: skip
def test_a_campaign_of_cluster_tests_refuses_bad_input_in_one_line(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    system = str(toy(tmp_path))
    argv = ["campaign", *(system if f == "SYSTEM" else f for f in flags), "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"meshcheck: {says}") and err.count("\n") == 1, err


@needs_python3
@pytest.mark.slow  # a Dask LocalCluster of two workers, each running a cluster test of the toy
def test_two_toy_cluster_tests_on_dask_come_back_to_one_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("dask.distributed")
    system = toy(tmp_path)
    out = tmp_path / "campaign"
    argv = ["campaign", "--cluster", "--system", str(system), "--runs", "2", "--seed", "11",
            "--network", "loopback", "--nemesis", "kill", "--time", "3", "--engine", "dask",
            "--workers", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    seeds = [int(s) for s in re.findall(r"\[\d/2\] seed (\d+): holds", printed)]
    assert len(seeds) == 2 and 11 in seeds, printed
    for seed in seeds:
        report = out / "runs" / f"seed-{seed}"
        assert re.search(rf"\| {seed} +\| - +\| holds +\| +[\d.]+ \| {report} +\|", printed)
        assert re.search(r"\| linearizable \(kv\) +\| holds", (report / "verdict.txt").read_text())
        assert (report / "history.jsonl").stat().st_size > 0
        assert {line.split()[1] for line in (report / "nemesis.log").read_text().splitlines()} == {
            "kill"
        }
        assert sorted(p.name for p in (report / "logs").iterdir()) == ["t1.out", "t2.out", "t3.out"]
    assert "2 runs in" in printed and "2 held, 0 violated" in printed
