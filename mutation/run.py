"""Mutation testing of the protocol cores: mutmut 3 (`[tool.mutmut]` in pyproject.toml) with each
core file's mutants run against that file's tests only, and a score table per file.

    python mutation/run.py run [--workers N] [--rerun all|survivors|gaps] [--sample N]
                               [--select line|function] [GROUP ...]
    python mutation/run.py report [GROUP ...]          the table of what has been run
    python mutation/run.py survivors [GROUP ...]       each unexplained survivor's diff

GROUP is rsm, raft, pbft or hybrid (default: all four), or one file of one, as raft/log. `make
mutation` runs `run`. Results are kept in mutants/ (mutmut's own cache, keyed by a hash of each
function) and in mutation/results/ (mutation/record.py: committed, so a campaign can be finished
across runs and machines): a second `run` tests only the mutants not tested yet, of functions
that changed, or whose last run ended without a verdict (UNSETTLED); `report` on a fresh clone generates the mutants (no test runs) and reads the
record. --rerun gaps tests again the survivors not listed as equivalent (after adding tests),
--rerun survivors every survivor, --rerun all every selected mutant. --sample N tests N mutants of each
file spread evenly over it, to time a campaign; mutants/seconds.json keeps each mutant's wall time
and the table sums it per file.

Per-file test selection. mutmut runs the whole test selection once with every function
instrumented, records which tests reach which function, and runs a mutant against those tests only.
The hybrid layer drives Raft and PBFT instances, so without a second filter a Raft mutant would also
run every hybrid test; TESTS below narrows each core file's tests to its protocol's (the state
machine's to its own, tests/test_rsm.py: the protocols' runs reach it too, but check only that
replicas agree, so an rsm survivor would otherwise run every Raft test for nothing).

Line-level selection (--select line, the default; mutation/reach.py). Each core's tests run once
more under coverage.py with a context per test, and a mutant gets only those of its core's tests
that execute a statement it changes, as PIT selects tests; a mutant no test reaches is not run and
counts as a survivor ("no tests", 33). Where that is not safe (a changed signature, a statement run
in a fixture or at import) the mutant keeps its function's tests. --select function runs mutmut's
own selection.

Two stages. A mutant's tests run in one pytest run with -x: first its core's fast tests (FAST: the
rule tests, unit and scenario tests, each fastest first), then its core's property tests (PROPERTY:
lockstep against TLC, free runs). The first failure ends the run, so a mutant a fast test kills
costs well under a second and only a mutant that survives stage 1 pays for stage 2; the verdict is
still "killed by some test of the suite" or "survived all of them".

Hypothesis runs the `ci` profile (MESHCHECK_HYPOTHESIS=ci) without shrinking (mutation/hypothesis_ci.py).

Equivalent mutants are listed in mutation/equivalent.toml, each with the reason it cannot be told
apart from the original, keyed by file, function and the changed lines (not by mutmut's mutant
number or a line number, so the list survives edits elsewhere in the file). The score of a file is
killed / (mutants - equivalent); the target is 90% per file. A file not tested to the end (a
--sample, an interrupted campaign) shows instead the score over the mutants tested, marked ~, with
its 95% Wilson interval, and the bounds of the file's score whatever the untested mutants turn out
to be: an estimate, which meets no target, and which only a sample makes fair (an interrupted
campaign ran the fastest-expected mutants first: of it, only the bounds hold). Exit 0 when every file selected was
tested to the end and meets the target, 1 when one does not, 2 on bad input.

Equivalent by rule. A mutant whose changes all lie in code that runs only with a catalogue bug
switched on (the body of `if mutants.X in self._bugs:`, alone or `and` more, and the like:
`equivalent_by_rule`) is set aside without a run, as are the mutants equivalent.toml lists: the
campaign's tests never switch a catalogue bug on, so each would survive every property test of its
core (a minute or more) for a verdict known beforehand. mutmut records them as "skipped", and
mutants/equivalent.json keeps why.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import json
import math
import os
import sys
import textwrap
import time
import tomllib
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import Final

# run as a script (python mutation/run.py), its own folder is on the path, not the repository's
try:
    from mutation import memory_cap
    from mutation import reach
    from mutation import record
except ModuleNotFoundError:
    import memory_cap  # type: ignore[no-redef,import-not-found]
    import reach  # type: ignore[no-redef,import-not-found]
    import record  # type: ignore[no-redef,import-not-found]

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "mutation" / "equivalent.toml"
TARGET = 0.90

GROUPS = ("rsm", "raft", "pbft", "hybrid")

# The tests each core's files run against (paths as mutmut's test ids start), in two stages: a
# mutant runs its core's fast tests first (rule tests, unit and scenario tests: seconds for all) and
# its core's property tests (lockstep with TLC, free runs: minutes) only if it survives them. pytest
# runs with -x, so the first failing test ends the run and the property tests of a mutant killed in
# stage 1 never start. mutmut keeps, of these, the tests that reach the mutated function.
_RAFT_FAST = [
    "tests/test_raft_rules.py",
    "tests/test_raft_impl.py",
    "tests/test_raft_log.py",
    "tests/test_raft_config.py",
    "tests/test_raft_snapshot_response.py",
    "tests/test_raft_unreliable.py",
]
_PBFT_FAST = [
    "tests/test_pbft_rules.py",
    "tests/test_pbft_impl.py",
    "tests/test_pbft_impl_sim.py",
    "tests/test_pbft_votes.py",
    "tests/test_pbft_byzantine.py",
    "tests/test_pbft_evidence.py",
    "tests/test_pbft_certificates.py",
    "tests/test_pbft_histories.py",
    "tests/test_pbft_repeat.py",
]
_HYBRID_FAST = [
    "tests/test_hybrid_impl.py",
    "tests/test_hybrid_sim.py",
    "tests/test_hybrid_levels.py",
    "tests/test_hybrid_threat.py",
    "tests/test_hybrid_units.py",
    "tests/test_hybrid_bft.py",
    "tests/test_hybrid_histories.py",
    "tests/test_hybrid_node.py",
    "tests/test_hybrid_certificates.py",
]
FAST: dict[str, list[str]] = {
    "rsm": ["tests/test_rsm.py"],
    "raft": _RAFT_FAST,
    "pbft": _PBFT_FAST,
    "hybrid": _HYBRID_FAST,
}
PROPERTY: dict[str, list[str]] = {
    "rsm": [],
    "raft": ["property_tests/raft/"],
    "pbft": ["property_tests/pbft/"],
    "hybrid": ["property_tests/hybrid/"],
}
# A core's own test files (tests/test_<group>_*.py, tests/test_<group>.py) that are not among its
# fast tests, and why: a test file of a core left out by oversight gives its mutants nothing but
# the slow property stage (tests/test_mutation_run.py checks that every one is in FAST or here).
NOT_FAST: dict[str, str] = {
    "tests/test_raft_spec.py": "TLC on specs/Raft.tla: no core runs",
    "tests/test_raft_pipelined_spec.py": "TLC on the pipelined spec: no core runs",
    "tests/test_raft_etcd_spec.py": "TLC on etcd's Raft spec: no core runs",
    "tests/test_pbft_spec.py": "TLC on specs/PBFT.tla: no core runs",
    "tests/test_pbft_plenum_spec.py": "TLC on specs/PBFTPlenum.tla, plenum's refinement of PBFT.tla: "
    "no core runs",
    "tests/test_pbft_disks.py": "the cluster harness's check of state files; its simulated groups "
    "take seconds each, and the core's own tests kill its mutants first",
    "tests/test_hybrid_spec.py": "TLC on specs/Hybrid.tla; of the cores it runs only levels.step, "
    "which tests/test_hybrid_levels.py checks directly in a second",
}
TESTS: dict[str, list[str]] = {g: FAST[g] + PROPERTY[g] for g in GROUPS}
FAST_PREFIXES = tuple(t for g in GROUPS for t in FAST[g])


def stage(test_id: str) -> int:
    """1 for a fast test, 2 for a property test: the order a mutant's tests run in."""
    return 1 if test_id.startswith(FAST_PREFIXES) else 2


def group_of(mutant_or_function: str) -> str | None:
    """The core a mutant name or mangled function name belongs to (meshcheck.impl.<core>...)."""
    parts = mutant_or_function.split(".")
    if len(parts) > 3 and parts[0] == "meshcheck" and parts[1] == "impl" and parts[2] in GROUPS:
        return parts[2]
    return None


def _prefix(selection: str) -> str:
    """The mutant-name prefix of a core ("raft") or of one of its files ("raft/log")."""
    return "meshcheck.impl." + selection.replace("/", ".") + "."


def allowed(group: str, test_id: str) -> bool:
    return any(test_id.startswith(prefix) for prefix in TESTS[group])


class BadInput(Exception):
    pass


# --- the equivalent-mutant list ---------------------------------------------------------------


@dataclass(frozen=True)
class Equivalent:
    file: str
    function: str
    removed: tuple[str, ...]
    added: tuple[str, ...]
    why: str
    # mutmut's number of the mutant in its function (`..._receive__mutmut_111`): needed when the
    # same change of the same text occurs on two lines of one function and only one is equivalent
    mutant: int | None = None

    def key(self) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        return (self.file, self.function, self.removed, self.added)

    def names(self, mutant: str) -> bool:
        """Whether this entry speaks of the mutant named `mutant` (its text already matched)."""
        return self.mutant is None or mutant.endswith(f"__mutmut_{self.mutant}")


Known = dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], list[Equivalent]]


def index(equivalents: Iterable[Equivalent]) -> Known:
    known: Known = {}
    for e in equivalents:
        known.setdefault(e.key(), []).append(e)
    return known


def lookup(
    known: Known, key: tuple[str, str, tuple[str, ...], tuple[str, ...]], name: str
) -> Equivalent | None:
    """The listed entry for the mutant `name` whose change is `key`, if any."""
    return next((e for e in known.get(key, ()) if e.names(name)), None)


def load_equivalents(path: Path = EQUIVALENT) -> list[Equivalent]:
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path.name}: {exc}") from None
    found: list[Equivalent] = []
    for n, entry in enumerate(data.get("equivalent", []), 1):
        try:
            why = str(entry["why"]).strip()
            number = entry.get("mutant")
            if number is not None and (not isinstance(number, int) or number < 1):
                raise BadInput(
                    f"{path.name}: entry {n} ({entry['function']}): mutant must be a number"
                )
            found.append(
                Equivalent(
                    file=str(entry["file"]),
                    function=str(entry["function"]),
                    removed=tuple(_norm(line) for line in entry["removed"].strip("\n").split("\n")),
                    added=tuple(_norm(line) for line in entry["added"].strip("\n").split("\n")),
                    why=why,
                    mutant=number,
                )
            )
        except (KeyError, AttributeError) as exc:
            raise BadInput(f"{path.name}: entry {n} lacks {exc}") from None
        if not why:
            raise BadInput(f"{path.name}: entry {n} ({entry['function']}) gives no reason")
    return found


def _norm(line: str) -> str:
    return " ".join(line.split())


@dataclass
class Mutant:
    name: str  # mutmut's: meshcheck.impl.raft.node.xǁRaftNodeǁstep__mutmut_12
    file: str  # impl/raft/node.py
    function: str  # RaftNode.step
    status: str
    seconds: float | None = None  # wall time of its last test run (mutants/seconds.json)
    diff: str = ""
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    set_aside: tuple[str, str] | None = None  # classified without a run: ("rule"|"listed", why)

    def key(self) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        return (self.file, self.function, self.removed, self.added)


def changed_lines(diff: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The lines a mutant removes and adds, whitespace-normalised, the headers left out."""
    removed = tuple(
        _norm(line[1:])
        for line in diff.splitlines()
        if line.startswith("-") and not line.startswith("---")
    )
    added = tuple(
        _norm(line[1:])
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    )
    return removed, added


# --- equivalent by rule: code that runs only with a catalogue bug switched on --------------------


def bug_condition(test: ast.expr) -> str | None:
    """The catalogue bug an `if` test requires, or None: `mutants.X in <bugs>` alone or as one
    operand of an `and` (impl/<core>/mutants.py's switches are tested so, against `self._bugs`,
    `self.bugs` or `self.config.bugs`). With it, the branch's body runs only with bug X on."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        for value in test.values:
            found = bug_condition(value)
            if found is not None:
                return found
        return None
    return _bug_compared(test, ast.In)


def _without_bug(test: ast.expr) -> str | None:
    """The bug of a test `mutants.X not in <bugs>` (alone): its else branch needs bug X."""
    return _bug_compared(test, ast.NotIn)


def _bug_compared(test: ast.expr, op: type[ast.cmpop]) -> str | None:
    """X of a test `mutants.X <op> <bugs>` (alone), or None."""
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], op)
        and isinstance(test.left, ast.Attribute)
        and isinstance(test.left.value, ast.Name)
        and test.left.value.id == "mutants"
    ):
        return test.left.attr
    return None


_Step = tuple[ast.AST, str, int | None]  # a node, the field and list index a difference lies under


def differences(a: ast.AST, b: ast.AST, path: tuple[_Step, ...] = ()) -> list[tuple[_Step, ...]]:
    """Where two syntax trees differ: for each difference, the path of (node, field, index) steps
    from the root of `a` down to the innermost node of `a` that holds it (positions ignored)."""
    if type(a) is not type(b):
        return [path]
    found: list[tuple[_Step, ...]] = []
    for name, value in ast.iter_fields(a):
        other = getattr(b, name, None)
        if isinstance(value, ast.AST) and isinstance(other, ast.AST):
            found += differences(value, other, (*path, (a, name, None)))
        elif isinstance(value, list) and isinstance(other, list):
            if len(value) != len(other):
                found.append((*path, (a, name, None)))
                continue
            for i, (x, y) in enumerate(zip(value, other, strict=True)):
                if isinstance(x, ast.AST) and isinstance(y, ast.AST):
                    found += differences(x, y, (*path, (a, name, i)))
                elif x != y:
                    found.append((*path, (a, name, i)))
        elif value != other:
            found.append((*path, (a, name, None)))
    return found


def _bug_of_path(path: tuple[_Step, ...]) -> str | None:
    """The catalogue bug whose branch a difference lies in, if it lies in one: the body of an `if`
    (or conditional expression) whose test needs the bug, an operand of that test's `and` after
    the bug's own (short-circuited while the bug is off), or the else of `if mutants.X not in`."""
    for k, (node, name, _) in enumerate(path):
        if not isinstance(node, ast.If | ast.IfExp):
            continue
        if name == "body" and (bug := bug_condition(node.test)) is not None:
            return bug
        if name == "orelse" and (bug := _without_bug(node.test)) is not None:
            return bug
        if (
            name == "test"
            and isinstance(node.test, ast.BoolOp)
            and isinstance(node.test.op, ast.And)
        ):
            first = next(
                (i for i, v in enumerate(node.test.values) if bug_condition(v) is not None), None
            )
            step = path[k + 1] if k + 1 < len(path) else None
            if (
                first is not None
                and step is not None
                and step[0] is node.test
                and step[2] is not None
                and step[2] > first
            ):
                return bug_condition(node.test.values[first])
    return None


def equivalent_by_rule(original: str, mutant: str) -> str | None:
    """Why the mutant of a function is equivalent by rule, or None. `original` and `mutant` are the
    two versions of one function's source (mutmut keeps both). The rule: every change lies inside a
    branch that runs only with a catalogue bug switched on (the body of `if mutants.X in
    self._bugs:`, possibly `and` more, or of such a conditional expression; the else of `if
    mutants.X not in ...:`). No test of the protocol with no bug switched on can reach such code, so
    it changes the planted bug, not the protocol; the catalogue's kill matrix tests those."""
    try:
        a = ast.parse(textwrap.dedent(original))
        b = ast.parse(textwrap.dedent(mutant))
    except SyntaxError:
        return None
    paths = differences(a, b)
    if not paths:
        return None
    bugs = {_bug_of_path(path) for path in paths}
    if None in bugs:
        return None
    return "runs only with catalogue bug " + ", ".join(sorted(b for b in bugs if b)) + " on"


CLASSIFIED = ROOT / "mutants" / "equivalent.json"  # mutants classified without a run, and why


def load_classified() -> dict[str, tuple[str, str]]:
    """Mutants set aside as equivalent without being run: name -> ("rule" or "listed", why)."""
    try:
        found = json.loads(CLASSIFIED.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): (str(v[0]), str(v[1])) for k, v in found.items()}


def function_sources(mutant_name: str, source: Path) -> tuple[str, str]:
    """The original and the mutated function of a mutant, as source (mutmut keeps both in its
    mutated copy of the file; `source` is the file's path under mutants/, as meshcheck/impl/...)."""
    import libcst as cst
    from mutmut.mutation.diff_apply import read_functions_from_index
    from mutmut.mutation.diff_apply import read_mutant_function
    from mutmut.mutation.diff_apply import read_mutants_module
    from mutmut.mutation.diff_apply import read_original_function

    pair = read_functions_from_index(mutant_name, source)
    if pair is None:
        module = read_mutants_module(source)
        pair = (
            read_original_function(module, mutant_name),
            read_mutant_function(module, mutant_name),
        )
    original, mutant = (cst.Module([f]).code for f in pair)
    return original, mutant


# --- reading mutmut's results -------------------------------------------------------------------


def _function_of(mutant_name: str) -> str:
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    name, cls = orig_function_and_class_names_from_key(mutant_name)
    return f"{cls}.{name}" if cls else name


def collect(groups: Iterable[str], with_diffs: bool) -> dict[str, list[Mutant]]:
    """Every mutant of the selected cores or files, by repository file (impl/<core>/<file>.py)."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    wanted = tuple(f"{g}/" if "/" not in g else f"{g}.py" for g in groups)
    times = load_times()
    classified = load_classified()
    by_file: dict[str, list[Mutant]] = {}
    for meta in sorted((ROOT / "mutants" / "meshcheck" / "impl").rglob("*.py.meta")):
        source = meta.relative_to(ROOT / "mutants").with_suffix("")  # meshcheck/impl/raft/node.py
        if not "/".join(source.parts[2:]).startswith(wanted):
            continue
        data = SourceFileMutationData(path=source)
        data.load()
        file = str(Path(*source.parts[1:]))
        mutants = by_file.setdefault(file, [])
        for name, code in sorted(data.exit_code_by_key.items(), key=lambda kv: _natural(kv[0])):
            m = Mutant(name, file, _function_of(name), status_by_exit_code[code], times.get(name))
            m.set_aside = classified.get(name) if m.status == "skipped" else None
            if (
                with_diffs
                or m.status in ("survived", "no tests")
                or (m.set_aside is not None and m.set_aside[0] == "listed")
            ):
                try:
                    m.diff = get_diff_for_mutant(name, path=source)
                except (OSError, ValueError) as exc:  # mutmut is writing mutants/ right now
                    raise BadInput(f"cannot read {name} from mutants/ ({exc}); try again") from None
                m.removed, m.added = changed_lines(m.diff)
            mutants.append(m)
    return by_file


def _natural(name: str) -> tuple[str, int]:
    base, _, n = name.rpartition("__mutmut_")
    return base, int(n) if n.isdigit() else 0


# mutmut's verdicts that are no verdict: the test process died (a crash of the JVM or the
# interpreter, or the kernel's OOM killer under a mutant's runaway run: mutation/memory_cap.py
# now turns that into a MemoryError), or the run was cut; every run tests these again
UNSETTLED: Final = ("segfault", "suspicious", "check was interrupted by user")


def to_rerun(by_file: dict[str, list[Mutant]], equivalents: list[Equivalent]) -> set[str]:
    """What `--rerun gaps` tests again: the survivors not listed as equivalent, and the mutants
    whose verdict is none (UNSETTLED)."""
    rows, _ = tabulate(by_file, equivalents)
    gaps = {m.name for r in rows for m in r.gaps}
    return gaps | {m.name for ms in by_file.values() for m in ms if m.status in UNSETTLED}


@dataclass
class Row:
    file: str
    mutants: int = 0
    killed: int = 0
    survived: int = 0  # survivors not listed as equivalent: gaps
    equivalent: int = 0
    timeout: int = 0
    no_tests: int = 0
    by_rule: int = 0  # of `equivalent`: set aside by the rule (equivalent_by_rule), never run
    run: int = 0  # mutants tested (the others: set aside as equivalent, or not run)
    other: int = 0  # not run yet (a sample, an interrupted campaign), or mutmut's "suspicious"
    timed: int = 0  # mutants with a recorded run time
    seconds: float = 0.0  # their wall seconds together
    gaps: list[Mutant] = field(default_factory=list)

    @property
    def score(self) -> float:
        judged = self.mutants - self.equivalent
        return self.killed / judged if judged else 1.0

    @property
    def judged_of_run(self) -> int:
        """The mutants tested so far and not equivalent: the trials of the estimate."""
        return self.mutants - self.equivalent - self.other

    @property
    def score_of_run(self) -> float | None:
        """The score over the mutants tested so far (None before any): with a sample, an estimate
        of the file's score; of an interrupted campaign, what it has measured."""
        judged = self.judged_of_run
        return self.killed / judged if judged else None


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% at z = 1.96): the interval a
    sampled score is reported with (Wilson, JASA 1927), sound also near 100% and for small n."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


def tabulate(
    by_file: dict[str, list[Mutant]], equivalents: list[Equivalent]
) -> tuple[list[Row], list[Equivalent]]:
    """The rows, and the equivalents that matched no surviving mutant (stale entries)."""
    known = index(equivalents)
    used: set[Equivalent] = set()
    rows = []
    for file, mutants in by_file.items():
        row = Row(file, mutants=len(mutants))
        for m in mutants:
            if m.seconds is not None and m.status not in ("not checked", "no tests"):
                row.timed += 1
                row.seconds += m.seconds
            if m.status not in ("skipped", "not checked"):
                row.run += 1
            if m.set_aside is not None:
                row.equivalent += 1
                listed = lookup(known, m.key(), m.name)
                if m.set_aside[0] == "rule":
                    row.by_rule += 1
                elif listed is not None:
                    used.add(listed)
            elif m.status == "killed":
                row.killed += 1
            elif m.status == "timeout":
                row.timeout += 1
            elif m.status in ("survived", "no tests"):
                listed = lookup(known, m.key(), m.name)
                if listed is not None:
                    row.equivalent += 1
                    used.add(listed)
                else:
                    row.gaps.append(m)
                    if m.status == "survived":
                        row.survived += 1
                    else:
                        row.no_tests += 1
            else:
                row.other += 1
        rows.append(row)
    done = {r.file for r in rows if r.mutants and not r.other}  # files tested to the end
    stale = [e for e in equivalents if e.file in done and e not in used]
    return rows, stale


def print_table(rows: list[Row]) -> None:
    head = (
        "file",
        "mutants",
        "by rule",
        "run",
        "killed",
        "survived",
        "equivalent",
        "timeout",
        "no tests",
        "not run",
        "score",
        "time",
    )
    lines: list[tuple[str, ...]] = [head]
    total = Row("total")
    for r in rows:
        if r.mutants == 0:  # an __init__.py of imports only
            continue
        lines.append(_cells(r))
        for attr in (
            "mutants",
            "by_rule",
            "run",
            "killed",
            "survived",
            "equivalent",
            "timeout",
            "no_tests",
            "other",
            "timed",
            "seconds",
        ):
            setattr(total, attr, getattr(total, attr) + getattr(r, attr))
    lines.append(_cells(total))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]

    def fmt(cells: tuple[str, ...]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    print(fmt(lines[0]))
    print("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    for line in lines[1:]:
        print(fmt(line))
    print(
        "score: killed / (mutants - equivalent); by rule: equivalent without a run (changes only"
        " code a catalogue bug guards). A row with mutants not run shows an estimate over the run"
        " ones (~), with its 95% Wilson interval, which holds for a --sample (drawn evenly), and"
        " the bounds that hold whatever the rest turn out to be, which are all an interrupted"
        " campaign measures (it runs the fastest-expected mutants first)."
    )


def score_cell(r: Row) -> str:
    """The exact score of a file tested to the end; else the estimate from the mutants run, with
    its 95% Wilson interval and the number of trials, and the bounds that hold whatever the
    mutants not run turn out to be (all survive, all are killed). The estimate assumes the run
    ones are a fair sample, as --sample draws them; an interrupted campaign is no such sample
    (mutmut runs first the mutants it expects to be fastest), and of it only the bounds hold."""
    if not r.other:
        return f"{100 * r.score:.1f}%"
    judged = r.mutants - r.equivalent
    floor, ceiling = r.killed / judged, (r.killed + r.other) / judged
    bounds = f"{100 * floor:.0f}-{100 * ceiling:.0f}% whatever the {r.other} not run"
    if r.score_of_run is None:
        return bounds
    low, high = wilson(r.killed, r.judged_of_run)
    return (
        f"~{100 * r.score_of_run:.0f}% [{100 * low:.0f}-{100 * high:.0f}%] n={r.judged_of_run}"
        f" ({bounds})"
    )


def _cells(r: Row) -> tuple[str, ...]:
    return (
        f"`{r.file}`" if r.file != "total" else "total",
        str(r.mutants),
        str(r.by_rule),
        str(r.run),
        str(r.killed),
        str(r.survived),
        str(r.equivalent),
        str(r.timeout),
        str(r.no_tests),
        str(r.other),
        score_cell(r),
        f"{r.seconds / 60:.0f} min, {r.seconds / r.timed:.1f} s/mutant ({r.timed})"
        if r.timed
        else "",
    )


# --- running mutmut -----------------------------------------------------------------------------


TIMES = ROOT / "mutants" / "seconds.json"  # the wall seconds of each mutant's last test run
SAVE_EVERY = 60.0  # seconds between writes of mutation/results/ during a run


def load_times() -> dict[str, float]:
    try:
        found = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in found.items()} if isinstance(found, dict) else {}


def record_time(mutant: str, seconds: float) -> None:
    times = load_times()
    times[mutant] = round(seconds, 2)
    TIMES.write_text(json.dumps(times, indent=0, sort_keys=True))


def sample_of(names: list[str], n: int) -> set[str]:
    """n of a file's mutants spread evenly over it (the first, then every len/n-th in mutmut's
    numbering): a fixed sample to time the campaign on."""
    ordered = sorted(names, key=_natural)
    if n >= len(ordered):
        return set(ordered)
    return {ordered[i * len(ordered) // n] for i in range(n)}


def still_by_rule(result: int | None) -> bool:
    """Whether a mutant classified by the rule in an earlier run is still: only while mutmut keeps
    the verdict it was given then ("skipped"). A mutant with no verdict belongs to a function that
    changed since (mutmut drops their verdicts), whose mutants are numbered afresh: the name may
    now be another change, so the rule decides again."""
    return result == SKIPPED


def set_aside(mutants: list[tuple[Any, str, int | None]], sample: int | None) -> list[Any]:
    """Classify as equivalent, without running them, the mutants of `mutants` (mutmut's (file
    data, name, result) triples; result None: to be run) that change only code a catalogue bug
    guards (`equivalent_by_rule`) or that mutation/equivalent.toml lists; then keep, with --sample
    N, N of each file's other mutants. The set-aside get mutmut's "skipped" exit code (34) and
    their reason in mutants/equivalent.json."""
    known = index(load_equivalents())
    classified = load_classified()
    by_rule: set[str] = set()
    for m, name, result in mutants:
        if name in classified and classified[name][0] == "rule":
            if still_by_rule(result):
                by_rule.add(name)
                continue
            del classified[name]
        original, mutated = function_sources(name, Path(m.path))
        why = equivalent_by_rule(original, mutated)
        if why is not None:
            classified[name] = ("rule", why)
            by_rule.add(name)
    if sample is not None:
        by_source: dict[str, list[str]] = {}
        for _, name, _ in mutants:
            if name not in by_rule:
                by_source.setdefault(name.split("__mutmut_")[0].rsplit(".", 1)[0], []).append(name)
        kept = set().union(*(sample_of(names, sample) for names in by_source.values()))
        mutants = [entry for entry in mutants if entry[1] in kept or entry[1] in by_rule]
    found: list[Any] = []
    touched: set[Any] = set()
    for m, name, result in mutants:
        if result is None and name not in by_rule:
            file = str(Path(*Path(m.path).parts[1:]))
            original, mutated = function_sources(name, Path(m.path))
            diff = "\n".join(difflib.unified_diff(original.split("\n"), mutated.split("\n")))
            removed, added = changed_lines(diff)
            entry = lookup(known, (file, _function_of(name), removed, added), name)
            if entry is not None:
                classified[name] = ("listed", entry.why)
                by_rule.add(name)
        if name in by_rule and result != SKIPPED:
            m.exit_code_by_key[name] = SKIPPED
            touched.add(m)
            result = SKIPPED
        found.append((m, name, result))
    for m in touched:
        m.save()
    CLASSIFIED.write_text(json.dumps(classified, indent=0, sort_keys=True))
    return found


SKIPPED = 34  # mutmut's exit code for "skipped": here, set aside as equivalent without a run


NOT_REACHED = 33  # mutmut's "no tests": no test of the mutant's core executes what it changes


def select_by_line(
    mutants: list[tuple[Any, str, int | None]], by_line: bool
) -> dict[str, set[str]]:
    """The tests each mutant still to run gets (mutation/reach.py): those of its core's tests that
    execute a statement it changes. A mutant none of them reaches is not run: it gets mutmut's "no
    tests" (33), a survivor. A mutant line-level selection cannot serve gets every test of its core
    that executes any line of its function, and those mutmut's call statistics name.

    The coverage is measured afresh whenever the code or the tests change, and is the source here,
    not mutmut's statistics: mutmut updates those only for new tests, so a function new since its
    last full collection (code moved into a new method) would be credited with the new tests only."""
    from mutmut.configuration import config
    from mutmut.state import state
    from mutmut.utils.format_utils import mangled_name_from_mutant_name

    if not by_line:
        return {}
    cores = sorted({g for _, name, result in mutants if result is None and (g := group_of(name))})
    measured = {
        core: reach.measure(ROOT / "mutants", core, TESTS[core], list(config().pytest_add_cli_args))
        for core in cores
    }
    files: dict[str, reach.FileReach] = {}
    selection: dict[str, set[str]] = {}
    unreached: set[Any] = set()
    by_function = state().tests_by_mangled_function_name
    for m, name, result in mutants:
        core = group_of(name)
        if result is not None or core is None:
            continue
        source = str(m.path)
        if source not in files:
            files[source] = reach.FileReach.of(
                ROOT / "mutants" / source, measured[core].get(source, {})
            )
        _, function, number = record.split_name(name)
        mutant = f"{function}__mutmut_{number}"
        mangled = mangled_name_from_mutant_name(name)
        tests = files[source].tests_for(mutant)
        if tests is None:
            tests = files[source].function_tests(mutant) | set(by_function.get(mangled, ()))
        selection[name] = {t for t in tests if allowed(core, t)}
        if not selection[name]:
            m.exit_code_by_key[name] = NOT_REACHED
            unreached.add(m)
        else:  # mutmut skips a mutant whose function it credits with no test, and times it so
            by_function[mangled] = set(by_function.get(mangled, ())) | selection[name]
    for m in unreached:
        m.save()
    return selection


def _install_hooks(
    groups: list[str], rerun: str | None, sample: int | None = None, by_line: bool = False
) -> None:
    """Narrow mutmut's run to the selected groups and each file's own tests (mutmut 3.8 internals:
    pinned in pyproject.toml's `mutation` extra)."""
    from mutmut.state import state

    selection: dict[str, set[str]] = {}

    mm: Any = importlib.import_module("mutmut.__main__")
    selected = tuple(_prefix(g) for g in groups)

    orig_stats: Callable[..., None] = mm.collect_or_load_stats

    def collect_or_load_stats(*args: Any, **kwargs: Any) -> None:
        orig_stats(*args, **kwargs)
        tests_by_function = state().tests_by_mangled_function_name
        for function, tests in list(tests_by_function.items()):
            group = group_of(function)
            if group is not None:
                tests_by_function[function] = {t for t in tests if allowed(group, t)}

    orig_collect: Callable[..., Any] = mm.collect_source_file_mutation_data

    def collect_source_file_mutation_data(*, mutant_names: Any) -> Any:
        mutants, by_path = orig_collect(mutant_names=mutant_names)
        from mutmut.stats import status_by_exit_code

        gaps: set[str] = set()
        if rerun == "gaps":
            gaps = to_rerun(collect(groups, with_diffs=False), load_equivalents())

        def again(name: str, result: int | None) -> bool:
            if rerun == "all" or status_by_exit_code[result] in UNSETTLED:
                return True  # a run that ended without a verdict is tested again by any run
            if rerun == "gaps":
                return name in gaps
            return rerun == "survivors" and status_by_exit_code[result] in ("survived", "no tests")

        mutants = [
            (m, name, None if again(name, result) else result)
            for m, name, result in mutants
            if name.startswith(selected)
            # a rerun of gaps or survivors tests those only, not the mutants a sample left out
            and (rerun not in ("gaps", "survivors") or result is not None or again(name, result))
        ]
        mutants = set_aside(mutants, sample)
        selection.update(select_by_line(mutants, by_line))
        mutants = [
            (m, name, m.exit_code_by_key[name] if name in selection and not selection[name] else r)
            for m, name, r in mutants
        ]
        return mutants, by_path

    def tests_for_mutant_names(_names: Any) -> set[str]:
        # the clean run before the mutants: every test a selected mutant will run
        return {
            t
            for function, tests in state().tests_by_mangled_function_name.items()
            if function.startswith(selected)
            for t in tests
        }

    orig_runner: Callable[..., Any] = mm.get_mutant_runner

    def get_mutant_runner(*args: Any, **kwargs: Any) -> Any:
        runner = orig_runner(*args, **kwargs)
        submit = runner.submit
        wait_for_result = runner.wait_for_result
        started: dict[str, float] = {}

        def in_stages(name: str, tests: list[str], *rest: Any) -> None:
            durations = state().duration_by_test
            started[name] = time.monotonic()
            if name in selection:
                tests = list(selection[name])
            submit(name, sorted(tests, key=lambda t: (stage(t), durations.get(t, 0.0), t)), *rest)

        saved = [time.monotonic()]

        def timed(*a: Any, **kw: Any) -> Any:
            # mutmut's fork server records no duration (0.0): the wall time from submit to result
            result = wait_for_result(*a, **kw)
            if result.mutant_name in started:
                record_time(result.mutant_name, time.monotonic() - started.pop(result.mutant_name))
            if time.monotonic() - saved[0] > SAVE_EVERY:
                # the verdict just returned is written into its meta file after this returns: it
                # goes into the record at the next save or at the end
                record.save(ROOT / "mutants")
                saved[0] = time.monotonic()
            return result

        runner.submit = in_stages
        runner.wait_for_result = timed
        return runner

    orig_create: Callable[..., Any] = mm.create_mutants

    def create_mutants(*args: Any, **kwargs: Any) -> Any:
        stats = orig_create(*args, **kwargs)
        taken = record.seed(ROOT / "mutants")
        print(f"    {taken} verdict(s) taken from mutation/results/ (functions unchanged since)")
        return stats

    mm.create_mutants = create_mutants
    mm.collect_or_load_stats = collect_or_load_stats
    mm.collect_source_file_mutation_data = collect_source_file_mutation_data
    mm.tests_for_mutant_names = tests_for_mutant_names
    mm.get_mutant_runner = get_mutant_runner


def run_mutmut(
    groups: list[str],
    workers: int,
    rerun: str | None,
    sample: int | None = None,
    by_line: bool = True,
) -> float:
    """Run the campaign; its wall-clock seconds."""
    os.environ["MESHCHECK_HYPOTHESIS"] = "ci"
    _install_hooks(groups, rerun, sample, by_line)
    mm: Any = importlib.import_module("mutmut.__main__")
    from mutmut.configuration import Config
    from mutmut.configuration import config

    # Collect and run only the selected cores' tests. mutmut would take a change of the test
    # selection for a change of every verdict and test everything again; the verdicts of the
    # cores left out stay valid (their tests are theirs alone), so the selection is left out of
    # the fingerprint that decides it.
    cores = {g.split("/")[0] for g in groups}
    config().pytest_add_cli_args_test_selection = sorted({t for g in cores for t in TESTS[g]})
    fingerprint = Config.config_fingerprint

    def without_selection(self: Config) -> dict[str, str]:
        found = fingerprint(self)
        found.pop("test_selection", None)
        return found

    Config.config_fingerprint = without_selection  # type: ignore[method-assign]

    start = time.monotonic()
    try:
        mm._run([], workers)
    finally:
        record.save(ROOT / "mutants")
    return time.monotonic() - start


def generate() -> None:
    """mutants/ as a run starts it, without testing anything: the mutated copy of the cores and
    their meta files, with the record's verdicts written in (for `report` on a fresh clone)."""
    mm: Any = importlib.import_module("mutmut.__main__")
    from mutmut.configuration import config

    mm.set_mutant_under_test("mutant_generation")
    (ROOT / "mutants").mkdir(exist_ok=True)
    mm.copy_src_dir()
    mm.copy_also_copy_files()
    mm.setup_source_paths()
    mm.create_mutants(os.cpu_count() or 1)
    assert not config().mutate_only_covered_lines  # every mutant, covered or not, is counted
    mm.set_mutant_under_test("")
    record.seed(ROOT / "mutants")


def report(groups: list[str]) -> int:
    equivalents = load_equivalents()
    if not (ROOT / "mutants").is_dir():
        print("mutants/ is missing: generating the mutants to read mutation/results/ against them")
        generate()
        _install_hooks(groups, None)
        # classifies the mutants not run as equivalent by rule or by the list, as a run does
        importlib.import_module("mutmut.__main__").collect_source_file_mutation_data(
            mutant_names=[]
        )
    else:
        record.save(ROOT / "mutants")
    found = collect(groups, with_diffs=False)
    rows, stale = tabulate(found, equivalents)
    if not rows:
        raise BadInput("no results in mutants/: run `python mutation/run.py run` first")
    print_table(rows)
    for e in stale:
        print(
            f"note: equivalent entry matches no survivor: {e.file} {e.function}: {' / '.join(e.added)}"
        )
    below = [r for r in rows if r.mutants and not r.other and r.score < TARGET]
    partial = [r for r in rows if r.other]
    gaps = sum(len(r.gaps) for r in rows)
    if gaps:
        print(f"{gaps} survivor(s) not classified: python mutation/run.py survivors")
    for m in (m for ms in found.values() for m in ms if m.status in UNSETTLED):
        print(f"no verdict ({m.status}; --rerun gaps runs it again): {m.name}")
    for r in below:
        print(f"below {TARGET:.0%}: {r.file} {100 * r.score:.1f}%")
    for r in partial:
        # a sample's score is an estimate: the target is met only by a file tested to the end
        print(f"not all run ({r.other} of {r.mutants} not tested): {r.file} {score_cell(r)}")
    return 1 if below or partial else 0


def survivors(groups: list[str]) -> int:
    equivalents = load_equivalents()
    rows, _ = tabulate(collect(groups, with_diffs=False), equivalents)
    for r in rows:
        for m in r.gaps:
            print(f"## {m.file} {m.function} [{m.status}] {m.name}")
            print(m.diff)
            print()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mutation/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "report", "survivors"))
    parser.add_argument("groups", nargs="*", metavar="GROUP")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--rerun",
        choices=("all", "survivors", "gaps"),
        help="test again every selected mutant, those that survived, or the survivors not listed"
        " as equivalent (after adding tests)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="test only N mutants of each file, spread evenly over it (to time a campaign)",
    )
    parser.add_argument(
        "--select",
        choices=("line", "function"),
        default="line",
        help="the tests a mutant runs: those that execute a statement it changes (line, the"
        " default; mutation/reach.py) or every test that calls its function (mutmut's own)",
    )
    args = parser.parse_intermixed_args(argv)
    os.chdir(ROOT)
    try:
        groups = args.groups or list(GROUPS)
        for g in groups:
            core, _, file = g.partition("/")
            if core not in GROUPS:
                raise BadInput(f"unknown core {core!r} (one of {', '.join(GROUPS)})")
            if file and not (ROOT / "impl" / core / f"{file}.py").is_file():
                raise BadInput(f"no file impl/{core}/{file}.py")
        if args.workers < 1:
            raise BadInput("--workers must be at least 1")
        if args.sample is not None and args.sample < 1:
            raise BadInput("--sample must be at least 1")
        load_equivalents()  # a malformed list fails before an hour of testing, not after
        try:
            memory_cap.headroom()  # as does a bad memory setting, in every mutant's run
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        if args.command == "run":
            seconds = run_mutmut(
                groups, args.workers, args.rerun, args.sample, args.select == "line"
            )
            print(
                f"\nmutation campaign ({', '.join(groups)}): {seconds:.0f} s on {args.workers} worker(s)"
                + (f", a sample of {args.sample} mutant(s) per file" if args.sample else "")
            )
            return report(groups)
        if args.command == "report":
            return report(groups)
        return survivors(groups)
    except BadInput as exc:
        print(f"meshcheck: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
