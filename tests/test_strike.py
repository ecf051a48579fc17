"""The nemesis carried out (meshcheck/cluster/strike.py): the plan's bound on nodes down at once
holds as the faults are carried out, not only in the plan's own time."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from meshcheck.cluster import strike
from meshcheck.cluster.nemesis import LEADER, Fault


class SlowStarts:
    """Processes whose restart takes `start_takes` seconds (a loaded machine's Python start);
    counts how many are down at once."""

    def __init__(self, start_takes: float) -> None:
        self.start_takes = start_takes
        self.down: set[str] = set()
        self.most = 0
        self.killed: list[str] = []
        self._lock = threading.Lock()

    def _take(self, name: str) -> None:
        with self._lock:
            self.down.add(name)
            self.most = max(self.most, len(self.down))

    def kill(self, name: str) -> None:
        self.killed.append(name)
        self._take(name)

    def start(self, name: str) -> None:
        time.sleep(self.start_takes)
        with self._lock:
            self.down.discard(name)

    def pause(self, name: str) -> None:
        self._take(name)

    def resume(self, name: str) -> None:
        with self._lock:
            self.down.discard(name)


def _carry_out(plan: list[Fault], target: SlowStarts, leader: Callable[[], str]) -> list[str]:
    struck: list[tuple[float, str]] = []
    began = time.monotonic()

    async def named() -> str:
        return leader()

    asyncio.run(
        strike.carry_out(
            plan,
            target,
            ("n1", "n2", "n3"),
            lambda: time.monotonic() - began,
            struck,
            leader=named,
            links=lambda fault: lambda: None,
        )
    )
    return [what for _at, what in sorted(struck)]


def test_a_slow_restart_holds_back_the_next_kill_so_a_majority_stays_up() -> None:
    # the plan never has two nodes down at once (n1 is back at 0.05 s, n2 struck at 0.1 s), but
    # n1's restart takes 0.4 s: n2's kill waits for it, then strikes the leader of that moment
    plan = [Fault(0.0, "kill", ("n1",), 0.05), Fault(0.1, "kill", (LEADER,), 0.05)]
    target = SlowStarts(start_takes=0.4)
    done = _carry_out(plan, target, lambda: "n1" if "n1" in target.down else "n2")
    assert target.most == 1, "two nodes were down at once"
    assert target.killed == ["n1", "n2"]  # the leader named when the kill struck, n1 being back
    assert done == ["kill n1", "kill n1 undone", "kill n2", "kill n2 undone"]


def test_a_plan_with_two_down_at_once_keeps_both() -> None:
    # five nodes, two down together in the plan: the bound is the plan's, not one
    plan = [Fault(0.0, "pause", ("n1",), 0.3), Fault(0.05, "kill", ("n2",), 0.05)]
    target = SlowStarts(start_takes=0.0)
    _carry_out(plan, target, lambda: "n3")
    assert target.most == 2


def test_most_down_counts_kills_and_pauses_in_force_at_once() -> None:
    assert strike.most_down([]) == 0
    back_to_back = [Fault(0.0, "kill", ("n1",), 1.0), Fault(1.0, "pause", ("n2",), 1.0)]
    assert strike.most_down(back_to_back) == 1
    overlapping = [*back_to_back, Fault(0.5, "kill", ("n3",), 1.0)]
    assert strike.most_down(overlapping) == 2
    cuts = [Fault(0.0, "partition", ("n1",), 5.0), Fault(0.1, "kill", ("n2",), 1.0)]
    assert strike.most_down(cuts) == 1  # a cut node is up: a partition is not counted
