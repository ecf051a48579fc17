"""meshcheck as a user installs it: the wheel, not the source tree.

The wheel is built from this checkout and installed, not editable, into a fresh virtual environment;
every command then runs from an empty folder outside the repository, so nothing can be found through
the checkout by accident (no `Path(__file__).parents[N]` into the source tree, no data that only the
checkout has). What the distribution must hold: one top-level package, `meshcheck` (the folders specs/,
impl/, models/, traces/ and property_tests/ under it), its data files, and the console script.

Building and installing takes 20 to 40 s; `verify --profile quick` over every protocol takes minutes,
so that one is in the slow tier (`make test-all`), and `make test` runs HotStuff's proofs, stored
traces and mutants and routing's models (about 10 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshcheck import registry

ROOT = Path(__file__).resolve().parents[1]
SMALL_SPEC = ROOT / "tests" / "specs" / "stepper_counter.tla"
_NOT_SOURCE = (
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".hypothesis",
    "reports",
)
# and the bytecode `make` writes beside the sources (the Makefile's PYTHONPYCACHEPREFIX)
_NOT_SOURCE += (".pytest_cache", ".mypy_cache", ".ruff_cache", ".cache")


def _run(
    argv: list[str], cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


class Installed:
    def __init__(self, prefix: Path, workdir: Path) -> None:
        self.prefix = prefix
        self.workdir = workdir
        self.python = prefix / "bin" / "python"
        self.meshcheck = prefix / "bin" / "meshcheck"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        self.env = env

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return _run([str(self.meshcheck), *args], self.workdir, timeout, self.env)

    def site_packages(self) -> Path:
        out = _run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            self.workdir,
            env=self.env,
        )
        return Path(out.stdout.strip())

    def resource(self, package: str, name: str) -> Path:
        code = f"import importlib.resources as r; print(r.files({package!r}) / {name!r})"
        out = _run([str(self.python), "-c", code], self.workdir, env=self.env)
        assert out.returncode == 0, out.stderr
        return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("install")
    # Build from a copy: setuptools writes build/ and *.egg-info beside the sources, and a stale
    # build/ in the checkout would leak into later wheels.
    source = base / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    dist = base / "dist"
    build = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        base,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("meshcheck_verify-*.whl")
    prefix = base / "venv"
    # no pip of its own (ensurepip is 6 s): this process's pip installs into it; without compiling
    # every module of every dependency ahead (4 to 5 s): the commands below compile what they import
    venv.create(prefix, with_pip=False)
    python = str(prefix / "bin" / "python")
    install = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "-q",
            "--no-compile",
            str(wheel),
        ],
        base,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    workdir = base / "empty"
    workdir.mkdir()
    yield Installed(prefix, workdir)
    shutil.rmtree(base, ignore_errors=True)


def test_the_wheel_installs_one_top_level_package(installed: Installed) -> None:
    site = installed.site_packages()
    ours = {"impl", "models", "specs", "traces", "property_tests"}
    assert not ours & {p.name for p in site.iterdir()}, "a top-level package besides meshcheck"
    for sub in sorted(ours):
        assert (site / "meshcheck" / sub / "__init__.py").is_file(), sub
    assert (site / "meshcheck" / "specs" / "Raft.tla").is_file()
    assert list((site / "meshcheck" / "traces" / "raft").glob("*.itf.json"))
    # the package-data globs cover every protocol's folders: each stored trace and its notes, each
    # lockstep model of the repository is in the wheel
    data = [
        *(ROOT / "traces").rglob("*.json"),
        *(ROOT / "traces").rglob("*.md"),
        *(ROOT / "property_tests").glob("*/models/*.cfg"),
    ]
    assert len(data) > 20
    missing = [
        str(p.relative_to(ROOT))
        for p in data
        if not (site / "meshcheck" / p.relative_to(ROOT)).is_file()
    ]
    assert not missing, missing


def test_check_a_small_spec_from_an_empty_folder(installed: Installed) -> None:
    for suffix in (".tla", ".cfg"):
        shutil.copy(SMALL_SPEC.with_suffix(suffix), installed.workdir)
    out = installed.run("check", SMALL_SPEC.name)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "holds" in out.stdout


def test_prove_raft(installed: Installed) -> None:
    out = installed.run("prove", "raft")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "proved" in out.stdout.splitlines()[-1]


def test_replay_a_stored_trace_on_the_installed_implementation(installed: Installed) -> None:
    trace = installed.resource("meshcheck.traces", "raft/forget_voted_for.itf.json")
    assert trace.is_file()
    out = installed.run("trace", "replay", str(trace))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("holds:")
    broken = installed.run("trace", "replay", str(trace), "--recorded-bugs")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "diverges" in broken.stdout


def _verify(installed: Installed, *extra: str) -> subprocess.CompletedProcess[str]:
    out = installed.run("verify", "--profile", "quick", "--table", *extra, timeout=1800)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    # the report goes to the folder the user stands in, never into site-packages
    assert (installed.workdir / "reports" / "verify.json").is_file()
    assert not (installed.site_packages() / "meshcheck" / "reports").exists()
    return out


# Every kind of check but the property tests, from the installed copy, at the least cost: HotStuff's
# proofs, stored traces and mutants (its models take 20 s: HotStuff_liveness alone is 14 s), and
# the models of routing (4 s for both). The property tests (the "tests" rows) would add a minute
# or more from an installed copy; `make test` runs the same tests from the source tree, and the
# slow tier's whole `verify` below runs them installed.
PROTOCOL = "hotstuff"
CHEAP = ("--only", "z3", "--only", "traces", "--only", "mutants")


def _rows(out: subprocess.CompletedProcess[str]) -> list[tuple[str, str, str]]:
    table = [line.split("|")[1:4] for line in out.stdout.splitlines() if line.startswith("|")]
    return [(k.strip(), n.strip(), r.strip()) for k, n, r in table[2:]]  # below header and rule


@pytest.mark.slow  # a whole verify run of the installed wheel; the checks above run it from an empty folder
def test_verify_from_an_empty_folder(installed: Installed) -> None:
    """Models, proofs, stored traces and mutants, from the installed copy: their data files are
    in the wheel and found through importlib.resources, and the report lands in the folder the
    user stands in. Each run has only its protocol's rows."""
    out = _verify(installed, "--protocol", PROTOCOL, *CHEAP)
    rows = _rows(out)
    assert {kind for kind, _, _ in rows} == {"z3", "traces", "mutants"}, rows
    assert ("z3", PROTOCOL, "pass") in rows
    assert sum(kind == "traces" for kind, _, _ in rows) >= 6
    assert [(n, r) for kind, n, r in rows if kind == "mutants"] == [(PROTOCOL, "pass")]
    known = len(registry.get(PROTOCOL).load("bugs"))
    assert f"{known} of {known} mutants killed" in out.stdout
    others = ("raft", "pbft", "hybrid", "routing", "gossip")
    assert not any(other in name for other in others for _, name, _ in rows)
    models = _rows(_verify(installed, "--protocol", "routing", "--only", "tlc"))
    assert models == [("tlc", "Routing_quick", "pass"), ("tlc", "Routing_liveness", "pass")]


def test_an_unknown_protocol_is_one_line(installed: Installed) -> None:
    out = installed.run("verify", "--profile", "quick", "--protocol", "paxos")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "meshcheck: no protocol 'paxos' (protocols: gossip, hotstuff, hybrid, pbft, pysyncobj, raft, routing)"
    ]


@pytest.mark.slow
def test_verify_quick_from_an_empty_folder(installed: Installed) -> None:
    out = _verify(installed)
    assert "mutants killed" in out.stdout
