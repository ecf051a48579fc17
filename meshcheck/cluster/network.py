"""The links of a real cluster, each through its proxy (impl/runtime/proxy.py), and the nemesis's
network faults on them. Faults may overlap (two partitions at once); each link keeps the faults in
force on it and takes their union: cut if any cuts it, the largest latency, loss, reordering and
duplication. A base (`--delay`: a slow network for the whole run) is in force beneath them all."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence

from meshcheck.cluster.nemesis import Fault
from meshcheck.impl.runtime.config import Address
from meshcheck.impl.runtime.launcher import LOOPBACK
from meshcheck.impl.runtime.launcher import free_ports
from meshcheck.impl.runtime.proxy import LinkFaults
from meshcheck.impl.runtime.proxy import LinkProxy

Link = tuple[str, str]  # (sender, receiver)


class Network:
    """One proxy per directed link between `nodes`."""

    def __init__(
        self,
        nodes: Sequence[str],
        addresses: dict[str, Address],
        seed: int,
        *,
        tls: bool = False,
        base: LinkFaults | None = None,
    ) -> None:
        links = [(a, b) for a in nodes for b in nodes if a != b]
        ports = free_ports(len(links))
        self.proxies = {
            link: LinkProxy(f"{link[0]}->{link[1]}", addresses[link[1]], seed, sealed=tls)
            for link in links
        }
        self.listen = {link: (LOOPBACK, port) for link, port in zip(links, ports, strict=True)}
        self._active: dict[Link, list[LinkFaults]] = {link: [] for link in links}
        # what every link does for the whole run, under the faults and after them (a slow
        # network: `--delay`), never healed
        self._base = base

    async def start(self) -> None:
        for link, proxy in self.proxies.items():
            await proxy.start(*self.listen[link])
            self._apply(link)

    def routes(self) -> dict[str, dict[str, Address]]:
        """Where each node sends to each peer: the link's proxy."""
        out: dict[str, dict[str, Address]] = {}
        for (a, b), address in self.listen.items():
            out.setdefault(a, {})[b] = address
        return out

    async def stop(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()

    def add(self, links: Iterable[Link], faults: LinkFaults) -> None:
        for link in links:
            self._active[link].append(faults)
            self._apply(link)

    def remove(self, links: Iterable[Link], faults: LinkFaults) -> None:
        for link in links:
            if faults in self._active[link]:
                self._active[link].remove(faults)
            self._apply(link)

    def heal(self) -> None:
        for link in self._active:
            self._active[link].clear()
            self._apply(link)

    def _apply(self, link: Link) -> None:
        active = self._active[link] + ([self._base] if self._base is not None else [])
        self.proxies[link].set(
            LinkFaults(
                cut=any(f.cut for f in active),
                loss=max((f.loss for f in active), default=0.0),
                latency=max((f.latency for f in active), default=(0, 0)),
                reorder=max((f.reorder for f in active), default=0.0),
                duplicate=max((f.duplicate for f in active), default=0.0),
            )
        )

    def close(self) -> None:
        """`stop` from outside a coroutine (a run's teardown, however it ends)."""
        for proxy in self.proxies.values():
            proxy.close()

    def strike(self, fault: Fault) -> Callable[[], None]:
        """Put the link fault `fault` in force on the links it touches; what undoes it (faults may
        overlap: each undoes only its own). A partition cuts the links between its side and the
        rest (one way: its side's sends only); latency, reordering, duplication and loss act on
        every link to or from its nodes."""
        names = sorted({n for link in self.proxies for n in link})
        if fault.kind == "partition":
            chosen, faults = between(fault.nodes, names, fault.one_way), LinkFaults(cut=True)
        elif fault.kind == "latency":
            chosen, faults = touching(fault.nodes, names), LinkFaults(latency=(50, 150))
        elif fault.kind == "reorder":
            chosen, faults = touching(fault.nodes, names), LinkFaults(reorder=0.3)
        elif fault.kind == "duplicate":
            chosen, faults = touching(fault.nodes, names), LinkFaults(duplicate=0.2)
        else:
            chosen, faults = touching(fault.nodes, names), LinkFaults(loss=0.3)
        self.add(chosen, faults)
        return lambda: self.remove(chosen, faults)

    def frames(self) -> tuple[int, int]:
        """(frames seen, frames dropped) over every link."""
        return (
            sum(p.frames for p in self.proxies.values()),
            sum(p.dropped for p in self.proxies.values()),
        )


def between(side: Sequence[str], nodes: Sequence[str], one_way: bool) -> list[Link]:
    """The links a partition of `side` from the rest cuts: both ways, or only `side`'s sends."""
    rest = [n for n in nodes if n not in side]
    out = [(a, b) for a in side for b in rest]
    if not one_way:
        out += [(b, a) for a in side for b in rest]
    return out


def touching(side: Sequence[str], nodes: Sequence[str]) -> list[Link]:
    """Every link to or from a node of `side`."""
    return [(a, b) for a in nodes for b in nodes if a != b and (a in side or b in side)]
