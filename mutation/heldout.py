"""Run the held-out bugs (mutation/heldout.toml) against the test suite, one at a time.

    python -m mutation.heldout [--profile ci|dev] [--bug ID ...] [--protocol P ...] [--list]
                               [--no-baseline] [--rev REV] [--json FILE] [--timeout S]

A held-out set measures the checks with bugs their authors did not aim at: realistic one-to-six-line
mistakes in the protocol cores, none a catalogue switch. This runner keeps such a set honest as
the code changes:

- The repository at `--rev` (default HEAD, so uncommitted edits are not measured) is exported with
  `git archive` into a temporary folder. Each bug's `original` text must occur exactly once in its
  file there; otherwise the bug is an error row and is not run (the code moved on: rewrite it).
- The bug is applied to that copy, and pytest runs in it the way `make test` does: `-m "not slow"`,
  `MESHCHECK_HYPOTHESIS=ci` (or `dev` with `--profile dev`), plus `-x` (the first failure decides)
  and `-p no:cacheprovider`. The copy is then put back as it was for the next bug.
- Imports resolve to the copy: pytest runs with the copy first on PYTHONPATH, which the path finder
  searches before the editable install's finder (that one is appended to sys.meta_path, after
  it). A guard plugin proves it on every run: before collection it imports the mutated module,
  checks that its file is the copy's and holds the replacement text, and writes what it found to a
  file this runner reads; a run without that proof is an error row, never a kill or a survival.
- Only the tests that can see the bug run (`select_tests`): the protocol's own test files, the
  hybrid layer's (it runs a Raft and a PBFT core in every epoch, so it also exercises bugs in
  them), and the shared ones that drive implementations (corpus replay, stored traces, the
  simulator, the CLI's replay and verify paths). Left out are the tests of the other protocols,
  the tooling tests that never run a core (TLC and Z3 models, spec tests, trace display, the
  history checker's own tests), and tests/test_rule_mutations.py, which finds lines of the cores
  by their exact text and so fails on any bug in such a line whatever the bug does. A test file this runner does not know is run
  (conservative) and named in the output, so a new test is never silently skipped.
- Unless `--no-baseline`, the selection runs first on the unmutated copy: a kill on a red suite
  would mean nothing, so a failing baseline stops the run (exit 2).

- The history checkers (traces/history/) have a catalogue of their own, mutation/checkers.toml
  (`--bugs-file mutation/checkers.toml`): its bugs are in the `checkers` group, which runs the
  checkers' own tests (OWN["checkers"]: hand-made histories, the brute-force oracles, the peers'
  translated histories, the command line) and no unclassified file (those that also check
  histories are cluster runs, minutes each; a kill by the group is a kill by `make test`).
- The manager that routes operations over PBFT, the hybrid dispatcher and gossip (impl/manager)
  has a catalogue of its own, mutation/routing.toml (`--bugs-file mutation/routing.toml`): its
  bugs in the `routing` group run the manager's own tests (OWN["routing"]: its unit tests and its
  property checks, every one of them not slow); the cores' groups run them too, as the manager
  runs PBFT and the hybrid layer.
- The fault injectors (the lazy file system, corruption, the shifted clock, the namespace network,
  the link proxies, the nemesis's plan and its carrying out) have theirs, mutation/faults.toml
  (`--bugs-file mutation/faults.toml`), in the `faults` group, which runs the injectors' own fast
  tests (OWN["faults"]: FUSE mounts, namespace networks, clocks shifted in child processes, the
  proxies and plans in process; of cluster runs only one short run over SSH that a Ctrl-C
  stops, tests/test_remote_ctrl_c.py). A bug in a file that is not Python (the clock's
  preloaded library, clock_shift.c) names the module that reads it (`module`); the guard then
  proves that module is the copy's and the file beside it holds the replacement.
- The system plug-ins' classification of errors (meshcheck/systems/outcomes.py and each plug-in's
  mapping to it) has its own, mutation/clients.toml (`--bugs-file mutation/clients.toml`), in the
  `clients` group, which runs the outcome contract and the client loops' tests (OWN["clients"]:
  no server, no cluster run).
- What makes a counterexample explain itself (the `#meta.check` and `#meta.property` of a written
  failure, `trace show`'s header and the variables the property reads, the named bounds Storm and
  RestartCatchUp) has mutation/counterexamples.toml, in the `counterexamples` group, which runs
  its own tests (OWN["counterexamples"]).
- The project's cores run from their system files by the systems' runner (the cores' plug-in's
  post-run hook, the node process's flags, meshcheck/systems/runtime_client.py, and the link
  proxies of its --network proxy) have mutation/runner.toml, in the `runner` group, which runs the comparison of the two runners
  (OWN["runner"]: Raft clusters of real processes).

Outcome per bug: killed (the first failing test), survived (the selection passed), error (text
not found, import guard failed, pytest could not run) or timeout. One table at the end; progress
lines on stderr. Exit 0: every bug killed; 1: a survivor; 2: an error or bad input.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUGS_FILE = Path(__file__).resolve().parent / "heldout.toml"

# the groups a bug can be in: a protocol core's, the manager's (mutation/routing.toml), the history
# checkers' (mutation/checkers.toml), the fault injectors' (mutation/faults.toml), the system
# plug-ins' outcomes (mutation/clients.toml), or what makes a counterexample explain itself
# (mutation/counterexamples.toml), or the judgement of Indy Plenum's runs (mutation/plenum.toml)
PROTOCOLS = (
    "raft",
    "pbft",
    "hybrid",
    "hotstuff",
    "rsm",
    "routing",
    "checkers",
    "faults",
    "clients",
    "counterexamples",
    "runner",
    "plenum",
)
CORES = ("raft", "pbft", "hybrid", "hotstuff", "rsm")
CLASSES = (
    "client-visible",
    "byzantine-relay",
    "deep-state",
    "off-by-one",
    "wrong-comparison",
    "missing-persistence",
    "quorum-size",
    "missed-anomaly",  # a checker passes a class of invalid history
    "false-alarm",  # a checker fails a valid history
    "weaker-fault",  # an injector does less than it says: a bug it should expose stays hidden
    "wrong-fault",  # an injector does something other than it says (a correct system fails)
    "wrong-outcome",  # a plug-in records an operation that may have taken effect as `fail`
)
PROFILES = ("ci", "dev")

# -- which tests can see a bug ----------------------------------------------------------------------

OWN: dict[str, tuple[str, ...]] = {
    "raft": ("tests/test_raft_impl.py", "tests/test_raft_rules.py", "property_tests/raft"),
    "pbft": (
        "tests/test_pbft_impl.py",
        "tests/test_pbft_impl_sim.py",
        "tests/test_pbft_rules.py",
        "tests/test_pbft_byzantine.py",
        "tests/test_pbft_votes.py",
        "property_tests/pbft",
    ),
    "hybrid": (
        "tests/test_hybrid_impl.py",
        "tests/test_hybrid_sim.py",
        "tests/test_hybrid_levels.py",
        "tests/test_hybrid_threat.py",
        "property_tests/hybrid",
    ),
    # the manager over its three layers (impl/manager): its unit tests and its property checks
    # (the routing scenario, the refusals and pending scenarios, the free runs)
    "routing": ("tests/test_manager.py", "property_tests/routing"),
    "hotstuff": (
        "tests/test_hotstuff_rules.py",
        "tests/test_hotstuff_certificates.py",
        "tests/test_hotstuff_input.py",
        "tests/test_validate_hotstuff.py",
        "property_tests/hotstuff",
    ),
    # the history checkers' own tests (traces/history/): hand-made histories of every kind, the
    # brute-force oracles, the peers' translated histories, the command line
    "checkers": (
        "tests/test_history_lattice.py",  # seconds: first, so its kills come early
        "tests/test_exercise.py",  # the judgement of a vacuous run (meshcheck/exercise.py)
        "tests/test_systems_promises.py",  # a run judged by its promise (systems/promises.py)
        "tests/test_systems_levels.py",  # isolation levels judged as Hermitage (systems/levels.py)
        "tests/test_stream_promises.py",  # a stream run's promise (stream_models.py)
        "tests/test_systems_run.py::test_a_run_that_held_having_done_almost_nothing_is_vacuous_and_exits_1",
        # verify's pytest run of a tiny project: a test whose every run was vacuous, its row
        "tests/test_verify_cost.py::test_a_property_test_the_stop_ended_says_so_with_its_cpu_and_runs",
        "tests/test_history_list_append.py",
        "tests/test_history_rw_register.py",
        "tests/test_history_consistency.py",
        "tests/test_peer_histories_elle.py",
        "tests/test_peer_histories_knossos.py",
        "tests/test_peer_histories_porcupine.py",
        "tests/test_history_checkers.py",
        "tests/test_history_adversarial.py",
        "tests/test_history_cmd.py",
        "tests/test_history_edn.py",
        "tests/test_history_reader.py",
        "tests/test_history_reports.py",
        "tests/test_history_window.py",
        "tests/test_history_losses.py",
        "tests/test_history_alongside.py",
        "tests/test_history_corpus.py",
        "tests/test_history_differential.py",
        "tests/test_history_search.py",
        "tests/test_linearizability.py",
    ),
    # the fault injectors' own fast tests: the lazy file system through FUSE, corruption, the
    # shifted clock in child processes, the namespace network (root), the link proxies, the
    # nemesis's plan and its carrying out on fake processes, the faults on hosts over SSH (real
    # sshds in namespaces), the ends of what the harness starts and bounds (probes, nodes,
    # sidecars, drivers), and one short run over SSH stopped by a Ctrl-C to its whole process
    # group (every ssh in a group of its own); no other cluster run (those are minutes)
    "faults": (
        "tests/test_process_tree.py",
        "tests/test_system_file_sets.py",
        "tests/test_hosts_cmd.py",
        "tests/test_lazy_fs.py",
        "tests/test_lazy_fs_model.py",
        "tests/test_node_disks.py",
        "tests/test_runtime_disk_mutants.py",
        "tests/test_disk_corruption.py",
        "tests/test_clock_faults.py",
        "tests/test_netns.py",
        "tests/test_netns_links.py",
        "tests/test_proxy.py",
        "tests/test_strike.py",
        "tests/test_nemesis_ends.py",
        "tests/test_nemesis_disk_faults.py",
        "tests/test_remote_faults.py",
        "tests/test_remote_ctrl_c.py",
        "tests/test_cluster_cmd.py::test_the_nemesis_plan_is_the_seeds_and_keeps_a_majority_up",
        "tests/test_cluster_cmd.py::test_isolate_cuts_the_leader_off_one_at_a_time_long_enough_to_elect",
        "tests/test_cluster_cmd.py::test_the_nemesis_keeps_a_bft_cluster_within_f_counting_its_byzantine_nodes",
    ),
    # the system plug-ins' outcomes: each class of error injected into each plug-in (no server),
    # the jsonl client against a server in process, the client loops against a client in memory
    "clients": (
        "tests/test_plugin_outcomes.py",
        "tests/test_plugin_served.py",  # the node that served, as each plug-in says it
        "tests/test_systems_jsonl.py",
        "tests/test_systems_clients.py",
    ),
    # the project's cores run from their system files by the systems' runner: their client, their
    # post-run hook, their nodes from flags, against Raft clusters of the runtime's processes
    # (about a minute: two cluster runs through each runner)
    "runner": ("tests/test_cluster_one_runner.py",),
    # Indy Plenum under the harness (drivers/plenum, property_tests/plenum): the judgement of its
    # runs, on hand-made runs and on plenum's own (skipped without .venv-plenum: set
    # MESHCHECK_PLENUM_VENV to the work tree's, as the copy has none)
    "plenum": ("tests/test_plenum_smoke.py", "property_tests/plenum"),
    # what makes a failure explain itself: the written trace's check and property, `trace show`'s
    # header and the variables the property reads, the named bounds (Storm, RestartCatchUp)
    "counterexamples": (
        "tests/test_counterexample_explains.py",
        "tests/test_failure_record.py",
        "tests/test_check.py",
        "tests/test_violated.py",
        "tests/test_plugin_pace.py",
        "property_tests/test_scenarios.py",
        "tests/test_show.py",
        "tests/test_trace_show.py",
    ),
}
# whose tests run a protocol's code: the hybrid layer runs both cores, every core runs impl/rsm,
# the manager runs PBFT and the hybrid layer; the pbft group also holds the bugs of impl/base's
# client and key ring, which HotStuff shares
USERS: dict[str, tuple[str, ...]] = {
    # and the two runners' comparison: a Raft mutant in real processes (tests/test_cluster_one_runner.py)
    "raft": ("raft", "hybrid", "routing", "runner"),
    "pbft": ("pbft", "hybrid", "hotstuff", "routing"),
    "hybrid": ("hybrid", "routing"),
    "hotstuff": ("hotstuff",),
    "rsm": ("raft", "pbft", "hybrid", "hotstuff", "routing"),
    "routing": ("routing",),
    "checkers": ("checkers",),
    "faults": ("faults",),
    "clients": ("clients",),
    "counterexamples": ("counterexamples",),
    "runner": ("runner",),
    "plenum": ("plenum",),
}
# tests that drive the implementations of every protocol
SHARED: tuple[str, ...] = (
    "tests/test_corpus.py",
    "tests/test_mutants.py",
    "tests/test_sim.py",
    "tests/test_sim_scenarios.py",
    "tests/test_failure_record.py",
    "tests/test_trace_replay_cmd.py",
    "tests/test_trace_diff.py",
    "tests/test_registry.py",
    "tests/test_verify.py",
    "tests/test_cli.py",
    "tests/test_quorum.py",
    "tests/test_rsm.py",
    "property_tests/test_stored.py",
)
# tests that never run a protocol core: TLC and Z3 models, spec tests, trace display, tooling
TOOLING: tuple[str, ...] = (
    "tests/test_cfg.py",
    "tests/test_check.py",
    "tests/test_java.py",
    "tests/test_itf.py",
    "tests/test_values.py",
    "tests/test_stepper.py",
    "tests/test_diagnostics.py",
    "tests/test_catalog.py",
    "tests/test_install.py",
    "tests/test_soundness.py",
    "tests/test_show.py",
    "tests/test_trace_show.py",
    "tests/test_trace_timeline.py",
    "tests/test_toy_protocol.py",
    "tests/test_verify_report.py",
    "tests/test_mutants_tlc.py",
    "tests/test_models_raft.py",
    "tests/test_models_pbft.py",
    "tests/test_models_hotstuff.py",
    "tests/test_models_threat.py",
    "tests/test_raft_spec.py",
    "tests/test_pbft_spec.py",
    "tests/test_hotstuff_spec.py",
    "tests/test_hybrid_spec.py",
    "tests/test_threat_spec.py",
    "tests/test_threat_diagram.py",
    "tests/test_history_cmd.py",
    "tests/test_history_edn.py",
    "tests/test_history_window.py",
    "tests/test_linearizability.py",
    "tests/test_heldout.py",
    "tests/test_moved.py",
    "tests/test_findings_evidence.py",
    "tests/toy",
    # It breaks the cores itself, one line found by its exact text, and checks that the rule
    # tests notice: a held-out bug on one of those lines fails it because the line moved, whatever
    # the behaviour (a kill of nothing). The rule tests it checks are selected on their own.
    "tests/test_rule_mutations.py",
)


def _test_files(root: Path) -> list[str]:
    """Every test file pytest would collect under tests/ and property_tests/, relative to root."""
    found = []
    for top in ("tests", "property_tests"):
        for path in sorted((root / top).rglob("test_*.py")):
            found.append(path.relative_to(root).as_posix())
    return found


def _covered(path: str, entries: Iterable[str]) -> bool:
    return any(path == e or path.startswith(e.rstrip("/") + "/") for e in entries)


def select_tests(root: Path, protocol: str) -> tuple[list[str], list[str]]:
    """The test paths to run for a bug in `protocol`, and the test files this runner does not
    classify (run as well, and reported)."""
    known = [*SHARED, *TOOLING, *(p for own in OWN.values() for p in own)]
    unknown = [f for f in _test_files(root) if not _covered(f, known)]
    if protocol not in CORES:
        unknown = []  # a checker's or an injector's group is its own tests: cluster runs are slow
    chosen = [p for user in USERS[protocol] for p in OWN[user]]
    shared = SHARED if protocol in CORES else ()  # they drive the cores, not checkers or faults
    # an entry may name one test of a file (`file::test`): the file must exist
    paths = [p for p in (*chosen, *shared) if (root / p.split("::")[0]).exists()]
    return paths + unknown, unknown


# -- the bug set ------------------------------------------------------------------------------------


class BadInput(Exception):
    """Bad input to the runner: one line, exit 2."""


@dataclass(frozen=True)
class Bug:
    id: str
    protocol: str
    file: str
    cls: str
    what: str
    original: str
    replacement: str
    # a file that is not Python: the module that reads it from beside itself (clock_shift.c:
    # meshcheck.cluster.clock_faults), which the guard proves is the copy's
    loader: str = ""

    @property
    def module(self) -> str:
        """The module the file is imported as: impl/... and traces/... are installed as
        meshcheck.impl... and meshcheck.traces... (symbolic links in meshcheck/). A file that is
        not Python: the module that reads it (`loader`)."""
        if self.loader:
            return self.loader
        dotted = self.file.removesuffix(".py").replace("/", ".")
        return f"meshcheck.{dotted}" if self.file.startswith(("impl/", "traces/")) else dotted

    @property
    def changed_lines(self) -> int:
        """Lines removed or added, a changed line counting once (the larger side of each hunk)."""
        old, new = self.original.splitlines(), self.replacement.splitlines()
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        return sum(
            max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
        )


def load_bugs(path: Path = BUGS_FILE) -> list[Bug]:
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"cannot read the bug set {path}: {exc}") from None
    bugs: list[Bug] = []
    for n, raw in enumerate(doc.get("bug", []), 1):
        fields = ("id", "protocol", "file", "class", "what", "original", "replacement")
        missing = [f for f in fields if not isinstance(raw.get(f), str)]
        if missing:
            raise BadInput(f"{path}: bug {n} lacks {', '.join(missing)}")
        bug = Bug(
            raw["id"],
            raw["protocol"],
            raw["file"],
            raw["class"],
            raw["what"],
            raw["original"],
            raw["replacement"],
            raw.get("module", ""),
        )
        if not isinstance(bug.loader, str) or bug.file.endswith(".py") == bool(bug.loader):
            raise BadInput(
                f"{path}: bug {bug.id}: `module` names the module that reads a file that is not "
                "Python, and only such a file"
            )
        if bug.protocol not in PROTOCOLS:
            raise BadInput(f"{path}: bug {bug.id}: protocol must be one of {', '.join(PROTOCOLS)}")
        if bug.cls not in CLASSES:
            raise BadInput(f"{path}: bug {bug.id}: class must be one of {', '.join(CLASSES)}")
        if bug.original == bug.replacement or not bug.original:
            raise BadInput(f"{path}: bug {bug.id}: the replacement must change the original text")
        if not 1 <= bug.changed_lines <= 6:
            raise BadInput(f"{path}: bug {bug.id}: changes {bug.changed_lines} lines, not 1 to 6")
        if any(b.id == bug.id for b in bugs):
            raise BadInput(f"{path}: bug id {bug.id} appears twice")
        bugs.append(bug)
    if not bugs:
        raise BadInput(f"{path}: no [[bug]] entries")
    return bugs


def occurrences(text: str, original: str) -> int:
    """How often `original` occurs in `text` (overlapping occurrences count: any is ambiguous)."""
    return sum(1 for _ in re.finditer(f"(?={re.escape(original)})", text))


def apply_bug(text: str, bug: Bug) -> str:
    """`text` with the bug in; ValueError unless its original occurs exactly once."""
    n = occurrences(text, bug.original)
    if n != 1:
        where = "not found" if n == 0 else f"found {n} times"
        raise ValueError(f"original text {where} in {bug.file}")
    return text.replace(bug.original, bug.replacement, 1)


# -- outcomes ---------------------------------------------------------------------------------------

KILLED = "killed"
SURVIVED = "SURVIVED"
ERROR = "error"
TIMEOUT = "timeout"

_FIRST_FAILURE = re.compile(r"^(FAILED|ERROR) (\S+)", re.MULTILINE)


@dataclass
class Outcome:
    status: str
    detail: str = ""  # the first failing test, or why it is an error
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def classify(returncode: int | None, output: str) -> Outcome:
    """What a pytest run (`-x`, `-ra`) on a mutated copy means. Exit 1 (a test failed) or exit 2
    with an error in the summary (a collection error: the mutated code does not even import) is
    a kill, by the first test named; exit 0 is a survival; anything else (no tests, usage
    error, internal error, a run cut off) is an error, never a kill."""
    if returncode is None:
        return Outcome(TIMEOUT, "cut off")
    first = _FIRST_FAILURE.search(output)
    if returncode == 0:
        return Outcome(SURVIVED)
    if returncode in (1, 2) and first is not None:
        return Outcome(KILLED, first.group(2))
    tail = " ".join(output.strip().splitlines()[-1:]) or f"pytest exit {returncode}"
    return Outcome(ERROR, f"pytest exit {returncode}: {tail[:160]}")


# -- running ----------------------------------------------------------------------------------------

GUARD = '''\
"""pytest plugin written by mutation/heldout.py: prove the mutated module is the copy's."""
import importlib, json, os

import pytest


def pytest_configure(config):
    module, copy = os.environ["HELDOUT_MODULE"], os.path.realpath(os.environ["HELDOUT_COPY"])
    if not module:
        return
    loaded = importlib.import_module(module)
    path = os.path.realpath(loaded.__file__)
    # the mutated file: the module's own, or one it reads from beside itself (not Python)
    mutated = os.environ.get("HELDOUT_FILE") or path
    with open(mutated, encoding="utf-8") as f:
        holds = os.environ["HELDOUT_TEXT"] in f.read()
    inside = path.startswith(copy + os.sep) and os.path.realpath(mutated).startswith(copy + os.sep)
    with open(os.environ["HELDOUT_PROOF"], "w", encoding="utf-8") as f:
        json.dump({"file": path, "inside": inside, "holds": holds}, f)
    if not (inside and holds):
        pytest.exit(f"heldout guard: {module} is {path}, not the mutated copy", returncode=4)
'''


class Workspace:
    """A fresh copy of the repository at `rev`, and the guard plugin beside it."""

    def __init__(self, repo: Path, rev: str, keep: bool = False) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="meshcheck-heldout-"))
        self.copy = self.tmp / "repo"
        self.copy.mkdir()
        self.keep = keep
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", rev],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            self.close()
            raise BadInput(f"git archive {rev} failed: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(self.copy)], input=archive.stdout, check=True)
        self.guard_dir = self.tmp / "guard"
        self.guard_dir.mkdir()
        (self.guard_dir / "heldout_guard.py").write_text(GUARD)

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def clean(self) -> None:
        """Remove what a run leaves in the copy (reports, Hypothesis's database, bytecode)."""
        for name in ("reports", ".hypothesis", ".pytest_cache"):
            shutil.rmtree(self.copy / name, ignore_errors=True)
        for cache in self.copy.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)

    def pytest(
        self,
        paths: Sequence[str],
        profile: str,
        module: str,
        text: str,
        timeout: float,
        python: str = sys.executable,
        mutated: str = "",
    ) -> Outcome:
        """Run pytest on `paths` in the copy; the outcome, with the guard's proof checked.
        `mutated`: the changed file, relative to the copy, when it is not `module`'s own."""
        self.clean()
        proof = self.tmp / "proof.json"
        proof.unlink(missing_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(self.copy), str(self.guard_dir)]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MESHCHECK_HYPOTHESIS": profile,
            "HELDOUT_MODULE": module,
            "HELDOUT_COPY": str(self.copy),
            "HELDOUT_TEXT": text,
            "HELDOUT_PROOF": str(proof),
            "HELDOUT_FILE": str(self.copy / mutated) if mutated else "",
        }
        command = [
            python,
            "-m",
            "pytest",
            "-m",
            "not slow",
            "-x",
            "-q",
            "-ra",
            "-p",
            "no:cacheprovider",
            "-p",
            "heldout_guard",
            *paths,
        ]
        start = time.monotonic()
        try:
            done = subprocess.run(
                command,
                cwd=self.copy,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            returncode: int | None = done.returncode
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            returncode, output = None, ""
        outcome = classify(returncode, output)
        outcome.seconds = time.monotonic() - start
        outcome.extra["output"] = output
        if module and outcome.status in (KILLED, SURVIVED):
            try:
                seen = json.loads(proof.read_text())
            except (OSError, ValueError):
                seen = None
            if not (seen and seen.get("inside") and seen.get("holds")):
                return Outcome(
                    ERROR, f"no proof that {module} was the mutated copy's", outcome.seconds
                )
        return outcome


def run_bug(ws: Workspace, bug: Bug, paths: Sequence[str], profile: str, timeout: float) -> Outcome:
    """Apply `bug` to the copy, run `paths`, put the file back."""
    target = ws.copy / bug.file
    try:
        original = target.read_text(encoding="utf-8")
    except OSError:
        return Outcome(ERROR, f"{bug.file} does not exist")
    try:
        mutated = apply_bug(original, bug)
    except ValueError as exc:
        return Outcome(ERROR, str(exc))
    target.write_text(mutated, encoding="utf-8")
    try:
        mutated = bug.file if bug.loader else ""
        return ws.pytest(paths, profile, bug.module, bug.replacement, timeout, mutated=mutated)
    finally:
        target.write_text(original, encoding="utf-8")


def _seconds(s: float) -> str:
    return f"{s:.0f}"


def summary(rows: Sequence[tuple[Bug, Outcome]]) -> str:
    from meshcheck.table import format_table

    body = [
        [bug.id, bug.protocol, bug.cls, out.status, out.detail, _seconds(out.seconds)]
        for bug, out in rows
    ]
    table = format_table(
        ["bug", "protocol", "class", "result", "first failing test / why", "seconds"],
        body,
        right=(5,),
    )
    ran = [o for _, o in rows if o.status in (KILLED, SURVIVED)]
    killed = sum(o.status == KILLED for o in ran)
    errors = sum(o.status in (ERROR, TIMEOUT) for _, o in rows)
    line = f"killed {killed} of {len(ran)} run"
    if errors:
        line += f"; {errors} not run to a verdict (error or timeout)"
    return f"{table}\n{line}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mutation.heldout",
        description="Apply each held-out bug to a copy of the repository and run the suite.",
    )
    parser.add_argument("--profile", choices=PROFILES, default="ci")
    parser.add_argument("--bug", action="append", default=[], metavar="ID")
    parser.add_argument("--protocol", action="append", default=[], choices=PROTOCOLS)
    parser.add_argument("--list", action="store_true", help="list the bugs and stop")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--bugs-file", type=Path, default=BUGS_FILE)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except BadInput as exc:
        print(f"meshcheck: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    bugs = load_bugs(args.bugs_file)
    unknown = sorted(set(args.bug) - {b.id for b in bugs})
    if unknown:
        raise BadInput(f"no held-out bug {', '.join(unknown)}")
    chosen = [b for b in bugs if not args.protocol or b.protocol in args.protocol]
    if args.bug:  # in the order asked
        by_id = {b.id: b for b in chosen}
        chosen = [by_id[i] for i in dict.fromkeys(args.bug) if i in by_id]
    if args.list:
        for b in chosen:
            print(f"{b.id:36} {b.protocol:8} {b.cls:20} {b.what}")
        return 0
    ws = Workspace(ROOT, args.rev, keep=args.keep)
    rows: list[tuple[Bug, Outcome]] = []
    try:
        note = sys.stderr
        print(f"copy of {args.rev} in {ws.copy}; profile {args.profile}", file=note)
        if not args.no_baseline:
            # once, on every test path any chosen bug runs
            paths = []
            for protocol in sorted({b.protocol for b in chosen}, key=PROTOCOLS.index):
                paths += [p for p in select_tests(ws.copy, protocol)[0] if p not in paths]
            print(f"baseline: {len(paths)} test paths, unmutated ...", file=note, flush=True)
            base = ws.pytest(paths, args.profile, "", "", args.timeout)
            verdict = "green" if base.status == SURVIVED else f"{base.status} {base.detail}"
            print(f"baseline: {verdict} in {base.seconds:.0f} s", file=note, flush=True)
            if base.status != SURVIVED:
                raise BadInput(
                    f"the unmutated suite is not green ({base.status} {base.detail}): "
                    "no kill would mean anything"
                )
        for n, bug in enumerate(chosen, 1):
            paths, unknown_tests = select_tests(ws.copy, bug.protocol)
            if n == 1 and unknown_tests:
                print(f"test files not classified (run too): {unknown_tests}", file=note)
            print(f"[{n}/{len(chosen)}] {bug.id} ({bug.protocol}, {bug.cls}) ...", file=note)
            out = run_bug(ws, bug, paths, args.profile, args.timeout)
            print(
                f"[{n}/{len(chosen)}] {bug.id}: {out.status} {out.detail} ({out.seconds:.0f} s)",
                file=note,
                flush=True,
            )
            rows.append((bug, out))
            if args.json:
                _write_json(args.json, args, rows)
    finally:
        ws.close()
    print(summary(rows))
    if any(o.status in (ERROR, TIMEOUT) for _, o in rows):
        return 2
    return 1 if any(o.status == SURVIVED for _, o in rows) else 0


def _write_json(path: Path, args: argparse.Namespace, rows: Sequence[tuple[Bug, Outcome]]) -> None:
    doc = {
        "rev": args.rev,
        "profile": args.profile,
        "results": [
            {
                "id": b.id,
                "protocol": b.protocol,
                "class": b.cls,
                "result": o.status,
                "detail": o.detail,
                "seconds": round(o.seconds, 1),
            }
            for b, o in rows
        ],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
