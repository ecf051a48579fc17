"""The NDJSON log format, `meshcheck validate`, and the partial-state validator (traces/logs/)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings

from meshcheck import validate_cmd
from meshcheck.cli import main
from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests import validation
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.free_runs import cluster
from meshcheck.property_tests.raft.free_runs import run
from meshcheck.property_tests.raft.free_runs import schedules
from meshcheck.property_tests.raft.validation import VALIDATION
from meshcheck.property_tests.raft.validation import validation_model
from meshcheck.property_tests.raft.validation import validation_stepper
from meshcheck.traces.logs import LogFormatError
from meshcheck.traces.logs import LogRecord
from meshcheck.traces.logs import dumps
from meshcheck.traces.logs import loads
from meshcheck.traces.logs import merge
from meshcheck.traces.logs import reference
from meshcheck.traces.logs import validate
from meshcheck.traces.logs.validate import RESERVE
from meshcheck.traces.logs.validate import Validator
from meshcheck.traces.logs.validate import stepper_for
from meshcheck.verify_logs import log_row
from tests.schedules import faulty

REQ = "RequestVoteRequest"


def rvreq(src: str, dst: str, term: int = 1) -> dict[str, Any]:
    return {
        "mtype": REQ,
        "mterm": term,
        "mlastLogTerm": 0,
        "mlastLogIndex": 0,
        "msource": src,
        "mdest": dst,
    }


def line(
    node: str, clock: int, action: str, params: dict[str, Any], **state: Any
) -> dict[str, Any]:
    return {
        "run": "r1",
        "node": node,
        "clock": clock,
        "action": action,
        "params": params,
        "state": state,
    }


def s2_hears(clock: int, candidate: str, **state: Any) -> dict[str, Any]:
    """s2 handles `candidate`'s RequestVoteRequest of term 1; `state`: s2's, as logged after."""
    m = rvreq(candidate, "s2")
    return line(
        "s2", clock, "HandleRequestVoteRequest", {"i": "s2", "j": candidate, "m": m}, **state
    )


def write(folder: Path, name: str, records: list[dict[str, Any]] | list[str]) -> str:
    path = folder / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return str(path)


def election(folder: Path, s2_second: dict[str, Any] | None = None) -> list[str]:
    """s1 and s3 time out in term 1; s2 votes for s1, then hears s3."""
    s1 = [line("s1", 1, "Timeout", {"i": "s1"}, currentTerm=1, votedFor="s1", role="Candidate")]
    s3 = [line("s3", 1, "Timeout", {"i": "s3"}, currentTerm=1, votedFor="s3", role="Candidate")]
    s2 = [
        s2_hears(2, "s1", currentTerm=1, votedFor="s1", role="Follower"),
        s2_second or s2_hears(3, "s3", currentTerm=1, votedFor="s1", role="Follower"),
    ]
    return [
        write(folder, "s1.ndjson", s1),
        write(folder, "s2.ndjson", s2),
        write(folder, "s3.ndjson", s3),
    ]


def test_a_record_survives_dumps_and_loads() -> None:
    r = LogRecord(
        "s1",
        "Timeout",
        {"i": "s1"},
        {"log": (FrozenDict({"term": 1, "value": "v1"}),), "votesGranted": frozenset({"s1"})},
        3,
        "r",
        "f:1",
    )
    again = loads(dumps(r), "f:1")
    assert again == r
    assert '"votesGranted":{"#set":["s1"]}' in dumps(r)


def test_merge_orders_by_clock_and_rejects_two_runs() -> None:
    a = [
        LogRecord("s1", "Timeout", {}, {}, 1, "r", "a:1"),
        LogRecord("s1", "Timeout", {}, {}, 5, "r", "a:2"),
    ]
    b = [LogRecord("s2", "Timeout", {}, {}, 3, "r", "b:1")]
    assert [r.source for r in merge([a, b])] == ["a:1", "b:1", "a:2"]
    with pytest.raises(LogFormatError, match="logs of two runs"):
        merge([a, [LogRecord("s2", "Timeout", {}, {}, 3, "other", "b:1")]])
    with pytest.raises(LogFormatError, match="does not increase"):
        merge([[a[1], a[0]]])


def test_a_valid_election_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *election(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("valid: 4 of 4 steps")


def test_a_vote_in_a_term_already_voted_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = s2_hears(3, "s3", currentTerm=1, votedFor="s3", role="Follower")
    assert main(["validate", *election(tmp_path, second)]) == 1
    out = capsys.readouterr().out
    assert "s2.ndjson:2: HandleRequestVoteRequest(i=s2, j=s3) is no step of the spec" in out
    assert "votedFor[s2]: logged s3, spec s1" in out


def test_the_verdict_counts_in_the_lines_of_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where the walk stopped is said in the lines of the files a user has open (blank lines and
    other files' records counted as the editor counts them), not as a count of merged records:
    "3 of 4 steps" named no line, where the record at fault is line 4 of s2.ndjson."""
    second = s2_hears(3, "s3", currentTerm=1, votedFor="s3", role="Follower")
    s1, s2, s3 = election(tmp_path, second)
    text = Path(s2).read_text().splitlines()
    Path(s2).write_text("\n".join([text[0], "", "", text[1]]) + "\n")  # the record moves to line 4
    assert main(["validate", s1, s2, s3]) == 1
    head, diagnosis = capsys.readouterr().out.splitlines()[:2]
    assert head.startswith(f"invalid at {s2}:4: explained up to line 1, ")
    assert f"{s1}:1" in head and f"{s3}:1" in head and "(3 of 4 steps)" in head
    assert diagnosis.startswith(f"{s2}:4: HandleRequestVoteRequest(i=s2, j=s3) is no step")


def test_a_term_going_backwards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second = s2_hears(3, "s3", currentTerm=0, votedFor="s1", role="Follower")
    assert main(["validate", *election(tmp_path, second)]) == 1
    out = capsys.readouterr().out
    assert "s2.ndjson:2:" in out
    assert "currentTerm[s2]: logged 0, spec 1" in out


def test_a_step_out_of_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """s2 logs its answer to s1 before s1 asked: the message is not in flight."""
    s1 = [line("s1", 5, "Timeout", {"i": "s1"}, currentTerm=1)]
    s2 = [s2_hears(1, "s1", votedFor="s1")]
    assert (
        main(["validate", write(tmp_path, "s1.ndjson", s1), write(tmp_path, "s2.ndjson", s2)]) == 1
    )
    out = capsys.readouterr().out
    assert "s2.ndjson:1: HandleRequestVoteRequest(i=s2, j=s1) is no step" in out
    assert "is not enabled" in out
    assert "false: m \\in DOMAIN messages" in out and "not in flight" in out


def test_a_false_guard_is_named_by_its_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the message: the \\E over the bag finds no message of s1's to s2 at all."""
    s2 = [line("s2", 1, "HandleRequestVoteRequest", {"i": "s2", "j": "s1"}, votedFor="s1")]
    assert main(["validate", write(tmp_path, "s2.ndjson", s2)]) == 1
    out = capsys.readouterr().out
    assert "\\E m \\in DOMAIN messages (Raft.tla:" in out and "is empty" in out
    leader = [
        line("s1", 1, "Timeout", {"i": "s1"}, role="Candidate"),
        line("s1", 2, "Timeout", {"i": "s1"}, role="Candidate"),
        line("s1", 3, "ClientRequest", {"i": "s1", "v": "v1"}),
    ]
    assert main(["validate", write(tmp_path, "l.ndjson", leader)]) == 1
    out = capsys.readouterr().out
    assert "l.ndjson:3:" in out and "false: role[i] = Leader (Raft.tla:" in out


BAD = [
    ("{not json", "x.ndjson:1: not JSON"),
    (
        json.dumps(line("s1", 1, "Elect", {"i": "s1"})),
        "x.ndjson:1: action: 'Elect' is not an action of Raft (its actions: Timeout, PreVoteTimeout, ClientRequest",
    ),
    (
        json.dumps(line("s1", 1, "Timeout", {"i": "s1"}, term=1)),
        "x.ndjson:1: state.term: Raft has no variable 'term'",
    ),
    (
        json.dumps(line("n9", 1, "Timeout", {"i": "n9"})),
        "x.ndjson:1: node: 'n9' is not a server of the model Logs.cfg (s1, s2, s3)",
    ),
    (
        json.dumps(
            {k: v for k, v in line("s1", 1, "Timeout", {"i": "s1"}).items() if k != "clock"}
        ),
        "x.ndjson:1: clock: missing",
    ),
    (json.dumps(line("s1", 1, "Timeout", {"j": "s1"})), "x.ndjson:1: params: Timeout takes i"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = write(tmp_path, "x.ndjson", [text])
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("meshcheck: ") and message in err, err
    assert err.count("\n") == 1


def test_logs_of_two_runs_are_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path, "a.ndjson", [line("s1", 1, "Timeout", {"i": "s1"})])
    other = line("s2", 1, "Timeout", {"i": "s2"})
    other["run"] = "r2"
    b = write(tmp_path, "b.ndjson", [other])
    assert main(["validate", a, b]) == 2
    err = capsys.readouterr().err
    assert "b.ndjson:1: run: 'r2' but" in err and "logs of two runs" in err


# -- the reference implementation's logs ---------------------------------------------------------


def free_run(schedule: Schedule, bugs: frozenset[str] = frozenset()) -> Any:
    nodes, values, budget = validation_model()
    sim = cluster(
        schedule, nodes, bugs, make=lambda n: values[(n - 1) % len(values)], budget=budget
    )
    run(sim, schedule, schedule.ticks)
    return sim.trace()


def logged(trace: Any, variables: tuple[str, ...]) -> list[LogRecord]:
    return [r for rs in reference.records(trace, "t", variables=variables).values() for r in rs]


FAULTY = Schedule(seed=5, ticks=1500, drop=0.05, duplicate=0.1, delay=0.1, crash=0.3, partition=0.3)


@pytest.mark.parametrize("variables", [reference.FULL, reference.PARTIAL], ids=["full", "partial"])
def test_a_faulty_run_validates(
    variables: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = free_run(FAULTY)
    actions = {s.action for s in trace.steps}
    assert {"DropMessage", "DuplicateMessage", "Restart"} <= actions  # the run has every fault
    paths = reference.write_logs(trace, tmp_path, "seed-5", variables=variables)
    assert main(["validate", *map(str, paths)]) == 0
    assert "valid:" in capsys.readouterr().out


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(200, 800))
def test_free_runs_validate_full_and_partial(schedule: Schedule) -> None:
    trace = free_run(schedule)
    for variables in (reference.FULL, reference.PARTIAL):
        verdict = validate(logged(trace, variables))
        assert verdict.verdict == "valid", verdict.render()


def test_full_and_partial_agree_with_full_state_validation_on_a_mutant() -> None:
    """vote_without_log_check, seed 11: trace validation fails at step 363; so do the logs."""
    schedule = faulty(11, timeout=(150, 160))
    trace = free_run(schedule, frozenset({"vote_without_log_check"}))
    bad = validation.first_bad_step(trace, validation_stepper(), VALIDATION)
    assert bad is not None
    for variables in (reference.FULL, reference.PARTIAL):
        verdict = validate(logged(trace, variables))
        assert verdict.verdict == "invalid"
        assert verdict.diagnosis is not None
        assert verdict.diagnosis.record.startswith(trace.steps[bad[0]].action)


def term_backwards(trace: Any) -> tuple[list[LogRecord], LogRecord]:
    """The run's partial log with s1's term set back to 1 at its first record past its 20th whose
    term is above 1; and that record as it was."""
    per_node = reference.records(trace, "seed-5", variables=reference.PARTIAL)
    s1 = per_node["s1"]
    candidates = [
        i
        for i, r in enumerate(s1)
        if i > 20 and isinstance(r.state["currentTerm"], int) and r.state["currentTerm"] > 1
    ]
    k = candidates[0]
    broken = s1[k]
    s1[k] = LogRecord(
        broken.node,
        broken.action,
        broken.params,
        {**broken.state, "currentTerm": 1},
        broken.clock,
        broken.run,
        broken.source,
    )
    return merge(list(per_node.values())), broken


def test_a_broken_free_run_log_names_the_line(tmp_path: Path) -> None:
    """A term going backwards in the middle of a real run's log."""
    trace = free_run(FAULTY)
    records, broken = term_backwards(trace)
    verdict = validate(records)
    assert verdict.verdict == "invalid"
    assert verdict.diagnosis is not None and verdict.diagnosis.source == broken.source
    assert (
        f"currentTerm[s1]: logged 1, spec {broken.state['currentTerm']}" in verdict.diagnosis.reason
    )


# -- hidden drops: the messages no later record receives -------------------------------------------


def test_messages_no_record_receives_are_dropped_and_change_no_verdict() -> None:
    """The read-ahead drops them (TLC's DropMessage steps); without it the walk agrees."""
    trace = free_run(FAULTY)
    records = merge([logged(trace, reference.PARTIAL)])
    stepper = stepper_for("Raft")
    with_drops = Validator(stepper).run(records)
    without = Validator(stepper, read_ahead=False).run(records)
    assert with_drops.verdict == without.verdict == "valid"
    assert with_drops.dropped > 0 and without.dropped == 0
    # the broken log: the same first record no action explains, with or without the drops
    broken, _ = term_backwards(trace)
    a, b = Validator(stepper).run(broken), Validator(stepper, read_ahead=False).run(broken)
    assert a.verdict == b.verdict == "invalid"
    assert a.diagnosis is not None and b.diagnosis is not None
    assert a.diagnosis.source == b.diagnosis.source


def test_a_failure_after_drops_spent_the_budget_is_unknown(tmp_path: Path) -> None:
    """Drops cost faults: with a drop budget barely above the reserve, a record nothing explains
    might have needed what they spent, so the verdict is unknown, not invalid."""
    cfg = Path(str(resources.files("meshcheck.property_tests.raft").joinpath("models/Logs.cfg")))
    small = tmp_path / "Small.cfg"
    small.write_text(cfg.read_text().replace("MaxDrops = 1000000", f"MaxDrops = {RESERVE + 4}"))
    trace = free_run(FAULTY)
    broken, _ = term_backwards(trace)
    assert validate(broken).verdict == "invalid"
    verdict = validate(broken, model=small)
    assert verdict.verdict == "unknown", verdict.render()
    assert "fault budget" in verdict.reason and verdict.diagnosis is None
    # and a run that needs no more than the budget still validates under it
    assert validate(logged(trace, reference.PARTIAL), model=small).verdict == "valid"


# -- the row of `meshcheck verify` -----------------------------------------------------------------


def test_the_verify_row_validates_the_reference_logs() -> None:
    row = log_row("quick")
    assert row.result == "pass", row.detail
    assert row.count is not None and row.count > 500 and "each broken one caught" in row.detail


def test_the_verify_row_fails_when_a_broken_log_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The row's own check: with the 'broken' logs left intact, it must fail."""
    monkeypatch.setitem(validate_cmd.REFERENCE_RUNS, "quick", (1, 1500))

    def intact(per_node: dict[str, list[LogRecord]]) -> tuple[list[LogRecord], str]:
        return merge(list(per_node.values())), "s1.ndjson:12"

    monkeypatch.setattr(validate_cmd, "_term_backwards", intact)
    row = log_row("quick")
    assert row.result == "FAIL" and "is not caught there (valid)" in row.detail
