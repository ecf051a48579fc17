"""Long values that only grow (a Raft log, Raft's `committed`), compared and encoded cheaply.

The refinement mappings run after every action of a recorded run, and the trace recorder
(impl/sim/recorder.py) compares each new state with the last and keeps what changed. A Raft log
or the history of commits is a tuple of thousands of entries that an action extends by one:
`==` on two tuples has no shortcut for a different length (it walks the common prefix first),
and finding what a tuple gained by comparing it with the old one walks it again. So:

- `differ(a, b)` is `a != b`, with identity and lengths tried first, into functions (FrozenDict);
- whoever builds a value by extending another says so (`extended(old, new, added)`), and the
  recorder asks (`added_to(old, new)`) rather than comparing. A hint is used only for the very
  objects it names (identity), for which `new` is `old` with `added` by construction, so a stale
  or foreign hint is never wrong, only unused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value

_HINTS: dict[int, tuple[Any, Any, Any]] = {}  # id(new) -> (old, new, added); holds `new` alive
_LIMIT = 64  # hints kept at most (the recorder uses each within the step that made it)
_MISSING = object()

# Globals that keep no node's state (property_tests/restarts.py, core purity): `_HINTS` only says
# how values a node built relate, by identity; a hint is never wrong, only unused, so what a node
# does never depends on it.
PURE_GLOBALS = ("_HINTS",)


def extended(old: Any, new: Any, added: Any) -> None:
    """Say that the tuple (set) `new` is `old` with `added` appended (added)."""
    if len(_HINTS) >= _LIMIT:
        _HINTS.clear()
    _HINTS[id(new)] = (old, new, added)


def added_to(old: Any, new: Any) -> Any | None:
    """What `new` is `old` with, if an `extended` said so of these very objects; else None."""
    hint = _HINTS.get(id(new))
    if hint is not None and hint[1] is new and hint[0] is old:
        return hint[2]
    return None


def differ(a: Any, b: Any) -> bool:
    """`a != b`: the same object, tuples of different lengths and functions (FrozenDict) of
    different sizes answer at once, and a function's arguments are compared so too."""
    if a is b:
        return False
    ta = type(a)
    if ta is not type(b):
        return bool(a != b)
    if ta is tuple:
        return len(a) != len(b) or bool(a != b)
    if ta is FrozenDict:
        if len(a) != len(b):
            return True
        get = b.get
        for k, x in a.items():
            y = get(k, _MISSING)
            if x is not y and (y is _MISSING or differ(x, y)):
                return True
        return False
    return bool(a != b)


class Msgs:
    """A spec's `msgs`: every record sent, a set that only grows; `msgs()` hands it out frozen,
    made again only when it grew (the refinement mapping asks after every step)."""

    def __init__(self) -> None:
        self._msgs: set[Value] = set()
        self._frozen: frozenset[Value] = frozenset()

    def add(self, records: Iterable[Value]) -> None:
        self._msgs.update(records)

    def msgs(self) -> frozenset[Value]:
        if len(self._frozen) != len(self._msgs):
            self._frozen = frozenset(self._msgs)
        return self._frozen
