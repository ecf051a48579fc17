"""The nemesis carried out: each fault of a plan (nemesis.py) struck at its time and undone after
it lasted, on any cluster of processes (impl/runtime/launcher.py `Processes`: the project's
nodes, any system's from its file: meshcheck/systems/) and through whatever network the cluster's
links pass (a link proxy per link, meshcheck/cluster/network.py; a namespace network,
meshcheck/cluster/netns_links.py).

What was done is logged in `struck` as `(when, "kind nodes")` when a fault strikes and
`(when, "kind nodes undone")` when it is undone, the targets resolved (`@leader` named).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import attrs

from meshcheck.cluster import nemesis

Clock = Callable[[], float]
# a network fault (partition, latency, loss) put in force; what undoes it
Links = Callable[[nemesis.Fault], Callable[[], None]]
# a clock fault: skew the node's clock; what undoes it
Skew = Callable[[nemesis.Fault], Awaitable[Callable[[], Awaitable[None]]]]
# a client's crash (`crash-client`): kill the client named; what restarts it from its state file
ClientCrash = Callable[[str], Awaitable[Callable[[], Awaitable[None]]]]
# a crash of the node's core inside its process (impl/runtime/host.py); what rebuilds it
Crash = Callable[[nemesis.Fault], Awaitable[Callable[[], Awaitable[None]]]]


class Target(Protocol):
    """The processes a nemesis strikes (impl/runtime/launcher.py `Processes` and its kinds)."""

    def kill(self, name: str) -> None: ...

    def start(self, name: str) -> None: ...

    def pause(self, name: str) -> None: ...

    def resume(self, name: str) -> None: ...


async def carry_out(
    plan: Sequence[nemesis.Fault],
    target: Target,
    names: Sequence[str],
    clock: Clock,
    struck: list[tuple[float, str]],
    *,
    leader: Callable[[], Awaitable[str | None]],
    links: Links,
    skew: Skew | None = None,
    crash: Crash | None = None,
    crash_client: ClientCrash | None = None,
) -> None:
    """Every fault of `plan`, each at its time. A fault on a node's process waits for the one
    before it on that node to be undone: a restart on a loaded machine can take over a second,
    and a kill that struck a process still starting would end the run (the plan keeps the faults
    apart in time, not in effect). For the same reason a kill or a pause waits while as many nodes
    are down or paused as the plan ever holds at once (`most_down`): the plan keeps a majority (a
    BFT protocol: all but f) up in its own time, and a restart that took seconds under load once
    had all three nodes of a cluster down together (two kills struck before the first restart was
    done). A fault that waited strikes late; `struck` says when."""
    locks = {n: asyncio.Lock() for n in names}
    down = asyncio.Semaphore(max(1, most_down(plan)))

    async def resolved(fault: nemesis.Fault) -> nemesis.Fault:
        if nemesis.LEADER not in fault.nodes:
            return fault
        chosen = await leader() or names[0]
        return attrs.evolve(
            fault, nodes=tuple(chosen if n == nemesis.LEADER else n for n in fault.nodes)
        )

    async def one(fault: nemesis.Fault) -> None:
        await asyncio.sleep(max(0.0, fault.at - clock()))
        if fault.kind in DOWN:
            async with down:  # the leader named when the fault can strike, not before
                fault = await resolved(fault)
                async with locks[fault.nodes[0]]:
                    await strike(fault)
        elif fault.kind == "clock":
            fault = await resolved(fault)
            async with locks[fault.nodes[0]]:
                await strike(fault)
        elif fault.kind in nemesis.CLIENTS:  # a client's, not a node's: one fault at a time
            async with locks.setdefault(fault.nodes[0], asyncio.Lock()):
                await strike(fault)
        else:
            await strike(await resolved(fault))

    async def strike(fault: nemesis.Fault) -> None:
        node = fault.nodes[0]
        struck.append((clock(), f"{fault.kind} {','.join(fault.nodes)}"))
        if fault.kind == "kill":
            await asyncio.to_thread(target.kill, node)
            await asyncio.sleep(fault.lasts)
            await asyncio.to_thread(target.start, node)
        elif fault.kind == "pause":
            target.pause(node)
            await asyncio.sleep(fault.lasts)
            target.resume(node)
        elif fault.kind == "crash-client":
            if crash_client is not None:
                restart = await crash_client(node)
                await asyncio.sleep(fault.lasts)
                await restart()
        elif fault.kind == "crash":
            if crash is not None:
                rebuild = await crash(fault)
                await asyncio.sleep(fault.lasts)
                await rebuild()
        elif fault.kind == "clock":
            if skew is not None:
                undo_skew = await skew(fault)
                await asyncio.sleep(fault.lasts)
                await undo_skew()
        else:
            undo = links(fault)
            await asyncio.sleep(fault.lasts)
            undo()
        struck.append((clock(), f"{fault.kind} {','.join(fault.nodes)} undone"))

    await asyncio.gather(*(one(f) for f in plan))


DOWN = ("kill", "pause", "crash")  # the faults that take a node (its process, or its core) out


def most_down(plan: Sequence[nemesis.Fault]) -> int:
    """The most kills and pauses of `plan` in force at once, in the plan's own time."""
    edges = sorted(
        (t, delta) for f in plan if f.kind in DOWN for t, delta in ((f.at, 1), (f.at + f.lasts, -1))
    )
    most = held = 0
    for _t, delta in edges:  # at a tie the end comes first (-1 < 1): back-to-back is not at once
        held += delta
        most = max(most, held)
    return most
