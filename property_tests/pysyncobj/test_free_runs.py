"""PySyncObj through the adapter: free runs hold on first-in first-out links (PySyncObj's TCP),
the bugs injected into it are killed, and each discrepancy found has its run pinned here (the
same schedules are saved as ITF under traces/pysyncobj/findings/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import settings

from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.pysyncobj.bugs import BUGS
from meshcheck.property_tests.pysyncobj.free_runs import check_safety
from meshcheck.property_tests.pysyncobj.free_runs import free_run_safety
from meshcheck.property_tests.pysyncobj.scenarios import check_stale_append
from meshcheck.property_tests.raft.safety import election_safety

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


@pytest.mark.parametrize(
    "nodes",
    [
        pytest.param(
            3,
            marks=pytest.mark.moved(
                stand_in=(
                    "property_tests/pysyncobj/test_free_runs.py"
                    "::test_pysyncobj_free_runs_hold_on_fifo_links[5]"
                ),
                why=(
                    "the same free runs at 5 nodes kill all three injected bugs in this budget "
                    "(vote_ignores_log, vote_twice, keep_conflicting_suffix), at 3 nodes two "
                    "(keep_conflicting_suffix survives its 24 runs); test_injected_bug_is_killed "
                    "runs 3-node clusters in make test"
                ),
            ),
        ),
        5,
    ],
)
def test_pysyncobj_free_runs_hold_on_fifo_links(nodes: int) -> None:
    # a share of the profile's examples (ci: 24 runs, dev: 80), as Raft's free runs take
    free_run_safety(frozenset(), share(settings(), 0.4), nodes=nodes, fifo=True)


# -- injected bugs, each killed ----------------------------------------------------------------------

# Each bug's first failing run of the 3-node free runs in 40 fixed examples (the budget these
# tests searched with until they pinned what it found: 21 runs for vote_ignores_log, more for
# keep_conflicting_suffix), kept as a regression as PBFT's are (property_tests/pbft/
# test_free_runs.py). How fast the search finds each from scratch is `meshcheck mutants
# pysyncobj`'s business: in the ci profile (`--profile quick`) its "free runs (3 nodes)" check
# kills all three.
KILLS = {
    "vote_ignores_log": (
        Schedule(
            seed=9833,
            ticks=600,
            drop=0.05,
            duplicate=0.05,
            delay=0.02,
            crash=0.6,
            partition=0.6,
            one_way=0.5,
            every=50,
            reads=0.0,
            down=(200, 2000),
            fifo=True,
        ),
        "LeaderCompleteness",
    ),
    "vote_twice": (
        Schedule(
            seed=1386662,
            ticks=500,
            drop=0.0,
            duplicate=0.0,
            delay=0.2,
            crash=0.3,
            partition=0.0,
            one_way=1.0,
            every=20,
            reads=0.5,
            down=(1, 100),
            fifo=True,
        ),
        "ElectionSafety",
    ),
    "keep_conflicting_suffix": (
        Schedule(
            seed=4294967294,
            ticks=1100,
            drop=0.0,
            duplicate=0.2,
            delay=0.02,
            crash=0.0,
            partition=0.6,
            one_way=1.0,
            every=50,
            reads=0.0,
            down=(200, 2000),
            fifo=True,
        ),
        "LogMatching",
    ),
}


def test_every_injected_bug_has_a_test() -> None:
    assert set(KILLS) == set(BUGS)


@pytest.mark.parametrize("bug", sorted(KILLS))
def test_injected_bug_is_killed(bug: str) -> None:
    schedule, invariant = KILLS[bug]
    check_safety(schedule, 3, frozenset())  # the run holds without the bug
    with pytest.raises(CheckFailed) as failed:
        check_safety(schedule, 3, frozenset({bug}))
    assert invariant in failed.value.message
    assert failed.value.trace is not None and failed.value.steps > 0


def test_unknown_bug_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="no PySyncObj bug nope"):
        check_safety(Schedule(seed=1, ticks=100), 3, frozenset({"nope"}))


# -- the discrepancies found, each on its schedule --------------------------------------------------

# Each schedule is a short one that shows the finding: the first failing run shrunk by Hypothesis
# (`find` over free_runs.schedules with the finding's knobs, for the same check's failure), or
# where that left a long run, the shortest run of a few hundred seeds at a shorter duration.
FINDINGS = {
    # a delayed AppendEntries truncates entries the follower already had: a committed entry lost
    "stale_append_truncates": (
        Schedule(
            seed=255,
            ticks=300,
            drop=0.1,
            duplicate=0.05,
            delay=0.1,
            crash=0.6,
            partition=0.3,
            every=20,
            reads=0.0,
            down=(1, 100),
        ),
        5,
        "violates LeaderCompleteness",
    ),
    # LEADER_CHANGED, documented as "without command commit", for a command that then committed
    "leader_changed_but_applied": (
        Schedule(
            seed=43,
            ticks=400,
            drop=0.05,
            partition=0.3,
            one_way=0.0,
            every=20,
            reads=0.0,
            answers="documented",
        ),
        3,
        "no answer withdrawn",
    ),
    # off TCP: a forwarded command delivered twice is appended and applied twice
    "duplicate_forward_applied_twice": (
        Schedule(
            seed=0,
            ticks=300,
            duplicate=0.02,
            delay=0.02,
            crash=0.3,
            partition=0.1,
            one_way=0.0,
            every=20,
            reads=0.0,
            down=(1, 100),
            tcp=False,
        ),
        3,
        "applied at most once",
    ),
    # off TCP: a restarted node numbers its forwarded requests from 1 again, and a late answer to
    # its earlier incarnation's request completes the new request with another command's result
    "answer_to_earlier_incarnation": (
        Schedule(
            seed=16,
            ticks=1500,
            drop=0.1,
            delay=0.1,
            crash=0.6,
            every=20,
            reads=0.2,
            down=(1, 100),
            tcp=False,
        ),
        3,
        "not linearizable",
    ),
}


@pytest.mark.parametrize("finding", sorted(FINDINGS))
def test_finding_reproduces_from_its_seed(finding: str) -> None:
    schedule, nodes, what = FINDINGS[finding]
    with pytest.raises(CheckFailed) as failed:
        check_safety(schedule, nodes, frozenset())
    assert what in failed.value.message


def test_stale_append_scenario_loses_a_committed_entry() -> None:
    with pytest.raises(CheckFailed) as failed:
        check_stale_append(Schedule(seed=1, ticks=0), 3, frozenset())
    assert "violates LeaderCompleteness" in failed.value.message
    assert failed.value.steps < 80


def test_fifo_links_hide_the_stale_append() -> None:
    schedule, nodes, _ = FINDINGS["stale_append_truncates"]
    check_safety(schedule.with_knobs(fifo=True), nodes, frozenset())


def test_the_run_writes_its_ndjson_log(tmp_path: Path) -> None:
    schedule = Schedule(seed=17, ticks=600, drop=0.05, crash=0.3)
    sim = check_safety(schedule, 3, frozenset(), logs=tmp_path)
    lines = (tmp_path / "seed-17.ndjson").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records and {r["run"] for r in records} == {"seed-17"}
    actions = {r["action"] for r in records}
    assert {"Timeout", "HandleRequestVoteRequest", "AppendEntries"} <= actions
    assert not actions & {"Tick", "Submit", "Forward"}  # not Raft.tla's: left out of the log
    for node in sim.node_ids:  # each node's Lamport clock only grows
        clocks = [r["clock"] for r in records if r["node"] == node]
        assert clocks == sorted(clocks)
    # the states are the spec's variables: one leader per term among the logged roles
    leaders = {
        (r["state"]["currentTerm"], r["node"])
        for r in records
        if r["state"].get("role") == "Leader"
    }
    terms = [t for t, _ in leaders]
    assert len(terms) == len(set(terms))
    assert election_safety({"role": {}, "currentTerm": {}})


def test_logs_command_writes_one_file_per_run(tmp_path: Path) -> None:
    from meshcheck.property_tests.pysyncobj.logs import main

    assert main([str(tmp_path), "--runs", "2", "--seed", "5"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed-5.ndjson", "seed-6.ndjson"]
    for path in tmp_path.iterdir():
        terms: dict[str, int] = {}
        for line in path.read_text().splitlines():  # a node's term never goes back in its log
            record = json.loads(line)
            term = record["state"]["currentTerm"]
            assert term >= terms.get(record["node"], 0), record
            terms[record["node"]] = term


def test_logs_command_refuses_bad_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from meshcheck.property_tests.pysyncobj.logs import main

    assert main([str(tmp_path), "--runs", "0"]) == 2
    assert capsys.readouterr().err.startswith("meshcheck: ")
