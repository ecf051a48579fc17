"""What the cores' configurations share: converters for their fields, and the check of the mutants
a configuration switches on against its protocol's catalogue (impl/*/mutants.py)."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping

from meshcheck.impl.base.errors import ImplError


def ids(values: Iterable[str]) -> tuple[str, ...]:
    """Node ids in the order given (a converter: any iterable becomes a tuple)."""
    return tuple(values)


def name_set(values: Iterable[str], *, field: str, what: str) -> frozenset[str]:
    """`values` as a set, refusing a lone string (whose characters would be taken for names)."""
    if isinstance(values, str):
        raise ImplError(f"{field} must be {what}, not the string {values!r}")
    return frozenset(values)


def bug_set(bugs: Iterable[str]) -> frozenset[str]:
    """A configuration's `bugs` converter."""
    return name_set(bugs, field="bugs", what="a set of mutant names")


def check_bugs(bugs: frozenset[str], known: Mapping[str, str], protocol: str) -> None:
    """Refuse a mutant name that is not in the protocol's catalogue `known`."""
    unknown = bugs - known.keys()
    if unknown:
        raise ImplError(
            f"unknown {protocol} mutant {', '.join(sorted(unknown))} (known: {', '.join(known)})"
        )
