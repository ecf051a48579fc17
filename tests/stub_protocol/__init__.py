"""The registry tests' stub protocol: a two-action spec (Toy.tla, one model) and stub refs for the
commands to find (tests/test_registry.py builds its descriptor)."""

from __future__ import annotations

from typing import Any

from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.failure import CheckFailed

BUGS = {"stuck": "the flag is never cleared", "harmless": "changes nothing"}


def _first(bugs: frozenset[str], settings: Any) -> None:
    if "stuck" in bugs:
        raise CheckFailed("the flag stays set", steps=1)


CHECKS = (Check("first", _first, "fails when the flag sticks"),)


def prove() -> list[Any]:
    return []
