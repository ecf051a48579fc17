"""Tests moved from `make test` to `make test-all`, each naming the test that stays for it.

`make test` keeps one test of each kind of costly check (a cluster of real processes of one system,
a whole `meshcheck verify` run, a mutant hunted by search) and hands the others to `make test-all`
(the `slow` marker). A test leaves with `@pytest.mark.moved(stand_in=..., why=...)`:

- `stand_in` is the node id (or a prefix of node ids: a test with all its parameters) of the test
  that stays in `make test` and catches what the moved one catches: the same system started the
  same way, the same fault injector, the same mutant killed by a cheaper check;
- `why` says what the two share, for the reader deciding whether that still holds.

`apply` (called from tests/conftest.py before `-m` deselects) marks each moved test `slow`, and
stops the run with one line if a stand-in names no collected test, or names one that is itself
slow or moved: a stand-in that was renamed, deleted or moved too would silently leave a kind of
check with no test in `make test`. A stand-in in a file this run did not collect is not judged
(`pytest tests/test_one.py` runs without the other files).
"""

from __future__ import annotations

import pytest


def _stays(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is None and item.get_closest_marker("moved") is None


def apply(items: list[pytest.Item]) -> None:
    by_id = {item.nodeid: item for item in items}
    files = {nodeid.split("::", 1)[0] for nodeid in by_id}
    problems: list[str] = []
    for item in items:
        marker = item.get_closest_marker("moved")
        if marker is None:
            continue
        stand_in = marker.kwargs.get("stand_in", "")
        why = marker.kwargs.get("why", "")
        if not stand_in or not why:
            problems.append(f"{item.nodeid}: moved needs stand_in= and why=")
            continue
        if stand_in.split("::", 1)[0] in files:
            matches = [
                i for nid, i in by_id.items() if nid == stand_in or nid.startswith(stand_in + "[")
            ]
            if not matches:
                problems.append(f"{item.nodeid}: its stand-in {stand_in} is no test")
            elif not all(_stays(i) for i in matches):
                problems.append(f"{item.nodeid}: its stand-in {stand_in} is not in make test")
        item.add_marker(pytest.mark.slow)
    if problems:
        raise pytest.UsageError("; ".join(problems))
