"""The reproposal scenario (reproposal.py): its prefix gets a request pre-prepared again by a new
view's NEW-VIEW on every seed tried, as the coverage spec counts it on the recorded trace (the
counts with and without the prefix, measured, are in reproposal.py's doc); the free runs from it
hold on the correct replicas, run the client-history checks at their end, and kill the mutant at
the rule the prefix exercises (NEW-VIEW's O)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

from meshcheck import coverage
from meshcheck.impl.pbft import mutants
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.pbft import free_runs
from meshcheck.property_tests.pbft.reproposal import check_reproposal
from meshcheck.property_tests.pbft.reproposal import cluster
from meshcheck.property_tests.pbft.reproposal import in_new_view
from meshcheck.property_tests.pbft.reproposal import prefix
from meshcheck.property_tests.pbft.reproposal import reproposal_runs

REPROPOSED = "reproposed_after_view_change"


def test_the_prefix_reproposes_a_request_in_the_new_view() -> None:
    for seed in range(6):
        schedule = Schedule(seed=seed, ticks=300, every=(10, 25)[seed % 2],
                            checkpoint_every=(2, 5, 10)[seed % 3])  # fmt: skip
        sim = cluster(schedule, frozenset())
        assert prefix(sim) is None and in_new_view(sim), seed
        # the coverage spec's own detector on the trace (what the coverage report counts)
        assert coverage.steps("pbft", sim.trace().steps).rare[REPROPOSED] >= 1, seed


def test_reproposal_runs_hold_and_check_client_histories(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str | None] = []

    def counted(sim: Simulator[Any]) -> str | None:
        checked.append(free_runs.client_history(sim))
        return checked[-1]

    monkeypatch.setattr(free_runs, "RUN_CHECKS", [counted])
    runs = share(settings(), 1 / 10, least=2)  # what reproposal_runs gives itself
    reproposal_runs(frozenset(), settings())
    # every run ended with the client-history checks ("applied at most once" among them), and
    # they held
    assert len(checked) >= runs.max_examples and checked == [None] * len(checked)


def test_reproposal_runs_kill_a_new_view_that_ignores_prepared_certificates() -> None:
    schedule = Schedule(seed=0, ticks=300, every=10, checkpoint_every=10)
    with pytest.raises(CheckFailed, match="violates Agreement"):
        check_reproposal(schedule, 4, frozenset({mutants.NEW_VIEW_IGNORES_PREPARED}))
