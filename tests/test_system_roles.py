"""Deployments in a system file (meshcheck/systems/system_file.py, roles.py, nodes.py, probe.py):
roles with per-role and per-node settings, sidecars in their node's process group, a readiness
probe that is a command, the order of starts; the known systems' files made into the same nodes
as before; every bad input one line, exit 2; and the example primary with its replicas and a
sidecar (examples/replicas/) run under a kill from its file alone."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.runtime.launcher import alive
from meshcheck.systems import probe
from meshcheck.systems import registry
from meshcheck.systems.nodes import SystemNodes
from meshcheck.systems.system_file import Ready
from meshcheck.systems.system_file import load
from tests.test_cluster_cmd import nodes_of

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "replicas" / "replicas.toml"
# the nodes each known file made before roles, sidecars and probes (tests/data/systems/
# known_nodes.json, made by `made` below from the commit before them)
KNOWN = ROOT / "tests" / "data" / "systems" / "known_nodes.json"
KNOWN_FILES = ["meshcheck/systems/known/etcd.toml", "meshcheck/systems/known/nats.toml",
               "meshcheck/systems/known/zookeeper.toml", "examples/meshkv/meshkv.toml",
               "tests/data/systems/toy.toml"]  # fmt: skip
needs_python3 = pytest.mark.skipif(shutil.which("python3") is None, reason="no python3 on PATH")


def nodes(path: Path, names: list[str], folder: Path) -> SystemNodes:
    system = load(path)
    return SystemNodes(
        system, names, folder,
        hosts={n: f"10.0.0.{k + 1}" for k, n in enumerate(names)},
        ports={n: {p: 7000 + 10 * k + j for j, p in enumerate(system.nodes.ports)}
               for k, n in enumerate(names)},
        data=lambda n: folder / "data" / n, seed=3,
    )  # fmt: skip


def test_the_example_gives_each_node_its_roles_command_sidecar_probe_and_wave(
    tmp_path: Path,
) -> None:
    found = registry.resolve(str(EXAMPLE))
    assert isinstance(found, registry.System)
    spec = found.file.nodes
    assert [r.name for r in spec.roles] == ["primary", "replica"]
    assert (spec.roles[0].count, spec.roles[1].count, spec.roles[1].after) == (
        1,
        None,
        ("primary",),
    )
    assert spec.sidecars[0].name == "heartbeat" and spec.ready.command[1] == "{here}/ready.py"
    made = nodes(EXAMPLE, ["r1", "r2", "r3"], tmp_path)
    assert {n: made.nodes[n].role for n in made.names} == {
        "r1": "primary",
        "r2": "replica",
        "r3": "replica",
    }
    assert made.waves() == [["r1"], ["r2", "r3"]]
    here = str(EXAMPLE.parent)
    assert made.command("r1") == ["python3", f"{here}/kv.py", "--role", "primary", "--listen",
                                  "10.0.0.1:7000", "--data", str(tmp_path / "data" / "r1"),
                                  "--name", "r1"]  # fmt: skip
    # {peers.primary}, then the node's name
    assert made.command("r3")[-4:] == ["--primary", "10.0.0.1:7000", "--name", "r3"]
    assert made.values("r2")["role"] == "replica"
    assert made.sidecar_log("r2", spec.sidecars[0]) == tmp_path / "r2.heartbeat.log"
    assert made.nodes["r2"].sidecars == spec.sidecars and made.nodes["r2"].ready == spec.ready


ROLES = """
name = "pair"

[nodes]
names = "n{i}"
min = 2
max = 4
ports = ["client", "admin"]
command = ["db", "--role", "{role}", "--at", "{host}:{port.client}"]
peer = "{host}:{port.client}"
env = { A = "nodes" }

[[nodes.sidecars]]
name = "agent"
command = ["agent", "{name}", "{peers.primary}"]

[nodes.roles.primary]
count = 1
env = { A = "primary", B = "{role}" }
ready = { command = ["db-status", "{host}"], timeout = 4 }

[[nodes.roles.primary.sidecars]]
name = "backup"
command = ["backup", "{data}"]
log = "{dir}/backups/{name}.log"

[nodes.roles.witness]
count = 1
command = ["witness", "{peers.primary}"]
after = ["replica"]

[nodes.roles.replica]
after = ["primary"]

[nodes.node.n3]
role = "primary"
env = { C = "n3" }
ready = { port = "admin" }

[nodes.node.n1]
command = ["witness", "--first"]

[client]
plugin = "jsonl"
port = "client"
workloads = ["registers"]
"""


def test_roles_are_given_out_in_order_and_each_node_overrides_its_role(tmp_path: Path) -> None:
    """A node naming its role takes it first; the others fill the counted roles in the file's
    order, the role without a count takes the rest; a role's settings over the nodes', a node's
    over its role's; a wave for each step of `after`."""
    path = tmp_path / "pair.toml"
    path.write_text(ROLES, encoding="utf-8")
    made = nodes(path, ["n1", "n2", "n3", "n4"], tmp_path)
    assert {n: made.nodes[n].role for n in made.names} == {
        "n1": "witness",
        "n2": "replica",
        "n3": "primary",
        "n4": "replica",
    }
    assert made.waves() == [["n3"], ["n2", "n4"], ["n1"]]
    assert made.command("n1") == ["witness", "--first"]  # its own, over its role's
    assert made.command("n2") == ["db", "--role", "replica", "--at", "10.0.0.2:7010"]
    assert [made.env(n)["A"] for n in ("n2", "n3")] == ["nodes", "primary"]
    assert (made.env("n3")["B"], made.env("n3")["C"]) == ("primary", "n3")
    assert made.nodes["n3"].ready == Ready("admin", 20.0)  # the node's own, not its role's
    assert [s.name for s in made.nodes["n3"].sidecars] == ["agent", "backup"]
    assert [s.name for s in made.nodes["n2"].sidecars] == ["agent"]
    backup = made.nodes["n3"].sidecars[1]
    assert made.sidecar_log("n3", backup) == tmp_path.resolve() / "backups" / "n3.log"
    two = nodes(path, ["n1", "n2"], tmp_path)  # n3 not in the run: n1 is the primary
    assert {n: two.nodes[n].role for n in two.names} == {"n1": "primary", "n2": "witness"}
    assert two.command("n2") == ["witness", "10.0.0.1:7000"]  # the witness role's own command
    assert two.nodes["n1"].ready == Ready("", 4.0, ("db-status", "{host}"))


def made(rel: str, tmp: Path) -> dict[str, object]:
    """What a known file makes: its parsed classes, and for a few counts of nodes each node's
    command, environment, log, files, endpoint, readiness and stop (the folders named so that
    the result does not depend on where it was made)."""
    system = load(ROOT / rel)
    out = {}
    for n in sorted({system.nodes.min, system.nodes.default, min(system.nodes.max, 5)}):
        names = [system.nodes.name(i) for i in range(1, n + 1)]
        folder = tmp / rel.replace("/", "_") / str(n)
        folder.mkdir(parents=True)
        cluster = nodes(ROOT / rel, names, folder)

        def strip(s: str, folder: Path = folder) -> str:
            return s.replace(str(folder.resolve()), "{FOLDER}").replace(str(system.here), "{HERE}")

        out[str(n)] = {m: {"command": [strip(w) for w in cluster.command(m)],
                           "env": {k: strip(v) for k, v in sorted(cluster.env(m).items())},
                           "log": strip(str(cluster.log_path(m))),
                           "files": [[strip(str(p)), strip(p.read_text())] for p in cluster.write_files(m)],
                           "endpoint": [cluster.endpoint(m).host, cluster.endpoint(m).port],
                           "ready": [cluster.nodes[m].ready.port, cluster.nodes[m].ready.timeout],
                           "stop": [system.nodes.stop.signal, system.nodes.stop.grace]} for m in names}  # fmt: skip
    parsed = attrs.asdict(
        system, value_serializer=lambda _i, _a, v: str(v) if isinstance(v, Path) else v
    )
    return {"parsed": json.loads(json.dumps(parsed)), "nodes": out}


def test_the_known_systems_files_make_the_same_nodes_as_before(tmp_path: Path) -> None:
    """Every known file (etcd, NATS, ZooKeeper, meshkv, the toy) parsed and made into nodes as
    the commit before roles did: the same classes but for the new keys, all empty; the same
    commands, environments, logs, files, endpoints; one wave of every node; no sidecar."""
    text = json.dumps({rel: made(rel, tmp_path) for rel in KNOWN_FILES}, indent=1, sort_keys=True)
    now = json.loads(text.replace(str(ROOT), "{ROOT}"))
    before = json.loads(KNOWN.read_text(encoding="utf-8"))
    for rel in KNOWN_FILES:
        nodes_now = now[rel]["parsed"]["nodes"]
        assert nodes_now.pop("roles") == nodes_now.pop("each") == nodes_now.pop("sidecars") == []
        assert nodes_now["ready"].pop("command") == []
        # the keys since (tests/test_system_file_sets.py): none set, the defaults
        parsed = now[rel]["parsed"]
        assert (
            parsed.pop("sets") == parsed.pop("environ") == [] and nodes_now.pop("pause") == "group"
        )
        assert all(f.pop("when") == "always" for f in nodes_now["files"])
        assert nodes_now.pop("proxied") is False  # --network proxy's (docs/systems.md, Networks)
        # what a file promises (docs/systems.md, Promises), stated since: checked in
        # tests/test_systems_promises.py
        parsed.pop("promises")
        nodes_now["files"] = [[f["path"], f["text"]] for f in nodes_now["files"]]
        assert now[rel] == before[rel], rel
        system = load(ROOT / rel)
        names = [system.nodes.name(i) for i in range(1, system.nodes.default + 1)]
        assert system.nodes.waves(names) == [names]


GOOD = ROLES.replace("[nodes.node.n3]", "[nodes.node.n4]")
NOROLES = GOOD.split("[[nodes.sidecars]]")[0].replace("{role}", "db") + "[client]" + GOOD.split("[client]")[1]  # fmt: skip
BAD: list[tuple[str, str, str]] = [
    # (what is wrong, the file's text, the one line's tail after "FILE: ")
    ("a node names no role", GOOD.replace('role = "primary"', 'role = "leader"'), "nodes.node.n4.role: 'leader' is not a role (primary, witness, replica)"),
    ("a role without roles", NOROLES.replace("[client]", '[nodes.node.n2]\nrole = "primary"\n\n[client]'), "nodes.node.n2.role: 'primary': the file has no [nodes.roles]"),
    ("after an unknown role", GOOD.replace('after = ["replica"]', 'after = ["replicas"]'), "nodes.roles.witness.after: 'replicas' is not a role"),
    ("a cycle", GOOD.replace("count = 1\nenv", 'count = 1\nafter = ["witness"]\nenv'), "nodes.roles.primary.after: a cycle: primary after witness after replica after primary"),
    ("a role after itself", GOOD.replace('after = ["primary"]', 'after = ["replica"]'), "nodes.roles.replica.after: a cycle: replica after replica"),
    ("a node no run makes", GOOD.replace("[nodes.node.n4]", "[nodes.node.n9]"), "nodes.node.n9: no node is named so (nodes.names makes n1 to n4)"),
    ("a sidecar without a command", GOOD.replace('command = ["agent", "{name}", "{peers.primary}"]\n', ""), "nodes.sidecars[0].command: missing"),
    ("a sidecar with an empty command", GOOD.replace('["agent", "{name}", "{peers.primary}"]', "[]"), "nodes.sidecars[0].command: empty"),
    ("a sidecar without a name", GOOD.replace('name = "agent"\n', ""), "nodes.sidecars[0].name: missing"),
    ("a sidecar named as the probe's log", GOOD.replace('name = "agent"', 'name = "ready"'), "nodes.sidecars[0].name: 'ready' names the readiness probe's log"),
    ("two sidecars of one name", GOOD.replace('name = "backup"', 'name = "agent"'), "nodes.roles.primary.sidecars[0].name: 'agent': another sidecar"),
    ("a sidecar's unknown key", GOOD.replace('name = "agent"', 'name = "agent"\nrestart = true'), "nodes.sidecars[0].restart: unknown key"),
    ("a sidecar's bad placeholder", GOOD.replace('"backup", "{data}"', '"backup", "{disk}"'), "nodes.roles.primary.sidecars[0].command: unknown placeholder {disk}"),
    ("sidecars not tables", GOOD.replace("[[nodes.sidecars]]\nname", 'sidecars = ["agent"]\n[nodes.x]\nname'), "nodes.sidecars: expected a list of tables"),
    ("a probe that is a string", GOOD.replace('command = ["db-status", "{host}"]', 'command = "db-status {host}"'), "nodes.roles.primary.ready.command: expected a list, not a string"),
    ("a probe not of strings", GOOD.replace('["db-status", "{host}"]', '["db-status", 1]'), "nodes.roles.primary.ready.command: expected a list of strings"),
    ("a probe and a port", GOOD.replace('ready = { command', 'ready = { port = "client", command'), "nodes.roles.primary.ready.port: a port or a command, not both"),
    ("neither probe nor port", GOOD.replace('ready = { port = "admin" }', "ready = { timeout = 3 }"), "nodes.node.n4.ready.port: missing (or a probe: command = [...])"),
    ("a timeout of 0", GOOD.replace("timeout = 4", "timeout = 0"), "nodes.roles.primary.ready.timeout: 0: expected a number of seconds above 0"),
    ("two roles without a count", GOOD.replace("count = 1\ncommand", "command"), "nodes.roles.replica.count: missing: one role at most takes the nodes left (role witness does)"),
    ("a count of 0", GOOD.replace("count = 1\nenv", "count = 0\nenv"), "nodes.roles.primary.count: 0: expected 1 or more nodes"),
    ("counts beyond nodes.min", GOOD.replace("min = 2", "min = 1"), "nodes.roles: with 1 node role witness gets 0 of its 1 (nodes.min 1, max 4)"),
    ("every role counted", GOOD.replace("min = 2", "min = 3").replace('[nodes.roles.replica]\n', '[nodes.roles.replica]\ncount = 1\n'), "nodes.roles: node n3 gets no role: the roles' counts add up to 3 (nodes.min 3, max 4)"),
    ("two nodes take a role of one", GOOD + '\n[nodes.node.n2]\nrole = "primary"\n', "nodes.roles: 2 nodes (n2, n4) name role primary, whose count is 1"),
    ("a role's unknown key", GOOD.replace("count = 1\nenv", "count = 1\nreplicas = 2\nenv"), "nodes.roles.primary.replicas: unknown key"),
    ("a bad role name", GOOD.replace("[nodes.roles.witness]", "[nodes.roles.Witness]").replace('"witness"', '"Witness"'), "nodes.roles.Witness: a role's name is 1-20 of a-z"),
    ("no roles in the table", NOROLES.replace("[client]", "[nodes.roles]\n\n[client]"), "nodes.roles: empty"),
    ("{role} without roles", GOOD.split("[[nodes.sidecars]]")[0] + "[client]" + GOOD.split("[client]")[1], "nodes.command: unknown placeholder {role}"),
    ("{peers.X} of no role", GOOD.replace('"witness", "{peers.primary}"', '"witness", "{peers.leader}"'), "nodes.roles.witness.command: unknown placeholder {peers.leader}"),
    ("no command for a role", GOOD.replace('command = ["db", "--role", "{role}", "--at", "{host}:{port.client}"]\n', ""), "nodes.command: missing (role primary has no command of its own)"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "text", "says"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_deployment_is_one_line_naming_file_and_key_exit_2(
    what: str, text: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pair.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: {says}"), (what, str(caught.value))
    assert main(["cluster", "test", "--system", str(path), "--out", str(tmp_path / "o")]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"meshcheck: {caught.value}\n" and "Traceback" not in captured.err


def test_the_bad_files_differ_from_good_ones_in_what_they_name(tmp_path: Path) -> None:
    """Each bad file above is a good one but for its one fault."""
    for text in (GOOD, NOROLES):
        path = tmp_path / "pair.toml"
        path.write_text(text, encoding="utf-8")
        assert load(path).nodes.max == 4


SLEEPER = """
name = "sleepers"

[nodes]
names = "s{i}"
min = 1
ports = ["client"]
command = ["sleep", "30"]
ready = { command = PROBE, timeout = TIMEOUT }

[[nodes.sidecars]]
name = "beside"
command = ["sh", "-c", "echo beside {name}; exec sleep 30"]

[client]
plugin = "jsonl"
port = "client"
workloads = ["registers"]
"""


def sleepers(tmp_path: Path, probe_command: str, timeout: float) -> SystemNodes:
    path = tmp_path / "sleepers.toml"
    text = SLEEPER.replace("PROBE", probe_command).replace("TIMEOUT", str(timeout))
    path.write_text(text, encoding="utf-8")
    system = load(path)
    return SystemNodes(
        system, ["s1"], tmp_path, hosts={"s1": "127.0.0.1"}, ports={"s1": {"client": 1}},
        data=lambda n: tmp_path / "data" / n,
    )  # fmt: skip


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").split(") ", 1)[1][0]


def test_a_sidecar_is_in_its_nodes_group_paused_and_killed_with_it(tmp_path: Path) -> None:
    """The sidecar runs in the node's process group: the nemesis's pause stops it, its kill ends
    it (no sidecar outlives its node to watch the next), a restart starts another; its output in
    a log of its own; the probe counted when it passes on its third try."""
    (tmp_path / "data" / "s1").mkdir(parents=True)
    third = '["sh", "-c", "echo x >> {data}/tries; test $(wc -l < {data}/tries) -ge 3"]'
    with sleepers(tmp_path, third, 5) as cluster:
        cluster.start("s1")
        node, (beside,) = cluster.procs["s1"], cluster.sidecars["s1"]
        tries = (tmp_path / "s1.ready.log").read_text(encoding="utf-8")
        assert re.findall(r"try (\d) at [\d.]+: (\w+)", tries) == [
            ("1", "its"),
            ("2", "its"),
            ("3", "ready"),
        ], tries
        cluster.pause("s1")
        assert state(beside.pid) in "Tt"
        cluster.resume("s1")
        assert state(beside.pid) not in "Tt"
        cluster.kill("s1")
        assert not alive(node.pid) and not alive(beside.pid)
        cluster.start("s1")
        again = cluster.sidecars["s1"][0]
        assert again.pid != beside.pid and alive(again.pid)
    assert not alive(again.pid)  # the stop ended it
    assert (tmp_path / "s1.beside.log").read_text(encoding="utf-8") == "beside s1\n" * 2


@pytest.mark.parametrize(
    ("command", "says"),
    [('["sh", "-c", "echo not yet; exit 1"]', r"\(its probe exited with 1: not yet\)"),
     ('["sleep", "10"]', r"\(its probe took over 0\.\d+ s\)")],
)  # fmt: skip
def test_a_probe_that_never_passes_is_a_node_not_ready_in_bounded_time(
    command: str, says: str, tmp_path: Path
) -> None:
    """A probe's answer counts: a node whose probe fails or hangs is not ready, within its
    readiness timeout (a hanging try is killed), after at most `probe.tries` tries."""
    with sleepers(tmp_path, command, 0.4) as cluster:
        began = time.monotonic()
        with pytest.raises(
            ImplError, match=f"s1 did not pass its readiness probe within 0.4 s {says}"
        ):
            cluster.start("s1")
        assert time.monotonic() - began < 2.0
    made = (tmp_path / "s1.ready.log").read_text(encoding="utf-8").count("try ")
    assert 1 <= made <= probe.tries(0.4)
    assert probe.try_limit(0.4) == 1.0 and probe.try_limit(20) == 5.0 and probe.tries(10) == 40


@pytest.mark.skipif(shutil.which("python3") is None, reason="no python3 on PATH")
def test_a_primary_its_replicas_and_their_sidecars_run_from_the_file_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/replicas/ under a kill of its primary (seed 9: r1 killed at 0.5 s, restarted
    0.9 s later), on loopback: the primary ready (by its probe) before any replica starts; each
    node's probe and sidecar log; the primary's first sidecar gone at its kill, its second
    running from the restart on (no line of the first after the second's first); the verdict
    the checker's; nothing left running. The example's `python3` is this Python without its
    site packages (a pyenv shim takes half a second a start on a loaded machine)."""
    folder = tmp_path / "replicas"
    shutil.copytree(EXAMPLE.parent, folder)
    path = folder / "replicas.toml"
    text = path.read_text(encoding="utf-8").replace('"python3", ', f'"{sys.executable}", "-S", ')
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "report"
    argv = ["cluster", "test", "--system", str(path), "--network", "loopback", "--nemesis",
            "kill", "--time", "2", "--seed", "9", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert re.search(r"\| linearizable \(kv\) +\| holds +\| [1-9]\d* operations", printed), printed
    assert (out / "nemesis.log").read_text(encoding="utf-8").split()[1:3] == ["kill", "r1"]
    # the primary serves every operation a client of a replica asks (kv.py --name): the history
    # keeps the node asked on the invocation and the primary as the server on the completion
    events = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    oks = [e for e in events if e["type"] == "ok"]
    assert oks and {e.get("served") for e in oks} == {"r1"}, oks[:3]
    assert {e["node"] for e in events if e["type"] == "invoke"} >= {"r2", "r3"}

    def stamps(log: str, what: str) -> list[float]:
        lines = (out / log).read_text(encoding="utf-8").splitlines()
        return [float(line.split()[0]) for line in lines if what in line]

    def probed(node: str) -> list[float]:
        text = (out / f"{node}.ready.log").read_text(encoding="utf-8")
        return [float(t) for t in re.findall(r"at ([\d.]+): ready", text)]

    assert len(probed("r1")) == 2 and len(probed("r2")) == len(probed("r3")) == 1
    first_ready = probed("r1")[0]
    assert all(stamps(f"{r}.log", "replica starting")[0] > first_ready for r in ("r2", "r3"))
    assert all("at try 1" in (out / f"{r}.log").read_text() for r in ("r2", "r3"))
    for node in ("r1", "r2", "r3"):
        lines = (out / f"{node}.heartbeat.log").read_text(encoding="utf-8").splitlines()
        assert len(lines) >= 5 and all(" pid " in line for line in lines), node
    pids = [line.split()[2] for line in (out / "r1.heartbeat.log").read_text().splitlines()]
    blocks = [p for k, p in enumerate(pids) if k == 0 or pids[k - 1] != p]
    assert len(blocks) == len(set(blocks)) == 2, blocks  # the first died at the kill
    assert nodes_of(tmp_path, b"heartbeat.py") == nodes_of(tmp_path, b"kv.py") == []
