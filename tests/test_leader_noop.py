"""Raft with and without the new leader's no-op (section 8): a constant of the model
(specs/Raft.tla's LeaderNoOp), an option of the core (RaftConfig.leader_noop), and
`meshcheck validate --set LeaderNoOp=FALSE` for an implementation that appends none."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.impl.rsm.ops import NOOP
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.log_duplicates import model_run
from meshcheck.specs import spec_file
from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import check as run_tlc
from tests import variant_logs

SCHEDULE = Schedule(seed=11, ticks=900, drop=0.05, duplicate=0.05, delay=0.1, crash=0.3)


@pytest.mark.slow  # make verify's row Raft_nonoop_quick checks this count
def test_the_spec_without_the_no_op_holds_with_its_recorded_state_count() -> None:
    r = run_tlc(
        spec_file("Raft.tla"), spec_file("Raft_nonoop_quick.cfg"), workers=2, deadlock=False
    )
    assert r.outcome is Outcome.HOLDS, r.message
    assert r.distinct == 21710


def logs(tmp_path: Path, *, noop: bool) -> list[str]:
    sim = model_run(SCHEDULE, leader_noop=noop)
    trace = sim.trace()
    logged = {e["value"] for step in trace.steps for log in step.state["log"].values() for e in log}
    assert (NOOP in logged) is noop
    return variant_logs.written_logs(sim, trace, tmp_path / ("noop" if noop else "none"))


@pytest.mark.parametrize("noop", [True, False], ids=["with the no-op", "without"])
def test_a_log_validates_against_the_variant_it_was_run_with(
    noop: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = logs(tmp_path, noop=noop)
    own = [] if noop else ["--set", "LeaderNoOp=FALSE"]
    other = ["--set", "LeaderNoOp=FALSE"] if noop else ["--set", "LeaderNoOp=TRUE"]
    out = variant_logs.validated_by_own_only(paths, own, other, capsys)
    assert "HandleRequestVoteResponse" in out and "log[" in out  # the election's entry, or none


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("LeaderNoOp", "expected NAME=VALUE"),
        ("NoSuch=1", "no constant NoSuch to set"),
        ("LeaderNoOp={", "is not a value a .cfg can give"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    setting: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "a.ndjson"
    log.write_text(
        '{"run":"r","node":"s1","clock":1,"action":"Timeout","params":{"i":"s1"},"state":{}}\n'
    )
    assert main(["validate", "--set", setting, str(log)]) == 2
    err = capsys.readouterr().err.strip()
    assert problem in err and len(err.splitlines()) == 1
