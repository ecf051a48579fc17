"""System files (meshcheck/systems/system_file.py, registry.py): a good file read into its classes;
every bad one one line naming the file and the key, exit 2 through the CLI, no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshcheck import verify_summary
from meshcheck import verify_systems
from meshcheck.cli import main
from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.runtime.launcher import hash_seeds
from meshcheck.systems import registry
from meshcheck.systems import templates
from meshcheck.systems.nodes import SystemNodes
from meshcheck.systems.system_file import NodeFile
from meshcheck.systems.system_file import Verify
from meshcheck.systems.system_file import check_installed
from meshcheck.systems.system_file import load
from meshcheck.verify_rows import Row
from meshcheck.verify_rows import TraceCheck

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
    assert system.version == ()  # no version command: run.txt keeps the program's SHA-256 alone
    with_version = load(write(tmp_path, 'version = { command = ["{here}/toy", "-v"] }\n' + GOOD))
    assert with_version.version == ("{here}/toy", "-v")
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
    ("proxied, two ports", GOOD.replace('peer = "{name}@{host}:{port.peer}"', 'peer = "{name}@{host}:{port.peer}:{port.client}"\nproxied = true'), "nodes.proxied: a link proxy carries one port: the peer template names 2"),
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
    ("a read mode mapped to no check", GOOD.replace('reads = ["linearizable"]', 'reads = { plain = "eventual" }'), "client.reads.plain: 'eventual': the checkers know"),
    ("a read mode table empty", GOOD.replace('reads = ["linearizable"]', "reads = {}"), "client.reads: empty"),
    ("files not tables", GOOD.replace("[client]", 'files = ["myid"]\n\n[client]'), "nodes.files: expected a list of tables"),
    ("a file without a path", GOOD.replace("[client]", '[[nodes.files]]\ntext = "1"\n\n[client]'), "nodes.files[0].path: missing"),
    ("a file with an unknown key", GOOD.replace("[client]", '[[nodes.files]]\npath = "id"\ntext = "1"\nmode = 1\n\n[client]'), "nodes.files[0].mode: unknown key"),
    ("a file's unknown placeholder", GOOD.replace("[client]", '[[nodes.files]]\npath = "id"\ntext = "{id}"\n\n[client]'), "nodes.files[0].text: unknown placeholder {id}"),
    ("validate: no such spec", GOOD + '\n[validate]\nlogs = "{data}/s.ndjson"\nspec = "Nope"\n', "validate.spec: 'Nope' is neither a .tla file"),
    ("validate: no .tla file", GOOD + '\n[validate]\nlogs = "x"\nspec = "toy.toml.tla"\n', "validate.spec: no file"),
    ("documented: another workload", GOOD + '\n[documented]\nlock = "x"\n', "documented.lock: not one of [client] workloads"),
    ("documented: another read mode", GOOD + '\n[documented]\nregisters.plain = "x"\n', "documented.registers.plain: not one of [client] reads (linearizable)"),
    ("documented: a mode's note not text", GOOD + '\n[documented]\nregisters.linearizable = 1\n', "documented.registers.linearizable: expected a string"),
    ("verify: an unknown key", GOOD + '\n[verify]\nworkload = "cas"\nseconds = 20\n', "verify.seconds: unknown key"),
    ("verify: a workload the file lacks", GOOD + '\n[verify]\nworkload = "lock"\n', "verify.workload: 'lock' is not one of [client] workloads (registers, cas)"),
    ("verify: nodes out of the file's bounds", GOOD + '\n[verify]\nnodes = 12\n', "verify.nodes: 12 is not between nodes.min 3 and max 9"),
    ("verify: time not a number", GOOD + '\n[verify]\ntime = "20"\n', "verify.time: expected a number, not a string"),
    ("verify: time out of range", GOOD + '\n[verify]\ntime = 0\n', "verify.time: 0 s: expected 1 to 3600 seconds"),
    ("verify: a fault no system's run carries out", GOOD + '\n[verify]\nnemesis = ["kill", "crash"]\n', "verify.nemesis: 'crash': a system's run carries out kill, pause"),
    ("verify: no fault", GOOD + '\n[verify]\nnemesis = []\n', "verify.nemesis: empty"),
    ("verify: a check that is no Ref", GOOD + '\n[verify]\nchecks = ["toy.checks"]\n', "verify.checks: 'toy.checks' is not a Ref (package.module:attribute)"),
    ("version: not a table", 'version = "1.0"\n' + GOOD, "version: expected a table, not a string"),
    ("version: no command", "version = {}\n" + GOOD, "version.command: missing"),
    ("version: an empty command", "version = { command = [] }\n" + GOOD, "version.command: empty"),
    ("version: a command not strings", 'version = { command = ["toy", 1] }\n' + GOOD, "version.command: expected a list of strings"),
    ("version: a node's placeholder", 'version = { command = ["{name}"] }\n' + GOOD, "version.command: unknown placeholder {name} (known: {here})"),
    ("version: an unknown key", 'version = { command = ["toy"], args = [] }\n' + GOOD, "version.args: unknown key"),
]  # fmt: skip


def test_a_documented_note_by_read_mode_is_shown_for_that_mode_only(tmp_path: Path) -> None:
    """A note on stale plain reads must not explain away a failure under linearizable reads;
    a workload's own note is every mode's where no mode has one."""
    text = GOOD.replace(
        'reads = ["linearizable"]', 'reads = { sync = "linearizable", plain = "serializable" }'
    )
    path = write(tmp_path, text + '\n[documented]\nregisters.plain = "stale"\ncas = "atomic"\n')
    found = registry.resolve(str(path))
    assert isinstance(found, registry.System)
    assert found.file.documented_for("registers", "plain") == "stale"
    assert found.file.documented_for("registers", "sync") == ""
    assert (
        found.file.documented_for("cas", "sync")
        == found.file.documented_for("cas", "plain")
        == "atomic"
    )


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


def test_a_verify_table_takes_the_commands_defaults_and_names_its_checks(tmp_path: Path) -> None:
    """`[verify]`: what `meshcheck verify` runs of a system (meshcheck/verify_systems.py). A key
    left out is `cluster test --system`'s default; the row's name is made of the table; a Ref
    that names no TraceCheck is one line; a system not installed is a skip with the file's hint."""
    assert load(write(tmp_path, GOOD)).verify is None
    ref = "meshcheck.verify_etcd:ETCD_RAFT_ROW"  # a string, not a check
    text = GOOD.replace('needs = ["sh"]', 'needs = ["no-such-toy-server"]')
    system = load(write(tmp_path, text + f'\n[verify]\nchecks = ["{ref}"]\n'))
    assert system.verify == Verify(3, "registers", 10.0, ("kill", "pause", "partition"), (ref,))
    name = "toy cluster: 3 members, registers, the nemesis, the history checked"
    assert verify_systems.cluster_name(system) == name
    with pytest.raises(ConfigError) as caught:
        verify_systems.trace_check(system, ref)
    assert str(caught.value) == f"{system.path}: verify.checks: {ref} is a str, not a TraceCheck"
    row = verify_systems.cluster_row(system, None)
    assert (row.name, row.result) == (name, "skip")
    assert row.detail == (
        f"{system.path}: install.needs: no-such-toy-server not found: install a shell"
    )
    etcd = load(registry.KNOWN / "etcd.toml").verify  # its Raft library, then 3 members
    assert etcd == Verify(
        3, "cas", 20.0, ("kill", "pause", "partition"), ("meshcheck.verify_etcd:RAFT_LIBRARY",)
    )


def _toy_check(root: Path, profile: str, seed: int | None) -> Row:
    return Row("traces", "toy's own code checked", "pass", 1, "steps", 0.0)


# a check of a second system's own code, validated against a spec no protocol registers
TOY_CHECK = TraceCheck("toy's own code checked", _toy_check, specs=("ToyKV",))


def test_a_second_system_with_a_verify_table_has_its_own_area(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify's summary puts a system's rows on a line of its own, by the name its file gives
    (meshcheck/verify_systems.py `areas`): its checks', its cluster test's, and the TLC models'
    of the specs its checks validate against; etcd's as before."""
    ref = "tests.test_system_file:TOY_CHECK"
    toy = write(tmp_path, GOOD + f'\n[verify]\nchecks = ["{ref}"]\n')
    known = registry.files()
    monkeypatch.setattr(registry, "files", lambda: {**known, "toy": toy})
    rows = [u.name for u in verify_systems.units(tmp_path, "default", None)]
    cluster = "toy cluster: 3 members, registers, the nemesis, the history checked"
    assert rows[-2:] == ["toy's own code checked", cluster]
    areas = verify_systems.areas()
    assert {name: areas.rows[name] for name in rows} == {
        **{name: "etcd" for name in rows[:-2]},
        "toy's own code checked": "toy",
        cluster: "toy",
    }
    assert dict(areas.systems) == {"RaftEtcd": "etcd", "ToyKV": "toy"}
    tlc = Row("tlc", "ToyKV_quick", "pass", 1, "states", 0.0)
    assert verify_summary.area(tlc, verify_summary.Areas(systems=areas.systems)) == "toy"


def test_a_missing_file_and_an_unknown_system_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.toml"
    assert main(["cluster", "test", "--system", str(missing), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"meshcheck: {missing}: no such system file\n"
    assert main(["cluster", "test", "--system", "nosuchsystem", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("meshcheck: --system nosuchsystem: neither a system file nor a known")
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


FILES = """
[[nodes.files]]
path = "{data}/myid"
text = "{i}"

[[nodes.files]]
path = "conf/server.cfg"
text = '''
port={port.client}
{peers}
'''
"""


def test_files_are_written_before_each_start_and_read_modes_map_to_checks(tmp_path: Path) -> None:
    """`[[nodes.files]]`: templated files written into place before a node starts (a relative
    path under its data directory); `reads` as a table: the system's own read modes, each with
    the check that judges it."""
    text = GOOD.replace("[client]", FILES + "\n[client]").replace(
        'reads = ["linearizable"]', 'reads = { sync = "linearizable", plain = "serializable" }'
    )
    system = load(write(tmp_path, text))
    assert system.nodes.files[0] == NodeFile("{data}/myid", "{i}")
    assert system.client.reads == ("sync", "plain")  # the first is the default
    assert [system.client.check(m) for m in ("sync", "plain")] == ["linearizable", "serializable"]
    assert load(write(tmp_path, GOOD)).client.check("linearizable") == "linearizable"
    names = ["t1", "t2"]
    nodes = SystemNodes(
        system,
        names,
        tmp_path,
        hosts=dict.fromkeys(names, "127.0.0.1"),
        ports={"t1": {"client": 7001, "peer": 7002}, "t2": {"client": 7003, "peer": 7004}},
        data=lambda n: tmp_path / "data" / n,
    )
    myid, cfg = nodes.write_files("t2")
    assert myid == tmp_path / "data" / "t2" / "myid" and myid.read_text() == "2"
    assert cfg == tmp_path / "data" / "t2" / "conf" / "server.cfg"
    assert cfg.read_text() == "port=7003\nt1@127.0.0.1:7002;t2@127.0.0.1:7004\n"
    myid.write_text("damaged")
    nodes.write_files("t2")  # again, as before each restart
    assert myid.read_text() == "2"


def test_every_shipped_system_file_loads() -> None:
    shipped = sorted(registry.KNOWN.glob("*.toml"))
    assert shipped, "meshcheck/systems/known/ ships no system file"
    for path in shipped:
        found = registry.resolve(path.stem)
        assert isinstance(found, registry.System) and found.file.name == path.stem
    for path in sorted(registry.KNOWN.glob("cores/*.toml")):  # the project's own cores'
        found = registry.resolve(f"cores/{path.stem}")
        assert isinstance(found, registry.System) and found.file.name == path.stem
        assert path.stem not in registry.names()  # not among the systems `--system` lists


def test_each_node_of_a_system_has_a_hash_seed_of_its_own(tmp_path: Path) -> None:
    """A system's nodes run with PYTHONHASHSEED drawn from the run's seed and the node's name
    (impl/runtime/launcher.py `hash_seeds`), as the project's own nodes do: distinct between the
    nodes, the same for the same seed, another for another; a file's own PYTHONHASHSEED stays."""
    names = ["t1", "t2", "t3"]

    def seeds(text: str, seed: int) -> list[str]:
        nodes = SystemNodes(
            load(write(tmp_path, text)),
            names,
            tmp_path,
            hosts=dict.fromkeys(names, "127.0.0.1"),
            ports={n: {"client": 7001 + i, "peer": 7101 + i} for i, n in enumerate(names)},
            data=lambda n: tmp_path / "data" / n,
            seed=seed,
        )
        return [nodes.env(n)["PYTHONHASHSEED"] for n in names]

    first = seeds(GOOD, 1)
    assert len(set(first)) == 3 and "0" not in first
    assert seeds(GOOD, 1) == first and seeds(GOOD, 2) != first
    assert first == [str(hash_seeds(1, names)[n]) for n in names]
    pinned = GOOD.replace('env = { TOY_HOME = "{dir}/{name}" }', 'env = { PYTHONHASHSEED = "5" }')
    assert seeds(pinned, 1) == ["5", "5", "5"]
