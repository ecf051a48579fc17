"""mutation/reach.py: line-level test selection for the mutation campaign. A mutant gets the tests
that execute a statement it changes; where that cannot be told safely it keeps its function's."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from mutation import reach

# A file as mutmut writes it: the original function renamed __mutmut_orig, each mutant beside it.
MUTATED = textwrap.dedent(
    """\
    class Log:
        def xǁLogǁterm_at__mutmut_orig(self, index, default=0):
            if index > self.last:
                return None
            total = (index +
                     self.offset)
            return self.terms[total]
        def xǁLogǁterm_at__mutmut_1(self, index, default=0):
            if index >= self.last:
                return None
            total = (index +
                     self.offset)
            return self.terms[total]
        def xǁLogǁterm_at__mutmut_2(self, index, default=0):
            if index > self.last:
                return None
            total = (index -
                     self.offset)
            return self.terms[total]
        def xǁLogǁterm_at__mutmut_3(self, index, default=1):
            if index > self.last:
                return None
            total = (index +
                     self.offset)
            return self.terms[total]
        def xǁLogǁterm_at__mutmut_4(self, index, default=0):
            if index > self.last:
                return 0
            total = (index +
                     self.offset)
            return self.terms[total]
    """
)
SPANS = {
    "xǁLogǁterm_at__mutmut_orig": (2, 7),
    "xǁLogǁterm_at__mutmut_1": (8, 13),
    "xǁLogǁterm_at__mutmut_2": (14, 19),
    "xǁLogǁterm_at__mutmut_3": (20, 25),
    "xǁLogǁterm_at__mutmut_4": (26, 31),
}


def test_each_line_goes_to_the_first_line_of_its_innermost_statement() -> None:
    statements = reach.statement_of_line(MUTATED)
    assert statements[3] == 3  # the if's test
    assert statements[4] == 4  # its body
    assert statements[5] == statements[6] == 5  # a statement over two lines
    assert statements[2] == 2  # the def line
    assert 2 in reach.function_definitions(MUTATED)


def _changed(mutant: str) -> set[int] | None:
    return reach.changed_statements(
        MUTATED.split("\n"), SPANS, mutant, reach.statement_of_line(MUTATED)
    )


def test_the_statements_a_mutant_changes_are_found_in_the_original() -> None:
    assert _changed("xǁLogǁterm_at__mutmut_1") == {3}
    assert _changed("xǁLogǁterm_at__mutmut_2") == {5}  # the second line of the statement at 5
    assert _changed("xǁLogǁterm_at__mutmut_3") == {2}  # the signature
    assert _changed("xǁLogǁterm_at__mutmut_4") == {4}
    assert _changed("xǁLogǁterm_at__mutmut_9") is None  # not in the index


def _file(contexts: dict[int, list[str]]) -> reach.FileReach:
    statements = reach.statement_of_line(MUTATED)
    return reach.FileReach(
        MUTATED.split("\n"),
        SPANS,
        statements,
        reach.function_definitions(MUTATED),
        reach.reach_of(contexts, statements),
    )


def test_a_mutant_gets_the_tests_that_execute_what_it_changes() -> None:
    found = _file(
        {
            2: [""],  # the def line runs at import
            3: ["t.py::a", "t.py::b"],
            4: ["t.py::a"],
            6: ["t.py::b"],  # a line event on the statement's second line
        }
    )
    assert found.tests_for("xǁLogǁterm_at__mutmut_1") == {"t.py::a", "t.py::b"}
    assert found.tests_for("xǁLogǁterm_at__mutmut_2") == {"t.py::b"}
    assert found.tests_for("xǁLogǁterm_at__mutmut_4") == {"t.py::a"}
    # a changed signature (a default is evaluated at import) keeps its function's tests
    assert found.tests_for("xǁLogǁterm_at__mutmut_3") is None


def test_a_statement_no_test_executes_gives_no_tests() -> None:
    found = _file({3: ["t.py::a"]})
    assert found.tests_for("xǁLogǁterm_at__mutmut_4") == set()


def test_a_statement_run_in_a_fixture_or_at_import_keeps_the_functions_tests() -> None:
    # a fixture shared by a module's tests carries a change into the tests after it
    assert _file({4: ["t.py::a|setup", "t.py::b"]}).tests_for("xǁLogǁterm_at__mutmut_4") is None
    assert _file({4: ["t.py::a|teardown"]}).tests_for("xǁLogǁterm_at__mutmut_4") is None
    assert _file({4: ["", "t.py::a"]}).tests_for("xǁLogǁterm_at__mutmut_4") is None
    # ... which are every test that runs a line of the original function, in any phase
    found = _file({2: [""], 3: ["t.py::c[x|y]"], 4: ["t.py::a|setup", "t.py::b"], 9: ["t.py::z"]})
    assert found.function_tests("xǁLogǁterm_at__mutmut_4") == {"t.py::a", "t.py::b", "t.py::c[x|y]"}


def test_the_spans_index_is_read_as_mutmut_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "log.py"
    path.write_text(MUTATED)
    (tmp_path / "log.py.spans").write_text(
        json.dumps({"version": 1, "spans": {k: list(v) for k, v in SPANS.items()}})
    )
    assert reach.load_spans(path) == SPANS
    found = reach.FileReach.of(path, {4: ["t.py::a"]})
    assert found.tests_for("xǁLogǁterm_at__mutmut_4") == {"t.py::a"}
