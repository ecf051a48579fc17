"""`meshcheck validate --spec Gossip`: the NDJSON logs of gossip nodes in processes
(impl/runtime/gossip_log.py) walked against Gossip.tla through GossipLogs.tla
(meshcheck/traces/logs/validate.py, gossip.py). A real run's logs under a kill and a partition are
valid; each of them changed where a broken node would differ (a merge that keeps an older entry, an
update that skips a version, a restart that keeps what it learned, a push of entries it does not
hold) is caught at the changed line; the constants the logs decide; bad input is one line."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.cluster.checks import Verdict
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.run import Options
from meshcheck.cluster.run import run
from meshcheck.impl.base.values import freeze
from meshcheck.traces.logs.format import LogFormatError
from meshcheck.traces.logs.format import LogRecord
from meshcheck.traces.logs.gossip import fit_gossip
from tests.test_cluster_cmd import nodes_of

NODES = ("n1", "n2", "n3")
PLAN = (Fault(1.0, "kill", ("n2",), 1.5), Fault(2.0, "partition", ("n3",), 1.0))


@attrs.frozen
class RealRun:
    logs: dict[str, list[dict[str, Any]]]  # each node's log as its lines' JSON
    valid: Verdict  # the cluster's own validation of those logs, as `meshcheck validate`


@pytest.fixture(scope="module")
def real_run_and_verdict(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """One gossip cluster of three processes, n2 killed and restarted, n3 cut off; the run
    validates its nodes' whole logs itself (meshcheck/cluster/checks.py `logs_valid`: the
    Validator `meshcheck validate` runs, on the model fitted to the logs)."""
    out = tmp_path_factory.mktemp("gossip")
    outcome = run(Options(protocol="gossip", time=4, workload="status", seed=3, plan=PLAN), out)
    assert nodes_of(out) == []
    logs = {
        n: [
            json.loads(line) for line in (out / "data" / n / "node.ndjson").read_text().splitlines()
        ]
        for n in NODES
    }
    return RealRun(logs, {v.check: v for v in outcome.verdicts}["logs valid (Gossip.tla)"])


@pytest.fixture(scope="module")
def real_run(real_run_and_verdict: RealRun) -> dict[str, list[dict[str, Any]]]:
    return real_run_and_verdict.logs


def _write(folder: Path, logs: dict[str, list[dict[str, Any]]]) -> list[str]:
    paths = []
    for node, lines in logs.items():
        path = folder / f"{node}.ndjson"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        paths.append(str(path))
    return paths


def _changed(
    logs: dict[str, list[dict[str, Any]]], node: str, index: int, line: dict[str, Any]
) -> dict[str, list[dict[str, Any]]]:
    out = {n: list(lines) for n, lines in logs.items()}
    out[node][index] = line
    return out


def _first(
    logs: dict[str, list[dict[str, Any]]], action: str, node: str | None = None
) -> tuple[str, int, dict[str, Any]]:
    for n, lines in logs.items():
        if node is not None and n != node:
            continue
        for k, line in enumerate(lines):
            if line["action"] == action:
                return n, k, line
    raise AssertionError(f"no {action} in the logs")


def _verdict(tmp_path: Path, logs: dict[str, list[dict[str, Any]]]) -> tuple[str, str]:
    """`meshcheck validate --spec Gossip` on the logs (the model fitted to them): its verdict's
    first word and its text."""
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        code = main(["validate", "--spec", "Gossip", "--budget", "120", *_write(tmp_path, logs)])
    text = capture.getvalue()
    first = text.split(":")[0].split()[0]
    assert code == {"valid": 0, "invalid": 1}.get(first, -1), (code, text)
    return first, text


def test_a_real_runs_logs_are_valid(real_run_and_verdict: RealRun) -> None:
    """Validated once, by the run (the tests below walk the same logs through the command, each
    changed at one line): every record of every node, the restart among them."""
    assert any(line["action"] == "Restart" for line in real_run_and_verdict.logs["n2"])
    valid = real_run_and_verdict.valid
    steps = sum(len(lines) for lines in real_run_and_verdict.logs.values())
    assert valid.holds, valid
    assert valid.detail.startswith(f"valid: {steps} of {steps} steps"), valid


def test_a_merge_that_keeps_an_older_entry_is_caught(
    real_run: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    # the first push a node merged that changed an entry: log the entry it held before instead
    for node, lines in real_run.items():
        for k in range(1, len(lines)):
            before, line = lines[k - 1]["state"]["entries"], lines[k]["state"]["entries"]
            newer = [key for key in line if key in before and line[key] != before[key]]
            if lines[k]["action"] == "HandlePush" and newer:
                kept = {**line, newer[0]: before[newer[0]]}
                broken = {**lines[k], "state": {**lines[k]["state"], "entries": kept}}
                verdict, text = _verdict(tmp_path, _changed(real_run, node, k, broken))
                assert verdict == "invalid", text
                assert f"{node}.ndjson:{k + 1}: HandlePush" in text, text
                return
    raise AssertionError("no push in the run replaced an entry")


def test_an_update_that_skips_a_version_is_caught(
    real_run: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    node, k, line = _first(real_run, "Update")
    key = line["params"]["k"]
    entry = line["state"]["entries"][key]
    skipped = {**entry, "version": entry["version"] + 1}
    state = {
        **line["state"],
        "entries": {**line["state"]["entries"], key: skipped},
        "own": {**line["state"]["own"], key: skipped},
    }
    verdict, text = _verdict(tmp_path, _changed(real_run, node, k, {**line, "state": state}))
    assert verdict == "invalid" and f"{node}.ndjson:{k + 1}: Update" in text, text


def test_a_restart_that_keeps_what_it_learned_is_caught(
    real_run: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    node, k, line = _first(real_run, "Restart", "n2")
    # what n2 learned before its kill; if real timing gave it no push to merge in the second
    # before the kill, what the other nodes held then: a restart keeps only its own entries either way
    held = [
        (key, e)
        for n in (node, *(other for other in NODES if other != node))
        for earlier in real_run[n][: k if n == node else None]
        for key, e in earlier["state"]["entries"].items()
        if e["origin"] != node
    ]
    assert held, "no node held an entry of another node's origin"
    learned = dict(held[:1])
    state = {**line["state"], "entries": {**line["state"]["entries"], **learned}}
    verdict, text = _verdict(tmp_path, _changed(real_run, node, k, {**line, "state": state}))
    assert verdict == "invalid" and f"{node}.ndjson:{k + 1}: Restart" in text, text


def test_a_push_of_an_entry_the_node_does_not_hold_is_caught(
    real_run: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    node, k, line = _first(real_run, "Push")
    m = line["params"]["m"]
    key = next(iter(m["entries"]))
    entry = m["entries"][key]
    forged = {**m, "entries": {**m["entries"], key: {**entry, "version": entry["version"] + 7}}}
    changed = {**line, "params": {**line["params"], "m": forged}}
    verdict, text = _verdict(tmp_path, _changed(real_run, node, k, changed))
    assert verdict == "invalid" and f"{node}.ndjson:{k + 1}: Push" in text, text


def _record(
    action: str, params: dict[str, Any], state: dict[str, Any], node: str = "n1"
) -> LogRecord:
    return LogRecord(node, action, freeze(params), freeze(state), 1, "r", f"{node}.ndjson:1")


def test_the_logs_decide_the_keys_the_push_sets_and_the_nodes() -> None:
    push = {"type": "push", "from": "n1", "to": "n4", "entries": {"a": {}, "b": {}}}
    pull = {"type": "pull", "from": "n1", "to": "n2", "digest": {"c": (1, "n1", "v1")}}
    records = [
        _record("Update", {"i": "n1", "k": "z", "v": "v1"}, {"entries": {"y": {}}}),
        _record("Push", {"i": "n1", "j": "n4", "m": push}, {}),
        _record("Pull", {"i": "n1", "j": "n2", "m": pull}, {}),
    ]
    assert fit_gossip(records, {}) == {
        "Key": '{"a", "b", "c", "y", "z"}',
        "PushKeys": '{{"a", "b"}}',
        "NumNodes": "4",
        "NumSeeds": "4",
    }


def test_a_push_without_its_message_or_a_node_outside_the_names_is_refused() -> None:
    with pytest.raises(LogFormatError, match="must give the push it sent"):
        fit_gossip([_record("Push", {"i": "n1", "j": "n2"}, {})], {})
    with pytest.raises(LogFormatError, match=r"nodes are n1 \.\. n9"):
        fit_gossip([_record("Pull", {"i": "s1", "j": "s2"}, {}, node="s1")], {})


def test_bad_gossip_logs_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = {"run": "r", "node": "n1", "clock": 1, "action": "Update",
            "params": {"i": "n1", "k": "b", "v": "v1"},
            "state": {"entries": {"b": {"version": 1, "origin": "n1", "value": "v1"}}}}  # fmt: skip
    log = tmp_path / "n1.ndjson"
    log.write_text(json.dumps(line) + "\n")
    assert main(["validate", "--spec", "Gossip", "--set", 'Key={"a"}', str(log)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a key of the model" in err[0], err
    line["state"] = {"entries": ["b"]}
    log.write_text(json.dumps(line) + "\n")
    assert main(["validate", "--spec", "Gossip", str(log)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no function of the model's keys" in err[0], err
