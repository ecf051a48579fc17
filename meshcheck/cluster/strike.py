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
import contextlib
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
# a disk fault (`power`, `corrupt`) on the fault's nodes: strike (kill them, drop their unsynced
# writes or damage their files); what restarts them (meshcheck/cluster/disk_faults.py)
DiskFault = Callable[[nemesis.Fault], Awaitable[Callable[[], Awaitable[None]]]]


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
    power: DiskFault | None = None,
    corrupt: DiskFault | None = None,
) -> None:
    """Every fault of `plan`, each at its time. A fault on a node's process waits for the one
    before it on that node to be undone: a restart on a loaded machine can take over a second,
    and a kill that struck a process still starting would end the run (the plan keeps the faults
    apart in time, not in effect). For the same reason a kill or a pause waits while as many nodes
    are down or paused as the plan ever holds at once (`most_down`): the plan keeps a majority (a
    BFT protocol: all but f) up in its own time, and a restart that took seconds under load once
    had all three nodes of a cluster down together (two kills struck before the first restart was
    done). A fault that waited strikes late; `struck` says when. A fault on several nodes (a power
    failure of a minority, a corruption) takes one place in that count per node, and the locks of
    all its nodes; a power failure of every node waits for every other fault on a node's process
    to be undone, and for no count: it is the one fault that takes every node down on purpose."""
    locks = {n: asyncio.Lock() for n in names}
    down = asyncio.Semaphore(max(1, most_down(plan, names)))
    gate = asyncio.Lock()  # one fault at a time takes its places in `down`: none holds part of them

    async def resolved(fault: nemesis.Fault) -> nemesis.Fault:
        if nemesis.LEADER not in fault.nodes:
            return fault
        chosen = await leader() or names[0]
        return attrs.evolve(
            fault, nodes=tuple(chosen if n == nemesis.LEADER else n for n in fault.nodes)
        )

    async def one(fault: nemesis.Fault) -> None:
        await asyncio.sleep(max(0.0, fault.at - clock()))
        if _every_node(fault, names):
            async with contextlib.AsyncExitStack() as held:
                for n in sorted(names):
                    await held.enter_async_context(locks[n])
                await strike(fault)
        elif fault.kind in DOWN:
            places = len(fault.nodes)
            async with gate:
                for _ in range(places):
                    await down.acquire()
            try:  # the leader named when the fault can strike, not before
                fault = await resolved(fault)
                async with contextlib.AsyncExitStack() as held:
                    for n in sorted(set(fault.nodes)):
                        await held.enter_async_context(locks[n])
                    await strike(fault)
            finally:
                for _ in range(places):
                    down.release()
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
        elif fault.kind == "pause":  # each returns once the signal has acted on every thread
            await asyncio.to_thread(target.pause, node)
            await asyncio.sleep(fault.lasts)
            await asyncio.to_thread(target.resume, node)
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
        elif fault.kind in ("power", "corrupt"):
            disk_fault = power if fault.kind == "power" else corrupt
            if disk_fault is not None:
                restart = await disk_fault(fault)
                await asyncio.sleep(fault.lasts)
                await restart()
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


# the faults that take a node (its process, or its core) out
DOWN = ("kill", "pause", "crash", "power", "corrupt")


def _every_node(fault: nemesis.Fault, names: Sequence[str]) -> bool:
    """A power failure of every node (nemesis.py: the one fault beyond the minority rule)."""
    return fault.kind == "power" and set(fault.nodes) >= set(names)


def most_down(plan: Sequence[nemesis.Fault], names: Sequence[str] = ()) -> int:
    """The most nodes that kills, pauses, crashes, minority power failures and corruptions of
    `plan` hold down at once, in the plan's own time (a power failure of every node aside)."""
    edges = sorted(
        (t, delta)
        for f in plan
        if f.kind in DOWN and not (names and _every_node(f, names))
        for t, delta in ((f.at, len(f.nodes)), (f.at + f.lasts, -len(f.nodes)))
    )
    most = held = 0
    for _t, delta in edges:  # at a tie the end comes first (-1 < 1): back-to-back is not at once
        held += delta
        most = max(most, held)
    return most
