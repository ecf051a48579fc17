"""Every property check of the manager's routing, in the order `meshcheck mutants routing` tries
them: the deterministic scenario first (seconds; it takes every route), then the free runs of the
three layers together (property_tests/routing/free_runs.py)."""

from __future__ import annotations

from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.routing.free_runs import free_runs, scenario

CHECKS: tuple[Check, ...] = (
    Check(
        "scenario",
        scenario,
        "every route taken once at level None and once at Critical: Routing.tla's invariants on "
        "every answer, and each layer's own checks",
    ),
    Check(
        "free runs",
        free_runs,
        "mixed workloads under faults with Byzantine behaviour on and off: the routing invariants "
        "from what the submitter saw, each layer's own checks, every op answered after the calm",
    ),
)
