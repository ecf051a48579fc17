"""A cluster of any system's nodes as processes, from its system file: each node's named ports, its
command and environment filled from the file's templates, started (in its network namespace, on a
namespace network), ready when its ready port accepts TCP, stopped with the file's signal. The
nemesis's kill, pause and resume are `Processes`' (impl/runtime/launcher.py), as for the project's
own nodes: every process dies with the harness (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from meshcheck.impl.runtime.launcher import Processes
from meshcheck.systems import templates
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.system_file import SystemFile

Wrap = Callable[[str, list[str]], list[str]]  # a node's command as its namespace runs it


class SystemNodes(Processes):
    """The nodes `names` of `system`, reporting into `folder`: node n listens on `hosts[n]`, at
    `ports[n][port name]`; its data directory is `data(n)`; `wrap` runs its command (a namespace
    network's `command`), `extra_env(n)` adds to its environment (a fake clock's)."""

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
    ) -> None:
        super().__init__(folder)
        self.system = system
        self.names = list(names)
        self.hosts = dict(hosts)
        self.ports = {n: dict(p) for n, p in ports.items()}
        self._data = data
        self._wrap = wrap
        self._extra_env = extra_env

    def values(self, node: str) -> dict[str, str]:
        """Every placeholder's value for `node` (docs/systems.md)."""
        spec = self.system.nodes
        own = {
            "i": str(self.names.index(node) + 1),
            "name": node,
            "host": self.hosts[node],
            "nodes": str(len(self.names)),
            "dir": str(self.folder.resolve()),
            "here": str(self.system.here),
            **{f"port.{p}": str(port) for p, port in self.ports[node].items()},
        }
        peers = spec.join.join(
            templates.fill(spec.peer, {**own, **self._base(other)}) for other in self.names
        )
        return {**own, "peers": peers, "data": str(self._data(node).resolve())}

    def _base(self, node: str) -> dict[str, str]:
        return {
            "i": str(self.names.index(node) + 1),
            "name": node,
            "host": self.hosts[node],
            **{f"port.{p}": str(port) for p, port in self.ports[node].items()},
        }

    def command(self, node: str) -> list[str]:
        values = self.values(node)
        return [templates.fill(word, values) for word in self.system.nodes.command]

    def env(self, node: str) -> dict[str, str]:
        values = self.values(node)
        own = {var: templates.fill(v, values) for var, v in self.system.nodes.env}
        return {**own, **self._extra_env(node)}

    def log_path(self, node: str) -> Path:
        if not self.system.nodes.log:
            return self.folder / f"{node}.log"
        return Path(templates.fill(self.system.nodes.log, self.values(node)))

    def endpoint(self, node: str) -> Endpoint:
        port = self.system.client.port
        return Endpoint(node, self.hosts[node], self.ports[node][port], dict(self.ports[node]))

    def start(self, node: str) -> None:
        """Start (or restart) `node` and wait until its ready port accepts TCP."""
        command = self.command(node)
        if self._wrap is not None:
            command = self._wrap(node, command)
        ready = self.system.nodes.ready
        address = (self.hosts[node], self.ports[node][ready.port])
        path = self.log_path(node)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.spawn(node, command, address, ready.timeout, env=self.env(node), log_path=path)

    def stop(self, grace: float | None = None, sig: int | None = None) -> None:
        how = self.system.nodes.stop
        super().stop(
            how.grace if grace is None else grace,
            getattr(signal, f"SIG{how.signal}") if sig is None else sig,
        )
