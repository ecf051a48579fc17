"""The nemesis carried out (meshcheck/cluster/strike.py): the plan's bound on nodes down at once
holds as the faults are carried out, not only in the plan's own time; each fault is undone as it
was done (a pause by a resume); and the plan (nemesis.py) keeps a majority up whatever the count
of nodes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import attrs
import pytest

from meshcheck.cluster import fault_account
from meshcheck.cluster import nemesis
from meshcheck.cluster import strike
from meshcheck.cluster.left_down import LeftDown
from meshcheck.cluster.nemesis import LEADER
from meshcheck.cluster.nemesis import Fault


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


class Calls(SlowStarts):
    """Processes that record every call made on them, in order."""

    def __init__(self) -> None:
        super().__init__(start_takes=0.0)
        self.calls: list[str] = []

    def kill(self, name: str) -> None:
        self.calls.append(f"kill {name}")

    def start(self, name: str) -> None:
        self.calls.append(f"start {name}")

    def pause(self, name: str) -> None:
        self.calls.append(f"pause {name}")

    def resume(self, name: str) -> None:
        self.calls.append(f"resume {name}")


def test_each_fault_on_a_process_is_undone_as_it_was_done() -> None:
    """A pause ends with SIGCONT (a resume), never with a start beside the stopped process; a kill
    ends with a start."""
    plan = [Fault(0.0, "pause", ("n1",), 0.05), Fault(0.1, "kill", ("n2",), 0.05)]
    target = Calls()
    done = _carry_out(plan, target, lambda: "n3")
    assert target.calls == ["pause n1", "resume n1", "kill n2", "start n2"]
    assert done == ["pause n1", "pause n1 undone", "kill n2", "kill n2 undone"]


def test_the_plan_keeps_a_majority_up_with_an_even_count_of_nodes() -> None:
    """With four or six nodes a minority is one or two: kills and pauses never hold down half
    the cluster at once, and a partition's side or a slow side named in the plan is a minority."""
    for count in (4, 6):
        names = [f"n{k}" for k in range(1, count + 1)]
        minority = (count - 1) // 2
        most = 0
        for seed in range(40):
            plan = nemesis.plan(seed, 60, ("kill", "pause", "partition", "loss"), names)
            down = [f for f in plan if f.kind in ("kill", "pause")]
            for f in down:
                at_once = [g for g in down if g.at <= f.at < g.at + g.lasts]
                most = max(most, len(at_once))
            for f in plan:
                if f.kind in ("partition", "loss") and nemesis.LEADER not in f.nodes:
                    assert 1 <= len(f.nodes) <= minority, (count, seed, f)
        assert most == minority, (count, most)


# -- how the plan went: struck when, late by how much, skipped why (fault_account.py) -------------


def test_each_planned_fault_is_kept_with_when_it_struck_and_its_slip() -> None:
    """n2's kill, planned at 0.1 s, waits for n1's restart (0.4 s): it is kept as struck about
    0.3 s after its time, and n1's on time; a fault skipped is kept with its reason."""
    plan = [Fault(0.0, "kill", ("n1",), 0.05), Fault(0.1, "kill", ("n2",), 0.05)]
    kept: list[fault_account.Kept] = []
    began = time.monotonic()

    async def named() -> str:
        return "n1"

    asyncio.run(
        strike.carry_out(plan, SlowStarts(0.4), ("n1", "n2", "n3"),
                         lambda: time.monotonic() - began, [], leader=named,
                         links=lambda fault: lambda: None, kept=kept)
    )  # fmt: skip
    by = {k.fault.nodes: k for k in sorted(kept, key=lambda k: k.fault.at)}
    assert by[("n1",)].slip < 0.1 and by[("n1",)].why == ""
    assert 0.3 <= by[("n2",)].slip < 1.0, by
    # n1 declared down: a kill of it is skipped, kept with why, and never struck
    down = LeftDown(lambda: time.monotonic() - began, lambda _n, _k: [], 1)
    down.declare("n1", "never came back")
    kept.clear()
    struck: list[tuple[float, str]] = []
    asyncio.run(
        strike.carry_out([Fault(0.0, "kill", ("n1",), 0.05)], SlowStarts(0.0), ("n1", "n2", "n3"),
                         lambda: time.monotonic() - began, struck, leader=named,
                         links=lambda fault: lambda: None, down=down, kept=kept)
    )  # fmt: skip
    assert [(k.at, k.why) for k in kept] == [(None, "its nodes declared down")] and struck == []


def test_the_account_counts_carried_out_late_and_skipped_with_reasons() -> None:
    kill = Fault(3.5, "kill", ("n1",), 1.0)
    kept = [
        fault_account.Kept(kill, 3.6),
        fault_account.Kept(attrs.evolve(kill, at=5.0), 8.07),  # a readiness probe's wait
        fault_account.Kept(kill, None, "1 declared down already"),
        fault_account.Kept(kill, None, "1 declared down already"),
    ]
    found = fault_account.account(kept, 5)
    assert (found.planned, found.struck, found.late, found.skipped_count) == (5, 2, 1, 2)
    assert found.slip == pytest.approx(3.07)
    assert found.line() == (
        "5 faults planned: 2 carried out (1 late, up to 3.07 s after its time), 2 skipped "
        "(2: 1 declared down already), 1 never due (the run ended first)"
    )
    assert fault_account.account([fault_account.Kept(kill, 3.9)], 1).line() == (
        "1 fault planned: 1 carried out (on time: at most 0.40 s after)"
    )
    assert fault_account.account([], 0).line() == ""
