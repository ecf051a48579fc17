"""tinyraft's free runs under meshcheck: the harness checks Raft.tla's whole property set, which
nothing here names, and each of tinyraft's three known bugs fails it with the property's name."""

import pytest

from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.plugin import check_run
from tinyraft_meshcheck.adapter import ADAPTER

FAULTS = {"drop": 0.05, "duplicate": 0.05, "delay": 0.1, "crash": 0.1, "partition": 0.1}


def schedule(seed: int) -> Schedule:
    return Schedule(seed=seed, ticks=1500, **FAULTS, timeout=(150, 160))


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_free_runs_hold(seed: int) -> None:
    run = check_run(ADAPTER, schedule(seed))
    assert run.vacuous is None, run.vacuous  # it committed writes, and its faults struck
    # what the harness decided on tinyraft's state(), and the one property it could not
    assert {"ElectionSafety", "MatchIndexMonotonic", "LeaderCommitsStoredEntries"} <= set(
        run.decided
    )
    assert run.undecided == ("ReadLinearizable (needs readFloor, reads)",)


CAUGHT = [
    ("vote_twice", 0, r"violates ElectionSafety"),
    ("match_regress", 2, r"violates MatchIndexMonotonic"),
    (
        "commit_stops_at_old_term",
        3,
        r"^liveness bound LeaderCommitsStoredEntries violated: LeaderCommitsStoredEntries: leader "
        r"s\d of term \d+ holds entries up to \d+, those of its term up to \d+ stored on a "
        r"quorum; commitIndex \d+ for 3,901 ticks after the network healed, at step ",
    ),
]


@pytest.mark.parametrize(("bug", "seed", "message"), CAUGHT)
def test_each_known_bug_is_caught(bug: str, seed: int, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_run(ADAPTER, schedule(seed), 3, frozenset({bug}))
