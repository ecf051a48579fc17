"""`meshcheck trace replay` (property_tests/replay.py), and bad input for every `trace` command: a clear
one-line error and exit 2, never a traceback.

A stored implementation counterexample (traces/raft, traces/pbft) replays against the
implementation its `#meta.protocol` names, through its harness (property_tests/harness.py); a TLC
counterexample (made here by `meshcheck check` on a spec mutant of tests/test_raft_spec.py) replays
against its spec."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.specs.mutants.raft import MUTANTS
from meshcheck.specs.mutants.raft import mutate
from meshcheck.traces import itf
from tests.command import meshcheck

ROOT = Path(__file__).resolve().parent.parent
RAFT = ROOT / "traces" / "raft" / "commit_previous_term.itf.json"
PBFT = ROOT / "traces" / "pbft" / "prepare_quorum_2f.itf.json"


@pytest.fixture(scope="module")
def tlc_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real TLC counterexample: Raft with a vote granted twice in a term (8 states)."""
    folder = tmp_path_factory.mktemp("tlc")
    mutant = next(m for m in MUTANTS if m.name.startswith("vote granted twice"))
    cfg = mutate(folder, mutant)
    # in this process (the replays below start TLC in it too), from the folder: check writes its
    # counterexample under the folder it stands in
    with contextlib.chdir(folder):
        assert main(["check", "Raft.tla", "--config", cfg.name, "--no-deadlock", "-q"]) == 1
    return folder / "reports" / "counterexamples" / "Mutant-ElectionSafety.itf.json"


def test_a_tlc_counterexample_replays_on_its_spec(
    tlc_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A counterexample that replays reproduces its violation, named (exit 1, as `check`'s), never
    "holds"."""
    capsys.readouterr()
    assert main(["trace", "replay", str(tlc_trace)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        f"reproduces invariant ElectionSafety violated: all 7 steps of {tlc_trace} replay on the "
        "spec "
    )
    assert "its last state violates ElectionSafety" in out
    assert "holds" not in out
    # the same trace with two steps swapped is not a behaviour of the spec
    doc = json.loads(tlc_trace.read_text())
    doc["states"][2], doc["states"][3] = doc["states"][3], doc["states"][2]
    bad = tmp_path / "swapped.itf.json"
    bad.write_text(json.dumps(doc))
    assert main(["trace", "replay", str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("diverges at step 2: ")
    assert "  state 2: " in out and "does not lead from state 1 to state 2" in out


def test_the_tlc_counterexample_shows_and_draws(tlc_trace: Path, tmp_path: Path) -> None:
    assert meshcheck("trace", "show", str(tlc_trace), cwd=tmp_path).stdout.count("Leader") >= 2
    out = tmp_path / "tlc.svg"
    proc = meshcheck("trace", "timeline", str(tlc_trace), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0 and 'data-node="s1"' in out.read_text()
    assert "ElectionSafety violated" in out.read_text()


def test_a_stored_trace_holds_on_the_implementation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "replay", str(RAFT)]) == 0
    out = capsys.readouterr().out
    assert out == f"holds: all 23 steps of {RAFT} replay on the raft implementation\n"


def test_a_stored_trace_diverges_on_its_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "replay", str(RAFT), "--recorded-bugs"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        f"diverges at step 23: {RAFT} on the raft implementation with commit_previous_term "
    )
    assert "commitIndex: [s1] spec 0, impl 1" in out
    assert main(["trace", "replay", str(PBFT), "--bugs", "prepare_quorum_2f"]) == 1
    assert "diverges at step 2: " in capsys.readouterr().out
    assert main(["trace", "replay", str(PBFT)]) == 0


def test_the_implementation_trace_of_a_replay_feeds_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    impl = tmp_path / "impl.itf.json"
    assert main(["trace", "replay", str(RAFT), "--recorded-bugs", "--impl-out", str(impl)]) == 1
    assert f"the implementation's trace written to {impl}" in capsys.readouterr().out
    recorded = itf.read(impl)
    assert recorded.meta["source"] == "impl" and recorded.meta["bugs"] == ("commit_previous_term",)
    assert main(["trace", "diff", str(RAFT), str(impl), "--color", "never"]) == 1
    out = capsys.readouterr().out
    assert "Step 23 differs" in out and "commitIndex[s1]" in out


def write_with(path: Path, tmp_path: Path, **meta: object) -> Path:
    doc = json.loads(path.read_text())
    doc["#meta"].update(meta)
    out = tmp_path / path.name
    out.write_text(json.dumps(doc))
    return out


def test_a_trace_of_the_wrong_protocol_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = write_with(PBFT, tmp_path, protocol="raft")
    assert main(["trace", "replay", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{wrong}: vars: not the variables of Raft.tla" in err
    unknown = write_with(PBFT, tmp_path, protocol="paxos")
    assert main(["trace", "replay", str(unknown)]) == 2
    assert "#meta.protocol: paxos is not a protocol meshcheck implements" in capsys.readouterr().err


def test_a_simulator_run_is_not_a_path_to_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    impl = tmp_path / "impl.itf.json"
    assert main(["trace", "replay", str(PBFT), "--impl-out", str(impl)]) == 0
    capsys.readouterr()
    assert main(["trace", "replay", str(impl)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{impl}: #meta.source: impl: a run the simulator" in err
    # a trace whose steps the lockstep model does not have
    doc = json.loads(PBFT.read_text())
    doc["states"][1]["#meta"] = {"action": "Request", "params": {"r": "op1"}}
    doc["states"][1]["requested"] = {"#set": ["op1"]}
    odd = tmp_path / "odd.itf.json"
    odd.write_text(json.dumps(doc))
    assert main(["trace", "replay", str(odd)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"meshcheck: {odd}: ")


def test_an_unknown_mutant_and_misplaced_options_are_refused(
    tlc_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", "replay", str(RAFT), "--bugs", "no_such_bug"]) == 2
    err = capsys.readouterr().err
    assert "no raft mutant no_such_bug (known: " in err and "commit_previous_term" in err
    assert main(["trace", "replay", str(tlc_trace), "--recorded-bugs"]) == 2
    assert "replays on its spec" in capsys.readouterr().err


BAD = {
    "truncated.itf.json": ('{"vars": ["x"], "states": [{"x": 1}', "truncated"),
    "encoding.itf.json": (
        '{"vars": ["x"], "states": [{"x": 1}, {"x": {"#set": 5}}]}',
        "states[1].x.#set: must be an array, found an integer",
    ),
    "bigint.itf.json": (
        '{"vars": ["x"], "states": [{"x": {"#bigint": "12a"}}]}',
        "states[0].x.#bigint: must be a string of decimal digits",
    ),
}


@pytest.mark.parametrize("command", ["show", "diff", "timeline", "replay"])
def test_bad_input_exits_2_with_one_line_saying_what_and_where(
    command: str, tmp_path: Path
) -> None:
    cases = {name: (tmp_path / name, why) for name, (text, why) in BAD.items()}
    for path, _ in cases.values():
        path.write_text(BAD[path.name][0])
    cases["missing.itf.json"] = (tmp_path / "missing.itf.json", "cannot read")
    for path, why in cases.values():
        args = {
            "show": ["show", str(path)],
            "diff": ["diff", str(RAFT), str(path)],
            "timeline": ["timeline", str(path), "--out", str(tmp_path / "t.svg")],
            "replay": ["replay", str(path)],
        }[command]
        proc = meshcheck("trace", *args, cwd=tmp_path)
        assert proc.returncode == 2, (path.name, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith(f"meshcheck: {path}: ") and why in proc.stderr, proc.stderr


@pytest.mark.parametrize("name", ["deescalate_critical_to_none", "switch_on_own_evidence"])
def test_a_hybrid_lockstep_trace_replays_on_the_implementation(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """traces/hybrid/ (paths of ThreatLevel.tla and Hybrid.tla): hold on the implementation,
    diverge with the mutant they were recorded with."""
    path = str(ROOT / "traces" / "hybrid" / f"{name}.itf.json")
    assert main(["trace", "replay", path]) == 0
    assert "holds" in capsys.readouterr().out
    assert main(["trace", "replay", "--recorded-bugs", path]) == 1
    assert f"on the hybrid implementation with {name}" in capsys.readouterr().out
