"""The scripted restart scenario of HotStuff (property_tests/hotstuff/restart.py) under pytest: the
correct group and client pass it in each variant, with one cycle and with three, and in the loaded
Hypothesis profile; the mutant it is for fails it; and the replica bug it found stays fixed."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.hotstuff import mutants
from meshcheck.impl.hotstuff.messages import ReplyMsg
from meshcheck.impl.hotstuff.messages import Request
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import request_bytes
from meshcheck.impl.hotstuff.simulation import HotStuffPlugin
from meshcheck.impl.hotstuff.simulation import hotstuff_cluster
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff.free_runs import MAX_BACKOFF
from meshcheck.property_tests.hotstuff.free_runs import TIMEOUT
from meshcheck.property_tests.hotstuff.restart import CLIENT
from meshcheck.property_tests.hotstuff.restart import SCRIPTED
from meshcheck.property_tests.hotstuff.restart import VARIANTS
from meshcheck.property_tests.hotstuff.restart import N
from meshcheck.property_tests.hotstuff.restart import check_restart
from meshcheck.property_tests.hotstuff.restart import restart_scenario_check
from meshcheck.property_tests.pbft.free_runs import rsm_op
from meshcheck.property_tests.scenarios import caught
from meshcheck.property_tests.scenarios import crashes
from meshcheck.property_tests.scenarios import held

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


@pytest.mark.parametrize("cycles", [1, 3])
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_restarted_leader_leads_again_and_every_request_is_answered(
    variant: str, cycles: int
) -> None:
    schedules = [
        Schedule(seed=seed, ticks=0, variant=variant, cycles=cycles, writes=2) for seed in range(2)
    ]
    for s in held(SCRIPTED, N, schedules):
        assert len(crashes(s.sim)) == cycles * (2 if variant == "both" else 1), s.sim.fault_log
        assert not s.missing()
        if variant != "leader":  # the client went on from its persisted clock
            assert s.sim.nodes[CLIENT].timestamp == len(s.sent)


def test_the_check_holds_in_the_loaded_profile() -> None:
    restart_scenario_check(frozenset(), settings())


def test_a_client_that_counts_its_timestamps_from_0_again_is_caught() -> None:
    schedule = Schedule(seed=0, ticks=0, variant="client", cycles=1, writes=2)
    bugs = frozenset({mutants.CLIENT_TIMESTAMP_RESET})
    problem = caught(check_restart, schedule, N, bugs)
    assert "under timestamp 1, which named" in problem, problem


def test_replicas_do_not_answer_another_request_under_an_executed_timestamp() -> None:
    """The bug the scenario found: a replica answered a request under the (client, timestamp) of
    an executed one with that one's result; the reply names the timestamp only, so f+1 such
    replies made the client accept a result for an operation that never ran. A faulty client
    can send that as well as a restarted one: the replicas must drop it."""
    sim = hotstuff_cluster(N, seed=2, timeout=TIMEOUT, max_backoff=MAX_BACKOFF)
    plugin: HotStuffPlugin = sim.plugin  # type: ignore[assignment]
    sim.inject(CLIENT, ClientRequest(rsm_op(1)))
    sim.run(until=500)
    assert plugin.replica("r1").results  # executed under (c1, 1)
    other = Request(CLIENT, 1, rsm_op(2))  # timestamp 1 again, another operation
    forged = SignedRequest(other, plugin.keys.signer(CLIENT).sign(request_bytes(other)))
    for r in plugin.replicas:
        sim.inject(r, Deliver(CLIENT, forged, sim.now))
    assert not [e for e in sim.in_flight() if isinstance(e.message, ReplyMsg)]
    # the request executed under that timestamp, sent again (a retry), is still answered
    (executed,) = plugin.replica("r1").executed_requests.values()
    retry = SignedRequest(executed, plugin.keys.signer(CLIENT).sign(request_bytes(executed)))
    sim.inject("r2", Deliver(CLIENT, retry, sim.now))
    answers = [e.message for e in sim.in_flight() if isinstance(e.message, ReplyMsg)]
    assert [(a.src, a.timestamp) for a in answers] == [("r2", 1)]
