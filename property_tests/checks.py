"""What a property check is, for every protocol: `meshcheck mutants` runs a protocol's CHECKS
(property_tests/<protocol>/checks.py) in order against each mutant.

A check is a function `(bugs, settings) -> None` that raises `CheckFailed` when it finds a bug in
the implementation with `bugs` switched on, under the Hypothesis `settings` given.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from hypothesis import settings as Settings

from meshcheck.property_tests.failure import CheckFailed

CheckFn = Callable[[frozenset[str], Settings], None]


@attrs.frozen
class Check:
    """`minimize`, when a check has one, makes its counterexample 1-minimal on its own: faster and
    shorter than Hypothesis's shrinking of a stateful program, which `meshcheck mutants` then skips."""

    name: str
    run: CheckFn
    what: str
    minimize: Callable[[CheckFailed, frozenset[str]], CheckFailed] | None = None
