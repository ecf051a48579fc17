"""impl/manager: the routing table, the answers, refusals, and one seed for every layer."""

from __future__ import annotations

import pytest

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.manager import ROUTES
from meshcheck.impl.manager import How
from meshcheck.impl.manager import Layer
from meshcheck.impl.manager import Manager
from meshcheck.impl.manager import OpType
from meshcheck.impl.manager import UnknownOperationType
from meshcheck.impl.manager import op_type
from meshcheck.impl.manager import route
from meshcheck.impl.manager.mutants import CRITICAL_TO_RAFT_AT_NONE
from meshcheck.impl.rsm.ops import Custom
from meshcheck.property_tests.routing.observe import Submitter
from meshcheck.property_tests.routing.observe import counters
from meshcheck.property_tests.routing.observe import routing_problem

LEVELS = ("None", "Low", "Medium", "High", "Critical")


def test_the_routing_table_is_total_and_ignores_the_level() -> None:
    assert dict(ROUTES) == {
        OpType.CRITICAL: Layer.PBFT,
        OpType.COORDINATION: Layer.HYBRID,
        OpType.STATUS: Layer.GOSSIP,
    }
    for kind in OpType:
        assert op_type(kind.value) is kind and op_type(kind) is kind
        assert {route(kind, level) for level in LEVELS} == {ROUTES[kind]}
    assert route(OpType.CRITICAL, "None", frozenset({CRITICAL_TO_RAFT_AT_NONE})) is Layer.HYBRID


@pytest.mark.parametrize("given", ["CRITICAL", "telemetry", "", 3, None])
def test_an_unknown_type_names_itself_and_the_known_ones(given: object) -> None:
    with pytest.raises(UnknownOperationType) as refused:
        op_type(given)  # type: ignore[arg-type]
    message = str(refused.value)
    assert repr(given) in message
    assert "known types: critical, coordination, status" in message
    assert isinstance(refused.value, ImplError)


def test_answers_say_which_layer_decided_and_how() -> None:
    m = Manager(seed=3)
    critical = m.submit("critical", Custom("a", 1))
    assert (critical.layer, critical.how, critical.agreed) == (Layer.PBFT, How.BFT_QUORUM, True)
    assert critical.where[0] == "c1" and critical.where[2] == 1  # sequence number 1
    assert critical.detail == "sequence number 1, 2 matching replies"
    coordination = m.submit(OpType.COORDINATION, Custom("b", 2))
    assert (coordination.layer, coordination.how) == (Layer.HYBRID, How.RAFT_MAJORITY)
    assert coordination.level == "None" and coordination.detail.startswith("epoch 1 (raft)")
    assert critical.result["existed"] is coordination.result["existed"] is False  # type: ignore[index]
    assert str(coordination) == "op 2 (coordination): hybrid, a Raft majority, agreed"
    assert m.now == max(m.pbft.now, m.hybrid.sim.now)


def test_an_unknown_type_is_refused_with_nothing_lost() -> None:
    m = Manager(seed=3)
    submit = Submitter(m)
    submit("critical", Custom("a", 1))
    before = counters(m)
    assert submit("Critical", {"x": 1}) is None
    assert counters(m) == before  # no layer was handed anything, no clock moved
    (refused,) = m.refused
    assert (refused.id, refused.given, refused.data) == (2, "Critical", {"x": 1})
    assert isinstance(submit.seen[-1].error, UnknownOperationType)
    assert m.metrics()["refused"] == 1 and m.metrics()["submitted"] == 1
    assert routing_problem(m, submit.seen) is None


def test_a_status_write_is_gossiped_at_once_and_not_agreed() -> None:
    m = Manager(seed=3)
    m.submit("critical", Custom("a", 1))
    before = counters(m)
    status = m.submit("status", ("cpu", "71%"))
    after = counters(m)
    assert (status.layer, status.how, status.agreed) == (Layer.GOSSIP, How.GOSSIPED, False)
    assert after[:4] == before[:4] and after[4] == before[4] + 1  # only gossip moved
    node, key, version = status.where
    assert (key, version, status.result) == ("cpu", 1, "71%")
    assert m.gossip.nodes[node].entries["cpu"].value == "71%"
    assert m.submit("status", {"cpu": 72}).where == (node, "cpu", 2)
    with pytest.raises(ImplError, match="a status write is"):
        m.submit("status", Custom("x", 1))


def test_one_seed_gives_the_same_run_in_every_layer() -> None:
    def run(seed: int) -> list[tuple[object, ...]]:
        m = Manager(seed=seed)
        answers = [
            m.submit(t, Custom(f"k{k}", k)) for k, t in enumerate(["critical", "coordination"] * 2)
        ]
        return [(a.how, a.result, a.time, a.detail, a.where) for a in answers]

    assert run(11) == run(11)
    assert Manager(seed=11).seeds == Manager(seed=11).seeds != Manager(seed=12).seeds


def test_an_unknown_mutant_name_is_refused() -> None:
    with pytest.raises(ImplError, match="no manager mutant nope"):
        Manager(bugs=frozenset({"nope"}))
