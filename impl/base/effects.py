"""What a protocol core asks for: the effects of the sans-IO contract.

`step(event)` returns a list of these, in the order they must happen. The one ordering rule that
matters for safety is persist-before-send (etcd's `Ready` contract, Raft paper section 5, Figure 2:
"persistent state ... updated on stable storage before responding to RPCs"): a vote or an
acknowledgement may only leave the node once the state it vouches for is durable. A core therefore
returns at most one `Persist` per step, before any `Send`; the simulator checks this
(`check_effects`) and, when it crashes a node between two effects, keeps only what was applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import attrs

from meshcheck.impl.base.errors import ContractViolation


@attrs.frozen
class Send:
    """Put `message` on the network for `dest`."""

    dest: str
    message: Any


@attrs.frozen
class Put:
    """Durable write: `key` now holds `value` (which must not be mutated afterwards)."""

    key: str
    value: Any


@attrs.frozen
class Splice:
    """Durable write on a list-valued key: keep its first `start` items, then append `items`.

    Appending to a log and truncating a conflicting suffix are both splices, so a node never has to
    rewrite its whole log to persist one entry.
    """

    key: str
    start: int
    items: tuple[Any, ...]


Write: TypeAlias = Put | Splice


@attrs.frozen
class Persist:
    """Make `writes` durable, all of them or (after a crash before this effect) none."""

    writes: tuple[Write, ...]


@attrs.frozen
class Apply:
    """Entry `index` (holding `value`) was applied to the state machine, with `result`."""

    index: int
    value: Any
    result: Any


@attrs.frozen
class Reply:
    """Answer client request `request_id`: `result` when `error` is empty; `leader` is a hint."""

    request_id: int
    result: Any = None
    error: str = ""
    leader: str | None = None

    @property
    def ok(self) -> bool:
        return not self.error


@attrs.frozen
class SetTimer:
    """Fire `Tick(timer)` after `after` ticks of the node's own clock (replaces a pending one)."""

    timer: str
    after: int


@attrs.frozen
class CancelTimer:
    """Forget the pending timer `timer`, if any."""

    timer: str


Effect: TypeAlias = Send | Persist | Apply | Reply | SetTimer | CancelTimer


def check_effects(node: str, effects: Sequence[Effect]) -> int | None:
    """The index of the step's `Persist` (None without one); ContractViolation if the order is wrong."""
    persist: int | None = None
    sent = False
    for k, effect in enumerate(effects):
        if isinstance(effect, Persist):
            if persist is not None:
                raise ContractViolation(
                    f"{node}: two Persist effects in one step (at {persist} and {k})"
                )
            if sent:
                raise ContractViolation(
                    f"{node}: Persist at {k} comes after a Send (persist before send)"
                )
            persist = k
        elif isinstance(effect, Send):
            sent = True
    return persist
