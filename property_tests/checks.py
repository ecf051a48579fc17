"""What a property check is, for every protocol: `meshcheck mutants` runs a protocol's CHECKS
(property_tests/<protocol>/checks.py) in order against each mutant.

A check is a function `(bugs, settings) -> None` that raises `CheckFailed` when it finds a bug in
the implementation with `bugs` switched on, under the Hypothesis `settings` given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
from hypothesis import settings as Settings

from meshcheck.property_tests.failure import CheckFailed

if TYPE_CHECKING:
    from meshcheck.property_tests.harness import Harness

CheckFn = Callable[[frozenset[str], Settings], None]


@attrs.frozen
class Check:
    """`minimize`, when a check has one, makes its counterexample 1-minimal on its own: faster and
    shorter than Hypothesis's shrinking of a stateful program, which `meshcheck mutants` then skips."""

    name: str
    run: CheckFn
    what: str
    minimize: Callable[[CheckFailed, frozenset[str]], CheckFailed] | None = None


def lockstep_checks(lockstep: CheckFn, harness: Harness) -> tuple[Check, Check]:
    """A protocol's lockstep against its spec (shrunk by its harness) and the replay of its stored
    spec paths (traces/<protocol>/), the two checks that follow the spec step by step."""
    return (
        Check(
            "lockstep",
            lockstep,
            "TLC picks each step, the implementation takes it, states compared after every step",
            harness.minimize,
        ),
        Check(
            "stored traces",
            harness.stored_traces,
            f"the traces/{harness.protocol}/ corpus replayed on the implementation",
        ),
    )
