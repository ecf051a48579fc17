"""Real SSH servers on this machine to run `meshcheck cluster test --hosts` against: one network
namespace per host (meshcheck/cluster/netns.py: no route out, addresses in 198.18.0.0/24), each with
an sshd of its own listening on its namespace's address only, plus one namespace more, `ctl`, for
the controller (meshcheck itself), which reaches the hosts as it would reach real machines. What
the tests run SSH runs against (`sshd_hosts`, a context manager), and what `meshcheck hosts up N`
leaves running for a user to try `--hosts` on one machine, until `meshcheck hosts down`
(`up`, `down`; docs/systems.md, "Trying hosts on one machine").

Per set of hosts: a client key and a host key made with ssh-keygen in a folder, an sshd_config
that takes only that key (no PAM, no password, no keyboard-interactive) and sets SHLVL, so that
root's bash runs each command without reading ~/.bashrc (Debian's bash reads it for a command from
sshd in a first-level shell: a pyenv set up there cost 0.1 s of CPU a command), a known_hosts file
with the hosts' key, a work folder per host, and the hosts file naming all of it, the hosts' python
being this one (for the lazy file system's daemon: meshcheck/systems/remote_disks.py). `sshd_hosts`
tears everything down however the block ends: the namespaces' processes killed (the sshds and
whatever a run left), the namespaces deleted, the folder removed. `up` builds the same with no
reaper and sshds that daemonize, its namespaces named `mcnet-hosts-TAG` (no harness's pid: not
stale once `up` has exited, netns.py `sweep_stale`), and writes what `down` ends in the folder
(STATE). The same tests run against real machines given their hosts file instead.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path

import attrs

from meshcheck.cluster.netns import PREFIX
from meshcheck.cluster.netns import NamespaceNetwork
from meshcheck.cluster.netns import destroy
from meshcheck.cluster.netns import missing
from meshcheck.cluster.netns import namespaces
from meshcheck.impl.base.errors import MeshcheckError

SSHD = Path("/usr/sbin/sshd")
CONTROL = "ctl"
_CONFIG = """\
ListenAddress {address}
Port 22
HostKey {folder}/host_key
PidFile {folder}/sshd-{name}.pid
AuthorizedKeysFile {folder}/authorized_keys
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
MaxSessions 50
MaxStartups 50
LogLevel ERROR
SetEnv SHLVL=1
"""


def unavailable() -> str | None:
    """Why SSH hosts cannot be made here (one line), or None."""
    why = missing()
    if why is not None:
        return why
    if not SSHD.exists() or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "no OpenSSH server or client: `make sshd` (Debian's openssh-server)"
    return None


@attrs.frozen
class SshHosts:
    net: NamespaceNetwork
    folder: Path
    names: tuple[str, ...]
    hosts_file: Path

    def work(self, name: str) -> Path:
        return self.folder / f"work-{name}"

    def control(self, argv: Sequence[str]) -> list[str]:
        """`argv` run as the controller: in the `ctl` namespace."""
        return self.net.command(CONTROL, argv)

    def pids(self, name: str) -> list[int]:
        """Every process in host `name`'s namespace but its sshd listener."""
        done = subprocess.run(
            ["ip", "netns", "pids", self.net.namespace(name)],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        listener = int((self.folder / f"sshd-{name}.pid").read_text().strip())
        return [int(p) for p in done.stdout.split() if int(p) != listener]

    def mounts(self, name: str) -> list[str]:
        """The mount points under host `name`'s work folder, as its sshd's sessions see them
        (`ip netns exec` gave it a mount namespace of its own)."""
        listener = int((self.folder / f"sshd-{name}.pid").read_text().strip())
        with open(f"/proc/{listener}/mounts") as f:
            points = [line.split()[1] for line in f]
        return [p for p in points if p.startswith(f"{self.work(name)}/")]

    def tables(self, name: str) -> str:
        """The nftables tables in host `name`'s namespace."""
        return self.net.run_in(name, ["nft", "list", "tables"]).stdout

    def sessions_gone(self, name: str, wait: float = 15.0) -> list[int]:
        """Wait up to `wait` s until host `name` has no process but its listener; those left."""
        deadline = time.monotonic() + wait
        while True:
            left = self.pids(name)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "meshcheck-hosts", "-f", str(path)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip


def _prepare(net: NamespaceNetwork, folder: Path, names: Sequence[str]) -> Path:
    """Keys, each host's sshd_config and work folder, known_hosts and the hosts file (returned)
    in `folder`, for the hosts `names` of `net` (built)."""
    _keygen(folder / "id")
    _keygen(folder / "host_key")
    shutil.copy(folder / "id.pub", folder / "authorized_keys")
    host_key = (folder / "host_key.pub").read_text().split()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    known = []
    entries = ["[defaults]", 'user = "root"', 'identity = "id"', 'known_hosts = "known_hosts"',
               f'python = "{sys.executable}"']  # fmt: skip
    for name in names:
        address = net.address(name)
        config = folder / f"sshd-{name}.conf"
        config.write_text(_CONFIG.format(address=address, folder=folder, name=name))
        (folder / f"work-{name}").mkdir()
        known.append(f"{address} {host_key[0]} {host_key[1]}")
        entries += [f"[hosts.{name}]", f'address = "{address}"', f'work = "{folder}/work-{name}"']
    (folder / "known_hosts").write_text("\n".join(known) + "\n")
    hosts_file = folder / "hosts.toml"
    hosts_file.write_text("\n".join(entries) + "\n")
    return hosts_file


@contextlib.contextmanager
def sshd_hosts(names: Sequence[str] = ("h1", "h2", "h3")) -> Iterator[SshHosts]:
    """An sshd per host `names`, each in a namespace of its own, and the hosts file that reaches
    them; all gone at the end (the module's docstring)."""
    folder = Path(tempfile.mkdtemp(prefix="mc-sshd-"))
    net = NamespaceNetwork([*names, CONTROL])
    try:
        net.build()
        hosts_file = _prepare(net, folder, names)
        servers = [
            net.popen(
                name, [str(SSHD), "-D", "-e", "-f", str(folder / f"sshd-{name}.conf")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            for name in names
        ]  # fmt: skip
        for name, server in zip(names, servers, strict=True):
            _listening(folder / f"sshd-{name}.pid", server)
        yield SshHosts(net, folder, tuple(names), hosts_file)
    finally:
        net.close()
        shutil.rmtree(folder, ignore_errors=True)


STATE = "hosts.json"  # in `up`'s folder: the namespaces `down` removes
NAMES = "h{i}"  # `up`'s hosts: h1, h2, ...
MAX_HOSTS = 9


def up(count: int, folder: Path) -> SshHosts:
    """`count` hosts (h1...) and the controller's namespace, left running after this process ends,
    their keys, configuration and hosts file in `folder` (made: it must not hold hosts already),
    with STATE, what `down` needs. MeshcheckError (one line) for what cannot be done."""
    why = unavailable()
    if why is not None:
        raise MeshcheckError(f"hosts up: {why}")
    if not 1 <= count <= MAX_HOSTS:
        raise MeshcheckError(f"hosts up {count}: expected 1 to {MAX_HOSTS} hosts")
    if (folder / STATE).exists():
        raise MeshcheckError(f"{folder} holds hosts already: `meshcheck hosts down --dir {folder}`")
    if folder.exists() and any(folder.iterdir()):
        raise MeshcheckError(f"{folder}: not empty; give another --dir")
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    names = [NAMES.format(i=i) for i in range(1, count + 1)]
    net = NamespaceNetwork([*names, CONTROL], run=f"{PREFIX}-hosts-{secrets.token_hex(3)}")
    (folder / STATE).write_text(json.dumps({"namespaces": net.all_namespaces()}) + "\n")
    try:
        net.build(reaper=False)
        hosts_file = _prepare(net, folder, names)
        for name in names:  # sshd without -D daemonizes, outside this process's group
            done = subprocess.run(
                net.command(name, [str(SSHD), "-f", str(folder / f"sshd-{name}.conf")]),
                capture_output=True, text=True, timeout=30, check=False, start_new_session=True,
            )  # fmt: skip
            if done.returncode != 0:
                raise MeshcheckError(f"hosts up: sshd for {name}: {done.stderr.strip()}")
            _listening(folder / f"sshd-{name}.pid", None)
    except BaseException:
        down(folder)
        raise
    return SshHosts(net, folder, tuple(names), hosts_file)


def down(folder: Path) -> list[str]:
    """End what `up` started in `folder`: every process in its namespaces (the sshds and what a
    run left), the namespaces, the folder; the namespaces removed. MeshcheckError for a folder
    `up` did not make."""
    try:
        state = json.loads((folder / STATE).read_text())
        spaces = [str(ns) for ns in state["namespaces"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise MeshcheckError(
            f"{folder}: no hosts `meshcheck hosts up` started (no readable {STATE})"
        ) from None
    present = set(namespaces())
    gone = [ns for ns in spaces if ns in present]
    for ns in gone:
        destroy(ns)
    shutil.rmtree(folder, ignore_errors=True)
    return gone


def _listening(pid_file: Path, server: subprocess.Popen[bytes] | None, wait: float = 10.0) -> None:
    """Return once sshd has written its pid file (it listens by then)."""
    deadline = time.monotonic() + wait
    while not (pid_file.exists() and pid_file.read_text().strip()):
        if server is not None and server.poll() is not None:
            assert server.stderr is not None
            raise MeshcheckError(f"sshd exited: {server.stderr.read().decode().strip()}")
        if time.monotonic() > deadline:
            raise MeshcheckError(f"sshd wrote no {pid_file.name} within {wait} s")
        time.sleep(0.02)
