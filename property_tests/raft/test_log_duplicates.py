"""The validator on the reference core's logs under duplication and loss
(property_tests/raft/log_duplicates.py): every log valid with the loaded Hypothesis profile, and the
check fails on a catalogue bug (so it can fail)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.raft import mutants
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.profiles import FEW
from meshcheck.property_tests.raft.log_duplicates import logs_under_duplication
from meshcheck.property_tests.raft.test_free_runs import assert_counterexample


def test_faulty_runs_give_valid_logs() -> None:
    logs_under_duplication(frozenset(), settings())


def test_the_check_fails_on_a_mutant() -> None:
    # forget_voted_for: a restarted node votes again in its term; seed 2's partial log shows it
    with pytest.raises(CheckFailed) as failed:
        logs_under_duplication(frozenset({mutants.FORGET_VOTED_FOR}), FEW)
    assert "log (no-op" in failed.value.message and "is invalid" in failed.value.message
    assert_counterexample(failed.value)
