"""`make verify`'s profile, `fast`, the 3-minute gate (docs/reference/profiles.md): what it runs, and
that what it leaves out is exactly what the other profiles and `make test` run beside it."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from meshcheck import registry
from meshcheck import verify_cluster
from meshcheck import verify_etcd
from meshcheck import verify_systems
from meshcheck.cli import main
from meshcheck.systems.registry import KNOWN
from meshcheck.systems.system_file import load
from meshcheck.traces import itf
from meshcheck.verify import KINDS
from meshcheck.verify import kinds_run
from meshcheck.verify import project_root
from meshcheck.verify import select_models
from meshcheck.verify import test_paths as property_test_paths
from meshcheck.verify import trace_units
from meshcheck.verify_logs import LOG_ROW
from meshcheck.verify_logs import PYSYNCOBJ_LOG_ROW

ROOT = project_root()


def test_one_small_model_per_registered_spec_and_no_temporal_property() -> None:
    found, problems = select_models(ROOT, "fast")
    assert problems == []
    specs = [m.spec.stem for m in found]
    assert len(specs) == len(set(specs)), f"a spec checked twice: {specs}"
    registered = {
        models.spec
        for protocol in registry.protocols().values()
        for models in protocol.all_models()
    }
    assert set(specs) == registered
    assert all(m.kind in ("quick", "default") for m in found), [(m.name, m.kind) for m in found]
    full, _ = select_models(ROOT, "default")
    # the full profile has what the gate leaves out: temporal properties, the variants' models
    # (Raft's without the no-op, with pre-vote) and the specs no protocol claims (RaftEtcd.tla)
    assert any(m.kind == "liveness" for m in full)
    assert {m.spec.stem for m in full} > set(specs)
    assert len([m for m in full if m.spec.stem == "Raft"]) > 1


# the row of etcd's cluster test, named from its system file's `[verify]` table: the name the
# reports of earlier runs know it by, kept
ETCD_CLUSTER_ROW = "etcd cluster: 3 members, cas, the nemesis, the history checked"


def test_every_stored_trace_and_no_real_process_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # trace_units reads every stored trace whole (its #meta says its protocol and bugs): each
    # profile's call reads the same files, parsed once here (2 to 4 CPU-s a call)
    monkeypatch.setattr(itf, "read", functools.cache(itf.read))
    fast = [u.name for u in trace_units(ROOT, None, "fast")]
    full = [u.name for u in trace_units(ROOT, None, "default")]
    assert verify_systems.cluster_name(load(KNOWN / "etcd.toml")) == ETCD_CLUSTER_ROW
    real = {c.row for c in verify_cluster.clusters()}
    real |= {verify_etcd.ETCD_RAFT_ROW, ETCD_CLUSTER_ROW, PYSYNCOBJ_LOG_ROW}
    assert real <= set(full)
    assert [name for name in full if name not in real] == fast
    assert LOG_ROW in fast  # the reference Raft's log check is marked fast (its descriptor's)
    # the systems' rows come from their files: etcd's Raft library's check, then its cluster test
    systems = [u.name for u in verify_systems.units(ROOT, "default", None)]
    assert systems == [verify_etcd.ETCD_RAFT_ROW, ETCD_CLUSTER_ROW]


def test_no_mutant_matrix_unless_asked() -> None:
    assert kinds_run("fast", None) == ("tlc", "z3", "tests", "traces")
    assert kinds_run("default", None) == KINDS
    assert kinds_run("fast", ["mutants", "tlc"]) == ("tlc", "mutants")


def test_every_protocol_has_property_tests_in_the_gate_its_lockstep_first() -> None:
    """`-m fast`, as the profile runs pytest: each registered protocol's property tests are
    represented, and each protocol's lockstep against its spec (where it has one) is among them."""
    paths = property_test_paths(ROOT)
    plugins = ["-p", "no:cacheprovider", "-p", "meshcheck.verify_order", "--rootdir", str(ROOT)]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "fast", *paths, *plugins],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    chosen: dict[str, set[str]] = defaultdict(set)
    for line in out.splitlines():
        if "::" in line:
            path = Path(line.split("::")[0])
            chosen[path.parent.name].add(path.name)
    for path in paths:
        folder = Path(path)
        assert chosen[folder.name], f"no test of {folder} is marked fast"
        if (folder / "test_lockstep.py").exists():
            assert "test_lockstep.py" in chosen[folder.name]
        if (folder / "test_byzantine_input.py").exists():
            assert "test_byzantine_input.py" in chosen[folder.name]
    # and the gate is a subset: the rest stays in make test and the full profile ("N/M tests
    # collected (K deselected)": the tests the gate runs of all the property tests)
    counts = re.search(r"^(\d+)/(\d+) tests collected \((\d+) deselected\)", out, re.MULTILINE)
    assert counts is not None, out[-500:]
    gate, every, left = map(int, counts.groups())
    assert gate == sum("::" in line for line in out.splitlines())
    assert left > 0 and gate + left == every


def _make(*args: str) -> str:
    return subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_make_verify_is_the_gate_and_verify_full_everything() -> None:
    gate = _make("verify")
    assert "meshcheck verify --profile fast" in gate
    assert "etcd-server" not in gate  # no server to install for the gate
    full = _make("verify-full")
    assert "meshcheck verify --profile default" in full
    assert "etcd-server" in full
    assert "etcd-server" in _make("verify", "VERIFY_PROFILE=default")


def test_the_gate_runs_the_marked_tests_of_a_protocol_at_its_budget(tmp_path: Path) -> None:
    """Gossip's property tests through `meshcheck verify --profile fast`: a row for each test of
    the files marked `fast` and none of the others (its free runs), each Hypothesis run at the
    `fast` budget, and its coverage row."""
    report = tmp_path / "fast.json"
    args = ["verify", "--profile", "fast", "--protocol", "gossip", "--only", "tests"]
    assert main([*args, "--workers", "1", "--json", str(report)]) == 0
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["profile"] == "fast" and doc["seed"] == "derandomized"
    tests = [c for c in doc["checks"] if c["kind"] == "tests"]
    files = {c["name"].split("::")[0] for c in tests}
    assert files == {
        "gossip/test_lockstep",
        "gossip/test_byzantine_input",
        "gossip/test_restart",
        "gossip/test_refusals",
        "gossip/test_rejoin",
    }
    examples = [c["count"] for c in tests if c["unit"] == "examples"]
    assert examples and max(examples) <= 20
    assert next(c["name"] for c in doc["checks"] if c["kind"] == "coverage") == "gossip"


def test_another_projects_gate_runs_its_marked_tests_and_says_when_none_is(tmp_path: Path) -> None:
    """A project of its own (`--root`): with no test marked `fast`, the gate's tests row is a skip
    that says why, never a silent pass: nothing checked, exit 2; marked, the test runs."""
    (tmp_path / "specs").mkdir()
    tests = tmp_path / "property_tests"
    tests.mkdir()
    test = tests / "test_small.py"
    test.write_text("def test_small() -> None:\n    assert 1 + 1 == 2\n", encoding="utf-8")
    report = tmp_path / "r.json"
    args = ["verify", "--root", str(tmp_path), "--profile", "fast", "--only", "tests"]
    assert main([*args, "--workers", "1", "--json", str(report)]) == 2
    (row,) = json.loads(report.read_text(encoding="utf-8"))["checks"]
    assert (row["result"], row["detail"]) == (
        "skip",
        "no property test marked fast (pytest.mark.fast)",
    )
    marked = "import pytest\n\npytestmark = pytest.mark.fast\n\n"
    test.write_text(marked + test.read_text(encoding="utf-8"), encoding="utf-8")
    assert main([*args, "--workers", "1", "--json", str(report)]) == 0
    (row,) = json.loads(report.read_text(encoding="utf-8"))["checks"]
    assert (row["name"], row["result"]) == ("test_small::test_small", "pass")
