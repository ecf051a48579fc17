"""A run's hosts over SSH set up (`meshcheck cluster test --hosts`, run.py): each node's host
connected (remote.py), what the run's faults need there checked before anything starts (nft,
netem or else the delayer, a C compiler, a python for the disk faults), the clock library built
there, the system's folder copied, each node's data directory mounted lazily for a power failure
(remote_disks.py), and the teardown put in order on the run's exit stack: the nodes stopped (the
caller enters the cluster after this), their data directories unmounted, their logs and data
collected into the report folder, the network's tables removed, each host's run folder removed by
its reaper, the control sockets' folder removed."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems import remote_clock
from meshcheck.systems import remote_disks
from meshcheck.systems.hosts_file import Host
from meshcheck.systems.remote import Remote
from meshcheck.systems.remote import run_id
from meshcheck.systems.remote_clock import RemoteClock
from meshcheck.systems.remote_disks import RemoteDisks
from meshcheck.systems.remote_links import RemoteLinks
from meshcheck.systems.remote_nodes import RemoteNodes
from meshcheck.systems.system_file import SystemFile

DISK_KINDS = ("power", "corrupt")  # the faults on the nodes' data directories (remote_disks.py)
PORT_BASE = 7001  # named port k of every node is PORT_BASE + k, each node on its own host


@attrs.frozen
class RemoteRun:
    cluster: RemoteNodes
    links: RemoteLinks
    clocks: dict[str, RemoteClock]
    disks: RemoteDisks | None  # for the power and corrupt faults, when planned


def ipv4(host: Host) -> str:
    """The host's IPv4 address (its name resolved here), for the nftables rules."""
    try:
        return str(socket.getaddrinfo(host.address, None, socket.AF_INET)[0][4][0])
    except (OSError, IndexError):
        raise MeshcheckError(f"host {host.name}: {host.address} has no IPv4 address") from None


def set_up(
    stack: contextlib.ExitStack,
    system: SystemFile,
    names: Sequence[str],
    folder: Path,
    hosts: Sequence[Host],
    kinds: Sequence[str],
    seed: int,
    progress: Callable[[str], None],
    durability: str = "strict",
) -> RemoteRun:
    """Node i on hosts[i] (the module's docstring); the cluster is not started nor entered."""
    sockets = Path(tempfile.mkdtemp(prefix="mc-ssh-"))  # short: a socket's path has 108 bytes
    stack.callback(shutil.rmtree, sockets, True)
    rid = run_id()
    remotes = {}
    for node, host in zip(names, hosts, strict=False):
        progress(f"connecting to {host.name} ({host.destination()}:{host.port}) for {node}")
        remote = Remote(host, sockets, rid)
        remote.open()  # here, in the run's main thread: its master dies with this thread
        stack.callback(remote.close)
        remotes[node] = remote
    addresses = {n: ipv4(remotes[n].host) for n in names}
    links = RemoteLinks(remotes, names, addresses, table=f"meshcheck_{rid.replace('-', '_')}")
    links.check(kinds)
    stack.callback(links.close)
    disk_kinds = set(DISK_KINDS) & set(kinds)
    for node in names if disk_kinds else ():
        remote_disks.install(remotes[node], kinds)
    clocks: dict[str, RemoteClock] = {}
    if "clock" in kinds:
        for node in names:
            remote_clock.build(remotes[node])
            clocks[node] = RemoteClock(node, remotes[node])
    ports = {n: {p: PORT_BASE + k for k, p in enumerate(system.nodes.ports)} for n in names}
    cluster = RemoteNodes(
        system, names, folder, remotes=remotes, hosts={n: remotes[n].host.address for n in names},
        ports=ports, extra_env=lambda n: clocks[n].env() if clocks else {}, seed=seed,
    )  # fmt: skip
    progress(f"copying {system.here} to each host")
    cluster.install()
    stack.callback(_collect, cluster, folder, progress)
    disks = None
    if disk_kinds:  # unmounted before the collection, once the nodes have stopped
        if "power" in kinds:
            progress("mounting each node's data directory lazily on its host")
        disks = stack.enter_context(
            RemoteDisks(remotes, lazy="power" in kinds, durability=durability)
        )
    return RemoteRun(cluster, links, clocks, disks)


def _collect(cluster: RemoteNodes, folder: Path, progress: Callable[[str], None]) -> None:
    """Each host's logs and data into the report folder; a failure said in collect.txt, not
    raised (the teardown goes on: the hosts' folders are removed next)."""
    progress("collecting the nodes' logs and data from the hosts")
    try:
        cluster.collect()
    except MeshcheckError as e:
        (folder / "collect.txt").write_text(f"{e}\n", encoding="utf-8")
