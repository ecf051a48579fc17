"""`meshcheck scenarios`: the directed Raft scenarios (property_tests/directed/) for every
Raft-shaped protocol, the reference core, PySyncObj and a plug-in registered at run time; a
progress line per scenario and one table; a failure's trace and NDJSON log written with the
commands that replay them, which do; bad input one line, exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from meshcheck import registry
from meshcheck.cli import main
from meshcheck.property_tests.directed.library import SCENARIOS
from tests.adapter_example import EXAMPLE

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
