"""The mutation campaign's runner (mutation/run.py) without mutmut: the rule that sets aside, as
equivalent without a run, the mutants that change only code a catalogue bug guards, checked on
real functions of the cores; the Wilson interval the sampled scores are reported with; and each
core's test files among its fast tests."""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import replace as replace
from pathlib import Path
from typing import Any

import pytest

from meshcheck.impl.hybrid.threat import ThreatModel
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.raft.node import RaftNode
from mutation.run import FAST
from mutation.run import GROUPS
from mutation.run import NOT_FAST
from mutation.run import SKIPPED
from mutation.run import Equivalent
from mutation.run import Mutant
from mutation.run import equivalent_by_rule
from mutation.run import index
from mutation.run import lookup
from mutation.run import score_cell
from mutation.run import still_by_rule
from mutation.run import tabulate
from mutation.run import to_rerun
from mutation.run import wilson


def _source(function: Callable[..., Any]) -> str:
    return textwrap.dedent(inspect.getsource(function))


def _mutate(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times"
    return source.replace(old, new)


BACKED_UP = _source(RaftNode._backed_up)


@pytest.mark.parametrize(
    ("old", "new", "bug"),
    [
        # the body of `if mutants.BACKUP_PAST_CONFLICT in self._bugs and ...:`
        (
            "return max(m.conflict_index + 1, floor)",
            "return max(m.conflict_index - 1, floor)",
            "BACKUP_PAST_CONFLICT",
        ),
        # an operand of that test's `and` after the bug's: short-circuited while the bug is off
        ("m.conflict_term > 0", "m.conflict_term >= 0", "BACKUP_PAST_CONFLICT"),
        # the body of `if mutants.BACKUP_ONE_AT_A_TIME in self._bugs:`
        (
            "return max(self.next_index[peer] - 1, floor)",
            "return max(self.next_index[peer] + 1, floor)",
            "BACKUP_ONE_AT_A_TIME",
        ),
    ],
)
def test_a_change_inside_a_catalogue_bugs_branch_is_equivalent_by_rule(
    old: str, new: str, bug: str
) -> None:
    why = equivalent_by_rule(BACKED_UP, _mutate(BACKED_UP, old, new))
    assert why == f"runs only with catalogue bug {bug} on"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # the protocol's own line after the bug branches: every run reaches it
        (
            "return max(min(self.next_index[peer] - 1, m.conflict_index), floor)",
            "return max(min(self.next_index[peer] - 2, m.conflict_index), floor)",
        ),
        # the bug's own condition: switches the bug's code on in every run
        (
            "if mutants.BACKUP_ONE_AT_A_TIME in self._bugs:",
            "if mutants.BACKUP_ONE_AT_A_TIME not in self._bugs:",
        ),
        # code before the branches
        ("floor = self.match_index[peer] + 1", "floor = self.match_index[peer] - 1"),
    ],
)
def test_a_change_the_protocol_runs_is_not(old: str, new: str) -> None:
    assert equivalent_by_rule(BACKED_UP, _mutate(BACKED_UP, old, new)) is None


def test_one_change_outside_the_branch_is_enough_to_run_the_mutant() -> None:
    inside = _mutate(BACKED_UP, "m.conflict_index + 1, floor", "m.conflict_index + 2, floor")
    both = _mutate(inside, "floor = self.match_index[peer] + 1", "floor = self.match_index[peer]")
    assert equivalent_by_rule(BACKED_UP, inside) is not None
    assert equivalent_by_rule(BACKED_UP, both) is None


def test_the_rule_reads_conditional_expressions_and_operands_before_the_bug() -> None:
    flush = _source(RaftNode._flush)
    # `None if mutants.FORGET_VOTED_FOR in self._bugs else self.voted_for`: the body is bug-only,
    # the else is what Raft persists
    assert equivalent_by_rule(flush, _mutate(flush, "voted_for = None if", "voted_for = '' if"))
    assert equivalent_by_rule(flush, _mutate(flush, "else self.voted_for", "else None")) is None
    settle = _source(ThreatModel._settle)
    # `if mutants.DEESCALATE_CRITICAL_TO_NONE in self.bugs and ...:` body and later operands
    assert equivalent_by_rule(settle, _mutate(settle, "level = Level.NONE", "level = None"))
    assert equivalent_by_rule(
        settle, _mutate(settle, "and level == Level.HIGH", "and level != Level.HIGH")
    )


def test_a_bug_that_must_be_off_guards_nothing() -> None:
    # `if key in self.results and mutants.EXECUTE_AGAIN not in self._bugs:` runs in every run
    execute = _source(Replica._execute)
    changed = _mutate(
        execute,
        "result = self.results[key][1]",
        "result = None",
    )
    assert equivalent_by_rule(execute, changed) is None


def test_an_unchanged_or_unparsable_function_is_not_set_aside() -> None:
    assert equivalent_by_rule(BACKED_UP, BACKED_UP) is None
    assert equivalent_by_rule(BACKED_UP, "def (") is None


def test_wilson_interval() -> None:
    # Wilson (1927): 20 of 20 gives [0.839, 1]; 0 of 0 says nothing
    low, high = wilson(20, 20)
    assert low == pytest.approx(0.8389, abs=1e-4) and high == 1.0
    low, high = wilson(34, 40)
    assert low == pytest.approx(0.7091, abs=1e-3) and high == pytest.approx(0.9294, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)


def _mutant(n: int, status: str, set_aside: tuple[str, str] | None = None) -> Mutant:
    m = Mutant(f"meshcheck.impl.raft.log.x__mutmut_{n}", "impl/raft/log.py", "f", status, 1.0)
    m.set_aside = set_aside
    return m


def test_the_table_counts_the_set_aside_as_equivalent_and_marks_a_sample_as_an_estimate() -> None:
    rule = ("rule", "runs only with catalogue bug X on")
    mutants = (
        [_mutant(i, "killed") for i in range(18)]
        + [_mutant(18, "survived"), _mutant(19, "skipped", rule), _mutant(20, "skipped", rule)]
        + [_mutant(21 + i, "not checked") for i in range(9)]
    )
    (row,), stale = tabulate({"impl/raft/log.py": mutants}, [])
    assert (row.mutants, row.by_rule, row.equivalent, row.run, row.killed) == (30, 2, 2, 19, 18)
    assert (row.survived, row.other, row.judged_of_run) == (1, 9, 19) and not stale
    # 18 of 19: an estimate with its interval, not a score; whatever the 9 not run turn out to
    # be, the score is between 18 / 28 and 27 / 28
    assert score_cell(row) == "~95% [75-99%] n=19 (64-96% whatever the 9 not run)"
    (none,), _ = tabulate({"impl/raft/log.py": mutants[19:]}, [])
    assert score_cell(none) == "0-100% whatever the 9 not run"
    (done,), _ = tabulate({"impl/raft/log.py": mutants[:21]}, [])
    assert score_cell(done) == "94.7%"  # 18 / (21 - 2)


def test_a_listed_equivalent_that_names_its_mutant_classifies_only_that_one() -> None:
    """The same change on two lines of one function (hybrid `_receive` hands `Deliver(source,
    inner)` to a Raft core, which ignores the source, and to a BFT core, which reads it): an
    entry with `mutant =` speaks of one of the two; one without speaks of both."""
    one, other = _mutant(7, "survived"), _mutant(12, "survived")
    for m in (one, other):
        m.removed, m.added = ("g(source)",), ("g(None)",)
    entry = Equivalent("impl/raft/log.py", "f", ("g(source)",), ("g(None)",), "why", mutant=7)
    (row,), stale = tabulate({"impl/raft/log.py": [one, other]}, [entry])
    assert (row.equivalent, row.gaps, stale) == (1, [other], [])
    unnamed = replace(entry, mutant=None)
    (row,), _ = tabulate({"impl/raft/log.py": [one, other]}, [unnamed])
    assert (row.equivalent, row.gaps) == (2, [])
    assert lookup(index([entry]), one.key(), other.name) is None


def test_a_rerun_of_gaps_tests_the_unlisted_survivors_and_what_has_no_verdict() -> None:
    """A mutant whose test process died (mutmut's "segfault") or was cut has no verdict: it stays
    out of the score, its file never complete, until `--rerun gaps` runs it again."""
    mutants = [
        _mutant(1, "killed"),
        _mutant(2, "survived"),
        _mutant(3, "survived"),
        _mutant(4, "segfault"),
        _mutant(5, "suspicious"),
        _mutant(6, "timeout"),
        _mutant(7, "not checked"),
    ]
    mutants[2].removed, mutants[2].added = ("a",), ("b",)
    listed = Equivalent("impl/raft/log.py", "f", ("a",), ("b",), "why")
    (row,), _ = tabulate({"impl/raft/log.py": mutants}, [listed])
    assert (row.killed, row.equivalent, row.timeout, row.other) == (1, 1, 1, 3)
    names = to_rerun({"impl/raft/log.py": mutants}, [listed])
    assert names == {m.name for m in (mutants[1], mutants[3], mutants[4])}


def test_a_cached_rule_classification_holds_only_while_its_verdict_does() -> None:
    # a changed function's mutants lose their verdicts and are numbered afresh: decide again
    assert still_by_rule(SKIPPED)
    assert not still_by_rule(None)


def test_every_test_file_of_a_core_is_among_its_fast_tests_or_says_why_not() -> None:
    """A core's own test file missing from mutation/run.py's FAST leaves its mutants only the
    property stage, a minute each instead of a second (test_hybrid_bft.py was: bft.py's mutants
    had no unit test to die in)."""
    tests = Path(__file__).resolve().parent
    for group in GROUPS:
        own = sorted(
            f"tests/{p.name}"
            for pattern in (f"test_{group}_*.py", f"test_{group}.py")
            for p in tests.glob(pattern)
        )
        assert own, group
        missing = [t for t in own if t not in FAST[group] and t not in NOT_FAST]
        assert not missing, f"{group}: {missing} in neither FAST nor NOT_FAST"
    listed = [t for g in GROUPS for t in FAST[g]] + list(NOT_FAST)
    assert [t for t in listed if not (tests.parent / t).is_file()] == []
