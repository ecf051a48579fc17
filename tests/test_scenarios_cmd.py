"""`meshcheck scenarios`: the directed Raft scenarios (property_tests/directed/) for every
Raft-shaped protocol, the reference core, PySyncObj and a plug-in registered at run time; a
progress line per scenario and one table; a failure's trace and NDJSON log written with the
commands that replay them, which do; bad input one line, exit 2."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import attrs
import pytest

from meshcheck import registry
from meshcheck.cli import main
from meshcheck.property_tests.directed.library import BY_NAME
from meshcheck.property_tests.directed.library import SCENARIOS
from meshcheck.property_tests.directed.run import outcome
from meshcheck.property_tests.directed.run import settings
from meshcheck.property_tests.directed.run import write_artefacts
from meshcheck.property_tests.directed.target import RaftTarget
from meshcheck.property_tests.free_runs import Storm
from meshcheck.protocol import Protocol
from tests.adapter_example import EXAMPLE
from tests.adapter_example import TARGET as EXAMPLE_TARGET
from tests.noop_free_plugin import NONOOP
from tests.noop_free_plugin import TARGET as NONOOP_TARGET

HEADER = "| scenario           | reached? | verdict | seconds |"


@pytest.mark.parametrize("protocol", ["raft", "pysyncobj"])
def test_every_scenario_holds_on_each_raft(
    protocol: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "outcomes.json"
    assert main(["scenarios", "--protocol", protocol, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for k, scenario in enumerate(SCENARIOS, start=1):
        assert f"[{k}/{len(SCENARIOS)}] {scenario.name}: pass" in printed
    assert HEADER in printed
    outcomes = json.loads(out.read_text())
    assert [o["scenario"] for o in outcomes] == [s.name for s in SCENARIOS]
    assert all(o["verdict"] == "pass" and o["reached"] for o in outcomes)


def test_a_plug_in_runs_the_same_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    """tests/adapter_example.py's implementation, registered at run time with a target of its
    own (impl/raft behind the adapter contract, whole batches): the scenarios run unchanged."""
    with registry.registered(EXAMPLE):
        assert main(["scenarios", "--protocol", EXAMPLE.name]) == 0
    assert capsys.readouterr().out.count(": pass (") == len(SCENARIOS)


def test_a_failure_is_written_and_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["scenarios", "--protocol", "raft", "--scenario", "figure-8"]
    assert main([*argv, "--mutant", "commit_previous_term", "--out", "found"]) == 1
    printed = capsys.readouterr().out
    assert "figure-8: fail" in printed and "section 5.4.2, Figure 8" in printed
    assert re.search(r"\| figure-8 +\| no +\| fail +\|", printed)
    trace, log = (
        tmp_path / "found" / "raft-figure-8.itf.json",
        tmp_path / "found" / "raft-figure-8.ndjson",
    )
    assert trace.is_file() and log.is_file()
    replay = "meshcheck trace replay found/raft-figure-8.itf.json"
    validate = (
        "meshcheck validate --spec Raft --set 'Server={s1,s2,s3,s4,s5}' found/raft-figure-8.ndjson"
    )
    assert f"replay:   {replay}" in printed and f"validate: {validate}" in printed
    # the trace re-runs the scenario with the mutant it recorded: it fails again
    assert main(["trace", "replay", "found/raft-figure-8.itf.json"]) == 1
    assert "s1 committed index 3" in capsys.readouterr().out
    # the log is no behaviour of Raft.tla: the leader's commit of the older entry
    code = main(["validate", "--spec", "Raft", "--set", "Server={s1,s2,s3,s4,s5}", str(log)])
    shown = capsys.readouterr().out
    assert code == 1, shown
    assert "HandleAppendEntriesResponse" in shown and "commitIndex" in shown


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--protocol", "nope"], "no protocol 'nope'"),
        (["--protocol", "pbft"], "the protocol 'pbft' is not Raft-shaped"),
        (["--protocol", "raft", "--scenario", "nope"], "no scenario nope (scenarios: figure-8"),
        (["--protocol", "raft", "--mutant", "nope"], "no raft mutant nope (known: "),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scenarios", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"meshcheck: {says}") and err.count("\n") == 1


# -- an implementation whose new leader appends no no-op (tests/noop_free_plugin.py) -------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figure_8_is_reached_without_the_leader_no_op(seed: int) -> None:
    """A leader that appends no no-op gets a client write of its term instead: the situation of
    Figure 8 is reached and holds."""
    found = outcome(NONOOP_TARGET, BY_NAME["figure-8"], seed)
    assert found.verdict == "pass", found.problem
    assert found.reached is not None and "without it" in found.reached


def test_every_scenario_holds_on_a_plug_in_without_the_no_op(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with registry.registered(NONOOP):
        assert main(["scenarios", "--protocol", NONOOP.name]) == 0
    printed = capsys.readouterr().out
    assert printed.count(": pass (") == len(SCENARIOS)
    assert re.search(r"\| figure-8 +\| yes +\| pass +\|", printed)


def test_figure_8_catches_an_older_entry_committed_by_count_without_the_no_op() -> None:
    found = outcome(NONOOP_TARGET, BY_NAME["figure-8"], 1, frozenset({"commit_previous_term"}))
    assert found.verdict == "fail" and found.problem is not None
    assert "section 5.4.2, Figure 8" in found.problem


@pytest.mark.parametrize("plugin", [NONOOP, EXAMPLE], ids=["no no-op", "no-op"])
def test_a_leader_that_stops_at_an_older_entry_fails_commit_liveness(
    plugin: Protocol, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mutant commit_stops_at_older_term: a new leader whose log holds an uncommitted entry of
    an earlier term never commits again. The scenarios say which promise broke, CommitLiveness,
    with the leader, its term, its log and its stuck commitIndex, not an event count or an
    unreached set-up."""
    argv = ["scenarios", "--protocol", plugin.name, "--out", str(tmp_path)]
    with registry.registered(plugin):
        assert main([*argv, "--mutant", "commit_stops_at_older_term"]) == 1
    printed = capsys.readouterr().out
    stalled = re.compile(
        r"CommitLiveness: leader s\d of term \d+ holds entries up to \d+, its entry of term \d+ at"
        r" \d+ stored on [s\d, ]+ \(a majority, up and connected to it\); commitIndex \d+ for"
        r" \d+ ticks \(\d+ node events\)"
    )
    assert stalled.search(" ".join(printed.split())), printed
    assert re.search(r"\| figure-8 +\| yes +\| fail +\|", printed)
    assert re.search(r"\| far-behind +\| no +\| fail +\|", printed)
    assert "node events by t=" not in printed and "unreached" not in printed


def _validate(command: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run a printed `meshcheck validate ...` command as a user would."""
    words = shlex.split(command)
    assert words[:2] == ["meshcheck", "validate"]
    capsys.readouterr()
    code = main(words[1:])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("target", [NONOOP_TARGET, EXAMPLE_TARGET], ids=["no no-op", "no-op"])
def test_a_plug_in_s_scenario_log_with_writes_validates_by_the_printed_command(
    target: RaftTarget,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The adapter maps no client value (the scenarios' writes are unique commands): the harness
    writes them as the validation model's, and the command it prints sets what the run needs
    (LeaderNoOp=FALSE for a leader that appends no no-op), so that a correct run's log is valid."""
    monkeypatch.chdir(tmp_path)
    found = outcome(target, BY_NAME["figure-8"], 1)
    assert found.verdict == "pass"
    written = write_artefacts(target, found, Path("logs"))
    assert '"op":"Custom"' not in written.log.read_text()
    noop = "--set LeaderNoOp=FALSE" in written.validate
    assert noop is (target is NONOOP_TARGET)
    code, shown = _validate(written.validate, capsys)
    assert code == 0 and shown.startswith("valid: "), shown


def test_a_failure_s_printed_validate_command_finds_the_bug_in_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["scenarios", "--protocol", NONOOP.name, "--scenario", "figure-8", "--out", "found"]
    with registry.registered(NONOOP):
        assert main([*argv, "--mutant", "commit_previous_term"]) == 1
    printed = capsys.readouterr().out
    command = next(
        line.split("validate: ", 1)[1] for line in printed.splitlines() if "validate: " in line
    )
    assert "--set LeaderNoOp=FALSE" in command and "Server={s1,s2,s3,s4,s5}" in command
    code, shown = _validate(command, capsys)
    # the leader's commit of the older entry, not the election (the no-op the spec expected)
    assert code == 1, shown
    assert "HandleAppendEntriesResponse" in shown and "commitIndex" in shown


def test_the_validate_settings_are_the_target_s_and_what_the_run_shows() -> None:
    """`settings`: the servers of a five-node run, the target's own constants, LeaderNoOp=FALSE
    for a run whose leader appended no no-op unless the target sets LeaderNoOp itself."""
    five, three = BY_NAME["figure-8"], BY_NAME["lost-reply"]
    bare = outcome(NONOOP_TARGET, three, 1)
    with_noop = outcome(EXAMPLE_TARGET, five, 1)
    assert bare.trace is not None and with_noop.trace is not None
    assert settings(NONOOP_TARGET, bare.trace) == ["LeaderNoOp=FALSE"]
    assert settings(EXAMPLE_TARGET, with_noop.trace) == ["Server={s1,s2,s3,s4,s5}"]
    own = attrs.evolve(NONOOP_TARGET, settings=("PreVote=FALSE", "LeaderNoOp=FALSE"))
    assert settings(own, bare.trace) == ["PreVote=FALSE", "LeaderNoOp=FALSE"]


def test_a_storm_without_a_stall_is_named_as_the_storm_bound() -> None:
    """A run past the target's storm bound (here a bound no cluster keeps: one message in flight
    per node) says which bound it broke, not only a count."""
    tight = attrs.evolve(NONOOP_TARGET, storm=Storm(in_flight_per_node=1, events_per_node_tick=1))
    found = outcome(tight, BY_NAME["lost-reply"], 1)
    assert found.verdict == "fail" and found.problem is not None
    assert ": Storm: " in found.problem
    assert "messages in flight (a correct cluster keeps under 3)" in found.problem


def test_a_storm_while_a_leader_is_stalled_names_the_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reported case: a library whose stuck leader makes its cluster pass the storm bound
    before the stall's own bound. The run is cut short as such a library's would be (a storm
    reported by every run from t=1000 on); the failure names CommitLiveness, then the storm."""
    from meshcheck.property_tests import free_runs

    real = free_runs.run

    def storming(sim: Any, *args: Any, **kwargs: Any) -> str | None:
        found = real(sim, *args, **kwargs)
        if found is None and sim.now >= 1000:
            return f"18321 node events by t={sim.now} (a correct cluster takes under 18320)"
        return found

    monkeypatch.setattr(free_runs, "run", storming)  # as the scenarios' script calls it
    bugs = frozenset({"commit_stops_at_older_term"})
    found = outcome(NONOOP_TARGET, BY_NAME["far-behind"], 1, bugs)
    assert found.verdict == "fail" and found.problem is not None
    assert "CommitLiveness: leader s" in found.problem
    assert "; then 18321 node events by t=" in found.problem
