"""NoWrongRefusal for the Raft core in the calm after healing (property_tests/raft/refusals.py):
the leader serves a read and a write, each follower redirects both to its leader; the classifier
allows a read that waits for an entry of the leader's term and nothing else of the leader; the
mutant `read_redirect_without_leader` fails it, and the liveness check without it holds."""

from __future__ import annotations

import pytest

from meshcheck.impl.raft import mutants
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.raft.node import NOT_LEADER
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft import refusals
from meshcheck.property_tests.raft.free_runs import check_liveness
from meshcheck.property_tests.raft.free_runs import lagging
from meshcheck.property_tests.raft.free_runs import read_query
from meshcheck.property_tests.raft.free_runs import sole_leader
from meshcheck.property_tests.raft.free_runs import unique_write
from meshcheck.property_tests.raft.refusals import NO_TERM_ENTRY
from meshcheck.property_tests.raft.refusals import Asked
from meshcheck.property_tests.raft.refusals import calm_probe
from meshcheck.property_tests.raft.refusals import classify
from meshcheck.property_tests.refusals import Allowed
from meshcheck.property_tests.refusals import Promised
from meshcheck.property_tests.refusals import Tally

# a run with loss, crashes and partitions for 800 ticks, then calm
STORMY = Schedule(seed=417, ticks=800, drop=0.1, duplicate=0.05, crash=0.6, partition=0.3)


@pytest.mark.parametrize("servers", [3, 5])
def test_the_leader_serves_and_every_follower_redirects(servers: int) -> None:
    sim = raft_cluster(servers, seed=1, record=False)
    sim.run(until=3000, stop=lambda s: sole_leader(s) is not None and lagging(s) is None)
    leader = sole_leader(sim)
    assert leader is not None
    tally = Tally()
    assert calm_probe(sim, leader, unique_write, read_query, tally) is None
    redirect = "a follower redirects the client to the leader it follows (section 8)"
    assert tally.allowed == {redirect: 2 * (servers - 1)} and not tally.wrong  # a read and a write


def test_a_read_redirect_without_the_leader_is_a_wrong_refusal() -> None:
    bugs = frozenset({mutants.READ_REDIRECT_WITHOUT_LEADER})
    check_liveness(STORMY, 3, frozenset())
    with pytest.raises(CheckFailed) as failed:
        check_liveness(STORMY, 3, bugs)
    message = failed.value.message
    assert "NoWrongRefusal: read of" in message and "refused by s" in message, message
    assert "('not leader'), though s" in message and "here it named None" in message


def test_the_liveness_check_without_it_holds_on_that_mutant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The class the property is for: the workload gets past a redirect without a leader by trying
    another node, and the client histories take the error for a failed read."""
    monkeypatch.setattr(refusals, "calm_probe", lambda *_: None)
    check_liveness(STORMY, 3, frozenset({mutants.READ_REDIRECT_WITHOUT_LEADER}))


def _asked(node: str, what: str, committed: bool) -> Asked:
    return Asked(node, 1, what, 100, "s1", "s1", committed)


def test_what_the_classifier_allows_and_what_was_promised() -> None:
    read = "read of ''"
    assert isinstance(classify(_asked("s1", read, False), NO_TERM_ENTRY, "s1"), Allowed)
    assert isinstance(classify(_asked("s1", read, True), NO_TERM_ENTRY, "s1"), Promised)
    assert isinstance(classify(_asked("s1", "write 1", True), "no answer", None), Promised)
    assert isinstance(classify(_asked("s2", read, True), NOT_LEADER, "s1"), Allowed)
    assert isinstance(classify(_asked("s2", read, True), NOT_LEADER, "s3"), Promised)
    assert isinstance(classify(_asked("s2", read, True), "no answer", None), Promised)
