"""How a run's fault plan went: each planned fault carried out (on time or late) or skipped, and
why, as strike.py records it (`Kept`), counted for the verdict table (`FaultAccount`).

The plan keeps its faults in time relative to the run's start (nemesis.py: each at `at` seconds
after the clients began); strike.py waits, on purpose, before a fault on a node whose previous
fault is not undone yet, and while as many nodes are down as the plan ever holds at once (a
restart that waits for a readiness probe can take seconds). A fault that waited strikes late, and
every later fault on that node with it: a 10 s run gets fewer faults in force than its plan
printed. So the slip is said (the most any fault struck after its planned time), and a fault more
than `LATE` seconds after its time is counted late. A fault whose every node was declared down
(left_down.py), or that would have held down more nodes than the run may with those, is skipped
and never strikes; its reason is kept.

Which counts decide a run vacuous is meshcheck/exercise.py's rule (one word for a run that
exercised too little): carried out are the faults that struck, late or not; under `--strict`
(cluster test) a late fault is not counted carried out (docs/vacuous-runs.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import attrs

from meshcheck import words
from meshcheck.cluster import nemesis

LATE = 1.0  # seconds after its planned time: a fault that struck later is late


@attrs.frozen
class Kept:
    """One planned fault as it went: `at`, when it struck (None: it never did), `why` it was
    skipped (empty: it struck)."""

    fault: nemesis.Fault
    at: float | None
    why: str = ""

    @property
    def slip(self) -> float:
        """Seconds it struck after its planned time (0 for one skipped)."""
        return 0.0 if self.at is None else max(0.0, self.at - self.fault.at)

    @property
    def late(self) -> bool:
        return self.slip > LATE


@attrs.frozen
class FaultAccount:
    """The plan's faults counted: `planned`, `struck` (carried out, late or not), `late` (of
    those, more than LATE seconds after their time), `skipped` with their reasons, each reason
    with its count, and `slip`, the most any fault struck after its time."""

    planned: int
    struck: int
    late: int
    skipped: tuple[tuple[str, int], ...]
    slip: float

    @property
    def skipped_count(self) -> int:
        return sum(n for _, n in self.skipped)

    def line(self) -> str:
        """ "4 planned: 1 carried out (1 late, up to 4.57 s after its time), 3 skipped (3 on r1: 1
        declared down already)"; "" when nothing was planned."""
        if not self.planned:
            return ""
        said = f"{words.count(self.planned, 'fault')} planned: {self.struck} carried out"
        if self.late:
            said += f" ({self.late} late, up to {self.slip:.2f} s after its time)"
        elif self.slip > 0:
            said += f" (on time: at most {self.slip:.2f} s after)"
        if self.skipped:
            reasons = "; ".join(f"{n}: {why}" for why, n in self.skipped)
            said += f", {self.skipped_count} skipped ({reasons})"
        unknown = self.planned - self.struck - self.skipped_count
        if unknown:
            said += f", {unknown} never due (the run ended first)"
        return said


def account(kept: Sequence[Kept], planned: int) -> FaultAccount:
    """The account of `planned` faults from what strike.py kept of them."""
    struck = [k for k in kept if k.at is not None]
    reasons = Counter(k.why or "no reason given" for k in kept if k.at is None)
    return FaultAccount(
        planned,
        len(struck),
        sum(1 for k in struck if k.late),
        tuple(sorted(reasons.items(), key=lambda r: (-r[1], r[0]))),
        max((k.slip for k in struck), default=0.0),
    )
