"""etcd members as processes on loopback: each with its client port, its peer port, and the port
of the proxy in front of its peer port (peers.py), which is the peer address every other member
is told (`--initial-advertise-peer-urls`), so all peer traffic passes the nemesis's proxies.

A member killed with SIGKILL restarts on its own data directory with the same flags: etcd reads
its write-ahead log and snapshot back and ignores the `--initial-*` flags once it has data. The
processes are impl/runtime/launcher.py's `Processes`, as the project's nodes are: they die with
the harness (PR_SET_PDEATHSIG), and the nemesis's kill, pause and resume are theirs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs

from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.runtime.config import Address
from meshcheck.impl.runtime.launcher import LOOPBACK, Processes, free_ports

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


class EtcdCluster(Processes):
    """`names` etcd members under `folder` (data directories, each member's output)."""

    def __init__(self, names: list[str], folder: Path, *, token: str = "meshcheck") -> None:
        super().__init__(folder)
        self.binary = etcd_binary()
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
        """Start (or restart) member `name` and wait until its client port listens (before the
        cluster has its quorum: etcd listens first)."""
        self.spawn(name, self._command(name), self.members[name].client, wait)

    def stop(self, grace: float = 2.0) -> None:
        super().stop(grace)
