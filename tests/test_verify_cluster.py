"""`meshcheck verify`'s rows of the project's own cores as clusters of processes
(meshcheck/verify_cluster.py): every protocol the runtime hosts has one, a row is judged by the
checks that do not depend on real time, and a row fails on a core with a bug."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.cluster import checks
from meshcheck.cluster import convergence
from meshcheck.cluster import health
from meshcheck.cluster.checks import Verdict
from meshcheck.cluster.options import Options
from meshcheck.cluster.options import Outcome
from meshcheck.cluster.workload import History
from meshcheck.impl.runtime.protocols import PROTOCOLS
from meshcheck.verify import Row
from meshcheck.verify_cluster import Cluster
from meshcheck.verify_cluster import cluster_row
from meshcheck.verify_cluster import clusters
from meshcheck.verify_cluster import judge
from meshcheck.verify_summary import Areas
from meshcheck.verify_summary import area


def test_every_protocol_the_runtime_hosts_has_a_row() -> None:
    """Each from its runtime protocol's `verify` (meshcheck/impl/runtime/protocols.py): Raft at the
    design's five nodes, the BFT protocols at 3f+1 = 4 with f = 1, gossip at five."""
    assert sorted(c.protocol for c in clusters()) == sorted(PROTOCOLS)
    for c in clusters():
        assert area(Row("traces", c.row, "pass", 1, "ops", 1.0, ""), Areas()) == c.protocol
    assert [c.row for c in clusters()] == [
        "cluster of processes: raft, 5 nodes, 20 s, the nemesis",
        "cluster of processes: pbft, 4 nodes, 10 s, the nemesis",
        "cluster of processes: hotstuff, 4 nodes, 10 s, the nemesis",
        "cluster of processes: hybrid, 4 nodes, 10 s, the nemesis",
        "cluster of processes: gossip, 5 nodes, 10 s, the nemesis",
    ]


def test_a_row_is_judged_by_the_checks_that_do_not_depend_on_real_time() -> None:
    safe = Verdict("linearizable (rsm)", True, "9 operations")
    late = Verdict("progress after healing", False, "none", timed=True)
    assert judge([safe, late]) == (
        True,
        "1 check held (not judged, on real time: progress after healing did not hold)",
    )
    broken = Verdict("logs valid (Raft.tla)", False, "record 7 is no step")
    assert judge([safe, broken, late])[0] is False
    assert "logs valid (Raft.tla): record 7 is no step" in judge([safe, broken])[1]
    undecided = Verdict("linearizable (rsm)", None, "undecided within 30 s")
    assert judge([undecided])[0] is False  # undecided is no pass
    assert judge([late])[0] is False  # a run with nothing but timed checks shows nothing
    assert judge([])[0] is False


def test_a_run_is_safe_when_its_checks_not_on_real_time_hold() -> None:
    safe = Verdict("linearizable (rsm)", True, "9 operations")
    late = Verdict("progress after healing", False, "none", timed=True)
    broken = Verdict("acknowledged writes durable", False, "w3 is on 0 of 3 disks")

    def outcome(*verdicts: Verdict) -> Outcome:
        return Outcome(Options(), (), History(), verdicts, 1.0, (0, 0))

    assert outcome(safe, late).safe and not outcome(safe, late).holds
    assert not outcome(safe, broken, late).safe
    assert not outcome(late).safe  # nothing judged
    undecided = Verdict("linearizable (rsm)", None, "undecided within 30 s")
    assert not outcome(undecided).safe


def test_the_checks_on_real_time_say_so_and_the_others_do_not() -> None:
    assert checks.progress([], 1.0, 2.0).timed
    assert convergence.spread_verdict([0.5]).timed
    assert not checks.linearizable([], 1.0).timed
    assert not convergence.reads_written([]).timed
    assert not health.never_backwards([]).timed
    for check in (
        convergence.converged,
        convergence.trusted,
        health.suspected_when_down,
        health.trusted_when_back,
    ):
        assert hasattr(check, "__wrapped__"), check  # made by checks.timed


def test_a_row_fails_on_a_core_with_a_bug_and_keeps_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Raft that answers reads without a quorum: the nodes' logs are no behaviour of Raft.tla in
    every run (docs/cluster.md, "What it has caught"); the failing run's folder is kept, since
    real processes' timing cannot be replayed. The correct core's runs under the nemesis are
    tests/test_cluster_cmd.py's."""
    monkeypatch.chdir(tmp_path)
    row = cluster_row(Cluster("raft", 3, 4.0), None, frozenset({"read_without_quorum"}))
    assert row.result == "FAIL", row.detail
    assert "logs valid (Raft.tla)" in row.detail, row.detail
    assert row.count and row.count > 0
    kept = tmp_path / "reports" / "failures" / "cluster-raft-seed-1"
    assert f"the run's folder: {kept}" in row.detail
    assert (kept / "history.jsonl").is_file()
    assert sorted(p.parent.name for p in kept.glob("data/*/node.ndjson")) == ["n1", "n2", "n3"]
