"""meshcheck/verify_summary.py: what `meshcheck verify` ends with, one screen whatever the run's size."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck import verify_summary as summary
from meshcheck.verify import Row
from meshcheck.verify import project_root
from meshcheck.verify import summary_areas

# where the rows of a run of every check go: from the descriptors and the systems' files
AREAS = summary_areas(project_root(), "default")


@pytest.mark.parametrize(
    ("kind", "name", "protocol"),
    [
        ("tlc", "Raft_liveness", "raft"),
        ("tlc", "Raft_nonoop_quick", "raft"),
        ("tlc", "RaftPipelined_quick", "pysyncobj"),
        ("tlc", "FailureDetector_liveness", "gossip"),
        ("tlc", "ThreatLevel", "hybrid"),
        ("tlc", "HotStuff_liveness_timeouts", "hotstuff"),
        ("z3", "pbft", "pbft"),
        ("tests", "hybrid/test_lockstep::test_x[3]", "hybrid"),
        ("tests", "test_free_runs::test_a_free_run_holds[0]", "other"),  # a plug-in's
        ("coverage", "hotstuff client histories", "hotstuff"),
        ("coverage", "routing", "routing"),
        ("traces", "traces/counterexamples/pbft/a.itf.json on the implementation", "pbft"),
        ("traces", "traces/gossip/boot_not_raised.itf.json", "gossip"),
        ("traces", "traces/pysyncobj/findings/x.itf.json (finding)", "pysyncobj"),
        ("traces", "history kv_lost_update.jsonl (kv)", "histories"),
        ("traces", "NDJSON validation of PySyncObj's logs", "pysyncobj"),
        ("traces", "NDJSON validation of the reference implementation's logs", "raft"),
        ("traces", "etcd's Raft library: its runs' logs validated against RaftEtcd.tla", "etcd"),
        ("traces", "etcd cluster: 3 members, cas, the nemesis, the history checked", "etcd"),
        ("tlc", "RaftEtcd_quick", "etcd"),  # the spec etcd's Raft library's check validates against
        ("mutants", "routing", "routing"),
    ],
)
def test_each_row_belongs_to_its_protocol(kind: str, name: str, protocol: str) -> None:
    assert summary.area(Row(kind, name, "pass", 1, "", 0.1), AREAS) == protocol


def _rows(n: int) -> list[Row]:
    """A run of `n` rows per protocol and kind, one of them failed with a long message."""
    rows = []
    for protocol in sorted(set(AREAS.specs.values())):
        rows += [Row("tests", f"{protocol}/test_x::t[{k}]", "pass", 5, "", 1.0) for k in range(n)]
        rows += [Row("mutants", protocol, "pass", 3, "3 of 3 killed", 2.5)]
    rows.append(Row("tests", "raft/test_y::t", "FAIL", 5, "", 4.0, "why " * 80))
    rows.append(Row("z3", "raft", "skip", None, "", 0.0, "no proof set"))
    return rows


def test_the_overview_is_a_line_per_protocol_however_many_rows() -> None:
    rows = _rows(60)
    lines = summary.overview(rows, AREAS).splitlines()
    assert len(lines) == 2 + len(set(AREAS.specs.values()))
    raft = next(line for line in lines if line.startswith("| raft "))
    assert [c.strip() for c in raft.split("|")[1:6]] == ["raft", "60/61", "1/1", "1", "66.5"]
    assert "z3" not in lines[0]  # a skipped row is no check run
    assert max(map(len, lines)) <= summary.WIDE


def test_a_run_of_one_protocol_is_one_line() -> None:
    rows = [
        Row("tests", "test_free_runs::t", "pass", 1, "", 1.0),
        Row("coverage", "myraft", "pass", 1, "", 0.0),
    ]
    lines = summary.overview(rows, AREAS, only="myraft").splitlines()
    assert [c.strip() for c in lines[2].split("|")[1:4]] == ["myraft", "1/1", "1/1"]
    assert len(lines) == 3


def test_a_failure_is_shown_whole_wrapped_with_how_to_run_it_again() -> None:
    lines = summary.failures(_rows(1), "default", 17, AREAS)
    assert lines[0] == "FAIL tests raft/test_y::t"
    assert " ".join(line.strip() for line in lines[1:-1]).split() == ["why"] * 80
    assert lines[-1] == (
        "  again: PYTHONHASHSEED=0 MESHCHECK_HYPOTHESIS=dev MESHCHECK_SEED=17 python -m pytest "
        "property_tests/raft/test_y.py::t"
    )
    assert max(map(len, lines)) <= summary.WIDE


@pytest.mark.parametrize(
    ("kind", "name", "command"),
    [
        ("z3", "pbft", "meshcheck prove pbft"),
        ("mutants", "gossip", "meshcheck mutants gossip --profile quick"),
        ("traces", "traces/gossip/a.itf.json on the implementation", "meshcheck trace replay traces/gossip/a.itf.json"),
        ("tlc", "Raft_liveness", "meshcheck verify --only tlc --protocol raft --profile quick  # its model Raft_liveness"),
    ],
)  # fmt: skip
def test_each_kind_says_its_own_command(kind: str, name: str, command: str) -> None:
    assert summary.again(Row(kind, name, "FAIL", 1, "", 1.0), "quick", None, AREAS) == command


def test_a_model_is_checked_again_alone_and_a_run_again_says_its_profile() -> None:
    """A TLC row with its model's file: `meshcheck check` on it (the same model, the same verdict:
    tests/test_verify.py runs it). A whole run again names its profile (verify's default is
    `fast`), its kinds and protocols, and its seed."""
    row = Row("tlc", "Raft_quick", "FAIL", 1, "", 1.0, source="specs/Raft_quick.cfg")
    assert summary.again(row, "default", None, AREAS) == "meshcheck check specs/Raft_quick.cfg"
    assert summary.run_again("quick", ["tests"], ["routing"], 7) == (
        "meshcheck verify --profile quick --only tests --protocol routing --seed 7"
    )


def test_a_long_progress_line_is_clipped_a_short_one_kept() -> None:
    assert summary.clip("x" * 50) == "x" * 50
    assert summary.clip("x" * 300) == "x" * 117 + "..."


def test_a_plugins_test_is_run_again_from_its_own_file(tmp_path: Path) -> None:
    """A plug-in's test lives in its own package, not under property_tests/: its row names its
    file (verify reads it from the run, meshcheck/verify_order.py), and the command to run it
    again takes that file, with the plugin that writes its failure (meshcheck/failures_pytest.py).
    meshcheck's own tests are run again as before."""
    file = tmp_path / "myraft_meshcheck" / "tests" / "test_free_runs.py"
    row = Row("tests", "test_free_runs::t[1]", "FAIL", 1, "", 1.0, source=str(file))
    assert summary.again(row, "quick", None, AREAS) == (
        "PYTHONHASHSEED=0 MESHCHECK_HYPOTHESIS=ci python -m pytest -p meshcheck.failures_pytest "
        f"'{file}::t[1]'"
    )
    own = Row("tests", "raft/test_y::t", "FAIL", 1, "", 1.0, source="property_tests/raft/test_y.py")
    assert summary.again(own, "quick", 3, AREAS) == (
        "PYTHONHASHSEED=0 MESHCHECK_HYPOTHESIS=ci MESHCHECK_SEED=3 python -m pytest "
        "property_tests/raft/test_y.py::t"
    )


@pytest.mark.parametrize(
    ("results", "line"),
    [
        (("pass", "pass"), "2 of 2 checks passed"),
        (("pass", "skip", "skip"), "1 of 3 checks passed, 2 skipped"),
        (("pass", "FAIL", "error", "skip"), "1 of 4 checks passed, 1 skipped"),
        (("skip",), "0 of 1 check passed, 1 skipped: nothing checked"),
        ((), "0 of 0 checks passed: nothing checked"),
    ],
)
def test_a_skipped_row_is_not_a_passed_check(results: tuple[str, ...], line: str) -> None:
    """A skip is a check the run did not make (a plug-in without proofs, traces or mutants):
    counted among the checks, never among those that passed, and a run of skips alone checked
    nothing."""
    rows = [Row("z3", f"p{k}", result, None, "", 0.0) for k, result in enumerate(results)]
    assert summary.passed_line(rows) == line
    assert summary.nothing_checked(rows) == (not any(r != "skip" for r in results))
