"""What a report page shows: the summary table, the mutant kill matrix, coverage as it grew, and
each failure with its timeline picture, its trace and its replay line.

The values are filled in by the commands that produce reports (`meshcheck verify --html`,
`meshcheck campaign`); nothing here runs a check. Every field is plain data (strings, numbers,
tuples), so a page can be built in a test by hand and compared with what the browser shows.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class SummaryRow:
    """One row of the summary table, as `meshcheck verify` prints it (meshcheck/verify.py's Row)."""

    kind: str  # "tlc" | "z3" | "tests" | "traces" | "mutants" | "coverage" | "campaign" ...
    name: str
    result: str  # "pass" | "FAIL" | "error" | "skip" | "vacuous" (meshcheck/exercise.py)
    count: int | None
    unit: str
    seconds: float
    detail: str = ""
    cpu: float | None = None  # CPU-seconds, where measured
    kills: tuple[
        str, ...
    ] = ()  # the catalogue mutants the row's check has killed (protocol:mutant)


@attrs.frozen
class Kill:
    """One mutant of one protocol: the check that killed it, or "" if it survived."""

    protocol: str
    mutant: str
    killed_by: str  # the killing check's name; "" when nothing killed it
    seconds: float = 0.0
    steps: int | None = None  # length of the shrunk counterexample, when there is one


@attrs.frozen
class CoveragePoint:
    """Coverage of one protocol at one moment of a run: cumulative, merged over every worker."""

    protocol: str
    seconds: float  # since the run started
    examples: int
    actions: int  # spec actions fired, of `actions_total`
    actions_total: int
    states: int  # distinct abstract states reached
    rare: int = 0  # rare conditions hit, of `rare_total`
    rare_total: int = 0


@attrs.frozen
class Failure:
    """A failed check with what a reader needs to see it and re-run it."""

    title: str  # the check's name
    message: str  # the first lines of what it said
    replay: str  # the command line that re-runs it, e.g. "meshcheck trace replay F.itf.json"
    itf: str = ""  # the counterexample as ITF JSON text ("" when the check left none)
    timeline_svg: str = ""  # the counterexample drawn (traces/timeline), inline SVG text
    count: int = 1  # how many workers or seeds hit this same failure (duplicates folded)


@attrs.frozen
class Page:
    title: str
    generated: str  # when and by what, written by the caller (the page reads no clock)
    summary: tuple[SummaryRow, ...] = ()
    kills: tuple[Kill, ...] = ()
    coverage: tuple[CoveragePoint, ...] = ()
    failures: tuple[Failure, ...] = ()
    notes: tuple[str, ...] = ()  # free lines under the title: profile, workers, seeds
