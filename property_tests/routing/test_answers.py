"""ManagerAnswers (property_tests/routing/answers.py): the pending scenario holds and exercises what
it is for; the mutant `reply_of_another_request` fails it where the routing checks hold; the
history it builds reads no answer as `info` and "not decided" as `fail`, leaves status writes and
refused types out, and sees an answer that belongs to another operation, a reply given twice, and a
pending op that took effect."""

from __future__ import annotations

import math
from typing import Any

import pytest

from meshcheck.impl.base import quorum
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.manager import Answer
from meshcheck.impl.manager import How
from meshcheck.impl.manager import Layer
from meshcheck.impl.manager import Manager
from meshcheck.impl.manager import NoAnswer
from meshcheck.impl.manager import OpType
from meshcheck.impl.manager import UnknownOperationType
from meshcheck.impl.manager.mutants import REPLY_OF_ANOTHER_REQUEST
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.routing.answers import answers_problem
from meshcheck.property_tests.routing.answers import layer_histories
from meshcheck.property_tests.routing.free_runs import scenario
from meshcheck.property_tests.routing.observe import Seen
from meshcheck.property_tests.routing.observe import routing_problem
from meshcheck.property_tests.routing.pending import SEEDS
from meshcheck.property_tests.routing.pending import pending_run
from meshcheck.property_tests.routing.pending import pending_scenario
from meshcheck.property_tests.routing.refusals import refusals_scenario

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)

BUG = frozenset({REPLY_OF_ANOTHER_REQUEST})


def test_the_pending_scenario_holds() -> None:
    pending_scenario(frozenset())


def test_its_outages_leave_ops_pending_and_a_pending_op_takes_effect() -> None:
    m, sub, missed = pending_run(SEEDS[0])
    assert missed == ""
    histories = layer_histories(sub.seen)
    statuses = {layer: [o.status for o in ops] for layer, ops in histories.items()}
    assert statuses == {
        "PBFT": ["ok", "info", "ok", "info", "ok", "ok", "ok"],
        "hybrid": ["ok", "info", "ok", "ok", "ok"],
    }
    # op #3 (critical, key a2) was left pending; op #6 (key a2) answered that the key existed
    pending, later = histories["PBFT"][1], histories["PBFT"][4]
    assert (pending.index, later.index) == (3, 6)
    assert later.output == FrozenDict({"ok": True, "key": "a2", "existed": True})
    assert answers_problem(m, sub.seen) is None


def test_the_mutant_is_killed_where_the_routing_checks_hold() -> None:
    m, sub, _ = pending_run(SEEDS[0], BUG)
    assert routing_problem(m, sub.seen) is None  # the answer names a request PBFT executed
    with pytest.raises(CheckFailed) as failed:
        pending_scenario(BUG)
    message = failed.value.message
    assert failed.value.violated is not None and failed.value.violated.name == "ManagerAnswers"
    assert message.startswith(
        "ManagerAnswers: the manager's answers of PBFT operations are not linearizable"
    ), message
    assert "no answer (pending)" in message and message.endswith(
        f"(pending scenario, seed {SEEDS[0]})"
    )
    # the routing scenario and the refusals scenario leave no op pending: they pass it
    scenario(BUG)
    refusals_scenario(BUG)


# -- hand-made histories ---------------------------------------------------------------------------

PBFT, HYBRID = 2, 3  # the counters (observe.py) of the PBFT requests and the hybrid proposals


def _result(key: str, existed: bool) -> FrozenDict:
    return FrozenDict({"ok": True, "key": key, "existed": existed})


def _seen(
    k: int, data: Any, told: Answer | ImplError, at: int | None = PBFT, given: Any = "critical"
) -> Seen:
    """Op #k as its submitter saw it, handed to the layer whose counter is `at` (None: to none)."""
    before = (0, 0, 0, 0, 0)
    after = tuple(n + (1 if i == at else 0) for i, n in enumerate(before))
    if isinstance(told, Answer):
        return Seen(given, data, told, None, before, after)
    return Seen(given, data, None, told, before, after)


def _ok(k: int, result: FrozenDict) -> Answer:
    return Answer(k, OpType.CRITICAL, Layer.PBFT, How.BFT_QUORUM, True, result)


@pytest.fixture(scope="module")
def manager() -> Manager:
    return Manager(seed=0)


def test_what_goes_into_each_layers_history(manager: Manager) -> None:
    rejected = Answer(4, OpType.COORDINATION, Layer.HYBRID, How.NOT_DECIDED, False)
    status = Answer(5, OpType.STATUS, Layer.GOSSIP, How.GOSSIPED, False, "up")
    seen = [
        _seen(1, Custom("a0", 1), _ok(1, _result("a0", False))),
        _seen(2, Custom("a1", 2), NoAnswer("op 2: PBFT gave no answer")),
        _seen(3, Custom("b0", 3), NoAnswer("op 3: no answer"), HYBRID, "coordination"),
        _seen(4, Custom("b1", 4), rejected, HYBRID, "coordination"),
        _seen(5, ("m0", "up"), status, None, "status"),
        _seen(6, {"metric": "m0"}, UnknownOperationType("telemetry"), None, "telemetry"),
    ]
    histories = layer_histories(seen)
    assert [(o.index, o.status, o.call, o.ret) for o in histories["PBFT"]] == [
        (1, "ok", 2, 3),
        (2, "info", 4, math.inf),
    ]
    assert [(o.index, o.status) for o in histories["hybrid"]] == [(3, "info"), (4, "fail")]
    assert histories["PBFT"][0].input == to_value(Custom("a0", 1))
    assert answers_problem(manager, seen) is None


def test_an_answer_of_another_op_is_seen(manager: Manager) -> None:
    """Op #3 is answered with op #2's result (op #2 had no answer in time): another key."""
    seen = [
        _seen(1, Custom("a0", 1), _ok(1, _result("a0", False))),
        _seen(2, Custom("a1", 2), NoAnswer("op 2: PBFT gave no answer")),
        _seen(3, Custom("a2", 3), _ok(3, _result("a1", False))),
    ]
    problem = answers_problem(manager, seen)
    assert problem is not None and problem.startswith("ManagerAnswers: "), problem
    assert "op #3" in problem and "'key': 'a1'" in problem


def test_a_reply_given_twice_is_seen(manager: Manager) -> None:
    """Op #2 writes the key op #1 wrote, and is given op #1's reply again: the key existed then."""
    first = _result("a0", False)
    seen = [
        _seen(1, Custom("a0", 1), _ok(1, first)),
        _seen(2, Custom("a0", 2), _ok(2, first)),
    ]
    problem = answers_problem(manager, seen)
    assert problem is not None and "op #2" in problem, problem


def test_a_pending_op_may_have_taken_effect_and_a_failed_one_not(manager: Manager) -> None:
    """Op #1 had no answer, and op #2 finds its key: it took effect (info allows it). Had the
    layer said it failed (a hybrid rejection: "not decided"), the same answer is a contradiction."""
    later = _seen(2, Custom("b0", 2), _ok(2, _result("b0", True)), HYBRID, "coordination")
    pending = _seen(1, Custom("b0", 1), NoAnswer("op 1: no answer"), HYBRID, "coordination")
    assert answers_problem(manager, [pending, later]) is None
    rejected = Answer(1, OpType.COORDINATION, Layer.HYBRID, How.NOT_DECIDED, False)
    failed = _seen(1, Custom("b0", 1), rejected, HYBRID, "coordination")
    problem = answers_problem(manager, [failed, later])
    assert problem is not None and "op #1 " in problem and "not decided" in problem, problem


def test_a_dispatcher_counting_replies_to_any_request_is_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug of the same class one layer down (mutation/routing.toml's
    `hybrid_votes_from_any_request`): the hybrid dispatcher's client counts a node's reply to any
    of its requests as a vote on the proposal at hand, so the late replies to the coordination op
    left pending decide the next one, with the pending op's result. The routing invariants hold;
    ManagerAnswers does not."""

    def decide(self: HybridConsensus, ids: dict[int, str], op: Any, out: list[Any]) -> bool:
        votes: dict[tuple[str, Any], set[str]] = {}
        for node, reply in self.sim.replies[self._first_reply :]:
            if node in ids.values():  # the bug: not `ids.get(reply.request_id) == node`
                votes.setdefault((reply.error, reply.result), set()).add(node)
        for (error, result), voters in votes.items():
            if quorum.reaches(voters, quorum.one_correct(self.f)):
                out.append(self._decision(op, error, result))
                return True
        return False

    monkeypatch.setattr(HybridConsensus, "_decide", decide)
    m, sub, _ = pending_run(13)
    assert routing_problem(m, sub.seen) is None
    problem = answers_problem(m, sub.seen)
    assert problem is not None and problem.startswith(
        "ManagerAnswers: the manager's answers of hybrid operations are not linearizable"
    ), problem
    assert "op #8 " in problem and "answered FrozenDict({'ok': True, 'key': 'b2'" in problem


def test_an_answer_a_consensus_op_cannot_have_is_a_failure_not_a_crash(manager: Manager) -> None:
    """Not agreed, yet not "not decided" (a status write's answer given to a critical op)."""
    odd = Answer(1, OpType.CRITICAL, Layer.PBFT, How.GOSSIPED, False, "up")
    problem = answers_problem(manager, [_seen(1, Custom("a0", 1), odd)])
    assert problem is not None and problem.startswith("ManagerAnswers: op #1, handed to PBFT, "), (
        problem
    )
