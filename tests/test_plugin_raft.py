"""A Raft that meshcheck did not write, put under its checks out of tree, gets every property the
reference core is checked with by default (property_tests/plugin.py, property_tests/shapes.py).

tests/outside_raft/ is the source of a distribution, `tinyraft-meshcheck`: `tinyraft`, a small
Raft of its own structure (dict messages, a state machine of its own, no leader no-op), and
`tinyraft_meshcheck`, its adapter, descriptor and tests, written from docs/tutorial-your-raft.md.
It is installed into a fresh virtual environment (tests/outside.py) and checked there as a user
would: its tests, which name no property, hold on the correct library and catch each of its three
known bugs with the property's name (ElectionSafety, MatchIndexMonotonic, and the commit-liveness
promise LeaderCommitsStoredEntries with its numbers), `meshcheck mutants tinyraft` kills all
three, and `meshcheck scenarios` runs the directed scenarios on it through the harness's target
its descriptor names. In process, the same runs show what the checks a plug-in had before missed: the four
invariants of the tutorial's helpers pass the matchIndex regression and the leader that stops
committing, and a linearizability check against meshcheck's own state machine fails the correct
library, whose answers are its own.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import attrs
import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.plugin import STORM
from meshcheck.property_tests.plugin import Adapter
from meshcheck.property_tests.plugin import check_run
from meshcheck.property_tests.plugin import cluster
from meshcheck.property_tests.plugin import own_answers
from meshcheck.property_tests.raft.safety import INVARIANTS
from tests import outside
from tests.schedules import faulty

SOURCE = Path(__file__).with_name("outside_raft")
# Raft.tla's properties, which the plug-in's own code never names
PROPERTIES = (
    "ElectionSafety",
    "LogMatching",
    "LeaderCompleteness",
    "StateMachineSafety",
    "CommitIndexMonotonic",
    "MatchIndexMonotonic",
    "LeaderCommitsStoredEntries",
    "EventuallyLeader",
    "EventuallyAllCommitted",
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv that sees this project's packages, with tinyraft-meshcheck installed."""
    folder = tmp_path_factory.mktemp("tinyraft")
    source = folder / "tinyraft-meshcheck"
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("conftest.py", "__pycache__"))
    python = outside.fresh_venv(folder / "venv")
    outside.install(python, source)
    return python


def test_the_plugin_names_no_property() -> None:
    """The library, its adapter and its descriptor: the properties come from the harness."""
    code = [p for p in SOURCE.rglob("*.py") if "tests" not in p.relative_to(SOURCE).parts]
    assert len(code) >= 5
    for path in code:
        text = path.read_text()
        assert not [name for name in PROPERTIES if name in text], path


def test_its_tests_hold_and_catch_each_bug_by_the_propertys_name(env: Path, tmp_path: Path) -> None:
    _, checks = outside.verify_checks(env, "tinyraft", "tests", cwd=tmp_path)
    rows = [r for r in checks if r["kind"] == "tests"]
    names = sorted(r["name"].rsplit("::", 1)[-1] for r in rows)
    assert all(r["result"] == "pass" for r in rows), rows
    caught = [n for n in names if n.startswith("test_each_known_bug_is_caught[")]
    assert len(caught) == 3 and len([n for n in names if n.startswith("test_free_runs_hold")]) == 3
    assert any("MatchIndexMonotonic" in n for n in caught)
    assert any("commit_stops_at_old_term" in n for n in caught)


@pytest.mark.moved(
    stand_in="tests/test_plugin_raft.py::test_its_tests_hold_and_catch_each_bug_by_the_propertys_name",
    why="the installed plug-in's three bugs, each caught by its own test; `meshcheck mutants` on "
    "a plug-in's catalogue runs in tests/test_toy_protocol.py's verify run",
)
def test_meshcheck_mutants_kills_every_known_bug(env: Path, tmp_path: Path) -> None:
    done = outside.meshcheck(env, "mutants", "tinyraft", "--profile", "quick", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 3 mutants killed" in done.stdout
    for bug in ("vote_twice", "match_regress", "commit_stops_at_old_term"):
        row = next(line for line in done.stdout.splitlines() if line.startswith(f"| {bug} "))
        assert "free runs (3 nodes)" in row


# -- in process: what a plug-in was checked with before --------------------------------------


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> Adapter:
    """tinyraft's adapter, imported from the source folder, its spec named (not installed here)."""
    monkeypatch.syspath_prepend(str(SOURCE))
    adapter: Adapter = importlib.import_module("tinyraft_meshcheck.adapter").ADAPTER
    return attrs.evolve(adapter, spec="Raft")


def _schedule(seed: int) -> Schedule:
    return faulty(seed, timeout=(150, 160))


@pytest.mark.parametrize(
    ("bug", "seed", "found"),
    [("match_regress", 7, "MatchIndexMonotonic"), ("commit_stops_at_old_term", 2, "Leader")],
)
def test_the_four_invariants_alone_miss_two_bugs(
    tiny: Adapter, bug: str, seed: int, found: str
) -> None:
    """The tutorial's helpers checked ElectionSafety, LogMatching, LeaderCompleteness and
    StateMachineSafety after every step: both runs keep all four; the whole set fails them."""
    schedule = _schedule(seed)
    sim = cluster(tiny, schedule, 3, frozenset({bug}))
    free_runs.run(sim, schedule, schedule.ticks + 3000, STORM)
    four = ("ElectionSafety", "LogMatching", "LeaderCompleteness", "StateMachineSafety")
    assert all(INVARIANTS[name](step.state) for step in sim.trace().steps for name in four)
    with pytest.raises(CheckFailed, match=found):
        check_run(tiny, schedule, 3, frozenset({bug}))


def test_its_own_answers_are_judged_as_its_own(tiny: Adapter) -> None:
    """tinyraft answers a read with the value and a write with {"previous": ...}: judged against
    meshcheck's state machine's answers the correct library is "not linearizable"; judged as a
    map of registers (`own_answers`) it is linearizable."""
    schedule = _schedule(7).with_knobs(reads=0.3)
    run = check_run(tiny, schedule)
    assert run.sim.history is not None
    answers = [o.result for o in run.sim.history.history() if o.status == "ok"]
    assert FrozenDict({"previous": None}) in answers and any(isinstance(a, int) for a in answers)
    assert own_answers(run.sim) is None
    problem = check_history(run.sim)
    assert problem is not None and problem.startswith("linearizable: not linearizable")


def test_meshcheck_scenarios_judges_it_by_its_own_answers_and_the_shapes_properties(
    env: Path, tmp_path: Path
) -> None:
    """`meshcheck scenarios` on the installed plug-in, its descriptor naming the harness's target
    (`target(ADAPTER)`): the correct library passes (its answers judged as its own, not as
    meshcheck's state machine's), and its matchIndex regression fails the scenario that reorders
    the answers by the action property's name, its trace written."""
    chosen = ("--scenario", "reordered-replies", "--scenario", "lost-reply")
    done = outside.meshcheck(env, "scenarios", "--protocol", "tinyraft", *chosen, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": pass (") == 2
    bug = ("--mutant", "match_regress", "--scenario", "reordered-replies", "--out", "found")
    done = outside.meshcheck(env, "scenarios", "--protocol", "tinyraft", *bug, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "reordered-replies: fail" in done.stdout
    assert "violates MatchIndexMonotonic" in done.stdout
    assert (tmp_path / "found" / "tinyraft-reordered-replies.itf.json").is_file()
    # its adapter names no step of Raft.tla: its run logs nothing, and no command says otherwise
    assert "  log:   none: tinyraft's adapter names no step of Raft" in done.stdout
    assert "validate:" not in done.stdout
    assert not (tmp_path / "found" / "tinyraft-reordered-replies.ndjson").exists()
