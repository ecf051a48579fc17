"""specs/Raft.tla: its models hold with the recorded state counts, and every invariant has teeth.

The state counts and trace lengths below are recorded in specs/Raft.md (and the models' own counts
in their `.cfg` directives); a change to the spec that changes them shows here first. Each mutant is
a small textual change of the spec (a known Raft bug), checked on the smallest model that exhibits it
with the one property it must break, on one worker so that the counts are reproducible.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.impl.raft.refinement import VARIABLES
from meshcheck.specs.mutants.raft import MUTANTS
from meshcheck.specs.mutants.raft import Mutant
from meshcheck.specs.mutants.raft import mutate
from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import Violation
from meshcheck.specs.tlc.stepper import Stepper
from tests import spec_checks

SPECS = spec_checks.SPECS
RAFT = SPECS / "Raft.tla"

# The shared vocabulary: every action of Next with its parameters (the handlers pick their message m
# from the bag inside the action, see Raft.md). The variables, in declaration order, must be exactly
# those the implementation's refinement map produces (impl.raft.refinement.VARIABLES).
ACTIONS = {
    "Timeout": ("i",),
    "PreVoteTimeout": ("i",),
    "ClientRequest": ("i", "v"),
    "AppendEntries": ("i", "j"),
    "InstallSnapshot": ("i", "j"),
    "TakeSnapshot": ("i",),
    "Restart": ("i",),
    "ClientRead": ("i",),
    "CompleteRead": ("i",),
    "HandleRequestVoteRequest": ("i", "j"),
    "HandleRequestVoteResponse": ("i", "j"),
    "HandlePreVoteRequest": ("i", "j"),
    "HandlePreVoteResponse": ("i", "j"),
    "HandleAppendEntriesRequest": ("i", "j"),
    "HandleAppendEntriesResponse": ("i", "j"),
    "HandleInstallSnapshotRequest": ("i", "j"),
    "HandleInstallSnapshotResponse": ("i", "j"),
    "DropMessage": (),
    "DuplicateMessage": (),
}
SAFETY = (
    "TypeOK",
    "VolatileNormalForm",
    "ElectionSafety",
    "LogMatching",
    "LeaderCompleteness",
    "StateMachineSafety",
    "ReadLinearizable",
)

# (distinct states, depth) as recorded in specs/Raft.md.
QUICK = (41150, 31)
DEFAULT = (374295, 43)
LIVENESS = (20576, 36)
DEEP = (7236339, 49)


# ------------------------------------------------------------------------------------ the spec itself

st = spec_checks.shared_stepper(RAFT, SPECS / "Raft_quick.cfg")


def test_next_has_one_labelled_action_per_vocabulary_step(st: Stepper) -> None:
    spec_checks.assert_vocabulary(st, VARIABLES, ACTIONS, ordered=False)
    # i and j range over distinct servers: 3 servers give 6 channels
    assert sum(a.name == "AppendEntries" for a in st.actions) == 6


def test_initial_state_is_the_empty_cluster(st: Stepper) -> None:
    (init,) = st.init_states()
    v = init.values
    assert v["messages"] == ()  # the empty bag is the empty function, which is <<>>
    assert set(v["role"].values()) == {"Follower"}
    assert set(v["votedFor"].values()) == {"None"}
    assert set(v["currentTerm"].values()) == {0}
    assert v["committed"] == ()
    assert v["budget"] == {
        "fault": 1,
        "restart": 1,
        "drop": 1,
        "duplicate": 1,
        "snapshot": 1,
    }
    assert st.violated(init) == []


# make verify checks Raft's models' recorded counts
test_model_holds_with_its_recorded_state_count = spec_checks.models_hold(
    RAFT,
    slow={"Raft_quick.cfg": QUICK, "Raft.cfg": DEFAULT, "Raft_liveness.cfg": LIVENESS},
    deep={"Raft_deep.cfg": DEEP},
    deep_takes="minutes",
)


# ------------------------------------------------------------------------------------ mutants

# The mutants (known Raft bugs as textual changes of the spec) live in specs/mutants/raft.py:
# `meshcheck mutants raft --all` runs them too, as the kill matrix's TLC column.


# 5 to 12 s each; every invariant keeps a fast mutant of its own
SLOW_MUTANTS = {
    m.name for m in MUTANTS if m.liveness or m.name.startswith(("Figure 8", "read served"))
}


@pytest.mark.parametrize(
    "mutant", spec_checks.mutant_params(MUTANTS, lambda m: m.name in SLOW_MUTANTS)
)
def test_mutant_is_caught_by_its_property(tmp_path: Path, mutant: Mutant) -> None:
    cfg = mutate(tmp_path, mutant)
    r = spec_checks.run(tmp_path / "Raft.tla", cfg, workers=1)
    trace = spec_checks.caught_trace(r, mutant.name, Violation(mutant.kind, mutant.catches))
    if mutant.liveness:
        assert trace.loop is not None  # a lasso: the behaviour repeats without progress
    else:
        assert len(trace) == mutant.trace


@pytest.mark.slow
def test_unmutated_spec_holds_on_every_mutant_model(tmp_path: Path) -> None:
    """The mutants' models are not broken themselves: the spec as written holds on each of them
    (the quick model's constants are checked by the quick model itself)."""
    models = {tuple(sorted(m.model.items())) for m in MUTANTS if not m.liveness and m.model}
    for folder, model in spec_checks.model_folders(tmp_path, models):
        probe = Mutant("unmutated", (), model, " ".join(SAFETY[1:]), 0)
        r = spec_checks.run(folder / "Raft.tla", mutate(folder, probe))
        assert r.outcome is Outcome.HOLDS, f"{model}: {r.message}"
