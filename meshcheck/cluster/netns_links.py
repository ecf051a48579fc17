"""`meshcheck cluster test --network netns`: the nodes' links through a namespace network (netns.py)
in place of a proxy per link (network.py). Each node runs in its own namespace and listens on its
own address; the harness (its clients, its inspection) runs in one more namespace of the network,
"harness", entered by the harness's thread (netns.py `enter`). The nemesis's network faults become
the network's: a partition (both ways or one way) nftables rules, a latency a delay of 100 +- 50 ms
on the node's sends (the proxies' 50 to 150 ms on every link touching it), a loss 30% of the node's
sends. Reordering and duplicating whole frames are a proxy's, not a network's: refused."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence

from meshcheck.cluster import nemesis
from meshcheck.cluster.netns import NamespaceNetwork
from meshcheck.cluster.netns import NetnsError
from meshcheck.impl.runtime.config import Address

HARNESS = "harness"
PORT = 7000  # every node's, each on its own address
LATENCY = (100, 50)  # delay, jitter in milliseconds: 50 to 150 ms, the proxies' latency fault
LOSS = 0.3  # the proxies' loss fault
UNSUPPORTED = nemesis.FRAMED  # reorder, duplicate: on whole frames, a proxy's


class NamespaceLinks:
    """The links of a cluster test's nodes through `net`, with the calls of the proxies' Network
    the cluster layer makes (start, stop, heal, frames, routes)."""

    def __init__(self, net: NamespaceNetwork, names: Sequence[str]) -> None:
        self.net = net
        self.names = list(names)
        self.addresses: dict[str, Address] = {n: (net.address(n), PORT) for n in names}
        self._slowed: dict[str, int] = {}  # node -> latency faults in force on it
        self._lossy: dict[str, int] = {}  # node -> loss faults in force on it

    def routes(self) -> dict[str, dict[str, Address]]:
        """Each node sends to each peer's own address: no proxy in between."""
        return {n: {p: self.addresses[p] for p in self.names if p != n} for n in self.names}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def heal(self) -> None:
        self.net.heal()
        self._slowed.clear()
        self._lossy.clear()

    def frames(self) -> tuple[int, int]:
        return (0, 0)  # a network namespace does not count frames

    def strike(self, fault: nemesis.Fault) -> Callable[[], None]:
        """Put `fault` in force; what undoes it (faults may overlap: each undoes only its own)."""
        side = list(fault.nodes)
        rest = [n for n in self.names if n not in side]
        if fault.kind == "partition":
            links = self.net.cut(side, rest) if fault.one_way else self.net.partition([side, rest])
            return lambda: self.net.uncut(links)
        if fault.kind == "latency":
            return self._stack(side, self._slowed, lambda n: self.net.slow([n], *LATENCY),
                               lambda n: self.net.unslow([n]))  # fmt: skip
        if fault.kind == "loss":
            return self._stack(side, self._lossy, lambda n: self.net.lose([n], LOSS),
                               lambda n: self.net.lose([n], 0))  # fmt: skip
        raise NetnsError(f"--network netns cannot {fault.kind}: a proxy's fault (--network proxy)")

    @staticmethod
    def _stack(
        nodes: Sequence[str],
        held: dict[str, int],
        on: Callable[[str], None],
        off: Callable[[str], None],
    ) -> Callable[[], None]:
        """`on` for each node not yet under a fault of this kind; undone when its last one is."""
        for node in nodes:
            held[node] = held.get(node, 0) + 1
            if held[node] == 1:
                on(node)

        def undo() -> None:
            for node in nodes:
                held[node] -= 1
                if held[node] == 0:
                    del held[node]
                    off(node)

        return undo
