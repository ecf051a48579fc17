"""Watches, as etcd's (etcd.io/docs/v3.5/learning/api_guarantees/, "Watch APIs"): a watcher that
starts from a revision must be sent every change of its keys from that revision on, in revision
order, none skipped, none invented, none twice; across reconnects, a watcher that resumes from the
revision after the last it saw (or that one again) loses nothing.

The format (JSON lines, one object each, in the order they happened):

- `{"f": "change", "key": k, "revision": r, "type": "put", "value": v}` (or `"type": "delete"`):
  a change the store made (what the writes' responses, or a read of the store's history, say);
- `{"f": "watch", "watcher": w, "key": k, "from": r}` (or `"keys": [...]`, or `"prefix": p`):
  watcher w (re)starts from revision r, inclusive; the events after it, to its next `watch`, are
  one connection;
- `{"f": "event", "watcher": w, "key": k, "revision": r, "type": ..., "value": v}`: an event w
  was sent;
- `{"f": "progress", "watcher": w, "revision": r}` (optional): w was told it is up to date at r.

Per connection: every event matches a change of a watched key at or after `from` (else invented),
revisions never go back (out-of-order), the same change is not sent twice (duplicate), and every
change of a watched key from `from` up to the highest revision the connection reached (its last
event or progress) was sent (skipped). A reconnect whose `from` leaves changes of the watched keys
after what the previous connection reached unsent: skipped too.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import events
from meshcheck.words import count as _n

FS = ("change", "watch", "event", "progress")


@attrs.define(eq=False)
class Connection:
    """One connection of a watcher: from its `watch` line to its next; what it was sent, and the
    highest revision it reached (an event or a progress notice)."""

    watcher: Hashable
    keys: frozenset[Hashable] | None  # None: by prefix
    prefix: str | None
    start: int
    line: int
    received: list[tuple[int, Hashable, str, Hashable, int]] = attrs.field(factory=list)
    reached: int = -1

    def watches(self, key: Hashable) -> bool:
        if self.keys is not None:
            return key in self.keys
        return isinstance(key, str) and self.prefix is not None and key.startswith(self.prefix)

    def describe(self) -> str:
        what = (
            f"prefix {self.prefix!r}"
            if self.keys is None
            else ", ".join(map(str, sorted(self.keys, key=str)))
        )
        return f"watcher {self.watcher} (line {self.line}, {what} from {self.start})"


def _int(e: events.Event, name: str, field: str) -> int:
    v = e.fields.get(field)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise e.bad(name, field, "expected a revision (a whole number, 0 or more)")
    return v


def _kind(e: events.Event, name: str) -> str:
    kind = e.fields.get("type", "put")
    if kind not in ("put", "delete"):
        raise e.bad(name, "type", "expected put or delete")
    return str(kind)


def parse(
    evs: Sequence[events.Event], name: str
) -> tuple[dict[tuple[Hashable, int], tuple[str, Hashable]], list[Connection]]:
    changes: dict[tuple[Hashable, int], tuple[str, Hashable]] = {}
    conns: list[Connection] = []
    current: dict[Hashable, Connection] = {}
    for e in evs:
        f = e.fields.get("f")
        if f not in FS:
            raise e.bad(name, "f", "expected change, watch, event or progress")
        if f == "change":
            key = events.scalar(e, name, "key", "a key")
            rev = _int(e, name, "revision")
            if (key, rev) in changes:
                raise e.bad(name, "revision", f"key {key} changed twice at revision {rev}")
            changes[(key, rev)] = (_kind(e, name), events.hashable(e.fields.get("value")))
            continue
        watcher = events.scalar(e, name, "watcher", "a watcher's name")
        if f == "watch":
            keys: frozenset[Hashable] | None = None
            prefix = e.fields.get("prefix")
            if "keys" in e.fields:
                raw = e.fields["keys"]
                if not isinstance(raw, list) or not raw:
                    raise e.bad(name, "keys", "expected a list of keys")
                keys = frozenset(events.hashable(k) for k in raw)
            elif "key" in e.fields:
                keys = frozenset({events.scalar(e, name, "key", "a key")})
            elif not isinstance(prefix, str):
                raise e.bad(name, "key", "a watch names a key, keys or a prefix")
            conn = Connection(watcher, keys, prefix, _int(e, name, "from"), int(e.line))
            conns.append(conn)
            current[watcher] = conn
            continue
        if watcher not in current:
            raise e.bad(name, "watcher", f"watcher {watcher} has not started a watch")
        conn = current[watcher]
        rev = _int(e, name, "revision")
        if f == "progress":
            conn.reached = max(conn.reached, rev)
            continue
        key = events.scalar(e, name, "key", "a key")
        value = events.hashable(e.fields.get("value"))
        conn.received.append((rev, key, _kind(e, name), value, int(e.line)))
        conn.reached = max(conn.reached, rev)
    return changes, conns


def check(evs: Sequence[events.Event], name: str) -> tuple[str, bool]:
    changes, conns = parse(evs, name)
    found = events.Findings()
    revisions = sorted({rev for _, rev in changes})
    by_rev: dict[int, list[Hashable]] = {}
    for key, rev in changes:
        by_rev.setdefault(rev, []).append(key)
    last_reached: dict[Hashable, int] = {}
    for conn in conns:
        who = conn.describe()
        sent: set[tuple[Hashable, int]] = set()
        prev = -1
        for rev, key, kind, value, line in conn.received:
            where = f"line {line}"
            change = changes.get((key, rev))
            if (
                not conn.watches(key)
                or rev < conn.start
                or change is None
                or change != (kind, value)
            ):
                why = (
                    "a key it does not watch"
                    if not conn.watches(key)
                    else f"before its start {conn.start}"
                    if rev < conn.start
                    else "no such change"
                    if change is None
                    else f"the change was {change[0]} {change[1]}"
                )
                found.add("invented", f"{who} was sent {kind} {key} at {rev} ({where}): {why}")
            elif (key, rev) in sent:
                found.add("duplicate", f"{who} was sent {key} at {rev} again ({where})")
            elif rev < prev:
                found.add(
                    "out-of-order", f"{who} was sent {key} at {rev} after revision {prev} ({where})"
                )
            sent.add((key, rev))
            prev = max(prev, rev)
        lo = bisect.bisect_left(revisions, conn.start)
        hi = bisect.bisect_right(revisions, conn.reached)
        for rev in revisions[lo:hi]:
            for key in by_rev[rev]:
                if conn.watches(key) and (key, rev) not in sent:
                    found.add(
                        "skipped", f"{who} was not sent {key} at {rev} (it reached {conn.reached})"
                    )
        before = last_reached.get(conn.watcher)
        if before is not None and conn.start > before + 1:
            lo = bisect.bisect_right(revisions, before)
            hi = bisect.bisect_left(revisions, conn.start)
            for rev in revisions[lo:hi]:
                for key in by_rev[rev]:
                    if conn.watches(key):
                        found.add(
                            "skipped",
                            f"{who} resumed past {key} at {rev} (its previous connection reached "
                            f"{before})",
                        )
        covered = max(conn.reached, conn.start - 1)
        last_reached[conn.watcher] = covered if before is None else max(covered, before)
    events_sent = sum(len(c.received) for c in conns)
    watchers = len({c.watcher for c in conns})
    what = (
        f"watch, {_n(len(changes), 'change', commas=True)}, {_n(watchers, 'watcher')}, "
        f"{_n(len(conns), 'connection')}, {_n(events_sent, 'event', commas=True)}"
    )
    return found.render(name, what, "holds: every watcher saw its changes in order"), found.holds()


def run(path: str, options: Any) -> tuple[str, bool]:
    name, evs = events.read(path)
    if not parse(evs, name)[1]:
        raise MeshcheckError(f"{name}: the history has no watch: nothing to check")
    return check(evs, name)
