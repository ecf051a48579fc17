"""How a simulation is set up: the seed, the network's latency, clock skew, faults and client load.

Probabilities and tick ranges are checked here, once, so that a bad setting is an `ImplError` with a
one-line message and not a crash deep inside a run.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.node import Workload
from meshcheck.impl.base.node import probability


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


def _optional_names(names: str | Iterable[str] | None) -> frozenset[str] | None:
    """None (any), one name, or several: a bare string is one name, not its letters."""
    if names is None:
        return None
    return frozenset((names,)) if isinstance(names, str) else frozenset(names)


def message_kind(message: Any) -> str:
    """A message's type name; a signed envelope (PBFT's `Signed`) is named by what it carries."""
    return type(getattr(message, "body", message)).__name__


@attrs.frozen
class MessageFaults:
    """Message faults for the messages a filter matches: a direction (`source`, `dest`), a kind
    (`kind`: message type names, see `message_kind`) and/or any predicate `where(source, dest,
    message)`. Every filter given must match; none given matches every message.

    How they combine with the global rates of `Faults` (and with each other): each is an
    independent chance. A message is dropped if the global `drop` strikes or, failing that, the
    first matching rule's, then the next's, and so on (so the chance is 1 - the product of
    (1 - p)); the same for `duplicate`, and for `delay`, where the first that strikes decides
    the extra ticks (its `delay_ticks`). The draws are made in that order, and none is made for a
    rate of 0, so a `Faults` without rules makes exactly the draws it made before rules existed.
    Delay is decided when a message is sent, drop and duplicate when it is due; the rule's
    filter sees the message both times, the phase in force at that time decides.

    "Delay only the replies", as MIT 6.824's unreliable network can:
    `MessageFaults(kind="AppendEntriesResponse", delay=0.5, delay_ticks=(50, 200))`.
    """

    source: frozenset[str] | None = attrs.field(default=None, converter=_optional_names)
    dest: frozenset[str] | None = attrs.field(default=None, converter=_optional_names)
    kind: frozenset[str] | None = attrs.field(default=None, converter=_optional_names)
    where: Callable[[str, str, Any], bool] | None = None
    drop: float = attrs.field(default=0.0, validator=probability)
    duplicate: float = attrs.field(default=0.0, validator=probability)
    delay: float = attrs.field(default=0.0, validator=probability)
    delay_ticks: tuple[int, int] = attrs.field(default=(100, 1000), validator=_tick_range)

    def matches(self, source: str, dest: str, message: Any) -> bool:
        return (
            (self.source is None or source in self.source)
            and (self.dest is None or dest in self.dest)
            and (self.kind is None or message_kind(message) in self.kind)
            and (self.where is None or self.where(source, dest, message))
        )


@attrs.frozen
class Faults:
    """Fault injection. Message faults are decided per message; the others once per chaos round."""

    drop: float = attrs.field(default=0.0, validator=probability)  # a due message is lost
    duplicate: float = attrs.field(
        default=0.0, validator=probability
    )  # a due message is delivered twice
    delay: float = attrs.field(default=0.0, validator=probability)  # a sent message is held back...
    delay_ticks: tuple[int, int] = attrs.field(
        default=(100, 1000), validator=_tick_range
    )  # ...this long
    crash: float = attrs.field(
        default=0.0, validator=probability
    )  # per round: a node crashes mid-step
    down_ticks: tuple[int, int] = attrs.field(
        default=(200, 2000), validator=_tick_range
    )  # then restarts
    partition: float = attrs.field(default=0.0, validator=probability)  # per round: links are cut
    one_way: float = attrs.field(default=0.5, validator=probability)  # share of one-way partitions
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
    # Rates for the messages a filter picks (per direction, per kind), on top of the global ones.
    messages: tuple[MessageFaults, ...] = attrs.field(default=(), converter=tuple)

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


CALM = Faults()


@attrs.frozen
class Phase:
    """One stretch of a run under one fault setting: `duration` ticks (None: to the end of the run,
    only for the last phase)."""

    duration: int | None
    faults: Faults = CALM

    def __attrs_post_init__(self) -> None:
        if self.duration is not None and self.duration < 1:
            raise ImplError(f"a phase lasts at least 1 tick, not {self.duration}")


def _phases(items: Iterable[Phase | tuple[int | None, Faults]]) -> tuple[Phase, ...]:
    return tuple(p if isinstance(p, Phase) else Phase(*p) for p in items)


@attrs.frozen
class Phases:
    """A run's fault settings as a sequence of phases, switched at the simulated times their
    durations add up to: `Phases([(500, CALM), (2000, storm), (None, CALM)])` is calm, a storm from
    t=500 to t=2500, calm again. After the last phase with a duration, the run is calm.

    At a switch, message faults follow the new phase at once (a message delayed earlier still
    arrives late). A phase without crashes or partitions ends those in force when it begins, as
    `Faults.until` does: the network heals, every crashed node comes back up and a crash armed but
    not struck is called off. A phase with them starts chaos rounds (every `chaos_every` ticks of
    that phase) if none are running. `Faults.until` keeps its meaning inside a phase (an absolute
    time). `max_down` and `spare` are the cluster's: they apply to every phase whose `Faults` does
    not set its own (a cluster factory may set them here as it does on a `Faults`).
    """

    phases: tuple[Phase, ...] = attrs.field(converter=_phases)
    max_down: int | None = None
    spare: frozenset[str] = attrs.field(default=frozenset(), converter=_names)

    def __attrs_post_init__(self) -> None:
        if not self.phases:
            raise ImplError("Phases needs at least one phase")
        if any(p.duration is None for p in self.phases[:-1]):
            raise ImplError("only the last phase may last to the end of the run (duration None)")
        if self.max_down is not None and self.max_down < 0:
            raise ImplError(f"max_down must not be negative, not {self.max_down}")

    def schedule(self) -> list[tuple[int, Faults]]:
        """(start time, the faults in force from then) for every phase, `max_down` and `spare`
        folded in, and the calm that follows a last phase with a duration."""
        out: list[tuple[int, Faults]] = []
        at = 0
        for phase in self.phases:
            out.append((at, self._fold(phase.faults)))
            if phase.duration is None:
                return out
            at += phase.duration
        out.append((at, self._fold(CALM)))
        return out

    def _fold(self, faults: Faults) -> Faults:
        max_down = faults.max_down if faults.max_down is not None else self.max_down
        spare = faults.spare | self.spare
        if max_down == faults.max_down and spare == faults.spare:
            return faults
        return attrs.evolve(faults, max_down=max_down, spare=spare)


@attrs.frozen
class SimConfig:
    """One simulation: everything random in it comes from `seed`."""

    seed: int
    latency: tuple[int, int] = attrs.field(default=(1, 10), validator=_tick_range)
    skew: tuple[int, int] = attrs.field(
        default=(100, 100), validator=_tick_range
    )  # clock rate, percent
    faults: Faults | Phases = CALM  # one setting for the whole run, or phases
    workload: Workload | None = None
    record: bool = True  # keep a trace: the refinement mapping after every step (costs time)
    # keep the client history (history.py) and, after each Apply, the applied state of a node
    # that offers it (impl/base/node.py's `AppliedState`): what the client-history checks read
    history: bool = True

    def __attrs_post_init__(self) -> None:
        if self.skew[0] < 1:
            raise ImplError(
                f"skew is a clock rate in percent and must be at least 1, not {self.skew}"
            )

    @property
    def phases(self) -> list[tuple[int, Faults]]:
        """(start time, faults) of every phase of the run; one `Faults` is one phase from t=0."""
        if isinstance(self.faults, Phases):
            return self.faults.schedule()
        return [(0, self.faults)]
