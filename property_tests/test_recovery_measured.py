"""The recovery properties' false alarms, measured: MEASURED_RUNS drawn runs of each unmutated core
under its property's schedules, none of which may fail (property_tests/recovery.py).

Each bound is written from the protocol's parameters (property_tests/pbft/recovery.py,
property_tests/hotstuff/recovery.py, property_tests/raft/recovery.py derive them), not from what
today's core takes, so it is these runs that say it is not too tight: a bound a correct run can
exceed is a false alarm waiting for a seed. Slow (a few minutes in all, one core): `make test-all` runs them; `make test` runs each property
with its profile's share of examples (the test_recovery.py of each protocol).
"""

from __future__ import annotations

import pytest

from meshcheck.property_tests.hotstuff import recovery as hotstuff
from meshcheck.property_tests.pbft import recovery as pbft
from meshcheck.property_tests.raft import recovery as raft
from meshcheck.property_tests.recovery import MEASURED_RUNS
from meshcheck.property_tests.recovery import measure

pytestmark = pytest.mark.slow


def test_pbft_catch_up_by_state_transfer_has_no_false_alarm() -> None:
    """CatchUpByStateTransfer: 4 replicas, the property's schedules; a replica behind the stable
    checkpoint at the heal in some of them, each caught up within BOUND."""
    took = measure(
        pbft.schedules(), lambda s: pbft.check_catch_up(s, pbft.N, frozenset()), MEASURED_RUNS
    )
    assert len(took) >= MEASURED_RUNS
    behind = [t for t in took if t > 0]
    assert behind, "no run left a replica behind: the measurement measured nothing"
    assert max(behind) <= pbft.BOUND


def test_hotstuff_recovery_within_bound_has_no_false_alarm() -> None:
    """RecoveryWithinBound (HotStuff): 7 replicas, r1 silent; each first commit after the heal
    within FIRST_BOUND of the back-off at the heal, and the steady pace after it."""
    runs = measure(
        hotstuff.schedules(),
        lambda s: hotstuff.check_recovery(s, hotstuff.N, frozenset()),
        MEASURED_RUNS,
    )
    assert len(runs) >= MEASURED_RUNS
    assert all(first <= bound for first, bound in runs)


def test_raft_recovery_within_bound_has_no_false_alarm() -> None:
    """RecoveryWithinBound (Raft): 3 nodes; a sole leader within LEADER_BOUND of the heal, every
    node caught up within CATCH_UP_BOUND of its leader's election."""
    runs = measure(
        raft.schedules(),
        lambda s: raft.check_recovery(s, 3, frozenset()),
        MEASURED_RUNS,
    )
    assert len(runs) >= MEASURED_RUNS
    assert max(r.leader for r in runs) <= raft.LEADER_BOUND
    assert max(r.caught_up for r in runs) <= raft.CATCH_UP_BOUND
