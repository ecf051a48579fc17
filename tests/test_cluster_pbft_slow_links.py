"""PBFT over links slower than its base view-change timeout (`meshcheck cluster test --delay`):
every frame between replicas held back 1.0 to 1.1 s, the request timer's base 500 ms, doubling to
8 s. A request needs two hops after a backup's timer starts (its prepares, then the commits), so
the base timer always runs out first; section 4.5.2's doubling, kept until a request executes in
the new view, lets the correct replicas wait long enough (2 s is short of the 2.2 s, 4 s and 8 s
are not) and they execute. The catalogue's `view_change_timeout_reset_on_new_view` starts each new
view's timers from the base again: no replica ever prepares in a view before it leaves it, and
nothing is ever executed (`progress after healing`, a run with no fault to heal). Both cores'
runs are measured in docs/cluster.md; the simulator's check is the liveness of
property_tests/pbft/free_runs.py under slow links."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from meshcheck.cluster.network import Network
from meshcheck.cluster.run import Options
from meshcheck.cluster.run import run
from meshcheck.impl.pbft import mutants
from meshcheck.impl.runtime.launcher import LOOPBACK
from meshcheck.impl.runtime.launcher import free_ports
from meshcheck.impl.runtime.proxy import LinkFaults
from tests.test_cluster_cmd import nodes_of
from tests.test_cluster_cmd import refused

PROGRESS = "progress after healing"
SLOW = dict(
    protocol="pbft",
    nodes=4,
    time=20,
    nemesis=(),
    seed=1,
    delay=(1000, 1100),
    timeout=20,
    core=(("view_change_timeout", 500), ("view_change_timeout_cap", 8000)),
)


def test_a_slow_network_is_in_force_on_every_link_under_the_faults_and_after_them() -> None:
    async def links() -> list[set[tuple[int, int]]]:
        names = ["r1", "r2", "r3"]
        addresses = {n: (LOOPBACK, p) for n, p in zip(names, free_ports(3), strict=True)}
        network = Network(names, addresses, 1, base=LinkFaults(latency=(1000, 1100)))
        await network.start()
        seen = [{p.faults.latency for p in network.proxies.values()}]
        fault = LinkFaults(latency=(2000, 2000))
        network.add([("r1", "r2")], fault)
        seen.append({p.faults.latency for p in network.proxies.values()})
        network.remove([("r1", "r2")], fault)
        network.heal()
        seen.append({p.faults.latency for p in network.proxies.values()})
        await network.stop()
        return seen

    assert asyncio.run(links()) == [
        {(1000, 1100)},
        {(1000, 1100), (2000, 2000)},  # the larger latency wins on the faulty link
        {(1000, 1100)},  # healing leaves the slow network
    ]


def test_delay_and_timeout_take_milliseconds_and_seconds_or_say_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, said in (
        (["--delay", "900-800"], "--delay 900-800: the second bound is below the first"),
        (["--delay", "fast"], "--delay fast: not a whole number"),
        (["--timeout", "0"], "--timeout 0: expected 0.1 to 600"),
        (["--protocol", "manager", "--delay", "100"], "--delay: only for a cluster"),
    ):
        assert said in refused(argv, tmp_path, capsys)


@pytest.mark.slow  # 20 s of four processes; the mutant's run is the next test
def test_the_correct_replicas_execute_over_links_slower_than_the_base_timeout(
    tmp_path: Path,
) -> None:
    outcome = run(Options(**SLOW), tmp_path)  # type: ignore[arg-type]
    assert outcome.holds, outcome.failed
    assert not outcome.plan
    assert outcome.history.count("ok") > 0
    assert nodes_of(tmp_path) == []


@pytest.mark.slow  # 20 s of four processes
def test_timers_that_start_from_the_base_in_every_new_view_execute_nothing(tmp_path: Path) -> None:
    options = Options(
        **SLOW,  # type: ignore[arg-type]
        bugs=frozenset({mutants.VIEW_CHANGE_TIMEOUT_RESET_ON_NEW_VIEW}),
        validate=False,
    )
    outcome = run(options, tmp_path)
    verdicts = {v.check: v for v in outcome.verdicts}
    assert verdicts[PROGRESS].holds is False, verdicts[PROGRESS]
    assert verdicts["agreement (state files)"].detail.endswith("the longest 0 batches")
    assert [v.check for v in outcome.failed] == [PROGRESS]  # safe, and never live
    assert nodes_of(tmp_path) == []
