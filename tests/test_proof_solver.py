"""The proof budget is Z3's resource count, not the wall clock (models/proof/solver.py): a claim
past its budget is "unknown", never "proved", and a claim within it is decided however loaded the
machine is."""

from __future__ import annotations

import z3

from meshcheck.models.proof.solver import RLIMIT_PER_MS
from meshcheck.models.proof.solver import check_in_frame
from meshcheck.models.proof.solver import new_solver


def pigeonhole(n: int, ctx: z3.Context | None = None) -> list[z3.BoolRef]:
    """n pigeons in n - 1 holes, one each: unsatisfiable, and hard for resolution."""
    p = [[z3.Bool(f"p{i}_{j}", ctx) for j in range(n - 1)] for i in range(n)]
    return [z3.Or(*row) for row in p] + [
        z3.Not(z3.And(p[i][j], p[k][j]))
        for j in range(n - 1)
        for i in range(n)
        for k in range(i + 1, n)
    ]


def test_a_claim_past_its_budget_is_unknown() -> None:
    answer = check_in_frame(new_solver(5), pigeonhole(9), valid=True)
    assert answer.status == "unknown" and "gave up" in answer.detail


def units_used(n: int) -> int:
    """The resource units deciding pigeonhole(n) takes, counted in a context of its own: Z3's
    "rlimit count" is the whole context's count since it was made, so in the main context it would
    include every claim the process checked before (and a budget is counted from where the count
    stands when the check starts)."""
    solver = z3.Solver(ctx=z3.Context())
    solver.add(*pigeonhole(n, solver.ctx))
    assert solver.check() == z3.unsat
    stats = solver.statistics()
    return int(stats.get_key_value("rlimit count"))


def test_the_budget_is_counted_in_resource_units() -> None:
    # the same claim is decided with twice the units it needs and not with half: the answer
    # depends on the solver's own count, the same on any machine under any load
    needed = units_used(7)
    enough = 2 * needed // RLIMIT_PER_MS + 1
    short = needed // (2 * RLIMIT_PER_MS)
    assert short >= 1, needed
    assert check_in_frame(new_solver(enough), pigeonhole(7), valid=True).status == "proved"
    assert check_in_frame(new_solver(short), pigeonhole(7), valid=True).status == "unknown"
