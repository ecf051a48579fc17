"""The nemesis's network faults on hosts reached over SSH (remote.py): carried out by each host's
kernel, as Jepsen's `net` protocol does on its nodes, and undone at the end.

- **partition** (both ways or one way) and **isolate**: each receiving host's nftables table of
  the run (`inet meshcheck_RUN`, one chain on the input hook) drops what comes from the addresses
  of the nodes cut from it. The controller's own traffic (SSH, the clients) is never cut.
- **loss**: 30% of what a node sends to the other nodes dropped, by a `numgen random mod` rule in
  each other host's table on its address (the clients' traffic is not thinned: a host's table
  cannot tell which of its node's packets to the controller are the clients').
- **latency**: 100 +- 50 ms on everything the node's host sends on its interface toward the
  others: tc netem on that interface's root where the host's kernel has netem; where it has not
  (`tc` says the qdisc kind is unknown), an NFQUEUE rule on that interface and the user-space
  delayer run on the host (remote_delayer.py), as the namespace network does on this machine.

Each table is replaced in one nft transaction, as netns.py does. Before a host's first change,
its undo (`nft delete table ...`, `tc qdisc del ...`, the delayer's rule removed) is written into the run's folder there, so
that the host's reaper undoes it however the run ends; `heal` undoes everything in force, and
`close` removes the tables."""

from __future__ import annotations

import shlex
import zlib
from collections import Counter
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence

from meshcheck.cluster import nemesis
from meshcheck.cluster.fault_log import FaultLog
from meshcheck.cluster.netns_links import LATENCY
from meshcheck.cluster.netns_links import LOSS
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.remote import Remote
from meshcheck.systems.remote_delayer import HostDelayer
from meshcheck.systems.remote_delayer import install

_LOSS_SCALE = 10_000  # as netns.py's: a share's resolution, 0.01%
KINDS = ("partition", "isolate", "loss", "latency")
_QUEUES = 60_000  # the delayer's NFQUEUE numbers drawn from (a queue number is 16 bits)


class RemoteLinks:
    """The links between `names`, node n on `remotes[n]` at IPv4 address `addresses[n]`; `table`:
    the run's nftables table's name on every host."""

    def __init__(
        self,
        remotes: Mapping[str, Remote],
        names: Sequence[str],
        addresses: Mapping[str, str],
        table: str,
    ) -> None:
        self.remotes = dict(remotes)
        self.names = list(names)
        self.addresses = dict(addresses)
        self.table = table
        self.log = FaultLog()
        self._cut: Counter[tuple[str, str]] = Counter()  # (sender, receiver) -> faults cutting it
        self._lossy: Counter[str] = Counter()  # sender -> loss faults in force on it
        self._slowed: dict[str, str] = {}  # node -> the interface its host delays
        self._no_netem: set[str] = set()  # nodes whose host delays with the delayer
        self._delayers: dict[str, HostDelayer] = {}  # node -> its delayer in force
        self._slow_count: Counter[str] = Counter()
        self._tabled: set[str] = set()  # hosts whose undo of the table is written

    # before the run

    def check(self, kinds: Sequence[str]) -> None:
        """Every host can carry out the network faults of `kinds`: nft for the cuts and the
        loss, netem or else iptables and python (the delayer, copied there) for latency; one
        line naming the host otherwise."""
        for node in self.names:
            remote = self.remotes[node]
            if set(kinds) & {"partition", "isolate", "loss"} and not remote.has("nft"):
                raise MeshcheckError(
                    f"--nemesis {_first(kinds, ('partition', 'isolate', 'loss'))}: host "
                    f"{remote.host.name} has no nft (Debian's nftables)"
                )
            if "latency" in kinds:
                self._netem(node)

    def _netem(self, node: str) -> None:
        remote = self.remotes[node]
        if not remote.has("tc"):
            raise MeshcheckError(
                f"--nemesis latency: host {remote.host.name} has no tc (Debian's iproute2)"
            )
        said = remote.run(
            "tc qdisc add dev lo root netem delay 0ms 2>&1 && tc qdisc del dev lo root; true"
        )
        if "unknown" in said.lower():
            install(remote)
            self._no_netem.add(node)

    # faults

    def strike(self, fault: nemesis.Fault) -> Callable[[], None]:
        """Put `fault` in force; what undoes it (faults may overlap: each undoes only its own)."""
        side = list(fault.nodes)
        rest = [n for n in self.names if n not in side]
        if fault.kind in ("partition", "isolate"):
            if fault.one_way:
                links = {(a, b) for a in side for b in rest}
            else:
                links = {(a, b) for a in side for b in rest} | {(b, a) for a in side for b in rest}
            self._cut.update(links)
            self._apply(sorted({b for _, b in links}))
            detail = (
                f"{' '.join(side)} -> {' '.join(rest)}" if fault.one_way
                else f"{' '.join(side)} | {' '.join(rest)}"
            )  # fmt: skip
            self.log.add(
                "cut" if fault.one_way else "partition", tuple(sorted(side + rest)), detail
            )

            def uncut() -> None:
                self._cut.subtract(links)
                self._cut = +self._cut
                self._apply(sorted({b for _, b in links}))
                self.log.add("uncut", tuple(sorted(side + rest)))

            return uncut
        if fault.kind == "loss":
            self._lossy.update(side)
            self._apply(self.names)
            self.log.add("lose", tuple(side), f"{LOSS:.0%}")

            def found() -> None:
                self._lossy.subtract(side)
                self._lossy = +self._lossy
                self._apply(self.names)
                self.log.add("lose", tuple(side), "0%")

            return found
        if fault.kind == "latency":
            for node in side:
                self._slow_count[node] += 1
                if self._slow_count[node] == 1:
                    self._slow(node)
            how = "nfqueue" if set(side) & self._no_netem else "netem"
            self.log.add("slow", tuple(side), f"{LATENCY[0]}ms +-{LATENCY[1]}ms ({how})")

            def unslow() -> None:
                for node in side:
                    self._slow_count[node] -= 1
                    if self._slow_count[node] == 0:
                        del self._slow_count[node]
                        self._unslow(node)
                self.log.add("unslow", tuple(side))

            return unslow
        raise MeshcheckError(f"--nemesis {fault.kind}: not on hosts over SSH")

    def heal(self) -> None:
        """Undo every cut, loss and delay in force."""
        touched = sorted({b for _, b in self._cut} | set(self._lossy))
        self._cut.clear()
        self._lossy.clear()
        if touched:
            self._apply(self.names)
        for node in list(self._slowed):
            self._unslow(node)
        self._slow_count.clear()
        self.log.add("heal", tuple(sorted(set(touched))))

    def close(self) -> None:
        """Each host's table removed, and any delayer in force stopped (its reaper would do both
        too)."""
        for node in list(self._delayers):
            self._unslow(node)
        for node in sorted(self._tabled):
            self.remotes[node].run(f"nft delete table inet {self.table} 2>/dev/null; true")
        self._tabled.clear()

    # on the hosts

    def rules(self, node: str) -> list[str]:
        """The rules of `node`'s host's input chain: drop the senders cut from it, thin the lossy."""
        cut = sorted(a for a, b in +self._cut if b == node)
        rules = []
        if cut:
            rules.append(f"ip saddr {{ {', '.join(self.addresses[a] for a in cut)} }} drop")
        for sender in sorted(s for s in +self._lossy if s != node):
            lost = round(LOSS * _LOSS_SCALE)
            rules.append(
                f"ip saddr {self.addresses[sender]} numgen random mod {_LOSS_SCALE} < {lost} drop"
            )
        return rules

    def _apply(self, nodes: Sequence[str]) -> None:
        for node in nodes:
            remote = self.remotes[node]
            if node not in self._tabled:
                undo = f"nft delete table inet {self.table} 2>/dev/null\n"
                remote.put(f"{remote.folder}/undo/nft", undo.encode())
                self._tabled.add(node)
            remote.run("nft -f -", stdin=_table(self.table, self.rules(node)).encode())

    def _slow(self, node: str) -> None:
        remote = self.remotes[node]
        peer = next(self.addresses[n] for n in self.names if n != node)
        device = remote.run(
            f"ip route get {shlex.quote(peer)} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p' | head -n 1"
        ).strip()
        if not device:
            raise MeshcheckError(f"host {remote.host.name}: no route to {peer} to slow")
        if node in self._no_netem:
            # a queue of the run's own, so that runs side by side on a host never share one
            queue = zlib.crc32(self.table.encode()) % _QUEUES + self.names.index(node)
            delayer = HostDelayer(remote, node, device, queue)
            delayer.start(LATENCY[0], LATENCY[1], seed=self.names.index(node))
            self._delayers[node] = delayer
            self._slowed[node] = device
            return
        d = shlex.quote(device)
        remote.put(f"{remote.folder}/undo/tc-{device}", f"tc qdisc del dev {d} root\n".encode())
        remote.run(f"tc qdisc replace dev {d} root netem delay {LATENCY[0]}ms {LATENCY[1]}ms")
        self._slowed[node] = device

    def _unslow(self, node: str) -> None:
        device = self._slowed.pop(node, None)
        if device is None:
            return
        delayer = self._delayers.pop(node, None)
        if delayer is not None:
            delayer.stop()
            return
        remote = self.remotes[node]
        d = shlex.quote(device)
        remote.run(f"tc qdisc del dev {d} root; rm -f {shlex.quote(remote.folder)}/undo/tc-{d}")


def _table(name: str, rules: Sequence[str]) -> str:
    """An nft script that replaces table `name` with one input chain of `rules`."""
    body = "".join(f"    {rule}\n" for rule in rules)
    return (
        f"table inet {name}\n"
        f"delete table inet {name}\n"
        f"table inet {name} {{\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy accept;\n"
        f"{body}"
        "  }\n"
        "}\n"
    )


def _first(kinds: Sequence[str], among: Sequence[str]) -> str:
    return next(k for k in kinds if k in among)
