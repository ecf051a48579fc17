"""A lock whose holders carry fencing tokens (the lock's revision, as etcd's lock API returns in
its key's create revision), and the register it protects, which rejects a write whose token is
smaller than one it accepted (Kleppmann, "How to do distributed locking", 2016). Two questions,
answered separately:

- mutual exclusion: did two holders hold the lock at once? A holder holds from its acquire's
  completion to its release's invocation (or the end of the history): two such spans that
  overlap are reported, with the two holders;
- fencing: did the register stay safe? An accepted (ok) write whose token is smaller than that of
  a write accepted before it was invoked means fencing failed. Beside it, the tokens themselves:
  two acquires given one token, or an acquire invoked after another completed given a smaller one.

Fencing exists so that overlapping holders (a paused process, a lapsed lease) cannot corrupt the
register: a history with overlaps and safe fencing says so in its report. Either failure exits 1.

The format (JSON lines, Jepsen's invocations and completions; times are lines): `acquire` (its ok
completion's value: the token), `release`, `write` (value `[token, value]`; ok: the register
accepted it, fail: rejected).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import events
from meshcheck.words import count as _n


def _token(c: events.Call, name: str, value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise c.event.bad(name, "value", f"expected {what}")
    return value


def check(calls: Sequence[events.Call], name: str) -> tuple[str, bool]:
    found = events.Findings()
    # holders: (from, to, process, token)
    holds: list[tuple[float, float, Hashable, int]] = []
    acquired: list[tuple[events.Call, int]] = []
    holding: dict[Hashable, tuple[float, int]] = {}
    for c in calls:
        if c.f == "acquire" and c.status == "ok":
            token = _token(
                c, name, c.value, "the token (a whole number) on the acquire's completion"
            )
            acquired.append((c, token))
            holding[c.process] = (c.ret, token)
        elif c.f == "release" and c.process in holding:
            start, token = holding.pop(c.process)
            holds.append((start, c.call, c.process, token))
    holds.extend((start, math.inf, p, token) for p, (start, token) in holding.items())
    holds.sort(key=lambda h: h[0])
    widest: tuple[float, float, Hashable, int] | None = None
    for h in holds:
        if widest is not None and h[0] < widest[1]:
            found.add(
                "overlap",
                f"process {h[2]} (token {h[3]}) held the lock from line {int(h[0])} while "
                f"process {widest[2]} (token {widest[3]}) held it from line {int(widest[0])}"
                + ("" if widest[1] == math.inf else f" to line {int(widest[1])}"),
            )
        if widest is None or h[1] > widest[1]:
            widest = h
    tokens: dict[int, events.Call] = {}
    for c, token in acquired:
        if token in tokens:
            other = tokens[token]
            found.add(
                "duplicate-token",
                f"token {token} given to process {other.process} ({events.span(other.call, other.ret)}) "
                f"and to process {c.process} ({events.span(c.call, c.ret)})",
            )
        tokens.setdefault(token, c)
    _later_smaller(
        [(c.call, c.ret, t, c) for c, t in acquired],
        found,
        "token-regressed",
        "acquire",
        "given",
    )
    writes = []
    for c in calls:
        if c.f == "write":
            value = c.invoked
            if not (isinstance(value, list) and len(value) == 2):
                raise c.event.bad(name, "value", "expected [token, value] for a write")
            token = _token(c, name, value[0], "[token, value] with a whole-number token")
            if c.status == "ok":
                writes.append((c.call, c.ret, token, c))
    _later_smaller(writes, found, "stale-write-accepted", "write", "accepted")
    overlaps = found.count("overlap")
    fencing = not any(
        k in found.by_kind for k in ("stale-write-accepted", "token-regressed", "duplicate-token")
    )
    what = (
        f"fenced-lock, {_n(len(acquired), 'acquire', commas=True)}, "
        f"{_n(len(writes), 'write', commas=True)} accepted; "
        f"mutual exclusion: {'held' if not overlaps else 'no (' + _n(overlaps, 'overlap') + ')'}; "
        f"fencing: {'held' if fencing else 'failed'}"
    )
    return found.render(name, what, "holds"), found.holds()


def _later_smaller(
    ops: list[tuple[float, float, int, events.Call]],
    found: events.Findings,
    kind: str,
    f: str,
    verb: str,
) -> None:
    """An op with a smaller token than one that completed before it was invoked."""
    by_ret = sorted(ops, key=lambda o: o[1])
    rets = [o[1] for o in by_ret]
    best: list[tuple[int, events.Call]] = []  # running maximum of tokens by completion
    for _, _, token, c in by_ret:
        best.append((token, c) if not best or token > best[-1][0] else best[-1])
    for call, ret, token, c in sorted(ops, key=lambda o: o[0]):
        n = bisect.bisect_left(rets, call)
        if n and best[n - 1][0] > token:
            top, other = best[n - 1]
            found.add(
                kind,
                f"{f} with token {token} by process {c.process} ({events.span(call, ret)}) "
                f"{verb} after one with token {top} by process {other.process} "
                f"({events.span(other.call, other.ret)})",
            )


def run(path: str, options: Any) -> tuple[str, bool]:
    name, evs = events.read(path)
    calls = events.pair(evs, name, ("acquire", "release", "write"))
    if not calls:
        raise MeshcheckError(f"{name}: the history has no operations: nothing to check")
    return check(calls, name)
