"""specs/Gossip.tla and specs/FailureDetector.tla: the models hold with the recorded state counts,
every action of Gossip.tla fires, each step is one labelled action with the vocabulary's parameters,
and every invariant and property has teeth (a mutant of the spec breaks it).

The counts are recorded in specs/Gossip.md and in the models' `.cfg` directives; a change to a spec
that changes them shows here first. The mutants (specs/mutants/gossip.py) run on one worker, so the
counts are reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.gossip.refinement import VARIABLES
from meshcheck.specs.mutants.gossip import MUTANTS
from meshcheck.specs.mutants.gossip import Mutant
from meshcheck.specs.mutants.gossip import mutate
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.specs.tlc.check import CheckResult
from meshcheck.specs.tlc.check import Violation
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.verify import project_root
from meshcheck.verify import select_models
from tests import spec_checks
from tests import spec_walk

SPECS = spec_checks.SPECS
GOSSIP = SPECS / "Gossip.tla"
DETECTOR = SPECS / "FailureDetector.tla"

# The variables, in declaration order: what the implementation's refinement mapping produces
# (impl.gossip.refinement.VARIABLES, its names pinned by tests/test_gossip_impl.py).
GOSSIP_VARIABLES = VARIABLES
DETECTOR_VARIABLES = ("alive", "beat", "heard", "watching", "suspected", "msgs", "crashes")
# Every action of Next with its parameters (the shared gossip vocabulary). Anything else an action
# chooses (the keys a push carries, the message lost or duplicated, a partition's sides, a node's
# seeds) is chosen inside it.
GOSSIP_ACTIONS = {
    "Update": ("i", "k", "v"),
    "Push": ("i", "j"),
    "Pull": ("i", "j"),
    "HandlePush": ("i", "j"),
    "HandlePull": ("i", "j"),
    "LoseMessage": (),
    "DuplicateMessage": (),
    "Crash": ("i",),
    "Restart": ("i",),
    "Partition": (),
    "Heal": (),
    "Join": ("i",),
    "Leave": ("i",),
}
DETECTOR_ACTIONS = {
    "Tick": (),
    "Heartbeat": ("i",),
    "HandleHeartbeat": ("i", "j"),
    "Suspect": ("i", "j"),
    "Trust": ("i", "j"),
    "Crash": ("i",),
}

# (distinct states, depth) as recorded in specs/Gossip.md.
GOSSIP_QUICK = (26695, 16)
GOSSIP_DEFAULT = (350395, 22)
GOSSIP_LIVENESS = (60862, 15)
DETECTOR_QUICK = (532, 21)
DETECTOR_DEFAULT = (10521, 26)
DETECTOR_LIVENESS = (1122, 23)

# Every property of every model, and the kind TLC reports it as.
CHECKED = {
    "Gossip": {
        "TypeOK": "invariant",
        "NoInventedValues": "invariant",
        "MergeIdempotent": "invariant",
        "VersionsMonotone": "property",
        "EventuallyConverged": "property",
    },
    "FailureDetector": {
        "TypeOK": "invariant",
        "SuspectOnlyAfterTimeout": "property",
        "LiveEventuallyTrusted": "property",
        "CrashedEventuallySuspected": "property",
    },
}


def run(spec: Path, cfg: Path, workers: int = 1) -> CheckResult:
    return spec_checks.run(spec, cfg, workers)


def rec(**fields: Value) -> FrozenDict:
    return FrozenDict(fields)


# ------------------------------------------------------------------------------------ vocabulary


# one Stepper a quick model for the tests that only query it
gossip = spec_checks.shared_stepper(GOSSIP, SPECS / "Gossip_quick.cfg")
detector = spec_checks.shared_stepper(DETECTOR, SPECS / "FailureDetector_quick.cfg")


@pytest.mark.parametrize(
    ("stepper", "variables", "actions"),
    [
        ("gossip", GOSSIP_VARIABLES, GOSSIP_ACTIONS),
        ("detector", DETECTOR_VARIABLES, DETECTOR_ACTIONS),
    ],
    ids=["Gossip", "FailureDetector"],
)
def test_next_has_one_labelled_action_per_vocabulary_step(
    request: pytest.FixtureRequest,
    stepper: str,
    variables: tuple[str, ...],
    actions: dict[str, tuple[str, ...]],
) -> None:
    st: Stepper = request.getfixturevalue(stepper)
    spec_checks.assert_vocabulary(st, variables, actions)


def test_initial_state_is_the_seeds_knowing_each_other(gossip: Stepper) -> None:
    (init,) = gossip.init_states()
    v = init.values
    assert v["alive"] == {"n1", "n2"} and v["crashed"] == frozenset()
    assert v["entries"] == {i: {"k1": "Nil"} for i in ("n1", "n2", "n3")}
    assert v["own"] == v["entries"]
    assert v["members"] == {"n1": {"n2"}, "n2": {"n1"}, "n3": frozenset()}
    assert v["written"] == frozenset() and v["cut"] == frozenset()
    assert gossip.violated(init) == []


# A budget large enough for one behaviour to take every action (the quick model allows one fault).
WALK_CFG = """CONSTANTS
    Nil = Nil
    NumNodes = 3
    NumSeeds = 2
    Key = {"k1", "k2"}
    NumValues = 2
    MaxVersion = 2
    MaxInFlight = 2
    MaxFaults = 6
    MaxLosses = 2
    MaxDuplicates = 1
    MaxCrashes = 1
    MaxPartitions = 1
    MaxChurn = 2
SPECIFICATION Spec
INVARIANTS TypeOK NoInventedValues MergeIdempotent
"""


class Walk(spec_walk.Walk):
    def pick(self, name: str, state_ok: Callable[[State], bool]) -> State:
        """Take the one successor of `name` (no parameters) whose state `state_ok` accepts."""
        (t,) = [
            t for t in self.st.successors(self.state) if t.action.name == name and state_ok(t.state)
        ]
        self.state = t.state
        self.taken.append(name)
        assert self.st.violated(self.state) == [], self.taken
        return self.state


def entry(version: int, origin: str, value: str) -> FrozenDict:
    return rec(version=version, origin=origin, value=value)


def test_every_action_fires_and_a_joiner_catches_up(tmp_path: Path) -> None:
    """n1 writes, n3 joins and pulls (its pull duplicated, answered twice, merged twice: the
    second changes nothing), n2 gets a push of one key, a lost push, a partition and its heal, a
    crash that keeps only n2's own write, a restart, and n3 leaves with its own write."""
    (tmp_path / "Gossip.tla").write_text(GOSSIP.read_text())
    (tmp_path / "Walk.cfg").write_text(WALK_CFG)
    with Stepper(tmp_path / "Gossip.tla", tmp_path / "Walk.cfg") as st:
        w = Walk(st)
        s = w("Update", i="n1", k="k1", v="v1")
        assert s["entries"]["n1"]["k1"] == entry(1, "n1", "v1")
        s = w("Update", i="n1", k="k1", v="v2")  # one version above what n1 holds
        assert s["entries"]["n1"]["k1"] == entry(2, "n1", "v2") == s["own"]["n1"]["k1"]
        s = w("Join", i="n3")
        assert s["members"]["n3"] == {"n1", "n2"}
        s = w("Pull", i="n3", j="n1")
        (pull,) = s["msgs"]
        # an empty function (the digest of a node that holds nothing, an empty bag) is ()
        assert pull == rec(type="pull", **{"from": "n3", "to": "n1"}, digest=())
        w("DuplicateMessage")
        w("HandlePull", i="n1", j="n3")
        s = w("HandlePull", i="n1", j="n3")
        push = rec(type="push", **{"from": "n1", "to": "n3"}, entries=rec(k1=entry(2, "n1", "v2")))
        assert s["msgs"] == {push: 2} and "n3" in s["members"]["n1"]
        s = w("HandlePush", i="n3", j="n1")
        s = w("HandlePush", i="n3", j="n1")
        assert s["entries"]["n3"]["k1"] == entry(2, "n1", "v2") and s["msgs"] == ()
        w("Update", i="n2", k="k2", v="v1")
        # a push of one of n2's keys: it holds only k2
        s = w("Push", i="n2", j="n1")
        w("LoseMessage")
        s = w("Push", i="n2", j="n1")
        s = w("HandlePush", i="n1", j="n2")
        assert s["entries"]["n1"]["k2"] == entry(1, "n2", "v1")
        s = w.pick("Partition", lambda t: t["cut"] == {"n3"})
        w("Heal")
        s = w("Pull", i="n2", j="n1")
        s = w("HandlePull", i="n1", j="n2")  # the delta: k1, which n2 lacks
        s = w("HandlePush", i="n2", j="n1")
        assert s["entries"]["n2"]["k1"] == entry(2, "n1", "v2")
        s = w("Crash", i="n2")
        assert s["entries"]["n2"] == {"k1": "Nil", "k2": entry(1, "n2", "v1")}
        assert s["members"]["n2"] == frozenset()
        s = w("Restart", i="n2")
        assert s["members"]["n2"] == {"n1"} and "n2" in s["alive"]
        w("Update", i="n3", k="k2", v="v2")  # above the k2 entry n3 does not hold: version 1
        s = w("Leave", i="n3")
        assert "n3" not in s["alive"] and s["entries"]["n3"]["k2"] == entry(1, "n3", "v2")
        assert set(w.taken) == set(GOSSIP_ACTIONS)


def test_every_detector_action_fires(detector: Stepper) -> None:
    """Heartbeats heard, n1 crashes with a heartbeat still in flight (heard after the crash), and
    n2 suspects n1 once Timeout ticks have passed since. Trust fires in the liveness model (the
    mutant suspicion_never_cleared shows it matters)."""
    w = spec_walk.Walk(detector)
    assert not w.enabled("Tick")  # each node heartbeats before time first moves
    w("Heartbeat", i="n1")
    w("Heartbeat", i="n2")
    s = w("HandleHeartbeat", i="n1", j="n2")  # n2 hears n1
    assert s["watching"]["n2"] == {"n1"}
    w("HandleHeartbeat", i="n2", j="n1")
    w("Tick")
    w("Heartbeat", i="n1")
    w("Heartbeat", i="n2")
    w("Tick")
    assert not w.enabled("Tick")  # heartbeats one tick old: delivered first
    w("HandleHeartbeat", i="n2", j="n1")
    w("HandleHeartbeat", i="n1", j="n2")
    w("Heartbeat", i="n1")
    w("Heartbeat", i="n2")
    s = w("Crash", i="n1")
    assert not any(m["to"] == "n1" for m in s["msgs"])
    assert not w.enabled("Suspect", i="n2", j="n1")  # heard this tick: not yet
    w("Tick")
    w("HandleHeartbeat", i="n1", j="n2")  # n1's last heartbeat, sent before it crashed
    w("Heartbeat", i="n2")
    w("Tick")
    w("Heartbeat", i="n2")
    s = w("Tick")
    assert s["heard"]["n2"]["n1"] == 2
    s = w("Suspect", i="n2", j="n1")
    assert s["suspected"]["n2"] == {"n1"}
    assert set(w.taken) == set(DETECTOR_ACTIONS) - {"Trust"}


def test_a_live_node_falsely_suspected_is_trusted_again(detector: Stepper) -> None:
    """Timeout 2 <= Interval 1 + MaxDelay 1: n1's heartbeat one tick late makes n2 suspect the live
    n1; the heartbeat heard, n2 trusts it again."""
    w = spec_walk.Walk(detector)
    w("Heartbeat", i="n1")
    w("HandleHeartbeat", i="n1", j="n2")
    w("Heartbeat", i="n2")
    w("HandleHeartbeat", i="n2", j="n1")
    w("Tick")
    w("Heartbeat", i="n1")
    w("Heartbeat", i="n2")
    w("HandleHeartbeat", i="n2", j="n1")
    s = w("Tick")  # n1's heartbeat to n2 is now one tick old, and n2 heard n1 two ticks ago
    assert s["heard"]["n2"]["n1"] == 2 and "n1" in s["alive"]
    assert not w.enabled("Trust", i="n2", j="n1")
    s = w("Suspect", i="n2", j="n1")
    assert s["suspected"]["n2"] == {"n1"}
    w("HandleHeartbeat", i="n1", j="n2")
    s = w("Trust", i="n2", j="n1")
    assert s["suspected"]["n2"] == frozenset()


# ------------------------------------------------------------------------------------ the models


@pytest.mark.slow  # make verify checks Gossip's models' recorded counts
def test_gossip_quick_model_holds_with_its_recorded_state_count() -> None:
    spec_checks.assert_holds(GOSSIP, SPECS / "Gossip_quick.cfg", GOSSIP_QUICK, workers=1)


def test_detector_quick_and_liveness_models_hold_with_their_recorded_counts() -> None:
    spec_checks.assert_holds(
        DETECTOR, SPECS / "FailureDetector_quick.cfg", DETECTOR_QUICK, workers=1
    )
    spec_checks.assert_holds(
        DETECTOR, SPECS / "FailureDetector_liveness.cfg", DETECTOR_LIVENESS, workers=1
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spec", "cfg", "count"),
    [
        (GOSSIP, "Gossip.cfg", GOSSIP_DEFAULT),
        (GOSSIP, "Gossip_liveness.cfg", GOSSIP_LIVENESS),
        (DETECTOR, "FailureDetector.cfg", DETECTOR_DEFAULT),
    ],
    ids=["Gossip", "Gossip_liveness", "FailureDetector"],
)
def test_default_and_liveness_models_hold_with_their_recorded_counts(
    spec: Path, cfg: str, count: tuple[int, int]
) -> None:
    spec_checks.assert_holds(spec, SPECS / cfg, count, workers=1)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("MESHCHECK_DEEP"), reason="long; set MESHCHECK_DEEP=1")
@pytest.mark.parametrize("cfg", ["Gossip_deep.cfg", "FailureDetector_deep.cfg"])
def test_deep_models_hold(cfg: str) -> None:
    spec = SPECS / (cfg.split("_")[0] + ".tla")
    spec_checks.assert_holds(spec, SPECS / cfg, None)


def test_verify_runs_both_specs_models() -> None:
    """`meshcheck verify` finds every model of both specs: the gossip descriptor claims Gossip's,
    and FailureDetector's (no descriptor of its own) are found in specs/ as unclaimed models."""
    found, problems = select_models(project_root(), "quick")
    assert problems == []
    names = {m.name for m in found}
    assert {"Gossip_quick", "Gossip_liveness"} <= names
    assert {"FailureDetector_quick", "FailureDetector_liveness"} <= names
    found, _ = select_models(project_root(), "default")
    assert {"Gossip", "FailureDetector"} <= {m.name for m in found}


def test_every_checked_property_is_named_in_the_models() -> None:
    for spec, properties in CHECKED.items():
        named: set[str] = set()
        for cfg in SPECS.glob(f"{spec}*.cfg"):
            c = read_cfg(cfg)
            named |= set(c.invariants) | set(c.properties)
        assert named == set(properties), spec


# ------------------------------------------------------------------------------------ mutants


def test_every_invariant_and_property_has_a_mutant_that_breaks_it() -> None:
    caught = {(m.spec, m.catches) for m in MUTANTS}
    assert caught == {(spec, name) for spec, names in CHECKED.items() for name in names}


SLOW_MUTANTS = {"delta_skips_missing", "restarted_node_knows_nobody"}


@pytest.mark.parametrize(
    "mutant", spec_checks.mutant_params(MUTANTS, lambda m: m.name in SLOW_MUTANTS)
)
def test_mutant_is_caught_by_its_property(tmp_path: Path, mutant: Mutant) -> None:
    cfg = mutate(tmp_path, mutant)
    r = run(tmp_path / f"{mutant.spec}.tla", cfg)
    violation = Violation(CHECKED[mutant.spec][mutant.catches], mutant.catches)
    spec_checks.assert_caught(r, mutant.name, violation, mutant.found)
