"""What a stream history lost (traces/history/stream.py), in the words and the table of
traces/history/losses.py: Jepsen's counts for a queue (jepsen-io/jepsen, jepsen/src/jepsen/
checker.clj, `total-queue`: lost, unexpected, duplicated, recovered) brought to the stream
checker's own notion of loss, which they neither widen nor narrow.

- acknowledged: the publishes that completed ok;
- lost: an acknowledged publish missing from a node's final read-back of the stream, as the
  stream checker's `lost` finding has it (one a message, named with the first node whose
  read-back lacks it and how many do). Without a read-back loss is not checked: none is counted,
  and the table says so;
- recovered: a publish whose outcome is unknown (info) that a consumer was delivered or a
  read-back holds;
- unexpected: a message a consumer was delivered or a read-back holds that no publish invoked
  before that operation completed could have put: never published, its publish failed, or begun
  only later; counted once, named with the first operation that saw it;
- duplicated: a message one consumer was delivered more than once (across its consumes), or one
  read-back holds twice; counted once, named with the first observer that saw it again.

O(the ids delivered and read back + publishes).
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.traces.history import events
from meshcheck.traces.history import losses
from meshcheck.traces.history import reader

READ = "read-back of "


@attrs.frozen
class Lost:
    publish: events.Call
    missing: tuple[str, ...]  # the nodes whose read-back lacks it
    of: int  # how many read-backs there are


@attrs.frozen
class Seen:
    """A message an operation saw: unexpected, or again (`times` the observer's count)."""

    call: events.Call
    message: Hashable
    times: int = 1


@attrs.frozen
class Losses:
    acknowledged: int
    lost: tuple[Lost, ...]
    indeterminate: int
    recovered: int
    unexpected: tuple[Seen, ...]
    duplicated: tuple[Seen, ...]
    read_back: bool  # whether any node's stream was read back (else loss is not checked)


def _ids(value: Any) -> list[Hashable]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def count(calls: Sequence[events.Call]) -> Losses:
    """The counts of a stream history's paired calls (the module's docstring), read after the
    stream checker has validated them."""
    with reader.bulk():  # a tuple a delivery: none in a cycle
        return _count(calls)


def _count(calls: Sequence[events.Call]) -> Losses:
    published: dict[Hashable, events.Call] = {
        c.invoked: c for c in calls if c.f == "publish" and c.status != "fail"
    }
    observed = [c for c in calls if c.f in ("consume", "read") and c.status == "ok"]
    held: dict[str, set[Hashable]] = {}
    times: dict[tuple[str, Hashable], int] = {}  # (observer, message) -> how often seen
    unexpected: dict[Hashable, Seen] = {}
    duplicated: dict[Hashable, Seen] = {}
    seen: set[Hashable] = set()
    for c in sorted(observed, key=lambda c: (c.call, c.index)):
        # a consumer's deliveries add up over its consumes; a read-back stands alone
        who = f"{READ}{c.process}" if c.f == "read" else f"consumer {c.process}"
        ms = _ids(c.value)
        if c.f == "read":
            held[who] = set(ms)
            who = f"{c.index}"
        seen.update(ms)
        for m in ms:
            n = times[(who, m)] = times.get((who, m), 0) + 1
            if n == 2 and m not in duplicated:
                duplicated[m] = Seen(c, m, 2)
            p = published.get(m)
            if (p is None or not p.call < c.ret) and m not in unexpected:
                unexpected[m] = Seen(c, m)
    lost = []
    for c in calls:
        if c.f == "publish" and c.status == "ok":
            missing = tuple(
                n.removeprefix(READ) for n, there in held.items() if c.invoked not in there
            )
            if missing:
                lost.append(Lost(c, missing, len(held)))
    indeterminate = [c for c in published.values() if c.status == "info"]
    return Losses(
        sum(1 for c in published.values() if c.status == "ok"),
        tuple(lost),
        len(indeterminate),
        sum(1 for c in indeterminate if c.invoked in seen),
        tuple(unexpected.values()),
        tuple(duplicated.values()),
        bool(held),
    )


def read(path: str) -> Losses:
    """The counts of the stream history at `path` (the stream checker's format)."""
    name, evs = events.read(path)
    body = [e for e in evs if "process" in e.fields]
    return count(events.pair(body, name, ("publish", "consume", "ack", "read")))


def _span(c: events.Call) -> str:
    return events.span(c.call, c.ret)


def account(found: Losses) -> losses.Account:
    """The table of traces/history/losses.py: publishes acknowledged, lost, recovered; messages
    unexpected and duplicated; each named with its process and the history's lines."""

    def lost(x: Lost) -> str:
        p = x.publish
        nodes = ", ".join(map(str, x.missing))
        at = events.where(p, "the history")  # the stream checker read the file's name first
        return (
            f"{p.process} published {p.invoked!r}{' ' + at if at else ''} ({_span(p)}); not in "
            f"the read-back of {nodes} ({len(x.missing)} of {x.of})"
        )

    def unexpected(x: Seen) -> str:
        return (
            f"{x.call.f} by {x.call.process} ({_span(x.call)}) saw {x.message!r}, which no "
            "publish could have put"
        )

    def duplicated(x: Seen) -> str:
        who = "read-back" if x.call.f == "read" else "consumer"
        return f"{who} {x.call.process} saw {x.message!r} again ({x.call.f}, {_span(x.call)})"

    return losses.Account(
        "publishes",
        found.acknowledged,
        losses.named(found.lost, lost),
        found.indeterminate,
        found.recovered,
        losses.named(found.unexpected, unexpected),
        "message",
        losses.named(found.duplicated, duplicated),
        "" if found.read_back else "no read-back: loss not checked",
        found.read_back,
    )


def render(found: Losses) -> str:
    """The account as `meshcheck history check` prints it (losses.py's Account)."""
    return account(found).render()
