"""The refinement mapping of a gossip cluster to Gossip.tla's variables, in one module.

    entries   [Node -> [Key -> [version |-> v, origin |-> o, value |-> x] or Nil]]
              per node, per key of the model's `keys`, the entry held (membership entries
              `@member/<node>` are not keys of the spec: they are `members`)
    alive     the set of nodes up (a crashed node is down until it recovers)
    members   [Node -> SUBSET Node]: each node's membership view ({} outside the cluster or gone)
    msgs      the bag of Push and Pull messages in flight, as records (below); the failure
              detector's and the membership handshake's messages are not Gossip.tla's
    written   the set of [key, value, version, origin] records every Update wrote (history)

Messages:
    [type |-> "push", from |-> j, to |-> i, entries |-> [k |-> record]]
    [type |-> "pull", from |-> j, to |-> i, digest |-> [k |-> <<version, origin, value>>]]

Each variable is one function below, so aligning with the spec's exact shapes (a set where this
has a function, a sequence where this has a set, a string for Nil) is a change in one place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.messages import Beat, JoinRequest, Pull, Push, Welcome
from meshcheck.impl.gossip.node import GossipNode

VARIABLES: tuple[str, ...] = ("entries", "alive", "members", "msgs", "written")
NIL = "Nil"
SPEC_MESSAGES = frozenset({"push", "pull"})


def entry_record(entry: Entry) -> FrozenDict:
    return FrozenDict({"version": entry.version, "origin": entry.origin, "value": entry.value})


def written_record(key: str, entry: Entry) -> FrozenDict:
    return FrozenDict(
        {"key": key, "value": entry.value, "version": entry.version, "origin": entry.origin}
    )


def message_record(message: Any) -> Value:
    """A message as the spec's record (the failure detector's and the handshake's too, with their
    own `type`, so that the bag of every message in flight is well formed; `msgs` leaves them
    out)."""
    if isinstance(message, Push):
        entries = FrozenDict({k: entry_record(e) for k, e in message.entries})
        return FrozenDict(
            {"type": "push", "from": message.source, "to": message.dest, "entries": entries}
        )
    if isinstance(message, Pull):
        digest = FrozenDict({k: tuple(rank) for k, rank in message.digest})
        return FrozenDict(
            {"type": "pull", "from": message.source, "to": message.dest, "digest": digest}
        )
    kinds = {Beat: "beat", JoinRequest: "join", Welcome: "welcome"}
    return FrozenDict(
        {"type": kinds.get(type(message), type(message).__name__), "from": message.source}
        | {"to": message.dest}
    )


def entries_of(node: GossipNode, keys: Collection[str]) -> FrozenDict:
    held = node.entries
    return FrozenDict({k: entry_record(held[k]) if k in held else NIL for k in sorted(keys)})


def alive_of(up: Mapping[str, bool]) -> frozenset[str]:
    return frozenset(i for i, is_up in up.items() if is_up)


def members_of(node: GossipNode) -> frozenset[str]:
    return node.members()


def msgs_of(bag: Mapping[Value, int]) -> FrozenDict:
    """The bag (record -> copies) of Gossip.tla's messages in flight."""
    return FrozenDict(
        {m: n for m, n in bag.items() if isinstance(m, FrozenDict) and m["type"] in SPEC_MESSAGES}
    )


def written_of(written: Iterable[tuple[str, Entry]]) -> frozenset[FrozenDict]:
    return frozenset(written_record(k, e) for k, e in written)


def abstract_state(
    nodes: Mapping[str, GossipNode],
    up: Mapping[str, bool],
    bag: Mapping[Value, int],
    keys: Collection[str],
    written: Iterable[tuple[str, Entry]],
) -> FrozenDict:
    """The spec's variables from the cluster: its nodes, which are up, the messages in flight, the
    keys of the model and every write so far."""
    return FrozenDict(
        {
            "entries": FrozenDict({i: entries_of(n, keys) for i, n in nodes.items()}),
            "alive": alive_of(up),
            "members": FrozenDict({i: members_of(n) for i, n in nodes.items()}),
            "msgs": msgs_of(bag),
            "written": written_of(written),
        }
    )
