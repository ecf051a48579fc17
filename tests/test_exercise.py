"""meshcheck/exercise.py: a run that committed (almost) nothing, or whose faults did not happen, is
judged VACUOUS, and `meshcheck verify` counts a test all of whose runs were so apart from a pass."""

from __future__ import annotations

import textwrap

import pytest

from meshcheck import exercise
from meshcheck import verify
from meshcheck import verify_summary as summary
from meshcheck.exercise import VACUOUS
from meshcheck.exercise import Exercise
from meshcheck.html.from_verify import page_of
from meshcheck.html.render import render
from meshcheck.impl.adapters.raft_core import CoreDriver
from meshcheck.impl.raft import message_record
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hotstuff import free_runs as hotstuff_runs
from meshcheck.property_tests.plugin import Adapter
from meshcheck.property_tests.plugin import check_run
from meshcheck.property_tests.raft import free_runs as raft_runs
from meshcheck.verify import Row
from meshcheck.verify import project_root
from meshcheck.verify import summary_areas


@pytest.mark.parametrize(
    ("done", "why"),
    [
        (Exercise(82, 3), "3 of 82 writes committed (fewer than 5, or under 10%)"),
        (Exercise(4, 4), "4 of 4 writes committed (fewer than 5, or under 10%)"),
        (Exercise(100, 9), "9 of 100 writes committed (fewer than 5, or under 10%)"),
        (Exercise(100, 10), None),  # 10%, and at least 5: enough
        (Exercise(5, 5), None),
        (Exercise(0, 0), "0 of 0 writes committed (fewer than 5, or under 10%)"),
        (Exercise(40, 40, 4, 1), "1 of 4 faults planned carried out (under 50%)"),
        (Exercise(40, 40, 4, 2), None),  # half the faults carried out: enough
        (Exercise(40, 40, 0, 0), None),  # a run that planned no fault owes none
        (
            Exercise(40, 2, 2, 0),
            "2 of 40 writes committed (fewer than 5, or under 10%); 0 of 2 faults planned "
            "carried out (under 50%)",
        ),
    ],
)
def test_the_judgement_and_its_threshold(done: Exercise, why: str | None) -> None:
    assert exercise.vacuous(done) == why


# The tutorial's library (docs/tutorial-your-raft.md: meshcheck's Raft core through the adapter
# contract), its free runs under the tutorial's fault mix before and after it was tuned
LIBRARY = Adapter("myraft", CoreDriver, message_record, spec="Raft")
BEFORE = {"drop": 0.05, "duplicate": 0.05, "delay": 0.1, "crash": 0.3, "partition": 0.3}
AFTER = {"drop": 0.05, "duplicate": 0.05, "delay": 0.1, "crash": 0.1, "partition": 0.1}


def test_a_free_run_that_committed_nothing_is_vacuous_not_a_pass() -> None:
    """Seed 1 under the old mix: every property held, on a cluster that committed none of its
    writes; the run says so. Under the tuned mix the same seed commits tens of them. A short run
    whose planned faults never struck says that too."""
    exercise.take()
    empty = check_run(LIBRARY, Schedule(seed=1, ticks=1500, **BEFORE, timeout=(150, 160)))
    assert empty.exercise.committed == 0 and empty.exercise.attempted > 70
    assert empty.vacuous is not None and empty.vacuous.startswith("0 of ")
    full = check_run(LIBRARY, Schedule(seed=1, ticks=1500, **AFTER, timeout=(150, 160)))
    # drops, duplicates, a crash (restart) and a partition: the four kinds planned all struck
    assert full.exercise == Exercise(85, 36, 4, 4) and full.vacuous is None
    # three chaos rounds at 10%: neither the crash nor the partition planned struck
    calm = check_run(LIBRARY, Schedule(seed=0, ticks=300, crash=0.1, partition=0.1))
    assert calm.exercise == Exercise(15, 2, 2, 0)
    assert calm.vacuous is not None and calm.vacuous.endswith(
        "0 of 2 faults planned carried out (under 50%)"
    )
    # each run noted for the test's report
    assert exercise.take() == [empty.vacuous, None, calm.vacuous]


def test_the_own_cores_free_runs_are_judged_as_a_plug_in_s_are() -> None:
    """meshcheck's own Raft and HotStuff safety free runs, drawn and held, are judged and noted
    by the shared harness (property_tests/free_runs.py `judged`): a long Raft run that committed 26 of
    50 writes under all four kinds of fault passes; a 100-tick one, whose client got none
    committed and whose faults never struck, and a HotStuff run whose faults kept every write
    from committing, are vacuous. A fixed scenario's run (not drawn) is not judged."""
    mix = {"drop": 0.1, "crash": 0.05, "partition": 0.05, "duplicate": 0.05}
    exercise.take()
    raft_runs.check_safety(Schedule(seed=0, ticks=1000, **mix), 3, frozenset(), judge=True)
    assert exercise.take() == [None]
    raft_runs.check_safety(Schedule(seed=0, ticks=100, **mix), 3, frozenset(), judge=True)
    assert exercise.take() == [
        "0 of 5 writes committed (fewer than 5, or under 10%); "
        "0 of 4 faults planned carried out (under 50%)"
    ]
    hotstuff_runs.check_safety(Schedule(seed=0, ticks=1000, **mix), 4, frozenset(), judge=True)
    assert exercise.take() == ["0 of 40 writes committed (fewer than 5, or under 10%)"]
    hotstuff_runs.check_safety(Schedule(seed=0, ticks=1000, **mix), 4, frozenset())
    assert exercise.take() == []


def test_a_tally_read_back() -> None:
    assert exercise.tally([]) == ""
    assert exercise.read("") == (False, "")
    assert exercise.tally([None, None]) == "0/2"
    assert exercise.read("0/2") == (False, "")
    some = exercise.tally([None, "few", "none"])
    assert some == "2/3: few"
    assert exercise.read(some) == (False, "2 of 3 runs vacuous: few")
    assert exercise.read(exercise.tally(["few", "none"])) == (
        True,
        "every one of 2 runs vacuous: few",
    )


AREAS = summary_areas(project_root(), "default")


def test_verify_counts_a_vacuous_row_apart_and_does_not_exit_0() -> None:
    rows = [
        Row("tests", "raft/test_a::t", "pass", 1, "", 1.0),
        Row("tests", "raft/test_b::t", VACUOUS, 1, "", 1.0, "every one of 1 run vacuous: few"),
        Row("tests", "pbft/test_c::t", "pass", 1, "", 1.0),
    ]
    assert summary.passed_line(rows) == "2 of 3 checks passed, 1 vacuous"
    lines = summary.overview(rows, AREAS).splitlines()
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == [
        "protocol",
        "tests",
        "failed",
        VACUOUS,
        "seconds",
    ]
    raft = next(line for line in lines if line.startswith("| raft "))
    assert [c.strip() for c in raft.split("|")[1:-1]] == ["raft", "1/2", "", "1", "2.00"]
    said = summary.failures(rows, "default", None, AREAS)
    assert said[:2] == ["vacuous tests raft/test_b::t", "    every one of 1 run vacuous: few"]
    assert verify.exit_code(rows) == 1
    assert verify.exit_code([rows[0], rows[2]]) == 0
    # with none vacuous, the overview has no such column
    assert VACUOUS not in summary.overview([rows[0]], AREAS)
    # nor does the HTML report count it among the passes: a column of its own
    html = render(page_of(rows, profile="default", generated="now"))
    assert "<th>vacuous</th>" in html and '<td class="num r-vacuous">1</td>' in html


# Two tests whose runs were judged, as a test module of a project `meshcheck verify` runs: one
# all of whose runs were vacuous, one with a run that exercised enough. tests/test_verify_cost.py
# runs them through verify's pytest run (the plugin meshcheck/exercise_pytest.py) to its rows,
# beside its own tiny test, in one pytest process.
JUDGED = textwrap.dedent(
    """
    from meshcheck import exercise
    from meshcheck.exercise import Exercise

    def test_exercised_nothing():
        exercise.note(Exercise(82, 1))
        exercise.note(Exercise(82, 3))

    def test_exercised_once():
        exercise.note(Exercise(82, 1))
        exercise.note(Exercise(82, 60))
    """
)


def assert_judged(rows: list[Row]) -> None:
    """JUDGED's rows: the test every run of which was vacuous is a vacuous row, the other a pass
    that says how many of its runs were."""
    found = {r.name: r for r in rows}
    empty = found["test_judged::test_exercised_nothing"]
    once = found["test_judged::test_exercised_once"]
    assert empty.result == VACUOUS
    assert empty.detail.startswith("every one of 2 runs vacuous: 1 of 82 writes committed")
    assert once.result == "pass" and once.detail.startswith("1 of 2 runs vacuous: 1 of 82")


def test_a_real_clusters_run_counts_its_operations_ok_and_its_faults_undone() -> None:
    """`cluster test --system`'s Outcome (meshcheck/systems/run.py): every operation of the
    workload and those ok, the plan's faults and those carried out and undone (nemesis.log)."""
    from meshcheck.cluster.nemesis import Fault
    from meshcheck.cluster.workload import History
    from meshcheck.systems.run import Outcome
    from meshcheck.systems.run import RunOptions
    from meshcheck.traces.history.history import Op

    ops = [Op("c1", "write", k, None, k, k + 0.5, "ok" if k < 3 else "fail") for k in range(40)]
    plan = (Fault(1.0, "kill", ("n1",), 1.0), Fault(3.0, "pause", ("n2",), 1.0))
    struck = ((1.0, "kill n1"), (2.0, "kill n1 undone"))
    outcome = Outcome(RunOptions(), History(ops), (), plan, struck, 5.0)
    assert outcome.exercise == Exercise(40, 3, 2, 1, "operation", "ok")
    assert (
        exercise.vacuous(outcome.exercise) == "3 of 40 operations ok (fewer than 5, or under 10%)"
    )


def test_under_strict_a_late_fault_is_not_carried_out() -> None:
    """A plan kept late (a readiness probe held back a kill by seconds): the run's Outcome counts
    the late fault (fault_account.py), which is carried out by default and not under --strict."""
    from meshcheck.cluster.fault_account import Kept
    from meshcheck.cluster.nemesis import Fault
    from meshcheck.cluster.workload import History
    from meshcheck.systems.run import Outcome
    from meshcheck.systems.run import RunOptions
    from meshcheck.traces.history.history import Op

    ops = [Op("c1", "write", k, None, k, k + 0.5) for k in range(40)]
    plan = (Fault(1.0, "kill", ("n1",), 1.0), Fault(3.5, "kill", ("n2",), 1.0))
    struck = ((1.0, "kill n1"), (2.0, "kill n1 undone"), (8.07, "kill n2"), (9.1, "kill n2 undone"))
    kept = (Kept(plan[0], 1.0), Kept(plan[1], 8.07))
    outcome = Outcome(RunOptions(), History(ops), (), plan, struck, 10.0, kept=kept)
    done = outcome.exercise
    assert done == Exercise(40, 40, 2, 2, "operation", "ok", late=1)
    assert done.line() == "40 of 40 operations ok, 2 of 2 faults carried out (1 late)"
    assert exercise.vacuous(done) is None
    assert exercise.vacuous(done, strict=True) is None  # 1 of 2 on time: half, enough
    three = Exercise(40, 40, 3, 3, late=2)
    assert exercise.vacuous(three) is None
    assert exercise.vacuous(three, strict=True) == (
        "1 of 3 faults planned carried out on time (under 50%)"
    )
    assert outcome.faults.late == 1 and outcome.faults.slip == pytest.approx(4.57)
