"""A failing property check is written as an ITF trace that `meshcheck trace replay` replays
(property_tests/record.py, the pytest hook in property_tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.manager.mutants import CRITICAL_TO_RAFT_AT_NONE
from meshcheck.impl.pbft.mutants import NEW_VIEW_IGNORES_PREPARED
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.free_runs import check_safety
from meshcheck.property_tests.raft.harness import HARNESS as RAFT
from meshcheck.property_tests.record import Rerun
from meshcheck.property_tests.record import find_failure
from meshcheck.property_tests.record import parse_schedule
from meshcheck.property_tests.record import rerun_of
from meshcheck.property_tests.record import write_failure
from meshcheck.property_tests.routing.free_runs import run_once as routing_run
from meshcheck.traces import itf

ROOT = Path(__file__).resolve().parents[1]

# a free run that breaks Agreement with the mutant on (property_tests/pbft/test_free_runs.py)
SAFETY_KILL = Schedule(
    seed=37463741, ticks=900, drop=0.2, duplicate=0.1, delay=0.1, crash=0.3, every=10
)


def _free_run_failure() -> CheckFailed:
    with pytest.raises(CheckFailed) as failed:
        check_safety(SAFETY_KILL, 4, frozenset({NEW_VIEW_IGNORES_PREPARED}))
    return failed.value


def test_a_free_run_failure_is_written_with_what_re_runs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = _free_run_failure()
    assert rerun_of(failed) == Rerun(
        "pbft", "safety", 4, repr(SAFETY_KILL), (NEW_VIEW_IGNORES_PREPARED,)
    )
    path = write_failure(failed, "property_tests/pbft/x.py::test_safe[4]", folder=tmp_path)
    assert path == tmp_path / "pbft.x.test_safe-4.itf.json"
    trace = itf.read(path)
    assert trace.meta["seed"] == SAFETY_KILL.seed and trace.meta["source"] == "impl"
    assert len(trace.steps) == failed.steps + 1
    assert trace.meta["rerun"]["schedule"] == repr(SAFETY_KILL)
    # it names the check that failed and the property it violates (trace show's header says them)
    assert (trace.meta["check"], trace.meta["property"]) == ("pbft safety", "Agreement")
    assert failed.__notes__[-1] == f"replay: meshcheck trace replay {path}"
    assert failed.replay == f"meshcheck trace replay {path}"

    # the replay re-runs the check from the seed: it fails again, at the same step
    monkeypatch.chdir(ROOT)
    assert main(["trace", "replay", str(path)]) == 1
    out = capsys.readouterr().out
    # ... naming the same property the failure named first
    assert failed.violated is not None and failed.violated.name == "Agreement"
    assert failed.message.startswith(f"{failed.violated} violated")
    assert f"diverges at step {failed.steps}" in out and f"{failed.violated} violated" in out

    # the same run without the mutant holds: the replay ran the check, not the stored file
    doc = json.loads(path.read_text())
    doc["#meta"]["rerun"]["bugs"] = []
    path.write_text(json.dumps(doc))
    assert main(["trace", "replay", str(path)]) == 0
    assert "holds" in capsys.readouterr().out


def test_a_free_run_with_no_trace_of_its_own_is_written_to_be_re_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routing runs drive three simulators and keep no one trace: their failure is written
    all the same, as one empty state and what re-runs it, so an exploration keeps it in the
    corpus (a routing failure of `meshcheck verify --seed 795383559` was once lost this way)."""
    schedule = Schedule(seed=3, ticks=0, ops=("critical",))
    with pytest.raises(CheckFailed) as failed:
        routing_run(schedule, frozenset({CRITICAL_TO_RAFT_AT_NONE}))
    assert failed.value.trace is None
    path = write_failure(failed.value, "property_tests/routing/t.py::test_x", folder=tmp_path)
    assert path is not None
    trace = itf.read(path)
    assert (trace.meta["protocol"], trace.meta["source"]) == ("routing", "impl")
    assert trace.meta["rerun"]["schedule"] == repr(schedule)
    assert trace.meta["check"] == "routing " + trace.meta["rerun"]["check"]
    assert trace.meta["property"] == "CriticalOnlyByBFT"
    monkeypatch.chdir(ROOT)
    assert main(["trace", "replay", str(path)]) == 1
    assert "CriticalOnlyByBFT" in capsys.readouterr().out
    doc = json.loads(path.read_text())
    doc["#meta"]["rerun"]["bugs"] = []
    path.write_text(json.dumps(doc))
    assert main(["trace", "replay", str(path)]) == 0
    capsys.readouterr()


def test_a_lockstep_failure_replays_with_its_recorded_mutant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = next(p for p in RAFT.corpus() if p.name == "forget_voted_for.itf.json")
    with pytest.raises(CheckFailed) as failed:
        RAFT.replay_on_impl(itf.read(stored), frozenset({"forget_voted_for"}), where=str(stored))
    assert rerun_of(failed.value) is None  # a spec path: replayed, not re-run
    path = write_failure(failed.value, "test_lockstep", folder=tmp_path)
    assert path is not None
    assert failed.value.replay == f"meshcheck trace replay {path} --recorded-bugs"
    written = itf.read(path).meta
    assert failed.value.violated is not None
    assert (written["check"], written["property"]) == ("test_lockstep", failed.value.violated.name)
    monkeypatch.chdir(ROOT)
    assert main(["trace", "replay", str(path), "--recorded-bugs"]) == 1
    assert main(["trace", "replay", str(path)]) == 0
    capsys.readouterr()


def test_a_schedule_is_parsed_not_evaluated() -> None:
    assert parse_schedule("pbft", repr(SAFETY_KILL)) == SAFETY_KILL
    silent = "Schedule(seed=1, ticks=300, byzantine={'r3': (Silent(share=1.0),)})"
    assert repr(parse_schedule("pbft", silent)).startswith("Schedule(seed=1, ticks=300")
    with pytest.raises(ValueError, match="system is not a schedule"):
        parse_schedule("pbft", "Schedule(seed=system('true'), ticks=1)")
    with pytest.raises(ValueError, match="unexpected Call"):
        parse_schedule("pbft", "os.system('true')")


def test_find_failure_looks_inside_groups_and_causes() -> None:
    inner = CheckFailed("x", steps=1)
    group = ExceptionGroup("two", [ValueError(), inner])
    assert find_failure(group) is inner
    try:
        try:
            raise inner
        except CheckFailed as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as outer:
        assert find_failure(outer) is inner
    assert find_failure(ValueError()) is None


FAILING_TEST = textwrap.dedent(
    """
    from hypothesis import given, settings, strategies as st
    from meshcheck.property_tests.failure import CheckFailed
    from meshcheck.impl.base.trace import Step, Trace

    @settings(max_examples=5, database=None)
    @given(st.integers(0, 3))
    def test_breaks(k):
        if k >= 1:
            steps = (Step({"x": 0}), Step({"x": k}, "Incr"))
            trace = Trace(("x",), steps, meta={"source": "lockstep", "protocol": "raft"})
            raise CheckFailed(f"x reached {k}", steps=1, trace=trace)

    def test_passes():
        pass
    """
)


def test_pytest_writes_the_failure_and_ends_with_the_replay_command(tmp_path: Path) -> None:
    (tmp_path / "test_failing.py").write_text(FAILING_TEST)
    folder = tmp_path / "failures"
    plugins = ["-p", "meshcheck.property_tests.conftest", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *plugins,
            "-q",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_failing.py"),
        ],
        cwd=ROOT,
        env=dict(os.environ, MESHCHECK_FAILURES=str(folder)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    written = folder / "test_failing.test_breaks.itf.json"
    assert sorted(folder.iterdir()) == [written]  # the passing test writes nothing
    assert itf.read(written).steps[1].state["x"] == 1  # the shrunk example's
    # the failure's last line, after Hypothesis's failing example, is the command
    lines = [line for line in proc.stdout.splitlines() if line.startswith("E ")]
    assert "x reached 1" in lines[0] and "test_breaks(" in proc.stdout
    assert lines[-1].split(maxsplit=1)[1] == f"replay: meshcheck trace replay {written}"


def test_a_hybrid_free_run_is_re_run_from_what_its_descriptor_names() -> None:
    """The hybrid layer's one-run checks come from its harness (`reruns`): a recorded
    validation run is parsed back (its Schedule, no eval) and re-run from its seed."""
    from meshcheck.property_tests.hybrid.free_runs import Schedule as HybridSchedule
    from meshcheck.property_tests.hybrid.validation import validate_run
    from meshcheck.property_tests.record import checks
    from meshcheck.property_tests.record import rerun

    assert checks()[("hybrid", "validation")] is validate_run
    schedule = HybridSchedule(seed=7, ticks=400, behaviours=("censor",), target="n1")
    assert parse_schedule("hybrid", repr(schedule)) == schedule
    meta = Rerun("hybrid", "validation", None, repr(schedule)).as_meta()
    spec = Rerun.from_meta(meta, "t.itf.json")
    assert rerun(spec) is None  # today's implementation holds on it
    with pytest.raises(MeshcheckError, match="no hybrid check 'safety'"):
        Rerun.from_meta(Rerun("hybrid", "safety", None, repr(schedule)).as_meta(), "t")


# -- a failed client-history check leaves its history, and the command that re-checks it ----------

FAILING_HISTORY_TEST = textwrap.dedent(
    """
    import attrs
    from meshcheck.impl.base.values import FrozenDict
    from meshcheck.property_tests import histories
    from meshcheck.property_tests.failure import CheckFailed
    from meshcheck.property_tests.free_runs import Schedule
    from meshcheck.property_tests.raft.free_runs import cluster

    def test_doctored_answer():
        schedule = Schedule(seed=13, ticks=1500, drop=0.1, every=10)
        sim = cluster(schedule, 3, frozenset())
        sim.run(until=1500)
        recorder = sim.history
        key = next(
            k for k in recorder._order
            if recorder._ops[k].kind == "write" and recorder._ops[k].status == "ok"
        )
        # one answer doctored: the write reports another key than the one it wrote
        recorder._ops[key] = attrs.evolve(
            recorder._ops[key], result=FrozenDict({"ok": True, "key": "elsewhere", "existed": False})
        )
        problem = histories.check_history(sim)
        if problem is not None:
            raise CheckFailed(f"violates {problem}", steps=1)
    """
)


def test_a_failed_history_check_writes_the_history_that_re_checks_as_not_linearizable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under pytest (property_tests/conftest.py): the history a failed client-history check read
    is written beside the failures as JSON lines, the failure's last note is the command, and that
    command finds it not linearizable (exit 1)."""
    (tmp_path / "test_history.py").write_text(FAILING_HISTORY_TEST)
    folder = tmp_path / "failures"
    plugins = ["-p", "meshcheck.property_tests.conftest", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-q", "--rootdir", str(tmp_path),
         str(tmp_path / "test_history.py")],
        cwd=ROOT,
        env=dict(os.environ, MESHCHECK_FAILURES=str(folder)),
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    written = folder / "test_history.test_doctored_answer.history.jsonl"
    assert sorted(folder.iterdir()) == [written]  # no trace: the failure carried none
    lines = [line for line in proc.stdout.splitlines() if line.startswith("E ")]
    assert "violates linearizable: not linearizable" in lines[0]
    command = f"meshcheck history check {written} --model rsm"
    assert lines[-1].split(maxsplit=1)[1] == f"re-check the client history: {command}"
    assert main(command.split()[1:]) == 1
    out = capsys.readouterr().out
    assert "not linearizable" in out and "elsewhere" in out


def test_a_passing_check_or_another_failure_writes_no_history(tmp_path: Path) -> None:
    from meshcheck.property_tests import histories
    from meshcheck.property_tests.record import write_history

    histories.forget()
    assert write_history(CheckFailed("x", steps=1), "t", folder=tmp_path) is None
    histories._last[:] = [histories.Failed("linearizable: not linearizable ...", ())]
    assert write_history(CheckFailed("a safety violation", steps=1), "t", folder=tmp_path) is None
    assert list(tmp_path.iterdir()) == []
    histories.forget()
