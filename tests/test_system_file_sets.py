"""What a system file takes from outside itself, and what meshcheck writes beside a node
(meshcheck/systems/system_file.py, templates.py, nodes.py; docs/systems.md): `{env.NAME}`
placeholders filled from meshcheck's environment; `--set KEY=VALUE` over the file's own keys, both
listed in run.txt; bad ones (a variable not set, a `--set` not so made, a key the file cannot
have) one line and exit 2; `[[nodes.files]]` with `when = "absent"` written only where no such
file is yet; meshcheck's own files synced, never among a power failure's losses; and what a
pause stops, `[nodes] pause`: the node's group, its sidecars with it, or the node alone."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.faults.disks import NodeDisks
from meshcheck.faults.lazyfs import fuse_unavailable
from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.runtime import process_group
from meshcheck.systems import provenance
from meshcheck.systems.nodes import SystemNodes
from meshcheck.systems.system_file import load

FILE = """
name = "toy"

[nodes]
names = "t{i}"
ports = ["client"]
command = ["sh", "-c", "exec sleep 60", "{env.MC_SETS_HOME}/{name}"]
env = { TOY_HOME = "{env.MC_SETS_HOME}/{name}" }
ready = { port = "client", timeout = 5 }

[[nodes.files]]
path = "id"
text = "{i}"

[[nodes.files]]
path = "state/term"
text = "0"
when = "absent"

[client]
plugin = "jsonl"
port = "client"
workloads = ["registers", "cas"]
"""
NAMES = ["t1", "t2"]


def write(tmp_path: Path, text: str = FILE) -> Path:
    path = tmp_path / "toy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def nodes_of(path: Path, data: Path, sets: tuple[str, ...] = ()) -> SystemNodes:
    return SystemNodes(
        load(path, sets), NAMES, path.parent, hosts=dict.fromkeys(NAMES, "127.0.0.1"),
        ports={n: {"client": 7001 + i} for i, n in enumerate(NAMES)}, data=lambda n: data / n,
    )  # fmt: skip


def test_env_placeholders_and_sets_are_applied_and_listed_in_run_txt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_SETS_HOME", "/srv/toy")
    path = write(tmp_path)
    sets = ("nodes.ready.timeout=9", 'client.workloads=["cas"]', "about=a toy, set {{here}}")
    nodes = nodes_of(path, tmp_path / "data", sets)
    system = nodes.system
    assert system.nodes.ready.timeout == 9.0 and system.client.workloads == ("cas",)
    assert system.about == "a toy, set {{here}}"  # not a TOML value: the text as given
    assert nodes.env("t2")["TOY_HOME"] == "/srv/toy/t2"
    assert nodes.command("t1")[-1] == "/srv/toy/t1"
    assert system.sets == sets and system.environ == (("MC_SETS_HOME", "/srv/toy"),)
    lines = provenance.describe(["cluster", "test"], system).splitlines()
    assert [line for line in lines if line.startswith(("set: ", "environment: "))] == [
        *(f"set: {s}" for s in sets),
        "environment: MC_SETS_HOME=/srv/toy",
    ]
    # the file alone: its own values, nothing set
    plain = load(path)
    assert plain.nodes.ready.timeout == 5.0 and plain.sets == ()


BAD = [
    ((), "nodes.command: {env.MC_SETS_HOME}: the environment variable MC_SETS_HOME is not set"),
    (("nodes.ready.timeout",), "--set nodes.ready.timeout: expected KEY=VALUE"),
    (("nodes..ready=1",), "--set nodes..ready=1: expected KEY=VALUE"),
    (("nodes.colour=red",), "--set nodes.colour=red: nodes.colour: unknown key"),
    (
        ("nodes.ready.timeout=soon",),
        "--set nodes.ready.timeout=soon: nodes.ready.timeout: expected a number, not a string",
    ),
    (("name.first=t",), "--set name.first=t: name is a string, not a table"),
    (("nodes.env.X={env.9}",), "--set nodes.env.X={env.9}: nodes.env.X: {env.9}: '9' is not"),
]


@pytest.mark.parametrize(("sets", "says"), BAD, ids=[b[1][:40] for b in BAD])
def test_a_bad_env_placeholder_or_set_is_one_line_exit_2(
    sets: tuple[str, ...], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    if sets:
        monkeypatch.setenv("MC_SETS_HOME", "/srv/toy")
    else:
        monkeypatch.delenv("MC_SETS_HOME", raising=False)
    path = write(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load(path, sets)
    assert says in str(caught.value)
    argv = ["cluster", "test", "--system", str(path), "--out", str(tmp_path / "o")]
    assert main([*argv, *(w for s in sets for w in ("--set", s))]) == 2
    err = capsys.readouterr().err
    assert err == f"meshcheck: {caught.value}\n" and "Traceback" not in err


def test_set_is_refused_for_a_system_without_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cluster", "test", "--set", "nodes.default=5", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "meshcheck: --set: only for a system run from its file; meshcheck has none\n"
    )


def test_a_file_when_absent_is_written_once_and_the_others_at_every_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_SETS_HOME", "/srv/toy")
    nodes = nodes_of(write(tmp_path), tmp_path / "data")
    data = tmp_path / "data" / "t2"
    assert nodes.write_files("t2") == [data / "id", data / "state" / "term"]
    (data / "id").write_text("damaged")
    (data / "state" / "term").write_text("7")  # the node's own now
    assert nodes.write_files("t2") == [data / "id"]  # as before each restart
    assert (data / "id").read_text() == "2" and (data / "state" / "term").read_text() == "7"
    (data / "state" / "term").unlink()
    nodes.write_files("t2")
    assert (data / "state" / "term").read_text() == "0"
    bad = FILE.replace('when = "absent"', 'when = "sometimes"')
    with pytest.raises(ConfigError, match=r"nodes\.files\[1\]\.when: 'sometimes': expected one"):
        load(write(tmp_path, bad))


_WHY = fuse_unavailable()


@pytest.mark.skipif(_WHY is not None, reason=f"FUSE cannot be mounted: {_WHY}")
def test_meshchecks_own_files_are_synced_never_among_a_power_failures_losses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_SETS_HOME", "/srv/toy")
    with NodeDisks(tmp_path / "data", NAMES, lazy=True) as disks:
        nodes = nodes_of(write(tmp_path), tmp_path / "data")
        nodes.write_files("t1")
        assert disks.losses("t1") == []
        fd = os.open(disks.data("t1") / "wal", os.O_WRONLY | os.O_CREAT)  # the node's, unsynced
        os.write(fd, b"x")
        os.close(fd)
        assert disks.losses("t1") == ["name never synced: wal (1 bytes)"]
        disks.power_failure("t1")
        assert (disks.data("t1") / "id").read_text() == "1"
        assert (disks.data("t1") / "state" / "term").read_text() == "0"
        assert not (disks.data("t1") / "wal").exists()


PAUSED = """
name = "paused"

[nodes]
names = "p{i}"
min = 1
ports = ["client"]
command = ["sh", "-c", "sleep 600 & wait"]
ready = { command = ["true"], timeout = 5 }
PAUSE

[[nodes.sidecars]]
name = "beside"
command = ["sleep", "601"]

[client]
plugin = "jsonl"
port = "client"
workloads = ["registers"]
"""


def states(pids: list[int]) -> str:
    """The state letters of the processes `pids`, in order."""
    return "".join(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] for p in pids)


@pytest.mark.parametrize("pause", ["", 'pause = "group"', 'pause = "node"'])
def test_a_pause_stops_the_node_and_its_sidecars_or_the_node_alone(
    pause: str, tmp_path: Path
) -> None:
    """`pause = "group"` (the default) stops the node's process group, its sidecar with it;
    `pause = "node"` the node's process and its child, the sidecar left running; a resume
    starts what the pause stopped."""
    path = tmp_path / "paused.toml"
    path.write_text(PAUSED.replace("PAUSE", pause), encoding="utf-8")
    nodes = SystemNodes(
        load(path), ["p1"], tmp_path, hosts={"p1": "127.0.0.1"}, ports={"p1": {"client": 1}},
        data=lambda n: tmp_path / "data" / n,
    )  # fmt: skip
    try:
        nodes.start("p1")
        node = nodes.procs["p1"].pid
        deadline = time.monotonic() + 5
        while len(process_group.tree(node)) < 2:  # its sleep started
            assert time.monotonic() < deadline, "the node's sleep did not start"
            time.sleep(0.01)
        own = process_group.tree(node)
        sidecar = [nodes.sidecars["p1"][0].pid]
        # not stopped: sleeping, or running for the moment a process just woken takes (a resumed
        # sidecar was seen `R` once in a loaded make test)
        assert "T" not in states(own) + states(sidecar)
        nodes.pause("p1")
        assert states(own) == "TT"
        assert (states(sidecar) == "T") is not pause.endswith('"node"')
        nodes.resume("p1")
        assert "T" not in states(own) + states(sidecar)
    finally:
        nodes.stop()
    bad = PAUSED.replace("PAUSE", 'pause = "sidecars"')
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"nodes\.pause: 'sidecars': expected one of group, node"):
        load(path)
