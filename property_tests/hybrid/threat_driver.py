"""Drive impl/hybrid's `ThreatModel` through a step of specs/ThreatLevel.tla, and map it back.

The spec is one replicated threat state: committed evidence records and the replicated time. The
driver holds one `ThreatModel` (the value every honest node computes from the committed history)
and feeds it the same inputs:

    ReportEvidence(i, k)   `intake` of a record of kind k from reporter i, accusing a Byzantine
                           node, at the current time. Every record checks out here (`verify`
                           accepts it: proofs are tests/test_hybrid_impl.py's concern); a
                           self-proving record carries a proof of its own (one token per record),
                           so two of them count as two pieces, as the spec's records do.
    Tick                   one clock report one tick past the replicated time. The model is built
                           with f = 0, so one report moves the time (the (f+1)-th highest report:
                           tests/test_hybrid_threat.py checks that rule for f >= 1); every input
                           is one step of `levels.step`, as every spec action applies `Step` once.

The refinement mapping: `level` the level's title, `now`, `reports` as
`[kind, reporter, at]` records of the accepted evidence, `enteredAt`; `peak` is the spec's ghost,
which the driver keeps: the highest level `levels.demanded` gave for the model's own counts after
any step (so a model that miscounts evidence shows in `peak` as well as in `level`).

The thresholds are the model's constants, the window included: both keep a record while
`now - at <= Window`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid.levels import SELF_PROVING
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.impl.hybrid.levels import demanded
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.hybrid.threat import ThreatModel
from meshcheck.property_tests.hybrid.model import DriverError
from meshcheck.specs.tlc.cfg import read_cfg

CLOCK = "clock"  # the one clock source of the driver's model


@functools.cache
def thresholds(config: Path) -> tuple[Thresholds, tuple[str, ...]]:
    """The model's thresholds as levels.Thresholds, and its Byzantine reporters (read once per
    model: every lockstep example starts a driver)."""
    c = read_cfg(config).values()
    th = Thresholds(
        sig_medium=c["SigMedium"],
        sig_high=c["SigHigh"],
        timing_medium=c["TimingMedium"],
        quiet=c["Quiet"],
        dwell=c["Dwell"],
        window=c["Window"],
    )
    return th, tuple(sorted(c["Byzantine"]))


class ThreatDriver:
    """A ThreatModel that takes ThreatLevel.tla's steps."""

    def __init__(self, config: Path, bugs: frozenset[str] = frozenset()) -> None:
        th, byzantine = thresholds(config)
        if not byzantine:
            raise DriverError("the threat lockstep model needs a Byzantine reporter to accuse")
        self.accused = byzantine[0]
        self.model = ThreatModel(f=0, th=th, bugs=bugs)
        self.peak = Level.NONE
        self.proofs = 0

    def take(self, action: str, params: FrozenDict) -> None:
        if action == "ReportEvidence":
            self._report(str(params["i"]), str(params["k"]))
        elif action == "Tick":
            self.model = self.model.clock(CLOCK, self.model.now + 1)
        else:
            raise DriverError(f"ThreatLevel.tla has no action {action}")
        self.peak = max(self.peak, demanded(self.model.counts(), self.model.th))

    def _report(self, reporter: str, kind: str) -> None:
        self.proofs += 1
        proof: tuple[Any, ...] = (f"proof {self.proofs}",) if kind in SELF_PROVING else ()
        record = Evidence(kind, reporter, self.accused, proof, self.model.now)
        self.model, outcome = self.model.intake(record, lambda _record: True)
        if outcome != "accepted":
            raise DriverError(f"the threat model did not take {record}: {outcome}")

    def state(self) -> FrozenDict:
        """The refinement mapping (see the module doc)."""
        m = self.model
        reports = frozenset(
            FrozenDict({"kind": a.record.kind, "reporter": a.record.reporter, "at": a.at})
            for a in m.records
        )
        return FrozenDict(
            {
                "level": m.level.title,
                "now": m.now,
                "reports": reports,
                "enteredAt": m.entered_at,
                "peak": self.peak.title,
            }
        )
