"""specs/ThreatLevel.tla: it computes levels.step exactly, its models hold with the recorded state
counts, every action fires, and every invariant and property has teeth.

The state counts and trace lengths below are recorded in specs/ThreatLevel.md (and the models' own
counts in their `.cfg` directives). Each mutant is a small textual change of the spec, checked on the
smallest model that shows it with the one property it must break, on one worker so that the counts
are reproducible. `deescalate_critical_to_none` and `equivocation_is_low` carry the names of the
implementation's mutants (the shared kill matrix).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid import levels
from meshcheck.impl.hybrid import mutants
from meshcheck.specs.tlc.check import CheckResult
from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import Violation
from meshcheck.specs.tlc.stepper import Stepper
from tests import spec_checks
from tests.spec_walk import Walk

SPECS = spec_checks.SPECS
SPEC = SPECS / "ThreatLevel.tla"
QUICK_CFG = SPECS / "ThreatLevel_quick.cfg"

# The shared vocabulary (specs/ThreatLevel.md, "Vocabulary").
VARIABLES = ("level", "now", "reports", "enteredAt", "peak")
ACTIONS: dict[str, tuple[str, ...]] = {"ReportEvidence": ("i", "k"), "Tick": ()}
INVARIANTS = (
    "TypeOK",
    "ProtocolMatchesLevel",
    "LevelJustifiedByEvidence",
    "NeverBelowDemanded",
    "SelfProvingEvidenceSuffices",
    "ByzantineCannotForceBFT",
)

# (distinct states, depth) as recorded in specs/ThreatLevel.md.
QUICK = (6730, 12)
DEFAULT = (337055, 18)
LIVENESS = (1731, 11)
DEEP = (799941, 18)

# The quick model's constants (ThreatLevel_quick.cfg), as levels.Thresholds.
QUICK_TH = levels.Thresholds(sig_medium=2, sig_high=2, timing_medium=2, quiet=2, dwell=1, window=2)
LEVEL = {lv.title: lv for lv in levels.Level}


def run(cfg: Path, spec: Path = SPEC, workers: int = 2) -> CheckResult:
    return spec_checks.run(spec, cfg, workers)


def counts(reports: frozenset[FrozenDict], now: int, th: levels.Thresholds) -> levels.Counts:
    """levels.Counts of the records inside the window at `now` (ThreatLevel.md, "Representation")."""
    window = [r for r in reports if now - int(r["at"]) <= th.window]

    def by(kind: str) -> int:
        w = [r for r in window if r["kind"] == kind]
        return len(w) if kind in levels.SELF_PROVING else len({r["reporter"] for r in w})

    return levels.Counts(**{k: by(k) for k in levels.KINDS})


def quiet_at(reports: frozenset[FrozenDict], now: int) -> int:
    return now - max((int(r["at"]) for r in reports), default=0)


# ------------------------------------------------------------------------------------ the spec itself

st = spec_checks.shared_stepper(SPEC, QUICK_CFG)


def test_next_has_one_labelled_action_per_vocabulary_step(st: Stepper) -> None:
    spec_checks.assert_vocabulary(st, VARIABLES, ACTIONS, ordered=False)
    # ReportEvidence(i, k): 3 reporters x 4 kinds
    assert sum(a.name == "ReportEvidence" for a in st.actions) == 12
    assert st.invariants == INVARIANTS


def test_every_action_fires_in_the_quick_model(st: Stepper) -> None:
    """A Byzantine node's tampering takes the level straight to High; once the record has left the
    window (2) and the quiet period (2) has passed, the level drops one step per dwell (1): Medium,
    Low, None; then time stops (past MaxTime, at None). Each step checked against every invariant."""
    w = Walk(st)
    s = w("ReportEvidence", i="n2", k="tampering")
    assert (s["level"], s["enteredAt"], s["peak"]) == ("High", 0, "High")
    seen = []
    for _ in range(5):
        s = w("Tick")
        seen.append((s["now"], s["level"], s["enteredAt"]))
    assert seen == [
        (1, "High", 0),
        (2, "High", 0),  # the record is 2 old: still in the window
        (3, "Medium", 3),  # out of the window, quiet 3 >= 2, dwell 3 >= 1
        (4, "Low", 4),
        (5, "None", 5),
    ]
    assert [t.action.name for t in st.successors(w.state)] == []  # past MaxTime, at None
    assert set(w.taken) == set(ACTIONS)


def test_byzantine_reporters_alone_reach_medium_at_most(st: Stepper) -> None:
    """Bad signatures count distinct reporters: n1 (Byzantine) reporting at two times is one
    reporter, Low; n1 and the honest n2 are two (SigHigh): High."""
    w = Walk(st)
    assert w("ReportEvidence", i="n1", k="bad_signature")["level"] == "Low"
    w("Tick")
    s = w("ReportEvidence", i="n1", k="bad_signature")
    assert (s["level"], len(s["reports"])) == ("Low", 2)
    w = Walk(st)
    w("ReportEvidence", i="n1", k="bad_signature")
    assert w("ReportEvidence", i="n2", k="bad_signature")["level"] == "High"


def test_spec_computes_levels_step_on_every_transition_of_the_quick_model(st: Stepper) -> None:
    """Breadth-first over the quick model through the Stepper: on every transition the new level
    is levels.step of the old level and the new state's evidence counts, quiet and dwell, and the
    ghost peak follows levels.demanded. This is what ties the TLA+ Demanded and Step to the code."""
    (init,) = st.init_states()
    seen = {init}
    queue = deque([init])
    transitions = 0
    while queue:
        s = queue.popleft()
        level, entered = LEVEL[str(s["level"])], int(s["enteredAt"])
        for t in st.successors(s):
            n = t.state
            reports, now = n["reports"], int(n["now"])
            assert isinstance(reports, frozenset)
            c = counts(reports, now, QUICK_TH)
            want = levels.step(level, c, quiet_at(reports, now), now - entered, QUICK_TH)
            assert n["level"] == want.title, (s.values, t.action.label())
            need = levels.demanded(c, QUICK_TH)
            assert LEVEL[str(n["peak"])] == max(LEVEL[str(s["peak"])], need)
            transitions += 1
            if n not in seen:
                seen.add(n)
                queue.append(n)
    assert len(seen) == QUICK[0]
    assert transitions > len(seen)


test_model_holds_with_its_recorded_state_count = spec_checks.models_hold(
    SPEC,
    fast={"ThreatLevel_quick.cfg": QUICK, "ThreatLevel_liveness.cfg": LIVENESS},
    slow={"ThreatLevel.cfg": DEFAULT},
    deep={"ThreatLevel_deep.cfg": DEEP},
)


# ------------------------------------------------------------------------------------ mutants

# Model constants of the mutant runs: the quick model's, with overrides per mutant.
BASE: dict[str, str] = {
    "SigMedium": "2",
    "SigHigh": "2",
    "TimingMedium": "2",
    "Quiet": "2",
    "Dwell": "1",
    "Window": "2",
    "MaxTime": "3",
    "MaxReports": "2",
    "Reporters": '{"n1", "n2", "n3"}',
    "Byzantine": '{"n1"}',
}
# The liveness model's (ThreatLevel_liveness.cfg).
LIVE: dict[str, str] = {**BASE, "MaxTime": "2", "Reporters": '{"n1", "n2"}'}


Mutant = spec_checks.Mutant

STEP_DROP = "THEN LevelOfRank(Rank[l] - 1)"

MUTANTS = (
    Mutant(
        "deescalate_critical_to_none",
        ((STEP_DROP, 'THEN (IF l = "Critical" THEN "None" ELSE LevelOfRank(Rank[l] - 1))'),),
        {},
        "DeescalationOneLevel",
        "action",
        (649, 5),
    ),
    Mutant(
        "equivocation_is_low",
        (
            ('    IF Count(rs, t, "equivocation") >= 1 THEN "Critical"\n    ELSE ', "    "),
            (
                '\\/ Count(rs, t, "timing") >= 1 THEN "Low"',
                '\\/ Count(rs, t, "timing") >= 1 \\/ Count(rs, t, "equivocation") >= 1 THEN "Low"',
            ),
        ),
        {},
        "SelfProvingEvidenceSuffices",
        "invariant",
        (8, 2),
    ),
    Mutant(
        "tampering_is_critical",
        (
            (
                '    IF Count(rs, t, "equivocation") >= 1 THEN',
                '    IF Count(rs, t, "equivocation") >= 1 \\/ Count(rs, t, "tampering") >= 1 THEN',
            ),
        ),
        {},
        "LevelJustifiedByEvidence",
        "invariant",
        (5, 2),
    ),
    Mutant(
        "deescalate_below_demanded",
        (("ELSE IF Rank[l] > Rank[need] /\\ quiet", "ELSE IF Rank[l] > 0 /\\ quiet"),),
        {},
        "NeverBelowDemanded",
        "invariant",
        (129, 4),
    ),
    Mutant(
        "deescalate_without_dwell",
        (("quiet >= Quiet /\\ dwell >= Dwell THEN", "quiet >= Quiet THEN"),),
        # with Dwell = 1 every Tick comes at least one unit after the level was entered
        {"Dwell": "2"},
        "DeescalationAfterQuietAndDwell",
        "action",
        (1279, 6),
    ),
    Mutant(
        "high_runs_raft",
        (('IF l \\in {"High", "Critical"} THEN "bft"', 'IF l \\in {"Critical"} THEN "bft"'),),
        {},
        "ProtocolMatchesLevel",
        "invariant",
        (5, 2),
    ),
    Mutant(
        "bad_signatures_counted_per_report",
        (
            (
                "IN IF k \\in SelfProving THEN Cardinality(w) ELSE Cardinality({r.reporter : r \\in w})",
                "IN Cardinality(w)",
            ),
        ),
        {},
        "ByzantineCannotForceBFT",
        "invariant",
        (117, 4),
    ),
    Mutant(
        "report_stamped_late",
        (
            (
                "LET r == [kind |-> k, reporter |-> i, at |-> now]",
                "LET r == [kind |-> k, reporter |-> i, at |-> now + 1]",
            ),
        ),
        {},
        "TypeOK",
        "invariant",
        (1085, 5),
    ),
    Mutant(
        "step_only_on_evidence",
        (("    /\\ Apply(reports, now')\n", "    /\\ UNCHANGED <<level, enteredAt, peak>>\n"),),
        {},
        "EventuallyRaft",
        "liveness",
        None,
    ),
    Mutant(
        "step_only_on_evidence",
        (("    /\\ Apply(reports, now')\n", "    /\\ UNCHANGED <<level, enteredAt, peak>>\n"),),
        {},
        "EventuallyNone",
        "liveness",
        None,
    ),
)


def mutate(folder: Path, mutant: Mutant) -> Path:
    """ThreatLevel.tla with the mutant's changes and a .cfg for its model and property, in `folder`."""
    base = LIVE if mutant.kind == "liveness" else BASE
    if mutant.kind == "all":  # the spec as written: everything the safety models check
        lines = [
            "SPECIFICATION Spec",
            f"INVARIANTS {' '.join(INVARIANTS)}",
            "PROPERTIES DeescalationOneLevel DeescalationAfterQuietAndDwell",
        ]
    else:
        lines = spec_checks.checked_lines(mutant)
    return spec_checks.mutant_cfg(SPEC, folder, mutant, base, lines)


# the implementation's mutant names (impl/hybrid/mutants.py) run in the fast suite; the others
# (4 to 6 s each, most of it TLC's start) are marked slow
@pytest.mark.parametrize(
    "mutant",
    spec_checks.fast_where_implemented(
        MUTANTS, mutants.BUGS, name=lambda m: f"{m.name}-{m.catches}"
    ),
)
def test_mutant_is_caught_by_its_property(tmp_path: Path, mutant: Mutant) -> None:
    cfg = mutate(tmp_path, mutant)
    r = run(cfg, spec=tmp_path / SPEC.name, workers=1)
    kind = "invariant" if mutant.kind == "invariant" else "property"
    spec_checks.assert_caught(r, mutant.name, Violation(kind, mutant.catches), mutant.found)


@pytest.mark.slow
def test_unmutated_spec_holds_on_every_mutant_model(tmp_path: Path) -> None:
    """The mutants' models are not broken themselves: the spec as written holds on each of them
    (the quick and liveness models' constants are checked by those models)."""
    models = {tuple(sorted(m.model.items())) for m in MUTANTS} - {()}
    assert models  # Dwell = 2
    for folder, model in spec_checks.model_folders(tmp_path, models):
        probe = Mutant("unmutated", (), model, "", "all", None)
        r = run(mutate(folder, probe), spec=folder / SPEC.name)
        assert r.outcome is Outcome.HOLDS, f"{model}: {r.message}"
