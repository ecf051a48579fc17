"""The protocol registry (meshcheck/registry.py): meshcheck's own protocols as entry points, a toy
protocol registered from a test and one from a separately installed distribution, each seen by
the commands; a broken plug-in is one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from meshcheck import mutants_cmd
from meshcheck import proofs
from meshcheck import registry
from meshcheck import verify
from meshcheck.cli import main
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.errors import UnknownProtocol
from meshcheck.property_tests.harness import Harness
from meshcheck.protocol import Action
from meshcheck.protocol import Models
from meshcheck.protocol import Protocol
from tests.own_protocols import OWN_PROTOCOLS

TOY = Protocol(
    name="toy",
    title="a flag a client sets and a server clears",
    models=Models(spec="Toy", package="tests.stub_protocol", quick="Toy_quick"),
    actions=(Action("Set", kind="client"), Action("Clear")),
    bugs="tests.stub_protocol:BUGS",
    checks="tests.stub_protocol:CHECKS",
    proofs="tests.stub_protocol:prove",
    corpus="toy",
)


def _rows(out: str) -> dict[str, list[str]]:
    lines = [line for line in out.splitlines() if line.startswith("|")]  # the table alone
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    return {row[0]: row for row in cells[2:]}


def test_meshchecks_own_protocols_are_entry_points(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(registry.protocols()) == list(OWN_PROTOCOLS)
    assert main(["protocols"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["hybrid"][1:] == [
        "Hybrid.tla, ThreatLevel.tla",
        "8",
        "impl",
        "z3",
        "traces/hybrid/",
    ]
    assert rows["raft"][1:] == ["Raft.tla", "10", "impl, spec", "z3", "traces/raft/"]
    assert rows["routing"][1:] == ["Routing.tla", "3", "impl, spec", "-", "traces/routing/"]
    # every Ref of every descriptor resolves
    for protocol in registry.protocols().values():
        for field in ("bugs", "checks", "spec_mutants", "proofs", "harness"):
            ref = getattr(protocol, field)
            assert ref is None or protocol.load(field) is not None, (protocol.name, field)
        # every protocol of meshcheck's own has its harness, which knows how to re-run its runs
        harness = protocol.load("harness")
        assert isinstance(harness, Harness) and harness.protocol == protocol.corpus
        assert harness.reruns and all(callable(f) for f in harness.reruns.values())
        assert "Schedule" in harness.schedule_names(), protocol.name


def test_the_action_tables_are_the_specs_next() -> None:
    """Each descriptor's actions are exactly the actions of its specs' `Next`."""
    import re

    for protocol in registry.protocols().values():
        in_next: set[str] = set()
        specs = [models.spec for models in protocol.all_models()]
        while specs:
            text = (verify.project_root() / "specs" / f"{specs.pop()}.tla").read_text()
            # a spec that EXTENDS another adds to its Next under another name (RaftPipelined.tla)
            extends = re.search(r"^EXTENDS (\w+)", text, re.MULTILINE)
            if (
                extends is not None
                and (verify.project_root() / "specs").joinpath(f"{extends.group(1)}.tla").is_file()
            ):
                specs.append(extends.group(1))
            head = re.search(r"^(\w*Next) ==", text, re.MULTILINE)
            assert head is not None, protocol.name
            body = text[head.end() :].split("\n\n", 1)[0]
            in_next |= set(re.findall(r"([A-Z][A-Za-z]*)(?:\(|\s*$)", body, re.MULTILINE))
            in_next.discard("Next")
        in_next -= {"Server", "Peers", "Value", "Honest", "Requests", "Views", "Seqs"}
        assert {a.name for a in protocol.actions} == in_next, protocol.name


def test_unknown_names_list_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(
        UnknownProtocol, match=r"no protocol 'threat' \(protocols: gossip, hotstuff, hybrid, pbft"
    ):
        registry.get("threat")
    assert main(["prove", "threat"]) == 2
    assert (
        "no proof set 'threat' (known: gossip, hotstuff, hybrid, pbft, raft)"
        in capsys.readouterr().err
    )


def test_a_registered_protocol_is_seen_by_the_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "toy" not in registry.protocols()
    with registry.registered(TOY):
        assert registry.get("toy") is TOY
        assert main(["protocols"]) == 0
        out = capsys.readouterr().out
        assert _rows(out)["toy"] == ["toy", "Toy.tla", "1", "impl", "z3", "traces/toy/"]
        assert f"toy        {TOY.title}" in out.splitlines()  # the titles under the table
        # its model is one verify runs, its mutants what `meshcheck mutants` runs
        found, problems = verify.select_models(verify.project_root(), "quick")
        assert not problems
        assert [m.name for m in found if m.spec.name == "Toy.tla"] == ["Toy_quick"]
        assert "toy" in mutants_cmd.with_catalogue() and "toy" in proofs.names()
        assert main(["mutants", "toy", "--profile", "quick", "--quiet"]) == 1
        out = capsys.readouterr().out
        assert "| stuck " in out and "| first " in out
        assert "1 of 2 mutants survived: harmless" in out
    assert "toy" not in registry.protocols()
    with pytest.raises(UnknownProtocol):
        registry.get("toy")


def test_a_model_a_descriptor_names_must_exist() -> None:
    broken = attrs.evolve(TOY, models=attrs.evolve(TOY.models, quick="Toy_missing"))
    with registry.registered(broken):
        found, problems = verify.select_models(verify.project_root(), "quick")
    assert "toy" not in {m.spec.stem for m in found}
    (problem,) = [p for p in problems if "Toy" in str(p)]
    assert "the model Toy_missing of Toy is not there" in str(problem)


def test_a_protocol_without_mutants_says_so() -> None:
    bare = Protocol(name="bare", title="a spec alone", models=TOY.models)
    with (
        registry.registered(bare),
        pytest.raises(MeshcheckError, match="has no mutants to run: set its descriptor's bugs"),
    ):
        mutants_cmd.catalogue("bare")


# --- a protocol from a separately installed distribution ------------------------------------------

PLUGIN = """
from meshcheck.protocol import Models, Protocol

TOY = Protocol(name="toy", title="a plug-in's protocol", models=Models(spec="Toy", package="toyproto"))
NOT_A_PROTOCOL = 42
"""


def _install(folder: Path, entry_points: str) -> None:
    """A distribution as pip leaves it in site-packages: the module and its .dist-info."""
    (folder / "toyproto.py").write_text(PLUGIN)
    info = folder / "toy-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text(f"[meshcheck.protocols]\n{entry_points}\n")


def _protocols(folder: Path) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "meshcheck", "protocols"],
        env=dict(os.environ, PYTHONPATH=path),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_an_installed_distributions_protocol_is_listed(tmp_path: Path) -> None:
    _install(tmp_path, "toy = toyproto:TOY")
    done = _protocols(tmp_path)
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    assert list(rows) == [*OWN_PROTOCOLS, "toy"]
    assert rows["toy"][:2] == ["toy", "Toy.tla"]
    assert "a plug-in's protocol" in done.stdout


@pytest.mark.parametrize(
    "entry,says",
    [
        ("ghost = no_such_module:TOY", "does not load: ModuleNotFoundError: No module named"),
        ("toy = toyproto:NOT_A_PROTOCOL", "is a int, not a meshcheck.protocol.Protocol"),
        ("other = toyproto:TOY", "declares the protocol 'toy' under another name"),
    ],
)
def test_a_broken_plug_in_is_one_line_and_exit_2(tmp_path: Path, entry: str, says: str) -> None:
    _install(tmp_path, entry)
    done = _protocols(tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    name = entry.split(" = ")[0]
    assert line.startswith(f"meshcheck: meshcheck.protocols: entry point {name} = ")
    assert "(from toy)" in line and says in line


def test_mutants_without_a_name_runs_every_protocol_with_a_catalogue(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make mutants` is `meshcheck mutants` with no name: each registered protocol with mutants
    (here the toy alone, to stay fast), one table each, the worst exit status."""
    with registry.registered(TOY):
        assert mutants_cmd.with_catalogue() == (*OWN_PROTOCOLS, "toy")
        monkeypatch.setattr(mutants_cmd, "with_catalogue", lambda: ("toy",))
        assert main(["mutants", "--profile", "quick", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("== toy\n") and "1 of 2 mutants survived: harmless" in out
    assert main(["mutants", "--mutant", "stuck"]) == 2
    assert "--mutant names one protocol's mutants" in capsys.readouterr().err
