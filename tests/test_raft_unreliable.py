"""Raft under an unreliable network, MIT 6.824 style (property_tests/raft/scenarios.py), held to the
stated targets (property_tests/raft/targets.py): agreement after healing within the recovery bound
(5 s, and so within 6.824's 10 s), every write a steady leader accepted committed within the
replication bound (500 ms); and the bounds have teeth: the one-entry-at-a-time backup misses the
recovery bound, a misread hint never recovers, a too-long election timeout misses the election
bound.

A handful of seeds in `make test`; all 40 in the slow tier (`make test-all`).
"""

from __future__ import annotations

import pytest

from meshcheck.impl.raft import mutants
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft import scenarios
from meshcheck.property_tests.raft.free_runs import check_liveness
from meshcheck.property_tests.raft.scenarios import TIMING
from meshcheck.property_tests.raft.scenarios import Bounds
from meshcheck.property_tests.raft.scenarios import run_seed
from meshcheck.property_tests.raft.targets import DEFAULT
from meshcheck.property_tests.raft.targets import ELECTION_TARGET_MS
from meshcheck.property_tests.raft.targets import RECOVERY_TARGET_MS
from meshcheck.property_tests.raft.targets import REPLICATION_TARGET_MS
from meshcheck.property_tests.raft.targets import Timing
from meshcheck.property_tests.raft.targets import election_bound
from meshcheck.property_tests.raft.targets import recovery_bound
from meshcheck.property_tests.raft.targets import replication_bound

BOUNDS = Bounds.of(TIMING)
FEW = range(3)
ALL = range(40)


def check_seed(seed: int) -> None:
    outcome = run_seed(seed)
    assert outcome.behind >= 300, f"seed {seed}: the scenario left no node far behind"
    assert outcome.agreement is not None, f"seed {seed}: no agreement within 10 s"
    assert outcome.agreement <= BOUNDS.recovery, f"seed {seed}: {outcome}"
    assert outcome.replications, f"seed {seed}: no write committed during the churn"
    slow = [r for r in outcome.replications if r > BOUNDS.replication]
    assert not slow, f"seed {seed}: writes committed after {slow} ms"


@pytest.mark.parametrize("seed", FEW)
def test_agreement_within_the_targets(seed: int) -> None:
    check_seed(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", ALL[len(FEW) :])
def test_agreement_within_the_targets_on_every_seed(seed: int) -> None:
    check_seed(seed)


def test_the_bounds_are_the_targets_at_the_configured_timing() -> None:
    """1 tick = 1 ms; at the defaults (timeouts 150-300 ms, heartbeat 50 ms) the bounds stay within
    the targets; a slower configuration is held to the target, a faster one gets a tighter bound."""
    for t in (DEFAULT, TIMING):
        assert election_bound(t) <= ELECTION_TARGET_MS
        assert replication_bound(t) <= REPLICATION_TARGET_MS
        assert recovery_bound(t) <= RECOVERY_TARGET_MS
    slow = Timing(election_timeout=(1500, 3000), heartbeat=500)
    assert election_bound(slow) == ELECTION_TARGET_MS
    assert replication_bound(slow) == REPLICATION_TARGET_MS
    fast = Timing(election_timeout=(15, 30), heartbeat=5, latency=(1, 2))
    assert election_bound(fast) < 300 and replication_bound(fast) < 100


def test_one_entry_at_a_time_misses_the_recovery_bound() -> None:
    """The slow backup (the paper's basic rule, `backup_one_at_a_time`) needs a round trip per entry
    to bring back nodes hundreds of entries behind: the bound does not move for it."""
    outcome = run_seed(0, frozenset({mutants.BACKUP_ONE_AT_A_TIME}))
    assert outcome.agreement is None or outcome.agreement > BOUNDS.recovery
    assert run_seed(0).agreement is not None  # the same seed with fast backup agrees in time


def test_a_misread_hint_never_brings_the_follower_back() -> None:
    """`backup_past_conflict` probes the first conflicting entry itself, again and again."""
    assert run_seed(0, frozenset({mutants.BACKUP_PAST_CONFLICT})).agreement is None


def test_a_too_long_election_timeout_misses_the_election_bound() -> None:
    """Timeouts of 2.5-3 s cannot give a leader within 2 s: the free runs' liveness check fails."""
    with pytest.raises(CheckFailed, match="no single leader"):
        check_liveness(Schedule(seed=1, ticks=100, timeout=(2500, 3000)), 3, frozenset())


def test_the_scenario_reports_misses() -> None:
    """summary() counts the misses of each bound (what `python -m ...scenarios` prints)."""
    text = scenarios.summary([run_seed(1)], BOUNDS)
    assert "not within 10 s: 0" in text and f"over the recovery bound {BOUNDS.recovery} ms" in text
