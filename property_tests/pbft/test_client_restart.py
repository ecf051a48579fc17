"""The scripted client-restart scenario (property_tests/pbft/client_restart.py) under pytest: the
correct group and client pass it in each variant, with one cycle and with three, and in the loaded
Hypothesis profile; the mutant it is for fails it; and the replica bug it found stays fixed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.client_restart import SCRIPTED
from meshcheck.property_tests.pbft.client_restart import VARIANTS
from meshcheck.property_tests.pbft.client_restart import N
from meshcheck.property_tests.pbft.client_restart import check_client_restart
from meshcheck.property_tests.pbft.client_restart import client_restart_check
from meshcheck.property_tests.pbft.free_runs import TIMING
from meshcheck.property_tests.pbft.free_runs import rsm_op
from meshcheck.property_tests.scenarios import caught
from meshcheck.property_tests.scenarios import crashes
from meshcheck.property_tests.scenarios import held

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


@pytest.mark.parametrize("cycles", [1, 3])
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_restarted_client_is_answered_once_for_each_request(variant: str, cycles: int) -> None:
    schedules = [
        Schedule(seed=seed, ticks=0, variant=variant, cycles=cycles, writes=2) for seed in range(2)
    ]
    for s in held(SCRIPTED, N, schedules):
        assert len(crashes(s.sim)) == cycles * (2 if variant == "primary" else 1), s.sim.fault_log
        # the client's timestamps went on across its restarts: one per request, none reused
        assert s.client().timestamp == len(s.sent)
        assert s.sim.history is not None
        assert len(s.sim.history.history()) == len(s.sent)


def test_the_check_holds_in_the_loaded_profile() -> None:
    client_restart_check(frozenset(), settings())


def test_a_client_that_counts_its_timestamps_from_0_again_is_caught() -> None:
    schedule = Schedule(seed=0, ticks=0, variant="client", cycles=1, writes=2)
    bugs = frozenset({mutants.CLIENT_TIMESTAMP_RESET})
    problem = caught(check_client_restart, schedule, N, bugs)
    assert "the restarted client's new requests" in problem, problem


def test_replicas_do_not_answer_another_request_under_an_executed_timestamp() -> None:
    """The bug the scenario found: a request under the (client, timestamp) of an executed one, with
    another operation, was answered from the table of executed requests (section 4.1's retry
    rule): each replica signed a reply naming a request it never executed, with the other's
    result, and f+1 of them made the client accept it. A faulty client can send that as well as
    a restarted one: the replicas must drop it."""
    timing: dict[str, Any] = dict(TIMING)
    sim = pbft_cluster(N, seed=3, clients=("c1",), **timing)
    sim.inject("c1", ClientRequest(rsm_op(1)))
    sim.run(until=500)
    assert [op for _, op in sim.nodes["c1"].accepted] == [repr(rsm_op(1))]
    other = Request("c1", 1, rsm_op(2))  # timestamp 1 again, another operation
    signed = Signed(other, "c1", sim.plugin.keys.signer("c1").sign(signing_bytes(other)))  # type: ignore[attr-defined]
    for r in ("r1", "r2", "r3", "r4"):
        sim.inject(r, Deliver("c1", signed, sim.now))
    replies = [
        e.message.body
        for e in sim.in_flight()
        if isinstance(e.message, Signed) and isinstance(e.message.body, Reply)
    ]
    assert not [b for b in replies if b.request == other]
    sim.run(until=1500)
    assert [op for _, op in sim.nodes["c1"].accepted] == [repr(rsm_op(1))]
    # the request executed under that timestamp, sent again (a retry), is still answered
    retry = sim.nodes["c1"]._sent[1]
    sim.inject("r2", Deliver("c1", retry, sim.now))
    answers = [
        e.message.body
        for e in sim.in_flight()
        if e.source == "r2" and isinstance(e.message, Signed) and isinstance(e.message.body, Reply)
    ]
    assert [b.request for b in answers] == [retry.body]
