"""Leases, as etcd's (etcd.io/docs/v3.5/learning/api/, "Lease API"): a key attached to a lease
lives while the lease does. A lease granted, or kept alive, at time s with TTL T lives at least to
s + T; one whose last renewal was at time s is gone by s + T (the server revokes it and deletes
its keys). Clocks drift and servers pause, so both are checked with a stated slack, the bound
(`--clock-bound`, seconds: the size of the clock faults injected):

- vanished early: a read that found the key absent although the read ended before the lease's
  guaranteed life, less the bound: no renewal that completed before the read began can have
  lapsed yet;
- outlived: a read that found the key present although it began after the lease's latest possible
  expiry, plus the bound (every renewal invoked before the read ended, at its completion, plus the
  TTL), or after the lease was revoked;
- reappeared: a key attached to a lease read absent, then present again by a read that began after
  that one ended, with no put of the key in between (no clock excuses it: a lease once gone does
  not come back).

The format (JSON lines, one completed operation each; `time` its invocation and `ret` its
completion, in seconds on one clock, `ret` defaulting to `time`): `grant` (`lease`, `ttl`),
`keepalive` (`lease`: a renewal that succeeded), `revoke` (`lease`), `put` (`key`, `lease`: the
lease it attaches, or null) and `read` (`key`, `present`: true or false). A read concurrent with a
put of its key (or a revoke of its lease) is not judged: either answer is right.
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import events
from meshcheck.words import count as _n

FS = ("grant", "keepalive", "revoke", "put", "read")


@attrs.frozen
class Timed:
    time: float
    ret: float
    line: int
    key: Hashable = None
    lease: Hashable = None
    present: bool = False


def _timed(e: events.Event, name: str) -> Timed:
    t = events.number(e, name, "time")
    ret = events.number(e, name, "ret") if "ret" in e.fields else t
    if ret < t:
        raise e.bad(name, "ret", f"a completion ({ret}) before the invocation ({t})")
    return Timed(t, ret, int(e.line))


def check(evs: Sequence[events.Event], name: str, bound: float) -> tuple[str, bool]:
    ttl: dict[Hashable, float] = {}
    renewals: dict[Hashable, list[Timed]] = {}
    revokes: dict[Hashable, list[Timed]] = {}
    puts: dict[Hashable, list[Timed]] = {}
    reads: list[Timed] = []
    for e in evs:
        f = e.fields.get("f")
        if f not in FS:
            raise e.bad(name, "f", "expected grant, keepalive, revoke, put or read")
        op = _timed(e, name)
        if f in ("grant", "keepalive", "revoke"):
            lease = events.scalar(e, name, "lease", "a lease id")
            if f == "grant":
                if lease in ttl:
                    raise e.bad(name, "lease", f"lease {lease} granted twice")
                ttl[lease] = events.number(e, name, "ttl")
                if not ttl[lease] > 0:
                    raise e.bad(name, "ttl", "expected a TTL in seconds, more than 0")
            elif lease not in ttl:
                raise e.bad(name, "lease", f"lease {lease} was not granted before")
            (revokes if f == "revoke" else renewals).setdefault(lease, []).append(
                attrs.evolve(op, lease=lease)
            )
            continue
        key = events.scalar(e, name, "key", "a key")
        if f == "put":
            lease = e.fields.get("lease")
            if lease is not None:
                lease = events.scalar(e, name, "lease", "a lease id")
                if lease not in ttl:
                    raise e.bad(name, "lease", f"lease {lease} was not granted before")
            puts.setdefault(key, []).append(attrs.evolve(op, key=key, lease=lease))
            continue
        present = e.fields.get("present")
        if not isinstance(present, bool):
            raise e.bad(name, "present", "expected true or false")
        reads.append(attrs.evolve(op, key=key, present=present))
    if not reads:
        raise MeshcheckError(f"{name}: the history has no reads: nothing to check")
    found = events.Findings()
    judged = 0
    for r in reads:
        before = [p for p in puts.get(r.key, []) if p.ret < r.time]
        if not before or any(p.time <= r.ret and p.ret >= r.time for p in puts.get(r.key, [])):
            continue  # nothing attached yet, or a put concurrent with the read
        put = max(before, key=lambda p: p.ret)
        lease = put.lease
        if lease is None:
            continue
        gone = [v for v in revokes.get(lease, []) if v.ret < r.time]
        if any(v.time <= r.ret and v.ret >= r.time for v in revokes.get(lease, [])):
            continue
        judged += 1
        where = f"key {r.key} (lease {lease}, TTL {ttl[lease]:g} s) read"
        at = f"at {r.time:g}..{r.ret:g} (line {r.line})"
        if gone:
            if r.present:
                found.add(
                    "outlived",
                    f"{where} present {at}, after the lease was revoked (line {gone[0].line})",
                )
            continue
        held = [g for g in renewals.get(lease, []) if g.ret < r.time]
        if not r.present and held:
            last = max(held, key=lambda g: g.time)
            until = last.time + ttl[lease]
            if r.ret < until - bound:
                found.add(
                    "vanished-early",
                    f"{where} absent {at}; the renewal at {last.time:g} (line {last.line}) held it "
                    f"to {until:g}, less the bound {bound:g}",
                )
        maybe = [g for g in renewals.get(lease, []) if g.time <= r.ret]
        if r.present and maybe:
            last = max(maybe, key=lambda g: g.ret)
            latest = last.ret + ttl[lease]
            if r.time > latest + bound:
                found.add(
                    "outlived",
                    f"{where} present {at}; its last renewal (line {last.line}, done at "
                    f"{last.ret:g}) lapsed at {latest:g}, plus the bound {bound:g}",
                )
    _reappeared(reads, puts, found)
    what = (
        f"lease, {_n(len(ttl), 'lease')}, {_n(len(reads), 'read', commas=True)} "
        f"({judged:,} judged), bound {bound:g} s"
    )
    return found.render(
        name, what, "holds: no key vanished early or outlived its lease"
    ), found.holds()


def _reappeared(
    reads: Sequence[Timed], puts: dict[Hashable, list[Timed]], found: events.Findings
) -> None:
    """A leased key read absent, then present again with no put of it in between: a key whose
    lease has gone does not come back (whatever the clocks did). For each read that found the key
    present, the absent read that completed before it began and began last (the shortest gap)."""
    by_key: dict[Hashable, list[Timed]] = {}
    for r in reads:
        by_key.setdefault(r.key, []).append(r)
    for key, rs in by_key.items():
        absent = sorted((r for r in rs if not r.present), key=lambda r: r.ret)
        present = sorted((r for r in rs if r.present), key=lambda r: r.time)
        best: Timed | None = None
        k = 0
        for r2 in present:
            while k < len(absent) and absent[k].ret < r2.time:
                if best is None or absent[k].time > best.time:
                    best = absent[k]
                k += 1
            if best is None:
                continue
            r1, written = best, puts.get(key, [])
            before = [p for p in written if p.ret < r1.time]
            if not before or max(before, key=lambda p: p.ret).lease is None:
                continue  # not yet attached to a lease when it was found absent
            if any(p.time <= r2.ret and p.ret >= r1.time for p in written):
                continue  # a put in the gap may have brought it back
            found.add(
                "reappeared",
                f"key {key} read absent at {r1.time:g}..{r1.ret:g} (line {r1.line}), then "
                f"present at {r2.time:g}..{r2.ret:g} (line {r2.line}), with no put in between",
            )


def run(path: str, options: Any) -> tuple[str, bool]:
    name, evs = events.read(path)
    return check(evs, name, float(options.clock_bound))
