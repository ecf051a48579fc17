"""The PBFT client against replicas that lie in their replies (property_tests/pbft/client_replies.py):
the unmutated client holds both properties, and each client mutant of the catalogue that trusts
one replica (impl/pbft/mutants.py, CLIENT_* but the timestamp reset) is killed."""

from __future__ import annotations

import hypothesis
import pytest

from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft.byzantine.replies import FuzzReplies
from meshcheck.impl.pbft.byzantine.replies import LieToClient
from meshcheck.impl.pbft.byzantine.replies import LyingReplies
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.pbft import client_replies as cr
from meshcheck.property_tests.pbft.free_runs import TIMING

# a few dozen examples each: the whole file runs in about two seconds
QUICK = hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None)
NO_SHRINK = hypothesis.settings(QUICK, phases=[hypothesis.Phase.generate])


def test_the_client_believes_f_plus_1_replies_and_no_liar() -> None:
    cr.never_believed(frozenset(), QUICK)


def test_one_liar_costs_the_client_no_time_and_the_group_no_view_change() -> None:
    cr.latency(frozenset(), hypothesis.settings(QUICK, max_examples=10))


def test_the_bound_is_stated_from_the_protocols_parameters() -> None:
    """Five message delays of D and the batch delay; below both timeouts, so a client misled to a
    backup cannot meet it."""
    assert cr.latency_bound(10) == 50 and cr.latency_bound(10, batch_delay=7) == 57
    assert cr.latency_bound() < min(TIMING["client_timeout"], TIMING["view_change_timeout"])


@pytest.mark.parametrize(
    "mutant",
    [
        mutants.CLIENT_VIEW_FROM_ONE_REPLY,
        mutants.CLIENT_ACCEPTS_ON_F_REPLIES,
        mutants.CLIENT_REPLY_SIGNATURE_NOT_CHECKED,
        mutants.CLIENT_REPLY_REQUEST_NOT_MATCHED,
    ],
)
def test_each_client_mutant_is_killed_by_one_replica_is_never_believed(mutant: str) -> None:
    with pytest.raises(CheckFailed, match="OneReplicaIsNeverBelieved violated"):
        cr.never_believed(frozenset({mutant}), hypothesis.settings(NO_SHRINK, max_examples=200))


def test_a_client_misled_to_a_backup_is_late() -> None:
    """The latency bound on its own kills the client that follows one reply's view: the view
    liar r3 sends it to r2, which holds the request (section 4.4) until its retry."""
    lie = LieToClient("view")
    problem = cr.latency_under_one_liar(
        1, "r3", lie, frozenset({mutants.CLIENT_VIEW_FROM_ONE_REPLY})
    )
    assert problem is not None and "LatencyUnderOneLiar violated" in problem
    assert "believes r2 is the primary" in problem
    assert cr.latency_under_one_liar(1, "r3", lie, frozenset()) is None


# r4 lies with every field at once; _setup lists the replies replica by replica, so with two
# requests r4's are the last two: delivered first, they are all the client has heard
COMBINED = {"n": 4, "views": {f"r{k}": 0 for k in range(1, 5)}, "requests": 2, "seed": 3}
LIAR_FIRST = [6, 7, 0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("timestamp", [False, True])
def test_a_reply_lying_in_view_and_result_is_never_believed(timestamp: bool) -> None:
    """The unmutated client waits for f+1 = 2 honest replies and stays with r1; the client that
    accepts on f = 1 reply takes the lie, the one that follows one reply's view moves to r2."""
    run = {**COMBINED, "liars": {"r4": LyingReplies(timestamp=timestamp)}}
    assert cr.reply_count(run) == 8
    cr.one_replica_is_never_believed(run, LIAR_FIRST, frozenset())
    for mutant, shown in [
        (mutants.CLIENT_ACCEPTS_ON_F_REPLIES, "Accept"),
        (mutants.CLIENT_VIEW_FROM_ONE_REPLY, "goes to r2"),
    ]:
        with pytest.raises(CheckFailed, match=f"OneReplicaIsNeverBelieved violated.*{shown}"):
            cr.one_replica_is_never_believed(run, LIAR_FIRST, frozenset({mutant}))


def test_a_reply_lying_in_view_and_result_costs_no_time_unless_followed() -> None:
    lie = LyingReplies(by=1, timestamp=True)
    assert cr.latency_under_one_liar(2, "r4", lie, frozenset()) is None
    problem = cr.latency_under_one_liar(
        2, "r4", lie, frozenset({mutants.CLIENT_VIEW_FROM_ONE_REPLY})
    )
    assert problem is not None and "believes r2 is the primary" in problem


def test_the_lies_are_what_they_say() -> None:
    """Each lie reaches the client: on a run where r2 lies, the client sees replies the rule
    refuses or does not count."""
    run = {"n": 4, "views": {f"r{k}": 0 for k in range(1, 5)}, "requests": 2, "seed": 5}
    honest = cr.reply_count({**run, "liars": {}})
    assert honest == 8
    for lie, extra in [(LieToClient("signature"), 6), (LieToClient("view"), 0), (FuzzReplies(), 0)]:
        assert cr.reply_count({**run, "liars": {"r2": lie}}) == honest + extra


@pytest.mark.slow
def test_no_false_alarm_over_200_runs_each() -> None:
    """The measurement: 200 drawn runs of each property on the unmutated client and cores."""
    took = cr.REPLIES.measure(hypothesis.settings(QUICK, max_examples=200))
    print(f"400 runs held in {took:.1f} s")
