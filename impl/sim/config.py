"""How a simulation is set up: the seed, the network's latency, clock skew, faults and client load.

Probabilities and tick ranges are checked here, once, so that a bad setting is an `ImplError` with a
one-line message and not a crash deep inside a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from meshcheck.impl.base.errors import ImplError


def _probability(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ImplError(f"{attribute.name} must be a probability in [0, 1], not {value}")


def _tick_range(
    _inst: object, attribute: attrs.Attribute[tuple[int, int]], value: tuple[int, int]
) -> None:
    lo, hi = value
    if not 0 <= lo <= hi:
        raise ImplError(
            f"{attribute.name} must be a range (lo, hi) with 0 <= lo <= hi, not {value}"
        )


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


@attrs.frozen
class Faults:
    """Fault injection. Message faults are decided per message; the others once per chaos round."""

    drop: float = attrs.field(default=0.0, validator=_probability)  # a due message is lost
    duplicate: float = attrs.field(
        default=0.0, validator=_probability
    )  # a due message is delivered twice
    delay: float = attrs.field(
        default=0.0, validator=_probability
    )  # a sent message is held back...
    delay_ticks: tuple[int, int] = attrs.field(
        default=(100, 1000), validator=_tick_range
    )  # ...this long
    crash: float = attrs.field(
        default=0.0, validator=_probability
    )  # per round: a node crashes mid-step
    down_ticks: tuple[int, int] = attrs.field(
        default=(200, 2000), validator=_tick_range
    )  # then restarts
    partition: float = attrs.field(default=0.0, validator=_probability)  # per round: links are cut
    one_way: float = attrs.field(default=0.5, validator=_probability)  # share of one-way partitions
    partition_ticks: tuple[int, int] = attrs.field(default=(300, 3000), validator=_tick_range)
    chaos_every: int = 100  # ticks between chaos rounds
    max_down: int | None = (
        None  # nodes down at once (default: a minority, so the rest can progress)
    )
    # Nodes chaos never crashes: a PBFT client is a node of the simulation, and its crash is not
    # a replica fault (a test may still crash it by hand).
    spare: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    # When faults stop (None: never). From this time no message is lost, duplicated or delayed, and
    # the first chaos round at or after it (rounds fall on multiples of chaos_every) ends the chaos
    # for good: the network heals, every crashed node comes back up, a crash armed but not yet
    # struck is called off, and no round follows. Liveness checks need it: Raft promises progress
    # only once faults stop. Messages delayed earlier still arrive late.
    until: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.chaos_every < 1:
            raise ImplError(f"chaos_every must be at least 1 tick, not {self.chaos_every}")
        if self.max_down is not None and self.max_down < 0:
            raise ImplError(f"max_down must not be negative, not {self.max_down}")
        if self.until is not None and self.until < 0:
            raise ImplError(f"until must not be negative, not {self.until}")

    @property
    def any_chaos(self) -> bool:
        return self.crash > 0 or self.partition > 0

    def active(self, now: int) -> bool:
        """Whether faults may still strike at time `now` (see `until`)."""
        return self.until is None or now < self.until


def _default_value(n: int) -> Any:
    return f"v{n}"


@attrs.frozen
class Workload:
    """An open-loop client: one request every `every` ticks, a share `reads` of them reads."""

    every: int = 20
    reads: float = attrs.field(default=0.0, validator=_probability)
    make: Callable[[int], Any] = _default_value  # the n-th write's value (n from 1)
    until: int | None = None  # no requests after this time

    def __attrs_post_init__(self) -> None:
        if self.every < 1:
            raise ImplError(f"the workload needs every >= 1 tick, not {self.every}")


@attrs.frozen
class SimConfig:
    """One simulation: everything random in it comes from `seed`."""

    seed: int
    latency: tuple[int, int] = attrs.field(default=(1, 10), validator=_tick_range)
    skew: tuple[int, int] = attrs.field(
        default=(100, 100), validator=_tick_range
    )  # clock rate, percent
    faults: Faults = Faults()
    workload: Workload | None = None
    record: bool = True  # keep a trace: the refinement mapping after every step (costs time)

    def __attrs_post_init__(self) -> None:
        if self.skew[0] < 1:
            raise ImplError(
                f"skew is a clock rate in percent and must be at least 1, not {self.skew}"
            )
