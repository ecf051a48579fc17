"""System files (meshcheck/systems/system_file.py, registry.py): a good file read into its classes;
every bad one one line naming the file and the key, exit 2 through the CLI, no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems import registry, templates
from meshcheck.systems.system_file import check_installed, load

GOOD = """
name = "toy"
about = "a toy key-value service"

[install]
needs = ["sh"]
hint = "install a shell"

[nodes]
names = "t{i}"
default = 3
ports = ["client", "peer"]
command = ["sh", "-c", "exec toy --name {name} --listen {host}:{port.client} --peers {peers} --data {data}"]
peer = "{name}@{host}:{port.peer}"
join = ";"
env = { TOY_HOME = "{dir}/{name}" }
ready = { port = "client", timeout = 5 }
stop = { signal = "INT", grace = 1 }
data_files = ["*.log"]

[client]
plugin = "jsonl"
port = "client"
workloads = ["registers", "cas"]
reads = ["linearizable"]
pipeline = 4
"""


def write(tmp_path: Path, text: str, name: str = "toy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_is_read_into_its_classes(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    found = registry.resolve(str(path))
    assert isinstance(found, registry.System)
    system = found.file
    assert system.name == "toy" and found.plugin.name == "jsonl"
    assert [system.nodes.name(i) for i in (1, 3)] == ["t1", "t3"]
    assert system.nodes.ports == ("client", "peer")
    assert system.nodes.env == (("TOY_HOME", "{dir}/{name}"),)
    assert system.nodes.ready.timeout == 5.0 and system.nodes.stop.signal == "INT"
    assert system.client.options == (("pipeline", 4),)  # the table's other keys, for the client
    assert system.client.reads == ("linearizable",)
    check_installed(system)  # sh is on PATH
    filled = templates.fill(system.nodes.peer, {"name": "t1", "host": "h", "port.peer": "7"})
    assert filled == "t1@h:7"
    assert templates.fill("{{literal}} {i}", {"i": "2"}) == "{literal} 2"


BAD: list[tuple[str, str, str]] = [
    # (what is wrong, the file's text (None: no file), the one line's tail after "FILE: ")
    ("bad TOML", "name = ", "not TOML: "),
    ("no name", GOOD.replace('name = "toy"\n', "", 1), "name: missing"),
    ("a bad name", GOOD.replace('name = "toy"', 'name = "Toy!"'), "name: 'Toy!' is not made"),
    ("unknown top key", "extra = 1\n" + GOOD, "extra: unknown key"),
    ("no nodes", GOOD.split("[nodes]")[0] + "[client]" + GOOD.split("[client]")[1], "nodes: missing"),
    ("unknown node key", GOOD.replace("join = \";\"", "joined = \";\""), "nodes.joined: unknown key"),
    ("wrong type", GOOD.replace("default = 3", 'default = "3"'), "nodes.default: expected an integer, not a string"),
    ("a boolean for a number", GOOD.replace("default = 3", "default = true"), "nodes.default: expected an integer, not a boolean"),
    ("command not strings", GOOD.replace('command = ["sh"', 'command = [1, "sh"'), "nodes.command: expected a list of strings"),
    ("unknown placeholder", GOOD.replace("--data {data}", "--data {datadir}"), "nodes.command: unknown placeholder {datadir}"),
    ("unknown port", GOOD.replace("{port.client} --peers", "{port.admin} --peers"), "nodes.command: unknown placeholder {port.admin}"),
    ("peers inside peer", GOOD.replace('peer = "{name}', 'peer = "{peers}'), "nodes.peer: unknown placeholder {peers}"),
    ("bad env placeholder", GOOD.replace('"{dir}/{name}"', '"{home}"'), "nodes.env.TOY_HOME: unknown placeholder {home}"),
    ("names not per node", GOOD.replace('names = "t{i}"', 'names = "t"'), "nodes.names: node names must be distinct"),
    ("ready on no port", GOOD.replace('ready = { port = "client"', 'ready = { port = "admin"'), "nodes.ready.port: 'admin' is not one of nodes.ports"),
    ("bad signal", GOOD.replace('signal = "INT"', 'signal = "NOPE"'), "nodes.stop.signal: 'NOPE' is not a signal"),
    ("default out of range", GOOD.replace("default = 3", "default = 12"), "nodes.default: 12 is not between min 3 and max 9"),
    ("client port unknown", GOOD.replace('port = "client"\nworkloads', 'port = "admin"\nworkloads'), "client.port: 'admin' is not one of nodes.ports"),
    ("no plug-in installed", GOOD.replace('plugin = "jsonl"', 'plugin = "nosuch"'), "client.plugin: no plug-in 'nosuch' is installed"),
    ("a workload meshcheck lacks", GOOD.replace('["registers", "cas"]', '["queue"]'), "client.workloads: 'queue': meshcheck's workloads are"),
    ("a workload the plug-in lacks", GOOD.replace('["registers", "cas"]', '["registers", "lock"]'), "client.workloads: the plug-in 'jsonl' does not run 'lock'"),
    ("a read mode nobody checks", GOOD.replace('reads = ["linearizable"]', 'reads = ["eventual"]'), "client.reads: 'eventual': the checkers know"),
    ("validate: no such spec", GOOD + '\n[validate]\nlogs = "{data}/s.ndjson"\nspec = "Nope"\n', "validate.spec: 'Nope' is neither a .tla file"),
    ("validate: no .tla file", GOOD + '\n[validate]\nlogs = "x"\nspec = "toy.toml.tla"\n', "validate.spec: no file"),
    ("documented: another workload", GOOD + '\n[documented]\nlock = "x"\n', "documented.lock: not one of [client] workloads"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "text", "says"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_system_file_is_one_line_naming_file_and_key_exit_2(
    what: str, text: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        registry.resolve(str(path))
    assert str(caught.value).startswith(f"{path}: {says}"), what
    assert main(["cluster", "test", "--system", str(path), "--out", str(tmp_path / "o")]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"meshcheck: {caught.value}\n" and "Traceback" not in captured.err


def test_a_missing_file_and_an_unknown_system_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.toml"
    assert main(["cluster", "test", "--system", str(missing), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"meshcheck: {missing}: no such system file\n"
    assert main(["cluster", "test", "--system", "zookeeper", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("meshcheck: --system zookeeper: neither a system file nor a known system")
    assert "etcd" in err and "meshcheck" in err and err.count("\n") == 1


def test_missing_executables_print_the_files_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace('needs = ["sh"]', 'needs = ["sh", "no-such-toy-server"]'))
    assert main(["cluster", "test", "--system", str(path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (
        f"meshcheck: {path}: install.needs: no-such-toy-server not found: install a shell\n"
    )
    # a path is relative to the file
    path = write(tmp_path, GOOD.replace('needs = ["sh"]', 'needs = ["./toy-server"]'))
    with pytest.raises(ConfigError, match=re.escape("install.needs: ./toy-server not found")):
        check_installed(load(path))
    (tmp_path / "toy-server").write_text("#!/bin/sh\n")
    check_installed(load(path))


def test_every_shipped_system_file_loads() -> None:
    shipped = sorted(registry.KNOWN.glob("*.toml"))
    assert shipped, "meshcheck/systems/known/ ships no system file"
    for path in shipped:
        found = registry.resolve(path.stem)
        assert isinstance(found, registry.System) and found.file.name == path.stem
