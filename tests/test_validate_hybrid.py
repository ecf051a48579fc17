"""`meshcheck validate --spec Hybrid`: the NDJSON logs of the hybrid dispatcher's nodes in processes
(impl/runtime/hybrid_log.py) walked against Hybrid.tla through HybridLogs.tla
(meshcheck/traces/logs/validate.py, hybrid.py). A stored run's logs (a Byzantine node forging seals,
the cluster from Raft to PBFT and back) are valid; each of them changed where a broken node would
differ (an entry other than the one the other nodes applied at that position, a switch at another
level, a switch that loses an op) is caught at the changed line; a real cluster's logs are valid,
and a catalogue mutant run in the processes breaks them; bad input is one line."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.run import Options
from meshcheck.cluster.run import run
from meshcheck.impl.base.values import freeze
from meshcheck.traces.logs.format import LogRecord
from meshcheck.traces.logs.hybrid import fit_hybrid
from tests.test_cluster_cmd import nodes_of

# `meshcheck cluster test --protocol hybrid --nodes 4 --time 8 --seed 1 --byzantine n1:forge_seals`:
# the honest nodes' logs merged, cut after every honest node's second Switch (Raft, PBFT, Raft)
STORED = Path(__file__).parent / "data" / "logs" / "hybrid-escalation.ndjson"
BYZANTINE = ["--set", 'Byzantine={"n1"}']
ROW = "logs valid (Hybrid.tla)"


def _lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in STORED.read_text().splitlines()]


def _verdict(tmp_path: Path, lines: list[dict[str, Any]]) -> tuple[int, str]:
    log = tmp_path / "changed.ndjson"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        code = main(["validate", "--spec", "Hybrid", *BYZANTINE, str(log)])
    return code, capture.getvalue()


def test_the_stored_run_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines()
    assert [line["state"]["level"] for line in lines if line["action"] == "Switch"] == [
        "High"
    ] * 3 + ["Medium"] * 3
    assert main(["validate", "--spec", "Hybrid", *BYZANTINE, str(STORED)]) == 0
    assert capsys.readouterr().out.startswith(f"valid: {len(lines)} of {len(lines)} steps")


def test_an_entry_other_than_the_chains_is_caught(tmp_path: Path) -> None:
    # the first op a node applies after another node ordered it: name another op there
    lines = _lines()
    ordered: dict[tuple[int, str], str] = {}
    for k, line in enumerate(lines):
        if line["action"] != "OrderOp":
            continue
        key = (line["params"]["e"], line["params"]["o"])
        if key in ordered and ordered[key] != line["node"]:
            other = next(
                x["params"]["o"]
                for x in lines
                if x["action"] == "OrderOp" and x["params"]["o"] != line["params"]["o"]
            )
            lines[k] = {**line, "params": {**line["params"], "o": other}}
            code, text = _verdict(tmp_path, lines)
            assert code == 1, text
            assert f"changed.ndjson:{k + 1}: OrderOp(i={line['node']}" in text, text
            return
        ordered[key] = line["node"]
    raise AssertionError("no op applied by two nodes")


def test_a_switch_at_another_level_or_losing_an_op_is_caught(tmp_path: Path) -> None:
    lines = _lines()
    k = next(k for k, line in enumerate(lines) if line["action"] == "Switch")
    switch = lines[k]
    for state in (
        {**switch["state"], "level": "Critical"},
        {**switch["state"], "history": switch["state"]["history"][:-1]},
    ):
        changed = [*lines[:k], {**switch, "state": state}, *lines[k + 1 :]]
        code, text = _verdict(tmp_path, changed)
        assert code == 1 and f"changed.ndjson:{k + 1}: Switch(i={switch['node']})" in text, text


def test_bad_hybrid_logs_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "bad.ndjson"
    first = _lines()[0]
    for line, says in (
        ({**first, "action": "Elect"}, "'Elect' is not an action of HybridLogs"),
        ({**first, "node": "n1", "params": {**first["params"], "i": "n1"}}, "not a server"),
        ({**first, "params": {"e": 1, "k": "tampering"}}, "OrderEvidence takes i, e, k"),
    ):
        log.write_text(json.dumps(line) + "\n")
        assert main(["validate", "--spec", "Hybrid", *BYZANTINE, str(log)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def _record(action: str, params: dict[str, Any], state: dict[str, Any]) -> LogRecord:
    return LogRecord("n2", action, freeze(params), freeze(state), 1, "r", "n2.ndjson:1")


def test_the_logs_decide_the_ops_and_the_epochs() -> None:
    records = [
        _record("OrderOp", {"i": "n2", "e": 1, "o": "c1/1"}, {}),
        _record("Switch", {"i": "n2"}, {"epoch": 3, "history": ["c1/1", "c2/5"]}),
        _record("OrderQuiet", {"i": "n2", "e": 4}, {}),
    ]
    assert fit_hybrid(records, {}) == {"Ops": '{"c1/1", "c2/5"}', "MaxEpoch": "4"}
    assert fit_hybrid([], {}) == {"Ops": "{}", "MaxEpoch": "1"}


# n1 forges the seal of every message it sends; cut off for 2.5 s it campaigns, and once healed
# its forged RequestVotes reach every honest node (tests/test_cluster_hybrid.py says why)
FORGERY = Options(protocol="hybrid", nodes=4, time=5, nemesis=(), seed=5,
                  plan=(Fault(0.5, "partition", ("n1",), 2.5),),
                  byzantine=(("n1", "forge_seals"),))  # fmt: skip


@pytest.mark.slow  # make test validates a real hybrid run's logs in tests/test_cluster_hybrid.py
def test_a_real_escalations_logs_are_valid(tmp_path: Path) -> None:
    outcome = run(FORGERY, tmp_path)
    verdicts = {v.check: v for v in outcome.verdicts}
    assert verdicts[ROW].holds, verdicts[ROW]
    assert not (tmp_path / "data" / "n1" / "node.ndjson").exists()  # the Byzantine node's
    actions = {
        json.loads(line)["action"]
        for n in ("n2", "n3", "n4")
        for line in (tmp_path / "data" / n / "node.ndjson").read_text().splitlines()
    }
    assert {"OrderOp", "OrderEvidence", "Apply", "Switch"} <= actions, actions
    assert nodes_of(tmp_path) == []


@pytest.mark.slow  # two clusters of processes
def test_a_mutant_in_the_processes_breaks_the_logs_and_a_killed_node_does_not(
    tmp_path: Path,
) -> None:
    # switch_drops_last_raft_term (impl/hybrid/mutants.py): the new epoch starts from the state as
    # the last Raft term began, the ops committed since lost: the first Switch's history is short
    mutant = run(attrs.evolve(FORGERY, bugs=frozenset({"switch_drops_last_raft_term"})),
                 tmp_path / "mutant")  # fmt: skip
    verdict = {v.check: v for v in mutant.verdicts}[ROW]
    assert verdict.holds is False and "Switch(i=n" in verdict.detail, verdict
    # the correct nodes, the leader killed and restarted: it replays its epoch from the start
    honest = run(Options(protocol="hybrid", nodes=4, time=5, nemesis=(), seed=2,
                         plan=(Fault(1.5, "kill", ("@leader",), 1.0),)),
                 tmp_path / "kill")  # fmt: skip
    verdict = {v.check: v for v in honest.verdicts}[ROW]
    assert verdict.holds, verdict
    restarts = [
        line
        for n in ("n1", "n2", "n3", "n4")
        for line in (tmp_path / "kill" / "data" / n / "node.ndjson").read_text().splitlines()
        if json.loads(line)["action"] == "Restart"
    ]
    assert len(restarts) == 1, restarts
    assert nodes_of(tmp_path / "mutant") == [] and nodes_of(tmp_path / "kill") == []
