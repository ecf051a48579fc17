"""specs/Hybrid.tla: its models hold with the recorded state counts, every action fires, a node's
level follows levels.step, and every invariant and liveness property has teeth.

The state counts and trace lengths below are recorded in specs/Hybrid.md (and the models' own counts
in their `.cfg` directives). Each mutant is a small textual change of the spec, checked on the
smallest model that shows it with the one property it must break, on one worker so that the counts
are reproducible. Four carry the names of the implementation's mutants (the shared kill matrix):
switch_drops_last_raft_term, deescalate_critical_to_none, switch_on_own_evidence,
equivocation_is_low.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hybrid import levels
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid import refinement
from meshcheck.specs.tlc.check import CheckResult
from meshcheck.specs.tlc.check import Violation
from meshcheck.specs.tlc.stepper import Stepper
from tests import spec_checks
from tests.spec_walk import Walk

SPECS = spec_checks.SPECS
SPEC = SPECS / "Hybrid.tla"
QUICK_CFG = SPECS / "Hybrid_quick.cfg"

# The shared vocabulary (specs/Hybrid.md, "Vocabulary"): the spec's variables are the ones the
# implementation's refinement maps (impl/hybrid/refinement.py's VARIABLES).
ACTIONS: dict[str, tuple[str, ...]] = {
    "Submit": ("o",),
    "OrderOp": ("e", "o"),
    "OrderEvidence": ("e", "k"),
    "OrderQuiet": ("e",),
    "Apply": ("i",),
    "Switch": ("i",),
    "Reply": ("o",),
    "Reject": ("o",),
}
INVARIANTS = (
    "TypeOK",
    "ProtocolMatchesLevel",
    "AgreedProtocolPerEpoch",
    "NoCommittedOpLost",
    "NoOpCommittedTwice",
    "LevelJustifiedByEvidence",
    "SelfProvingEvidenceSuffices",
)

# (distinct states, depth) as recorded in specs/Hybrid.md.
QUICK = (2233, 23)
DEFAULT = (11157, 35)
LIVENESS = (18248, 33)
DEEP = (106554, 34)

LEVEL = {lv.title: lv for lv in levels.Level}
TH = levels.Thresholds.for_f(1)  # N = 4 in the safety models


def run(cfg: Path, spec: Path = SPEC, workers: int = 2) -> CheckResult:
    return spec_checks.run(spec, cfg, workers)


def rec(**fields: Value) -> FrozenDict:
    """A TLA+ record as the Stepper gives it."""
    return FrozenDict(fields)


# ------------------------------------------------------------------------------------ the spec itself

st = spec_checks.shared_stepper(SPEC, QUICK_CFG)


def test_next_has_one_labelled_action_per_vocabulary_step(st: Stepper) -> None:
    spec_checks.assert_vocabulary(st, refinement.VARIABLES, ACTIONS, ordered=False)
    assert st.action_names == tuple(ACTIONS)
    # only honest nodes act: n1 is Byzantine
    assert {a.params["i"] for a in st.actions if "i" in a.params} == {"n2", "n3", "n4"}
    assert st.invariants == INVARIANTS


def test_initial_state_is_one_raft_epoch_at_none(st: Stepper) -> None:
    (init,) = st.init_states()
    v = init.values
    honest = ("n2", "n3", "n4")
    assert v["epoch"] == {i: 1 for i in honest}
    # a function with domain 1..n is a tuple on the Python side
    assert v["protocol"] == {i: ("raft", "none") for i in honest}
    assert v["level"] == {i: "None" for i in honest}
    assert v["chain"] == ((), ())
    assert v["outcome"] == {"o1": "none"}
    assert st.violated(init) == []


def test_every_action_fires_in_the_quick_model(st: Stepper) -> None:
    """A client's op in flight across a switch: tampering committed in the Raft epoch 1 takes n2 to
    High and into the BFT epoch 2; the frozen Raft instance still orders the op, beyond the switch
    entry, so the client is told "rejected" and submits again in epoch 2, where it commits once. A
    quiet entry takes n2 back to Medium (a switch to Raft is due; MaxEpoch is 2). The lagging n3
    then goes the same way and ends with the same history. Every step checked against every
    invariant."""
    w = Walk(st)
    w("Submit", o="o1")
    w("OrderEvidence", e=1, k="tampering")
    s = w("Apply", i="n2")
    assert s["level"]["n2"] == "High"
    assert not w.enabled("Apply", i="n2")
    s = w("Switch", i="n2")
    assert (s["epoch"]["n2"], s["protocol"]["n2"]) == (2, ("raft", "bft"))
    s = w("OrderOp", e=1, o="o1")  # the frozen instance keeps committing
    assert s["chain"][0] == (  # chain[1]
        rec(type="evidence", kind="tampering"),
        rec(type="op", op="o1", epoch=1),
    )
    s = w("Reject", o="o1")
    assert s["outcome"]["o1"] == "rejected"
    s = w("Submit", o="o1")  # again, in the cluster's epoch: 2
    assert s["submitted"] == {rec(op="o1", epoch=1), rec(op="o1", epoch=2)}
    w("OrderOp", e=2, o="o1")
    s = w("Apply", i="n2")
    assert s["history"]["n2"] == ("o1",)
    s = w("Reply", o="o1")
    assert s["outcome"]["o1"] == "committed"
    w("OrderQuiet", e=2)
    s = w("Apply", i="n2")
    assert s["level"]["n2"] == "Medium"
    assert not w.enabled("Switch", i="n2")  # epoch 3 is beyond MaxEpoch
    w("Apply", i="n3")
    assert not w.enabled("Apply", i="n3")  # the op beyond the switch entry is never applied
    w("Switch", i="n3")
    w("Apply", i="n3")
    s = w("Apply", i="n3")
    assert s["history"]["n3"] == ("o1",) and s["level"]["n3"] == "Medium"
    assert s["protocol"]["n3"] == s["protocol"]["n2"]
    assert set(w.taken) == set(ACTIONS)


def test_levels_follow_levels_step_on_random_walks(st: Stepper) -> None:
    """On every Apply of random behaviours of the quick model, the node's new level is levels.step
    of its old level for the entry applied: an evidence record is one piece of its kind in the
    window with no quiet time; a quiet entry is an empty window with the quiet period and the
    dwell passed (Hybrid.md, "What is abstracted")."""
    rnd = random.Random(5)
    applies = 0
    kinds: set[str] = set()
    (init,) = st.init_states()
    for _ in range(40):
        s = init
        for _ in range(25):
            succ = st.successors(s)
            if not succ:
                break
            t = rnd.choice(succ)
            if t.action.name == "Apply":
                i = str(t.action.params["i"])
                e = int(s["epoch"][i])
                x = s["chain"][e - 1][int(s["applied"][i])]
                before = LEVEL[str(s["level"][i])]
                if x["type"] == "evidence":
                    kinds.add(str(x["kind"]))
                    c = levels.Counts(**{str(x["kind"]): 1})
                    want = levels.step(before, c, 0, 0, TH)
                elif x["type"] == "quiet":
                    want = levels.step(before, levels.Counts(), TH.quiet, TH.dwell, TH)
                else:
                    want = before
                assert t.state["level"][i] == want.title, (x, before)
                applies += 1
            s = t.state
    assert applies > 100
    assert kinds == set(levels.KINDS)


test_model_holds_with_its_recorded_state_count = spec_checks.models_hold(
    SPEC,
    fast={"Hybrid_quick.cfg": QUICK},
    slow={"Hybrid_liveness.cfg": LIVENESS, "Hybrid.cfg": DEFAULT},
    deep={"Hybrid_deep.cfg": DEEP},
)


# ------------------------------------------------------------------------------------ mutants

# Model constants of the mutant runs: the quick model's (safety) and the liveness model's.
BASE: dict[str, str] = {
    "Nodes": '{"n1", "n2", "n3", "n4"}',
    "Byzantine": '{"n1"}',
    "Ops": '{"o1"}',
    "MaxEpoch": "2",
    "MaxEvidence": "1",
    "MaxQuiet": "1",
}
LIVE: dict[str, str] = {
    "Nodes": '{"n1", "n2", "n3"}',
    "Byzantine": '{"n1"}',
    "Ops": '{"o1"}',
    "MaxEpoch": "3",
    "MaxEvidence": "1",
    "MaxQuiet": "2",
}


Mutant = spec_checks.Mutant

MUTANTS = (
    Mutant(
        "switch_drops_last_raft_term",
        (
            (
                "Carried(i) == history[i]",
                'Carried(i) == IF protocol[i][epoch[i]] = "raft"\n'
                "              THEN SelectSeq(history[i], LAMBDA o : o \\notin EpochOps(i))\n"
                "              ELSE history[i]",
            ),
        ),
        {},
        "NoCommittedOpLost",
        "invariant",
        (395, 7),
    ),
    Mutant(
        "switch_on_own_evidence",
        (
            (
                "    /\\ Protocol(level[i]) # protocol[i][epoch[i]]\n",
                "    /\\ \\/ Protocol(level[i]) # protocol[i][epoch[i]]\n"
                '       \\/ protocol[i][epoch[i]] = "raft" /\\ Reportable \\cap SelfProving # {}\n',
            ),
        ),
        {},
        "AgreedProtocolPerEpoch",
        "invariant",
        (7, 2),
    ),
    Mutant(
        "equivocation_is_low",
        (('CASE k = "equivocation" -> "Critical"', 'CASE k = "equivocation" -> "Low"'),),
        {},
        "SelfProvingEvidenceSuffices",
        "invariant",
        (18, 3),
    ),
    Mutant(
        "deescalate_critical_to_none",
        (
            (
                'Lower(l) == IF l = "None" THEN "None"',
                'Lower(l) == IF l \\in {"None", "Critical"} THEN "None"',
            ),
        ),
        {},
        "DeescalationOneLevel",
        "action",
        (358, 6),
    ),
    Mutant(
        "apply_beyond_switch_entry",
        (
            (
                "    IN /\\ applied[i] < Len(chain[e])\n       /\\ Protocol(level[i]) = protocol[i][e]\n",
                "    IN /\\ applied[i] < Len(chain[e])\n",
            ),
        ),
        {},
        "ProtocolMatchesLevel",
        "invariant",
        (234, 6),
    ),
    Mutant(
        "apply_without_dedup",
        (('IF x.type = "op" /\\ ~InSeq(x.op, @) THEN', 'IF x.type = "op" THEN'),),
        {},
        "NoOpCommittedTwice",
        "invariant",
        (2018, 10),
    ),
    Mutant(
        "tampering_is_critical",
        (('[] k = "tampering" -> "High"', '[] k = "tampering" -> "Critical"'),),
        {},
        "LevelJustifiedByEvidence",
        "invariant",
        (15, 3),
    ),
    Mutant(
        "reject_without_switch_entry",
        (("    /\\ S[p.epoch].at # 0\n", ""),),
        {},
        "NoCommittedOpLost",
        "invariant",
        (151, 5),
    ),
    Mutant(
        "switch_keeps_applied",
        (
            ("    /\\ applied' = [applied EXCEPT ![i] = 0]\n", ""),
            (
                "    /\\ UNCHANGED <<level, chain, submitted, outcome>>",
                "    /\\ UNCHANGED <<level, applied, chain, submitted, outcome>>",
            ),
        ),
        {},
        "TypeOK",
        "invariant",
        (57, 4),
    ),
    Mutant(
        "reject_waits_for_old_epoch",
        (
            (
                "    /\\ ~InSeq(OpEntry(p.op, p.epoch), Effective(S, p.epoch))",
                "    /\\ InSeq(OpEntry(p.op, p.epoch), chain[p.epoch])\n"
                "    /\\ ~InSeq(OpEntry(p.op, p.epoch), Effective(S, p.epoch))",
            ),
        ),
        {},
        "InFlightResolved",
        "liveness",
        None,
    ),
    Mutant(
        "bft_ignores_quiet",
        (
            (
                '[] x.type = "quiet" -> Lower(l)',
                '[] x.type = "quiet" -> IF Protocol(l) = "bft" THEN l ELSE Lower(l)',
            ),
        ),
        {},
        "EventuallyBackToRaft",
        "liveness",
        None,
    ),
)


def mutate(folder: Path, mutant: Mutant) -> Path:
    """Hybrid.tla with the mutant's changes and a .cfg for its model and property, in `folder`."""
    base = LIVE if mutant.kind == "liveness" else BASE
    lines = spec_checks.checked_lines(mutant, live=("    Reportable <- OnlyEquivocation",))
    return spec_checks.mutant_cfg(SPEC, folder, mutant, base, lines)


# The implementation's mutant names (impl/hybrid/mutants.py) run in the fast suite; the others
# are marked slow (5 to 8 s each under load, the two liveness ones about 30 s).
@pytest.mark.parametrize("mutant", spec_checks.fast_where_implemented(MUTANTS, mutants.BUGS))
def test_mutant_is_caught_by_its_property(tmp_path: Path, mutant: Mutant) -> None:
    cfg = mutate(tmp_path, mutant)
    r = run(cfg, spec=tmp_path / SPEC.name, workers=1)
    kind = "invariant" if mutant.kind == "invariant" else "property"
    spec_checks.assert_caught(r, mutant.name, Violation(kind, mutant.catches), mutant.found)
