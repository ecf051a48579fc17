"""A stream (or a queue every consumer reads whole): messages published with unique ids, consumed
and acknowledged. What must hold:

- no acknowledged publish lost: every message whose publish completed ok is in every node's final
  read-back of the stream (`"f": "read"`, one per node, its process naming the node);
- one total order: the order in which consumers and read-backs saw the messages (a message's first
  delivery to each) is one order for all: no two see two messages in opposite orders, nor three
  in a cycle (a before b, b before c, c before a). Found as a cycle of the graph whose edges are
  the messages each observer saw one right after the other (traces/history/cycles.py);
- nothing invented (a delivered id never published), no failed publish delivered, and nothing
  delivered or read back by an operation that completed before the message's publish was invoked;
- no duplicates (a message delivered twice to one consumer, or twice in a read-back), unless the
  history declares at-least-once delivery (a first line `{"delivery": "at-least-once"}`): then
  they are counted, not wrong;
- an acknowledgement only of a message the consumer was delivered before it acknowledged it.

The format (JSON lines, each operation an invocation and its completion): `publish` (value: the
id), `consume` (the completion's value: the ids delivered, in order), `ack` (value: an id or a
list of them), `read` (the completion's value: the whole stream as a node holds it).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import cycles
from meshcheck.traces.history import events
from meshcheck.traces.history import losses_stream
from meshcheck.traces.history import stream_models
from meshcheck.words import count as _n

DELIVERY = ("exactly-once", "at-least-once")


def _ids(c: events.Call, name: str, value: Any) -> list[Hashable]:
    items = value if isinstance(value, list) else [value]
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise c.event.bad(name, "value", "expected message ids (numbers or strings)")
    return list(items)


def check(evs: Sequence[events.Event], name: str) -> tuple[str, bool]:
    """The history judged as its delivery declares: duplicates allowed under at-least-once."""
    found, delivery, what, account = examine(evs, name)
    allowed = ("duplicate",) if delivery == "at-least-once" else ()
    text = found.render(name, f"stream, {delivery}, {what}", "holds: one order, nothing lost",
                        allowed=allowed)  # fmt: skip
    return text + account, found.holds(allowed)


def judge(evs: Sequence[events.Event], name: str, model: str) -> tuple[str, bool, set[str]]:
    """The history judged against a model of stream_models.py (whatever its delivery line
    declares): the report, whether it holds, and the kinds of finding the checker found (what
    the other models are judged by, stream_models.holds)."""
    found, _, what, account = examine(evs, name)
    allowed = tuple(k for k in found.by_kind if k not in stream_models.MODELS[model])
    text = found.render(name, f"stream, judged as {model}, {what}", f"holds: {model}",
                        allowed=allowed)  # fmt: skip
    return text + account, found.holds(allowed), set(found.by_kind)


def examine(evs: Sequence[events.Event], name: str) -> tuple[events.Findings, str, str, str]:
    """What the checker finds in the history (the module's docstring), every kind whatever the
    delivery declared: the findings, the delivery declared, what was checked (its publishes,
    consumers and read-backs, said) and the account of the losses."""
    delivery = "exactly-once"
    body = []
    for e in evs:
        if "delivery" in e.fields and "process" not in e.fields:
            if e.fields["delivery"] not in DELIVERY:
                raise e.bad(name, "delivery", "expected exactly-once or at-least-once")
            delivery = e.fields["delivery"]
        else:
            body.append(e)
    calls = events.pair(body, name, ("publish", "consume", "ack", "read"))
    for c in calls:  # the nodes named are names (a report names them): else one line, exit 2
        events.where(c, name)
    found = events.Findings()
    published: dict[Hashable, events.Call] = {}
    for c in calls:
        if c.f != "publish":
            continue
        mid = c.invoked
        if isinstance(mid, bool) or not isinstance(mid, int | str):
            raise c.event.bad(name, "value", "a publish carries one message id")
        if mid in published:
            raise c.event.bad(name, "value", f"id {mid} published twice: ids must be unique")
        published[mid] = c
    for c in calls:  # nothing is seen before its publish began
        if c.f in ("consume", "read") and c.status == "ok" and isinstance(c.value, list):
            for m in dict.fromkeys(_ids(c, name, c.value)):
                p = published.get(m)
                if p is not None and c.ret < p.call:
                    found.add(
                        "delivered-before-publish",
                        f"{c.f} by {c.process} ({events.span(c.call, c.ret)}) saw {m}, whose "
                        f"publish was invoked after it completed ({events.span(p.call, p.ret)})",
                    )
    # what each observer saw, in order: consumers' deliveries, and each node's read-back
    seen: dict[str, list[Hashable]] = {}
    reads: dict[str, list[Hashable]] = {}
    first: dict[tuple[Hashable, Hashable], float] = {}  # (consumer, id) -> first delivered
    for c in calls:
        if c.f == "consume" and c.status == "ok":
            for m in _ids(c, name, c.value or []):
                first.setdefault((c.process, m), c.ret)
    for c in calls:
        if c.f == "consume" and c.status == "ok":
            seen.setdefault(f"consumer {c.process}", []).extend(_ids(c, name, c.value or []))
        elif c.f == "read" and c.status == "ok":
            if not isinstance(c.value, list):
                raise c.event.bad(
                    name, "value", "a read-back's completion holds the stream, a list"
                )
            node = f"read-back of {c.process}"
            reads[node] = _ids(c, name, c.value)
            seen[node] = reads[node]
        elif c.f == "ack":
            for m in _ids(c, name, c.invoked):
                if not first.get((c.process, m), c.call) < c.call:
                    found.add(
                        "ack-undelivered",
                        f"consumer {c.process} acknowledged {m} ({events.span(c.call, c.ret)}) "
                        "before it was delivered",
                    )
    for who, ms in seen.items():
        counts: dict[Hashable, int] = {}
        for m in ms:
            counts[m] = counts.get(m, 0) + 1
            if m not in published:
                if counts[m] == 1:
                    found.add("invented", f"{who} saw {m}, which nobody published")
            elif published[m].status == "fail" and counts[m] == 1:
                found.add("failed-publish-delivered", f"{who} saw {m}, whose publish failed")
        for m, n in counts.items():
            if n > 1:
                found.add("duplicate", f"{who} saw {m} {n} times")
    # one finding a message (its count is how many acknowledged messages were lost), naming every
    # node whose read-back lacks it
    held = {node: set(ms) for node, ms in reads.items()}
    for m, c in published.items():
        missing = [node for node, there in held.items() if c.status == "ok" and m not in there]
        if missing:
            nodes = ", ".join(node.removeprefix("read-back of ") for node in missing)
            at = events.where(c, name)  # on the node that served it (asked another)
            found.add(
                "lost",
                f"{m} (published ok by {c.process}{' ' + at if at else ''}, "
                f"{events.span(c.call, c.ret)}) is not in the read-back of {nodes} "
                f"({len(missing)} of {len(held)})",
            )
    _order(seen, found)
    ok_publishes = sum(1 for c in published.values() if c.status == "ok")
    what = (
        f"{_n(len(published), 'publish', 'publishes', commas=True)} "
        f"({ok_publishes:,} ok), {_n(len(seen) - len(reads), 'consumer')}, "
        f"{_n(len(reads), 'read-back')}"
        + ("" if reads else ": no read-back, so loss is not checked")
    )
    account = losses_stream.render(losses_stream.count(calls))  # the same losses, counted
    return found, delivery, what, account


def _order(seen: dict[str, list[Hashable]], found: events.Findings) -> None:
    number: dict[Hashable, int] = {}
    for ms in seen.values():
        for m in ms:
            number.setdefault(m, len(number))
    names = list(number)
    graph = cycles.Graph(len(number))
    who: dict[tuple[int, int], str] = {}
    for observer, ms in seen.items():
        first: list[Hashable] = []
        met: set[Hashable] = set()
        for m in ms:
            if m not in met:
                met.add(m)
                first.append(m)
        for a, b in itertools.pairwise(first):
            graph.add(number[a], number[b], 1)
            who.setdefault((number[a], number[b]), observer)
    for comp in graph.components(1):
        cycle = graph.shortest_cycle(comp, 1, 1)
        if cycle is None:
            continue
        steps = "; ".join(f"{names[u]} before {names[v]} ({who[(u, v)]})" for u, v, _ in cycle)
        found.add("order", f"no one order: {steps}")


def run(path: str, options: Any) -> tuple[str, bool]:
    """The history at `path` checked as its delivery line declares, or, with `--consistency`
    naming a stream model (`options.consistency`, stream_models.py), judged against that model."""
    name, evs = events.read(path)
    if not any("process" in e.fields for e in evs):
        raise MeshcheckError(f"{name}: the history has no operations: nothing to check")
    model = getattr(options, "consistency", "")
    if model in stream_models.MODELS:
        text, holds, _ = judge(evs, name, model)
        return text, holds
    return check(evs, name)
