"""PBFT free runs send impl/rsm operations (property_tests/pbft/free_runs.py's `rsm_op`), so the
client history's linearizability check has results to judge: it passes on a correct run and
fails on a tampered answer."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import histories
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft import free_runs as pbft_runs


def pbft_run(seed: int = 1) -> Simulator[Any]:
    schedule = Schedule(seed=seed, ticks=1500, drop=0.1, crash=0.3, every=20)
    sim = pbft_runs.cluster(schedule, 4, frozenset(), record=False)
    sim.run(until=1500)
    return sim


def check(sim: Simulator[Any]) -> str | None:
    return histories.check_history(
        sim, honest=pbft_runs.honest(sim), dedup=True, identity=pbft_runs.request_key
    )


def test_a_pbft_free_run_sends_rsm_ops_whose_answers_depend_on_the_order() -> None:
    sim = pbft_run()
    assert sim.history is not None
    ops = [o for o in sim.history.history() if o.status == "ok"]
    kinds = Counter((o.value["op"], o.result["ok"]) for o in ops)
    # compare-and-sets that held and ones that did not, creates answered "exists", ordered reads
    assert kinds[("UpdateCaseState", True)] and kinds[("UpdateCaseState", False)]
    assert kinds[("CreateCase", False)] and kinds[("Custom", True)]
    assert any("is s" in str(o.result.get("error", "")) for o in ops)  # a read saw a set state
    assert len({repr(o.value) for o in sim.history.history()}) == len(sim.history.history())
    assert check(sim) is None


def test_linearizable_fails_on_a_tampered_pbft_answer() -> None:
    sim = pbft_run()
    recorder = sim.history
    assert recorder is not None
    key = next(
        k
        for k in recorder._order
        if recorder._ops[k].status == "ok" and recorder._ops[k].value["op"] == "UpdateCaseState"
        and recorder._ops[k].result["ok"]
    )  # fmt: skip
    op = recorder._ops[key]
    recorder._ops[key] = attrs.evolve(
        op, result=FrozenDict({"ok": False, "error": f"no case {op.value['case']}"})
    )
    assert (check(sim) or "").startswith("linearizable: not linearizable")


def test_linearizable_fails_when_every_replica_ignores_the_compare(
    monkeypatch: Any,
) -> None:
    """A compare-and-set that always sets: the replicas agree with one another (Agreement, the
    same state at each index), only the answers' order shows the bug."""
    from meshcheck.impl.pbft import simulation
    from meshcheck.impl.pbft.replica import Replica
    from meshcheck.impl.rsm.machine import StateMachine

    class NoCompare(StateMachine):  # the replicas' store only: the rsm model runs StateMachine
        def _update_case(self, op: Any) -> FrozenDict:
            return super()._update_case(attrs.evolve(op, expected=None))

    class NoCompareReplica(Replica):  # through the constructor, not its defaults: mutmut's
        def __init__(self, config: Any, keys: Any) -> None:  # trampolines have their own
            super().__init__(config, keys, NoCompare)

    monkeypatch.setattr(simulation, "Replica", NoCompareReplica)
    assert (check(pbft_run()) or "").startswith("linearizable: not linearizable")


def test_the_retry_scenario_kills_execute_again() -> None:
    """The corpus run (traces/counterexamples/pbft/execute_again.itf.json): the correct replicas
    pass; with the mutant, the history is not linearizable (X's retry answered with its second
    execution's result) and a replica's state machine applied one operation too many."""
    import pytest

    from meshcheck.property_tests.failure import CheckFailed
    from meshcheck.property_tests.pbft import retry

    schedule = Schedule(seed=1, ticks=100, every=100)
    retry.check_retry(schedule, 4, frozenset())
    with pytest.raises(CheckFailed, match="linearizable: not linearizable"):
        retry.check_retry(schedule, 4, frozenset({"execute_again"}))
    sim = retry.cluster(schedule, frozenset({"execute_again"}), record=False)
    assert retry.prefix(sim) is None
    sim.run(until=retry.PREFIX + schedule.ticks)
    first: dict[int, Any] = {}
    for r in pbft_runs.honest(sim):
        for index, value in sim.applied_by_index[r].items():
            first.setdefault(index, value)
    problem = histories._at_most_once(sim, first, pbft_runs.honest(sim), True, histories._rsm_op)
    assert (problem or "").startswith("applied at most once:"), problem
