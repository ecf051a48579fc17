"""The lost-checkpoints scenario (property_tests/pbft/lost_checkpoints.py) under pytest: a replica
that executed past a checkpoint and lost every checkpoint message catches its stable checkpoint up
from its peers' status answers within the bound, on fixed seeds and in the loaded Hypothesis
profile, and StableCheckpointHeld holds at every step. The held-out bugs that break it are in
mutation/heldout.toml (pbft_status_stable_is_executed, pbft_status_answer_above_executed)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.lost_checkpoints import BACKUPS
from meshcheck.property_tests.pbft.lost_checkpoints import SCRIPTED
from meshcheck.property_tests.pbft.lost_checkpoints import K
from meshcheck.property_tests.pbft.lost_checkpoints import N
from meshcheck.property_tests.pbft.lost_checkpoints import lost_checkpoints_check
from meshcheck.property_tests.pbft.recovery import BOUND
from meshcheck.property_tests.scenarios import held

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_the_stable_checkpoint_catches_up_from_status_answers() -> None:
    schedules = [Schedule(seed=seed, ticks=0, extra=extra) for seed, extra in ((0, 1), (5, 3))]
    victims = set()
    for s in held(SCRIPTED, N, schedules):
        victims.add(s.victim)
        # it executed past K with its stable checkpoint at 0 when the losses ended (the script
        # checks it), and caught up within three status rounds and two round trips, however
        # soon the seeded run brings it
        assert s.took is not None and 0 < s.took <= BOUND
        assert all(s.replica(r).stable == K for r in ("r1", *BACKUPS))
        assert s.held.stables[s.victim] == {0, K}
    assert len(victims) == 2  # the draw picks other backups


def test_the_check_holds_in_the_loaded_profile() -> None:
    lost_checkpoints_check(frozenset(), settings())
