"""Any system from a system file: a toy key-value service in Python (tests/data/systems/toy_kv.py,
toy.toml) over the built-in jsonl client, on loopback under kills, pauses and clock faults, its
history linearizable; the same toy with a store per node (not linearizable) caught; what the file
does not offer refused in one line."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.cluster.clock_faults import LAYOUT
from meshcheck.cluster.clock_faults import unavailable
from tests.test_cluster_cmd import nodes_of

TOY = Path(__file__).parent / "data" / "systems" / "toy.toml"
needs_python3 = pytest.mark.skipif(shutil.which("python3") is None, reason="no python3 on PATH")


def toy(tmp_path: Path, independent: bool = False) -> Path:
    """The toy's file and service copied into `tmp_path` (with a store per node if
    `independent`)."""
    text = TOY.read_text(encoding="utf-8")
    if independent:
        text = text.replace('"{peers}"]', '"{peers}", "--independent"]')
    shutil.copy(TOY.with_name("toy_kv.py"), tmp_path / "toy_kv.py")
    (tmp_path / "toy.toml").write_text(text, encoding="utf-8")
    return tmp_path / "toy.toml"


@needs_python3
@pytest.mark.skipif(unavailable() is not None, reason=f"{unavailable()}")
def test_a_toy_service_from_its_file_runs_under_kills_pauses_and_clocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # seed 10: the first node (no plug-in names a leader) paused, then killed; a node's clock
    # 2.9 s ahead at half speed
    out = tmp_path / "report"
    argv = ["cluster", "test", "--system", str(toy(tmp_path)), "--network", "loopback",
            "--workload", "cas", "--nemesis", "kill,pause,clock", "--time", "6", "--seed", "10",
            "--out", str(out), "--quiet"]  # fmt: skip
    code = main(argv)
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.startswith("cluster test: toy, 3 nodes, 6 s, seed 10, loopback")
    assert re.search(r"\| linearizable \(kv\) +\| holds", printed)
    # it did something, and its faults happened: not vacuous (meshcheck/exercise.py)
    assert re.search(
        r"\| exercised +\| enough +\| \d+ of \d+ operations ok, \d+ of \d+ faults", printed
    )
    # how the plan went: each planned fault carried out, and how far after its time at most
    assert re.search(r"\| nemesis +\| (\d+) faults +\| \1 faults planned: \1 carried out", printed)
    struck = (out / "nemesis.log").read_text().splitlines()
    assert {line.split()[1] for line in struck} == {"kill", "pause", "clock"}
    # the nodes' output where the file says; each node's clock never shifted (its control words
    # all 0) or shifted and set back (an even sequence count, the anchors equal, rate 1)
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["t1.out", "t2.out", "t3.out"]
    words = [LAYOUT.unpack((out / f"clock-t{i}").read_bytes()) for i in (1, 2, 3)]
    shifted = [(seq, rate) for seq, real, fake, rate in words if seq and real == fake]
    assert len(shifted) == sum(1 for seq, *_ in words if seq) >= 1, words
    assert all(seq % 2 == 0 and rate == 10**9 for seq, rate in shifted), words
    assert (out / "data" / "t1" / "store.json").exists()  # {data}: the node's data directory
    assert main(["history", "check", str(out / "history.jsonl"), "--model", "kv"]) == 0
    assert nodes_of(tmp_path, b"toy_kv.py") == []


@needs_python3
def test_a_toy_whose_nodes_keep_registers_of_their_own_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    # no fault, so no calm is owed after the clients' 3 s (meshcheck/systems/run.py RECOVERY)
    argv = ["cluster", "test", "--system", str(toy(tmp_path, independent=True)), "--network",
            "loopback", "--nemesis", "none", "--time", "3", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 1
    printed = capsys.readouterr().out
    assert (
        re.search(r"\| linearizable \(kv\) +\| VIOLATED", printed)
        and "anomaly: not linearizable" in printed
    )
    assert (out / "anomaly.svg").exists()
    # which node each operation of the window asked, and what was lost, counted and named
    window = (out / "anomaly.txt").read_text(encoding="utf-8")
    assert re.search(r"(write|read)\(.*\)  asked t[123]\n", window), window
    assert re.search(r"\| acknowledged writes kept \(kv\) +\| VIOLATED", printed), printed
    lost = (out / "losses.txt").read_text(encoding="utf-8")
    assert re.match(r"writes: \d+ acknowledged, [1-9]\d* lost", lost), lost
    # the toy's answers do not say who served them: the node asked, said as such
    assert re.search(r"lost: c\S+ wrote \S+ to 'k\d' \(t=\S+ asked t[123]\)", lost), lost
    full = json.loads((out / "losses.json").read_text(encoding="utf-8"))
    assert full["lost"]["count"] == len(full["lost"]["items"]) >= 1 and full["times"] == "seconds"
    assert {x["write"]["asked"] for x in full["lost"]["items"]} <= {"t1", "t2", "t3"}
    assert nodes_of(tmp_path, b"toy_kv.py") == []


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--workload", "lock"], "--workload lock: toy runs registers or cas"),
        (["--reads", "serializable"], "--reads serializable: choose from linearizable"),
        (["--network", "loopback", "--nemesis", "partition"], "--nemesis partition: not on --network loopback"),
        (["--network", "loopback", "--nemesis", "crash"], "--nemesis crash: toy runs under kill, pause"),
        (["--nodes", "12"], "--nodes 12: expected 3 to 9"),
        (["--timeout", "3"], "--timeout: only for the project's own cores"),
        (["--client-pause", "2"], "--client-pause: only the lock and fenced-lock workloads' clients"),
    ],
)  # fmt: skip
def test_what_a_system_file_does_not_offer_is_one_line(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cluster", "test", "--system", str(toy(tmp_path)), *flags, "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"meshcheck: {says}") and err.count("\n") == 1, err


def row(printed: str, check: str) -> list[str]:
    """The result and detail of `check` in a run's table."""
    for line in printed.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == check:
            return cells[1:]
    raise AssertionError(f"no row {check!r}")


def validated_toy(tmp_path: Path, tamper: str = "") -> Path:
    """The toy as four nodes r1..r4 whose NDJSON logs are a real PBFT run's (each node's own
    records of tests/data/logs/pbft-run.ndjson, written to its data directory as it starts; with
    `tamper`, a sed expression applied to r2's), validated against PBFT.tla by the file's
    [validate] section."""
    path = toy(tmp_path)
    shutil.copy(
        Path(__file__).parent / "data" / "logs" / "pbft-run.ndjson", tmp_path / "run.ndjson"
    )
    edit = f" | sed '{tamper}'" if tamper else ""
    steps = (
        'grep \'"node":"{name}"\' {here}/run.ndjson'
        + (f" | if [ {{name}} = r2 ]; then cat{edit}; else cat; fi" if tamper else "")
        + " > {data}/steps.ndjson; exec python3 {here}/toy_kv.py {host} {port.client} {data} {peers}"
    )
    text = path.read_text(encoding="utf-8")
    text = text.replace('names = "t{i}"', 'names = "r{i}"\ndefault = 4\nmin = 4')
    start = text.index("command = [")
    end = text.index("\n", start)
    text = text[:start] + f'command = ["sh", "-c", {json.dumps(steps)}]' + text[end:]
    text += '\n[validate]\nlogs = "{data}/steps.ndjson"\nspec = "PBFT"\n'
    path.write_text(text, encoding="utf-8")
    return path


@needs_python3
@pytest.mark.slow  # make test shows a system's logs judged invalid on meshkv's bug (test_meshkv.py)
def test_the_nodes_logs_are_validated_against_the_files_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cluster", "test", "--network", "loopback", "--nemesis", "none", "--time", "2",
            "--quiet"]  # fmt: skip
    out = tmp_path / "good"
    (tmp_path / "a").mkdir()
    system = validated_toy(tmp_path / "a")
    assert main([*argv, "--system", str(system), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert row(printed, "logs valid (PBFT.tla)") == ["holds", "valid: 360 of 360 steps"], printed
    assert (out / "model.cfg").exists()
    # r2's log says it changed to view 7 where the run's r2 changed to view 1: no step of the spec
    (tmp_path / "b").mkdir()
    system = validated_toy(tmp_path / "b", tamper='1s/"view":1/"view":7/')
    assert main([*argv, "--system", str(system), "--out", str(tmp_path / "bad")]) == 1
    printed = capsys.readouterr().out
    assert row(printed, "logs valid (PBFT.tla)")[0] == "VIOLATED", printed


@needs_python3
@pytest.mark.parametrize("network", ["loopback", "netns"])
def test_a_command_that_does_not_exist_is_one_line_on_every_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], network: str
) -> None:
    # issue [23] item 4 (a): on loopback Popen's FileNotFoundError was a traceback, exit 1; in a
    # namespace nsenter said it (exit 127, the node's log tail): both one line, exit 2
    from meshcheck.cluster.netns import missing

    if network == "netns" and missing() is not None:
        pytest.skip(f"{missing()}")
    system = toy(tmp_path)
    system.write_text(
        system.read_text(encoding="utf-8").replace(
            'command = ["python3", ', 'command = ["no-such-program-mc", '
        ),
        encoding="utf-8",
    )
    argv = ["cluster", "test", "--system", str(system), "--time", "1", "--nemesis", "none"]
    code = main([*argv, "--network", network, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    said = [line for line in err.splitlines() if line.startswith("meshcheck:")]  # not progress
    assert len(said) == 1 and "no-such-program-mc" in said[0], err
    assert "Traceback" not in err


@needs_python3
def test_the_report_folder_keeps_the_command_line_and_the_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue [23] item 4 (e): the exact command line, meshcheck's version, the system's file and
    # the program its nodes ran, each with what identifies it
    import hashlib

    from meshcheck import __version__

    system = toy(tmp_path)  # whose nodes exit at once: kept before the nodes start, and cheap
    text = system.read_text(encoding="utf-8").replace(
        '"{here}/toy_kv.py"', '"-c", "raise SystemExit(3)"'
    )
    # the file's version command: its first line printed kept, the blank one before it skipped
    version = 'version = { command = ["python3", "-c", "print(); print(\'toy 1.2.3\')"] }\n'
    system.write_text(text.replace("\n[install]", "\n" + version + "[install]", 1), "utf-8")
    out = tmp_path / "the report"  # a space the kept command line must quote
    argv = ["cluster", "test", "--system", str(system), "--time", "1", "--nemesis", "none",
            "--network", "loopback", "--nodes", "3", "--out", str(out)]  # fmt: skip
    assert main(argv) == 2
    assert "exited with 3" in capsys.readouterr().err
    kept = dict(
        line.split(": ", 1) for line in (out / "run.txt").read_text(encoding="utf-8").splitlines()
    )
    assert shlex.split(kept["command"]) == ["meshcheck", *argv]
    assert kept["system version"] == "toy 1.2.3"
    assert kept["meshcheck"].split()[0] == __version__
    assert kept["system"].startswith("toy, a toy key-value service")
    assert kept["system file"] == (
        f"{system.resolve()} sha256 {hashlib.sha256(system.read_bytes()).hexdigest()}"
    )
    python3 = Path(shutil.which("python3") or "").resolve()
    assert kept["system program"] == (
        f"{python3} sha256 {hashlib.sha256(python3.read_bytes()).hexdigest()}"
    )


@needs_python3
@pytest.mark.parametrize(
    ("command", "kept"),
    [
        ('["no-such-version-mc"]', "unknown (no-such-version-mc could not run: No such file"),
        ('["python3", "-c", "import sys; sys.exit(\'toy: bad flag\')"]',
         "toy: bad flag (python3 exited with 1)"),
        ('["python3", "-c", "import time; time.sleep(30)"]', "unknown (python3 -c "),
        ('["python3", "-c", "pass"]', "(it printed nothing)"),
    ],
    ids=["missing", "fails on stderr", "no answer", "silent"],
)  # fmt: skip
def test_a_version_command_that_cannot_answer_is_said_in_run_txt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, kept: str
) -> None:
    # a version command that fails is recorded, not fatal: the program's SHA-256 still identifies
    # what the nodes ran; one that hangs is killed after VERSION_WAIT
    from meshcheck.systems import provenance
    from meshcheck.systems.system_file import load

    # the short wait for the command that hangs alone: python3 may take longer than 0.5 s to
    # start under load, and the others must answer, not be cut off
    monkeypatch.setattr(provenance, "VERSION_WAIT", 0.5 if "sleep" in command else 10.0)
    system = toy(tmp_path)
    text = system.read_text(encoding="utf-8")
    system.write_text(
        text.replace("\n[install]", f"\nversion = {{ command = {command} }}\n[install]")
    )
    started = time.monotonic()
    lines = provenance.describe(["cluster", "test"], load(system)).splitlines()
    assert time.monotonic() - started < 5
    said = dict(line.split(": ", 1) for line in lines)["system version"]
    assert said.startswith(kept), said


def test_a_run_that_held_having_done_almost_nothing_is_vacuous_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every check held, on 3 operations ok of 40: the run says it was vacuous (meshcheck/exercise.py) and exits 1, as on a check left undecided. The run is
    the command's own up to the cluster, which is stood in for (no process starts)."""
    from meshcheck.cluster.checks import Verdict
    from meshcheck.cluster.nemesis import Fault
    from meshcheck.cluster.workload import History
    from meshcheck.systems import run as systems_run
    from meshcheck.traces.history.history import Op

    def idle(system: object, options: systems_run.RunOptions, *_: object, **__: object) -> object:
        ops = [Op("c1", "write", k, None, k, k + 0.5, "ok" if k < 3 else "fail") for k in range(40)]
        plan = (Fault(1.0, "kill", ("t1",), 1.0), Fault(3.0, "pause", ("t2",), 1.0))
        struck = ((1.0, "kill t1"), (2.0, "kill t1 undone"))
        verdicts = (Verdict("linearizable (kv)", True, "40 operations"),)
        return systems_run.Outcome(options, History(ops), verdicts, plan, struck, 1.0)

    monkeypatch.setattr(systems_run, "run", idle)
    argv = ["cluster", "test", "--system", str(toy(tmp_path)), "--network", "loopback",
            "--time", "2", "--out", str(tmp_path / "report"), "--quiet"]  # fmt: skip
    assert main(argv) == 1
    printed = capsys.readouterr().out
    assert re.search(r"\| exercised +\| vacuous +\| 3 of 40 operations ok \(fewer than 5", printed)
    # one of the two faults carried out: half, enough; the operations are what fell short
    assert printed.endswith(
        "\ncluster test: vacuous: 3 of 40 operations ok (fewer than 5, or under 10%)\n"
    )
