"""What a protocol core is told: the events of the sans-IO contract.

A core never reads a clock, a socket or a global random generator: everything that happens to it arrives
as one of these values through `step(event)`, and everything it wants done leaves as effects
(`impl.base.effects`). Time is a value the events carry: `now`, the node's clock reading when the
event happens (the simulator fills it in; a driver that does not care leaves it 0). Timers are events too (etcd's `MsgHup`/`MsgBeat`): the host fires `Tick(timer)`
when a timer the core set with `SetTimer` runs out, or whenever a test wants that timer to fire.

Why named timers set by effects rather than etcd's tick-per-time-unit: the simulator jumps from one
due event to the next instead of waking every node 150 to 300 times per election timeout (most of a
run would be ticks that do nothing); clock skew is one rate per node applied to the durations; and a
lockstep driver forces a spec action by firing its timer by name (`Tick("election")` is Timeout(i)).

These are the events every protocol shares; a protocol may add its own (Raft's `Replicate`). Their
`repr` is valid Python, so a shrunk Hypothesis program can be pasted back as a regression test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen
class Deliver:
    """The network hands `message`, sent by `source`, to the node."""

    source: str
    message: Any
    now: int = 0


@attrs.frozen
class Tick:
    """The timer named `timer` (set earlier with `SetTimer`, or forced by a driver) ran out."""

    timer: str
    now: int = 0


@attrs.frozen
class ClientRequest:
    """A client asks the node to replicate and apply `value` (a write); answered by a `Reply`."""

    value: Any
    request_id: int = 0
    now: int = 0


@attrs.frozen
class ClientRead:
    """A client asks for a linearizable read of `query`; answered by a `Reply`."""

    query: Any = ""
    request_id: int = 0
    now: int = 0


@attrs.frozen(eq=False, repr=False)
class Restart:
    """The node (re)starts with exactly what it had persisted (empty on first boot).

    `persisted` is the durable store's content at the moment of the crash; everything the core held
    only in memory is gone, which is the point: a restart can only remember what was persisted.
    """

    persisted: Mapping[str, Any] = attrs.field(factory=dict)
    now: int = 0

    def __repr__(self) -> str:
        return f"Restart(persisted=<{', '.join(sorted(self.persisted))}>)"
