"""A cluster of any system's nodes as processes, from its system file: each node's named ports, its
command and environment filled from the file's templates, started (in its network namespace, on a
namespace network), ready when its ready port accepts TCP, stopped with the file's signal. The
nemesis's kill, pause and resume are `Processes`' (impl/runtime/launcher.py), as for the project's
own nodes: every process dies with the harness (PR_SET_PDEATHSIG). Each node's environment has a
PYTHONHASHSEED of its own, as the project's nodes do (launcher.py `hash_seeds`, from the run's
seed and the node's name): a system written in Python whose replicated state follows a set's
iteration order then differs between its nodes, as it would on separate machines, instead of
agreeing by the harness's one seed; a file that sets PYTHONHASHSEED in `nodes.env` keeps its own."""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from meshcheck.impl.runtime.launcher import HASH_SEED, Processes, hash_seeds
from meshcheck.systems import templates
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.system_file import SystemFile

Wrap = Callable[[str, list[str]], list[str]]  # a node's command as its namespace runs it


class SystemNodes(Processes):
    """The nodes `names` of `system`, reporting into `folder`: node n listens on `hosts[n]`, at
    `ports[n][port name]`; its data directory is `data(n)`; `wrap` runs its command (a namespace
    network's `command`), `extra_env(n)` adds to its environment (a fake clock's); `seed`, the
    run's, draws each node's PYTHONHASHSEED (the module's docstring)."""

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
    ) -> None:
        super().__init__(folder)
        self.system = system
        self.names = list(names)
        self.hosts = dict(hosts)
        self.ports = {n: dict(p) for n, p in ports.items()}
        self._data = data
        self._wrap = wrap
        self._extra_env = extra_env
        self._hash_seeds = hash_seeds(seed, self.names)

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
        return {HASH_SEED: str(self._hash_seeds[node]), **own, **self._extra_env(node)}

    def log_path(self, node: str) -> Path:
        if not self.system.nodes.log:
            return self.folder / f"{node}.log"
        return Path(templates.fill(self.system.nodes.log, self.values(node)))

    def endpoint(self, node: str) -> Endpoint:
        port = self.system.client.port
        return Endpoint(node, self.hosts[node], self.ports[node][port], dict(self.ports[node]))

    def write_files(self, node: str) -> list[Path]:
        """The file's `[[nodes.files]]` for `node`, templates filled, written (again) into place:
        a relative path is under the node's data directory."""
        values = self.values(node)
        written = []
        for path_template, text in self.system.nodes.files:
            path = Path(templates.fill(path_template, values))
            if not path.is_absolute():
                path = Path(values["data"]) / path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(templates.fill(text, values), encoding="utf-8")
            written.append(path)
        return written

    def start(self, node: str) -> None:
        """Start (or restart) `node`, its files written first, and wait until its ready port
        accepts TCP."""
        self.write_files(node)
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
