"""How a protocol plugs into the simulator: a node type and a plugin that knows the protocol's spec.

The simulator is protocol-agnostic (Raft now, PBFT and the hybrid dispatcher later). It needs from a
protocol only: how to build a node (`new_node`), and, to write a trace in the spec's vocabulary, how
one processed event splits into spec actions (`split`), how a message looks as a spec record
(`message_record`), how the cluster maps to the spec's variables (`abstract_state`, the refinement
mapping), and which spec actions the network and crash faults are (`fault_step`). A plugin may keep
history for the mapping (a spec's ghost variables): `after_step` sees every step, recorded or not.

A recorded run maps the cluster after every spec action. A plug-in may offer, besides
`abstract_state`, `abstract_state_since(nodes, messages, faults, touched)`: the same state, given
that only the nodes in `touched` were stepped or rebuilt (replaced in `nodes`) since it last mapped
the cluster by either method; the recorder then calls that (impl/raft/simulation.py has one).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Protocol
from typing import TypeVar

import attrs

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.node import Node
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value

N = TypeVar("N", bound=Node)


def _frozen(m: Mapping[str, Any]) -> FrozenDict:
    return m if isinstance(m, FrozenDict) else FrozenDict(m)


@attrs.frozen
class Segment:
    """A run of one step's effects that is one spec action (`action` None: no spec action of its own).

    One implementation event can be several spec steps: a leader's heartbeat is one
    `AppendEntries(i, j)` per peer. The segments of a step hold its effects in their original order;
    everything the core changed in its own state belongs to the first segment, so the others may only
    send.
    """

    action: str | None
    params: FrozenDict = attrs.field(factory=FrozenDict, converter=_frozen)
    effects: tuple[Effect, ...] = ()


class Plugin(Protocol[N]):
    """The protocol side of the simulator."""

    name: str  # e.g. "raft"
    variables: tuple[str, ...]  # the spec's variables, in the order the trace lists them

    def new_node(self, node_id: str, rng: random.Random) -> N:
        """A node that has not started yet (the simulator sends it `Restart` next)."""
        ...

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        """The spec actions one processed event amounts to (see `Segment`)."""
        ...

    def message_record(self, message: Any) -> Value:
        """The message as the spec's record (the key of the `messages` bag)."""
        ...

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, N]) -> None:
        """Called after every spec action of `event` at `node_id`, and after a crash (with the
        `Restart` event the node was rebuilt with), to keep history and count what the spec counts."""
        ...

    def abstract_state(
        self, nodes: Mapping[str, N], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        """The refinement mapping: the spec's variables from the nodes, the bag of messages and
        how many faults of each kind ("drop", "duplicate", "restart") happened."""
        ...

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        """The spec action of a fault: kind "drop"/"duplicate" (subject: a message record) or
        "restart" (subject: a node id). A plug-in with a `fault_steps` attribute (a set of kinds)
        is asked for those too: "recover" (subject: a node id), "partition" and "heal" (subject:
        None); one without is never asked (cluster.py)."""
        ...
