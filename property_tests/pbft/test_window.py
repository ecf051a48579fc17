"""The window scenario (window.py): its prefix reaches a checkpoint at the window's edge on every
seed tried, which plain free runs rarely do (the probe's counts, measured both ways), and the free
runs from it hold on the correct replicas."""

from __future__ import annotations

from typing import Any

from hypothesis import settings

from meshcheck import coverage
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.window import at_edge
from meshcheck.property_tests.pbft.window import cluster
from meshcheck.property_tests.pbft.window import prefix
from meshcheck.property_tests.pbft.window import window_runs


def test_the_prefix_takes_a_checkpoint_at_the_window_edge() -> None:
    for seed in range(6):
        schedule = Schedule(seed=seed, ticks=300, every=(10, 25)[seed % 2],
                            checkpoint_every=(2, 5, 10)[seed % 3])  # fmt: skip
        sim = cluster(schedule, frozenset(), record=False)

        def set_up(sim: Simulator[Any] = sim) -> None:
            assert prefix(sim) is None and at_edge(sim)

        # the replica's own probe sees it (what the coverage report counts)
        assert coverage.probe_hits(set_up)[("pbft", "checkpoint_at_window_edge")] >= 1, seed


def test_window_runs_hold() -> None:
    window_runs(frozenset(), settings())
