"""What a sans-IO protocol core is, and what a client core is asked to generate: the contract between
the cores and whatever hosts them (the simulator, a test, a real transport).

A core is a `Node`: `step(event) -> list[Effect]` (impl/base/events.py, impl/base/effects.py), and
nothing else; it never reads a clock, a socket or a global random generator. A client core that
generates requests on its own (PBFT's client) is told how by a `Workload`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Protocol
from typing import runtime_checkable

import attrs

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.errors import ImplError


class Node(Protocol):
    """A sans-IO protocol core."""

    def step(self, event: Any) -> list[Effect]: ...


@runtime_checkable
class AppliedState(Protocol):
    """An optional hook of a core that drives a replicated state machine (impl/rsm): what its
    machine holds now, for checks that compare replicas' states rather than their logs (an
    operation applied twice leaves the logs equal and the states different). A host reads it
    after an `Apply` effect; a core without it is simply not compared."""

    def applied_state(self) -> tuple[int, bytes]:
        """(how many entries the machine applied, a digest of its whole state)."""
        ...


def probability(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    """An attrs validator: `value` is a probability."""
    if not 0.0 <= value <= 1.0:
        raise ImplError(f"{attribute.name} must be a probability in [0, 1], not {value}")


def _default_value(n: int) -> Any:
    return f"v{n}"


def _default_query(_n: int) -> Any:
    return ""


@attrs.frozen
class Workload:
    """An open-loop client: one request every `every` ticks, a share `reads` of them reads."""

    every: int = 20
    reads: float = attrs.field(default=0.0, validator=probability)
    make: Callable[[int], Any] = _default_value  # the n-th write's value (n from 1)
    query: Callable[[int], Any] = _default_query  # the n-th read's query (n from 1)
    until: int | None = None  # no requests after this time

    def __attrs_post_init__(self) -> None:
        if self.every < 1:
            raise ImplError(f"the workload needs every >= 1 tick, not {self.every}")
