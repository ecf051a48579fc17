"""One solver frame per claim, with a timeout: reaching it gives "unknown", never "proved"."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import z3

from meshcheck.models.proof.results import Status

DEFAULT_TIMEOUT_MS = 30_000


def new_solver(timeout_ms: int) -> Any:
    s = z3.Solver()
    s.set("timeout", timeout_ms)
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
