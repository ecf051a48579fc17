"""Which tests execute the lines a mutant changes: line-level test selection for the campaign.

mutmut gives a mutant every test that calls its function. A mutant of a rarely taken branch of a
function every property test calls then runs all of them, though most never execute its line, and a
surviving mutant costs the whole run (for PBFT, about 90 s against under a second for a kill). PIT,
the JVM's mutation tester, selects by line instead and reports a mutant whose line no test executes
as NO_COVERAGE without running it (https://pitest.org/quickstart/basic_concepts/). This module does
the same for mutmut:

1. `measure` runs a core's tests once inside mutants/ (the copy mutmut tests, with no mutant
   switched on, so every call goes to the original function) under coverage.py, one coverage
   context per test (mutation/reach_plugin.py), with the arguments and Hypothesis profile the
   mutants' runs get.
2. `changed_statements` finds, from mutmut's copy of the file, the statements a mutant changes
   (the lines that differ between the original function and the mutant, each taken to the
   statement that holds it).
3. `Reach.tests_for` gives a mutant the tests that execute one of those statements; none means no
   test can tell the mutant from the original, and it is not run (mutmut's "no tests", 33).

Why it is sound: the tests are deterministic (derandomized Hypothesis, a seeded simulator, no wall
clock in the cores), so a test that never executes a changed statement runs the mutant exactly as
it runs the original, and passes. Where that argument does not reach, the mutant gets its
function's tests (every test that runs a line of it, in its call, setup or teardown, and those
mutmut's statistics credit it with): a change to a function's signature (defaults are evaluated
when the module is imported), a statement also run outside any test or in a fixture's setup or
teardown (a fixture shared by a module's tests would carry the change into tests after the one it
ran in), a line that cannot be mapped. What it assumes, as mutmut's function-level selection does
already: a test does not depend on state another test left behind.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SHARED = ("|setup", "|teardown")  # contexts of fixtures: not one test's own


def statement_of_line(source: str) -> dict[int, int]:
    """Each line of a module to the first line of the innermost statement holding it (the line
    coverage.py reports the statement's execution on). Lines of no statement (blank, comments,
    decorators) are left out."""
    tree = ast.parse(source)
    found: dict[int, int] = {}
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    nodes: list[tuple[int, ast.stmt]] = []
    while stack:
        node, depth = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                nodes.append((depth, child))
            stack.append((child, depth + 1))
    for _, stmt in sorted(nodes, key=lambda dn: dn[0]):  # outer first: inner ones overwrite
        end = stmt.end_lineno or stmt.lineno
        for line in range(stmt.lineno, end + 1):
            found[line] = stmt.lineno
    return found


def function_definitions(source: str) -> set[int]:
    """The `def` lines of the module's functions (a change there is a change of the signature)."""
    tree = ast.parse(source)
    return {
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def changed_statements(
    lines: list[str], spans: dict[str, tuple[int, int]], mutant: str, statements: dict[int, int]
) -> set[int] | None:
    """The statements (their first lines, in the mutated file) whose original text the mutant
    changes, or None when they cannot be told. `lines` is mutmut's mutated file, `spans` its
    .spans index (function name -> first and last line), `mutant` the mutant's function name
    (xǁRaftLogǁterm_at__mutmut_3)."""
    base = mutant.rpartition("__mutmut_")[0]
    orig_span = spans.get(base + "__mutmut_orig")
    mut_span = spans.get(mutant)
    if orig_span is None or mut_span is None:
        return None
    orig = lines[orig_span[0] - 1 : orig_span[1]]
    mut = [
        line.replace(mutant + "(", base + "__mutmut_orig(", 1)
        for line in lines[mut_span[0] - 1 : mut_span[1]]
    ]
    found: set[int] = set()
    matcher = difflib.SequenceMatcher(None, orig, mut, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "equal":
            continue
        # a deletion or a replacement changes orig[i1:i2]; an insertion lies between two lines
        touched = range(i1, i2) if i2 > i1 else range(max(i1 - 1, 0), i1 + 1)
        for i in touched:
            statement = statements.get(orig_span[0] + i)
            if statement is None:
                return None
            found.add(statement)
    return found or None


@dataclass
class Reach:
    """The tests that execute each statement of one mutated file (by first line), and the
    statements also run outside one test's own call."""

    tests: dict[int, set[str]]
    shared: set[int]
    every: dict[
        int, set[str]
    ]  # by line as measured: the tests whose call, setup or teardown ran it

    def tests_for(self, statements: Iterable[int]) -> set[str] | None:
        """The tests that execute one of the statements; None when one of them is also run where
        a change could reach other tests (setup, teardown, import): then the caller keeps
        mutmut's selection by function."""
        found: set[str] = set()
        for statement in statements:
            if statement in self.shared:
                return None
            found |= self.tests.get(statement, set())
        return found


def reach_of(contexts_by_line: dict[int, list[str]], statements: dict[int, int]) -> Reach:
    """A Reach from coverage.py's contexts per executed line (CoverageData.contexts_by_lineno)."""
    tests: dict[int, set[str]] = {}
    shared: set[int] = set()
    every: dict[int, set[str]] = {}
    for line, contexts in contexts_by_line.items():
        statement = statements.get(line, line)
        for context in contexts:
            if not context or context.endswith(SHARED):
                shared.add(statement)
            else:
                tests.setdefault(statement, set()).add(context)
            if context:
                test = context.removesuffix("|setup").removesuffix("|teardown")
                every.setdefault(line, set()).add(test)
    return Reach(tests, shared, every)


def fingerprint(mutants: Path, tests: list[str]) -> str:
    """What a measurement depends on: the mutated copy of the cores, the code the tests import
    (mutants/meshcheck, the copy of meshcheck with the mutated cores in it), the tests and their
    profile."""
    digest = hashlib.sha256()
    roots = [mutants / "meshcheck", mutants / "mutation", mutants / "property_tests"]
    roots += [mutants / t for t in tests]
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in files:
            digest.update(str(path.relative_to(mutants)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def measure(
    mutants: Path, core: str, tests: list[str], pytest_args: list[str]
) -> dict[str, dict[int, list[str]]]:
    """Run `tests` inside `mutants` under coverage.py with a context per test, measuring the copy
    of impl/<core>: the contexts of each executed line, by file (meshcheck/impl/<core>/<f>.py).
    Kept in mutants/reach-<core>.json until the fingerprint changes."""
    cache = mutants / f"reach-{core}.json"
    key = fingerprint(mutants, tests)
    try:
        kept = json.loads(cache.read_text())
        if kept.get("fingerprint") == key:
            return {f: {int(n): c for n, c in lines.items()} for f, lines in kept["files"].items()}
    except (OSError, ValueError, AttributeError):
        pass
    data_file = mutants / f".coverage-reach-{core}"
    data_file.unlink(missing_ok=True)
    source = mutants / "meshcheck" / "impl" / core
    env = {
        **os.environ,
        "MESHCHECK_REACH_DATA": str(data_file.resolve()),
        "MESHCHECK_REACH_SOURCE": str(source.resolve()),
        "MUTANT_UNDER_TEST": "",
    }
    command = [sys.executable, "-m", "pytest", "--rootdir=.", "-q", "-p", "no:randomly"]
    command += ["-p", "mutation.reach_plugin", *pytest_args, *tests]
    print(f"    measuring which tests execute each line of impl/{core} ({len(tests)} test paths)")
    done = subprocess.run(command, cwd=mutants, env=env, stdout=subprocess.DEVNULL, check=False)
    if done.returncode not in (0, 5):
        raise RuntimeError(
            f"the tests of impl/{core} failed under coverage (exit {done.returncode})"
        )
    import coverage

    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    files: dict[str, dict[int, list[str]]] = {}
    for measured in data.measured_files():
        relative = Path(measured).resolve().relative_to(mutants.resolve())
        by_line = data.contexts_by_lineno(measured)
        files[str(relative)] = {n: sorted(c) for n, c in by_line.items()}
    cache.write_text(json.dumps({"fingerprint": key, "files": files}))
    return files


def load_spans(mutated_file: Path) -> dict[str, tuple[int, int]]:
    """mutmut's index of the functions in its mutated copy of a file (the .spans file)."""
    kept = json.loads(Path(str(mutated_file) + ".spans").read_text())
    return {name: (int(a), int(b)) for name, (a, b) in kept["spans"].items()}


@dataclass
class FileReach:
    """Line-level selection for the mutants of one mutated file."""

    lines: list[str]
    spans: dict[str, tuple[int, int]]
    statements: dict[int, int]
    definitions: set[int]
    reach: Reach

    @classmethod
    def of(cls, mutated_file: Path, contexts_by_line: dict[int, list[str]]) -> FileReach:
        text = mutated_file.read_text()
        statements = statement_of_line(text)
        return cls(
            text.split("\n"),
            load_spans(mutated_file),
            statements,
            function_definitions(text),
            reach_of(contexts_by_line, statements),
        )

    def function_tests(self, mutant_function: str) -> set[str]:
        """Every test that executes a line of the mutant's original function, in its call, setup
        or teardown: the selection for a mutant line-level selection cannot serve."""
        base = mutant_function.rpartition("__mutmut_")[0]
        span = self.spans.get(base + "__mutmut_orig")
        if span is None:
            return set()
        found: set[str] = set()
        for line in range(span[0], span[1] + 1):
            found |= self.reach.every.get(line, set())
        return found

    def tests_for(self, mutant_function: str) -> set[str] | None:
        """The tests for one mutant (its function name in the file, xǁRaftLogǁterm_at__mutmut_3):
        those that execute a statement it changes, or None for mutmut's selection by function."""
        changed = changed_statements(self.lines, self.spans, mutant_function, self.statements)
        if changed is None or changed & self.definitions:
            return None
        return self.reach.tests_for(changed)
