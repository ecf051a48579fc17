"""The window scenario (window.py): its prefix reaches a checkpoint at the window's edge on every
seed tried, which plain free runs rarely do (the probe's counts, measured both ways), and the free
runs from it hold on the correct replicas."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import settings

from meshcheck import coverage
from meshcheck.impl.base import probes
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.window import at_edge, cluster, prefix, window_runs


def probe_hits(run: Callable[[], object]) -> Counter[tuple[str, str]]:
    """The probes `run` hit, counted without taking them from the coverage recorder (under
    pytest it listens: what was counted before and during `run` is counted again for it)."""
    listening = coverage.recording()
    probes.listen()
    before = probes.drain()
    run()
    hits = probes.drain()
    for (protocol, condition), n in (before + hits).items():
        for _ in range(n):
            probes.hit(protocol, condition)
    if not listening:
        probes.stop()
    return hits


def test_the_prefix_takes_a_checkpoint_at_the_window_edge() -> None:
    for seed in range(6):
        schedule = Schedule(seed=seed, ticks=300, every=(10, 25)[seed % 2],
                            checkpoint_every=(2, 5, 10)[seed % 3])  # fmt: skip
        sim = cluster(schedule, frozenset(), record=False)

        def set_up(sim: Simulator[Any] = sim) -> None:
            assert prefix(sim) is None and at_edge(sim)

        # the replica's own probe sees it (what the coverage report counts)
        assert probe_hits(set_up)[("pbft", "checkpoint_at_window_edge")] >= 1, seed


def test_window_runs_hold() -> None:
    window_runs(frozenset(), settings())
