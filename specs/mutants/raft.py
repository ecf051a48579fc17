"""Raft.tla's mutants: known Raft bugs as small textual changes of the spec, each with the model
that shows it and the one property that must catch it.

tests/test_raft_spec.py checks each on TLC (the property fails, with the recorded counterexample
length); `meshcheck mutants raft --all` runs the ones that carry an implementation switch (`impl`,
impl/raft/mutants.py) as the kill matrix's TLC column. The lengths are recorded in specs/Raft.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from meshcheck.specs import spec_file
from meshcheck.specs.mutants.files import Fails
from meshcheck.specs.mutants.files import constants
from meshcheck.specs.mutants.files import write_cfg
from meshcheck.specs.mutants.files import write_spec

RAFT = spec_file("Raft.tla")

# Model constants of the mutant runs: the quick model's, with overrides per mutant.
BASE: dict[str, int | str] = {
    "MaxTerm": 1,
    "MaxLogLen": 2,
    "MaxInFlight": 1,
    "MaxFaults": 1,
    "MaxRestarts": 1,
    "MaxDrops": 1,
    "MaxDuplicates": 1,
    "MaxSnapshots": 1,
    "MaxReads": 1,
    "LeaderNoOp": "TRUE",
    "PreVote": "FALSE",
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
class Mutant(Fails):
    """A known bug as a textual change of Raft.tla, the model that shows it, and what must catch it."""

    name: str
    changes: tuple[tuple[str, str], ...]  # (text of Raft.tla, its replacement), each found once
    model: Mapping[str, int | str]  # constants over BASE (a TLA+ value as written: 2, "FALSE")
    catches: str  # the invariant (or temporal property) that must fail
    # length of the counterexample (states), as recorded in Raft.md; None for a liveness lasso,
    # whose length depends on when TLC happens to check the temporal properties
    trace: int | None
    liveness: bool = False
    impl: str | None = None  # the same bug's switch in impl/raft/mutants.py
    # an action property ([][A]_vars: CommitIndexMonotonic, MatchIndexMonotonic), checked as a
    # PROPERTY without the SYMMETRY, which is unsound for it (specs/Raft_transitions.cfg)
    action: bool = False


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
        impl="forget_voted_for",
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
        impl="truncate_on_stale_append",
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
        impl="vote_without_log_check",
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
        impl="commit_previous_term",
    ),
    Mutant(
        "Figure 8: commit an earlier term's entry by counting replicas, without the no-op",
        (
            (
                "                                    /\\ TermAt(i, n) = currentTerm[i]}",
                "                                    }",
            ),
        ),
        {**NO_EXTRAS, "MaxTerm": 4, "LeaderNoOp": "FALSE"},
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
        impl="read_without_quorum",
    ),
    Mutant(
        "read registered before the leader committed an entry of its term",
        (("    /\\ TermAt(i, commitIndex[i]) = currentTerm[i]\n", ""),),
        {**NO_EXTRAS, "MaxTerm": 2, "MaxReads": 1},
        "ReadLinearizable",
        19,
    ),
    Mutant(
        "leader takes a success's match index as it is, not the larger (a stale reply moves it back)",
        (
            (
                "![j] = IF m.msuccess THEN Max(@, m.mmatchIndex) ELSE @]",
                "![j] = IF m.msuccess THEN m.mmatchIndex ELSE @]",
            ),
        ),
        {**NO_EXTRAS, "MaxInFlight": 2},
        "MatchIndexMonotonic",
        13,
        impl="stale_match_index",
        action=True,
    ),
    Mutant(
        "follower takes a stale request's smaller leaderCommit as its commit index",
        (
            (
                "newCommit == Max(commitIndex[i], Min(m.mcommitIndex, last))",
                "newCommit == Min(m.mcommitIndex, last)",
            ),
        ),
        {**NO_EXTRAS, "MaxInFlight": 2},
        "CommitIndexMonotonic",
        13,
        impl="commit_index_lowered",
        action=True,
    ),
    Mutant(
        "follower's success names the index after its last new entry (off by one)",
        (
            (
                "mmatchIndex |-> IF accept THEN last ELSE 0, mreadSeq |-> m.mreadSeq,",
                "mmatchIndex |-> IF accept THEN last + 1 ELSE 0, mreadSeq |-> m.mreadSeq,",
            ),
        ),
        {},
        "MatchIndexBounded",
        8,
        impl="match_past_last",
    ),
    Mutant(
        "a rejection moves nextIndex back to the hint floored at 1, not at matchIndex + 1",
        (
            (
                "ELSE Max(Min(nextIndex[i][j] - 1, m.mconflictIndex), match[j] + 1)",
                "ELSE Max(Min(nextIndex[i][j] - 1, m.mconflictIndex), 1)",
            ),
        ),
        # no client request is needed: the two leaders' no-ops make s3's log differ, and s3's
        # stale rejection, read after its success set matchIndex to 1, floors nextIndex at 1;
        # MaxLogLen 1 gives the same 23-state counterexample as 2, in 8,139 states, not 44,190
        {**NO_EXTRAS, "MaxTerm": 2, "MaxInFlight": 2, "MaxLogLen": 1},
        "NextIndexAboveMatch",
        23,
        impl="backup_below_match",
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
    write_spec(folder, RAFT, mutant.name, mutant.changes)
    lines = constants({"Server": "{s1, s2, s3}", "Value": "{v1}", **BASE, **mutant.model})
    if mutant.liveness:
        lines += ["SPECIFICATION LiveSpec", f"PROPERTY {mutant.catches}"]
    elif mutant.action:
        lines += [
            "SPECIFICATION Spec",
            "CONSTRAINT TermBound",
            "INVARIANTS TypeOK",
            f"PROPERTY {mutant.catches}",
        ]
    else:
        lines += [
            "SPECIFICATION Spec",
            "SYMMETRY Symmetry",
            "CONSTRAINT TermBound",
            f"INVARIANTS TypeOK {mutant.catches}",
        ]
    return write_cfg(folder, lines)
