"""impl/hybrid/levels.py, the threat-level table and transition function, against its Z3 formula
(models/threat/formula.py) and the properties models/threat proves of that formula.

The proofs hold for the formula; these tests check that the code is the formula: Hypothesis draws levels,
evidence counts, timers and thresholds and compares `levels.step` and `levels.demanded` with the formula
evaluated on the same values (by substitution into the very Z3 terms the proofs use), and small boxes are
compared exhaustively. The comparison is shown to catch wrong rules (Python mutants below), and the
proved properties are checked of the code itself.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import pytest
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.impl.hybrid import levels
from meshcheck.impl.hybrid.levels import Counts
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import LevelError
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.models import threat

StepFn = Callable[[Level, Counts, int, int, Thresholds], Level]
DemandedFn = Callable[[Counts, Thresholds], Level]


@st.composite
def thresholds(draw: st.DrawFn) -> Thresholds:
    """Any thresholds `Thresholds` accepts, small ones more often (where the branches meet)."""
    small = st.integers(1, 4)
    sig_medium = draw(st.one_of(small, st.integers(1, 50)))
    sig_high = sig_medium + draw(st.one_of(st.integers(0, 3), st.integers(0, 50)))
    return Thresholds(
        sig_medium=sig_medium,
        sig_high=sig_high,
        timing_medium=draw(st.one_of(small, st.integers(1, 50))),
        quiet=draw(st.integers(0, 200)),
        dwell=draw(st.integers(0, 200)),
        window=draw(st.integers(0, 500)),
    )


def _count() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 3), st.integers(0, 60))


@st.composite
def counts(draw: st.DrawFn) -> Counts:
    """Evidence counts; self-proving kinds absent half of the time, so the other branches get tried."""
    self_proving = draw(st.booleans())
    return Counts(
        bad_signature=draw(_count()),
        tampering=draw(_count()) if self_proving else 0,
        equivocation=draw(_count()) if self_proving and draw(st.booleans()) else 0,
        timing=draw(_count()),
    )


@st.composite
def inputs(draw: st.DrawFn) -> tuple[Level, Counts, int, int, Thresholds]:
    """A level, counts and timers near the thresholds (below, at, above) as often as anywhere."""
    th = draw(thresholds())
    near = st.sampled_from([-1, 0, 1])
    quiet = max(0, th.quiet + draw(near)) if draw(st.booleans()) else draw(st.integers(0, 300))
    dwell = max(0, th.dwell + draw(near)) if draw(st.booleans()) else draw(st.integers(0, 300))
    return draw(st.sampled_from(list(Level))), draw(counts()), quiet, dwell, th


# For a mutant: the same inputs every run (no flaky kill), and no shrinking (the failure is the point).
MUTANT = settings(derandomize=True, phases=(Phase.generate,))


def _step_agrees(step: StepFn, mutant: bool = False) -> Callable[[], None]:
    """A Hypothesis test: `step` gives what the Z3 formula gives, on 400 drawn inputs."""

    @settings(MUTANT if mutant else settings(), max_examples=400, deadline=None, database=None)
    @given(inputs())
    def check(case: tuple[Level, Counts, int, int, Thresholds]) -> None:
        level, c, quiet, dwell, th = case
        assert step(level, c, quiet, dwell, th) == threat.step_of(level, c, quiet, dwell, th), case

    return check


def _demanded_agrees(demanded: DemandedFn, mutant: bool = False) -> Callable[[], None]:
    @settings(MUTANT if mutant else settings(), max_examples=300, deadline=None, database=None)
    @given(counts(), thresholds())
    def check(c: Counts, th: Thresholds) -> None:
        assert demanded(c, th) == threat.demanded_of(c, th), (c, th)

    return check


def test_step_is_the_formula() -> None:
    _step_agrees(levels.step)()


def test_demanded_is_the_formula() -> None:
    _demanded_agrees(levels.demanded)()


# Exhaustive boxes: every level, count vector and timer position (below / at the threshold) for a few
# threshold sets, and every threshold set up to 3 for `demanded`.
BOX_COUNTS = [
    Counts(b, t, e, m) for b, t, e, m in itertools.product(range(4), range(2), range(2), range(4))
]
BOX_THRESHOLDS = [
    Thresholds.for_f(0, quiet=1, dwell=1),
    Thresholds.for_f(1, quiet=1, dwell=1, timing_medium=2),
    Thresholds.for_f(3, quiet=1, dwell=1),
    Thresholds(sig_medium=1, sig_high=3, timing_medium=1, quiet=1, dwell=1),
]


@pytest.mark.parametrize("th", BOX_THRESHOLDS, ids=repr)
def test_step_is_the_formula_on_a_box(th: Thresholds) -> None:
    checked = 0
    for level, c, quiet, dwell in itertools.product(Level, BOX_COUNTS, (0, 1), (0, 1)):
        assert levels.step(level, c, quiet, dwell, th) == threat.step_of(
            level, c, quiet, dwell, th
        ), (level, c, quiet, dwell)
        checked += 1
    assert checked == 5 * 64 * 4


def test_demanded_is_the_formula_for_every_small_threshold() -> None:
    checked = 0
    for sm, sh, tm in itertools.product(range(1, 4), range(1, 4), range(1, 4)):
        if sm > sh:
            continue
        th = Thresholds(sig_medium=sm, sig_high=sh, timing_medium=tm)
        for c in BOX_COUNTS:
            assert levels.demanded(c, th) == threat.demanded_of(c, th), (c, th)
            checked += 1
    assert checked == 6 * 3 * 64


# --- the comparison catches wrong rules ----------------------------------------------------------------


_DEMANDED = levels.demanded  # the code's rule, which a mutant below takes the place of


def _demanded_sig_high_exclusive(c: Counts, th: Thresholds) -> Level:
    """High on bad signatures only above SigHigh (an off-by-one)."""
    if c.equivocation == 0 and c.tampering == 0 and c.bad_signature == th.sig_high:
        return _DEMANDED(Counts(c.bad_signature - 1, 0, 0, c.timing), th)
    return _DEMANDED(c, th)


def _step_skips_levels(level: Level, c: Counts, quiet: int, dwell: int, th: Thresholds) -> Level:
    """De-escalation straight to what the evidence demands."""
    need = levels.demanded(c, th)
    if level > need and quiet >= th.quiet and dwell >= th.dwell:
        return need
    return levels.step(level, c, quiet, dwell, th)


def _step_ignores_dwell(level: Level, c: Counts, quiet: int, dwell: int, th: Thresholds) -> Level:
    return levels.step(level, c, quiet, max(dwell, th.dwell), th)


def _step_from_demanded(demanded: DemandedFn) -> StepFn:
    """`levels.step` itself, with `demanded` for the rule it calls."""

    def step(level: Level, c: Counts, quiet: int, dwell: int, th: Thresholds) -> Level:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(levels, "demanded", demanded)
            return levels.step(level, c, quiet, dwell, th)

    return step


@pytest.mark.parametrize(
    "mutant",
    [_step_skips_levels, _step_ignores_dwell, _step_from_demanded(_demanded_sig_high_exclusive)],
    ids=["skips_levels", "ignores_dwell", "sig_high_exclusive"],
)
def test_comparison_catches_a_wrong_step(mutant: StepFn) -> None:
    with pytest.raises(AssertionError):
        _step_agrees(mutant, mutant=True)()


def test_comparison_catches_a_wrong_demanded() -> None:
    with pytest.raises(AssertionError):
        _demanded_agrees(_demanded_sig_high_exclusive, mutant=True)()


@pytest.mark.parametrize("bug", [threat.EQUIVOCATION_IS_LOW, threat.DEESCALATE_CRITICAL_TO_NONE])
def test_the_mutant_formulas_differ_from_the_code(bug: str) -> None:
    """The formula's own mutants are what their names say, on one input each."""
    th = Thresholds()
    if bug == threat.EQUIVOCATION_IS_LOW:
        c = Counts(equivocation=1)
        assert threat.demanded_of(c, th, [bug]) is Level.LOW
        assert levels.demanded(c, th) is Level.CRITICAL
    else:
        args = (Level.CRITICAL, Counts(), th.quiet, th.dwell, th)
        assert threat.step_of(*args, bugs=[bug]) is Level.NONE
        assert levels.step(*args) is Level.HIGH


# --- the proved properties, of the code ------------------------------------------------------------


@st.composite
def more(draw: st.DrawFn, c: Counts) -> Counts:
    return Counts(
        *(
            x + draw(st.integers(0, 5))
            for x in (c.bad_signature, c.tampering, c.equivocation, c.timing)
        )
    )


@settings(max_examples=300, deadline=None)
@given(inputs(), st.data())
def test_more_evidence_or_a_higher_level_never_lowers_the_next_level(
    case: tuple[Level, Counts, int, int, Thresholds], data: st.DataObject
) -> None:
    level, c, quiet, dwell, th = case
    nxt = levels.step(level, c, quiet, dwell, th)
    c2 = data.draw(more(c))
    assert levels.step(level, c2, quiet, dwell, th) >= nxt
    assert levels.demanded(c2, th) >= levels.demanded(c, th)
    higher = data.draw(st.sampled_from([lv for lv in Level if lv >= level]))
    assert levels.step(higher, c, quiet, dwell, th) >= nxt


@settings(max_examples=300, deadline=None)
@given(inputs())
def test_escalation_is_immediate_and_deescalation_one_level_after_the_timers(
    case: tuple[Level, Counts, int, int, Thresholds],
) -> None:
    level, c, quiet, dwell, th = case
    need, nxt = levels.demanded(c, th), levels.step(level, c, quiet, dwell, th)
    assert nxt >= need
    if need > level:
        assert nxt == need
    if nxt > level:
        assert nxt == need
    if nxt < level:
        assert nxt == level - 1 and quiet >= th.quiet and dwell >= th.dwell
    if nxt >= Level.HIGH > level:
        assert c.tampering or c.equivocation or c.bad_signature >= th.sig_high
    if nxt is Level.CRITICAL and level < Level.CRITICAL:
        assert c.equivocation >= 1
    if c.equivocation:
        assert nxt is Level.CRITICAL
    if c.tampering:
        assert nxt >= Level.HIGH


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 20), st.sampled_from([Level.NONE, Level.LOW, Level.MEDIUM]), st.data())
def test_f_byzantine_reporters_cannot_force_bft(f: int, level: Level, data: st.DataObject) -> None:
    th = Thresholds.for_f(f)
    c = Counts(bad_signature=data.draw(st.integers(0, f)), timing=data.draw(st.integers(0, 100)))
    quiet, dwell = data.draw(st.integers(0, 200)), data.draw(st.integers(0, 200))
    assert levels.protocol(levels.step(level, c, quiet, dwell, th)) == levels.RAFT
    # One more reporter, so at least one honest one, does reach BFT.
    c = Counts(bad_signature=f + 1)
    assert levels.protocol(levels.step(level, c, quiet, dwell, th)) == levels.BFT


@pytest.mark.parametrize("f", [1, 2, 3])
def test_thresholds_refuse_a_sig_high_that_f_reporters_reach(f: int) -> None:
    with pytest.raises(LevelError, match="sig_high must be above f"):
        Thresholds.for_f(f, sig_medium=1, sig_high=f)
    assert Thresholds.for_f(f, sig_high=f + 2).sig_high == f + 2


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(Level)), thresholds())
def test_without_evidence_every_level_reaches_none_in_four_steps(
    level: Level, th: Thresholds
) -> None:
    trail = [level]
    for _ in range(4):
        trail.append(levels.step(trail[-1], Counts(), th.quiet, th.dwell, th))
    assert trail[-1] is Level.NONE
    assert all(b == max(a - 1, 0) for a, b in itertools.pairwise(trail))


# --- unit tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("c", "expected"),
    [
        (Counts(), Level.NONE),
        (Counts(timing=1), Level.LOW),
        (Counts(bad_signature=1), Level.LOW),
        (Counts(timing=3), Level.MEDIUM),  # timing_medium = 3
        (Counts(bad_signature=2), Level.HIGH),  # for_f(1): sig_medium = sig_high = 2
        (Counts(tampering=1), Level.HIGH),
        (Counts(equivocation=1), Level.CRITICAL),
        (Counts(bad_signature=1, timing=2, tampering=1, equivocation=1), Level.CRITICAL),
    ],
)
def test_demanded_table(c: Counts, expected: Level) -> None:
    assert levels.demanded(c, Thresholds.for_f(1)) is expected


def test_medium_on_bad_signatures_needs_sig_medium_reporters() -> None:
    th = Thresholds.for_f(3)  # sig_medium 2, sig_high 4
    got = [levels.demanded(Counts(bad_signature=k), th) for k in range(5)]
    assert got == [Level.NONE, Level.LOW, Level.MEDIUM, Level.MEDIUM, Level.HIGH]


def test_step_examples() -> None:
    th = Thresholds(quiet=50, dwell=30)
    assert levels.step(Level.NONE, Counts(tampering=1), 0, 0, th) is Level.HIGH
    assert levels.step(Level.CRITICAL, Counts(), 50, 30, th) is Level.HIGH
    assert levels.step(Level.CRITICAL, Counts(), 49, 30, th) is Level.CRITICAL
    assert levels.step(Level.CRITICAL, Counts(), 50, 29, th) is Level.CRITICAL
    assert levels.step(Level.HIGH, Counts(tampering=1), 500, 500, th) is Level.HIGH
    assert levels.step(Level.LOW, Counts(timing=1), 500, 500, th) is Level.LOW


def test_protocol_table() -> None:
    assert [levels.protocol(lv) for lv in Level] == ["raft", "raft", "raft", "bft", "bft"]
    assert [lv.title for lv in Level] == ["None", "Low", "Medium", "High", "Critical"]
    assert set(levels.KINDS) >= levels.SELF_PROVING


@pytest.mark.parametrize(
    ("f", "sig_medium", "sig_high"), [(0, 1, 1), (1, 2, 2), (2, 2, 3), (5, 2, 6)]
)
def test_thresholds_for_f(f: int, sig_medium: int, sig_high: int) -> None:
    th = Thresholds.for_f(f)
    assert (th.sig_medium, th.sig_high) == (sig_medium, sig_high)
    assert Thresholds.for_f(f, quiet=7).quiet == 7


def _refused(message: str) -> pytest.RaisesExc[LevelError]:
    """The error a user gets, word for word: it names the rule broken and the values given."""
    return pytest.raises(LevelError, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sig_medium": 0}, "need 1 <= sig_medium <= sig_high, got 0, 2"),
        ({"sig_medium": 3, "sig_high": 2}, "need 1 <= sig_medium <= sig_high, got 3, 2"),
        ({"timing_medium": 0}, "timing_medium must be at least 1, got 0"),
        ({"quiet": -1}, "quiet, dwell and window must not be negative"),
        ({"dwell": -1}, "quiet, dwell and window must not be negative"),
        ({"window": -1}, "quiet, dwell and window must not be negative"),
    ],
)
def test_thresholds_outside_the_domain_are_refused(kwargs: dict[str, int], message: str) -> None:
    with _refused(message):
        Thresholds(**kwargs)


@pytest.mark.parametrize("kind", ["bad_signature", "tampering", "equivocation", "timing"])
def test_a_negative_count_of_any_kind_is_refused(kind: str) -> None:
    with pytest.raises(LevelError, match=rf"^evidence counts must not be negative: .*{kind}=-1"):
        Counts(**{kind: -1})


def test_inputs_outside_the_domain_are_refused() -> None:
    with _refused("f must not be negative, got -1"):
        Thresholds.for_f(-1)
    with _refused(
        "evidence counts must not be negative: "
        "Counts(bad_signature=0, tampering=0, equivocation=0, timing=-1)"
    ):
        Counts(timing=-1)
    with _refused("quiet and dwell must not be negative, got -1, 0"):
        levels.step(Level.LOW, Counts(), -1, 0, Thresholds())
    with _refused("quiet and dwell must not be negative, got 0, -1"):
        levels.step(Level.LOW, Counts(), 0, -1, Thresholds())
    assert not Counts().any and Counts(timing=1).any
