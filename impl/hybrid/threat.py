"""The replicated threat state: evidence records in, the threat level out (`ThreatModel`).

Every node applies the committed evidence and clock entries, in the committed order, to its own copy
of this value, so every honest node computes the same level at the same position of the history
(hybrid contract, "The threat state is replicated"). It is therefore a pure, deterministic function
of its inputs: a frozen value whose `intake` and `clock` return the next value; time is the
replicated clock, never a wall clock.

- Intake verifies each record (`verify`, supplied by the host: the reporter's signature, and for the
  self-proving kinds the proof itself, e.g. PBFT's `evidence.proves` for an equivocation); a record
  that does not check out is refused and counted as refused, so f Byzantine nodes can only add
  records every node checks (LevelJustifiedByEvidence).
- Duplicates are dropped: a self-proving proof counts once whoever reports it, any other record once
  per reporter.
- Counting (`counts`): bad signatures and timing anomalies by distinct reporter inside the window (so
  f Byzantine reporters count f at most), tampering and equivocation by distinct proof.
- The replicated clock (`now`) is the (f+1)-th highest of the latest clock reports of distinct
  nodes: f Byzantine nodes cannot move it past every honest clock.
- After every input the level takes one step of `levels.step` with the counts, the quiet time (since
  the last accepted evidence) and the dwell (since the level was entered); `history` keeps every
  level change with its time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Final

import attrs

from meshcheck.impl.base import probes
from meshcheck.impl.base import quorum
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import KINDS
from meshcheck.impl.hybrid.levels import SELF_PROVING
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.levels import TIMING
from meshcheck.impl.hybrid.levels import Counts
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import LevelError
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.impl.hybrid.levels import step

ACCEPTED: Final = "accepted"
REFUSED: Final = "refused"
DUPLICATE: Final = "duplicate"


@attrs.frozen
class Evidence:
    """One piece of evidence as a node reports it: what kind, who saw it (`reporter`), against whom
    (`accused`), the messages that show it (for a self-proving kind: the proof), the reporter's clock
    `time` and the `epoch` whose instance the messages belong to (signatures of one epoch's keys do
    not prove anything about another's). `signature` is the reporter's over everything else; it is
    not part of what it signs."""

    kind: str
    reporter: str
    accused: str
    messages: tuple[Any, ...] = attrs.field(repr=False)
    time: int
    epoch: int = 0
    detail: str = ""
    signature: bytes = attrs.field(default=b"", repr=False, metadata={"unsigned": True})

    @property
    def self_proving(self) -> bool:
        return self.kind in SELF_PROVING

    def key(self) -> tuple[Any, ...]:
        """What makes two records one piece: the proof alone for a self-proving kind (whoever
        reports it, in whatever order); for the others the report itself, with its time (a
        reporter that sees the misbehaviour go on reports it again, which keeps it in the window;
        the count is by reporter all the same)."""
        if self.self_proving:
            return (self.kind, self.accused, self.epoch, frozenset(self.messages))
        return (self.kind, self.reporter, self.accused, self.epoch, self.messages, self.time)


@attrs.frozen
class Accepted:
    """An evidence record the replicated state took in, at replicated time `at`."""

    record: Evidence
    at: int


Verify = Callable[[Evidence], bool]


def _level_history() -> tuple[tuple[int, Level], ...]:
    return ((0, Level.NONE),)


@attrs.frozen
class ThreatModel:
    """The replicated threat state of a cluster of `nodes` tolerating `f` faults (see the module doc)."""

    f: int
    th: Thresholds
    bugs: frozenset[str] = frozenset()
    level: Level = Level.NONE
    now: int = 0
    entered_at: int = 0
    last_evidence: int | None = None
    clocks: FrozenDict = attrs.field(factory=FrozenDict)  # node -> its latest clock report
    records: tuple[Accepted, ...] = ()
    keys: frozenset[tuple[Any, ...]] = frozenset()
    refused: int = 0
    duplicates: int = 0
    history: tuple[tuple[int, Level], ...] = attrs.field(factory=_level_history)

    def __attrs_post_init__(self) -> None:
        if self.f < 0:
            raise LevelError(f"f must not be negative, got {self.f}")

    @classmethod
    def for_f(cls, f: int, bugs: frozenset[str] = frozenset(), **overrides: int) -> ThreatModel:
        return cls(f=f, th=Thresholds.for_f(f, **overrides), bugs=bugs)

    # -- inputs ------------------------------------------------------------------------------------

    def intake(self, record: Evidence, verify: Verify) -> tuple[ThreatModel, str]:
        """Take in one committed evidence record: ACCEPTED, REFUSED (unknown kind or it does not
        verify) or DUPLICATE; then one step of the level."""
        if record.kind not in KINDS or not verify(record):
            return attrs.evolve(self, refused=self.refused + 1)._settle(), REFUSED
        key = record.key()
        if key in self.keys:
            return attrs.evolve(self, duplicates=self.duplicates + 1)._settle(), DUPLICATE
        taken = attrs.evolve(
            self,
            records=(*self.records, Accepted(record, self.now)),
            keys=self.keys | {key},
            last_evidence=self.now,
        )
        return taken._settle(), ACCEPTED

    def clock(self, node: str, t: int) -> ThreatModel:
        """Take in one committed clock report; the replicated time never goes back, and a node's
        report older than its latest is ignored (then the level still takes its step)."""
        if t <= self.clocks.get(node, -1):
            return self._settle()
        clocks = FrozenDict({**self.clocks, node: t})
        # the (f+1)-th highest: a time at least one honest clock has reached
        vouched = quorum.quorum_value(clocks.values(), quorum.one_correct(self.f))
        now = self.now if vouched is None else max(self.now, vouched)
        return attrs.evolve(self, clocks=clocks, now=now)._settle()

    # -- what the level is computed from -------------------------------------------------------------

    def in_window(self) -> tuple[Evidence, ...]:
        # a record counts while it is at most `window` old (ThreatLevel.tla: now - at <= Window)
        return tuple(a.record for a in self.records if self.now - a.at <= self.th.window)

    def counts(self) -> Counts:
        """Distinct pieces per kind inside the window (bad signatures and timing: distinct
        reporters; tampering and equivocation: distinct proofs, deduplicated on intake)."""
        recent = self.in_window()
        reporters = {
            kind: quorum.votes(r.reporter for r in recent if r.kind == kind)
            for kind in (BAD_SIGNATURE, TIMING)
        }
        if mutants.REPORTS_COUNTED_NOT_REPORTERS in self.bugs:  # the bug: records, not reporters
            reporters = {k: sum(1 for r in recent if r.kind == k) for k in (BAD_SIGNATURE, TIMING)}
        tampering = sum(1 for r in recent if r.kind == TAMPERING)
        equivocation = sum(1 for r in recent if r.kind == EQUIVOCATION)
        timing = reporters[TIMING]
        if mutants.EQUIVOCATION_IS_LOW in self.bugs and equivocation:
            # the bug: an equivocation weighs what one timing anomaly weighs (Low)
            timing, equivocation = max(timing, 1), 0
        return Counts(
            bad_signature=reporters[BAD_SIGNATURE],
            tampering=tampering,
            equivocation=equivocation,
            timing=timing,
        )

    @property
    def quiet(self) -> int:
        """Replicated time since the last accepted evidence (since time 0 without any)."""
        return self.now - (self.last_evidence if self.last_evidence is not None else 0)

    @property
    def dwell(self) -> int:
        return self.now - self.entered_at

    def _settle(self) -> ThreatModel:
        """One step of the transition function after an input (levels.step)."""
        level = step(self.level, self.counts(), self.quiet, self.dwell, self.th)
        if (
            mutants.DEESCALATE_CRITICAL_TO_NONE in self.bugs
            and self.level == Level.CRITICAL
            and level == Level.HIGH
        ):
            level = Level.NONE  # the bug: all the way down at once
        if level == self.level:
            return self
        if level < self.level:
            probes.hit("hybrid", "deescalation")
        return attrs.evolve(
            self,
            level=level,
            entered_at=self.now,
            history=(*self.history, (self.now, level)),
        )

    def evidence_by_kind(self) -> dict[str, int]:
        """Accepted records per kind, over the whole history (for metrics)."""
        out = dict.fromkeys(KINDS, 0)
        for a in self.records:
            out[a.record.kind] += 1
        return out
