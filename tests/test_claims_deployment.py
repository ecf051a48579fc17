"""`meshcheck claims deployment` (meshcheck/claims/deployment.py): how an election, a recovery and
a target's verdict are read off a run; one short Raft run on processes measured end to end; bad
input is one line and exit 2."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from meshcheck.claims import deployment as dep
from meshcheck.cli import main
from meshcheck.cluster.inspection import Sample
from meshcheck.cluster.nemesis import LEADER, Fault
from meshcheck.cluster.run import run


def _raft(at: float, node: str, role: str, term: int) -> Sample:
    return Sample(at, node, {"role": role, "term": term, "commit": 0})


KILL = [(2.0, "kill n1"), (3.5, "kill n1 undone")]


def test_an_election_is_timed_from_the_leaders_kill_to_a_leader_of_a_later_term() -> None:
    samples = [
        _raft(1.9, "n1", "Leader", 3),
        _raft(2.1, "n2", "Leader", 3),  # the old term's leadership, as n2 last heard it: not new
        _raft(2.4, "n2", "Candidate", 4),
        _raft(2.6, "n3", "Leader", 4),
    ]
    assert dep.elections(samples, KILL) == [pytest.approx(0.6)]
    # no new leader in the samples: never
    assert dep.elections(samples[:3], KILL) == [math.inf]
    # the killed node was not leading (the clients' leader was stale): not an election
    follower = [_raft(1.9, "n1", "Follower", 3), *samples[1:]]
    assert dep.elections(follower, KILL) == []


def test_a_target_is_judged_on_its_p99_its_slowest_sample_or_its_rate() -> None:
    fast = dep.Row(dep.RAFT_LATENCY, "5 nodes", tuple([5.0] * 99 + [30.0]))
    assert fast.verdict == "holds"  # the p99 of 100 samples is the 99th
    slow_tail = dep.Row(dep.RAFT_LATENCY, "5 nodes", tuple([5.0] * 90 + [30.0] * 10))
    assert slow_tail.verdict == "p50 only"
    assert dep.Row(dep.RAFT_LATENCY, "5 nodes", (12.0, 15.0)).verdict == "does not hold"
    assert dep.Row(dep.RAFT_LATENCY, "5 nodes", ()).verdict == "does not hold"
    # an election is judged on the slowest: one kill that waited is what a user waits
    assert dep.Row(dep.RAFT_ELECTION, "", (0.3, 0.4, 2.5)).verdict == "does not hold"
    assert dep.Row(dep.RAFT_ELECTION, "", (0.3, math.inf)).verdict == "does not hold"
    assert dep.Row(dep.RAFT_RATE, "", rate=12_000.0).verdict == "holds"
    assert dep.Row(dep.RAFT_RATE, "", rate=900.0).verdict == "does not hold"
    cells = dep.Row(dep.RAFT_RATE, "5 nodes", rate=900.0).cells()
    assert cells[2:4] == ("> 10,000 ops/s", "900 ops/s")


@pytest.mark.slow  # a deployment measurement; the Raft cluster tests start the same processes
def test_a_short_raft_run_on_processes_gives_an_election_and_a_recovery(tmp_path: Path) -> None:
    kills = (Fault(1.5, "kill", (LEADER,), 1.0),)
    outcome = run(dep._options("raft", 3, 4.0, 5, plan=kills), tmp_path)
    assert outcome.holds, outcome.failed
    (election,) = dep.elections(outcome.samples, outcome.struck)
    (recovery,) = dep.recoveries(outcome)
    # a new leader within a few election timeouts (150-300 ms), a write acknowledged after it
    assert 0.1 < election < 3.0 and election <= recovery + 0.2 < 5.0
    assert dep.write_latencies_ms(outcome) and dep.ok_rate(outcome) > 0


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "f"
    afile.write_text("")
    assert main(["claims", "deployment", "--out", str(afile)]) == 2
    assert capsys.readouterr().err.strip() == f"meshcheck: --out {afile}: not a folder"
    assert main(["claims", "deployment", "--json", str(tmp_path / "no" / "x.json")]) == 2
    assert "cannot write a file there" in capsys.readouterr().err
