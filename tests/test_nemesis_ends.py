"""How the nemesis's faults end when the run does not go as planned (meshcheck/cluster/strike.py),
on a cluster of processes that are not there (each call recorded), in a fraction of a second:

- a node whose restart fails is declared down once (meshcheck/cluster/left_down.py), its log's
  last lines kept, and no later fault strikes it or waits for it again;
- a run that stops (its nemesis cancelled) lets go of every fault in force: a pause resumed, a
  clock set back, a network fault lifted, a killed node not restarted; each logged.

The same on real processes: tests/test_systems_stops.py (make test-all)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from collections.abc import Callable

import pytest

from meshcheck.cluster import strike
from meshcheck.cluster.left_down import LeftDown
from meshcheck.cluster.nemesis import LEADER
from meshcheck.cluster.nemesis import Fault
from meshcheck.impl.base.errors import ImplError

NAMES = ["n1", "n2", "n3"]


class Nodes:
    """Processes that are not there: every call recorded; `broken` do not come back."""

    def __init__(self, broken: set[str]) -> None:
        self.broken = broken
        self.calls: list[str] = []

    def kill(self, name: str) -> None:
        self.calls.append(f"kill {name}")

    def start(self, name: str) -> None:
        self.calls.append(f"start {name}")
        if name in self.broken:
            raise ImplError(f"{name} exited with 3: cannot start again")

    def pause(self, name: str) -> None:
        self.calls.append(f"pause {name}")

    def resume(self, name: str) -> None:
        self.calls.append(f"resume {name}")


def _clock() -> Callable[[], float]:
    began = time.monotonic()
    return lambda: time.monotonic() - began


async def _nobody() -> str | None:
    return None


def _uncut(fault: Fault) -> Callable[[], None]:
    return lambda: None


async def _carry_out(
    plan: list[Fault],
    nodes: Nodes,
    clock: Callable[[], float],
    struck: list[tuple[float, str]],
    *,
    links: strike.Links = _uncut,
    skew: strike.Skew | None = None,
    down: LeftDown | None = None,
) -> None:
    """`strike.carry_out` on NAMES' processes, with no leader named (LEADER: the first node not
    down) and, unless given, links nobody cuts."""
    await strike.carry_out(
        plan, nodes, NAMES, clock, struck, leader=_nobody, links=links, skew=skew, down=down
    )


def test_a_node_whose_restart_fails_is_declared_down_once() -> None:
    nodes = Nodes({"n2"})
    clock = _clock()
    down = LeftDown(clock, lambda n, k: [f"{n}: line {i}" for i in range(30)][-k:], most=1)
    struck: list[tuple[float, str]] = []
    plan = [
        Fault(0.0, "kill", ("n2",), 0.05),
        Fault(0.15, "kill", (LEADER,), 0.05),  # no leader named: the first node not down, n1
        Fault(0.3, "pause", ("n2",), 0.05),
        Fault(0.45, "kill", ("n3",), 0.05),
    ]
    asyncio.run(_carry_out(plan, nodes, clock, struck, down=down))
    # n2 started again once, and failed; nothing struck after it: each would hold a second node
    # down with n2 (a minority of three is one), or strike n2 itself
    assert nodes.calls == ["kill n2", "start n2", "kill n2"], nodes.calls
    assert list(down.nodes) == ["n2"]
    gone = down.nodes["n2"]
    assert gone.why == "n2 exited with 3: cannot start again"
    assert gone.last == tuple(f"n2: line {i}" for i in range(10, 30))  # its last LINES lines
    assert [w for _, w in down.log] == [
        "n2 declared down, no later fault waits for it: n2 exited with 3: cannot start again",
        "kill skipped on n1: 1 declared down already",
        "pause skipped on n2: declared down",
        "kill skipped on n3: 1 declared down already",
    ]
    assert [w for _, w in struck] == ["kill n2", "kill n2 undone"]
    report = down.report().splitlines()
    assert report[0].startswith("n2 declared down at t=0.") and report[1:3] == [
        "  its log's last 20 lines:",
        "  | n2: line 10",
    ]


def test_without_a_registry_a_failed_restart_still_ends_the_run() -> None:
    # the project's own clusters (meshcheck/cluster/layer.py) pass none: their nodes must restart
    with pytest.raises(ImplError, match="n2 exited with 3"):
        asyncio.run(_carry_out([Fault(0.0, "kill", ("n2",), 0.01)], Nodes({"n2"}), _clock(), []))


def test_a_stopped_run_lets_go_of_every_fault_in_force() -> None:
    nodes = Nodes(set())
    clock = _clock()
    struck: list[tuple[float, str]] = []
    lifted: list[str] = []
    clocks: list[str] = []

    def links(fault: Fault) -> Callable[[], None]:
        return lambda: lifted.append(",".join(fault.nodes))

    async def skew(fault: Fault) -> Callable[[], Awaitable[None]]:
        clocks.append(f"skew {fault.nodes[0]}")

        async def back() -> None:
            clocks.append(f"back {fault.nodes[0]}")

        return back

    plan = [  # all in force at 0.2 s, for 30 s; a fault due after the stop never strikes
        Fault(0.0, "pause", ("n1",), 30),
        Fault(0.0, "clock", ("n2",), 30, offset=500, rate=2.0),
        Fault(0.0, "partition", ("n3",), 30),
        Fault(0.05, "kill", ("n3",), 30),
        Fault(5.0, "kill", ("n2",), 1),
    ]

    async def stopped() -> tuple[list[str], list[str]]:
        chaos = asyncio.get_running_loop().create_task(
            _carry_out(
                plan,
                nodes,
                clock,
                struck,
                links=links,
                skew=skew,
                down=LeftDown(clock, lambda n, k: [], most=1),
            )
        )
        await asyncio.sleep(0.2)
        chaos.cancel()
        chaos.cancel()  # twice, as a run's teardown does after its stop: still waited for
        await asyncio.gather(chaos, return_exceptions=True)
        assert chaos.cancelled()
        # all of it done when the nemesis's task has ended, not later: the run's teardown follows
        return list(nodes.calls), [w for _, w in struck]

    began = time.monotonic()
    calls, logged = asyncio.run(stopped())
    assert time.monotonic() - began < 5
    assert sorted(calls) == ["kill n3", "pause n1", "resume n1"], calls
    assert clocks == ["skew n2", "back n2"] and lifted == ["n3"]
    ended = sorted(w for w in logged if w.count(" ") > 1)
    assert ended == [
        "clock n2 undone",
        "kill n3 ended, not restarted: the run stopped",
        "partition n3 undone",
        "pause n1 undone",
    ], struck
