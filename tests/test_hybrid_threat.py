"""ThreatModel: intake with verification and dedup, counting by reporter, the replicated clock, quiet
and dwell, one step of levels.step per input, and the two threat-level mutants."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from meshcheck.impl.base import probes
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.levels import TIMING
from meshcheck.impl.hybrid.levels import Counts
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import LevelError
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.impl.hybrid.threat import ACCEPTED
from meshcheck.impl.hybrid.threat import DUPLICATE
from meshcheck.impl.hybrid.threat import REFUSED
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.hybrid.threat import ThreatModel


def ok(_record: Evidence) -> bool:
    return True


def no(_record: Evidence) -> bool:
    return False


def rec(kind: str, reporter: str, accused: str = "n4", msgs: tuple[str, ...] = ("m",)) -> Evidence:
    return Evidence(kind, reporter, accused, msgs, time=0)


def tick_all(
    tm: ThreatModel, t: int, nodes: tuple[str, ...] = ("n1", "n2", "n3", "n4")
) -> ThreatModel:
    for n in nodes:
        tm = tm.clock(n, t)
    return tm


def test_refused_records_do_not_count() -> None:
    tm = ThreatModel.for_f(1)
    tm, outcome = tm.intake(rec(EQUIVOCATION, "n1"), no)
    assert outcome == REFUSED and tm.refused == 1 and tm.level == Level.NONE
    tm, outcome = tm.intake(rec("gossip", "n1"), ok)  # not a kind at all
    assert outcome == REFUSED and tm.refused == 2 and not tm.records


def test_equivocation_is_critical_at_once_and_deduplicated_across_reporters() -> None:
    tm = ThreatModel.for_f(1)
    tm, outcome = tm.intake(rec(EQUIVOCATION, "n1", msgs=("a", "b")), ok)
    assert outcome == ACCEPTED and tm.level == Level.CRITICAL
    # the same proof from another reporter, messages in the other order: one piece
    tm, outcome = tm.intake(rec(EQUIVOCATION, "n2", msgs=("b", "a")), ok)
    assert outcome == DUPLICATE and tm.counts().equivocation == 1
    tm, outcome = tm.intake(rec(EQUIVOCATION, "n3", msgs=("a", "b")), ok)
    assert outcome == DUPLICATE and tm.duplicates == 2 and len(tm.records) == 1
    assert tm.history == ((0, Level.NONE), (0, Level.CRITICAL))  # None from time 0, then at 0


def test_tampering_counts_by_distinct_proof() -> None:
    """Tampering is self-proving: each proof counts once, from whoever reports it, and two
    proofs from one reporter count two (levels.py: one piece stands on its own)."""
    tm = ThreatModel.for_f(1)
    tm, _ = tm.intake(rec(TAMPERING, "n1", msgs=("a",)), ok)
    tm, _ = tm.intake(rec(TAMPERING, "n1", msgs=("b",)), ok)
    tm, outcome = tm.intake(rec(TAMPERING, "n2", msgs=("a",)), ok)
    assert outcome == DUPLICATE
    assert tm.counts() == Counts(tampering=2) and tm.level == Level.HIGH


def test_bad_signatures_count_by_distinct_reporter() -> None:
    tm = ThreatModel.for_f(1)  # sig_medium = sig_high = 2
    for k in range(5):  # one reporter, five different messages: still one reporter
        tm, _ = tm.intake(rec(BAD_SIGNATURE, "n4", "n1", (f"m{k}",)), ok)
    assert tm.counts().bad_signature == 1 and tm.level == Level.LOW
    tm, _ = tm.intake(rec(BAD_SIGNATURE, "n2", "n1"), ok)
    assert tm.counts().bad_signature == 2 and tm.level == Level.HIGH
    # the metrics count accepted records, not reporters: six of one kind, none of the others
    assert tm.evidence_by_kind() == {BAD_SIGNATURE: 6, TAMPERING: 0, EQUIVOCATION: 0, TIMING: 0}


def test_timing_needs_timing_medium_reporters_for_medium() -> None:
    tm = ThreatModel.for_f(1)
    for reporter in ("n1", "n2"):
        tm, _ = tm.intake(rec(TIMING, reporter), ok)
    assert tm.level == Level.LOW
    tm, _ = tm.intake(rec(TIMING, "n3"), ok)
    assert tm.level == Level.MEDIUM
    # thresholds given to for_f are the ones the level follows
    tm = ThreatModel.for_f(1, timing_medium=2)
    for reporter in ("n1", "n2"):
        tm, _ = tm.intake(rec(TIMING, reporter), ok)
    assert tm.level == Level.MEDIUM


def test_f_of_zero_is_allowed_and_a_negative_f_is_refused_naming_it() -> None:
    with pytest.raises(LevelError, match=r"^f must not be negative, got -1$"):
        ThreatModel(f=-1, th=Thresholds())
    # f = 0 (no fault tolerated, property_tests/hybrid/threat_driver.py): one reporter is enough
    tm, _ = ThreatModel(f=0, th=Thresholds.for_f(0)).intake(rec(BAD_SIGNATURE, "n1"), ok)
    assert tm.level == Level.HIGH


def test_replicated_clock_is_the_f_plus_1th_highest_report() -> None:
    tm = ThreatModel.for_f(1)
    tm = tm.clock("n4", 10_000)  # one (maybe Byzantine) node alone cannot move time
    assert tm.now == 0
    tm = tm.clock("n1", 40)
    assert tm.now == 40
    tm = tm.clock("n1", 30)  # older than n1's latest: ignored
    assert tm.clock("n1", 30).clocks["n1"] == 40
    # a node's first report counts however early; a time below 0 (only a Byzantine node signs
    # one) leaves the replicated state as it was
    fresh = ThreatModel.for_f(1)
    assert fresh.clock("n1", 1).clock("n2", 1).now == 1
    assert fresh.clock("n3", -1) == fresh
    tm = tm.clock("n2", 60)
    assert tm.now == 60


def test_deescalation_one_level_after_quiet_window_and_dwell() -> None:
    th = Thresholds.for_f(1)
    tm = ThreatModel.for_f(1)
    tm = tick_all(tm, 10)
    tm, _ = tm.intake(rec(TAMPERING, "n1"), ok)
    assert tm.level == Level.HIGH and tm.entered_at == 10
    # inside the window (at most `window` old) the evidence still demands High
    tm = tick_all(tm, 10 + th.window)
    assert tm.level == Level.HIGH
    tm = tick_all(tm, 10 + th.window + 1)
    assert tm.level == Level.MEDIUM  # one level, and only one per input
    entered = tm.entered_at
    tm = tick_all(tm, entered + th.dwell - 1)
    assert tm.level == Level.MEDIUM
    tm = tick_all(tm, entered + th.dwell)
    assert tm.level == Level.LOW
    levels = [lv for _, lv in tm.history]
    assert levels == [Level.NONE, Level.HIGH, Level.MEDIUM, Level.LOW]
    # every drop is exactly one level
    assert all(a - b in (-4, -3, -2, -1, 1) for a, b in itertools.pairwise(levels))


def test_a_level_drops_only_after_the_quiet_time_since_the_last_evidence() -> None:
    """`quiet` runs from the last accepted evidence, not from time 0: with a window of 0 the
    tampering stops counting one tick after it came, and High still holds for `quiet` ticks."""
    tm = tick_all(ThreatModel.for_f(1, quiet=50, dwell=0, window=0), 100)
    tm, _ = tm.intake(rec(TAMPERING, "n1"), ok)
    assert (tm.level, tm.last_evidence, tm.quiet) == (Level.HIGH, 100, 0)
    tm = tick_all(tm, 149)
    assert tm.level == Level.HIGH and tm.quiet == 49
    tm = tick_all(tm, 150)  # then one level per input (dwell 0)
    assert tm.history[:3] == ((0, Level.NONE), (100, Level.HIGH), (150, Level.MEDIUM))


def test_the_deescalation_probe_fires_at_each_drop_and_nowhere_else() -> None:
    """`deescalation`, a rare condition of the coverage report (property_tests/hybrid/coverage.py):
    counted once per level dropped, never for an escalation or an input that changes nothing."""
    listening = probes._hits is not None
    probes.listen()
    probes.drain()
    try:
        tm = tick_all(ThreatModel.for_f(1, quiet=50, dwell=0, window=0), 100)
        tm, _ = tm.intake(rec(TAMPERING, "n1"), ok)  # up to High
        tm = tick_all(tm, 149)  # the level stays
        assert probes.drain() == Counter()
        tm = tick_all(tm, 150)  # High, Medium, Low, None: three drops
        assert tm.level == Level.NONE
        assert probes.drain() == Counter({("hybrid", "deescalation"): 3})
    finally:
        if not listening:
            probes.stop()


def _deescalate_from_critical(bugs: frozenset[str]) -> list[Level]:
    tm = ThreatModel.for_f(1, bugs=bugs)
    tm, _ = tm.intake(rec(EQUIVOCATION, "n1"), ok)
    for t in range(0, 400, 10):
        tm = tick_all(tm, t)
    return [lv for _, lv in tm.history]


def test_critical_drops_one_level_at_a_time() -> None:
    levels = _deescalate_from_critical(frozenset())
    assert levels[:3] == [Level.NONE, Level.CRITICAL, Level.HIGH]
    assert all(b >= a - 1 for a, b in itertools.pairwise(levels))
    assert levels[-1] == Level.NONE


def test_mutant_deescalate_critical_to_none_is_caught() -> None:
    levels = _deescalate_from_critical(frozenset({mutants.DEESCALATE_CRITICAL_TO_NONE}))
    drops = [(a, b) for a, b in itertools.pairwise(levels) if b < a - 1]
    assert drops == [(Level.CRITICAL, Level.NONE)]


def test_mutant_equivocation_is_low_is_caught() -> None:
    tm = ThreatModel.for_f(1, bugs=frozenset({mutants.EQUIVOCATION_IS_LOW}))
    tm, _ = tm.intake(rec(EQUIVOCATION, "n1"), ok)
    assert tm.level == Level.LOW  # the check the honest model passes fails here
    honest, _ = ThreatModel.for_f(1).intake(rec(EQUIVOCATION, "n1"), ok)
    assert honest.level == Level.CRITICAL


@pytest.mark.parametrize("f", [1, 2])
def test_f_byzantine_reporters_stay_on_raft(f: int) -> None:
    """f reporters of bad signatures and timing anomalies, as many records as they like, and
    self-proving records that do not verify: the level stays at a Raft level."""
    tm = ThreatModel.for_f(f)
    liars = [f"n{k}" for k in range(1, f + 1)]
    for k in range(20):
        for liar in liars:
            tm, _ = tm.intake(rec(BAD_SIGNATURE, liar, "n9", (f"x{k}",)), ok)
            tm, _ = tm.intake(rec(TIMING, liar, "n9", (f"x{k}",)), ok)
            tm, _ = tm.intake(rec(EQUIVOCATION, liar, "n9", (f"x{k}",)), no)
    assert tm.level <= Level.MEDIUM and tm.refused == 20 * f
