"""The threat-level table and transition function: the one definition the spec, the proofs and the
implementation share.

Levels None < Low < Medium < High < Critical. None, Low and Medium run Raft (Low monitors, Medium
alerts); High and Critical run BFT (`PROTOCOL`). `specs/ThreatLevel.tla` writes the same table and
function in TLA+, `models/threat.py` proves its properties over every input, and a property test checks
this code against the Z3 formula.

The inputs are what a replicated threat state knows at one point of the committed history:

- `Counts`: how many distinct pieces of each evidence kind fall inside the evidence window. Bad
  signatures and timing anomalies are counted by distinct *reporter* (a node that saw one), so f
  Byzantine reporters count f at most; tampering and equivocation are self-proving (messages the accused
  signed that no correct node signs), so one piece stands on its own, from anyone.
- `quiet`: time since the last piece of evidence; `dwell`: time since the level was entered.

The rule (`step`):

- the level the evidence demands (`demanded`): equivocation -> Critical; tampering -> High; bad
  signatures by at least `sig_high` reporters -> High, `sig_medium` -> Medium, one -> Low; timing
  anomalies repeated by `timing_medium` reporters -> Medium, one -> Low; nothing -> None.
- escalation is immediate: a level below what the evidence demands jumps to it;
- de-escalation only after a quiet period and a minimum dwell at the level, one level at a time, and
  never below what the evidence in the window demands;
- otherwise the level stays.

Why the thresholds are what they are: with `sig_high = f + 1`, f Byzantine reporters of bad signatures
reach Medium at most, which still runs Raft, so they cannot force a switch to BFT without evidence that
an honest node saw; Critical needs a signed equivocation, which only the equivocator can produce.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

from meshcheck.impl.base.errors import ImplError


class Level(enum.IntEnum):
    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def title(self) -> str:
        """The level's name in the spec ("None", "Low", ...)."""
        return self.name.capitalize()


RAFT: Final = "raft"
BFT: Final = "bft"

# the protocol each level runs: total over Level (models/threat.py proves it and that it is monotone)
PROTOCOL: Final[dict[Level, str]] = {
    Level.NONE: RAFT,
    Level.LOW: RAFT,
    Level.MEDIUM: RAFT,
    Level.HIGH: BFT,
    Level.CRITICAL: BFT,
}

# evidence kinds, by their names in the spec and in trace events
BAD_SIGNATURE: Final = "bad_signature"
TAMPERING: Final = "tampering"
EQUIVOCATION: Final = "equivocation"
TIMING: Final = "timing"
KINDS: Final = (BAD_SIGNATURE, TAMPERING, EQUIVOCATION, TIMING)
# evidence anyone can check from the messages alone: one piece from one reporter is enough
SELF_PROVING: Final = frozenset({TAMPERING, EQUIVOCATION})


class LevelError(ImplError):
    """Thresholds or inputs outside the function's domain."""


@attrs.frozen
class Thresholds:
    """The rule's parameters. `for_f(f)` gives the defaults for a cluster tolerating f faults."""

    sig_medium: int = 2
    sig_high: int = 2
    timing_medium: int = 3
    quiet: int = 50  # time without evidence before a level may drop
    dwell: int = 30  # minimum time at a level before it may drop
    window: int = 100  # evidence older than this no longer counts

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.sig_medium <= self.sig_high:
            raise LevelError(
                f"need 1 <= sig_medium <= sig_high, got {self.sig_medium}, {self.sig_high}"
            )
        if self.timing_medium < 1:
            raise LevelError(f"timing_medium must be at least 1, got {self.timing_medium}")
        if min(self.quiet, self.dwell, self.window) < 0:
            raise LevelError("quiet, dwell and window must not be negative")

    @classmethod
    def for_f(cls, f: int, **overrides: int) -> Thresholds:
        """High on bad signatures needs f+1 reporters, so at least one honest one (module doc)."""
        if f < 0:
            raise LevelError(f"f must not be negative, got {f}")
        base = {"sig_medium": min(2, f + 1), "sig_high": f + 1}
        th = cls(**{**base, **overrides})
        if th.sig_high <= f:
            # f Byzantine reporters alone would reach High: a switch to BFT without evidence
            raise LevelError(f"sig_high must be above f = {f}, got {th.sig_high}")
        return th


@attrs.frozen
class Counts:
    """Distinct pieces of evidence of each kind inside the window (see the module doc)."""

    bad_signature: int = 0
    tampering: int = 0
    equivocation: int = 0
    timing: int = 0

    def __attrs_post_init__(self) -> None:
        if min(self.bad_signature, self.tampering, self.equivocation, self.timing) < 0:
            raise LevelError(f"evidence counts must not be negative: {self}")

    @property
    def any(self) -> bool:
        return bool(self.bad_signature or self.tampering or self.equivocation or self.timing)


def demanded(counts: Counts, th: Thresholds) -> Level:
    """The lowest level the evidence in the window allows."""
    if counts.equivocation >= 1:
        return Level.CRITICAL
    if counts.tampering >= 1 or counts.bad_signature >= th.sig_high:
        return Level.HIGH
    if counts.bad_signature >= th.sig_medium or counts.timing >= th.timing_medium:
        return Level.MEDIUM
    if counts.bad_signature >= 1 or counts.timing >= 1:
        return Level.LOW
    return Level.NONE


def step(level: Level, counts: Counts, quiet: int, dwell: int, th: Thresholds) -> Level:
    """The next level: escalate at once, drop one level after the quiet period and the dwell time,
    never below what the evidence demands."""
    if quiet < 0 or dwell < 0:
        raise LevelError(f"quiet and dwell must not be negative, got {quiet}, {dwell}")
    need = demanded(counts, th)
    if need > level:
        return need
    if level > need and quiet >= th.quiet and dwell >= th.dwell:
        return Level(level - 1)
    return level


def protocol(level: Level) -> str:
    return PROTOCOL[level]
