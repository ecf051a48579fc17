"""The client-history checks on the hybrid layer (property_tests/hybrid/free_runs.py's
`history_problem`): what HybridConsensus records (one operation per proposal), the nodes'
`applied_state` hook, and each of the five checks failing on an implementation broken for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid.byzantine import EquivocateRaft
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.instance import Instance
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.node import ended
from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.impl.rsm.ops import Custom
from meshcheck.property_tests.hybrid.free_runs import history_problem


def calm(ops: int = 6, seed: int = 3) -> HybridConsensus:
    """A fault-free cluster, `ops` Custom writes over two keys (results depend on the order)."""
    hc = HybridConsensus(4, seed=seed, give_up_after=3000)
    hc.run(400)
    for k in range(1, ops + 1):
        hc.propose(Custom("ab"[k % 2], k))
    hc.run(300)
    return hc


def switched() -> HybridConsensus:
    """An equivocating Raft leader: the evidence moves the cluster to BFT (epoch 2)."""
    hc = HybridConsensus(4, seed=5, give_up_after=3000)
    hc.run(400)
    leader = hc.raft_leader()
    assert leader is not None
    victim = next(i for i in hc.honest if i != leader)
    hc.make_byzantine(leader, EquivocateRaft(victims={victim}))
    for k in range(1, 7):
        d = hc.propose(Custom("ab"[k % 2], k))
        if not d.committed:
            hc.propose(Custom("ab"[k % 2], k), seq=d.seq)
    hc.run(300)
    assert hc.metrics()["epochs"].get(2) == BFT
    return hc


def test_a_calm_run_records_one_operation_per_proposal() -> None:
    hc = calm()
    assert history_problem(hc) is None
    assert hc.sim.history is not None
    ops = hc.sim.history.history()
    assert [(o.process, o.status) for o in ops] == [("c1", "ok")] * 6
    assert ops[2].result == FrozenDict({"ok": True, "key": "b", "existed": True})
    for node in hc.honest:
        entries = hc.sim.applied[node]
        assert [e.value for e in entries] == [("c1", k, 1) for k in range(1, 7)]
        assert entries[-1].state is not None and entries[-1].state[0] == 6
    digests = {hc.sim.applied[n][-1].state for n in hc.honest}
    assert len(digests) == 1  # the same client state on every node


def test_a_switch_passes_and_a_rejection_is_a_failed_proposal() -> None:
    hc = switched()
    assert history_problem(hc) is None
    assert hc.sim.history is not None
    assert any(o.status == "fail" for o in hc.sim.history.history()) or all(
        d.committed for d in hc.decisions
    )
    assert hc.byzantine and not set(hc.byzantine) & set(hc.honest)


@pytest.fixture
def patch(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch


def test_linearizable_fails_on_a_wrong_result(patch: pytest.MonkeyPatch) -> None:
    """Every node answers "existed: false" (the store's state is right, its answers are not)."""
    real = HybridMachine._apply_op

    def lying(self: HybridMachine, entry: OpEntry) -> FrozenDict:
        record = real(self, entry)
        inner = record.get("result")
        if isinstance(inner, FrozenDict) and "existed" in inner:
            lie = FrozenDict({**inner, "existed": False})
            record = FrozenDict({**record, "result": lie})
            self.results[entry.op.key] = record
        return record

    patch.setattr(HybridMachine, "_apply_op", lying)
    problem = history_problem(calm())
    assert problem is not None and problem.startswith("linearizable: not linearizable"), problem


def test_applied_at_most_once_fails_on_a_copy_applied_again(patch: pytest.MonkeyPatch) -> None:
    """The leader appends every op twice and the machine applies a copy of a committed op again
    (it keeps answering the first result, so the client sees nothing)."""
    real_append = HybridNode._append
    real_apply = HybridMachine._apply_op

    def twice(self: HybridNode, instance: Instance, entry: Any) -> None:
        real_append(self, instance, entry)
        if isinstance(entry, OpEntry):
            self._run(instance, ClientRequest(entry, 0))

    def again(self: HybridMachine, entry: OpEntry) -> FrozenDict:
        first = self.results.get(entry.op.key)
        if first is None:
            return real_apply(self, entry)
        StateMachine.apply_entry(self, entry.op.op)
        self.history.append(entry.op.key)
        return first

    patch.setattr(HybridNode, "_append", twice)
    patch.setattr(HybridMachine, "_apply_op", again)
    problem = history_problem(calm())
    assert problem is not None and problem.startswith("applied at most once"), problem


def test_no_answer_withdrawn_fails_on_an_early_rejection(patch: pytest.MonkeyPatch) -> None:
    """Every node answers op 2 "rejected: epoch 1 ended" while it still proposes it in epoch 1."""
    real = HybridNode._client_request

    def early(self: HybridNode, event: ClientRequest) -> None:
        real(self, event)
        if event.value.seq == 2:
            error, result = ended(event.value.epoch)
            self._out.append(Reply(event.request_id, result, error=error))

    patch.setattr(HybridNode, "_client_request", early)
    hc = HybridConsensus(4, seed=3, give_up_after=3000)
    hc.run(400)
    assert hc.propose(Custom("a", 1)).committed
    assert not hc.propose(Custom("b", 2)).committed
    hc.run(500)  # the rejected op commits all the same
    problem = history_problem(hc)
    assert problem is not None and problem.startswith("no answer withdrawn"), problem
    assert "c1 request 2" in problem


def test_applied_index_monotone_fails_when_a_switch_announces_the_history_again(
    patch: pytest.MonkeyPatch,
) -> None:
    real = HybridNode._switch

    def again(self: HybridNode, start: Any) -> None:
        real(self, start)
        self._history_out = 0

    patch.setattr(HybridNode, "_switch", again)
    problem = history_problem(switched())
    assert problem is not None and problem.startswith("applied index monotone"), problem


def test_same_state_fails_when_one_node_stores_more(patch: pytest.MonkeyPatch) -> None:
    """n3's store keeps a key of its own beside every write: its answers are the same, its state
    is not (only the digests of applied_state show it)."""
    real_run = HybridNode._run
    real_apply = HybridMachine._apply_op

    def marked(self: HybridNode, instance: Instance, event: Any) -> None:
        if self.id == "n3":  # the core may rebuild its machine (at start): mark it every time
            instance.machine.skewed = True  # type: ignore[attr-defined]
        real_run(self, instance, event)

    def skew(self: HybridMachine, entry: OpEntry) -> FrozenDict:
        record = real_apply(self, entry)
        if getattr(self, "skewed", False):
            self.custom["n3"] = len(self.history)
        return record

    patch.setattr(HybridNode, "_run", marked)
    patch.setattr(HybridMachine, "_apply_op", skew)
    hc = calm()
    assert "n3" in hc.honest
    problem = history_problem(hc)
    assert problem is not None and problem.startswith("same state at same index"), problem
