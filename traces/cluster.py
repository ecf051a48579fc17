"""A trace seen as a cluster: its nodes, each node's compact line, and its messages.

Protocol traces hold per-node functions (`currentTerm[s1]`, `view[r2]`) and a collection of messages
(Raft's `messages`, a bag: record -> copies; PBFT's `msgs`, the set of messages sent). Which
variables those are, and which fields of a message record name its sender, receiver and kind, is
what the protocol's display hints say (traces/hints.py); every function here takes them, and
without them uses `hints_for(trace)`. So the inspector, the timeline and the differ read every
protocol the same way, and a spec no descriptor names is shown as its variables are:

- the nodes are the domain the hinted per-node functions share (no protocol names them in the
  trace itself; a spec's `Server` constant is not in an implementation trace),
- a node's compact line is the columns the hints name (Raft: role, term, vote, log, commit index,
  the fields a reader checks first, Raft paper Figure 2),
- a message record's sender and receiver are the fields the hints name (Raft's `msource`/`mdest`;
  PBFT's `src`, and no receiver: its messages are multicast, every other node receives them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence

import attrs

from meshcheck.impl.base.text import ordered
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.traces.hints import DisplayHints
from meshcheck.traces.hints import hints_for
from meshcheck.traces.hints import over
from meshcheck.traces.hints import shared_domain

LOG_SHOWN = 6  # entries of a log shown in a compact line; a longer one shows its last ones


# ---------------------------------------------------------------------------------------------------
# Nodes and per-node variables


def nodes(trace: Trace, hints: DisplayHints | None = None) -> tuple[Value, ...]:
    """The trace's node ids (in the canonical order), or () when it holds no per-node functions.

    The domain the hinted per-node variables share in the first state (see `hints.shared_domain`).
    """
    h = hints_for(trace) if hints is None else hints
    return tuple(ordered(shared_domain(trace, h.per_node))) if h.per_node else ()


def per_node_vars(
    trace: Trace, ids: Sequence[Value], hints: DisplayHints | None = None
) -> tuple[str, ...]:
    """The hinted per-node variables that are functions over exactly the nodes in every state."""
    h = hints_for(trace) if hints is None else hints
    return over(trace, frozenset(ids), h.per_node)


# ---------------------------------------------------------------------------------------------------
# Messages


def is_message(record: Value, hints: DisplayHints) -> bool:
    return isinstance(record, FrozenDict) and any(k in record for k in hints.kind_fields)


def bag(value: Value, hints: DisplayHints) -> Counter[Value] | None:
    """A message collection as record -> copies (a set: one copy each); None if `value` is not one.

    Raft's bag is a function from records to counts, written `<<>>` (the empty function) when
    empty; PBFT's `msgs` is a set of records."""
    if isinstance(value, frozenset):
        if all(is_message(m, hints) for m in value):
            return Counter(dict.fromkeys(value, 1))
        return None
    if isinstance(value, FrozenDict):
        if not value:
            return Counter()
        if all(is_message(m, hints) and isinstance(c, int) for m, c in value.items()):
            return Counter(dict(value))
        return None
    if value == ():
        return Counter()
    return None


def message_vars(trace: Trace, hints: DisplayHints | None = None) -> tuple[str, ...]:
    """The hinted message variables that hold messages in every state, and one in some state."""
    h = hints_for(trace) if hints is None else hints
    out = []
    for v in h.messages:
        if v not in trace.vars:
            continue
        bags = [bag(s.state[v], h) for s in trace.steps]
        if all(b is not None for b in bags) and any(bags):
            out.append(v)
    return tuple(out)


def _field(record: FrozenDict, names: Iterable[str]) -> Value:
    for name in names:
        if name in record:
            return record[name]
    return None


def source(record: FrozenDict, hints: DisplayHints) -> str | None:
    s = _field(record, hints.source_fields)
    return s if isinstance(s, str) else None


def dest(record: FrozenDict, hints: DisplayHints) -> str | None:
    """The receiver; None for a multicast (a PBFT message goes to every other replica)."""
    d = _field(record, hints.dest_fields)
    return d if isinstance(d, str) else None


def kind(record: FrozenDict, hints: DisplayHints) -> str:
    k = _field(record, hints.kind_fields)
    return k if isinstance(k, str) else "message"


def involves(record: FrozenDict, node: Value, hints: DisplayHints) -> bool:
    """Whether the message is from or to `node` (a multicast is to everyone)."""
    d, s = dest(record, hints), source(record, hints)
    return s == node or d == node or (d is None and s is not None)


def brief(record: FrozenDict, hints: DisplayHints, *, width: int = 100) -> str:
    """`RequestVoteRequest s1->s2 (term=1, lastLogIndex=0, lastLogTerm=0)`: a message in a line."""
    from meshcheck.impl.base.text import format_value

    skip = {*hints.source_fields, *hints.dest_fields, *hints.kind_fields}
    rest = [k for k in record if k not in skip]
    strip = bool(rest) and all(k.startswith("m") and len(k) > 1 for k in rest)
    fields = []
    first = ("mterm", "term", "view", "seq", "req")
    for key in sorted(rest, key=lambda k: (first.index(k) if k in first else len(first), k)):
        value = record[key]
        name = key[1].lower() + key[2:] if strip else key
        if isinstance(value, tuple) and value and all(isinstance(x, FrozenDict) for x in value):
            fields.append(f"{name}={len(value)} entr{'y' if len(value) == 1 else 'ies'}")
        else:
            fields.append(f"{name}={format_value(value, width=24)}")
    s, d = source(record, hints), dest(record, hints)
    route = f" {s}->{d}" if s and d else f" {s}->*" if s else ""
    text = f"{kind(record, hints)}{route}" + (f" ({', '.join(fields)})" if fields else "")
    return text if len(text) <= width else text[: width - 3] + "..."


def change(before: Value, after: Value, hints: DisplayHints) -> tuple[list[Value], list[Value]]:
    """(records that left, records added) between two message collections, one per copy."""
    old, new = bag(before, hints) or Counter(), bag(after, hints) or Counter()
    return sorted((old - new).elements(), key=_key), sorted((new - old).elements(), key=_key)


def _key(v: Value) -> tuple[object, ...]:
    from meshcheck.impl.base.text import sort_key

    return sort_key(v)


# ---------------------------------------------------------------------------------------------------
# One node's compact line


@attrs.frozen
class Columns:
    """Which variables make up the columns of a compact line (each may be absent)."""

    role: str | None
    term: tuple[str, str] | None
    vote: tuple[str, str] | None
    log: tuple[str, str] | None
    commit: tuple[str, str] | None
    log_offset: str | None = None

    def used(self) -> frozenset[str]:
        names = [self.role] + [
            c[0] if c else None for c in (self.term, self.vote, self.log, self.commit)
        ]
        return frozenset(n for n in names if n is not None)

    def empty(self) -> bool:
        return not self.used()


def columns(node_vars: Sequence[str], hints: DisplayHints) -> Columns:
    """The hinted columns of the variables in `node_vars` (a column whose variable is absent, or
    not a function over the nodes, is left out)."""
    have = set(node_vars)

    def pick(col: tuple[str, str] | None) -> tuple[str, str] | None:
        return col if col is not None and col[0] in have else None

    return Columns(
        role=hints.role if hints.role in have else None,
        term=pick(hints.term),
        vote=pick(hints.vote),
        log=pick(hints.log),
        commit=pick(hints.commit),
        log_offset=hints.log_offset if hints.log_offset in have else None,
    )


def _entry(e: Value) -> str:
    from meshcheck.impl.base.text import format_value

    if isinstance(e, FrozenDict) and "term" in e:
        value = e.get("value", e.get("entry", ""))
        return (
            f"{format_value(e['term'])}:{format_value(value, width=12)}"
            if value != ""
            else str(e["term"])
        )
    return format_value(e, width=12)


def short_log(entries: Value, offset: int = 0) -> str:
    """`[1:NoOp 1:v1]`, the last LOG_SHOWN entries of a longer one after `...`, and a snapshot's
    offset as `3+[...]` (the entries after index 3)."""
    if not isinstance(entries, tuple):
        from meshcheck.impl.base.text import format_value

        return format_value(entries, width=30)
    shown = [_entry(e) for e in entries[-LOG_SHOWN:]]
    head = f"{offset}+" if offset else ""
    more = f"...{len(entries) - LOG_SHOWN} more " if len(entries) > LOG_SHOWN else ""
    return f"{head}[{more}{' '.join(shown)}]"


def node_fields(state: Mapping[str, Value], node: Value, cols: Columns) -> list[str]:
    """The compact line of one node, as its fields: role, `term 2`, `vote s1`, `log [...]`, ..."""
    from meshcheck.impl.base.text import format_value

    out = []
    if cols.role is not None:
        out.append(format_value(state[cols.role][node]))
    for col in (cols.term, cols.vote):
        if col is not None:
            value = state[col[0]][node]
            out.append(f"{col[1]} {'-' if value == 'None' else format_value(value, width=12)}")
    if cols.log is not None:
        snap = state.get(cols.log_offset) if cols.log_offset is not None else None
        offset = (
            snap[node] if isinstance(snap, FrozenDict) and isinstance(snap.get(node), int) else 0
        )
        out.append(f"{cols.log[1]} {short_log(state[cols.log[0]][node], offset)}")
    if cols.commit is not None:
        out.append(f"{cols.commit[1]} {format_value(state[cols.commit[0]][node], width=12)}")
    return out


# ---------------------------------------------------------------------------------------------------
# One node's view of a trace


def node_named(trace: Trace, name: str, hints: DisplayHints) -> Value:
    """The node `name` stands for (as the views print it); MeshcheckError naming the trace's nodes."""
    from meshcheck.impl.base.text import format_value

    ids = nodes(trace, hints)
    for n in ids:
        if n == name or format_value(n) == name:
            return n
    from meshcheck.impl.base.errors import MeshcheckError

    known = (
        ", ".join(format_value(n) for n in ids)
        if ids
        else "none: the trace has no per-node variables"
    )
    raise MeshcheckError(f"unknown node {name}: the trace's nodes are {known}")


def restrict(trace: Trace, node: Value, hints: DisplayHints | None = None) -> Trace:
    """The trace as `node` sees it: per-node functions keep only `node`'s key, message collections
    only the messages from or to it; other variables stay as they are."""
    h = hints_for(trace) if hints is None else hints
    ids = nodes(trace, h)
    mine = set(per_node_vars(trace, ids, h))
    boxes = set(message_vars(trace, h))

    def project(state: FrozenDict) -> FrozenDict:
        out: dict[str, Value] = {}
        for v, value in state.items():
            if v in mine:
                out[v] = FrozenDict({node: value[node]})
            elif v in boxes and isinstance(value, frozenset):
                out[v] = frozenset(m for m in value if involves(m, node, h))
            elif v in boxes:  # a bag (the empty one written <<>>): a function, empty or not
                copies = bag(value, h) or Counter()
                out[v] = FrozenDict((m, c) for m, c in copies.items() if involves(m, node, h))
            else:
                out[v] = value
        return FrozenDict(out)

    steps = tuple(attrs.evolve(s, state=project(s.state)) for s in trace.steps)
    return attrs.evolve(trace, steps=steps)
