"""NoWrongRefusal for the gossip core (property_tests/gossip/refusals.py): a member that is up
refuses no status read or write, a node that is not a member may; the free runs' calm asks every
live member both; the mutant `read_refused_while_suspecting` fails it, where the free runs' other
checks hold."""

from __future__ import annotations

import pytest

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.gossip import mutants
from meshcheck.impl.gossip.messages import LeaveCluster
from meshcheck.impl.gossip.simulation import gossip_cluster
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.gossip import free_runs
from meshcheck.property_tests.gossip import refusals
from meshcheck.property_tests.gossip.refusals import CALM_IDS
from meshcheck.property_tests.gossip.refusals import Requests
from meshcheck.property_tests.gossip.refusals import calm_requests
from meshcheck.property_tests.gossip.refusals import wrong_refusal
from meshcheck.property_tests.refusals import Tally

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)

# a free run whose calm has members suspecting a node killed at the end of the faults
KILLED = Schedule(seed=2, ticks=1000, partition=0.6, every=200, window=4, kill=1, tail=10)


def test_a_member_that_left_may_refuse_a_member_may_not() -> None:
    sim = gossip_cluster(3, seed=1, record=False)
    requests = Requests(sim)
    sim.run(until=2000)
    sim.inject("n3", LeaveCluster())
    sim.inject("n3", ClientRequest(("k1", "v"), request_id=1))  # "n3 is not a member"
    tally = Tally()
    assert wrong_refusal(sim, requests, tally) is None
    assert sum(tally.allowed.values()) == 1 and not tally.wrong
    assert calm_requests(sim, ("k1",)) is None
    asked = {(i, rid) for i, rid in requests.seen if rid >= CALM_IDS}
    assert {i for i, _ in asked} == {"n1", "n2"} and len(asked) == 4  # a read and a write each
    assert wrong_refusal(sim, requests) is None


def test_a_read_refused_while_suspecting_is_a_wrong_refusal() -> None:
    bugs = frozenset({mutants.READ_REFUSED_WHILE_SUSPECTING})
    assert free_runs.once(KILLED, 3, frozenset(), record=False).problem is None
    problem = free_runs.once(KILLED, 3, bugs, record=False).problem
    assert problem is not None and problem.startswith("NoWrongRefusal: status read of k"), problem
    assert "('node down: n" in problem and "though it was up and a member" in problem


def test_the_checks_before_it_hold_on_that_mutant(monkeypatch: pytest.MonkeyPatch) -> None:
    """The class the property is for: the read check looks at answered reads only."""
    monkeypatch.setattr(refusals, "wrong_refusal", lambda *_: None)
    bugs = frozenset({mutants.READ_REFUSED_WHILE_SUSPECTING})
    assert free_runs.once(KILLED, 3, bugs, record=False).problem is None
