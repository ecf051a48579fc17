"""Raft with and without pre-vote (Ongaro's thesis, section 9.6): a constant of the model
(specs/Raft.tla's PreVote), an option of the core (RaftConfig.pre_vote), and
`meshcheck validate --set PreVote=TRUE` for an implementation that runs a pre-election."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import without_actions
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.raft import CANDIDATE
from meshcheck.impl.raft import ELECTION
from meshcheck.impl.raft import FOLLOWER
from meshcheck.impl.raft import LEADER
from meshcheck.impl.raft import PRE_CANDIDATE
from meshcheck.impl.raft import AppendEntriesRequest
from meshcheck.impl.raft import PreVoteRequest
from meshcheck.impl.raft import PreVoteResponse
from meshcheck.impl.raft import RaftConfig
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft import RequestVoteRequest
from meshcheck.impl.raft import RequestVoteResponse
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.raft.node import HARD
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.log_duplicates import model_run
from meshcheck.specs import spec_file
from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import check as run_tlc
from tests import variant_logs

SERVERS = ("s1", "s2", "s3")
SCHEDULE = Schedule(seed=11, ticks=900, drop=0.05, duplicate=0.05, delay=0.1, crash=0.3)


@pytest.mark.slow  # the same model and count as `make verify`'s row Raft_prevote_quick (every profile)
def test_the_spec_with_pre_vote_holds_with_its_recorded_state_count() -> None:
    r = run_tlc(
        spec_file("Raft.tla"), spec_file("Raft_prevote_quick.cfg"), workers=1, deadlock=False
    )
    assert r.outcome is Outcome.HOLDS, r.message
    assert r.distinct == 74343


# -- the rule, one node by hand ----------------------------------------------------------------------


class Box:
    """One node with pre-vote on, started with a term and no vote: step it by hand."""

    def __init__(self, node_id: str = "s1", term: int = 0) -> None:
        self.node = RaftNode(RaftConfig(node_id, SERVERS, pre_vote=True), random.Random(0))
        self.node.step(Restart({HARD: (term, None)}))

    def step(self, event: Any) -> list[Effect]:
        return without_actions(self.node.step(event))

    def deliver(self, message: Any) -> list[Effect]:
        return self.step(Deliver(message.source, message))


def sent(effects: list[Effect]) -> list[Any]:
    return [e.message for e in effects if isinstance(e, Send)]


def test_a_pre_election_changes_no_term_and_no_vote() -> None:
    """Thesis 9.6: at its election timeout a server asks whether it would win the next term,
    without starting it: its term and vote stay, nothing is persisted, the timer is reset."""
    box = Box(term=3)
    effects = box.step(Tick(ELECTION))
    node = box.node
    assert (node.role, node.term, node.voted_for, node.votes_granted) == (
        PRE_CANDIDATE,
        3,
        None,
        frozenset({"s1"}),
    )
    assert not any(isinstance(e, Persist) for e in effects)
    assert [e.timer for e in effects if isinstance(e, SetTimer)] == [ELECTION]
    assert sent(effects) == [
        PreVoteRequest("s1", "s2", 4, 0, 0),
        PreVoteRequest("s1", "s3", 4, 0, 0),
    ]


def test_granting_a_pre_vote_changes_nothing_and_a_current_leader_is_not_given_up() -> None:
    """Thesis 9.6: a server grants a pre-vote when it would grant the vote (a later term, a log
    at least as up to date) and has not heard from a current leader within its election timeout;
    granting changes no term and no vote (and the term rule does not apply to a pre-vote)."""
    box = Box("s2", term=3)
    effects = box.deliver(PreVoteRequest("s1", "s2", 4, 0, 0))
    assert sent(effects) == [PreVoteResponse("s2", "s1", 4, True)]
    assert not any(isinstance(e, Persist | SetTimer) for e in effects)
    assert (box.node.role, box.node.term, box.node.voted_for) == (FOLLOWER, 3, None)
    # not for a term it is in already
    assert sent(box.deliver(PreVoteRequest("s1", "s2", 3, 0, 0))) == [
        PreVoteResponse("s2", "s1", 3, False)
    ]
    # a follower that hears from the leader of its term refuses, and stays its follower
    box.deliver(AppendEntriesRequest("s3", "s2", 3, 0, 0, (), 0, 0))
    assert sent(box.deliver(PreVoteRequest("s1", "s2", 4, 0, 0))) == [
        PreVoteResponse("s2", "s1", 4, False)
    ]
    assert (box.node.role, box.node.term, box.node.leader) == (FOLLOWER, 3, "s3")


def test_a_leader_refuses_a_pre_vote() -> None:
    box = Box("s1", term=1)
    box.step(Tick(ELECTION))
    box.deliver(PreVoteResponse("s2", "s1", 2, True))
    box.deliver(RequestVoteResponse("s2", "s1", 2, True))
    assert box.node.role == LEADER
    assert sent(box.deliver(PreVoteRequest("s3", "s1", 3, 9, 9))) == [
        PreVoteResponse("s1", "s3", 3, False)
    ]
    assert (box.node.role, box.node.term) == (LEADER, 2)


def test_a_quorum_of_pre_votes_starts_the_election() -> None:
    """Only pre-votes for the term after the pre-candidate's own count; with a quorum (itself and
    one more of three) the election starts: the next term, its own vote, persisted, RequestVotes."""
    box = Box(term=1)
    box.step(Tick(ELECTION))
    assert box.deliver(PreVoteResponse("s2", "s1", 2, False)) == []  # refused
    assert box.deliver(PreVoteResponse("s2", "s1", 5, True)) == []  # another pre-election's
    assert box.node.role == PRE_CANDIDATE and box.node.votes_granted == frozenset({"s1"})
    effects = box.deliver(PreVoteResponse("s3", "s1", 2, True))
    assert (box.node.role, box.node.term, box.node.voted_for) == (CANDIDATE, 2, "s1")
    assert isinstance(effects[0], Persist)
    assert sent(effects) == [
        RequestVoteRequest("s1", "s2", 2, 0, 0),
        RequestVoteRequest("s1", "s3", 2, 0, 0),
    ]


def test_a_pre_candidate_steps_down_for_the_leader_of_its_term() -> None:
    box = Box(term=2)
    box.step(Tick(ELECTION))
    box.deliver(AppendEntriesRequest("s2", "s1", 2, 0, 0, (), 0, 0))
    assert (box.node.role, box.node.term, box.node.leader) == (FOLLOWER, 2, "s2")


# -- the point of pre-vote: a partitioned server that rejoins does not disrupt the leader ---------


@pytest.mark.parametrize("pre_vote", [True, False], ids=["with pre-vote", "without"])
def test_a_partitioned_server_that_rejoins_disrupts_the_leader_only_without_pre_vote(
    pre_vote: bool,
) -> None:
    """Thesis 9.6: a server cut off from the others times out again and again. Without pre-vote
    each timeout starts an election of a new term, and on rejoining its higher term deposes the
    leader; with it, the server never gets a quorum's pre-votes, so its term stays, and the
    leader keeps leading its term."""
    sim = raft_cluster(3, seed=5, pre_vote=pre_vote)
    sim.run(until=2_000)
    (leader,) = [k for k, n in sim.nodes.items() if n.role == LEADER]
    term = sim.nodes[leader].term
    cut = next(k for k in sorted(sim.nodes) if k != leader)
    sim.partition([[cut], [k for k in sim.nodes if k != cut]])
    sim.run(until=6_000)  # more than ten election timeouts
    assert (sim.nodes[cut].term == term) is pre_vote
    sim.heal()
    sim.run(until=9_000)
    leaders = [(k, n.term) for k, n in sim.nodes.items() if n.role == LEADER]
    if pre_vote:
        assert leaders == [(leader, term)]
    else:
        assert all(t > term for _, t in leaders)


# -- a core run's logs validate against the variant it ran with ------------------------------------


def logs(tmp_path: Path, *, pre_vote: bool) -> list[str]:
    sim = model_run(SCHEDULE, pre_vote=pre_vote)
    trace = sim.trace()
    actions = {step.action for step in trace.steps}
    assert ("PreVoteTimeout" in actions) is pre_vote
    assert ("Timeout" in actions) is not pre_vote
    assert {"HandlePreVoteRequest", "HandlePreVoteResponse"} <= actions or not pre_vote
    return variant_logs.written_logs(sim, trace, tmp_path / ("prevote" if pre_vote else "none"))


@pytest.mark.parametrize("pre_vote", [True, False], ids=["with pre-vote", "without"])
def test_a_log_validates_against_the_variant_it_was_run_with(
    pre_vote: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = logs(tmp_path, pre_vote=pre_vote)
    own = ["--set", "PreVote=TRUE"] if pre_vote else []
    other = ["--set", "PreVote=FALSE"] if pre_vote else ["--set", "PreVote=TRUE"]
    out = variant_logs.validated_by_own_only(paths, own, other, capsys)
    # the first record, the first election timeout, is the one no action explains
    first = "PreVoteTimeout(i=" if pre_vote else "Timeout(i="
    assert f".ndjson:1: {first}" in out
    assert ("false: PreVote " if pre_vote else "false: ~PreVote ") in out
