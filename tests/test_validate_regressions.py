"""`meshcheck validate` never cries wolf and always ends (traces/logs/validate.py, docs/logs.md).

Regressions of two logs it once got wrong (tests/data/logs/README.md), the budget's "unknown", the
progress report, and the property behind them: logs of the reference core's free runs under
duplication and loss, with or without the messages their receives took, all come back valid.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshcheck.cli import main
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.free_runs import cluster, run
from meshcheck.property_tests.raft.validation import validation_model
from meshcheck.traces.logs import LogRecord, merge, read, reference
from meshcheck.traces.logs.validate import Validator, stepper_for

DATA = Path(__file__).parent / "data" / "logs"
# the module (the package `meshcheck.traces.logs` exports its function `validate` by that name)
walk = importlib.import_module("meshcheck.traces.logs.validate")


def pipelined(name: str) -> list[LogRecord]:
    return merge([read(DATA / name)])


def test_a_message_received_three_times_after_two_sends_is_a_duplication() -> None:
    verdict = Validator(stepper_for("RaftPipelined")).run(
        pipelined("duplicate-delivery.ndjson"), budget=120
    )
    assert verdict.verdict == "invalid"
    assert verdict.hidden >= 1  # the duplication, inferred
    assert verdict.diagnosis is not None
    assert verdict.diagnosis.source.endswith("duplicate-delivery.ndjson:72")
    # the library's own bug (its log cut on a stale request), not a message "not in flight"
    assert "log[s2]" in verdict.diagnosis.reason
    assert "not in flight" not in verdict.render()


def test_a_short_log_whose_last_record_is_no_step_gets_its_verdict() -> None:
    verdict = Validator(stepper_for("RaftPipelined")).run(
        pipelined("short-run-no-verdict.ndjson"), budget=120
    )
    assert verdict.verdict == "invalid", verdict.render()
    assert verdict.diagnosis is not None
    assert verdict.diagnosis.source.endswith("short-run-no-verdict.ndjson:50")
    assert "matchIndex[s2]" in verdict.diagnosis.reason
    assert verdict.steps == 49


def test_out_of_budget_is_unknown_with_what_would_help(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "duplicate-delivery.ndjson"
    code = main(["validate", "--spec", "RaftPipelined", "--budget", "0.001", str(path)])
    out = capsys.readouterr().out
    assert code == 2
    assert out.startswith("unknown:")
    assert "out of time at" in out and "--budget" in out


@pytest.mark.parametrize("budget", ["0", "-1", "nan", "inf", "soon"])
def test_a_bad_budget_is_bad_input(budget: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["validate", "--budget", budget, str(DATA / "duplicate-delivery.ndjson")])
    assert raised.value.code == 2
    assert "--budget" in capsys.readouterr().err


def test_a_long_run_reports_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(walk, "PROGRESS_EVERY", 0.0)
    seen: list[tuple[int, int, int, float]] = []
    records = pipelined("duplicate-delivery.ndjson")
    Validator(stepper_for("RaftPipelined")).run(
        records, budget=120, progress=lambda *report: seen.append(report)
    )
    assert seen and seen[-1][1] == len(records)
    assert [at for at, *_ in seen] == sorted(at for at, *_ in seen)


def blind(records: list[LogRecord]) -> list[LogRecord]:
    """The records as an implementation logs them that does not say which message a receive took."""
    return [
        attrs.evolve(r, params={k: v for k, v in r.params.items() if k != "m"})
        if r.action.startswith("Handle")
        else r
        for r in records
    ]


def faulty_log(seed: int, variables: tuple[str, ...]) -> tuple[list[LogRecord], int]:
    nodes, values, budget = validation_model()
    schedule = Schedule(
        seed=seed, ticks=800, drop=0.05, duplicate=0.2, delay=0.1, crash=0.1, partition=0.1
    )
    sim = cluster(
        schedule, nodes, frozenset(), make=lambda n: values[(n - 1) % len(values)], budget=budget
    )
    run(sim, schedule, schedule.ticks)
    trace = sim.trace()
    duplicated = sum(1 for s in trace.steps if s.action == "DuplicateMessage")
    per_node = reference.records(trace, f"seed-{seed}", variables=variables)
    return merge(list(per_node.values())), duplicated


# A receive may name its message or not, the log may hold every variable or five: each of the
# reference core's faulty runs (duplications, drops, delays, crashes, partitions) validates.
@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(1, 10_000),
    variables=st.sampled_from([reference.FULL, reference.PARTIAL]),
    named=st.booleans(),
)
def test_faulty_runs_of_the_reference_core_are_never_called_invalid(
    seed: int, variables: tuple[str, ...], named: bool
) -> None:
    records, _ = faulty_log(seed, variables)
    if not named:
        records = blind(records)
    verdict = Validator(stepper_for("Raft")).run(records, budget=120)
    assert verdict.verdict != "invalid", verdict.render()


def test_a_receive_that_names_no_message_may_take_a_duplicate() -> None:
    """A blind receive of a duplicated message is explained by an inferred duplication (seed 3's
    run: one was called invalid before the duplications of blind receives were inferred)."""
    records, duplicated = faulty_log(3, reference.FULL)
    assert duplicated > 0
    verdict = Validator(stepper_for("Raft")).run(blind(records), budget=120)
    assert verdict.verdict == "valid", verdict.render()
    assert verdict.hidden > 0
