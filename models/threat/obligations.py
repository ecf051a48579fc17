"""The level transition function's obligations, each proved over every input, and the replicated clock.

Every lemma quantifies over every level 0..4, every count of every evidence kind, every quiet and dwell
time and every threshold that `Thresholds` accepts: all are unbounded integers, so one proof covers what
TLC (specs/ThreatLevel.tla) can only sample. A counterexample gives the smallest failing input it can.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import Literal

import z3

from meshcheck.impl.hybrid import levels
from meshcheck.impl.hybrid.levels import Level
from meshcheck.models.proof import Lemma
from meshcheck.models.threat.bugs import check_bugs
from meshcheck.models.threat.formula import BFT
from meshcheck.models.threat.formula import CRITICAL
from meshcheck.models.threat.formula import HIGH
from meshcheck.models.threat.formula import NONE
from meshcheck.models.threat.formula import RAFT
from meshcheck.models.threat.formula import UNDEFINED
from meshcheck.models.threat.formula import SymCounts
from meshcheck.models.threat.formula import SymThresholds
from meshcheck.models.threat.formula import demanded
from meshcheck.models.threat.formula import domain
from meshcheck.models.threat.formula import is_level
from meshcheck.models.threat.formula import protocol
from meshcheck.models.threat.formula import step

# How many steps of `step` the de-escalation unrolling takes: Critical down to None, one level each.
DEESCALATION_STEPS = int(Level.CRITICAL) - int(Level.NONE)


class Inputs:
    """One symbolic input of `step` (and a second counts vector and level for the monotonicity claims)."""

    def __init__(self, bugs: frozenset[str] = frozenset()) -> None:
        self.bugs = bugs
        self.level, self.level2, self.quiet, self.dwell = z3.Ints("level level' quiet dwell")
        self.c, self.c2 = SymCounts.named(), SymCounts.named("'")
        self.th = SymThresholds.named()
        self.need = demanded(self.c, self.th, bugs)
        self.next = self.step(self.level, self.c)

    def step(self, level: Any, c: SymCounts) -> Any:
        return step(level, c, self.quiet, self.dwell, self.th, self.bugs)

    def domain(self) -> tuple[Any, ...]:
        return domain(self.level, self.c, self.quiet, self.dwell, self.th)

    def shown(self, *extra: tuple[str, Any]) -> tuple[tuple[str, Any], ...]:
        return (
            ("level", self.level),
            *self.c.shown(),
            ("quiet", self.quiet),
            ("dwell", self.dwell),
            *self.th.shown(),
            ("demanded", self.need),
            ("next", self.next),
            *extra,
        )

    def evidence(self) -> Any:
        """A small term to minimise: the counterexample with the least evidence reads best."""
        return z3.Sum(*self.c.fields(), self.level)


def _lemma(
    x: Inputs, name: str, statement: str, conclusion: Any, *extra: Any, shown: Any = ()
) -> Lemma:
    return Lemma(
        name=f"threat.{name}",
        statement=statement,
        hypotheses=(*x.domain(), *extra),
        conclusion=conclusion,
        shown=x.shown(*shown),
        minimize=x.evidence(),
    )


def step_in_range(x: Inputs) -> Lemma:
    return _lemma(x, "step_in_range", "step gives a level 0..4", is_level(x.next))


def demanded_monotone(x: Inputs) -> Lemma:
    return _lemma(
        x,
        "demanded_monotone",
        "counts <= counts' => demanded <= demanded'",
        demanded(x.c, x.th, x.bugs) <= demanded(x.c2, x.th, x.bugs),
        *x.c2.valid(),
        x.c.at_most(x.c2),
        shown=(*x.c2.shown("'"), ("demanded'", demanded(x.c2, x.th, x.bugs))),
    )


def escalation_monotone_in_evidence(x: Inputs) -> Lemma:
    """More evidence of any kind never gives a lower next level (same level, same timers)."""
    return _lemma(
        x,
        "escalation_monotone_in_evidence",
        "counts <= counts' => step(level, counts) <= step(level, counts')",
        x.next <= x.step(x.level, x.c2),
        *x.c2.valid(),
        x.c.at_most(x.c2),
        shown=(*x.c2.shown("'"), ("next'", x.step(x.level, x.c2))),
    )


def escalation_monotone_in_level(x: Inputs) -> Lemma:
    """A higher current level never gives a lower next level (same evidence, same timers)."""
    return _lemma(
        x,
        "escalation_monotone_in_level",
        "level <= level' => step(level) <= step(level')",
        x.next <= x.step(x.level2, x.c),
        is_level(x.level2),
        x.level <= x.level2,
        shown=(("level'", x.level2), ("next'", x.step(x.level2, x.c))),
    )


def escalation_immediate(x: Inputs) -> Lemma:
    """Below what the evidence demands, one step reaches it; the level rises only to what is demanded."""
    return _lemma(
        x,
        "escalation_immediate",
        "demanded > level => next = demanded; next > level => next = demanded",
        z3.And(
            z3.Implies(x.need > x.level, x.next == x.need),
            z3.Implies(x.next > x.level, x.next == x.need),
        ),
    )


def never_below_demanded(x: Inputs) -> Lemma:
    return _lemma(x, "never_below_demanded", "next >= demanded", x.next >= x.need)


def deescalation_one_level(x: Inputs) -> Lemma:
    return _lemma(x, "deescalation_one_level", "next >= level - 1", x.next >= x.level - 1)


def deescalation_after_quiet_and_dwell(x: Inputs) -> Lemma:
    return _lemma(
        x,
        "deescalation_after_quiet_and_dwell",
        "next < level => quiet >= Quiet and dwell >= Dwell",
        z3.Implies(x.next < x.level, z3.And(x.quiet >= x.th.quiet, x.dwell >= x.th.dwell)),
    )


def critical_needs_equivocation(x: Inputs) -> Lemma:
    return _lemma(
        x,
        "critical_needs_equivocation",
        "level < Critical, next = Critical => equivocation >= 1",
        z3.Implies(z3.And(x.level < CRITICAL, x.next == CRITICAL), x.c.equivocation >= 1),
    )


def bft_needs_evidence(x: Inputs) -> Lemma:
    """A Raft level moves to a BFT one only on self-proving evidence or SigHigh bad-signature reporters."""
    return _lemma(
        x,
        "bft_needs_evidence",
        "level < High, next >= High => tampering, equivocation or bad_signature >= SigHigh",
        z3.Implies(
            z3.And(x.level < HIGH, x.next >= HIGH),
            z3.Or(x.c.tampering >= 1, x.c.equivocation >= 1, x.c.bad_signature >= x.th.sig_high),
        ),
    )


def f_byzantine_cannot_force_bft(x: Inputs, sig_high: Literal["f+1", "f"] = "f+1") -> Lemma:
    """With SigHigh = f+1, f Byzantine reporters (at most f bad-signature reports, any timing reports, no
    self-proving evidence: that only the accused can produce) keep a Raft level at a Raft level.
    (`levels.Thresholds.for_f` sets SigHigh = f+1; with SigHigh = f the claim fails.)"""
    f = z3.Int("f")
    return _lemma(
        x,
        "f_byzantine_cannot_force_bft",
        f"SigHigh = {sig_high}, bad_signature <= f, no tampering or equivocation, level < High "
        "=> next < High",
        x.next < HIGH,
        f >= 0,
        x.th.sig_high == (f + 1 if sig_high == "f+1" else f),
        x.c.bad_signature <= f,
        x.c.tampering == 0,
        x.c.equivocation == 0,
        x.level < HIGH,
        shown=(("f", f),),
    )


def self_proving_evidence_suffices(x: Inputs) -> Lemma:
    """One piece of self-proving evidence escalates on its own, from any level, whatever the timers: f
    Byzantine nodes cannot hold the level down once it is committed."""
    return _lemma(
        x,
        "self_proving_evidence_suffices",
        "equivocation >= 1 => next = Critical; tampering >= 1 => next >= High",
        z3.And(
            z3.Implies(x.c.equivocation >= 1, x.next == CRITICAL),
            z3.Implies(x.c.tampering >= 1, x.next >= HIGH),
        ),
    )


def deescalation_reaches_none(x: Inputs, steps: int = DEESCALATION_STEPS) -> Lemma:
    """Liveness of de-escalation, unrolled: without evidence, with the quiet period and the dwell passed
    before each step, any level reaches None within `steps` steps (DEESCALATION_STEPS: the least)."""
    quiets = [z3.Int(f"quiet{k}") for k in range(steps)]
    dwells = [z3.Int(f"dwell{k}") for k in range(steps)]
    zero = SymCounts.zero()
    trail = [x.level]
    for q, d in zip(quiets, dwells, strict=True):
        trail.append(step(trail[-1], zero, q, d, x.th, x.bugs))
    timers = [z3.And(q >= x.th.quiet, d >= x.th.dwell) for q, d in zip(quiets, dwells, strict=True)]
    return Lemma(
        name="threat.deescalation_reaches_none",
        statement=f"no evidence, quiet and dwell passed => None within {steps} steps",
        hypotheses=(is_level(x.level), *x.th.valid(), *timers),
        conclusion=trail[-1] == NONE,
        shown=(*((f"level{k}", lv) for k, lv in enumerate(trail)), *x.th.shown()),
        minimize=x.level,
    )


Table = Mapping[Level, str]


def protocol_total(x: Inputs, table: Table = levels.PROTOCOL) -> Lemma:
    return Lemma(
        name="threat.protocol_total",
        statement="PROTOCOL gives raft or bft to every level 0..4",
        hypotheses=(is_level(x.level),),
        conclusion=protocol(x.level, table) != UNDEFINED,
        shown=(("level", x.level), ("protocol", protocol(x.level, table))),
    )


def protocol_matches_levels(x: Inputs, table: Table = levels.PROTOCOL) -> Lemma:
    return Lemma(
        name="threat.protocol_matches_levels",
        statement="PROTOCOL: None, Low, Medium run raft; High, Critical run bft",
        hypotheses=(is_level(x.level),),
        conclusion=protocol(x.level, table) == z3.If(x.level >= HIGH, BFT, RAFT),
        shown=(("level", x.level), ("protocol", protocol(x.level, table))),
    )


def protocol_monotone(x: Inputs, table: Table = levels.PROTOCOL) -> Lemma:
    return Lemma(
        name="threat.protocol_monotone",
        statement="level <= level', PROTOCOL(level) = bft => PROTOCOL(level') = bft",
        hypotheses=(is_level(x.level), is_level(x.level2), x.level <= x.level2),
        conclusion=z3.Implies(protocol(x.level, table) == BFT, protocol(x.level2, table) == BFT),
        shown=(
            ("level", x.level),
            ("level'", x.level2),
            ("protocol", protocol(x.level, table)),
            ("protocol'", protocol(x.level2, table)),
        ),
    )


Rank = Literal["f+1", "f"]


def replicated_clock(rank: Rank = "f+1", reports: Literal["2f+1", "2f"] = "2f+1") -> Lemma:
    """The replicated time, the (f+1)-th highest of n >= 2f+1 clock reports of which at most f are
    Byzantine (any value), lies between the lowest and the highest honest report, for every f.

    As in pbft.py's quorum lemmas, the reports are counted by region instead of listed: honest (h) or
    Byzantine (b), above (>), at (=) or below (<) the chosen time t. t is the (f+1)-th highest exactly
    when at most f reports are above it and at least f+1 are at or above it (then one report is t). Any
    multiset of reports gives such counts, so a claim over the six counts covers every report vector.
    "An honest report at or above t" is max(honest) >= t; "one at or below t" is min(honest) <= t.
    """
    f, n = z3.Ints("f n")
    ha, he, hb, ba, be, bb = z3.Ints("h> h= h< b> b= b<")
    k = f + 1 if rank == "f+1" else f  # t is the k-th highest report
    return Lemma(
        name="threat.replicated_clock",
        statement=f"the ({rank})-th highest of n >= {reports} reports, <= f Byzantine, "
        "is within the honest reports, all f",
        hypotheses=(
            f >= 0,
            n >= (2 * f + 1 if reports == "2f+1" else 2 * f),
            n >= 1,
            k >= 1,
            *(x >= 0 for x in (ha, he, hb, ba, be, bb)),
            ha + he + hb + ba + be + bb == n,
            ba + be + bb <= f,
            ha + ba <= k - 1,
            ha + he + ba + be >= k,
        ),
        conclusion=z3.And(ha + he >= 1, he + hb >= 1),
        shown=(
            ("f", f),
            ("n", n),
            ("honest above t", ha),
            ("honest at t", he),
            ("honest below t", hb),
            ("byzantine above t", ba),
            ("byzantine at t", be),
            ("byzantine below t", bb),
        ),
        minimize=n,
    )


def lemmas(bugs: Iterable[str] = (), table: Table = levels.PROTOCOL) -> list[Lemma]:
    """Every obligation of the level function, in table order (`table`: the protocol table to prove,
    levels.PROTOCOL unless a test hands a broken one)."""
    x = Inputs(check_bugs(bugs))
    return [
        step_in_range(x),
        demanded_monotone(x),
        escalation_monotone_in_evidence(x),
        escalation_monotone_in_level(x),
        escalation_immediate(x),
        never_below_demanded(x),
        deescalation_one_level(x),
        deescalation_after_quiet_and_dwell(x),
        critical_needs_equivocation(x),
        bft_needs_evidence(x),
        f_byzantine_cannot_force_bft(x),
        self_proving_evidence_suffices(x),
        deescalation_reaches_none(x),
        protocol_total(x, table),
        protocol_matches_levels(x, table),
        protocol_monotone(x, table),
        replicated_clock(),
    ]
