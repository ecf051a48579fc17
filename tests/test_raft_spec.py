"""specs/Raft.tla: its models hold with the recorded state counts, and every invariant has teeth.

The state counts and trace lengths below are recorded in specs/Raft.md (and the models' own counts
in their `.cfg` directives); a change to the spec that changes them shows here first. Each mutant is
a small textual change of the spec (a known Raft bug), checked on the smallest model that exhibits it
with the one property it must break, on one worker so that the counts are reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs
import pytest

from impl.raft.refinement import VARIABLES
from specs.tlc.check import CheckResult, Outcome, Violation, check
from specs.tlc.stepper import Stepper

SPECS = Path(__file__).resolve().parents[1] / "specs"
RAFT = SPECS / "Raft.tla"

# The shared vocabulary: every action of Next with its parameters (the handlers pick their message m
# from the bag inside the action, see Raft.md). The variables, in declaration order, must be exactly
# those the implementation's refinement map produces (impl.raft.refinement.VARIABLES).
ACTIONS = {
    "Timeout": ("i",),
    "ClientRequest": ("i", "v"),
    "AppendEntries": ("i", "j"),
    "InstallSnapshot": ("i", "j"),
    "TakeSnapshot": ("i",),
    "Restart": ("i",),
    "ClientRead": ("i",),
    "CompleteRead": ("i",),
    "HandleRequestVoteRequest": ("i", "j"),
    "HandleRequestVoteResponse": ("i", "j"),
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
DEFAULT = (381367, 45)
LIVENESS = (21677, 36)
DEEP = (7236339, 49)


def run(spec: Path, cfg: Path, workers: int = 2) -> CheckResult:
    return check(spec, cfg, workers=workers, deadlock=False)


# ------------------------------------------------------------------------------------ the spec itself


def test_next_has_one_labelled_action_per_vocabulary_step() -> None:
    with Stepper(RAFT, SPECS / "Raft_quick.cfg") as st:
        assert st.vars == VARIABLES
        found: dict[str, set[tuple[str, ...]]] = {}
        for a in st.actions:
            found.setdefault(a.name, set()).add(tuple(a.params))
        assert found == {name: {params} for name, params in ACTIONS.items()}
        # i and j range over distinct servers: 3 servers give 6 channels
        assert sum(a.name == "AppendEntries" for a in st.actions) == 6


def test_initial_state_is_the_empty_cluster() -> None:
    with Stepper(RAFT, SPECS / "Raft_quick.cfg") as st:
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


def test_quick_model_holds_with_its_recorded_state_count() -> None:
    r = run(RAFT, SPECS / "Raft_quick.cfg")
    assert r.outcome is Outcome.HOLDS, r.message
    assert (r.distinct, r.depth) == QUICK


@pytest.mark.slow
def test_default_model_holds_with_its_recorded_state_count() -> None:
    r = run(RAFT, SPECS / "Raft.cfg")
    assert r.outcome is Outcome.HOLDS, r.message
    assert (r.distinct, r.depth) == DEFAULT


@pytest.mark.slow
def test_liveness_model_holds_with_its_recorded_state_count() -> None:
    r = run(RAFT, SPECS / "Raft_liveness.cfg")
    assert r.outcome is Outcome.HOLDS, r.message
    assert (r.distinct, r.depth) == LIVENESS


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("MESHCHECK_DEEP"), reason="minutes; set MESHCHECK_DEEP=1")
def test_deep_model_holds_with_its_recorded_state_count() -> None:
    r = run(RAFT, SPECS / "Raft_deep.cfg")
    assert r.outcome is Outcome.HOLDS, r.message
    assert (r.distinct, r.depth) == DEEP


# ------------------------------------------------------------------------------------ mutants

# Model constants of the mutant runs: the quick model's, with overrides per mutant.
BASE: dict[str, int] = {
    "MaxTerm": 1,
    "MaxLogLen": 2,
    "MaxInFlight": 1,
    "MaxFaults": 1,
    "MaxRestarts": 1,
    "MaxDrops": 1,
    "MaxDuplicates": 1,
    "MaxSnapshots": 1,
    "MaxReads": 1,
}
NO_EXTRAS = {
    "MaxFaults": 0,
    "MaxRestarts": 0,
    "MaxDrops": 0,
    "MaxDuplicates": 0,
    "MaxSnapshots": 0,
    "MaxReads": 0,
}


@attrs.frozen
class Mutant:
    """A known bug as a textual change of Raft.tla, the model that shows it, and what must catch it."""

    name: str
    changes: tuple[tuple[str, str], ...]  # (text of Raft.tla, its replacement), each found once
    model: Mapping[str, int]  # constants over BASE
    catches: str  # the invariant (or temporal property) that must fail
    # length of the counterexample (states), as recorded in Raft.md; None for a liveness lasso,
    # whose length depends on when TLC happens to check the temporal properties
    trace: int | None
    liveness: bool = False


MUTANTS = (
    Mutant(
        "vote granted twice in a term (votedFor not checked)",
        (
            (
                "grant == m.mterm = term /\\ logOk /\\ voted \\in {None, j}",
                "grant == m.mterm = term /\\ logOk",
            ),
        ),
        {},
        "ElectionSafety",
        8,
    ),
    Mutant(
        "restart forgets votedFor (not persisted)",
        (
            (
                "    /\\ UNCHANGED <<messages, serverVars, logVars, committed>>",
                "    /\\ votedFor' = [votedFor EXCEPT ![i] = None]\n"
                "    /\\ UNCHANGED <<messages, currentTerm, logVars, committed>>",
            ),
        ),
        {**NO_EXTRAS, "MaxInFlight": 2, "MaxFaults": 1, "MaxRestarts": 1},
        "ElectionSafety",
        8,
    ),
    Mutant(
        "leader sends the entries after nextIndex (off by one)",
        (
            (
                "mentries |-> SubSeq(log[i], prev - snapshotIndex[i] + 1, last - snapshotIndex[i]),",
                "mentries |-> SubSeq(log[i], prev - snapshotIndex[i] + 2, last - snapshotIndex[i]),",
            ),
        ),
        {},
        "LogMatching",
        8,
    ),
    Mutant(
        "restart treats the whole log as committed",
        (
            (
                "    /\\ commitIndex' = [commitIndex EXCEPT ![i] = snapshotIndex[i]]",
                "    /\\ commitIndex' = [commitIndex EXCEPT ![i] = LastIndex(i)]",
            ),
        ),
        {},
        "StateMachineSafety",
        5,
    ),
    Mutant(
        "follower truncates its log to a stale AppendEntries",
        (
            (
                "ELSE IF last <= LastIndex(i) THEN log[i]",
                "ELSE IF last <= LastIndex(i) THEN SubSeq(log[i], 1, last - si)",
            ),
        ),
        {**NO_EXTRAS, "MaxInFlight": 2},
        "StateMachineSafety",
        14,
    ),
    Mutant(
        "vote granted without the up-to-date log check",
        (
            (
                "               grant == m.mterm = term /\\ logOk /\\ voted",
                "               grant == m.mterm = term /\\ voted",
            ),
        ),
        {**NO_EXTRAS, "MaxTerm": 2},
        "LeaderCompleteness",
        12,
    ),
    Mutant(
        "Figure 8: commit an earlier term's entry by counting replicas",
        (
            (
                "                                    /\\ TermAt(i, n) = currentTerm[i]}",
                "                                    }",
            ),
        ),
        {**NO_EXTRAS, "MaxTerm": 4},
        "LeaderCompleteness",
        25,
    ),
    Mutant(
        "Figure 8: commit an earlier term's entry by counting replicas, without the no-op",
        (
            (
                "                                    /\\ TermAt(i, n) = currentTerm[i]}",
                "                                    }",
            ),
            (
                "IF won THEN Append(@, [term |-> currentTerm[i], value |-> NoOp])",
                "IF won THEN @",
            ),
        ),
        {**NO_EXTRAS, "MaxTerm": 4},
        "LeaderCompleteness",
        27,
    ),
    Mutant(
        "read served without a quorum's confirmation",
        (("    /\\ Quorum(reads[i].acks)\n", ""),),
        # the old leader must miss the new term: with one slot, only a lost RequestVote does that
        {**NO_EXTRAS, "MaxTerm": 2, "MaxReads": 1, "MaxFaults": 1, "MaxDrops": 1},
        "ReadLinearizable",
        21,
    ),
    Mutant(
        "read registered before the leader committed an entry of its term",
        (("    /\\ TermAt(i, commitIndex[i]) = currentTerm[i]\n", ""),),
        {**NO_EXTRAS, "MaxTerm": 2, "MaxReads": 1},
        "ReadLinearizable",
        19,
    ),
    Mutant(
        "follower ignores the leader's commit index",
        (
            (
                "newCommit == Max(commitIndex[i], Min(m.mcommitIndex, last))",
                "newCommit == commitIndex[i]",
            ),
        ),
        {"MaxSnapshots": 0, "MaxReads": 0},
        "EventuallyAllCommitted",
        None,
        liveness=True,
    ),
    Mutant(
        "no election beyond MaxTerm, not even an uncontested one",
        (
            (
                "    /\\ currentTerm[i] < MaxTerm \\/ QuietElection(i)\n",
                "    /\\ currentTerm[i] < MaxTerm\n",
            ),
        ),
        {"MaxSnapshots": 0, "MaxReads": 0},
        "EventuallyLeader",
        None,
        liveness=True,
    ),
)


def mutate(folder: Path, mutant: Mutant) -> Path:
    """Raft.tla with the mutant's changes and a .cfg for its model and property, in `folder`."""
    text = RAFT.read_text()
    for old, new in mutant.changes:
        assert text.count(old) == 1, f"{mutant.name}: the spec no longer reads {old!r}"
        text = text.replace(old, new)
    (folder / "Raft.tla").write_text(text)
    constants = {**BASE, **mutant.model}
    lines = ["CONSTANTS", "    Server = {s1, s2, s3}", "    Value = {v1}"]
    lines += [f"    {k} = {v}" for k, v in constants.items()]
    if mutant.liveness:
        lines += ["SPECIFICATION LiveSpec", f"PROPERTY {mutant.catches}"]
    else:
        lines += [
            "SPECIFICATION Spec",
            "SYMMETRY Symmetry",
            "CONSTRAINT TermBound",
            f"INVARIANTS TypeOK {mutant.catches}",
        ]
    cfg = folder / "Mutant.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


# 5 to 12 s each; every invariant keeps a fast mutant of its own
SLOW_MUTANTS = {
    m.name for m in MUTANTS if m.liveness or m.name.startswith(("Figure 8", "read served"))
}


@pytest.mark.parametrize(
    "mutant",
    [
        pytest.param(m, id=m.name, marks=[pytest.mark.slow] if m.name in SLOW_MUTANTS else [])
        for m in MUTANTS
    ],
)
def test_mutant_is_caught_by_its_property(tmp_path: Path, mutant: Mutant) -> None:
    cfg = mutate(tmp_path, mutant)
    r = run(tmp_path / "Raft.tla", cfg, workers=1)
    assert r.outcome is Outcome.VIOLATED, f"{mutant.name}: {r.outcome} {r.message}"
    kind = "property" if mutant.liveness else "invariant"
    assert r.violation == Violation(kind, mutant.catches)
    assert r.trace is not None
    if mutant.liveness:
        assert r.trace.loop is not None  # a lasso: the behaviour repeats without progress
    else:
        assert len(r.trace) == mutant.trace


@pytest.mark.slow
def test_unmutated_spec_holds_on_every_mutant_model(tmp_path: Path) -> None:
    """The mutants' models are not broken themselves: the spec as written holds on each of them
    (the quick model's constants are checked by the quick model itself)."""
    models = {tuple(sorted(m.model.items())) for m in MUTANTS if not m.liveness and m.model}
    for n, model in enumerate(sorted(models)):
        folder = tmp_path / str(n)
        folder.mkdir()
        probe = Mutant("unmutated", (), dict(model), " ".join(SAFETY[1:]), 0)
        r = run(folder / "Raft.tla", mutate(folder, probe))
        assert r.outcome is Outcome.HOLDS, f"{dict(model)}: {r.message}"
