"""CatchUpByStateTransfer under pytest (property_tests/pbft/recovery.py): the correct replicas pass
it with the loaded Hypothesis profile, and the mutant that waits for a view change instead of a
state transfer fails it in a run where the liveness check after stabilisation passes."""

from __future__ import annotations

from hypothesis import settings

from meshcheck.impl.pbft import mutants
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.free_runs import check_liveness
from meshcheck.property_tests.pbft.recovery import BOUND
from meshcheck.property_tests.pbft.recovery import LOOK
from meshcheck.property_tests.pbft.recovery import catch_up_by_state_transfer
from meshcheck.property_tests.pbft.recovery import check_catch_up
from meshcheck.property_tests.scenarios import caught

LAGGING = frozenset({mutants.LAGGING_REPLICA_WAITS_FOR_VIEW_CHANGE})

# A drawn run of the property's schedules whose crashes and partitions leave r3 behind the stable
# checkpoint at the heal: the mutant's r3 never catches up. Its request timers run out and it asks
# for a view change, which the others, committing without it, never join; the light load brings
# no next checkpoint.
BEHIND = Schedule(
    seed=3622576170,
    ticks=900,
    drop=0.02,
    duplicate=0.05,
    delay=0.02,
    crash=0.3,
    partition=0.6,
    every=50,
    checkpoint_every=10,
)


def test_a_replica_behind_the_stable_checkpoint_catches_up_by_state_transfer() -> None:
    catch_up_by_state_transfer(frozenset(), settings())


def test_waiting_for_a_view_change_fails_recovery_and_passes_liveness() -> None:
    """The correct core catches up within the bound; the mutant's commits come back as fast (the
    liveness check after stabilisation passes), and its replica behind never catches up: it waits
    for a view change instead of fetching the state."""
    # someone was behind at the heal (0: nobody, and the run would show no state transfer), and
    # caught up within three status rounds and two round trips (Castro and Liskov, OSDI 1999,
    # section 4.3; TOCS 2002, section 5.3.2), whatever the tick the seeded run gives
    assert 0 < check_catch_up(BEHIND, 4, frozenset()) <= BOUND
    check_liveness(BEHIND, 4, LAGGING)
    message = caught(check_catch_up, BEHIND, 4, LAGGING)
    assert message.startswith(
        f"CatchUpByStateTransfer: PBFT replica r3 caught up not within {BOUND + LOOK:,} ticks"
    )
    assert f"the protocol promises state transfer within 3 status rounds ({BOUND} ticks)" in message
    assert "it waits in a view change no quorum joins" in message
