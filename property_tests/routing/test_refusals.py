"""NoWrongRefusal for the manager (property_tests/routing/refusals.py): the scenario holds and
serves every type with a node down in each layer; its classifier allows what the design allows and
nothing else; the mutant `status_node_down_kept` fails it, with the property, the op, the time and
the promise, where the older routing checks hold."""

from __future__ import annotations

import attrs
import pytest

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.hybrid.machine import BEYOND_SWITCH
from meshcheck.impl.manager import Answer
from meshcheck.impl.manager import How
from meshcheck.impl.manager import Layer
from meshcheck.impl.manager import Manager
from meshcheck.impl.manager import NoAnswer
from meshcheck.impl.manager import OpType
from meshcheck.impl.manager.mutants import STATUS_NODE_DOWN_KEPT
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.refusals import Allowed
from meshcheck.property_tests.refusals import Promised
from meshcheck.property_tests.routing.free_runs import scenario
from meshcheck.property_tests.routing.observe import Seen
from meshcheck.property_tests.routing.refusals import SEEDS
from meshcheck.property_tests.routing.refusals import Situation
from meshcheck.property_tests.routing.refusals import classify
from meshcheck.property_tests.routing.refusals import refusals_scenario
from meshcheck.property_tests.routing.refusals import scenario_run

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_type_is_served_with_a_node_down_in_each_layer(seed: int) -> None:
    m, watch = scenario_run(seed)
    assert [s.error for s in watch.seen] == [None] * 9
    assert all(s.answer is not None and s.answer.how is not How.NOT_DECIDED for s in watch.seen)
    # the middle three were submitted with the first gossip member down (and r1, a Raft follower)
    during = watch.situations[5]
    assert during is not None and m.gossip.node_ids[0] not in during.live and during.live
    refusals_scenario(frozenset())


def test_a_status_node_down_kept_is_a_wrong_refusal() -> None:
    with pytest.raises(CheckFailed) as failed:
        refusals_scenario(frozenset({STATUS_NODE_DOWN_KEPT}))
    message = failed.value.message
    assert failed.value.violated is not None and failed.value.violated.name == "NoWrongRefusal"
    assert message.startswith(
        "NoWrongRefusal: status op #6 refused by the manager (gossip layer) at t="
    ), message
    assert "'NoAnswer: op 6: gossip node n1 is down'" in message
    assert "though gossip members n2, n3, n4, n5 were up" in message
    assert "(refusals scenario, seed 1)" in message


def test_the_routing_scenario_does_not_see_it() -> None:
    """The class the property is for: the routing invariants read a status write without an
    answer as the gossip layer's loss (observe.py), and the deterministic scenario crashes
    nothing."""
    scenario(frozenset({STATUS_NODE_DOWN_KEPT}))


def _seen(kind: OpType, answer: Answer | None = None, error: ImplError | None = None) -> Seen:
    return Seen(kind, None, answer, error, (), ())


@pytest.fixture(scope="module")
def manager() -> Manager:
    return Manager(seed=0)


def test_what_the_classifier_allows(manager: Manager) -> None:
    no = NoAnswer("no answer")
    faulty = Situation(OpType.CRITICAL, 100, unhealthy="faults strike until t=600")
    assert isinstance(
        classify(manager, 1, _seen(OpType.STATUS, error=no), Situation(OpType.STATUS, 5)), Allowed
    )
    assert isinstance(classify(manager, 1, _seen(OpType.CRITICAL, error=no), faulty), Allowed)
    at = attrs.evolve(faulty, kind=OpType.COORDINATION)
    assert isinstance(classify(manager, 1, _seen(OpType.COORDINATION, error=no), at), Allowed)
    rejected = Answer(
        1, OpType.COORDINATION, Layer.HYBRID, How.NOT_DECIDED, False,
        detail=f"rejected 5 times: {BEYOND_SWITCH}",
    )  # fmt: skip
    healthy = Situation(OpType.COORDINATION, 100)
    assert isinstance(classify(manager, 1, _seen(OpType.COORDINATION, rejected), healthy), Allowed)
    assert isinstance(
        classify(manager, 1, Seen("telemetry", None, None, no, (), ()), None), Allowed
    )


def test_what_the_classifier_says_was_promised(manager: Manager) -> None:
    no = NoAnswer("node down")
    for kind in OpType:
        at = Situation(kind, 100, live=("n2",) if kind is OpType.STATUS else ())
        verdict = classify(manager, 1, _seen(kind, error=no), at)
        assert isinstance(verdict, Promised), (kind, verdict)
    at = Situation(OpType.STATUS, 100, live=("n2",))
    # the member that took a status write crashed before it answered: allowed
    crashed = classify(manager, 1, _seen(OpType.STATUS, error=no), at, frozenset({1}))
    assert isinstance(crashed, Allowed)
    signature = Answer(
        1, OpType.COORDINATION, Layer.HYBRID, How.NOT_DECIDED, False,
        detail="rejected 5 times: bad client signature",
    )  # fmt: skip
    healthy = Situation(OpType.COORDINATION, 100)
    verdict = classify(manager, 1, _seen(OpType.COORDINATION, signature), healthy)
    assert isinstance(verdict, Promised) and "healthy" in verdict.why
