"""The nemesis carried out: each fault of a plan (nemesis.py) struck at its time and undone after
it lasted, on any cluster of processes (impl/runtime/launcher.py `Processes`: the project's
nodes, any system's from its file: meshcheck/systems/) and through whatever network the cluster's
links pass (a link proxy per link, meshcheck/cluster/network.py; a namespace network,
meshcheck/cluster/netns_links.py).

What was done is logged in `struck` as `(when, "kind nodes")` when a fault strikes and
`(when, "kind nodes undone")` when it is undone, the targets resolved (`@leader` named).

Cancelled (the run stopped early: Ctrl-C, SIGTERM, a helper that died; meshcheck/systems/run.py),
every fault in force is let go at once: a pause resumed, a clock set back, a network fault
lifted, each logged `undone`; a node a kill, a power failure, a corruption or a crash took down is
not restarted (the run's teardown stops every node), logged `ended, not restarted`. A step under
way in a thread (a kill, a restart waiting for its port) is finished first (`through`): the
teardown must not stop the cluster while a thread still starts one of its nodes.

Given a `LeftDown` (left_down.py), a node whose restart fails is declared down, not the end of
the run, and no later fault strikes it or waits for it again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from typing import Protocol
from typing import TypeVar

import attrs

from meshcheck.cluster import nemesis
from meshcheck.cluster.fault_account import Kept
from meshcheck.cluster.left_down import LeftDown
from meshcheck.impl.base.errors import MeshcheckError

T = TypeVar("T")

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


async def through(step: Awaitable[T]) -> tuple[T, bool]:
    """`step` awaited to its end even if the task awaiting it is cancelled meanwhile; its result,
    and whether a cancellation came. A step in a thread (`asyncio.to_thread`) runs on when its
    awaiter is cancelled, and the run's teardown would race it: a node started by a restart after
    the cluster was stopped would outlive the run."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while True:
        try:
            return await asyncio.shield(task), cancelled
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True


@attrs.frozen
class Undo:
    """What ends a fault: `action`, after the fault lasted. `restarts`: the action starts nodes
    again (a kill's, a power failure's), which a run that stops early skips; the others (a pause's
    SIGCONT, a clock set back, a network fault lifted) are done however the run ends."""

    action: Callable[[], Awaitable[None]]
    restarts: bool = False


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
    down: LeftDown | None = None,
    kept: list[Kept] | None = None,
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
    to be undone, and for no count: it is the one fault that takes every node down on purpose.
    With `down`, a node whose restart failed is declared down there (its restart's error is not
    raised), and a later fault that takes nodes down leaves it out (the module's docstring).
    `kept` gets each planned fault as it went: when it struck, or why it was skipped
    (fault_account.py counts them)."""
    locks = {n: asyncio.Lock() for n in names}
    most = asyncio.Semaphore(max(1, most_down(plan, names)))
    gate = asyncio.Lock()  # one fault at a time takes its places in `most`: none holds part of them

    async def resolved(fault: nemesis.Fault) -> nemesis.Fault:
        if nemesis.LEADER not in fault.nodes:
            return fault
        up = [n for n in names if down is None or n not in down]
        chosen = await leader() or (up or list(names))[0]
        return attrs.evolve(
            fault, nodes=tuple(chosen if n == nemesis.LEADER else n for n in fault.nodes)
        )

    out: set[str] = set()  # the nodes a fault of DOWN holds down or paused now

    def standing(fault: nemesis.Fault, bounded: bool = True) -> tuple[nemesis.Fault | None, str]:
        """The fault on its nodes not declared down (None: every one is, or, `bounded`, it would
        hold more nodes down than the run may with those declared down: LeftDown.most), and why
        not; what it leaves out is logged as skipped."""
        if down is None:
            return fault, ""
        gone = tuple(n for n in fault.nodes if n in down)
        if gone:
            down.skipped(fault.kind, gone, "declared down")
        left = tuple(n for n in fault.nodes if n not in gone)
        if left and bounded and down.nodes and len(set(down.nodes) | out | set(left)) > down.most:
            down.skipped(fault.kind, left, f"{len(down.nodes)} declared down already")
            return None, f"{len(down.nodes)} declared down already"
        return (attrs.evolve(fault, nodes=left), "") if left else (None, "its nodes declared down")

    async def one(fault: nemesis.Fault) -> None:
        await asyncio.sleep(max(0.0, fault.at - clock()))
        if _every_node(fault, names):
            async with contextlib.AsyncExitStack() as held:
                for n in sorted(names):
                    await held.enter_async_context(locks[n])
                await strike(*standing(fault, bounded=False), planned=fault)  # all at once
        elif fault.kind in DOWN:
            places = len(fault.nodes)
            async with gate:
                for _ in range(places):
                    await most.acquire()
            try:  # the leader named when the fault can strike, not before
                on = await resolved(fault)
                async with contextlib.AsyncExitStack() as held:
                    for n in sorted(set(on.nodes)):
                        await held.enter_async_context(locks[n])
                    # after the locks: a restart of these nodes under way has ended by now
                    await strike(*standing(on), planned=fault)
            finally:
                for _ in range(places):
                    most.release()
        elif fault.kind == "clock":
            on = await resolved(fault)
            async with locks[on.nodes[0]]:
                await strike(on, planned=fault)
        elif fault.kind in nemesis.CLIENTS:  # a client's, not a node's: one fault at a time
            async with locks.setdefault(fault.nodes[0], asyncio.Lock()):
                await strike(fault, planned=fault)
        else:
            await strike(await resolved(fault), planned=fault)

    async def restart(node: str) -> None:
        """A killed node started again; with `down`, declared down if it does not come back
        (its start waits at most the readiness timeout its cluster gives it)."""
        try:
            await asyncio.to_thread(target.start, node)
        except MeshcheckError as e:
            if down is None:
                raise
            await asyncio.to_thread(target.kill, node)  # what is left of it: one never ready
            down.declare(node, str(e))

    async def put(fault: nemesis.Fault) -> Undo | None:
        """The fault put in force; what ends it (None: nothing was done, its callback not given)."""
        node = fault.nodes[0]
        if fault.kind == "kill":
            await asyncio.to_thread(target.kill, node)
            return Undo(lambda: restart(node), restarts=True)
        if fault.kind == "pause":  # each returns once the signal has acted on every thread
            await asyncio.to_thread(target.pause, node)
            return Undo(lambda: asyncio.to_thread(target.resume, node))
        if fault.kind == "crash-client":
            return None if crash_client is None else Undo(await crash_client(node), True)
        if fault.kind == "crash":
            return None if crash is None else Undo(await crash(fault), True)
        if fault.kind in ("power", "corrupt"):
            disk_fault = power if fault.kind == "power" else corrupt
            return None if disk_fault is None else Undo(await disk_fault(fault), True)
        if fault.kind == "clock":
            return None if skew is None else Undo(await skew(fault))
        lift = links(fault)

        async def lifted() -> None:
            lift()

        return Undo(lifted)

    async def strike(fault: nemesis.Fault | None, why: str = "", *, planned: nemesis.Fault) -> None:
        if fault is None:  # every node it would strike is down
            if kept is not None:
                kept.append(Kept(planned, None, why))
            return
        said = f"{fault.kind} {','.join(fault.nodes)}"
        struck.append((clock(), said))
        if kept is not None:
            kept.append(Kept(planned, struck[-1][0]))
        taken = set(fault.nodes) - out if fault.kind in DOWN else set()
        out.update(taken)
        try:
            await held_through(fault, said)
        finally:
            out.difference_update(taken)

    async def held_through(fault: nemesis.Fault, said: str) -> None:
        """The fault in force for its time, then undone (the module's docstring: a stop)."""
        undo, stopped = await through(put(fault))
        if undo is not None and not stopped:
            try:
                await asyncio.sleep(fault.lasts)
            except asyncio.CancelledError:
                stopped = True
        if undo is not None and undo.restarts and stopped:  # the run stops: no restart
            struck.append((clock(), f"{said} ended, not restarted: the run stopped"))
        else:  # a pause resumed, a clock set back, a network fault lifted however the run ends
            if undo is not None:
                _, cut = await through(undo.action())
                stopped = stopped or cut
            struck.append((clock(), f"{said} undone"))
        if stopped:
            raise asyncio.CancelledError

    faults = [asyncio.ensure_future(one(f)) for f in plan]
    try:
        await asyncio.gather(*faults)
    finally:  # cancelled, or one fault failed: every other lets go of what it holds, and is waited
        for task in faults:  # for (a gather ends at its first cancelled task, not its last)
            task.cancel()
        if faults:
            await through(asyncio.gather(*faults, return_exceptions=True))


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
