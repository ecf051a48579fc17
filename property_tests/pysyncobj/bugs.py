"""Bugs injected into PySyncObj at run time: each replaces one of its methods (by monkeypatching
the class attribute while a run lasts), never a copy of its code, so that the adapter path can be
shown to catch a broken implementation (property_tests/pysyncobj/test_free_runs.py).

The methods are PySyncObj's own, reached under their mangled names (`SyncObj.__onMessageReceived`
is the attribute `_SyncObj__onMessageReceived`); each replacement wraps the original and changes
one thing.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

from pysyncobj import SyncObj

from meshcheck.impl.base.values import FrozenDict

BUGS: Mapping[str, str] = {
    "vote_ignores_log": "a vote is granted without the candidate's log being up to date "
    "(section 5.4.1: the request's last log term and index read as the highest possible)",
    "vote_twice": "a node forgets whom it voted for before each vote request, so it can vote "
    "twice in one term (section 5.2, Figure 2: votedFor)",
    "keep_conflicting_suffix": "a follower never deletes the entries after a conflict, appending "
    "the leader's entries after them (Figure 2, AppendEntries receiver rule 3)",
}

_RECEIVE = "_SyncObj__onMessageReceived"
_DELETE_FROM = "_SyncObj__deleteEntriesFrom"


def _vote_ignores_log(original: Callable[..., Any]) -> Callable[..., Any]:
    def receive(self: Any, node: Any, message: Any) -> Any:
        if message.get("type") == "request_vote":
            message = FrozenDict({**message, "last_log_term": 10**9, "last_log_index": 10**9})
        return original(self, node, message)

    return receive


def _vote_twice(original: Callable[..., Any]) -> Callable[..., Any]:
    def receive(self: Any, node: Any, message: Any) -> Any:
        if message.get("type") == "request_vote" and self._SyncObj__raftState == 0:
            self._SyncObj__votedForNodeId = None
        return original(self, node, message)

    return receive


def _keep_suffix(_original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_from(self: Any, from_index: int) -> None:
        return None

    return delete_from


_PATCHES: Mapping[str, tuple[str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = {
    "vote_ignores_log": (_RECEIVE, _vote_ignores_log),
    "vote_twice": (_RECEIVE, _vote_twice),
    "keep_conflicting_suffix": (_DELETE_FROM, _keep_suffix),
}


@contextmanager
def injected(bugs: frozenset[str]) -> Iterator[None]:
    """PySyncObj with `bugs` switched on while the block runs (every SyncObj in the process)."""
    unknown = sorted(bugs - set(BUGS))
    if unknown:
        raise ValueError(f"no PySyncObj bug {', '.join(unknown)} (known: {', '.join(BUGS)})")
    saved: list[tuple[str, Any]] = []
    try:
        for bug in sorted(bugs):
            name, make = _PATCHES[bug]
            original = getattr(SyncObj, name)
            saved.append((name, original))
            setattr(SyncObj, name, make(original))
        yield
    finally:
        for name, original in reversed(saved):
            setattr(SyncObj, name, original)
