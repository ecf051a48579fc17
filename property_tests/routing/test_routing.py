"""The manager's routing checks hold on the correct manager and kill each of its mutants (the
kill in `make test`: the scenario, and the free runs on the one mutant they kill fastest)."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest

from meshcheck.impl.manager import How
from meshcheck.impl.manager import Layer
from meshcheck.impl.manager.mutants import BUGS
from meshcheck.impl.manager.mutants import CRITICAL_TO_RAFT_AT_NONE
from meshcheck.impl.manager.mutants import REPLY_OF_ANOTHER_REQUEST
from meshcheck.impl.manager.mutants import STATUS_NODE_DOWN_KEPT
from meshcheck.impl.pbft.byzantine import Silent
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.routing.free_runs import CALM_OPS
from meshcheck.property_tests.routing.free_runs import free_runs
from meshcheck.property_tests.routing.free_runs import run_once
from meshcheck.property_tests.routing.free_runs import scenario
from meshcheck.property_tests.routing.refusals import CALM_TYPES

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)

# a mutant's failing run, not shrunk (shrinking a free run costs minutes; `meshcheck mutants` does
# it); derandomized: the dev profile is not (property_tests/profiles.py), and a kill that waits on a
# random draw reaching the bug is a coin toss
NO_SHRINK = hypothesis.settings(
    database=None,
    derandomize=True,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


def test_the_scenario_holds() -> None:
    scenario(frozenset())


# the two this scenario leaves are killed by the refusals scenario (test_refusals.py) and the
# pending scenario (test_answers.py): this one never leaves an op without an answer
@pytest.mark.parametrize(
    "bug", sorted(set(BUGS) - {STATUS_NODE_DOWN_KEPT, REPLY_OF_ANOTHER_REQUEST})
)
def test_the_scenario_kills_each_mutant(bug: str) -> None:
    with pytest.raises(CheckFailed) as failed:
        scenario(frozenset({bug}))
    invariant = {
        "critical_to_raft_at_none": "CriticalOnlyByBFT",
        "unknown_to_gossip": "UnknownRefused",
        "status_counted_committed": "StatusNeverAgreed",
        "rejected_counted_as_agreed": "AgreedMeansDecided",
    }[bug]
    assert failed.value.violated is not None and failed.value.violated.name == invariant
    assert str(failed.value).startswith(f"{invariant}: ")


def test_free_runs_hold() -> None:
    free_runs(frozenset(), hypothesis.settings())


def test_free_runs_kill_a_critical_op_routed_to_raft() -> None:
    with pytest.raises(CheckFailed, match="CriticalOnlyByBFT"):
        free_runs(frozenset({CRITICAL_TO_RAFT_AT_NONE}), NO_SHRINK)


@pytest.mark.parametrize("byzantine", [False, True], ids=["honest", "byzantine"])
def test_a_mixed_run_under_faults_holds(byzantine: bool) -> None:
    """One fixed run of each kind: every type, loss and crashes; with Byzantine behaviour, a
    silent PBFT replica and the hybrid leader equivocating from the second op to the sixth."""
    knobs: dict[str, Any] = {
        "ops": ("critical", "coordination", "unknown", "status", "critical", "coordination"),
    }
    if byzantine:
        knobs |= {
            "pbft_byzantine": {"r2": (Silent(),)},
            "behaviours": ("equivocate",),
            "start": 2,
            "stop": 6,
        }
    schedule = Schedule(seed=7, ticks=600, drop=0.05, crash=0.1, **knobs)
    run = run_once(schedule)
    seen = run.submit.seen
    assert len(seen) == 6 + len(CALM_TYPES) * CALM_OPS
    assert sum(s.error is not None for s in seen) >= 1  # the unknown type, refused
    if byzantine:
        assert run.byzantine is not None and "Critical" in {a.level for a in run.m.answers}
        assert any(a.how is How.BFT_QUORUM and a.layer is Layer.HYBRID for a in run.m.answers)


def test_an_outage_leaves_a_critical_op_pending_and_the_free_run_kills_a_reply_of_another() -> None:
    """A fixed free run without faults: PBFT loses r3 and r4 for its second critical op, which gets
    no answer within 1000 ticks, and has them back for the third, during whose wait the reply to
    the second comes. The correct manager holds; `reply_of_another_request` tells the third op the
    second one's result, which only ManagerAnswers sees."""
    schedule = Schedule(
        seed=4,
        ticks=0,
        ops=("critical", "coordination", "critical", "critical", "status", "unknown"),
        outage=("pbft", 2, 1),
        give_up=1000,
    )
    run = run_once(schedule)
    assert [s.error is None for s in run.submit.seen[:6]] == [True, True, False, True, True, False]
    with pytest.raises(CheckFailed) as failed:
        run_once(schedule, frozenset({REPLY_OF_ANOTHER_REQUEST}))
    assert failed.value.violated is not None, failed.value
    assert failed.value.violated.name == "ManagerAnswers", failed.value
    assert "op #4 " in str(failed.value)
