"""The HotStuff client against replicas that lie in their replies
(property_tests/hotstuff/client_replies.py): the unmutated client holds both properties, and each
client mutant of the catalogue that trusts one replica (impl/hotstuff/mutants.py, CLIENT_* but the
timestamp reset) is killed."""

from __future__ import annotations

import random

import hypothesis
import pytest

from meshcheck.impl.base.effects import Send
from meshcheck.impl.hotstuff import mutants
from meshcheck.impl.hotstuff.byzantine import BEHAVIOURS
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import ReplyMsg
from meshcheck.impl.hotstuff.replies import REPLY_BEHAVIOURS
from meshcheck.impl.hotstuff.replies import FuzzReplies
from meshcheck.impl.hotstuff.replies import LieToClient
from meshcheck.impl.hotstuff.replies import LyingReplies
from meshcheck.impl.hotstuff.replies import Mouth
from meshcheck.impl.hotstuff.replies import lied
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.hotstuff import client_replies as cr

# a few dozen examples each: the whole file runs in about two seconds
QUICK = hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None)
NO_SHRINK = hypothesis.settings(QUICK, phases=[hypothesis.Phase.generate])

MUTANTS = list(cr.MUTANTS)


def test_the_client_believes_f_plus_1_replicas_and_no_liar() -> None:
    cr.never_believed(frozenset(), QUICK)


def test_one_liar_costs_the_client_no_time_and_the_group_no_view() -> None:
    cr.latency(frozenset(), hypothesis.settings(QUICK, max_examples=8))


def test_the_bound_is_stated_from_the_protocols_parameters() -> None:
    """One message delay for the request, a view of 2 D + 1 to the proposal that holds it, three
    views to the three-chain, the last proposal's delay and the replies': below the view timer and
    the client's timeout, so a run with a timed-out view or a retry cannot meet it."""
    assert cr.view_bound(5) == 11 and cr.latency_bound(5) == 59
    assert cr.latency_bound(10) == 3 * 10 + 4 * 21
    assert cr.latency_bound() < min(cr.VIEW_TIMER, cr.CLIENT_TIMEOUT)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_each_client_mutant_is_killed_by_one_replica_is_never_believed(mutant: str) -> None:
    with pytest.raises(CheckFailed, match="OneReplicaIsNeverBelieved violated"):
        cr.never_believed(frozenset({mutant}), hypothesis.settings(NO_SHRINK, max_examples=200))


# r4 lies with everything at once; _setup lists the replies replica by replica and request by
# request, so with two requests and two copies r4's 16 (its own name and three peers', twice, for
# each request) come after the honest replicas' 6
COMBINED = {"n": 4, "requests": 2, "seed": 3}
LIAR_FIRST = [*range(6, 22), *range(6)]
HONEST_FIRST = [0, *range(6, 22), *range(1, 6)]  # r1's reply to request 1, then the liar's


def _killed(run: dict[str, object], mutant: str) -> bool:
    for order in (LIAR_FIRST, HONEST_FIRST):
        try:
            cr.one_replica_is_never_believed(run, order, frozenset({mutant}))
        except CheckFailed as failed:
            assert "OneReplicaIsNeverBelieved violated" in str(failed)
            return True
    return False


@pytest.mark.parametrize("timestamp", [False, True])
def test_a_reply_lying_in_everything_is_never_believed(timestamp: bool) -> None:
    """The unmutated client waits for f+1 = 2 honest replies whatever comes first; each mutant
    takes the lie in one of the two orders."""
    run = {**COMBINED, "liars": {"r4": LyingReplies(timestamp=timestamp)}}
    assert cr.reply_count(run) == 6 + 16
    for order in (LIAR_FIRST, HONEST_FIRST):
        cr.one_replica_is_never_believed(run, order, frozenset())
    assert [m for m in MUTANTS if not _killed(run, m)] == []


def test_a_liar_costs_the_mutated_client_the_right_answer_in_a_run() -> None:
    """LatencyUnderOneLiar on its own kills the clients that count the replica a reply names or
    count one replica's copies: the liar's wrong result, in every replica's name and twice, is
    the answer."""
    for mutant in (mutants.CLIENT_REPLY_SRC_NOT_CHECKED, mutants.CLIENT_COUNTS_DUPLICATE_REPLIES):
        problems = [
            cr.latency_under_one_liar(seed, "r3", "lying_replies", frozenset({mutant}))
            for seed in range(4)
        ]
        assert any(p is not None and "answered ('lie'" in p for p in problems), problems
    assert cr.latency_under_one_liar(0, "r3", "lying_replies", frozenset()) is None


def test_a_client_that_confirms_the_first_reply_is_late() -> None:
    """The latency bound on its own kills the client that counts only replies agreeing with the
    first: where r3's wrong result comes first for a request, it ignores every correct reply."""
    mutant = frozenset({mutants.CLIENT_FIRST_REPLY_DECIDES})
    late = [cr.latency_under_one_liar(seed, "r3", "lie_result", mutant) for seed in range(4)]
    assert any(p is not None and "not answered 59 ticks" in p for p in late), late
    assert [
        cr.latency_under_one_liar(seed, "r3", "lie_result", frozenset()) for seed in range(4)
    ] == [None] * 4


def _mouth(seed: int = 0) -> Mouth:
    replicas = ("r1", "r2", "r3", "r4")
    keys = KeyRing(seed, (*replicas, "c1", "c2"))
    return Mouth("r2", replicas, ("c1", "c2"), keys.signer("r2"), random.Random(seed))


TRUE = ReplyMsg("c1", 2, "x", "r2")


@pytest.mark.parametrize(
    ("lie", "sent"),
    [
        (LieToClient("result"), [("c1", ReplyMsg("c1", 2, lied("x"), "r2"))]),
        (LieToClient("timestamp"), [("c1", ReplyMsg("c1", 1, "x", "r2"))]),
        (
            LieToClient("src"),
            [("c1", ReplyMsg("c1", 2, lied("x"), r)) for r in ("r2", "r1", "r3", "r4")],
        ),
        (LieToClient("client"), [("c2", ReplyMsg("c2", 2, "x", "r2"))]),
        (LieToClient("duplicate", copies=2), [("c1", ReplyMsg("c1", 2, lied("x"), "r2"))] * 2),
    ],
)
def test_each_lie_is_what_it_says(lie: LieToClient, sent: list[tuple[str, ReplyMsg]]) -> None:
    out = lie.act(_mouth(), [Send("c1", TRUE)])
    assert [(e.dest, e.message) if isinstance(e, Send) else e for e in out] == sent
    other = Send("r1", ReplyMsg("c1", 2, "x", "r1"))  # not its own reply: left alone
    assert lie.act(_mouth(), [other]) == [other]


def test_fuzzed_replies_change_a_field_and_some_claim_a_peer() -> None:
    mouth = _mouth(7)
    for t in range(1, 60):
        FuzzReplies().act(mouth, [Send("c1", ReplyMsg("c1", t, f"x{t}", "r2"))])
    assert len(mouth.sent) > 40
    assert any(f.message.src != "r2" for f in mouth.sent)  # in a peer's name
    assert any(f.message.src == "r2" and f.how != "replayed" for f in mouth.sent)


def test_the_replicas_take_the_lies_by_name() -> None:
    assert set(REPLY_BEHAVIOURS) <= set(BEHAVIOURS)
    assert REPLY_BEHAVIOURS["lie_src"] == LieToClient("src")


@pytest.mark.slow
def test_no_false_alarm_over_200_runs_each() -> None:
    """The measurement: 200 drawn runs of each property on the unmutated client and cores."""
    took = cr.REPLIES.measure(hypothesis.settings(QUICK, max_examples=200))
    print(f"400 runs held in {took:.1f} s")
