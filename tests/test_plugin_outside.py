"""A protocol plug-in installed from outside the tree, as a new user would write one (docs/plugins.md).

The test writes a tiny distribution in a temporary folder: its own pyproject.toml declaring the
entry point `fakeraft` in the group `meshcheck.protocols`, a descriptor naming RaftPipelined.tla
(a spec of meshcheck's own) with no action table and no mutant catalogue, and a test package of its
own. It installs it (nothing downloaded) into a fresh virtual environment that sees this project's
environment (tests/outside.py), and runs the commands there as a user would:
the plug-in is listed, `verify --protocol fakeraft --only tests` runs its tests and only those, with
the coverage row counted against RaftPipelined's actions, and `mutants fakeraft` says in one line
how to add a catalogue (exit 2), never "all 0 mutants killed".
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from meshcheck import registry
from tests import outside

PYPROJECT = outside.pyproject("fakeraft", "FAKERAFT")

DESCRIPTOR = '''\
"""A Raft library's adapter, checked against meshcheck's RaftPipelined.tla."""

from meshcheck.protocol import Models, Protocol

FAKERAFT = Protocol(
    name="fakeraft",
    title="a third-party Raft, outside meshcheck's tree",
    # the spec names the actions: no table here, RaftPipelined's is used (registry.actions_of)
    models=Models(spec="RaftPipelined", quick="RaftPipelined_quick"),
    # its tests by module name, found wherever the package is installed
    property_tests=("fakeraft_meshcheck.tests",),
)
'''

TESTS = """\
from meshcheck import registry


def test_trivial() -> None:
    assert 1 + 1 == 2


def test_the_spec_names_the_actions() -> None:
    names = {a.name for a in registry.actions_of(registry.get("fakeraft"))}
    assert "PipelineAppendEntries" in names
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv that sees this project's packages, with only the plug-in installed in it."""
    folder = tmp_path_factory.mktemp("plugin")
    python = outside.fresh_venv(folder / "venv")
    source = outside.plugin_source(
        folder / "fakeraft", PYPROJECT, DESCRIPTOR, TESTS, "test_fakeraft.py"
    )
    outside.install(python, source)
    return python


def test_the_plugin_is_listed(env: Path, tmp_path: Path) -> None:
    done = outside.meshcheck(env, "protocols", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("| fakeraft "))
    assert "RaftPipelined.tla" in row


def test_verify_runs_only_its_tests(env: Path, tmp_path: Path) -> None:
    done, rows = outside.verify_checks(
        env, "fakeraft", "z3", "tests", "traces", "mutants", cwd=tmp_path
    )
    assert "trace replays" not in done.stdout  # a skip row is no replay
    tests = [r for r in rows if r["kind"] == "tests"]
    assert sorted(r["name"].rsplit("::", 1)[-1] for r in tests) == [
        "test_the_spec_names_the_actions",
        "test_trivial",
    ]
    assert all(r["result"] == "pass" for r in tests)
    # each part it lacks is one "skip" row that says which field adds it, not a vacuous pass
    lacking = {r["kind"]: r["detail"] for r in rows if r["result"] == "skip"}
    assert {r["name"] for r in rows if r["result"] == "skip"} == {"fakeraft"}
    measured = lacking.pop("coverage")
    assert lacking == {
        "z3": "no Z3 proof set (its descriptor's proofs)",
        "traces": "no stored traces (its descriptor's corpus)",
        "mutants": "no mutant catalogue (its descriptor's bugs and checks)",
    }
    # its coverage row counts against the actions of the spec it names, RaftPipelined's table;
    # its tests run none of its nodes, so the row says it measured nothing: a skip, not a pass
    spec_table = registry.actions_of(registry.get("pysyncobj"))
    assert measured.startswith("no action of its spec taken: its tests ran none of fakeraft's")
    assert f"; actions 0/{len(spec_table)};" in measured
    assert "PipelineAppendEntries" in measured


def test_mutants_without_a_catalogue_says_how_to_add_one(env: Path, tmp_path: Path) -> None:
    done = outside.meshcheck(env, "mutants", "fakeraft", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert "no mutants to run: set its descriptor's bugs" in line and "checks" in line


def test_a_descriptor_without_actions_takes_its_specs_table() -> None:
    from meshcheck.protocol import Models
    from meshcheck.protocol import Protocol

    bare = Protocol("bare", "no table", Models(spec="RaftPipelined"))
    assert registry.actions_of(bare) == registry.get("pysyncobj").actions
    elsewhere = Protocol("other", "no table", Models(spec="RaftPipelined", package="elsewhere"))
    assert registry.actions_of(elsewhere) == ()


def test_verify_never_runs_pytest_without_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest given no paths runs the project's whole suite (minutes, gigabytes): a protocol
    whose tests are not found is a "skip" row, and pytest does not start."""
    from meshcheck import verify
    from meshcheck.protocol import Models
    from meshcheck.protocol import Protocol

    def no_pytest(command: list[str], *args: object) -> tuple[int, str, str]:
        raise AssertionError(f"pytest started: {command}")

    monkeypatch.setattr(verify, "run_tracked", no_pytest)
    bare = Protocol("bare", "no tests", Models(spec="RaftPipelined"), property_tests=("nowhere",))
    with registry.registered(bare):
        rows = list(verify.test_rows(verify.project_root(), "quick", tmp_path, ("bare",)))
    assert [(r.name, r.result) for r in rows] == [("bare", "skip")]
    assert "no module 'nowhere'" in rows[0].detail
    assert not (tmp_path / "property-tests.xml").exists()


NO_MUTANTS: dict[str, str] = {}


def test_an_empty_catalogue_is_no_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    """A catalogue of no mutants would print "all 0 mutants killed" and exit 0: a check that
    cannot fail. It is refused as a missing one is."""
    from meshcheck.cli import main
    from meshcheck.protocol import Models
    from meshcheck.protocol import Protocol

    empty = Protocol(
        "empty",
        "an empty catalogue",
        Models(spec="RaftPipelined"),
        bugs="tests.test_plugin_outside:NO_MUTANTS",
        checks="meshcheck.property_tests.pysyncobj.checks:CHECKS",
    )
    with registry.registered(empty):
        assert main(["mutants", "empty", "--profile", "quick"]) == 2
    out, err = capsys.readouterr()
    assert "killed" not in out
    assert err.startswith("meshcheck: the protocol 'empty' has no mutants to run")


FAILING_TESTS = """\
from meshcheck.impl.adapters.raft_core import CoreDriver
from meshcheck.impl.raft import message_record
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.plugin import Adapter, check_run

ADAPTER = Adapter("raft-adapter", CoreDriver, message_record, spec="Raft")
# a free run the vote mutant breaks (tests/test_adapter_example.py)
KILL = Schedule(
    seed=26, ticks=1500, drop=0.05, duplicate=0.05, delay=0.1, crash=0.3, partition=0.3,
    timeout=(150, 160),
)


def test_a_free_run_holds() -> None:
    check_run(ADAPTER, KILL, 3, frozenset({"vote_without_log_check"}))
"""


def test_a_failing_plugin_test_writes_its_trace_and_says_a_command_that_runs_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plug-in's tests live outside property_tests/ and its conftest: `verify` writes a failure
    of theirs to reports/failures/ under the current folder all the same (meshcheck/
    failures_pytest.py), and the command it prints to run the test again names the plug-in's own
    file, which exists, and fails the same way, writing the trace again."""
    from meshcheck import verify
    from meshcheck import verify_summary
    from meshcheck.property_tests.record import file_name
    from meshcheck.protocol import Models
    from meshcheck.protocol import Protocol
    from meshcheck.traces import itf

    site = tmp_path / "site"  # the plug-in, installed beside meshcheck: found by module name
    (site / "myplug_tests").mkdir(parents=True)
    (site / "myplug_tests" / "__init__.py").write_text("")
    (site / "myplug_tests" / "test_myplug.py").write_text(FAILING_TESTS)
    monkeypatch.syspath_prepend(str(site))
    user = tmp_path / "user"  # where the user runs verify: neither the project nor the plug-in
    user.mkdir()
    monkeypatch.chdir(user)
    monkeypatch.delenv("MESHCHECK_FAILURES", raising=False)
    # as when this test runs on a second xdist worker: verify's own pytest run inherits the name
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    plug = Protocol("myplug", "fails", Models(spec="Raft"), property_tests=("myplug_tests",))
    with registry.registered(plug):
        rows = list(verify.test_rows(verify.project_root(), "quick", tmp_path, ("myplug",)))
    [failed] = [r for r in rows if r.kind == "tests"]
    assert (failed.name, failed.result) == ("test_myplug::test_a_free_run_holds", "FAIL")
    assert failed.violated == "invariant LeaderCompleteness"
    # its counterexample, where meshcheck's own are written, with the command that runs it again
    written = user / "reports" / "failures" / file_name(failed.name)
    assert written.is_file(), sorted(str(p) for p in user.rglob("*"))
    trace = itf.read(written)
    assert (trace.meta["protocol"], trace.meta["source"]) == ("raft-adapter", "impl")
    again = verify_summary.again(
        failed, "quick", None, verify_summary.Areas(verify_summary.spec_areas())
    )
    assert trace.meta["again"] == again
    words = shlex.split(again)
    at = words.index("python")
    env, command = dict(w.split("=", 1) for w in words[:at]), words[at + 1 :]
    [node] = [w for w in command if "::" in w]
    assert Path(node.split("::", 1)[0]).is_file(), again
    # run as printed, from the user's folder: the same failure, its trace written again
    done = subprocess.run(
        [sys.executable, *command, "-q", "-p", "no:cacheprovider"],
        cwd=user,
        env={**outside.environ(), **env, "MESHCHECK_FAILURES": str(user / "again")},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "invariant LeaderCompleteness violated" in done.stdout
    [rewritten] = (user / "again").iterdir()
    assert rewritten.name == written.name  # the same file, wherever pytest's root folder is
    assert f"replay: {again}" in done.stdout
    assert itf.read(rewritten).steps == trace.steps
