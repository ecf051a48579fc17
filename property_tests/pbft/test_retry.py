"""The retry scenario (retry.py): its prefix sets the condition up on every seed tried, the free
runs from it hold on the correct replicas, and they kill `execute_again`."""

from __future__ import annotations

from hypothesis import settings

from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.retry import cluster
from meshcheck.property_tests.pbft.retry import executed_again
from meshcheck.property_tests.pbft.retry import prefix
from meshcheck.property_tests.pbft.retry import retry_runs


def test_the_prefix_orders_an_executed_request_again() -> None:
    for seed in range(20):
        sim = cluster(Schedule(seed=seed, ticks=300, every=(25, 50, 100)[seed % 3]), frozenset())
        assert prefix(sim) is None and executed_again(sim)
        # the correct replicas execute it as nothing: one applied operation per distinct request
        again = 0
        for r in ("r3", "r4"):  # (r1 crashed before it; the first of these stopped the prefix)
            replica = sim.nodes[r]
            distinct = {req.body for batch in replica.executed for req in batch}
            assert replica.machine.applied == len(distinct)
            again += len(distinct) < sum(map(len, replica.executed))
        assert again


def test_retry_runs_hold() -> None:
    retry_runs(frozenset(), settings())
