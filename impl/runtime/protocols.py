"""What the runtime needs of each protocol: how to build one node's core, and which modules hold
the classes its wire and its disk carry (the codec refuses every other class).

The cores are built exactly as the simulator's plug-ins build them (impl/<core>/simulation.py
`new_node`): the same config classes, the same options, a seeded `random.Random` handed in (a core
never reads a global random generator).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.node import Node
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.runtime.codec import Codec, classes_in

CoreFactory = Callable[[str, Sequence[str], Mapping[str, Any], random.Random], Node]


@attrs.frozen
class RuntimeProtocol:
    """A protocol the runtime hosts."""

    name: str
    build: CoreFactory
    wire: tuple[str, ...]  # the modules whose attrs classes go on the wire and to disk

    def codec(self) -> Codec:
        return Codec(classes_in(*self.wire))


def _raft(node: str, nodes: Sequence[str], options: Mapping[str, Any], rng: random.Random) -> Node:
    opts = dict(options)
    if "election_timeout" in opts:
        opts["election_timeout"] = tuple(opts["election_timeout"])
    if "bugs" in opts:
        opts["bugs"] = frozenset(opts["bugs"])
    return RaftNode(RaftConfig(node, tuple(nodes), **opts), rng)


PROTOCOLS: Mapping[str, RuntimeProtocol] = {
    "raft": RuntimeProtocol(
        "raft", _raft, ("meshcheck.impl.raft.messages", "meshcheck.impl.rsm.ops")
    ),
}


def protocol(name: str) -> RuntimeProtocol:
    """The runtime's protocol `name` (one clear error for any other)."""
    found = PROTOCOLS.get(name)
    if found is None:
        raise ImplError(f"the runtime hosts {', '.join(sorted(PROTOCOLS))}; not {name!r}")
    return found
