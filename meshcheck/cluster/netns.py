"""A cluster network made of Linux network namespaces, and faults at the network layer: any system's
processes (etcd, this project's cores, a user's service) run in it unchanged, with no proxy to be
configured to route through.

Each node has its own namespace and address; every node's `eth0` is one end of a veth pair whose
other end is a port of one bridge, itself in a namespace of the run (never the host's). Nothing has
a default route, NAT or a link to the host's interfaces: the nodes reach each other and nothing
else. Addresses are in 198.18.0.0/15 (RFC 2544's benchmarking range), inside the run's namespaces.

Faults, as Jepsen applies them (Kingsbury, jepsen.io; its `net` protocol drops with iptables on the
receiving node and slows with tc netem):
- a partition: nftables rules in each receiving node's namespace drop what comes from the other
  side (`partition`: every link between groups, both ways; `cut`: one way);
- latency, jitter and loss: tc netem on a node's `eth0`, delaying or dropping what it sends;
- `heal` undoes them all. Each one's application is recorded with its time (fault_log.py).

Cleanup: the names carry the harness's pid and a random tag (`mcnet-<pid>-<tag>-<node>`), so runs
side by side never collide. `close()` kills every process in the run's namespaces and deletes them
(their veths and bridge go with them). A reaper, started before the first namespace in a session of
its own, waits on a pipe from the harness; when the harness ends however it ends (SIGKILL too), the
pipe closes and the reaper does the same cleanup. Processes started through `popen` also die with
the harness (PR_SET_PDEATHSIG). `sweep_stale()` removes what runs whose harness is gone left, should
a reaper itself have been killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshcheck.cluster.fault_log import FaultLog
from meshcheck.cluster.fault_log import die_with_parent
from meshcheck.impl.base.errors import MeshcheckError

PREFIX = "mcnet"
DELAYER = Path(__file__).with_name("delayer.py")
SUBNET = "198.18.0"  # a /24 of 198.18.0.0/15, only ever inside the run's namespaces
TOOLS = ("ip", "tc", "nft", "nsenter", "sysctl")
# The delayer's rule, where the kernel has no netem: nftables's own `queue` statement needs
# CONFIG_NFT_QUEUE, which kernels built without netem often lack too; iptables's NFQUEUE target
# (over nftables's compatibility layer) needs only CONFIG_NETFILTER_XT_TARGET_NFQUEUE.
_QUEUE = ("OUTPUT", "-d", f"{SUBNET}.0/24", "-j", "NFQUEUE", "--queue-num", "0")
_LOSS_SCALE = 10_000  # a loss share's resolution: 0.01%
_NODE = re.compile(r"[a-z0-9]{1,12}")
# The reaper: blocks until the harness's end of its stdin closes, then kills what runs in each of
# the run's namespaces and deletes them (bounded: five rounds of kills per namespace).
_REAPER = """
cat >/dev/null
for ns in "$@"; do
  for round in 1 2 3 4 5; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -z "$pids" ] && break
    kill -9 $pids 2>/dev/null
    sleep 0.05
  done
  ip netns del "$ns" 2>/dev/null
done
"""


class NetnsError(MeshcheckError):
    pass


def missing() -> str | None:
    """Why namespace networks cannot be built here (one line), or None when they can."""
    absent = [t for t in TOOLS if shutil.which(t) is None]
    if absent:
        return (
            f"{', '.join(absent)} not installed: `make netns` (Debian's iproute2, nftables, procps)"
        )
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
    return None


def _sh(argv: Sequence[str], stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def namespaces() -> list[str]:
    """The names of every named network namespace on the host (`ip netns list`)."""
    return [line.split()[0] for line in _sh(["ip", "netns", "list"]).splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Delete the namespaces of runs whose harness process is gone; the names deleted."""
    gone: list[str] = []
    for name in namespaces():
        parts = name.split("-")
        stale = len(parts) >= 3 and parts[0] == PREFIX and parts[1].isdigit()
        if stale and not _alive(int(parts[1])):
            destroy(name)
            gone.append(name)
    return gone


def destroy(namespace: str) -> None:
    """Kill every process in `namespace`, then delete it (bounded rounds, as the reaper does)."""
    for _ in range(5):
        pids = subprocess.run(
            ["ip", "netns", "pids", namespace], capture_output=True, text=True, timeout=30
        ).stdout.split()
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)
    subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)


class NamespaceNetwork:
    """`nodes` (short names, e.g. n1 n2 n3), each in its own namespace behind one bridge.

    Use as a context manager, or call `build()` and `close()`."""

    def __init__(self, nodes: Sequence[str], run: str = "") -> None:
        if len(set(nodes)) != len(nodes) or not 1 <= len(nodes) <= 200:
            raise NetnsError(f"nodes must be 1 to 200 distinct names, not {list(nodes)}")
        bad = [n for n in nodes if not _NODE.fullmatch(n)]
        if bad:
            raise NetnsError(f"a node's name is 1-12 of a-z, 0-9, not {bad[0]!r}")
        self.nodes = tuple(nodes)
        # the names' stem: the harness's pid in it (`sweep_stale`), unless given
        self.run = run or f"{PREFIX}-{os.getpid()}-{secrets.token_hex(3)}"
        self.bridge = f"{self.run}-br"
        self.log = FaultLog()
        # (sender, receiver) links dropped, each with the number of faults in force that cut it
        self._cut: Counter[tuple[str, str]] = Counter()
        # the nodes with a delay in force: None for netem, else the delayer's process
        self._slow: dict[str, subprocess.Popen[str] | None] = {}
        self._loss: dict[str, int] = {}  # node -> packets dropped per _LOSS_SCALE it sends
        self._procs: list[subprocess.Popen[Any]] = []
        self._reaper: subprocess.Popen[bytes] | None = None

    def namespace(self, node: str) -> str:
        self._check(node)
        return f"{self.run}-{node}"

    def address(self, node: str) -> str:
        return f"{SUBNET}.{self.nodes.index(self._check(node)) + 2}"

    def all_namespaces(self) -> list[str]:
        return [self.bridge, *(f"{self.run}-{n}" for n in self.nodes)]

    def _check(self, node: str) -> str:
        if node not in self.nodes:
            raise NetnsError(f"no node {node!r} in this network (nodes: {', '.join(self.nodes)})")
        return node

    # building and tearing down

    def build(self, reaper: bool = True) -> NamespaceNetwork:
        """Make the namespaces and links; `reaper`: with the reaper that removes them when this
        process ends (without: they outlive it, `meshcheck hosts up`; `destroy` removes them)."""
        why = missing()
        if why:
            raise NetnsError(why)
        if reaper:
            self._reaper = subprocess.Popen(
                ["sh", "-c", _REAPER, "reaper", *self.all_namespaces()],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # not in the harness's group: a kill of it spares this
            )
        try:
            for ns in self.all_namespaces():
                _sh(["ip", "netns", "add", ns])
            bridge = ["link add br0 type bridge", "link set br0 up", "link set lo up"]
            for i, node in enumerate(self.nodes):
                bridge += [
                    f"link add p{i} type veth peer name eth0 netns {self.namespace(node)}",
                    f"link set p{i} master br0",
                    f"link set p{i} up",
                ]
            _sh(["ip", "-n", self.bridge, "-batch", "-"], "\n".join(bridge) + "\n")
            for node in self.nodes:
                # IPv4 only: an IPv6 link-local address would be a path the partitions do not cut
                # (off before the links come up, so none gets an IPv6 address)
                off = [
                    f"net.ipv6.conf.{c}.disable_ipv6=1" for c in ("all", "default", "lo", "eth0")
                ]
                _sh(self.command(node, ["sysctl", "-qw", *off]))
                inside = [
                    "link set lo up",
                    f"addr add {self.address(node)}/24 dev eth0",
                    "link set eth0 up",
                ]
                _sh(["ip", "-n", self.namespace(node), "-batch", "-"], "\n".join(inside) + "\n")
                self._rules(node)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Kill every process started here and in the run's namespaces, delete the namespaces
        (their veths and the bridge go with them), and let the reaper go."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self._procs.clear()
        present = set(namespaces())
        for ns in self.all_namespaces():
            if ns in present:
                destroy(ns)
        if self._reaper is not None:
            assert self._reaper.stdin is not None
            self._reaper.stdin.close()  # nothing left for it to do: it finds no namespace
            self._reaper.wait(timeout=30)
            self._reaper = None

    def __enter__(self) -> NamespaceNetwork:
        return self.build()

    def __exit__(self, *_: object) -> None:
        self.close()

    # processes

    def command(self, node: str, argv: Sequence[str]) -> list[str]:
        """`argv` run in `node`'s network namespace."""
        return ["nsenter", f"--net=/run/netns/{self.namespace(node)}", "--", *argv]

    def popen(self, node: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start `argv` in `node`'s namespace, in a process group of its own (a terminal's Ctrl-C
        reaches the harness alone, whose stop ends it: a delayer killed by the signal would leave
        its queue rule dropping what the node sends); it is killed by `close()`, and dies with
        the harness."""
        kwargs.setdefault("process_group", 0)
        proc: subprocess.Popen[Any] = subprocess.Popen(
            self.command(node, argv), preexec_fn=die_with_parent, **kwargs
        )
        self._procs.append(proc)
        return proc

    def run_in(
        self, node: str, argv: Sequence[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` in `node`'s namespace to its end (at most `timeout` seconds)."""
        return subprocess.run(
            self.command(node, argv), capture_output=True, text=True, timeout=timeout
        )

    # faults

    def partition(self, groups: Sequence[Iterable[str]]) -> frozenset[tuple[str, str]]:
        """Cut every link between nodes of different groups, both ways (added to the cuts in force);
        a node in no group keeps its links. The links cut, for `uncut`."""
        sides = [tuple(self._check(n) for n in g) for g in groups]
        links = {
            (a, b)
            for i, side in enumerate(sides)
            for j, other in enumerate(sides)
            if i != j
            for a in side
            for b in other
        }
        return self._cut_links(links, "partition", " | ".join(" ".join(s) for s in sides))

    def cut(self, senders: Iterable[str], receivers: Iterable[str]) -> frozenset[tuple[str, str]]:
        """Cut one way: what `senders` send to `receivers` is dropped; the other way still flows."""
        frm = tuple(self._check(n) for n in senders)
        to = tuple(self._check(n) for n in receivers)
        links = {(a, b) for a in frm for b in to if a != b}
        return self._cut_links(links, "cut", f"{' '.join(frm)} -> {' '.join(to)}")

    def _cut_links(
        self, links: set[tuple[str, str]], kind: str, detail: str
    ) -> frozenset[tuple[str, str]]:
        self._cut.update(links)
        for receiver in sorted({b for _, b in links}):
            self._rules(receiver)
        self.log.add(kind, tuple(sorted({n for link in links for n in link})), detail)
        return frozenset(links)

    def uncut(self, links: Iterable[tuple[str, str]]) -> None:
        """Undo one partition or cut (the links it returned); a link another fault in force also
        cuts stays cut."""
        undone = set(links)
        self._cut.subtract(undone)
        self._cut = +self._cut  # the links no fault cuts any more, gone
        for receiver in sorted({b for _, b in undone}):
            self._rules(receiver)
        self.log.add("uncut", tuple(sorted({n for link in undone for n in link})))

    def slow(self, nodes: Iterable[str], delay_ms: float, jitter_ms: float = 0) -> None:
        """Delay what each of `nodes` sends to the others by `delay_ms`, give or take `jitter_ms`:
        with tc netem on its `eth0`, or where the kernel has no netem (CONFIG_NET_SCH_NETEM), with
        an NFQUEUE rule and the user-space delayer (delayer.py) in its namespace."""
        if not 0 <= jitter_ms <= delay_ms:
            raise NetnsError(f"slow needs 0 <= jitter <= delay, not {jitter_ms} and {delay_ms} ms")
        targets = tuple(self._check(n) for n in nodes)
        for node in targets:
            self._unslow(node)
            netem = ["delay", f"{delay_ms:g}ms", f"{jitter_ms:g}ms"]
            tc = ["tc", "-n", self.namespace(node), "qdisc", "replace", "dev", "eth0", "root"]
            done = subprocess.run(
                [*tc, "netem", *netem], capture_output=True, text=True, timeout=30
            )
            if done.returncode == 0:
                self._slow[node] = None
                continue
            if "unknown" not in done.stderr:
                raise NetnsError(f"{' '.join(tc)} netem: {done.stderr.strip()}")
            if shutil.which("iptables") is None:
                raise NetnsError(
                    "this kernel has no netem, and the delayer needs iptables: `make netns`"
                )
            argv = [sys.executable, str(DELAYER), "0", f"{delay_ms:g}", f"{jitter_ms:g}", "0"]
            proc = self.popen(node, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if proc.stdout is None or proc.stdout.readline().strip() != "ready":
                proc.kill()
                _, err = proc.communicate(timeout=10)
                raise NetnsError(f"the delayer in {node} did not start: {err.strip()}")
            self._slow[node] = proc
            _sh(self.command(node, ["iptables", "-w", "-A", *_QUEUE]))
        how = "netem" if all(self._slow[n] is None for n in targets) else "nfqueue"
        self.log.add("slow", targets, f"{delay_ms:g}ms +-{jitter_ms:g}ms ({how})")

    def unslow(self, nodes: Iterable[str]) -> None:
        """Undo the delay of `nodes`."""
        targets = tuple(self._check(n) for n in nodes)
        for node in targets:
            self._unslow(node)
        self.log.add("unslow", targets)

    def _unslow(self, node: str) -> None:
        if node not in self._slow:
            return
        proc = self._slow.pop(node)
        if proc is None:
            _sh(["tc", "-n", self.namespace(node), "qdisc", "del", "dev", "eth0", "root"])
        else:
            # the queue rule out first: with no reader, the queue would drop everything
            _sh(self.command(node, ["iptables", "-w", "-D", *_QUEUE]))
            proc.kill()
            proc.wait(timeout=10)

    def lose(self, nodes: Iterable[str], share: float) -> None:
        """Drop a share (0 to 1) of what each of `nodes` sends to the others, at random: an nftables
        `numgen random` rule on the node's port of the bridge, so the sender is not told (a drop in
        its own output chain would fail its send with EPERM)."""
        if not 0 <= share <= 1:
            raise NetnsError(f"a share of packets lost is between 0 and 1, not {share}")
        targets = tuple(self._check(n) for n in nodes)
        for node in targets:
            self._loss[node] = round(share * _LOSS_SCALE)
            if not self._loss[node]:
                del self._loss[node]
        self._bridge_rules()
        self.log.add("lose", targets, f"{share:.0%}")

    def heal(self) -> None:
        """Undo every partition, cut, delay and loss in force."""
        cut_at = sorted({b for _, b in self._cut})
        touched = sorted({*cut_at, *self._loss})
        self._cut.clear()
        for node in cut_at:
            self._rules(node)
        if self._loss:
            self._loss.clear()
            self._bridge_rules()
        slowed = sorted(self._slow)
        for node in slowed:
            self._unslow(node)
        healed = tuple(sorted({*touched, *slowed}))
        self.log.add("heal", healed)

    def cuts(self) -> frozenset[tuple[str, str]]:
        return frozenset(+self._cut)

    def _rules(self, node: str) -> None:
        """Replace `node`'s table in one nft transaction (the old rules and the new never both
        apply, nor neither): its input drops what comes from the senders cut from it."""
        senders = sorted(a for a, b in +self._cut if b == node)
        cut = (
            f"ip saddr {{ {', '.join(self.address(a) for a in senders)} }} drop" if senders else ""
        )
        _sh(self.command(node, ["nft", "-f", "-"]), _table("inet", "input", [cut]))

    def _bridge_rules(self) -> None:
        """Replace the bridge's table: each lossy node's port drops its share of what it sends."""
        drops = [
            f'iifname "p{self.nodes.index(node)}" numgen random mod {_LOSS_SCALE} < {lost} drop'
            for node, lost in sorted(self._loss.items())
        ]
        _sh(self.command_bridge(["nft", "-f", "-"]), _table("bridge", "forward", drops))

    def command_bridge(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.bridge}", "--", *argv]


def _table(family: str, hook: str, rules: Sequence[str]) -> str:
    """An nft script that replaces the `meshcheck` table of `family` with one chain on `hook`."""
    body = "".join(f"    {rule}\n" for rule in rules if rule)
    return (
        f"table {family} meshcheck\n"
        f"delete table {family} meshcheck\n"
        f"table {family} meshcheck {{\n"
        f"  chain {hook} {{\n"
        f"    type filter hook {hook} priority 0; policy accept;\n"
        f"{body}"
        "  }\n"
        "}\n"
    )


_CLONE_NEWNET = 0x40000000


def enter(namespace: str) -> int:
    """Move the calling thread into the named network namespace; what `leave` takes to move it
    back. Sockets it opens from then on, and threads and processes it starts, are in that
    namespace (the harness of `cluster test --network netns` runs its clients this way:
    meshcheck/cluster/layer.py)."""
    libc = ctypes.CDLL(None, use_errno=True)
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(target, _CLONE_NEWNET) != 0:
            raise NetnsError(f"setns into {namespace}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(target)
    return back


def leave(back: int) -> None:
    """Move the calling thread back where `enter` found it."""
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        if libc.setns(back, _CLONE_NEWNET) != 0:
            raise NetnsError(f"setns back: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(back)
