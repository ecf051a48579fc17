"""One solver frame per claim, with a budget: reaching it gives "unknown", never "proved".

The budget is given in milliseconds but enforced as Z3's resource limit (`rlimit`: a count of the
solver's own steps), so that whether a claim is decided does not depend on how loaded the machine
is: `make verify` runs the proof sets beside TLC and pytest processes on every core, where a 30 s
wall-clock budget once gave "unknown" for an obligation a quiet core decides well within it
(docs/performance.md). RLIMIT_PER_MS converts: measured over every proof set on one core (Z3
4.x), the solver spends about 3,300 to 5,000 of its units per millisecond; the heaviest obligation,
2.3 million units, takes 0.5 to 0.7 s. A wall clock limit of ten times the budget stays, only as a
guard against a solver that stops counting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import attrs
import z3

from meshcheck.models.proof.results import Status

DEFAULT_TIMEOUT_MS = 30_000
RLIMIT_PER_MS = 4_000


def new_solver(timeout_ms: int) -> Any:
    """A solver whose every check may spend `timeout_ms` of a quiet core's time, counted in Z3's
    resource units (see the module's docstring)."""
    s = z3.Solver()
    s.set("rlimit", timeout_ms * RLIMIT_PER_MS)
    s.set("timeout", timeout_ms * 10)
    return s


@attrs.frozen(eq=False)
class Answer:
    status: Status
    model: Any  # the (shrunk) Z3 model refuting a claim; None otherwise
    seconds: float
    detail: str = ""


def check_in_frame(
    solver: Any, goal: Sequence[Any], *, valid: bool, shrink: Callable[[Any], Any] | None = None
) -> Answer:
    """Check `goal` in a new solver frame.

    valid=True: `goal` is a negated claim, proved when unsatisfiable; a satisfying model (shrunk by
    `shrink`) refutes it. valid=False: `goal` must be satisfiable (non-vacuity).
    """
    start = time.perf_counter()
    solver.push()
    try:
        solver.add(*goal)
        answer = solver.check()
        if answer == z3.unknown:
            seconds = time.perf_counter() - start
            why = f"Z3 gave up after {seconds:.1f} s ({solver.reason_unknown()})"
            return Answer("unknown", None, seconds, why)
        if (answer == z3.unsat) == valid:
            return Answer("proved", None, time.perf_counter() - start)
        model = None
        if answer == z3.sat:
            model = shrink(solver) if shrink is not None else solver.model()
        return Answer("failed", model, time.perf_counter() - start)
    finally:
        solver.pop()
