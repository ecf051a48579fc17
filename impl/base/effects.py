"""What a protocol core asks for: the effects of the sans-IO contract.

`step(event)` returns a list of these, in the order they must happen. The one ordering rule that
matters for safety is persist-before-send (etcd's `Ready` contract, Raft paper section 5, Figure 2:
"persistent state ... updated on stable storage before responding to RPCs"): a vote or an
acknowledgement may only leave the node once the state it vouches for is durable. A core therefore
returns at most one `Persist` per step, before any `Send`; the simulator checks this
(`check_effects`) and, when it crashes a node between two effects, keeps only what was applied.

`Action` is a report, not a request: the spec action the core takes, returned where the transition
happens (etcd-io/raft's state_trace.go emits its trace events the same way, from inside the state
machine). A host carries out every other effect and reads the `Action`s only to name the step.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TypeAlias

import attrs

from meshcheck.impl.base.errors import ContractViolation
from meshcheck.impl.base.values import FrozenDict


def _frozen(params: Mapping[str, Any]) -> FrozenDict:
    return params if isinstance(params, FrozenDict) else FrozenDict(params)


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
    """Answer client request `request_id`: `result` when `error` is empty; `leader` is a hint.

    An error answer says the request took no effect and never will (a client history records it
    as `fail`), unless `unknown`: then it may or may not take effect (`info`; Raft's deposed leader
    cannot know whether the entry it appended will commit)."""

    request_id: int
    result: Any = None
    error: str = ""
    leader: str | None = None
    unknown: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


@attrs.frozen
class Invoke:
    """A client core (one that is a node, as PBFT's) sent its request `request_id` asking for
    `value`: the invocation of a client operation, for the run's client history. Its completion
    is the `Reply` the same core returns when it accepts a result. A host that keeps no history
    ignores it."""

    request_id: int
    value: Any


@attrs.frozen
class SetTimer:
    """Fire `Tick(timer)` after `after` ticks of the node's own clock (replaces a pending one)."""

    timer: str
    after: int


@attrs.frozen
class CancelTimer:
    """Forget the pending timer `timer`, if any."""

    timer: str


@attrs.frozen
class Action:
    """The core takes spec action `name` with `params` (the spec's names: Timeout(i) is
    `Action("Timeout", {"i": "s1"})`). The effects after it, up to the next `Action`, are that
    action's; the ones before a step's first `Action` belong to no action of their own."""

    name: str
    params: FrozenDict = attrs.field(factory=FrozenDict, converter=_frozen)


Effect: TypeAlias = Send | Persist | Apply | Reply | Invoke | SetTimer | CancelTimer | Action


def without_actions(effects: Sequence[Effect]) -> list[Effect]:
    """The effects a host carries out: all but the `Action` reports."""
    return [e for e in effects if not isinstance(e, Action)]


def split_actions(effects: Sequence[Effect]) -> list[tuple[Action | None, tuple[Effect, ...]]]:
    """The step cut at its `Action`s: (action, its effects) in order. Effects before the first
    `Action` come first under None (left out when there are none and an action follows), so a step
    without actions is one (None, effects)."""
    segments: list[tuple[Action | None, tuple[Effect, ...]]] = []
    action: Action | None = None
    current: list[Effect] = []
    for effect in effects:
        if isinstance(effect, Action):
            if action is not None or current:
                segments.append((action, tuple(current)))
            action, current = effect, []
        else:
            current.append(effect)
    segments.append((action, tuple(current)))
    return segments


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
