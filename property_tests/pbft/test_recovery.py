"""CatchUpByStateTransfer under pytest (property_tests/pbft/recovery.py): the correct replicas pass
it with the loaded Hypothesis profile, and the mutant that waits for a view change instead of a
state transfer fails it in a run where the liveness check after stabilisation passes."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.pbft import mutants
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.free_runs import check_liveness
from meshcheck.property_tests.pbft.recovery import (
    BOUND,
    catch_up_by_state_transfer,
    check_catch_up,
)

LAGGING = frozenset({mutants.LAGGING_REPLICA_WAITS_FOR_VIEW_CHANGE})

# A drawn run whose losses leave r2 behind the stable checkpoint at the heal: the mutant's r2 never
# catches up (the group commits without it, so no view change comes to carry it along).
BEHIND = Schedule(
    seed=1013818839,
    ticks=600,
    drop=0.1,
    duplicate=0.1,
    delay=0.02,
    every=25,
    checkpoint_every=2,
)


def test_a_replica_behind_the_stable_checkpoint_catches_up_by_state_transfer() -> None:
    catch_up_by_state_transfer(frozenset(), settings())


def test_waiting_for_a_view_change_fails_recovery_and_passes_liveness() -> None:
    """The correct core catches up within the bound; the mutant's commits come back as fast (the
    liveness check after stabilisation passes), and its replica behind never catches up."""
    assert check_catch_up(BEHIND, 4, frozenset()) <= BOUND
    check_liveness(BEHIND, 4, LAGGING)
    with pytest.raises(CheckFailed) as failed:
        check_catch_up(BEHIND, 4, LAGGING)
    message = failed.value.message
    assert "CatchUpByStateTransfer: PBFT replica r2 caught up not within 2,090 ticks" in message
    assert f"the protocol promises state transfer within 3 status rounds ({BOUND} ticks)" in message
    assert message.endswith("no state transfer")
    assert failed.value.trace is not None
