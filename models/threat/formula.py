"""impl/hybrid/levels.py in Z3: `demanded`, `step` and the protocol table as terms over unbounded integers.

Levels are the integers 0..4 (`Level`'s own values), counts, quiet, dwell and the thresholds are symbolic
integers constrained only as `Thresholds` and `Counts` validate them (`SymThresholds.valid`,
`SymCounts.valid`). `demanded` and `step` below follow levels.py branch by branch, in the same order, so a
reader can hold them side by side; tests/test_hybrid_levels.py checks that they agree on random and on
exhaustive small inputs by substituting values into these very terms (`demanded_of`, `step_of`).

The mutants of the level function (`bugs`) are switched here, at the one place each rule lives.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import attrs
import z3

from meshcheck.impl.hybrid import levels
from meshcheck.impl.hybrid.levels import Counts
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.models.threat.bugs import DEESCALATE_CRITICAL_TO_NONE
from meshcheck.models.threat.bugs import EQUIVOCATION_IS_LOW
from meshcheck.models.threat.bugs import check_bugs

NONE, LOW, MEDIUM, HIGH, CRITICAL = (z3.IntVal(int(v)) for v in Level)

# The protocol a level runs, as a Z3 value. `UNDEFINED` is what the table gives a level it does not list:
# `protocol_total` proves no level 0..4 gets it.
Protocol, (RAFT, BFT, UNDEFINED) = z3.EnumSort(
    "ThreatProtocol", (levels.RAFT, levels.BFT, "undefined")
)
_PROTOCOLS = {levels.RAFT: RAFT, levels.BFT: BFT}


@attrs.frozen
class SymThresholds:
    """`levels.Thresholds` with symbolic fields (window plays no part in `step`: it decides the counts)."""

    sig_medium: Any
    sig_high: Any
    timing_medium: Any
    quiet: Any
    dwell: Any
    window: Any

    @classmethod
    def named(cls) -> SymThresholds:
        """Integer constants named as the spec's constants (SigMedium, ...)."""
        names = ("SigMedium", "SigHigh", "TimingMedium", "Quiet", "Dwell", "Window")
        return cls(*z3.Ints(" ".join(names)))

    def valid(self) -> tuple[Any, ...]:
        """What `Thresholds.__attrs_post_init__` accepts, and nothing more."""
        return (
            self.sig_medium >= 1,
            self.sig_medium <= self.sig_high,
            self.timing_medium >= 1,
            self.quiet >= 0,
            self.dwell >= 0,
            self.window >= 0,
        )

    def shown(self) -> tuple[tuple[str, Any], ...]:
        return (
            ("SigMedium", self.sig_medium),
            ("SigHigh", self.sig_high),
            ("TimingMedium", self.timing_medium),
            ("Quiet", self.quiet),
            ("Dwell", self.dwell),
        )


@attrs.frozen
class SymCounts:
    """`levels.Counts` with symbolic fields."""

    bad_signature: Any
    tampering: Any
    equivocation: Any
    timing: Any

    @classmethod
    def named(cls, suffix: str = "") -> SymCounts:
        return cls(*(z3.Int(k + suffix) for k in levels.KINDS))

    @classmethod
    def zero(cls) -> SymCounts:
        return cls(*(z3.IntVal(0) for _ in levels.KINDS))

    def fields(self) -> tuple[Any, ...]:
        return (self.bad_signature, self.tampering, self.equivocation, self.timing)

    def valid(self) -> tuple[Any, ...]:
        return tuple(x >= 0 for x in self.fields())

    def at_most(self, other: SymCounts) -> Any:
        """Componentwise <=: `other` has at least as much evidence of every kind."""
        return z3.And(*(a <= b for a, b in zip(self.fields(), other.fields(), strict=True)))

    def shown(self, suffix: str = "") -> tuple[tuple[str, Any], ...]:
        return tuple((k + suffix, x) for k, x in zip(levels.KINDS, self.fields(), strict=True))


def is_level(x: Any) -> Any:
    return z3.And(x >= int(Level.NONE), x <= int(Level.CRITICAL))


def demanded(c: SymCounts, th: SymThresholds, bugs: Iterable[str] = ()) -> Any:
    """levels.demanded, branch by branch."""
    bugs = check_bugs(bugs)
    equivocation = LOW if EQUIVOCATION_IS_LOW in bugs else CRITICAL
    return z3.If(
        c.equivocation >= 1,
        equivocation,
        z3.If(
            z3.Or(c.tampering >= 1, c.bad_signature >= th.sig_high),
            HIGH,
            z3.If(
                z3.Or(c.bad_signature >= th.sig_medium, c.timing >= th.timing_medium),
                MEDIUM,
                z3.If(z3.Or(c.bad_signature >= 1, c.timing >= 1), LOW, NONE),
            ),
        ),
    )


def step(
    level: Any, c: SymCounts, quiet: Any, dwell: Any, th: SymThresholds, bugs: Iterable[str] = ()
) -> Any:
    """levels.step, branch by branch: escalate at once; drop one level after quiet and dwell."""
    bugs = check_bugs(bugs)
    need = demanded(c, th, bugs)
    drop = level - 1
    if DEESCALATE_CRITICAL_TO_NONE in bugs:
        drop = z3.If(level == CRITICAL, NONE, drop)
    return z3.If(
        need > level,
        need,
        z3.If(z3.And(level > need, quiet >= th.quiet, dwell >= th.dwell), drop, level),
    )


def domain(level: Any, c: SymCounts, quiet: Any, dwell: Any, th: SymThresholds) -> tuple[Any, ...]:
    """The inputs `levels.step` accepts without raising LevelError."""
    return (is_level(level), *c.valid(), quiet >= 0, dwell >= 0, *th.valid())


def protocol(level: Any, table: Mapping[Level, str] = levels.PROTOCOL) -> Any:
    """The protocol `table` (levels.PROTOCOL: read here, never copied) gives `level`, as a Z3 term."""
    term: Any = UNDEFINED
    for lv, name in table.items():
        term = z3.If(level == int(lv), _PROTOCOLS.get(name, UNDEFINED), term)
    return term


# --- the formula evaluated on concrete inputs (what the tests compare levels.py with) ---------------


@attrs.frozen(eq=False)
class _Symbolic:
    level: Any
    counts: SymCounts
    quiet: Any
    dwell: Any
    th: SymThresholds
    demanded: Any
    step: Any


@functools.cache
def _symbolic(bugs: frozenset[str]) -> _Symbolic:
    level, quiet, dwell = z3.Ints("level quiet dwell")
    c, th = SymCounts.named(), SymThresholds.named()
    return _Symbolic(
        level, c, quiet, dwell, th, demanded(c, th, bugs), step(level, c, quiet, dwell, th, bugs)
    )


def _bindings(s: _Symbolic, counts: Counts, th: Thresholds) -> list[tuple[Any, Any]]:
    pairs = [
        (s.counts.bad_signature, counts.bad_signature),
        (s.counts.tampering, counts.tampering),
        (s.counts.equivocation, counts.equivocation),
        (s.counts.timing, counts.timing),
        (s.th.sig_medium, th.sig_medium),
        (s.th.sig_high, th.sig_high),
        (s.th.timing_medium, th.timing_medium),
        (s.th.quiet, th.quiet),
        (s.th.dwell, th.dwell),
        (s.th.window, th.window),
    ]
    return [(var, z3.IntVal(v)) for var, v in pairs]


def _value(term: Any, bindings: list[tuple[Any, Any]]) -> Level:
    v = z3.simplify(z3.substitute(term, *bindings))
    if not z3.is_int_value(v):
        raise ValueError(f"the formula did not reduce to a level: {v}")
    return Level(v.as_long())


def demanded_of(counts: Counts, th: Thresholds, bugs: Iterable[str] = ()) -> Level:
    """The formula's `demanded` with these values substituted (what levels.demanded must answer)."""
    s = _symbolic(check_bugs(bugs))
    return _value(s.demanded, _bindings(s, counts, th))


def step_of(
    level: Level,
    counts: Counts,
    quiet: int,
    dwell: int,
    th: Thresholds,
    bugs: Iterable[str] = (),
) -> Level:
    """The formula's `step` with these values substituted (what levels.step must answer)."""
    s = _symbolic(check_bugs(bugs))
    bindings = [
        *_bindings(s, counts, th),
        (s.level, z3.IntVal(int(level))),
        (s.quiet, z3.IntVal(quiet)),
        (s.dwell, z3.IntVal(dwell)),
    ]
    return _value(s.step, bindings)
