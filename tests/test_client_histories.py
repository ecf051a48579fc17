"""Client histories: the simulator's recording (impl/sim/history.py), the case store's sequential
model ("rsm", traces/history/models.py), and the five checks every free run ends with
(property_tests/histories.py), each shown to fail on a broken run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.rsm import ApplyPolicy
from meshcheck.impl.rsm import CreateCase
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import DeployOverlay
from meshcheck.impl.rsm import StateMachine
from meshcheck.impl.rsm import UpdateCaseState
from meshcheck.impl.rsm import to_value
from meshcheck.impl.sim import HistoryRecorder
from meshcheck.property_tests import histories
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft import free_runs as pbft_runs
from meshcheck.property_tests.raft.free_runs import cluster
from meshcheck.traces.history import jepsen
from meshcheck.traces.history.checker import check
from meshcheck.traces.history.history import op
from meshcheck.traces.history.models import MODELS

RSM = MODELS["rsm"]


def result(*values: object) -> FrozenDict:
    """What impl/rsm answers to these entries applied in order (the last one's result)."""
    machine = StateMachine()
    out = FrozenDict()
    for v in values:
        out = machine.apply_entry(v)  # type: ignore[arg-type]
    return out


# -- the rsm model ------------------------------------------------------------------------------------

create = to_value(CreateCase("c1"))
to_triage = to_value(UpdateCaseState("c1", "triage", expected="open"))
to_closed = to_value(UpdateCaseState("c1", "closed", expected="open"))


def test_rsm_model_accepts_a_compare_and_set_history_in_some_order() -> None:
    ok_triage = result(create, to_triage)
    failed_close = result(create, to_triage, to_closed)  # found triage, not open
    assert failed_close["ok"] is False
    history = [
        op("a", "write", 0, 1, input=create, output=result(create)),
        # concurrent: the linearization puts triage first, so the close's cas fails
        op("b", "write", 2, 5, input=to_closed, output=failed_close),
        op("c", "write", 3, 4, input=to_triage, output=ok_triage),
    ]
    assert check(history, RSM).linearizable


def test_rsm_model_refuses_a_cas_answer_no_order_explains() -> None:
    history = [
        op("a", "write", 0, 1, input=create, output=result(create)),
        op("c", "write", 2, 3, input=to_triage, output=result(create, to_triage)),
        # invoked after triage completed, yet answered as if the case were still open
        op("b", "write", 4, 5, input=to_closed, output=result(create, to_closed)),
    ]
    assert check(history, RSM).verdict == "not linearizable"


def test_rsm_model_reads_see_the_last_write_per_key_and_split_by_key() -> None:
    w1, w2 = to_value(Custom("k", 1)), to_value(Custom("j", 2))
    read_k = op(
        "r", "read", 4, 5, input=("custom", "k"), output=FrozenDict({"ok": True, "value": 1})
    )
    good = [
        op("a", "write", 0, 1, input=w1, output=result(w1)),
        op("b", "write", 2, 3, input=w2, output=result(w2)),
        read_k,
    ]
    assert len(RSM.partition(good)) == 2
    assert check(good, RSM).linearizable
    stale = attrs.evolve(read_k, output=StateMachine().read(("custom", "k")))  # "no custom k"
    assert check([*good[:2], stale], RSM).verdict == "not linearizable"


def test_rsm_model_an_info_write_may_or_may_not_have_happened() -> None:
    w = to_value(Custom("k", 1))
    seen = FrozenDict({"ok": True, "value": 1})
    unseen = StateMachine().read(("custom", "k"))
    for output in (seen, unseen):
        history = [
            op("a", "write", 0, None, input=w),
            op("r", "read", 1, 2, input=("custom", "k"), output=output),
        ]
        assert check(history, RSM).linearizable


def test_rsm_model_deploy_overlay_merges_the_parts_it_touches() -> None:
    policy, case = to_value(ApplyPolicy("p")), to_value(CreateCase("c9"))
    deploy = to_value(DeployOverlay("o", "p", ("c9",)))
    other = to_value(Custom("x", 1))
    ops = [
        op("a", "write", 0, 1, input=policy, output=result(policy)),
        op("b", "write", 2, 3, input=case, output=result(case)),
        op("c", "write", 4, 5, input=deploy, output=result(policy, case, deploy)),
        op("d", "write", 6, 7, input=other, output=result(other)),
    ]
    parts = RSM.partition(ops)
    assert sorted(len(p) for _, p in parts) == [1, 3]
    assert check(ops, RSM).linearizable
    # the overlay answered as deployed though the policy did not exist yet
    early = [
        op("c", "write", 0, 1, input=deploy, output=result(policy, case, deploy)),
        op("a", "write", 2, 3, input=policy, output=result(policy)),
        op("b", "write", 4, 5, input=case, output=result(case)),
    ]
    assert check(early, RSM).verdict == "not linearizable"


def count(n: int) -> FrozenDict:
    return FrozenDict({"ok": True, "value": n})


def test_reads_of_the_applied_count_never_go_down() -> None:
    fine = [
        op("a", "read", 0, 1, input="", output=count(3)),
        op("b", "read", 2, 3, input="", output=count(5)),
    ]
    assert check(fine, RSM).linearizable
    assert histories._counter_reads(fine) is None
    back = [
        op("a", "read", 0, 1, input="", output=count(5)),
        op("b", "read", 2, 3, input="", output=count(3)),
    ]
    assert check(back, RSM).verdict == "not linearizable"
    assert "applied count" in (histories._counter_reads(back) or "")
    concurrent = [
        op("a", "read", 0, 3, input="", output=count(5)),
        op("b", "read", 1, 2, input="", output=count(3)),
    ]
    assert histories._counter_reads(concurrent) is None
    assert check(concurrent, RSM).linearizable


# -- the recording ------------------------------------------------------------------------------------


def test_recorder_outcomes() -> None:
    r = HistoryRecorder()
    for i in (1, 2, 3, 4):
        r.invoke("client", i, "write", f"v{i}", "s1", 0)
    r.complete("client", Reply(1, result=1), 5)
    r.complete("client", Reply(2, error="not leader"), 5)
    r.complete("client", Reply(3, error="outcome unknown", unknown=True), 5)
    r.complete("client", Reply(1, result=2), 6)  # answered twice, differently
    ops = {o.request_id: o for o in r.history()}
    assert [ops[i].status for i in (1, 2, 3, 4)] == ["ok", "fail", "info", "info"]
    assert ops[1].call < ops[1].ret  # type: ignore[operator]
    assert ops[3].ret is None and ops[4].ret is None
    assert len(r.anomalies) == 1 and "then ok 2" in r.anomalies[0].what


def raft_schedule(seed: int) -> Schedule:
    return Schedule(
        seed=seed, ticks=3000, drop=0.1, duplicate=0.05, delay=0.2, crash=0.3, partition=0.3,
        reads=0.3, every=10, snapshot_interval=3, down=(1, 100),
    )  # fmt: skip


def raft_run(seed: int, bugs: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    sim = cluster(raft_schedule(seed), 3, bugs)
    sim.run(until=3000)
    return sim


def test_a_raft_free_run_records_its_history_and_passes_every_check() -> None:
    sim = raft_run(13)
    ops = sim.history.history()
    kinds = Counter((o.kind, o.status) for o in ops)
    assert kinds[("write", "ok")] and kinds[("read", "ok")] and kinds[("write", "fail")]
    assert sim.applied["s1"][-1].state is not None  # the last entry a step applied has one
    assert histories.check_history(sim) is None


def test_a_pbft_free_run_records_its_client_core() -> None:
    schedule = Schedule(seed=1, ticks=1500, drop=0.1, crash=0.3, every=20)
    sim = pbft_runs.cluster(schedule, 4, frozenset(), record=False)
    sim.run(until=1500)
    ops = sim.history.history()
    assert ops and all(o.process == "c1" for o in ops)
    assert any(o.status == "ok" for o in ops)
    honest = pbft_runs.honest(sim)
    assert (
        histories.check_history(sim, honest=honest, dedup=True, identity=pbft_runs.request_key)
        is None
    )


# -- every check fails on a broken run ---------------------------------------------------------------


def test_linearizable_check_catches_a_tampered_answer() -> None:
    sim = raft_run(13)
    recorder = sim.history
    key = next(
        k
        for k in recorder._order
        if recorder._ops[k].kind == "write" and recorder._ops[k].status == "ok"
    )
    recorder._ops[key] = attrs.evolve(
        recorder._ops[key], result=FrozenDict({"ok": True, "key": "elsewhere", "existed": False})
    )
    assert (histories.check_history(sim) or "").startswith("linearizable: not linearizable")


def test_linearizable_check_reports_unknown_not_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from meshcheck.traces.history import checker

    sim = raft_run(13)
    real = checker.check

    def out_of_budget(history, model, budget_seconds=10.0, configurations=None):  # type: ignore[no-untyped-def]
        return attrs.evolve(real(history, model, budget_seconds), verdict="unknown")

    monkeypatch.setattr(histories, "check_linearizable", out_of_budget)
    assert "unknown within" in (histories.check_history(sim) or "")


@pytest.mark.parametrize(
    ("bug", "seed", "name"),
    [
        ("repropose_uncommitted", 36, "applied at most once"),
        ("abandon_as_rejected", 32, "no answer withdrawn"),
        ("install_stale_snapshot", 1, "applied at most once"),
    ],
)
def test_new_raft_mutants_fail_the_history_checks(bug: str, seed: int, name: str) -> None:
    sim = raft_run(seed, frozenset({bug}))
    assert (histories.check_history(sim) or "").startswith(name + ":")


def test_monotone_and_same_state_checks_catch_a_stale_snapshot() -> None:
    sim = raft_run(1, frozenset({"install_stale_snapshot"}))
    assert "went back" in (histories._monotone(sim, sim.node_ids) or "")
    assert "different states" in (histories._same_state(sim, sim.node_ids) or "")
    assert histories._monotone(raft_run(13), ("s1", "s2", "s3")) is None


def test_monotone_check_catches_an_index_applied_again() -> None:
    sim = raft_run(13)
    entries = sim.applied["s1"]
    entries.append(attrs.evolve(entries[-1], time=entries[-1].time + 1))
    assert "applied index" in (histories._monotone(sim, ["s1"]) or "")


# -- a run's history as a file `meshcheck history check` reads -----------------------------------------


def test_a_runs_history_written_as_json_lines_reads_back_to_the_same_verdict(
    tmp_path: Path,
) -> None:
    sim = raft_run(1)
    ops = histories.to_ops(sim.history.history())
    rsm = MODELS["rsm"]
    path = tmp_path / "run.jsonl"
    path.write_text(jepsen.dumps(ops, rsm))
    back = jepsen.read(path, rsm)
    key = lambda o: (o.f, repr(o.input), repr(o.output), o.status)  # noqa: E731
    assert sorted(map(key, back)) == sorted(map(key, ops))  # every operation, its input and answer
    assert check(back, rsm).linearizable and check(ops, rsm).linearizable
    assert main(["history", "check", str(path), "--model", "rsm"]) == 0


def test_an_rsm_history_with_a_value_that_is_no_json_data_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"process": 0, "type": "invoke", "f": "write", "value": 1.5}\n')
    assert main(["history", "check", str(path), "--model", "rsm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.jsonl:1" in err[0] and '"value"' in err[0]


def test_the_budget_in_configurations_gives_the_same_verdict_under_any_load() -> None:
    # the property tests' budget counts the search's configurations, not seconds: a history that
    # needs more than the budget is unknown even with all the time in the world, and one within it
    # is decided even with almost none left on the clock
    from meshcheck.traces.history import checker
    from meshcheck.traces.history.models import MODELS

    sim = raft_run(13)
    assert sim.history is not None
    ops = [o for o in histories.to_ops(sim.history.history()) if o.input != ""]
    needed = checker.check(ops, MODELS["rsm"], 60.0).configurations
    assert needed > 10, needed
    short = checker.check(ops, MODELS["rsm"], 600.0, configurations=needed // 10)
    assert short.verdict == "unknown"
    enough = checker.check(ops, MODELS["rsm"], 600.0, configurations=needed * 2)
    assert enough.verdict == "linearizable"
