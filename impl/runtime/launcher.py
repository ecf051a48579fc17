"""Start a cluster of node processes on this machine's loopback, and make sure they end.

Every process is started with the parent-death signal set to SIGKILL (Linux `prctl`), so a node
cannot outlive the process that started it however that one ends (an exception, Ctrl-C, SIGTERM
or kill -9); `LocalCluster` is also a context manager that kills whatever is left when it exits.
Nothing listens beyond 127.0.0.1.

The nemesis's process faults are methods here: `kill` (SIGKILL), `restart`, `pause` (SIGSTOP)
and `resume` (SIGCONT). Each node runs in a process group of its own and each fault signals the
whole group, returning only once /proc shows it has acted (process_group.py): a pause that had not
yet landed once let a "paused" NATS server acknowledge a publish. A kill and the stop also end what
a node started that left its group (a `setsid`, a daemon's double fork): every process started
here carries a mark of its own in its environment, which its children inherit (process_tree.py).

Each of the project's node processes runs with a PYTHONHASHSEED of its own (`hash_seeds`), drawn
from the run's seed and the node's name. Python randomises the hash of a string per process, so a
set of strings iterates in an order the process's hash seed decides: nodes that inherited one seed
from the harness (a test runner may fix PYTHONHASHSEED) would agree on every such order and hide a
replicated state that follows one (impl/rsm/mutants.py), and nodes that drew random seeds would
make a run's verdict depend on the draw rather than on the code and the run's seed.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO
from typing import Any
from typing import Self

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.runtime import process_group
from meshcheck.impl.runtime import process_tree
from meshcheck.impl.runtime.config import Address
from meshcheck.impl.runtime.config import ClusterConfig
from meshcheck.impl.runtime.tls import CLIENT
from meshcheck.impl.runtime.tls import client_context
from meshcheck.impl.runtime.tls import make_certificates

LOOPBACK = "127.0.0.1"


# The ports this process handed out lately: a port handed out is not bound until its node or proxy
# starts, and the OS may offer it again meanwhile (a run of three clusters asks for ports three
# times before it binds any), so it is not handed out twice while it may still be waiting.
_HANDED: collections.deque[int] = collections.deque(maxlen=4096)


def free_ports(count: int) -> list[int]:
    """`count` ports free on loopback now (the OS picks them, none this process handed out lately;
    a race with another process that binds one first shows as a node that does not come up)."""
    sockets: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind((LOOPBACK, 0))
            sockets.append(s)  # held until the end: the OS offers each port once meanwhile
            port = s.getsockname()[1]
            if port not in _HANDED:
                ports.append(port)
        _HANDED.extend(ports)
        return ports
    finally:
        for s in sockets:
            s.close()


HASH_SEED = "PYTHONHASHSEED"
# PYTHONHASHSEED's range: 0 switches the randomisation off, up to 2**32 - 1 seed it
_HASH_SEEDS = 2**32 - 1


def hash_seeds(seed: int, nodes: Sequence[str]) -> dict[str, int]:
    """The PYTHONHASHSEED of each node's process: a function of the run's `seed` and the node's
    name (SHA-256, not `hash`, which is what it seeds), never 0 (no randomisation), and distinct
    between the nodes of one run (the rare clash drawn again, the nodes in name order)."""
    out: dict[str, int] = {}
    for node in sorted(nodes):
        draw = 0
        while True:
            digest = hashlib.sha256(f"hash seed:{seed}:{node}:{draw}".encode()).digest()
            value = int.from_bytes(digest[:8], "big") % _HASH_SEEDS + 1
            if value not in out.values():
                break
            draw += 1
        out[node] = value
    return out


def accepts(address: Address) -> bool:
    """Whether `address` accepts a TCP connection now (within 0.2 s)."""
    try:
        socket.create_connection(address, timeout=0.2).close()
    except OSError:
        return False
    return True


class Processes:
    """Named child processes under `folder`, each writing its output to `folder/<name>.log`: the
    process faults of the nemesis (`kill`, `pause`, `resume`), and `stop`, which ends every one
    however the caller ends (a context manager). `LocalCluster` runs the project's nodes with it,
    meshcheck/systems/nodes.py any system's nodes from its system file."""

    def __init__(self, folder: Path, *, detached: bool = False) -> None:
        self.folder = folder
        # detached: the processes outlive this one (`meshcheck cluster up`; `down` ends them)
        self._detached = detached
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        # each started process's mark (process_tree.py); by the process, not its pid, which a
        # later process may take once this one is reaped
        self._marks: dict[subprocess.Popen[bytes], str] = {}
        self._logs: list[IO[bytes]] = []
        self._log_paths: dict[str, Path] = {}

    def spawn(
        self,
        name: str,
        command: Sequence[str],
        address: Address,
        wait: float,
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        """Start process `name` with `command` and wait until it listens on `address`; `env`: what
        its environment adds to this one's, `log_path`: where its output goes (default
        `folder/<name>.log`)."""
        self.launch(name, command, env=env, log_path=log_path)
        self.await_ready(name, wait, lambda _: None if accepts(address) else "")

    def launch(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        """Start process `name` (`spawn` without the wait: a caller with a readiness of its own,
        meshcheck/systems/nodes.py)."""
        if name in self.procs and self.procs[name].poll() is None:
            raise ImplError(f"{name} is running already")
        path = log_path if log_path is not None else self.folder / f"{name}.log"
        self._log_paths[name] = path
        self.procs[name] = self.popen(name, command, path, env)

    def popen(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        group: int = 0,
    ) -> subprocess.Popen[bytes]:
        """`command` started, its output appended to `log_path`, in process group `group` (0: a
        group of its own, which every fault signals: what the node starts is paused with it; a
        node's pid: that node's, as a sidecar runs, meshcheck/systems/nodes.py)."""
        log = log_path.open("ab")
        self._logs.append(log)
        mark = process_tree.new_mark()  # what it starts carries it, in any group (`end`)
        try:
            proc = subprocess.Popen(
                list(command),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {}), mark: "1"},
                preexec_fn=None if self._detached else process_tree.die_with_parent,
                start_new_session=self._detached,
                process_group=None if self._detached else group,
            )
        except OSError as e:  # no such program, not executable: what nsenter says in a namespace
            raise ImplError(f"{name} could not start {command[0]}: {e.strerror}") from e
        self._marks[proc] = mark
        return proc

    def end(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL what is left of `proc` (started by `popen`): its process group, whatever left
        the group but carries its mark, and its descendants (process_tree.py); then reap it."""
        process_tree.end(proc, self._marks[proc])

    def await_ready(
        self,
        name: str,
        wait: float,
        ready: Callable[[float], str | None],
        what: str = "listen",
        every: float = 0.02,
    ) -> None:
        """Return once `ready(seconds left)` says None (ready), asked every `every` seconds; an
        ImplError when process `name` exits first, or after `wait` seconds (with the last reason
        `ready` gave, if any, and the process's last lines)."""
        deadline = time.monotonic() + wait
        why = ""
        while (left := deadline - time.monotonic()) > 0:
            if self.procs[name].poll() is not None:
                raise ImplError(
                    f"{name} exited with {self.procs[name].returncode}: {self.tail(name)}"
                )
            said = ready(left)
            if said is None:
                return
            why = said
            time.sleep(every)
        because = f" ({why})" if why else ""
        raise ImplError(f"{name} did not {what} within {wait} s{because}: {self.tail(name)}")

    def tail(self, name: str, lines: int = 3) -> str:
        return " | ".join(self.last_lines(name, lines))

    def last_lines(self, name: str, lines: int) -> list[str]:
        """The last `lines` lines of the process's output (none before it wrote any)."""
        path = self._log_paths.get(name, self.folder / f"{name}.log")
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return text.strip().splitlines()[-lines:]

    def kill(self, name: str) -> None:
        """kill -9: the process ends at once; what it wrote survives (the machine does not crash: written
        and not yet fsynced is kept too), what it held in memory does not."""
        self.end(self.procs[name])  # every process the node started, not only the first

    def pause(self, name: str) -> None:
        """SIGSTOP to the node's process group, then to what the node's process started in
        another (its descendants, by their parents' pids: PostgreSQL's backends, each in a
        session of its own, which also overwrites its environment with its process title) and to
        whatever carries its mark (a double fork whose parent is gone, process_tree.py); returns
        once every thread of them is stopped."""
        proc = self.procs[name]
        process_group.stop(proc.pid)
        process_group.stop_tree(proc.pid)
        process_tree.stop_marked(self._marks[proc])

    def threads(self, name: str) -> dict[tuple[int, int], str]:
        """The state of every thread of the node, as `pause` finds them: its process group's, its
        descendants' and what carries its mark: (pid, tid) -> state letter (proc(5))."""
        proc = self.procs[name]
        pids = {*process_group.members(proc.pid), *process_group.tree(proc.pid)}
        pids |= set(process_tree.marked(self._marks[proc]))
        return process_group.threads_of(sorted(pids))

    def resume(self, name: str) -> None:
        """SIGCONT to what `pause` stopped; returns once no thread of it is stopped."""
        proc = self.procs[name]
        process_tree.cont_marked(self._marks[proc])
        process_group.cont_tree(proc.pid)
        process_group.cont(proc.pid)

    def running(self) -> list[str]:
        return sorted(n for n, p in self.procs.items() if p.poll() is None)

    def stop(self, grace: float = 1.0, sig: int = signal.SIGTERM) -> None:
        """End every process: SIGCONT (a paused one cannot act on `sig`), `sig` (SIGTERM), then
        SIGKILL for any still there after `grace` seconds."""
        # each node's descendants, held before `sig` ends their parent (process_tree.hold)
        held = {proc: process_tree.hold(proc) for proc in self.procs.values()}
        for proc in self.procs.values():
            if proc.poll() is None:
                process_group.signal_all(proc.pid, signal.SIGCONT)
                process_group.signal_all(proc.pid, sig)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            # what is left of the node: its first process or others
            process_tree.end(proc, self._marks[proc], held=held[proc])
        for log in self._logs:
            log.close()
        self._logs.clear()

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalCluster(Processes):
    """`nodes` processes of `protocol` under `folder` (state files, logs, the configuration)."""

    def __init__(
        self,
        protocol: str,
        nodes: Sequence[str],
        folder: Path,
        *,
        seed: int = 0,
        options: Mapping[str, Any] | None = None,
        routes: Mapping[str, Mapping[str, Address]] | None = None,
        ports: Mapping[str, int] | None = None,
        detached: bool = False,
        tls: bool = False,
        fresh: bool = True,
        addresses: Mapping[str, Address] | None = None,
        wrap: Callable[[str, list[str]], list[str]] | None = None,
    ) -> None:
        """`addresses`: where each node listens (by default loopback, at `ports`); `wrap`: the
        command that runs a node's command line (a namespace network's: meshcheck/cluster/netns.py)."""
        super().__init__(folder, detached=detached)
        self._wrap = wrap
        folder.mkdir(parents=True, exist_ok=True)
        if fresh:  # what an earlier cluster left in the folder (state files, logs) is not ours
            shutil.rmtree(folder / "data", ignore_errors=True)
            for old in folder.glob("*.log"):
                old.unlink()
        if ports is None:
            ports = dict(zip(nodes, free_ports(len(nodes)), strict=True))
        if addresses is None:
            addresses = {n: (LOOPBACK, ports[n]) for n in nodes}
        if routes is None:
            routes = {n: {p: addresses[p] for p in nodes if p != n} for n in nodes}
        self.config = ClusterConfig(
            protocol,
            addresses,
            routes,
            str(folder / "data"),
            seed,
            dict(options or {}),
            tls,
            hash_seeds(seed, nodes),
        )
        if tls:
            make_certificates(self.config.tls_folder(), nodes)
        self.config_path = folder / "cluster.json"
        self.config_path.write_text(self.config.to_json(), encoding="utf-8")

    # -- processes ------------------------------------------------------------------------------------

    def start(self, node: str, *, wait: float = 30.0) -> None:
        """Start (or restart) `node`'s process, with its own hash seed (`hash_seeds`, the same at
        every restart), and wait until it listens (a node process imports the project first: on
        a loaded 2-core machine a restart took over 10 s)."""
        command = [
            sys.executable,
            "-m",
            "meshcheck.impl.runtime.node_main",
            str(self.config_path),
            node,
        ]
        if self._wrap is not None:
            command = self._wrap(node, command)
        env = {HASH_SEED: str(self.config.hash_seeds[node])}
        self.spawn(node, command, self.config.nodes[node], wait, env=env)

    def start_all(self) -> None:
        for node in self.config.node_ids():
            self.start(node)

    def restart(self, node: str) -> None:
        self.kill(node)
        self.start(node)

    def client_tls(self) -> ssl.SSLContext | None:
        """What a client of this cluster connects with (None without TLS)."""
        return client_context(self.config.tls_folder(), CLIENT) if self.config.tls else None


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False
