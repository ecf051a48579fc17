"""Probes: a protocol core says "this rare thing just happened here" (`hit`), and coverage counts it.

Most named rare conditions of a protocol (meshcheck/coverage.py) are read off the spec-level
abstract state, step by step. A few are only visible inside a core: a request that arrives again
after it was executed (PBFT section 4.1: the replica only re-sends its reply, and the abstract
state does not change), a switch that leaves an operation in flight. The core calls `hit` at the
one place the condition is true, as a mutant switch sits at the one place its rule lives.

Nothing is kept unless a coverage recorder listens (`listen`): a probe costs one global lookup.
"""

from __future__ import annotations

from collections import Counter

_hits: Counter[tuple[str, str]] | None = None

# Globals that keep no node's state (property_tests/restarts.py, core purity): `_hits` is coverage
# instrumentation, written by cores and read only by the coverage recorder (meshcheck/coverage.py).
PURE_GLOBALS = ("_hits",)


def hit(protocol: str, condition: str) -> None:
    """The rare condition `condition` of `protocol` happened (counted only while listened to)."""
    if _hits is not None:
        _hits[(protocol, condition)] += 1


def listen() -> None:
    """Start counting (idempotent: counts so far are kept)."""
    global _hits
    if _hits is None:
        _hits = Counter()


def drain() -> Counter[tuple[str, str]]:
    """The hits since the last drain (empty when nobody listens)."""
    if _hits is None:
        return Counter()
    found = Counter(_hits)
    _hits.clear()
    return found


def counts() -> Counter[tuple[str, str]]:
    """The hits since the last drain, left in place (empty when nobody listens)."""
    return Counter(_hits) if _hits is not None else Counter()


def listening() -> bool:
    return _hits is not None


def stop() -> None:
    global _hits
    _hits = None
