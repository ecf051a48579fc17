"""Every property check of the manager's routing, in the order `meshcheck mutants routing` tries
them: the deterministic scenario first (seconds; it takes every route), the refusals scenario
(under a second: every type while each layer has a node down it does not need,
property_tests/routing/refusals.py), the pending scenario (about a second: ops left without an
answer and the answers after them, property_tests/routing/pending.py), then the free runs of the
three layers together (property_tests/routing/free_runs.py)."""

from __future__ import annotations

from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.routing.free_runs import free_runs
from meshcheck.property_tests.routing.free_runs import scenario
from meshcheck.property_tests.routing.pending import pending_scenario
from meshcheck.property_tests.routing.refusals import refusals_scenario

CHECKS: tuple[Check, ...] = (
    Check(
        "scenario",
        scenario,
        "every route taken once at level None and once at Critical: Routing.tla's invariants on "
        "every answer, and each layer's own checks",
    ),
    Check(
        "refusals",
        refusals_scenario,
        "every type with one node down in each layer that the layer does not need, and after: "
        "NoWrongRefusal (no operation refused that a healthy layer promises to serve)",
    ),
    Check(
        "pending",
        pending_scenario,
        "each consensus layer loses a quorum for one op, left without an answer, and gets it back "
        "before the next: ManagerAnswers (every answer held to its operation in a client history "
        "checked against the state machine's model)",
    ),
    Check(
        "free runs",
        free_runs,
        "mixed workloads under faults with Byzantine behaviour on and off: the routing invariants "
        "from what the submitter saw, ManagerAnswers, each layer's own checks, every op answered "
        "after the calm, NoWrongRefusal",
    ),
)
