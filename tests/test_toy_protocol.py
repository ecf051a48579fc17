"""A toy protocol from the test suite (tests/toy/: two-phase commit, a sans-IO coordinator and
participants, two mutants) registered through the registry, and run by `meshcheck mutants`,
`trace replay` and `verify` through the same code as Raft: the shared harness
(property_tests/harness.py), the registry (meshcheck/registry.py), the commands."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from meshcheck import registry
from meshcheck.cli import main
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.traces import itf
from meshcheck.words import count
from tests import command
from tests.own_protocols import OWN_PROTOCOLS
from tests.toy.core import BUGS
from tests.toy.descriptor import PROTOCOL
from tests.toy.harness import HARNESS
from tests.toy.harness import TWOPHASE

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "tests" / "toy" / "traces" / "twophase"

# the catalogue and a third 'mutant' that changes nothing observable (no core reads the switch):
# a mutants run must say it survived and exit 1
WITH_HARMLESS: Mapping[str, str] = {**BUGS, "harmless": "a switch no core reads"}


def _rows(out: str) -> dict[str, list[str]]:
    lines = [line for line in out.splitlines() if line.startswith("|")]  # the table alone
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    return {row[0]: row for row in cells[2:] if row and row[0] and not row[0].startswith("-")}


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A folder for PYTHONPATH holding a distribution whose entry point is the toy's descriptor,
    as pip leaves an installed plug-in in site-packages."""
    info = tmp_path / "meshcheck_toy-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: meshcheck-toy\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text(
        "[meshcheck.protocols]\ntwophase = tests.toy.descriptor:PROTOCOL\n"
    )
    return tmp_path


def _meshcheck(plugin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m meshcheck ARGS` from the repository root (which puts `tests` on the path)."""
    path = os.pathsep.join(p for p in (str(plugin), os.environ.get("PYTHONPATH")) if p)
    return command.meshcheck(*args, pythonpath=path)


def test_registered_through_the_registry_api(capsys: pytest.CaptureFixture[str]) -> None:
    assert "twophase" not in registry.protocols()
    with registry.registered(PROTOCOL):
        assert registry.get("twophase") is PROTOCOL
        assert main(["protocols"]) == 0
        row = _rows(capsys.readouterr().out)["twophase"]
        assert row[1:] == ["TwoPhase.tla", "2", "impl", "-", "traces/twophase/"]
        # the action table is the spec's Next, and what lockstep's rules are named after
        assert {a.name for a in PROTOCOL.actions} == set(TWOPHASE.stepper().action_names)
        assert PROTOCOL.load("harness") is HARNESS
    assert "twophase" not in registry.protocols()


def test_registered_as_an_installed_entry_point(plugin: Path) -> None:
    done = _meshcheck(plugin, "protocols")
    assert done.returncode == 0, done.stderr
    assert list(_rows(done.stdout)) == [*OWN_PROTOCOLS, "twophase"]


def test_mutants_kills_both_through_the_entry_point(plugin: Path) -> None:
    done = _meshcheck(plugin, "mutants", "twophase", "--profile", "quick", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows(done.stdout)
    assert rows["commit_without_all_prepared"][1] == "lockstep"
    assert rows["prepared_rm_aborts"][1] == "lockstep"
    assert "all 2 mutants killed" in done.stdout


def test_a_mutant_no_check_kills_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    weak = attrs.evolve(PROTOCOL, bugs="tests.test_toy_protocol:WITH_HARMLESS")
    with registry.registered(weak):
        assert main(["mutants", "twophase", "--profile", "quick", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "1 of 3 mutants survived: harmless" in out
    assert _rows(out)["prepared_rm_aborts"][1] == "lockstep"


def test_the_stored_traces_are_what_mutants_save_writes(tmp_path: Path) -> None:
    """tests/toy/traces/twophase/ is `meshcheck mutants twophase --save tests/toy/traces`'s output
    (derandomized: the same counterexamples every run)."""
    with registry.registered(PROTOCOL):
        assert (
            main(["mutants", "twophase", "--profile", "quick", "--quiet", "--save", str(tmp_path)])
            == 0
        )
    written = sorted(p.name for p in (tmp_path / "twophase").iterdir())
    assert (
        written
        == sorted(p.name for p in TRACES.iterdir())
        == [f"{m}.itf.json" for m in sorted(BUGS)]
    )
    for name in written:
        assert itf.read(tmp_path / "twophase" / name) == itf.read(TRACES / name)


@pytest.mark.parametrize("mutant", sorted(BUGS))
def test_trace_replay_holds_and_diverges_with_its_mutant(
    mutant: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process, the protocol registered through the API (the entry point's registration is
    the subprocess tests' above: the registry gives the same descriptor either way)."""
    monkeypatch.chdir(ROOT)
    trace = f"tests/toy/traces/twophase/{mutant}.itf.json"
    with registry.registered(PROTOCOL):
        assert main(["trace", "replay", trace]) == 0
        held = capsys.readouterr().out
        steps = count(len(itf.read(ROOT / trace).steps) - 1, "step")
        assert held.startswith(f"holds: all {steps} of {trace}")
        assert "the twophase implementation" in held
        assert main(["trace", "replay", trace, "--recorded-bugs"]) == 1
        broke = capsys.readouterr().out
    assert f"on the twophase implementation with {mutant}" in broke
    assert "which the spec does not allow here" in broke


def test_the_stored_traces_check_kills_each_mutant_alone() -> None:
    """The corpus check (the shared harness's stored-trace replay) holds on the correct cores and
    catches each mutant on its own trace."""
    HARNESS.stored_traces(frozenset())
    for mutant in BUGS:
        with pytest.raises(CheckFailed, match="diverged"):
            HARNESS.stored_traces(frozenset({mutant}))


def test_verify_runs_the_toys_models_tests_traces_and_mutants(tmp_path: Path) -> None:
    """`meshcheck verify --protocol twophase`: every kind of row, and only the toy's (no other
    protocol's models, proofs, tests, traces or mutants, nor the specs no descriptor claims)."""
    report = tmp_path / "verify.json"
    args = ["verify", "--profile", "quick", "--protocol", "twophase", "--json", str(report)]
    with registry.registered(PROTOCOL):
        assert main([*args, "--junit", str(tmp_path / "verify.xml")]) == 0
    rows = json.loads(report.read_text())["checks"]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    assert all(r["result"] == "pass" for r in rows if r["kind"] != "z3"), rows
    assert [(r["name"], r["count"]) for r in by_kind["tlc"]] == [("TwoPhase_quick", 56)]
    # the toy has no proof set, which one row says, and no other protocol's ran
    assert [(r["name"], r["result"]) for r in by_kind["z3"]] == [("twophase", "skip")]
    assert len(by_kind["tests"]) == 2
    # each stored trace on the spec, then on the implementation (where its mutant must fail)
    traces = sorted(r["name"] for r in by_kind["traces"])
    on_spec = [f"tests/toy/traces/twophase/{m}.itf.json" for m in sorted(BUGS)]
    assert traces == sorted([*on_spec, *(f"{t} on the implementation" for t in on_spec)])
    assert [(r["name"], r["count"]) for r in by_kind["mutants"]] == [("twophase", 2)]


def test_verify_refuses_an_unknown_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--profile", "quick", "--protocol", "paxos"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "meshcheck: no protocol 'paxos' (protocols: gossip, hotstuff, hybrid, pbft, pysyncobj, raft, routing)"
    ]
