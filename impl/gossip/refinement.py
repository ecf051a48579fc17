"""The refinement mapping of a gossip cluster to Gossip.tla's variables, in one module.

    alive     the members up: up in the simulator and in the cluster (`status` IN)
    crashed   the members down (they restart as members: their status is persisted)
    entries   [Node -> [Key -> [version |-> v, origin |-> o, value |-> x] or Nil]]: per node, per
              key of the model's `keys`, the entry held (a node down holds what it restarts with:
              its own writes)
    own       the same shape: each node's own latest write per key (persisted)
    members   [Node -> SUBSET Node]: each live member's view but itself; {} for a node not live
    msgs      the bag (record -> count) of Push and Pull messages in flight, `()` when empty; the
              failure detector's bare heartbeats (`Beat`) are not Gossip.tla's
    cut       the side of a partition without the first seed ({} when healed)
    written   the set of [key, version, origin, value] records every Update wrote (history)
    budget    what is left of the model's bounds: a ghost no node holds, the model's constants
              (`Budget`, large by default) less what the run spent (`Spent`, counted by the
              simulator plug-in as the faults happen), as impl/raft/refinement.py does

Messages:
    [type |-> "push", from |-> j, to |-> i, entries |-> [k |-> record]]
    [type |-> "pull", from |-> j, to |-> i, digest |-> [k |-> <<version, origin, value>>]]

An empty function (an empty digest, an empty bag) is `()`, as TLC's values come to Python
(specs/Gossip.md).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.messages import Beat
from meshcheck.impl.gossip.messages import Pull
from meshcheck.impl.gossip.messages import Push
from meshcheck.impl.gossip.node import IN
from meshcheck.impl.gossip.node import GossipNode

VARIABLES: tuple[str, ...] = (
    "alive",
    "crashed",
    "entries",
    "own",
    "members",
    "msgs",
    "cut",
    "written",
    "budget",
)
NIL = "Nil"
SPEC_MESSAGES = frozenset({"push", "pull"})
LARGE = 1_000_000


@attrs.frozen
class Budget:
    """The model's bounds (Gossip.tla's MaxFaults, MaxLosses, MaxDuplicates, MaxCrashes,
    MaxPartitions, MaxChurn): large by default, a model's when a run is checked against it."""

    fault: int = LARGE
    loss: int = LARGE
    duplicate: int = LARGE
    crash: int = LARGE
    partition: int = LARGE
    churn: int = LARGE


@attrs.define
class Spent:
    """What a run spent of each budget: losses of deliverable messages (one the network could not
    deliver is lost at no cost), duplicates, crashes of members, partitions, joins and leaves."""

    loss: int = 0
    duplicate: int = 0
    crash: int = 0
    partition: int = 0
    churn: int = 0


def budget_of(budget: Budget, spent: Spent) -> FrozenDict:
    faults = spent.loss + spent.duplicate + spent.crash + spent.partition
    return FrozenDict(
        {
            "fault": budget.fault - faults,
            "loss": budget.loss - spent.loss,
            "duplicate": budget.duplicate - spent.duplicate,
            "crash": budget.crash - spent.crash,
            "partition": budget.partition - spent.partition,
            "churn": budget.churn - spent.churn,
        }
    )


# Globals that keep no node's state (property_tests/restarts.py, core purity): `entry_record` and
# `_state_of` are memos of pure functions of the refinement mapping, which no node reads.
PURE_GLOBALS = ("entry_record", "_state_of")


@functools.lru_cache(maxsize=1 << 16)
def entry_record(entry: Entry) -> FrozenDict:
    # cached: a recorded run maps every node's entries after every action, and entries are
    # immutable values that stay the same for many actions
    return FrozenDict({"version": entry.version, "origin": entry.origin, "value": entry.value})


def written_record(key: str, entry: Entry) -> FrozenDict:
    return FrozenDict(
        {"key": key, "version": entry.version, "origin": entry.origin, "value": entry.value}
    )


def _function(pairs: Mapping[Any, Value]) -> Value:
    return FrozenDict(pairs) if pairs else ()


def message_record(message: Any) -> Value:
    """A message as the spec's record (the bare heartbeat too, with its own `type`, so that the
    bag of every message in flight is well formed; `msgs` leaves it out)."""
    if isinstance(message, Push):
        entries = _function({k: entry_record(e) for k, e in message.entries})
        return FrozenDict(
            {"type": "push", "from": message.source, "to": message.dest, "entries": entries}
        )
    if isinstance(message, Pull):
        digest = _function({k: tuple(rank) for k, rank in message.digest})
        return FrozenDict(
            {"type": "pull", "from": message.source, "to": message.dest, "digest": digest}
        )
    kind = "beat" if isinstance(message, Beat) else type(message).__name__
    return FrozenDict({"type": kind, "from": message.source, "to": message.dest})


def is_spec_message(record: Value) -> bool:
    return isinstance(record, FrozenDict) and record["type"] in SPEC_MESSAGES


def state_of(held: Mapping[str, Entry], keys: Collection[str]) -> FrozenDict:
    ordered = tuple(sorted(keys))
    return _state_of(ordered, tuple(held.get(k) for k in ordered))


@functools.lru_cache(maxsize=1 << 14)
def _state_of(keys: tuple[str, ...], held: tuple[Entry | None, ...]) -> FrozenDict:
    return FrozenDict(
        {k: NIL if e is None else entry_record(e) for k, e in zip(keys, held, strict=True)}
    )


def is_alive(node: GossipNode, up: bool) -> bool:
    return up and node.status == IN


def status_of(
    nodes: Mapping[str, GossipNode], up: Mapping[str, bool]
) -> tuple[frozenset[str], frozenset[str]]:
    """The values of `alive` (the members up) and `crashed` (the members down)."""
    return (
        frozenset(i for i, n in nodes.items() if is_alive(n, up[i])),
        frozenset(i for i, n in nodes.items() if not up[i] and n.status == IN),
    )


def members_of(node: GossipNode, up: bool) -> frozenset[str]:
    if not is_alive(node, up):
        return frozenset()
    return node.members() - {node.id}


def msgs_of(bag: Mapping[Value, int]) -> Value:
    """The bag (record -> copies) of Gossip.tla's messages in flight."""
    # inline `is_spec_message`: this runs after every action of a recorded run that changed the bag
    return _function(
        {m: n for m, n in bag.items() if isinstance(m, FrozenDict) and m["type"] in SPEC_MESSAGES}
    )


def node_row(node: GossipNode, up: bool, keys: Collection[str]) -> tuple[Value, Value, Value]:
    """A node's values of `entries`, `own` and `members`."""
    return state_of(node.entries, keys), state_of(node.own, keys), members_of(node, up)


def row_columns(rows: Mapping[str, tuple[Value, Value, Value]]) -> tuple[Value, Value, Value]:
    """The values of `entries`, `own` and `members` from each node's `node_row`."""
    return (
        FrozenDict({i: r[0] for i, r in rows.items()}),
        FrozenDict({i: r[1] for i, r in rows.items()}),
        FrozenDict({i: r[2] for i, r in rows.items()}),
    )


def written_of(written: Iterable[tuple[str, Entry]]) -> frozenset[FrozenDict]:
    return frozenset(written_record(k, e) for k, e in written)


def abstract_state(
    nodes: Mapping[str, GossipNode],
    up: Mapping[str, bool],
    bag: Mapping[Value, int],
    keys: Collection[str],
    written: Iterable[tuple[str, Entry]] | frozenset[FrozenDict],
    *,
    cut: frozenset[str] = frozenset(),
    budget: Budget = Budget(),
    spent: Spent | None = None,
    rows: Mapping[str, tuple[Value, Value, Value]] | None = None,
    columns: tuple[Value, Value, Value, Value] | None = None,
    status: tuple[frozenset[str], frozenset[str]] | None = None,
    budget_value: FrozenDict | None = None,
) -> FrozenDict:
    """The spec's variables from the cluster: its nodes, which are up, the messages in flight, the
    keys of the model, every write so far (or their records, `written_of` them, already built), the
    partition, and the model's budget less what the run spent; `rows`: each node's `node_row`,
    when the caller has them already; `columns`: the values of `entries`, `own`, `members` (built
    from the rows) and `msgs` (from the bag), when the caller has them already; `status`: the
    values of `alive` and `crashed` (`status_of`), and `budget_value` the value of `budget`
    (`budget_of`), when the caller has them already."""
    if columns is None:
        if rows is None:
            rows = {i: node_row(n, up[i], keys) for i, n in nodes.items()}
        columns = (*row_columns(rows), msgs_of(bag))
    entries, own, members, msgs = columns
    alive, crashed = status if status is not None else status_of(nodes, up)
    return FrozenDict(
        {
            "alive": alive,
            "crashed": crashed,
            "entries": entries,
            "own": own,
            "members": members,
            "msgs": msgs,
            "cut": cut,
            "written": written if isinstance(written, frozenset) else written_of(written),
            "budget": budget_value
            if budget_value is not None
            else budget_of(budget, spent or Spent()),
        }
    )
