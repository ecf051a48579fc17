"""etcd members as processes on loopback: each with its client port, its peer port, and the port
of the proxy in front of its peer port (peers.py), which is the peer address every other member
is told (`--initial-advertise-peer-urls`), so all peer traffic passes the nemesis's proxies.

A member killed with SIGKILL restarts on its own data directory with the same flags: etcd reads
its write-ahead log and snapshot back and ignores the `--initial-*` flags once it has data. The
processes die with the harness (PR_SET_PDEATHSIG, as impl/runtime/launcher.py's nodes do).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import attrs

from meshcheck.impl.base.errors import ConfigError, ImplError
from meshcheck.impl.runtime.config import Address
from meshcheck.impl.runtime.launcher import LOOPBACK, _die_with_parent, free_ports

BINARY = "etcd"
INSTALL = "etcd not found: `make etcd` installs Debian's etcd-server (apt-get, as root)"


def etcd_binary() -> str:
    """The etcd executable; ConfigError (one line, exit 2) with the fix when it is missing."""
    found = shutil.which(BINARY)
    if found is None:
        raise ConfigError(INSTALL)
    return found


@attrs.frozen
class Member:
    """One member's addresses: clients, its own peer port, and its proxy's (what others dial)."""

    name: str
    client: Address
    peer: Address
    advertised: Address

    @property
    def client_url(self) -> str:
        return f"http://{self.client[0]}:{self.client[1]}"


class EtcdCluster:
    """`names` etcd members under `folder` (data directories, each member's output)."""

    def __init__(self, names: list[str], folder: Path, *, token: str = "meshcheck") -> None:
        self.binary = etcd_binary()
        self.folder = folder
        self.token = token
        ports = free_ports(3 * len(names))
        self.members = {
            name: Member(
                name,
                (LOOPBACK, ports[3 * k]),
                (LOOPBACK, ports[3 * k + 1]),
                (LOOPBACK, ports[3 * k + 2]),
            )
            for k, name in enumerate(names)
        }
        shutil.rmtree(folder / "data", ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    @property
    def names(self) -> list[str]:
        return list(self.members)

    def _command(self, name: str) -> list[str]:
        m = self.members[name]
        cluster = ",".join(
            f"{o.name}=http://{o.advertised[0]}:{o.advertised[1]}" for o in self.members.values()
        )
        return [
            self.binary,
            "--name", name,
            "--data-dir", str(self.folder / "data" / name),
            "--listen-client-urls", m.client_url,
            "--advertise-client-urls", m.client_url,
            "--listen-peer-urls", f"http://{m.peer[0]}:{m.peer[1]}",
            "--initial-advertise-peer-urls", f"http://{m.advertised[0]}:{m.advertised[1]}",
            "--initial-cluster", cluster,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", self.token,
        ]  # fmt: skip

    def start(self, name: str, *, wait: float = 20.0) -> None:
        """Start (or restart) member `name` and wait until its client port listens."""
        if name in self.procs and self.procs[name].poll() is None:
            raise ImplError(f"{name} is running already")
        log = (self.folder / f"{name}.log").open("ab")
        self._logs.append(log)
        self.procs[name] = subprocess.Popen(
            self._command(name),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self._wait_listening(name, wait)

    def start_all(self) -> None:
        for name in self.members:  # each listens before the cluster has its quorum
            self.start(name)

    def _wait_listening(self, name: str, wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise ImplError(
                    f"{name} exited with {self.procs[name].returncode}: {self.tail(name)}"
                )
            try:
                socket.create_connection(self.members[name].client, timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise ImplError(f"{name} did not listen within {wait} s: {self.tail(name)}")

    def tail(self, name: str, lines: int = 2) -> str:
        path = self.folder / f"{name}.log"
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def kill(self, name: str) -> None:
        """kill -9: only what etcd fsynced survives."""
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def pause(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """End every member: SIGCONT (a paused one cannot act on SIGTERM), SIGTERM, then SIGKILL
        for any still there after two seconds."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def __enter__(self) -> EtcdCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
