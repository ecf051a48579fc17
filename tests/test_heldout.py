"""The held-out bug runner (mutation/heldout.py): its text lookup, its verdicts, and one whole run
on a tiny fake repository (a module, one test, three bugs), never on the suite itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mutation.heldout import ERROR
from mutation.heldout import KILLED
from mutation.heldout import SURVIVED
from mutation.heldout import TIMEOUT
from mutation.heldout import BadInput
from mutation.heldout import Bug
from mutation.heldout import Workspace
from mutation.heldout import apply_bug
from mutation.heldout import classify
from mutation.heldout import load_bugs
from mutation.heldout import main
from mutation.heldout import occurrences
from mutation.heldout import run_bug
from mutation.heldout import select_tests

CALC = """\
def add(a, b):
    return a + b


def unused(a):
    return a * 2
"""

TEST_CALC = """\
from pkg.calc import add


def test_add():
    assert add(2, 3) == 5
"""


def _bug(original: str, replacement: str, bug_id: str = "fake") -> Bug:
    return Bug(bug_id, "raft", "pkg/calc.py", "off-by-one", "a fake", original, replacement)


@pytest.fixture
def fake_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "fake"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TEST_CALC)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "fake"], check=True)
    return repo


def test_lookup_needs_the_original_exactly_once() -> None:
    assert occurrences(CALC, "return a + b\n") == 1
    assert occurrences(CALC, "return a") == 2
    assert occurrences("aaa", "aa") == 2  # overlapping: ambiguous too
    assert apply_bug(CALC, _bug("return a + b\n", "return a - b\n")).count("a - b") == 1
    with pytest.raises(ValueError, match="not found"):
        apply_bug(CALC, _bug("return a / b\n", "return a - b\n"))
    with pytest.raises(ValueError, match="found 2 times"):
        apply_bug(CALC, _bug("return a", "return b"))


def test_verdicts() -> None:
    failed = "....F\nFAILED test_calc.py::test_add - assert -1 == 5\n1 failed"
    assert (classify(1, failed).status, classify(1, failed).detail) == (
        KILLED,
        "test_calc.py::test_add",
    )
    broken = "ERROR test_calc.py - SyntaxError\nInterrupted: 1 error during collection"
    assert classify(2, broken).status == KILLED
    assert classify(0, "1 passed").status == SURVIVED
    assert classify(5, "no tests ran").status == ERROR  # nothing ran: no verdict
    assert classify(2, "Interrupted: keyboard").status == ERROR
    assert classify(4, "usage error").status == ERROR
    assert classify(None, "").status == TIMEOUT


def test_the_bug_set_is_well_formed() -> None:
    bugs = load_bugs()
    assert len(bugs) >= 16
    assert all(1 <= b.changed_lines <= 6 and not b.file.endswith("mutants.py") for b in bugs)
    for cls in ("client-visible", "byzantine-relay", "deep-state"):
        assert sum(b.cls == cls for b in bugs) >= 3, cls


ROOT = Path(__file__).resolve().parent.parent


def assert_each_applies(bugs: list[Bug]) -> None:
    """Each bug's original text stands exactly once in its file, and the bug changes the file."""
    for b in bugs:
        text = (ROOT / b.file).read_text()
        assert occurrences(text, b.original) == 1, b.id
        assert apply_bug(text, b) != text, b.id


def catalogue(path: Path, group: str, at_least: int, files: set[str]) -> list[Bug]:
    """The mutants of the catalogue `path`: at least `at_least`, every one in `group`, some of
    them in each of `files` (names of files), and each one still applying to its file."""
    bugs = load_bugs(path)
    assert len(bugs) >= at_least and {b.protocol for b in bugs} == {group}
    assert {b.file.split("/")[-1] for b in bugs} >= files
    assert_each_applies(bugs)
    return bugs


def test_every_bug_still_applies_to_the_code() -> None:
    """A change of the cores must keep each held-out bug's original text, or restate the bug on
    the new code (as the certificate bug was when _send_commit lost a test that always held)."""
    assert_each_applies(load_bugs())


CHECKERS = ROOT / "mutation" / "checkers.toml"


def test_the_checker_mutants_apply_and_run_the_checkers_tests_alone() -> None:
    """mutation/checkers.toml: every mutant still applies to the checkers' code, each is in the
    checkers group, and that group runs the history checkers' tests, not the cores' or the
    cluster runs'."""
    files = {
        "list_append.py",
        "cycles.py",
        "stream.py",
        "watch.py",
        "lease.py",
        "fenced_lock.py",
        "events.py",
        "alongside.py",
    }
    # and the judgement of a run that exercised nothing, which keeps a vacuous run from passing
    # for a checked one (meshcheck/exercise.py, the free-run harness's count, verify's row), and the
    # judgement by a system's promise (meshcheck/systems/promises.py, the verdict's role), and the
    # judgement of a database's isolation levels against Hermitage's table (systems/levels*.py)
    judged = (
        "meshcheck.exercise",
        "meshcheck.property_tests.plugin",
        "meshcheck.property_tests.free_runs",
        "meshcheck.verify",
        "meshcheck.systems.run",
        "meshcheck.systems.command",
        "meshcheck.systems.promises",
        "meshcheck.systems.system_file",  # a known file's promise, as the file states it
        "meshcheck.cluster.checks",
        "meshcheck.systems.levels",
        "meshcheck.systems.levels_run",
    )
    for b in catalogue(CHECKERS, "checkers", 30, files):
        assert b.module.startswith("meshcheck.traces.history.") or b.module in judged, b.module
    paths, unknown = select_tests(ROOT, "checkers")
    assert "tests/test_history_list_append.py" in paths and unknown == []
    assert not any("raft" in p or "cluster" in p for p in paths), paths


FAULTS = CHECKERS.with_name("faults.toml")


def test_the_fault_mutants_apply_and_run_the_injectors_tests_alone() -> None:
    """mutation/faults.toml: every mutant still applies to its injector, each is in the faults
    group, one in a file that is not Python names the module that reads it, and that group runs
    the injectors' own tests, no cluster run."""
    files = {
        "lazy_tree.py",
        "lazyfs_daemon.py",
        "corrupt.py",
        "disks.py",
        "clock_faults.py",
        "clock_shift.c",
        "netns.py",
        "netns_links.py",
        "proxy.py",
        "nemesis.py",
        "strike.py",
        "remote.py",
        "remote_nodes.py",
        "remote_links.py",
        "remote_delayer.py",
        "remote_clock.py",
        "remote_disks.py",
        "process_tree.py",
        "process_group.py",
        "local_hosts.py",
        "launcher.py",
        "probe.py",
        "nodes.py",
        "pipe.py",
    }
    for b in catalogue(FAULTS, "faults", 12, files):
        assert b.module.startswith(
            (
                "meshcheck.faults.",
                "meshcheck.cluster.",
                "meshcheck.impl.",
                "meshcheck.systems.remote",
                "meshcheck.systems.local_hosts",  # `meshcheck hosts up`'s sshds and their stop
                # what bounds the children the harness starts (impl/runtime/process_tree.py)
                "meshcheck.systems.probe",
                "meshcheck.systems.nodes",
                "meshcheck.drivers.pipe",
            )
        ), b.id
        assert b.file.endswith(".py") != bool(b.loader), b.id
        if b.loader:  # the module that reads the file sits beside it
            assert (ROOT / b.loader.replace(".", "/")).with_suffix(".py").parent == (
                ROOT / b.file
            ).parent, b.id
    paths, unknown = select_tests(ROOT, "faults")
    assert "tests/test_lazy_fs.py" in paths and "tests/test_netns.py" in paths and unknown == []
    assert all((ROOT / p.split("::")[0]).exists() for p in paths), paths
    assert not any(p.endswith(".py") and "cluster" in p for p in paths), paths
    raft, _ = select_tests(ROOT, "raft")
    assert not set(raft) & {p for p in paths if "::" not in p}  # they run no core


CLIENTS = CHECKERS.with_name("clients.toml")


def test_the_client_mutants_apply_and_run_the_outcome_contract_alone() -> None:
    """mutation/clients.toml: every mutant still applies to its plug-in, each is in the clients
    group, and that group runs the outcome contract and the client loops' tests, no cluster run
    and no server."""
    files = {"outcomes.py", "client.py", "nats_client.py", "jsonl.py", "checked_clients.py",
             "runtime_client.py"}  # fmt: skip
    for b in catalogue(CLIENTS, "clients", 10, files):
        assert b.module.startswith("meshcheck.systems."), b.id
        assert b.cls == "wrong-outcome", b.id
    paths, unknown = select_tests(ROOT, "clients")
    assert "tests/test_plugin_outcomes.py" in paths and unknown == []
    assert not any("cluster" in p for p in paths), paths


RUNNER = CHECKERS.with_name("runner.toml")


def test_the_runner_mutants_apply_and_run_the_runners_comparison() -> None:
    """mutation/runner.toml: every mutant still applies to the code that runs the cores from
    their files (the post-run hook, the cores' client, the node's flags), each is in the runner
    group, and that group runs the two runners' comparison, not the cores' own tests."""
    files = {"run.py", "runtime_client.py", "node_main.py", "nodes.py", "network.py",
             "rsm_workload.py"}  # fmt: skip
    catalogue(RUNNER, "runner", 19, files)
    paths, unknown = select_tests(ROOT, "runner")
    assert paths == ["tests/test_cluster_one_runner.py"] and unknown == []


ROUTING = CHECKERS.with_name("routing.toml")


def test_the_routing_mutants_apply_and_run_the_managers_tests() -> None:
    """mutation/routing.toml: every mutant still applies and is in the manager's group (the one
    in the hybrid dispatcher's client too: its effect is what the manager tells); that group runs
    the manager's own tests, and every core's group runs them too (the manager runs PBFT and the
    hybrid layer)."""
    bugs = catalogue(ROUTING, "routing", 3, {"manager.py", "consensus.py"})
    assert {b.module for b in bugs} == {
        "meshcheck.impl.manager.manager",
        "meshcheck.impl.hybrid.consensus",
    }
    paths, unknown = select_tests(ROOT, "routing")
    assert paths == ["tests/test_manager.py", "property_tests/routing"] and unknown == []
    for core in ("raft", "pbft", "hybrid", "rsm"):
        assert "property_tests/routing" in select_tests(ROOT, core)[0], core


EXPLAINS = CHECKERS.with_name("counterexamples.toml")


def test_the_counterexample_mutants_apply_and_run_their_own_tests() -> None:
    """mutation/counterexamples.toml: every mutant still applies, each is in the counterexamples
    group, and that group runs the tests of what a counterexample says, no cluster run."""
    files = {"violated.py", "show.py", "reads.py", "failure.py", "scenarios.py", "check.py"}
    catalogue(EXPLAINS, "counterexamples", 10, files)
    paths, unknown = select_tests(ROOT, "counterexamples")
    assert "tests/test_counterexample_explains.py" in paths and unknown == []
    assert not any("cluster" in p for p in paths), paths


def test_bad_bug_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bugs.toml"
    bad.write_text('[[bug]]\nid = "x"\nprotocol = "paxos"\n')
    assert main(["--bugs-file", str(bad), "--list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("meshcheck: ") and len(err.strip().splitlines()) == 1
    bad.write_text("[[bug]\n")
    with pytest.raises(BadInput):
        load_bugs(bad)


def test_selection_runs_the_protocol_and_its_users() -> None:
    raft, _ = select_tests(ROOT, "raft")
    assert "property_tests/raft" in raft and "property_tests/hybrid" in raft
    assert "property_tests/pbft" not in raft and "tests/test_raft_spec.py" not in raft


def test_a_fake_bug_is_killed_or_survives(fake_repo: Path) -> None:
    ws = Workspace(fake_repo, "HEAD")
    try:
        killed = run_bug(ws, _bug("return a + b\n", "return a - b\n"), ["test_calc.py"], "ci", 120)
        assert (killed.status, killed.detail) == (KILLED, "test_calc.py::test_add")
        survived = run_bug(
            ws, _bug("return a * 2\n", "return a * 3\n"), ["test_calc.py"], "ci", 120
        )
        assert survived.status == SURVIVED, survived.extra.get("output")
        gone = run_bug(ws, _bug("return a / b\n", "return 0\n"), ["test_calc.py"], "ci", 120)
        assert gone.status == ERROR and "not found" in gone.detail
        # the copy is put back after every bug
        assert (ws.copy / "pkg" / "calc.py").read_text() == CALC
        # a module that is not the copy's is refused by the guard: no verdict
        alien = ws.pytest(["test_calc.py"], "ci", "json", "x", 120)
        assert alien.status == ERROR
    finally:
        ws.close()
    assert not ws.tmp.exists()
