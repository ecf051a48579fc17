"""A system file: a TOML description of a system under test (docs/systems.md), read into frozen
classes. Every error is one line naming the file and the key (ConfigError, exit 2): a missing file,
bad TOML, a missing or unknown key, a wrong type, a placeholder no template may use, a plug-in that
is not installed, a workload or read mode the plug-in or the checkers do not know, a `[verify]`
run the file's own bounds or meshcheck's faults do not allow, executables of `install.needs` that
are not there (the file's `hint` says how to get them), a `version` command that is no list of
strings; of a deployment's shape (roles.py): a role named nowhere, a node's table for a node the
file never makes, a sidecar without a name or a command, a cycle in the roles' start order, a
readiness probe whose command is no list of strings, counts the nodes cannot fill."""

from __future__ import annotations

import os
import re
import shutil
import signal
import tomllib
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import TypeVar

import attrs

from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems import roles as deployment
from meshcheck.systems import templates

WORKLOADS = ("registers", "cas", "lock", "stream", "watch", "lease", "fenced-lock", "list-append",
             "rw-register", "rsm")  # fmt: skip
# meshcheck's workloads (docs/systems.md); watch to rw-register: meshcheck/systems/checked.py;
# rsm: the state machine's entries (meshcheck/systems/rsm_workload.py)
READS = (
    "linearizable",
    "serializable",
)  # the read modes the checkers know (traces/history/reads.py)
NODES = (3, 9)
_NAME = re.compile(r"[a-z0-9-]+")
_NODE = re.compile(r"[a-z0-9]{1,12}")  # a namespace network's node names (cluster/netns.py)
# a role's and a sidecar's names: a placeholder's part ({peers.replica}) and a log file's
_ROLE = re.compile(r"[a-z][a-z0-9-]{0,19}")
# the placeholders of a node's templates; `port.NAME` for each named port besides
# {seed}: the run's seed (a node's own randomness drawn from it); {python}: the interpreter meshcheck
# runs under, for a node that is meshcheck's own (known/cores/: the runtime's node process)
PLACEHOLDERS = ("i", "name", "host", "peers", "data", "dir", "nodes", "here", "seed", "python")
PEER_PLACEHOLDERS = ("i", "name", "host", "nodes", "here")  # `peers` is made of `peer`s
# the faults a system's run carries out (run.py); on loopback only those on processes, clocks and
# disks. Here, not in run.py, so that reading a file's `[verify]` nemesis imports no harness
KINDS = ("kill", "pause", "partition", "isolate", "latency", "loss", "clock", "power", "corrupt")
LOOPBACK_KINDS = ("kill", "pause", "clock", "power", "corrupt")
# a `[verify]` table's defaults where it leaves a key out: `cluster test --system`'s own
VERIFY_TIME = 10.0
VERIFY_NEMESIS = ("kill", "pause", "partition")
# a Ref: "package.module:attribute" (meshcheck/protocol.py `resolve`)
_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_.]*")
T = TypeVar("T")


@attrs.frozen
class Install:
    needs: tuple[str, ...] = ()
    hint: str = ""


@attrs.frozen
class Ready:
    """A node is ready when its port `port` accepts a TCP connection or, given a `command` (a
    probe: a template of the node's placeholders), when that command exits 0 (`port` is then
    ""); within `timeout` seconds. A replica that accepts TCP before its first sync is not ready:
    its own status command says when it is (Kubernetes' exec readiness probes)."""

    port: str
    timeout: float = 20.0
    command: tuple[str, ...] = ()


@attrs.frozen
class Sidecar:
    """A process beside each node (a failover agent, a log shipper, a metrics exporter): its
    `command` (the node's placeholders) started right after the node's own process and in its
    process group, so that a kill, a pause or a stop of the node strikes it too, with the node's
    environment and `env` added, its output in `log` (a template; empty: DIR/NODE.NAME.log)."""

    name: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    log: str = ""


@attrs.frozen
class Role:
    """Nodes that share a command (`[nodes.roles.NAME]`, roles.py): `count` of them (None: the
    nodes the other roles leave), their own `command` (empty: nodes.command), `env` (added to
    nodes.env), `ready` (None: nodes.ready), `sidecars` (besides nodes.sidecars), and `after`:
    the roles whose every node is ready before this role's nodes start."""

    name: str
    count: int | None = None
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    ready: Ready | None = None
    sidecars: tuple[Sidecar, ...] = ()
    after: tuple[str, ...] = ()


@attrs.frozen
class NodeSettings:
    """One node's own settings (`[nodes.node.NAME]`): its `role` (empty: as roles.py gives them
    out), and a `command`, `env` (added to its role's) and `ready` that override its role's."""

    node: str
    role: str = ""
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    ready: Ready | None = None


@attrs.frozen
class Node:
    """What one node of a run is made of, its role's and its own settings applied (templates not
    yet filled)."""

    name: str
    role: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    ready: Ready
    sidecars: tuple[Sidecar, ...]


@attrs.frozen
class NodeFile:
    """A file written before each start of a node (`[[nodes.files]]`): `path` and `text`, both
    templates (a relative path is under the node's data directory); `when`: "always", written
    again at every start (a server's configuration, its id), or "absent", written only where no
    such file is yet (a state file the node itself changes, kept over a restart)."""

    path: str
    text: str
    when: str = "always"


FILE_WHEN = ("always", "absent")
PAUSE = ("group", "node")  # `[nodes] pause`: what a pause stops (Nodes.pause)


@attrs.frozen
class Stop:
    """A node is stopped with `signal`, then SIGKILL after `grace` seconds."""

    signal: str = "TERM"
    grace: float = 2.0


@attrs.frozen
class Nodes:
    names: str
    ports: tuple[str, ...]
    command: tuple[str, ...]
    ready: Ready
    default: int = 3
    min: int = NODES[0]
    max: int = NODES[1]
    peer: str = ""
    join: str = ","
    env: tuple[tuple[str, str], ...] = ()
    stop: Stop = Stop()
    data_files: tuple[str, ...] = ()
    log: str = ""  # empty: the harness's (the run's folder, NAME.log)
    files: tuple[NodeFile, ...] = ()  # written before each start of a node (`[[nodes.files]]`)
    sidecars: tuple[Sidecar, ...] = ()  # beside every node (`[[nodes.sidecars]]`)
    roles: tuple[Role, ...] = ()  # none: every node runs `command` (roles.py)
    each: tuple[NodeSettings, ...] = ()  # `[nodes.node.NAME]`
    # what a pause stops (PAUSE): "group", the node's process group, its sidecars with it;
    # "node", the node's process and what it started, its sidecars left running
    pause: str = "group"
    # whether its peers may be reached through link proxies (--network proxy: each node's
    # `{peers}` names, for each other node, the proxy of their link, in the `peer` template's one
    # port): a system that takes a peer's identity from its address (etcd's cluster id is made of
    # every member's peer URL) may not
    proxied: bool = False

    def name(self, i: int) -> str:
        """Node `i`'s name (1-based)."""
        return templates.fill(self.names, {"i": str(i)})

    def placeholders(self) -> tuple[str, ...]:
        """The placeholders a node's templates may name: with roles, `{role}` and each role's
        `{peers.ROLE}` besides."""
        by_role = ("role", *(f"peers.{r.name}" for r in self.roles)) if self.roles else ()
        return (*PLACEHOLDERS, *(f"port.{p}" for p in self.ports), *by_role)

    def of(self, names: Sequence[str]) -> dict[str, Node]:
        """Each of the nodes `names` (a run's, in order) as its role and its own table make it."""
        assigned = deployment.assign(self.roles, self.each, names)
        by_role = {r.name: r for r in self.roles}
        own = {s.node: s for s in self.each}
        out = {}
        for name, role_name in assigned.items():
            role = by_role.get(role_name, Role(""))
            mine = own.get(name, NodeSettings(name))
            out[name] = Node(
                name,
                role_name,
                mine.command or role.command or self.command,
                (*self.env, *role.env, *mine.env),
                mine.ready or role.ready or self.ready,
                (*self.sidecars, *role.sidecars),
            )
        return out

    def waves(self, names: Sequence[str]) -> list[list[str]]:
        """The nodes `names` in the waves they start in (roles.py `waves`): one wave of every
        node without roles."""
        return deployment.waves(self.roles, deployment.assign(self.roles, self.each, names))


@attrs.frozen
class ClientSection:
    plugin: str
    port: str
    workloads: tuple[str, ...]
    reads: tuple[str, ...] = ("linearizable",)
    options: tuple[tuple[str, Any], ...] = ()  # the table's other keys, as written
    # each read mode with the checkers' mode that judges it (READS): itself unless the file maps
    # a mode of the system's own ("plain" reads that may be stale: "serializable")
    checks: tuple[tuple[str, str], ...] = ()

    def check(self, mode: str) -> str:
        """How reads of `mode` are judged: linearizable, or serializable (may be stale)."""
        return dict(self.checks).get(mode, mode)


@attrs.frozen
class Validate:
    """Every node's NDJSON log (`logs`, a template) validated against `spec` (a name `meshcheck
    validate` knows, or a .tla path) with `model` (None: the spec's validation model) and the
    constants `set` (TLA+ text)."""

    logs: str
    spec: str
    model: Path | None = None
    set: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Verify:
    """What `meshcheck verify` runs of the system (its profiles but `fast`;
    meshcheck/verify_systems.py): the checks of its own the file names (`checks`, each the Ref of
    a meshcheck.verify_rows.TraceCheck), then one cluster test of `nodes` nodes running
    `workload` for `time` seconds under the faults `nemesis` (those that need a network left out
    where network namespaces cannot be built), its history checked."""

    nodes: int
    workload: str
    time: float
    nemesis: tuple[str, ...]
    checks: tuple[str, ...] = ()


@attrs.frozen
class SystemFile:
    path: Path
    name: str
    nodes: Nodes
    client: ClientSection
    about: str = ""
    install: Install = Install()
    validate: Validate | None = None
    # what the system documents of the behaviour a check refuses, for the anomaly report's
    # `documented:` line: by workload ("registers"), or by workload and the system's own read
    # mode ("registers/plain")
    documented: tuple[tuple[str, str], ...] = ()
    verify: Verify | None = None  # None: `meshcheck verify` runs nothing of it
    # `version = { command = [...] }`: what prints the system's version, run once before the nodes
    # start, its first line kept in the report's run.txt (provenance.py); (): none given
    version: tuple[str, ...] = ()
    # what the system promises (`[promises]`), by workload ("registers") or by workload and read
    # mode ("registers/plain"): a model of the single-object lattice (traces/history/lattice.py)
    # for registers and cas, of the transactional one (traces/history/consistency.py) for
    # list-append and rw-register; a run is judged against it (meshcheck/systems/promises.py)
    promises: tuple[tuple[str, str], ...] = ()
    # `--set KEY=VALUE` as given on the command line, each applied over the file's own value
    sets: tuple[str, ...] = ()
    # the environment variables its templates name (`{env.NAME}`), with their values at the load
    environ: tuple[tuple[str, str], ...] = ()

    @property
    def here(self) -> Path:
        return self.path.resolve().parent

    def documented_for(self, workload: str, reads: str) -> str:
        """The note for a failing run of `workload` with reads `reads` (the file's mode name):
        the mode's own, else the workload's, else none. A note on stale plain reads must not
        explain away a failure under synced reads."""
        notes = dict(self.documented)
        return notes.get(f"{workload}/{reads}", notes.get(workload, ""))

    def promise_for(self, workload: str, reads: str) -> str:
        """The model the system promises for `workload` with reads `reads` (the file's mode name):
        the mode's own, else the workload's; "" when the file states none."""
        stated = dict(self.promises)
        return stated.get(f"{workload}/{reads}", stated.get(workload, ""))


class _Table:
    """One table of the file, read key by key; `done` refuses the keys nobody read."""

    def __init__(self, data: Mapping[str, Any], path: Path, prefix: str = "") -> None:
        self.data = data
        self.path = path
        self.prefix = prefix
        self.read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def error(self, name: str, why: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.key(name)}: {why}")

    def get(self, name: str, kind: type[T], default: T | None = None, what: str = "") -> T:
        self.read.add(name)
        if name not in self.data:
            if default is None:
                raise self.error(name, "missing")
            return default
        value = self.data[name]
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]
        if not ok:
            expected = what or {str: "a string", int: "an integer", float: "a number",
                                dict: "a table", list: "a list"}[kind]  # fmt: skip
            raise self.error(name, f"expected {expected}, not {_kind(value)}")
        checked: T = value
        return checked

    def strings(self, name: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.get(name, list, list(default) if default is not None else None)
        if not all(isinstance(v, str) for v in value):
            raise self.error(name, "expected a list of strings")
        return tuple(value)

    def table(self, name: str, required: bool = True) -> _Table | None:
        if not required and name not in self.data:
            self.read.add(name)
            return None
        return _Table(self.get(name, dict), self.path, f"{self.key(name)}.")

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise self.error(unknown[0], "unknown key")


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML table of the file at `path`, a `what` ("system file", "hosts file"); ConfigError
    (one line, exit 2) for a file that is missing, unreadable or not TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({e})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not TOML: {e}") from None


_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_set(given: str) -> tuple[tuple[str, ...], Any]:
    """`--set KEY=VALUE`: KEY a dotted path of the file's keys (`nodes.ready.timeout`), VALUE a
    TOML value (`30`, `true`, `["registers"]`, `"text"`) or else taken as a string; ConfigError
    (one line) for one that is not so made."""
    key, sep, text = given.partition("=")
    parts = tuple(key.strip().split("."))
    if not sep or not all(_KEY.fullmatch(p) for p in parts):
        raise ConfigError(
            f"--set {given}: expected KEY=VALUE, KEY the file's keys joined by dots "
            "(nodes.ready.timeout=30)"
        )
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # not a TOML value: the text itself (--set nodes.log={dir}/x.log)
    return parts, value


def _apply_set(data: dict[str, Any], given: str) -> None:
    parts, value = parse_set(given)
    table = data
    for i, part in enumerate(parts[:-1]):
        inner = table.setdefault(part, {})
        if not isinstance(inner, dict):
            raise ConfigError(
                f"--set {given}: {'.'.join(parts[: i + 1])} is {_kind(inner)}, not a table"
            )
        table = inner
    table[parts[-1]] = value


def load(path: Path, sets: Sequence[str] = ()) -> SystemFile:
    """The system file at `path`, each of `sets` (`--set KEY=VALUE`) applied over it, every key
    checked (see the module). An error in a key a `--set` gave names the `--set`."""
    data = read_toml(path, "system file")
    for given in sets:
        _apply_set(data, given)
    try:
        loaded = _load(path, data)
    except ConfigError as e:
        said = str(e)
        if said.startswith(f"{path}: "):
            key, _, why = said[len(f"{path}: ") :].partition(": ")
            for given in sets:
                mine = given.partition("=")[0].strip()
                if mine == key or mine.startswith(f"{key}.") or key.startswith(f"{mine}."):
                    raise ConfigError(f"--set {given}: {key}: {why}") from None
        raise
    return attrs.evolve(loaded, sets=tuple(sets), environ=_environ(data))


def _environ(data: Any) -> tuple[tuple[str, str], ...]:
    """The environment variables the file's strings name (`{env.NAME}`), with their values."""
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            names.update(
                f[len(templates.ENV) :]
                for f in templates.fields(value)
                if f.startswith(templates.ENV)
            )
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(data)
    return tuple((n, os.environ[n]) for n in sorted(names) if n in os.environ)


def _load(path: Path, data: dict[str, Any]) -> SystemFile:
    top = _Table(data, path)
    name = top.get("name", str)
    if not _NAME.fullmatch(name):
        raise top.error("name", f"{name!r} is not made of a-z, 0-9 and -")
    about = top.get("about", str, "")
    install = _install(top.table("install", required=False))
    nodes_table = top.table("nodes")
    assert nodes_table is not None
    nodes = _nodes(nodes_table)
    client_table = top.table("client")
    assert client_table is not None
    client = _client(client_table, nodes)
    validate = _validate(top.table("validate", required=False), nodes, path)
    documented_table = top.table("documented", required=False)
    documented: tuple[tuple[str, str], ...] = ()
    if documented_table is not None:
        for workload in list(documented_table.data):
            if workload not in client.workloads:
                raise documented_table.error(workload, "not one of [client] workloads")
            if not isinstance(documented_table.data[workload], dict):
                documented += ((workload, documented_table.get(workload, str)),)
                continue
            by_mode = documented_table.table(workload)  # a note per read mode
            assert by_mode is not None
            for mode in list(by_mode.data):
                if mode not in client.reads:
                    raise by_mode.error(
                        mode, f"not one of [client] reads ({', '.join(client.reads)})"
                    )
                documented += ((f"{workload}/{mode}", by_mode.get(mode, str)),)
            by_mode.done()
        documented_table.done()
    promises = _promises(top.table("promises", required=False), client)
    verify = _verify(top.table("verify", required=False), nodes, client)
    version = _version(top.table("version", required=False))
    top.done()
    return SystemFile(
        path, name, nodes, client, about, install, validate, documented, verify, version,
        promises=promises,
    )  # fmt: skip


def _promises(t: _Table | None, client: ClientSection) -> tuple[tuple[str, str], ...]:
    """`[promises]`: a model name by workload, or a table of one by read mode (as `[documented]`),
    each a model of the workload's lattice (promises.models), named as the lattice names it."""
    from meshcheck.systems import promises as promised

    if t is None:
        return ()
    stated: tuple[tuple[str, str], ...] = ()
    for workload in list(t.data):
        if workload not in client.workloads:
            raise t.error(workload, "not one of [client] workloads")
        valid = promised.models(workload)
        if not valid:
            raise t.error(
                workload,
                f"no lattice of models judges the {workload} workload (those of "
                f"{', '.join(promised.WORKLOADS)} do)",
            )
        by_mode = t.table(workload) if isinstance(t.data[workload], dict) else None
        given = (
            [(workload, t.get(workload, str))]
            if by_mode is None
            else [(f"{workload}/{m}", by_mode.get(m, str)) for m in list(by_mode.data)]
        )
        for key, model in given:
            mode = key.partition("/")[2]
            if by_mode is not None and mode not in client.reads:
                raise by_mode.error(mode, f"not one of [client] reads ({', '.join(client.reads)})")
            where = by_mode if by_mode is not None else t
            if promised.canonical(workload, model) is None:
                raise where.error(mode or workload, f"{model!r}: the models are {', '.join(valid)}")
            stated += ((key, promised.canonical(workload, model) or model),)
        if by_mode is not None:
            by_mode.done()
    t.done()
    return stated


def _version(t: _Table | None) -> tuple[str, ...]:
    """`version = { command = [...] }`: a command of strings, `{here}` its one placeholder (it runs
    before any node has a name, a port or a folder)."""
    if t is None:
        return ()
    command = t.strings("command")
    if not command:
        raise t.error("command", "empty")
    for word in command:
        _check_template(t, "command", word, ("here",))
    t.done()
    return command


def _install(t: _Table | None) -> Install:
    if t is None:
        return Install()
    out = Install(t.strings("needs", ()), t.get("hint", str, ""))
    t.done()
    return out


def _check_template(t: _Table, key: str, template: str, allowed: tuple[str, ...]) -> None:
    for field in templates.fields(template):
        if field.startswith(templates.ENV) and field not in allowed:
            name = field[len(templates.ENV) :]
            if not _ENV_NAME.fullmatch(name):
                raise t.error(key, f"{{{field}}}: {name!r} is not an environment variable's name")
            if name not in os.environ:
                raise t.error(key, f"{{{field}}}: the environment variable {name} is not set")
            continue
        if field not in allowed:
            raise t.error(key, f"unknown placeholder {{{field}}} (known: "
                          + ", ".join(f"{{{a}}}" for a in allowed) + ")")  # fmt: skip


def _nodes(t: _Table) -> Nodes:
    names = t.get("names", str)
    _check_template(t, "names", names, ("i",))
    low = t.get("min", int, NODES[0])
    high = t.get("max", int, NODES[1])
    default = t.get("default", int, low)
    if not 1 <= low <= high <= 200:
        raise t.error("max", f"min {low} and max {high}: expected 1 <= min <= max <= 200")
    if not low <= default <= high:
        raise t.error("default", f"{default} is not between min {low} and max {high}")
    made = [templates.fill(names, {"i": str(i)}) for i in range(1, high + 1)]
    bad = [n for n in made if not _NODE.fullmatch(n)]
    if bad or len(set(made)) != len(made):
        raise t.error(
            "names", f"node names must be distinct, 1-12 of a-z and 0-9 (not {bad[:1] or made})"
        )
    ports = t.strings("ports")
    if not ports or len(set(ports)) != len(ports):
        raise t.error("ports", "expected one or more distinct port names")
    roles_table = t.table("roles", required=False)
    role_names = tuple(roles_table.data) if roles_table is not None else ()
    by_role = ("role", *(f"peers.{r}" for r in role_names)) if role_names else ()
    allowed = (*PLACEHOLDERS, *(f"port.{p}" for p in ports), *by_role)
    command = _command(t, allowed, required=False)
    peer = t.get("peer", str, "")
    _check_template(t, "peer", peer, (*PEER_PLACEHOLDERS, *(f"port.{p}" for p in ports)))
    join = t.get("join", str, ",")
    env = _env(t, allowed)
    ready = _ready(t.table("ready", required=False), ports, allowed) or Ready(ports[0])
    sidecars = _sidecars(t, allowed)
    roles = _roles(roles_table, ports, allowed, sidecars) if roles_table is not None else ()
    if not command and (not roles or any(not r.command for r in roles)):
        lacking = next((r.name for r in roles if not r.command), "")
        raise t.error(
            "command",
            f"missing (role {lacking} has no command of its own)" if lacking else "missing",
        )
    each = _each(t.table("node", required=False), made, roles, ports, allowed)
    stop_table = t.table("stop", required=False)
    stop = Stop()
    if stop_table is not None:
        stop = Stop(stop_table.get("signal", str, "TERM"), stop_table.get("grace", float, 2.0))
        if not hasattr(signal, f"SIG{stop.signal}"):
            raise stop_table.error("signal", f"{stop.signal!r} is not a signal (TERM, INT, ...)")
        stop_table.done()
    data_files = t.strings("data_files", ())
    log = t.get("log", str, "")
    _check_template(t, "log", log, allowed)
    files = _files(t, allowed)
    pause = t.get("pause", str, "group")
    if pause not in PAUSE:
        raise t.error("pause", f"{pause!r}: expected one of {', '.join(PAUSE)}")
    proxied = t.get("proxied", bool, False)
    carried = {f for f in templates.fields(peer) if f.startswith("port.")}
    if proxied and len(carried) != 1:
        raise t.error("proxied", "a link proxy carries one port: the peer template names "
                      f"{len(carried)}")  # fmt: skip
    t.done()
    nodes = Nodes(names, ports, command, ready, default, low, high, peer, join, env, stop,
                  data_files, log, files, sidecars, roles, each, pause, proxied)  # fmt: skip
    if roles:
        _fill_roles(t, nodes)
    return nodes


def _command(t: _Table, allowed: tuple[str, ...], required: bool = True) -> tuple[str, ...]:
    """`command`: a non-empty list of templates (with `required` False, () when left out)."""
    if not required and "command" not in t.data:
        t.read.add("command")
        return ()
    command = t.strings("command")
    if not command:
        raise t.error("command", "empty")
    for word in command:
        _check_template(t, "command", word, allowed)
    return command


def _env(t: _Table, allowed: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`env`: a table of variables, each value a template."""
    env_table = t.table("env", required=False)
    env: tuple[tuple[str, str], ...] = ()
    if env_table is not None:
        for var in env_table.data:
            value = env_table.get(var, str)
            _check_template(env_table, var, value, allowed)
            env += ((var, value),)
    return env


def _ready(t: _Table | None, ports: tuple[str, ...], allowed: tuple[str, ...]) -> Ready | None:
    """`ready = { port = "client" }` or `ready = { command = [...] }` (a probe), and `timeout`."""
    if t is None:
        return None
    timeout = t.get("timeout", float, 20.0)
    if not timeout > 0:
        raise t.error("timeout", f"{timeout:g}: expected a number of seconds above 0")
    if "command" in t.data:
        if "port" in t.data:
            raise t.error("port", "a port or a command, not both")
        command = t.strings("command")  # a string is refused: it is no argv
        if not command:
            raise t.error("command", "empty")
        for word in command:
            _check_template(t, "command", word, allowed)
        t.done()
        return Ready("", timeout, command)
    if "port" not in t.data:
        raise t.error("port", "missing (or a probe: command = [...])")
    ready = Ready(t.get("port", str), timeout)
    if ready.port not in ports:
        raise t.error("port", f"{ready.port!r} is not one of nodes.ports")
    t.done()
    return ready


def _sidecars(
    t: _Table, allowed: tuple[str, ...], taken: tuple[str, ...] = ()
) -> tuple[Sidecar, ...]:
    """`[[sidecars]]` of `t`: each a table of `name`, `command`, and optionally `env` and `log`;
    names distinct from each other and from `taken` (the sidecars every node has already)."""
    out: tuple[Sidecar, ...] = ()
    what = "a list of tables ([[sidecars]])"
    for k, entry in enumerate(t.get("sidecars", list, [], what=what)):
        if not isinstance(entry, dict):
            raise t.error("sidecars", f"expected {what}, not {_kind(entry)}")
        s = _Table(entry, t.path, f"{t.key('sidecars')}[{k}].")
        name = s.get("name", str)
        if not _ROLE.fullmatch(name):
            raise s.error("name", f"{name!r} is not 1-20 of a-z, 0-9 and -, from a letter")
        if name == "ready":  # DIR/NODE.ready.log is the readiness probe's (nodes.py)
            raise s.error("name", "'ready' names the readiness probe's log: another name")
        if name in taken or any(name == other.name for other in out):
            raise s.error("name", f"{name!r}: another sidecar of the node has that name")
        command = _command(s, allowed)
        env = _env(s, allowed)
        log = s.get("log", str, "")
        _check_template(s, "log", log, allowed)
        s.done()
        out += (Sidecar(name, command, env, log),)
    return out


def _roles(
    t: _Table, ports: tuple[str, ...], allowed: tuple[str, ...], sidecars: tuple[Sidecar, ...]
) -> tuple[Role, ...]:
    """`[nodes.roles.NAME]`: each role's count, command, env, ready, sidecars and `after`; at most
    one role without a count; every `after` a role, and no cycle among them."""
    if not t.data:
        raise ConfigError(
            f"{t.path}: {t.prefix[:-1]}: empty (each role a table [nodes.roles.NAME])"
        )
    roles: tuple[Role, ...] = ()
    for name in list(t.data):
        if not _ROLE.fullmatch(name):
            raise t.error(name, "a role's name is 1-20 of a-z, 0-9 and -, from a letter")
        r = t.table(name)
        assert r is not None
        count: int | None = None
        if "count" in r.data:
            count = r.get("count", int)
            if count < 1:
                raise r.error("count", f"{count}: expected 1 or more nodes")
        command = _command(r, allowed, required=False)
        env = _env(r, allowed)
        ready = _ready(r.table("ready", required=False), ports, allowed)
        own = _sidecars(r, allowed, tuple(s.name for s in sidecars))
        after = r.strings("after", ())
        r.done()
        roles += (Role(name, count, command, env, ready, own, after),)
    names = [r.name for r in roles]
    for role in roles:
        for before in role.after:
            if before not in names:
                raise t.error(
                    f"{role.name}.after", f"{before!r} is not a role ({', '.join(names)})"
                )
    loop = deployment.cycle(roles)
    if loop:
        raise t.error(f"{loop[0]}.after", f"a cycle: {' after '.join(loop)}")
    open_ended = [r.name for r in roles if r.count is None]
    if len(open_ended) > 1:
        raise t.error(
            f"{open_ended[1]}.count",
            f"missing: one role at most takes the nodes left (role {open_ended[0]} does)",
        )
    return roles


def _each(
    t: _Table | None,
    made: list[str],
    roles: tuple[Role, ...],
    ports: tuple[str, ...],
    allowed: tuple[str, ...],
) -> tuple[NodeSettings, ...]:
    """`[nodes.node.NAME]`: a node the file makes (`made`, nodes.max of them), its role one of
    `roles`, its command, env and ready."""
    if t is None:
        return ()
    out: tuple[NodeSettings, ...] = ()
    known = [r.name for r in roles]
    for name in list(t.data):
        if name not in made:
            raise t.error(name, f"no node is named so (nodes.names makes {made[0]} to {made[-1]})")
        n = t.table(name)
        assert n is not None
        role = n.get("role", str, "")
        if role and role not in known:
            raise n.error(
                "role",
                f"{role!r} is not a role ({', '.join(known)})" if known
                else f"{role!r}: the file has no [nodes.roles]",
            )  # fmt: skip
        command = _command(n, allowed, required=False)
        env = _env(n, allowed)
        ready = _ready(n.table("ready", required=False), ports, allowed)
        n.done()
        out += (NodeSettings(name, role, command, env, ready),)
    return out


def _fill_roles(t: _Table, nodes: Nodes) -> None:
    """The roles given out for every count of nodes a run may have (roles.py `assign`): a count
    no run could fill, or nodes the counts leave without a role, refused here, not in a run."""
    for count in range(nodes.min, nodes.max + 1):
        try:
            nodes.of([nodes.name(i) for i in range(1, count + 1)])
        except ValueError as e:
            bounds = f"nodes.min {nodes.min}, max {nodes.max}"
            raise ConfigError(f"{t.path}: {t.key('roles')}: {e} ({bounds})") from None


def _files(t: _Table, allowed: tuple[str, ...]) -> tuple[NodeFile, ...]:
    """`[[nodes.files]]`: each a table of `path` and `text`, both templates, and `when`."""
    out: tuple[NodeFile, ...] = ()
    for k, entry in enumerate(t.get("files", list, [], what="a list of tables ([[nodes.files]])")):
        if not isinstance(entry, dict):
            raise t.error(
                "files", f"expected a list of tables ([[nodes.files]]), not {_kind(entry)}"
            )
        f = _Table(entry, t.path, f"{t.key('files')}[{k}].")
        path, text = f.get("path", str), f.get("text", str)
        if not path:
            raise f.error("path", "empty")
        _check_template(f, "path", path, allowed)
        _check_template(f, "text", text, allowed)
        when = f.get("when", str, "always")
        if when not in FILE_WHEN:
            raise f.error("when", f"{when!r}: expected one of {', '.join(FILE_WHEN)}")
        f.done()
        out += (NodeFile(path, text, when),)
    return out


def _client(t: _Table, nodes: Nodes) -> ClientSection:
    plugin = t.get("plugin", str)
    port = t.get("port", str)
    if port not in nodes.ports:
        raise t.error("port", f"{port!r} is not one of nodes.ports")
    workloads = t.strings("workloads")
    if not workloads:
        raise t.error("workloads", "empty")
    for w in workloads:
        if w not in WORKLOADS:
            raise t.error("workloads", f"{w!r}: meshcheck's workloads are {', '.join(WORKLOADS)}")
    reads, checks = _reads(t)
    options = tuple((k, v) for k, v in t.data.items() if k not in t.read)
    t.read |= set(t.data)
    t.done()
    return ClientSection(plugin, port, workloads, reads, options, checks)


def _reads(t: _Table) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """`reads`: a list of the checkers' read modes, or a table of the system's own read modes,
    each to the checkers' mode it is judged by (`{ sync = "linearizable", plain =
    "serializable" }`); the first is the default. The read modes and, for each, its check."""
    if isinstance(t.data.get("reads"), dict):
        table = t.table("reads")
        assert table is not None
        modes = tuple((mode, table.get(mode, str)) for mode in table.data)
        for mode, check in modes:
            if check not in READS:
                raise table.error(mode, f"{check!r}: the checkers know {', '.join(READS)}")
        table.done()
    else:
        modes = tuple((r, r) for r in t.strings("reads", ("linearizable",)))
        for r, _ in modes:
            if r not in READS:
                raise t.error("reads", f"{r!r}: the checkers know {', '.join(READS)}")
    if not modes:
        raise t.error("reads", "empty")
    return tuple(m for m, _ in modes), modes


def _validate(t: _Table | None, nodes: Nodes, path: Path) -> Validate | None:
    if t is None:
        return None
    from meshcheck.traces.logs.validate import SPECS

    logs = t.get("logs", str)
    _check_template(t, "logs", logs, nodes.placeholders())
    spec = t.get("spec", str)
    model_text = t.get("model", str, "")
    model = (path.resolve().parent / model_text) if model_text else None
    if spec.endswith(".tla"):
        found = path.resolve().parent / spec
        if not found.is_file():
            raise t.error("spec", f"no file {found}")
        if model is None:
            raise t.error("model", "missing: a spec outside meshcheck needs its model")
        spec = str(found)
    elif spec not in SPECS:
        raise t.error("spec", f"{spec!r} is neither a .tla file nor one of {', '.join(SPECS)}")
    if model is not None and not model.is_file():
        raise t.error("model", f"no file {model}")
    set_table = t.table("set", required=False)
    constants: tuple[tuple[str, str], ...] = ()
    if set_table is not None:
        for const, value in set_table.data.items():
            set_table.read.add(const)
            if isinstance(value, bool):
                constants += ((const, "TRUE" if value else "FALSE"),)
            elif isinstance(value, int | str):
                constants += ((const, str(value)),)
            else:
                raise set_table.error(
                    const, f"expected TLA+ text, a number or a boolean, not {_kind(value)}"
                )
    t.done()
    return Validate(logs, spec, model, constants)


def _verify(t: _Table | None, nodes: Nodes, client: ClientSection) -> Verify | None:
    """`[verify]`: each key as `cluster test --system` would take it, and with its defaults (the
    file's default nodes, its first workload, 10 s, kill, pause and partition); `checks`, Refs."""
    if t is None:
        return None
    count = t.get("nodes", int, nodes.default)
    if not nodes.min <= count <= nodes.max:
        raise t.error("nodes", f"{count} is not between nodes.min {nodes.min} and max {nodes.max}")
    workload = t.get("workload", str, client.workloads[0])
    if workload not in client.workloads:
        raise t.error(
            "workload",
            f"{workload!r} is not one of [client] workloads ({', '.join(client.workloads)})",
        )
    seconds = t.get("time", float, VERIFY_TIME)
    if not 1 <= seconds <= 3600:
        raise t.error("time", f"{seconds:g} s: expected 1 to 3600 seconds")
    kinds = t.strings("nemesis", VERIFY_NEMESIS)
    if not kinds:
        raise t.error("nemesis", "empty")
    for kind in kinds:
        if kind not in KINDS:
            raise t.error("nemesis", f"{kind!r}: a system's run carries out {', '.join(KINDS)}")
    if len(set(kinds)) != len(kinds):
        raise t.error("nemesis", "a fault named twice")
    checks = t.strings("checks", ())
    for ref in checks:
        if not _REF.fullmatch(ref):
            raise t.error("checks", f"{ref!r} is not a Ref (package.module:attribute)")
    t.done()
    return Verify(count, workload, seconds, kinds, checks)


def check_installed(system: SystemFile) -> None:
    """ConfigError (one line with the file's hint) when an executable of `install.needs` is not
    on PATH (a name) or not at its path relative to the file (a path)."""
    for need in system.install.needs:
        found = (system.here / need).is_file() if "/" in need else shutil.which(need) is not None
        if not found:
            hint = f": {system.install.hint}" if system.install.hint else ""
            raise ConfigError(f"{system.path}: install.needs: {need} not found{hint}")
