"""A cluster of any system's nodes as processes, from its system file: each node's named ports, its
command and environment filled from the file's templates, started (in its network namespace, on a
namespace network), ready when its ready port accepts TCP, stopped with the file's signal. The
nemesis's kill, pause and resume are `Processes`' (impl/runtime/launcher.py), as for the project's
own nodes: every process dies with the harness (PR_SET_PDEATHSIG). Each node's environment has a
PYTHONHASHSEED of its own, as the project's nodes do (launcher.py `hash_seeds`, from the run's
seed and the node's name): a system written in Python whose replicated state follows a set's
iteration order then differs between its nodes, as it would on separate machines, instead of
agreeing by the harness's one seed; a file that sets PYTHONHASHSEED in `nodes.env` keeps its own.

A node of a deployment (system_file.py `Role`, `Sidecar`, roles.py) runs the command, environment
and readiness of its role and its own table; its `{role}` and each role's `{peers.ROLE}` fill its
templates. Each sidecar starts right after the node's process, in the node's process group: the
nemesis's kill and pause signal that group (impl/runtime/process_group.py), so they strike the
sidecar with its node, and a sidecar never outlives a kill of its node to watch over the node's
successor. A kill or the stop also ends what the node or a sidecar started that left the group (a
`setsid`, a daemon's double fork): each carries its starter's mark (impl/runtime/process_tree.py).
A pause does not reach those: it stops the group alone. A readiness probe (probe.py) runs where the node runs (`wrap`: in its namespace)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from meshcheck.impl.runtime import process_group
from meshcheck.impl.runtime.launcher import HASH_SEED
from meshcheck.impl.runtime.launcher import Processes
from meshcheck.impl.runtime.launcher import accepts
from meshcheck.impl.runtime.launcher import hash_seeds
from meshcheck.systems import probe
from meshcheck.systems import templates
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.system_file import Node
from meshcheck.systems.system_file import Sidecar
from meshcheck.systems.system_file import SystemFile

Wrap = Callable[[str, list[str]], list[str]]  # a node's command as its namespace runs it


class SystemNodes(Processes):
    """The nodes `names` of `system`, reporting into `folder`: node n listens on `hosts[n]`, at
    `ports[n][port name]`; its data directory is `data(n)`; `wrap` runs its command (a namespace
    network's `command`), `extra_env(n)` adds to its environment (a fake clock's); `seed`, the
    run's, draws each node's PYTHONHASHSEED (the module's docstring); `routes[n][p]`, where node n
    reaches peer p in its `{peers}` (a link proxy's address) instead of p's own."""

    def __init__(
        self,
        system: SystemFile,
        names: Sequence[str],
        folder: Path,
        *,
        hosts: Mapping[str, str],
        ports: Mapping[str, Mapping[str, int]],
        data: Callable[[str], Path],
        wrap: Wrap | None = None,
        extra_env: Callable[[str], Mapping[str, str]] = lambda _: {},
        seed: int = 0,
        routes: Mapping[str, Mapping[str, tuple[str, int]]] | None = None,
    ) -> None:
        super().__init__(folder)
        # where each node reaches each peer, when not at the peer's own address: the link proxy of
        # (node, peer) (run.py, --network proxy), put in the `peer` template's one port
        self._routes = routes
        self.system = system
        self.names = list(names)
        self.hosts = dict(hosts)
        self.ports = {n: dict(p) for n, p in ports.items()}
        self._data = data
        self._wrap = wrap
        self._extra_env = extra_env
        self._seed = seed
        self._hash_seeds = hash_seeds(seed, self.names)
        self.nodes: dict[str, Node] = system.nodes.of(self.names)
        self.sidecars: dict[str, list[subprocess.Popen[bytes]]] = {}  # the last start's

    def values(self, node: str) -> dict[str, str]:
        """Every placeholder's value for `node` (docs/systems.md)."""
        spec = self.system.nodes
        own = {
            "i": str(self.names.index(node) + 1),
            "name": node,
            "host": self.hosts[node],
            "nodes": str(len(self.names)),
            "dir": self.dir_of(node),
            "here": self.here_of(node),
            "seed": str(self._seed),
            "python": self.python_of(node),
            **{f"port.{p}": str(port) for p, port in self.ports[node].items()},
        }
        peers = spec.join.join(
            templates.fill(spec.peer, {**own, **self._reached(node, other)}) for other in self.names
        )
        by_role = {}
        if spec.roles:  # {role} and {peers.ROLE}: only a file with roles may name them
            by_role["role"] = self.nodes[node].role
            for role in spec.roles:
                by_role[f"peers.{role.name}"] = spec.join.join(
                    templates.fill(spec.peer, {**own, **self._reached(node, other)})
                    for other in self.names
                    if self.nodes[other].role == role.name
                )
        return {**own, "peers": peers, "data": self.data_of(node), **by_role}

    def values_here(self, node: str) -> dict[str, str]:
        """`values`, with the paths where the report folder holds them once the run is over (the
        same, but for nodes on other hosts: remote_nodes.py)."""
        return self.values(node)

    def dir_of(self, node: str) -> str:
        """{dir}: the run's report folder, where `node` runs (a node on a host over SSH: the
        run's folder there, remote_nodes.py)."""
        return str(self.folder.resolve())

    def here_of(self, node: str) -> str:
        """{here}: the system file's folder, where `node` runs."""
        return str(self.system.here)

    def python_of(self, node: str) -> str:
        """{python}: the interpreter meshcheck runs under, where `node` runs."""
        return sys.executable

    def data_of(self, node: str) -> str:
        """{data}: `node`'s data directory, where it runs."""
        return str(self._data(node).resolve())

    def _reached(self, node: str, other: str) -> dict[str, str]:
        """`other`'s values in `node`'s `{peers}`: its own, or where `routes` sends `node` to it
        (the one port the `peer` template names, and the host)."""
        base = self._base(other)
        if self._routes is None or other == node:
            return base
        host, port = self._routes[node][other]
        named = peer_port(self.system)
        return {**base, "host": host, f"port.{named}": str(port)}

    def _base(self, node: str) -> dict[str, str]:
        return {
            "i": str(self.names.index(node) + 1),
            "name": node,
            "host": self.hosts[node],
            **{f"port.{p}": str(port) for p, port in self.ports[node].items()},
        }

    def command(self, node: str) -> list[str]:
        values = self.values(node)
        return [templates.fill(word, values) for word in self.nodes[node].command]

    def env(self, node: str) -> dict[str, str]:
        values = self.values(node)
        own = {var: templates.fill(v, values) for var, v in self.nodes[node].env}
        return {HASH_SEED: str(self._hash_seeds[node]), **own, **self._extra_env(node)}

    def waves(self) -> list[list[str]]:
        """The nodes in the waves they start in, the first time (system_file.py `Nodes.waves`):
        a wave once every node of the one before is ready."""
        return self.system.nodes.waves(self.names)

    def sidecar_log(self, node: str, sidecar: Sidecar) -> Path:
        if not sidecar.log:
            return self.folder / f"{node}.{sidecar.name}.log"
        return Path(templates.fill(sidecar.log, self.values(node)))

    def probe_log(self, node: str) -> Path:
        return self.folder / f"{node}.ready.log"

    def log_path(self, node: str) -> Path:
        if not self.system.nodes.log:
            return self.folder / f"{node}.log"
        return Path(templates.fill(self.system.nodes.log, self.values(node)))

    def endpoint(self, node: str) -> Endpoint:
        port = self.system.client.port
        return Endpoint(node, self.hosts[node], self.ports[node][port], dict(self.ports[node]))

    def write_files(self, node: str) -> list[Path]:
        """The file's `[[nodes.files]]` for `node`, templates filled, written (again) into place,
        but for a file `when = "absent"` that is there already: a relative path is under the
        node's data directory. The paths written."""
        values = self.values(node)
        written = []
        for f in self.system.nodes.files:
            path = Path(templates.fill(f.path, values))
            if not path.is_absolute():
                path = Path(values["data"]) / path
            if f.when == "absent" and path.exists():
                continue  # the node's own now: a restart keeps what it made of it
            write_synced(path, templates.fill(f.text, values).encode())
            written.append(path)
        return written

    def _wrapped(self, node: str, command: list[str]) -> list[str]:
        return command if self._wrap is None else self._wrap(node, command)

    def start(self, node: str) -> None:
        """Start (or restart) `node`, its files written first, then its sidecars in its process
        group, and wait until it is ready: its ready port accepts TCP, or its probe exits 0."""
        self.write_files(node)
        path = self.log_path(node)
        path.parent.mkdir(parents=True, exist_ok=True)
        env = self.env(node)
        self.launch(node, self._wrapped(node, self.command(node)), env=env, log_path=path)
        values = self.values(node)
        self.sidecars[node] = []
        for sidecar in self.nodes[node].sidecars:
            log = self.sidecar_log(node, sidecar)
            log.parent.mkdir(parents=True, exist_ok=True)
            command = [templates.fill(word, values) for word in sidecar.command]
            own = {var: templates.fill(v, values) for var, v in sidecar.env}
            self.sidecars[node].append(
                self.popen(
                    f"{node}'s sidecar {sidecar.name}", self._wrapped(node, command), log,
                    {**env, **own}, group=self.procs[node].pid,
                )
            )  # fmt: skip
        ready = self.nodes[node].ready
        if not ready.command:
            address = (self.hosts[node], self.ports[node][ready.port])
            self.await_ready(node, ready.timeout, lambda _: None if accepts(address) else "")
            return
        command = [templates.fill(word, values) for word in ready.command]
        check = probe.Probe(node, self._wrapped(node, command), env, self.probe_log(node))
        limit = probe.try_limit(ready.timeout)
        self.await_ready(
            node, ready.timeout, lambda left: check(left, limit), "pass its readiness probe",
            every=probe.EVERY,
        )  # fmt: skip

    def kill(self, name: str) -> None:
        """kill -9 to the node's process group, its sidecars with it (they are in it), and to
        whatever the node or a sidecar started that left the group (process_tree.py); then the
        sidecars reaped: no sidecar outlives its node to watch over the node's successor."""
        super().kill(name)
        for sidecar in self.sidecars.get(name, []):
            self.end(sidecar)

    def pause(self, name: str) -> None:
        """SIGSTOP to the node's process group, its sidecars with it; with `pause = "node"`, to
        the node's process and what it started only (process_group.py `stop_tree`): a failover
        agent or a log shipper beside it goes on, as on a machine where only the server hung."""
        if self.system.nodes.pause == "node":
            process_group.stop_tree(self.procs[name].pid)
        else:
            super().pause(name)

    def resume(self, name: str) -> None:
        if self.system.nodes.pause == "node":
            process_group.cont_tree(self.procs[name].pid)
        else:
            super().resume(name)

    def stop(self, grace: float | None = None, sig: int | None = None) -> None:
        how = self.system.nodes.stop
        super().stop(
            how.grace if grace is None else grace,
            getattr(signal, f"SIG{how.signal}") if sig is None else sig,
        )
        for sidecar in (s for started in self.sidecars.values() for s in started):
            self.end(sidecar)  # one that left its node's group too: nothing outlives a run


def write_synced(path: Path, data: bytes) -> None:
    """`data` written to `path`, then fsynced with its folder and each folder made for it: on a
    disk a power failure strikes (meshcheck/faults/lazyfs.py) meshcheck's own files are as an
    operator's would be, written long before, never among what it loses (or its loss lines)."""
    made = [p for p in path.parents if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    for folder in {path.parent, *(p.parent for p in made)}:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def peer_port(system: SystemFile) -> str:
    """The one port a file's `peer` template names (what a link proxy carries: --network proxy);
    "" when it names none or more than one."""
    named = {
        f[len("port.") :] for f in templates.fields(system.nodes.peer) if f.startswith("port.")
    }
    return next(iter(named)) if len(named) == 1 else ""
