"""specs/Routing.tla: its models hold with the recorded state counts, every action fires, and every
invariant and the liveness property have teeth (specs/mutants/routing.py; the counts are in
specs/Routing.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.impl.manager import mutants
from meshcheck.specs.mutants.routing import MUTANTS
from meshcheck.specs.mutants.routing import Mutant
from meshcheck.specs.mutants.routing import mutate
from meshcheck.specs.tlc.check import Violation
from meshcheck.specs.tlc.stepper import Stepper
from tests import spec_checks
from tests.spec_walk import Walk

SPECS = spec_checks.SPECS
SPEC = SPECS / "Routing.tla"
QUICK_CFG = SPECS / "Routing_quick.cfg"

VARIABLES = (
    "level",
    "epoch",
    "mode",
    "changes",
    "type",
    "state",
    "layer",
    "tag",
    "levelAt",
    "how",
    "decisions",
    "answer",
)
ACTIONS: dict[str, tuple[str, ...]] = {
    "Submit": ("o", "t"),
    "Route": ("o",),
    "DecideBFT": ("o",),
    "DecideRaft": ("o",),
    "GossipWrite": ("o",),
    "Refuse": ("o",),
    "Reject": ("o",),
    "LevelChange": ("l",),
}
INVARIANTS = (
    "TypeOK",
    "ModeMatchesLevel",
    "CriticalOnlyByBFT",
    "CoordinationByLevelAtRouting",
    "DecidedOnce",
    "StatusNeverWaits",
    "StatusNeverAgreed",
    "UnknownRefused",
    "AgreedMeansDecided",
)

# (distinct states, depth) as recorded in specs/Routing.md and the models' directives
QUICK = (5500, 9)
DEFAULT = (402745, 13)
LIVENESS = 5500


st = spec_checks.shared_stepper(SPEC, QUICK_CFG)


def test_next_has_one_labelled_action_per_vocabulary_step(st: Stepper) -> None:
    assert st.vars == VARIABLES
    found = {a.name: tuple(a.params) for a in st.actions}
    assert found == ACTIONS
    assert st.action_names == tuple(ACTIONS)
    assert st.invariants == INVARIANTS


def test_every_action_fires_in_the_quick_model(st: Stepper) -> None:
    """A critical op decided by PBFT at level None; a coordination op routed at None (Raft) and
    left in flight while the level rises to High: its epoch ends, it is rejected, and a second
    coordination op routed at High is decided by BFT; a status write gossiped, never agreed;
    an unknown type refused, never routed. Every invariant after every step."""
    w = Walk(st)
    w("Submit", o="o1", t="critical")
    s = w("Route", o="o1")
    assert s["layer"]["o1"] == "pbft" and s["level"] == "None"
    assert not w.enabled("DecideRaft", o="o1")
    s = w("DecideBFT", o="o1")
    assert (s["how"]["o1"], s["answer"]["o1"]) == ("bft", "agreed")
    w("Submit", o="o2", t="coordination")
    s = w("Route", o="o2")
    assert (s["layer"]["o2"], s["tag"]["o2"]) == ("hybrid", 1)
    assert w.enabled("DecideRaft", o="o2") and not w.enabled("DecideBFT", o="o2")
    s = w("LevelChange", l="High")
    assert (s["epoch"], s["mode"]) == (2, ("raft", "bft"))
    assert not w.enabled("DecideRaft", o="o2") and not w.enabled("DecideBFT", o="o2")
    s = w("Reject", o="o2")
    assert s["answer"]["o2"] == "rejected" and s["how"]["o2"] == "none"
    assert not w.enabled("Submit", o="o2", t="coordination")  # o2 is done: ids are not reused

    v = Walk(st)
    v("Submit", o="o1", t="unknown")
    assert not v.enabled("Route", o="o1")
    s = v("Refuse", o="o1")
    assert (s["layer"]["o1"], s["answer"]["o1"]) == ("none", "refused")
    v("Submit", o="o2", t="status")
    v("Route", o="o2")
    s = v("GossipWrite", o="o2")
    assert (s["how"]["o2"], s["answer"]["o2"]) == ("gossip", "gossiped")
    w2 = Walk(st)
    w2("LevelChange", l="Critical")
    w2("Submit", o="o1", t="coordination")
    s = w2("Route", o="o1")
    assert s["levelAt"]["o1"] == "Critical" and s["tag"]["o1"] == 2
    s = w2("DecideBFT", o="o1")
    assert s["how"]["o1"] == "bft"
    w2("Submit", o="o2", t="coordination")
    w2("LevelChange", l="High")  # one level down: still BFT, same epoch
    w2("Route", o="o2")
    assert not w2.enabled("LevelChange", l="Medium")  # MaxChanges = 2
    w3 = Walk(st)
    w3("Submit", o="o1", t="coordination")
    w3("Route", o="o1")
    s = w3("DecideRaft", o="o1")
    assert s["how"]["o1"] == "raft"
    assert set(w.taken) | set(v.taken) | set(w3.taken) == set(ACTIONS)


def test_quick_model_holds_with_its_recorded_state_count() -> None:
    spec_checks.assert_holds(SPEC, QUICK_CFG, QUICK)


def test_liveness_model_holds_with_its_recorded_state_count() -> None:
    r = spec_checks.assert_holds(SPEC, SPECS / "Routing_liveness.cfg", None, workers=1)
    assert r.distinct == LIVENESS


@pytest.mark.slow
def test_default_model_holds_with_its_recorded_state_count() -> None:
    spec_checks.assert_holds(SPEC, SPECS / "Routing.cfg", DEFAULT)


def test_one_mutant_per_invariant_and_property() -> None:
    caught = {m.catches for m in MUTANTS}
    assert caught == (set(INVARIANTS) - {"TypeOK"}) | {"EveryOpAnswered"}


# The implementation's mutant names (impl/manager/mutants.py) run in the fast suite; the others
# are marked slow (as tests/test_hybrid_spec.py does).
@pytest.mark.parametrize("mutant", spec_checks.fast_where_implemented(MUTANTS, mutants.BUGS))
def test_mutant_is_caught_by_its_property(tmp_path: Path, mutant: Mutant) -> None:
    cfg = mutate(tmp_path, mutant)
    r = spec_checks.run(tmp_path / "Routing.tla", cfg, workers=1)
    violation = Violation("property" if mutant.liveness else "invariant", mutant.catches)
    spec_checks.assert_caught(r, mutant.name, violation, mutant.found)
