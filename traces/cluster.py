"""A trace seen as a cluster: its nodes, each node's compact line, and its messages.

Protocol traces hold per-node functions (`currentTerm[s1]`, `view[r2]`) and a collection of messages
(Raft's `messages`, a bag: record -> copies; PBFT's `msgs`, the set of messages sent). The
inspector, the timeline and the differ read them the same way for every protocol:

- the nodes are the domain that most per-node functions share (no protocol names them in the trace
  itself; a spec's `Server` constant is not in an implementation trace),
- a node's compact line is its role or status, term or view, vote, log or executed history, and
  commit index or stable checkpoint, the fields a reader checks first (Raft paper, Figure 2),
- a message record's sender and receiver are its `msource`/`mdest` (Raft) or `src`/`dest` fields
  (PBFT, whose messages are multicast: no `dest`, so every other node is a receiver).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import attrs

from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.traces.itf import ordered
from meshcheck.traces.model import Step, Trace

SOURCE_FIELDS = ("msource", "src", "source")
DEST_FIELDS = ("mdest", "dest")
KIND_FIELDS = ("mtype", "type")
LOG_SHOWN = 6  # entries of a log shown in a compact line; a longer one shows its last ones


# ---------------------------------------------------------------------------------------------------
# Nodes and per-node variables


def nodes(trace: Trace) -> tuple[str, ...]:
    """The trace's node ids (sorted), or () when it holds no per-node functions.

    The domain shared by the most variables of the first state whose values are functions over
    strings; at least two variables must share it, so a lone record (`budget`) is not a cluster.
    """
    if not trace.steps:
        return ()
    counts: Counter[frozenset[str]] = Counter()
    for name in trace.vars:
        value = trace.steps[0].state[name]
        if isinstance(value, FrozenDict) and value and all(isinstance(k, str) for k in value):
            counts[frozenset(value)] += 1
    if not counts:
        return ()
    domain, count = max(counts.items(), key=lambda kv: (kv[1], len(kv[0]), sorted(kv[0])))
    return tuple(ordered(domain)) if count >= 2 else ()


def per_node_vars(trace: Trace, ids: Sequence[str]) -> tuple[str, ...]:
    """The variables that are functions over exactly the nodes in every state."""
    domain = set(ids)
    return tuple(
        v
        for v in trace.vars
        if domain
        and all(
            isinstance(s.state[v], FrozenDict) and s.state[v].keys() == domain for s in trace.steps
        )
    )


# ---------------------------------------------------------------------------------------------------
# Messages


def is_message(record: Value) -> bool:
    return isinstance(record, FrozenDict) and any(k in record for k in KIND_FIELDS)


def bag(value: Value) -> Counter[Value] | None:
    """A message collection as record -> copies (a set: one copy each); None if `value` is not one.

    Raft's bag is a function from records to counts, written `<<>>` (the empty function) when
    empty; PBFT's `msgs` is a set of records."""
    if isinstance(value, frozenset):
        if all(is_message(m) for m in value):
            return Counter(dict.fromkeys(value, 1))
        return None
    if isinstance(value, FrozenDict):
        if not value:
            return Counter()
        if all(is_message(m) and isinstance(c, int) for m, c in value.items()):
            return Counter(dict(value))
        return None
    if value == ():
        return Counter()
    return None


def message_vars(trace: Trace) -> tuple[str, ...]:
    """The variables that hold messages (in every state), and at least one message in some state."""
    out = []
    for v in trace.vars:
        bags = [bag(s.state[v]) for s in trace.steps]
        if all(b is not None for b in bags) and any(bags):
            out.append(v)
    return tuple(out)


def _field(record: FrozenDict, names: Iterable[str]) -> Value:
    for name in names:
        if name in record:
            return record[name]
    return None


def source(record: FrozenDict) -> str | None:
    s = _field(record, SOURCE_FIELDS)
    return s if isinstance(s, str) else None


def dest(record: FrozenDict) -> str | None:
    """The receiver; None for a multicast (a PBFT message goes to every other replica)."""
    d = _field(record, DEST_FIELDS)
    return d if isinstance(d, str) else None


def kind(record: FrozenDict) -> str:
    k = _field(record, KIND_FIELDS)
    return k if isinstance(k, str) else "message"


def involves(record: FrozenDict, node: str) -> bool:
    """Whether the message is from or to `node` (a multicast is to everyone)."""
    d = dest(record)
    return source(record) == node or d == node or (d is None and source(record) is not None)


def brief(record: FrozenDict, *, width: int = 100) -> str:
    """`RequestVoteRequest s1->s2 (term=1, lastLogIndex=0, lastLogTerm=0)`: a message in a line."""
    from meshcheck.traces.show import format_value

    skip = {*SOURCE_FIELDS, *DEST_FIELDS, *KIND_FIELDS}
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
    s, d = source(record), dest(record)
    route = f" {s}->{d}" if s and d else f" {s}->*" if s else ""
    text = f"{kind(record)}{route}" + (f" ({', '.join(fields)})" if fields else "")
    return text if len(text) <= width else text[: width - 3] + "..."


def change(before: Value, after: Value) -> tuple[list[Value], list[Value]]:
    """(records that left, records added) between two message collections, one per copy."""
    old, new = bag(before) or Counter(), bag(after) or Counter()
    return sorted((old - new).elements(), key=_key), sorted((new - old).elements(), key=_key)


def _key(v: Value) -> tuple[object, ...]:
    from meshcheck.traces.itf import sort_key

    return sort_key(v)


# ---------------------------------------------------------------------------------------------------
# One node's compact line

ROLE_VARS = ("role", "status", "state")
TERM_VARS = (("currentTerm", "term"), ("view", "view"), ("term", "term"))
VOTE_VARS = (("votedFor", "vote"),)
LOG_VARS = (("log", "log"), ("executed", "exec"))
COMMIT_VARS = (("commitIndex", "commit"), ("stable", "stable"))


@attrs.frozen
class Columns:
    """Which variables make up the columns of a compact line (each may be absent)."""

    role: str | None
    term: tuple[str, str] | None
    vote: tuple[str, str] | None
    log: tuple[str, str] | None
    commit: tuple[str, str] | None

    def used(self) -> frozenset[str]:
        names = [self.role] + [
            c[0] if c else None for c in (self.term, self.vote, self.log, self.commit)
        ]
        return frozenset(n for n in names if n is not None)


def columns(node_vars: Sequence[str]) -> Columns:
    have = set(node_vars)

    def pick(options: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
        return next((o for o in options if o[0] in have), None)

    return Columns(
        role=next((r for r in ROLE_VARS if r in have), None),
        term=pick(TERM_VARS),
        vote=pick(VOTE_VARS),
        log=pick(LOG_VARS),
        commit=pick(COMMIT_VARS),
    )


def _entry(e: Value) -> str:
    from meshcheck.traces.show import format_value

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
        from meshcheck.traces.show import format_value

        return format_value(entries, width=30)
    shown = [_entry(e) for e in entries[-LOG_SHOWN:]]
    head = f"{offset}+" if offset else ""
    more = f"...{len(entries) - LOG_SHOWN} more " if len(entries) > LOG_SHOWN else ""
    return f"{head}[{more}{' '.join(shown)}]"


def node_fields(state: Mapping[str, Value], node: str, cols: Columns) -> list[str]:
    """The compact line of one node, as its fields: role, `term 2`, `vote s1`, `log [...]`, ..."""
    from meshcheck.traces.show import format_value

    out = []
    if cols.role is not None:
        out.append(format_value(state[cols.role][node]))
    for col in (cols.term, cols.vote):
        if col is not None:
            value = state[col[0]][node]
            out.append(f"{col[1]} {'-' if value == 'None' else format_value(value, width=12)}")
    if cols.log is not None:
        snap = state.get("snapshotIndex")
        offset = (
            snap[node] if isinstance(snap, FrozenDict) and isinstance(snap.get(node), int) else 0
        )
        out.append(f"{cols.log[1]} {short_log(state[cols.log[0]][node], offset)}")
    if cols.commit is not None:
        out.append(f"{cols.commit[1]} {format_value(state[cols.commit[0]][node], width=12)}")
    return out


# ---------------------------------------------------------------------------------------------------
# One node's view of a trace


def restrict(trace: Trace, node: str) -> Trace:
    """The trace as `node` sees it: per-node functions keep only `node`'s key, message collections
    only the messages from or to it; other variables stay as they are."""
    ids = nodes(trace)
    if node not in ids:
        from meshcheck.impl.base.errors import MeshcheckError

        known = ", ".join(ids) if ids else "none: the trace has no per-node variables"
        raise MeshcheckError(f"unknown node {node}: the trace's nodes are {known}")
    mine = set(per_node_vars(trace, ids))
    boxes = set(message_vars(trace))

    def project(state: FrozenDict) -> FrozenDict:
        out: dict[str, Value] = {}
        for v, value in state.items():
            if v in mine:
                out[v] = FrozenDict({node: value[node]})
            elif v in boxes and isinstance(value, frozenset):
                out[v] = frozenset(m for m in value if involves(m, node))
            elif v in boxes:  # a bag (the empty one written <<>>): a function, empty or not
                copies = bag(value) or Counter()
                out[v] = FrozenDict((m, c) for m, c in copies.items() if involves(m, node))
            else:
                out[v] = value
        return FrozenDict(out)

    steps = tuple(attrs.evolve(s, state=project(s.state)) for s in trace.steps)
    return attrs.evolve(trace, steps=steps)


def acts(step: Step, node: str) -> bool:
    """Whether `node` is the one acting in `step` (its `i` parameter, or the implementation's node)."""
    return step.params.get("i") == node or step.meta.get("node") == node
