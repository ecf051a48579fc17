"""Steering reaches Hypothesis: a lockstep machine with a rarity score (Raft's) hands every
example's rarest state to `hypothesis.target` when the example ends (property_tests/lockstep.py).
The harness's own teardown once overrode the one that does this, and steering was silently off."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

from meshcheck.property_tests import lockstep as lockstep_base
from meshcheck.property_tests.raft import lockstep as raft_ls


def test_every_raft_example_hands_its_rarity_to_hypothesis(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[float, str]] = []
    real = lockstep_base.target

    def spy(observation: float, *, label: str = "") -> Any:
        calls.append((observation, label))
        return real(observation, label=label)

    monkeypatch.setattr(lockstep_base, "target", spy)
    raft_ls.lockstep(
        frozenset(),
        settings(max_examples=8, stateful_step_count=10, derandomize=True, database=None),
    )
    assert calls and {label for _, label in calls} == {"rarity"}
    assert any(score > 0 for score, _ in calls), calls
