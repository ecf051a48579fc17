"""Hosts files (meshcheck/systems/hosts_file.py): a good one read into its `Host`s in order; every
bad one one line naming the file and the key, exit 2 through the CLI, no traceback; and what
`cluster test --hosts` refuses before it connects to anything."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems import provenance
from meshcheck.systems import system_file
from meshcheck.systems.hosts_file import Host
from meshcheck.systems.hosts_file import load

TOY = Path(__file__).parent / "data" / "systems" / "toy.toml"
GOOD = """
[defaults]
user = "admin"
identity = "id"
known_hosts = "known_hosts"
work = "/var/tmp/"

[hosts.h1]
address = "10.0.0.11"

[hosts.h2]
address = "db2.example.org"
port = 2222
user = "root"
work = "/srv/meshcheck"
python = "/opt/meshcheck/.venv/bin/python"

[hosts.h3]
address = "10.0.0.13"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "id").write_text("a key\n")
    (tmp_path / "known_hosts").write_text("keys\n")
    path = tmp_path / "hosts.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_hosts_file_is_read_in_order_with_its_defaults(tmp_path: Path) -> None:
    hosts = load(write(tmp_path, GOOD))
    key, known = (tmp_path / "id").resolve(), (tmp_path / "known_hosts").resolve()
    assert hosts == (
        Host("h1", "10.0.0.11", 22, "admin", key, known, "/var/tmp"),
        Host(
            "h2",
            "db2.example.org",
            2222,
            "root",
            key,
            known,
            "/srv/meshcheck",
            "/opt/meshcheck/.venv/bin/python",
        ),
        Host("h3", "10.0.0.13", 22, "admin", key, known, "/var/tmp"),
    )
    assert hosts[1].destination() == "root@db2.example.org"
    assert hosts[0].python == "python3"  # the disk faults' python on the host, by default


BAD = [
    ("not TOML", "[hosts.h1\n", "not TOML"),
    ("no hosts", "[defaults]\nuser = 'a'\n", "hosts: missing"),
    ("unknown top key", GOOD + "\n[extra]\n", "extra: unknown key"),
    ("unknown host key", GOOD.replace("port = 2222", "prot = 2222"), "hosts.h2.prot: unknown key"),
    ("unknown default", GOOD.replace('user = "admin"', 'usr = "admin"'), "defaults.usr: unknown"),
    ("bad name", GOOD.replace("[hosts.h3]", "[hosts.H_3]"), "hosts.H_3: a host's name"),
    ("no address", GOOD.replace('address = "10.0.0.13"', ""), "hosts.h3.address: missing"),
    ("bad address", GOOD.replace("10.0.0.13", "-oProxyCommand=x"), "hosts.h3.address: '-oProxy"),
    ("port type", GOOD.replace("port = 2222", 'port = "2222"'), "hosts.h2.port: expected an int"),
    ("port range", GOOD.replace("port = 2222", "port = 70000"), "hosts.h2.port: 70000 is no port"),
    ("bad user", GOOD.replace('user = "root"', 'user = "ro ot"'), "hosts.h2.user: 'ro ot' is no"),
    ("no identity", GOOD.replace('identity = "id"\n', ""), "hosts.h1.identity: missing"),
    ("identity absent", GOOD.replace('"id"', '"nokey"'), "defaults.identity: no such file"),
    ("relative work", GOOD.replace('"/srv/meshcheck"', '"srv"'), "hosts.h2.work: 'srv' is no"),
    ("work escapes", GOOD.replace('"/srv/meshcheck"', '"/srv/../etc"'), "hosts.h2.work: '/srv/.."),
    (
        "python type",
        GOOD.replace('python = "/opt', "python = 3 #"),
        "hosts.h2.python: expected a s",
    ),
    (
        "python option",
        GOOD.replace('"/opt/meshcheck/.venv/bin/python"', '"-c x"'),
        "hosts.h2.python: '-c x' is no",
    ),
    ("same address", GOOD.replace("10.0.0.13", "10.0.0.11"), "hosts.h3.address: 10.0.0.11:22 is"),
]


@pytest.mark.parametrize(("what", "text", "says"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_hosts_file_is_one_line_naming_file_and_key_exit_2(
    what: str, text: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: {says}"), (what, str(caught.value))
    argv = ["cluster", "test", "--system", str(TOY), "--hosts", str(path), "--out", str(tmp_path)]
    assert main([*argv, "--time", "1"]) == 2
    err = capsys.readouterr().err
    assert err == f"meshcheck: {caught.value}\n" and "Traceback" not in err


def test_what_a_run_on_hosts_refuses_before_it_connects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Too few hosts for the nodes, a network besides the hosts', the project's own cores: one
    line each, exit 2, and no connection tried (the hosts do not exist)."""
    path = write(tmp_path, GOOD)
    run = ["cluster", "test", "--system", str(TOY), "--hosts", str(path), "--out", str(tmp_path)]
    cases = [
        (["--nodes", "4"], "--hosts {path}: 4 nodes need as many hosts, the file has 3"),
        (["--network", "loopback"], "--network loopback: not with --hosts"),
    ]
    for extra, says in cases:
        assert main([*run, *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"meshcheck: {says.format(path=path)}") and err.count("\n") == 1
    cores = ["cluster", "test", "--protocol", "raft", "--hosts", str(path), "--out", str(tmp_path)]
    assert main(cores) == 2
    assert capsys.readouterr().err.startswith("meshcheck: --hosts: only for a system run")


def test_run_txt_keeps_the_hosts_file_and_each_nodes_host(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    hosts = load(path)
    lines = provenance.describe(
        ["cluster", "test"], system_file.load(TOY), path, [("t1", hosts[0]), ("t2", hosts[1])]
    ).splitlines()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert lines[-3:] == [
        f"hosts file: {path.resolve()} sha256 {digest}",
        "host h1: t1 on admin@10.0.0.11:22, work /var/tmp, python python3",
        "host h2: t2 on root@db2.example.org:2222, work /srv/meshcheck, python "
        "/opt/meshcheck/.venv/bin/python",
    ]
    assert not any(
        line.startswith("host")
        for line in provenance.describe([], system_file.load(TOY)).splitlines()
    )
