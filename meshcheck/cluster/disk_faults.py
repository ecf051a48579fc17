"""The nemesis's disk faults carried out on any cluster of processes whose data directories are
a `NodeDisks`' (meshcheck/faults/disks.py): the `power` and `corrupt` callbacks that
strike.carry_out takes, each of which strikes and returns what restarts.

- `power`: kill -9 the fault's nodes, drop every write they did not fsync, and (after the fault
  lasted) start them again;
- `corrupt`: kill the fault's nodes, damage one data file of each (seeded by the run's seed, the
  fault's time and the node), and start them again.

A node that does not come back (it refuses a file it cannot read back, as it must:
impl/runtime/disk.py) is left down and said so; the run goes on without it. So is one that opened
its port and exited within `settle` seconds (etcd opens its ports before it reads its data
directory, and then may refuse it). Given a `LeftDown` (left_down.py), such a node is declared
down there too, and no later fault strikes it or waits for it again. What each fault did
is noted, with the time, through `note` (the report's nemesis.log): how many files had unsynced
writes dropped, which file was truncated or which bits flipped, which node refused to start.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from typing import Protocol

from meshcheck import words
from meshcheck.cluster import nemesis
from meshcheck.cluster import strike
from meshcheck.cluster.left_down import LeftDown
from meshcheck.faults.corrupt import Corruption
from meshcheck.impl.base.errors import MeshcheckError

Note = Callable[[str], None]
SETTLE = 1.0  # seconds a restarted node must stay up to count as back
LOSSES_SHOWN = 12  # paths of what a power failure lost, a node, in nemesis.log


class Disks(Protocol):
    """The nodes' data directories a disk fault acts on: meshcheck/faults/disks.py's `NodeDisks`,
    or meshcheck/systems/remote_disks.py's on hosts over SSH."""

    durability: str

    def losses(self, node: str) -> list[str]: ...

    def power_failure(self, node: str) -> int: ...

    def corrupt(self, node: str, rng: random.Random, globs: Sequence[str]) -> list[Corruption]: ...


class Nodes(strike.Target, Protocol):
    """The processes a disk fault strikes: a `Target` that says which of them run, and the end
    of a node's output (impl/runtime/launcher.py `Processes`)."""

    def running(self) -> list[str]: ...

    def tail(self, name: str, lines: int = 3) -> str: ...


def callbacks(
    target: Nodes,
    disks: Disks,
    seed: int,
    globs: Sequence[str],
    note: Note,
    settle: float = SETTLE,
    down: LeftDown | None = None,
) -> tuple[strike.DiskFault, strike.DiskFault]:
    """The `power` and `corrupt` callbacks for strike.carry_out."""

    def left_down(node: str, why: str) -> None:
        note(f"{node} did not come back, left down: {why}")
        if down is not None:
            down.declare(node, why)

    async def start(node: str) -> bool:
        try:
            await asyncio.to_thread(target.start, node)
        except (MeshcheckError, OSError) as e:
            await asyncio.to_thread(target.kill, node)  # what is left of it: one never ready
            left_down(node, str(e))
            return False
        return True

    async def restart(nodes: Sequence[str], damaged: bool, together: bool = False) -> None:
        # one after another: a process started with a `preexec_fn` (the parent-death signal,
        # launcher.py) is not safe to fork from two threads at once. After a power failure of
        # every node, together, as the run starts a wave of them (run.py) and as an outage ends:
        # a node that waits for its peers before it is ready (a Galera node whose every peer
        # failed rebuilds the cluster only with them, pc.recovery) never is, started alone
        if together:
            came = await asyncio.gather(*(start(node) for node in nodes))
            started = [node for node, ok in zip(nodes, came, strict=True) if ok]
        else:
            started = [node for node in nodes if await start(node)]
        if started:  # a port that accepts a connection is not yet a node that stays up
            await asyncio.sleep(settle)
        running = set(target.running())
        for node in started:
            if node not in running:
                left_down(
                    node, f"it exited within {settle:g} s of opening its port: {target.tail(node)}"
                )
            elif damaged:  # it read its damaged files without a complaint: say so
                note(f"{node} came back on its damaged files")

    def back(
        nodes: Sequence[str], damaged: bool = False, together: bool = False
    ) -> Callable[[], Awaitable[None]]:
        return lambda: restart(nodes, damaged, together)

    async def power(fault: nemesis.Fault) -> Callable[[], Awaitable[None]]:
        nodes = fault.nodes
        for node in nodes:
            await asyncio.to_thread(target.kill, node)
        lost = {n: await asyncio.to_thread(disks.losses, n) for n in nodes}
        dropped = {n: await asyncio.to_thread(disks.power_failure, n) for n in nodes}
        note(
            f"power failure of {','.join(nodes)}: unsynced changes dropped from "
            + ", ".join(f"{n} {words.count(k, 'file')}" for n, k in dropped.items())
            + f" ({disks.durability} durability)"
        )
        for node, lines in lost.items():  # the file-level evidence, from the file system itself
            for line in lines[:LOSSES_SHOWN]:
                note(f"  {node} lost: {line}")
            if len(lines) > LOSSES_SHOWN:
                note(f"  {node} lost: {len(lines) - LOSSES_SHOWN} more")
        return back(nodes, together=fault.scope == "all")

    async def corrupt(fault: nemesis.Fault) -> Callable[[], Awaitable[None]]:
        nodes = fault.nodes
        for node in nodes:
            await asyncio.to_thread(target.kill, node)
        for node in nodes:
            rng = random.Random(f"corrupt:{seed}:{fault.at}:{node}")
            done = await asyncio.to_thread(disks.corrupt, node, rng, globs)
            said = "; ".join(c.describe() for c in done) or "no data file to damage"
            note(f"corrupt {node}: {said}")
        return back(nodes, damaged=True)

    return power, corrupt
