"""HotStuff.tla's mutants: known HotStuff bugs as small textual changes of the spec, each with the
model that shows it and the one property that must catch it.

Six of them have the names of the implementation's catalogue mutants (impl/hotstuff/mutants.py),
so that `meshcheck mutants hotstuff --all` runs them as the kill matrix's TLC
column (`EQUIVALENT` says why `propose_from_lower_qc` has none; `safe_node_without_liveness_clause`
has none either, a liveness bug of a Byzantine fork that the implementation's checks kill);
tests/test_hotstuff_spec.py checks each on TLC, and specs/HotStuff.md records the counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from meshcheck.specs import spec_file
from meshcheck.specs.mutants.files import Fails
from meshcheck.specs.mutants.files import constants
from meshcheck.specs.mutants.files import what_fails
from meshcheck.specs.mutants.files import write_cfg
from meshcheck.specs.mutants.files import write_spec

HOTSTUFF = spec_file("HotStuff.tla")

# Model constants of the mutant runs, with overrides per mutant: no timeouts (GST = 1), one
# command, r1 (the leader of view 4) Byzantine.
BASE: dict[str, str] = {
    "N": "4",
    "Byzantine": '{"r1"}',
    "Cmds": '{"a"}',
    "MaxView": "6",
    "GST": "1",
}


@attrs.frozen
class Mutant(Fails):
    """A known bug as a textual change of HotStuff.tla, the model that shows it, and what must
    catch it."""

    name: str
    changes: tuple[tuple[str, str], ...]  # (text of HotStuff.tla, its replacement), each found once
    model: Mapping[str, str]  # constants over BASE
    catches: str  # the invariant (or temporal or action property) that must fail
    # (distinct states when TLC stopped, length of the counterexample in states), as recorded in
    # HotStuff.md; None for a liveness lasso
    found: tuple[int, int] | None
    liveness: bool = False  # checked on the liveness model (LiveSpec)
    # further invariants the mutant breaks too, each checked alone by the spec tests
    also: tuple[str, ...] = ()
    action: bool = False  # `catches` is an action property ([][A]_v), not an invariant


MUTANTS = (
    Mutant(
        "lock_not_updated",
        (
            (
                "/\\ locked' = [locked EXCEPT ![i] = IF View(b1) > View(@) THEN b1 ELSE @]",
                "/\\ locked' = locked",
            ),
        ),
        {"MaxView": "4"},
        "LockCoversVotes",
        (445, 9),
    ),
    Mutant(
        "commit_on_two_chain",
        (
            (
                "IF Len(bstar) >= 4 /\\ View(b2) = View(b1) + 1 /\\ View(b1) = View(b0) + 1\n"
                "                THEN @ \\cup {SubSeq(b0, 1, k) : k \\in 1..Len(b0)}",
                "IF Len(bstar) >= 3 /\\ View(b2) = View(b1) + 1\n"
                "                THEN @ \\cup {SubSeq(b1, 1, k) : k \\in 1..Len(b1)}",
            ),
        ),
        {},
        "NoConflictingCommits",
        (45990, 18),
        also=("OneChain",),
    ),
    Mutant(
        "qc_of_2f_votes",
        (
            (
                "Cardinality({j \\in Replicas : SentVote(b, j)}) >= Quorum",
                "Cardinality({j \\in Replicas : SentVote(b, j)}) >= 2 * F",
            ),
        ),
        {"MaxView": "4"},
        "NoConflictingQCs",
        (60, 5),
    ),
    Mutant(
        "vote_twice_in_view",
        (("    /\\ View(b) > lastVoted[i]\n", "    /\\ View(b) >= lastVoted[i]\n"),),
        {"MaxView": "4"},
        "OneVotePerView",
        (72, 6),
    ),
    Mutant(
        "new_view_qc_not_checked",
        (
            (
                "{Highest(mine(S) \\cup {c}) : c \\in {q \\in QCs : View(q) < v}}",
                "{Highest(mine(S) \\cup {c}) : c \\in QCs}",
            ),
        ),
        {"MaxView": "4", "GST": "2"},
        "TypeOK",
        (466, 6),
    ),
    Mutant(
        # the liveness clause alone, strictly newer than the lock: no correct replica ever votes
        # (the first block's justify is genesis, the lock's view), so the safety invariants hold
        # vacuously; nothing is ever committed, which the liveness model sees (HotStuff.md, "The
        # safe-node rule's safety clause"; DiemBFT's >= is DIEM_VOTING_RULE below)
        "safe_node_without_safety_clause",
        (("    \\/ Extends(b, locked[i])\n", ""),),
        {"MaxView": "4", "GST": "1"},
        "EventuallyCommitted",
        None,
        liveness=True,
    ),
    Mutant(
        "lock_moves_down",
        (
            (
                "/\\ locked' = [locked EXCEPT ![i] = IF View(b1) > View(@) THEN b1 ELSE @]",
                "/\\ locked' = [locked EXCEPT ![i] = b1]",
            ),
        ),
        {"MaxView": "4"},
        "LockMonotonic",
        (2299, 12),
        action=True,
    ),
)

# Three of the mutants fail their direct invariant within 4 views; their consequence,
# conflicting commits, needs two disjoint three-chains and the proposals that carry their QCs:
# 7 views with N = 4 (HotStuff.md). The same changes with NoConflictingCommits as the property,
# run by the deep tier only (not measured: TLC had not finished after 15 minutes, 2.4 GB).
CONSEQUENCES = tuple(
    attrs.evolve(m, model={"MaxView": "7"}, catches="NoConflictingCommits", found=None)
    for m in MUTANTS
    if m.name in {"lock_not_updated", "qc_of_2f_votes", "vote_twice_in_view"}
)

# The safe-node rule with its liveness clause alone, as DiemBFT words it (>=: the block's justify is
# at least as high as the lock): exactly safeNode, since a block that extends the lock has a parent
# at least as high as the lock (HotStuff.md, "The safe-node rule's safety clause"). Not a mutant
# at all; tests/test_hotstuff_spec.py checks the rule on a model where the safety mutants fail.
DIEM_VOTING_RULE = Mutant(
    "diem_voting_rule",
    (
        ("    \\/ Extends(b, locked[i])\n", ""),
        ("    \\/ View(Parent(b)) > View(locked[i])", "    \\/ View(Parent(b)) >= View(locked[i])"),
    ),
    {},
    "NoConflictingCommits OneChain",
    None,
)

# Liveness constants with timeouts before GST (views 1..5, GST 2): the liveness mutants' model.
# HotStuff_liveness.cfg itself has GST 1 and views 1..4; this one, all honest, did not finish in
# 35 minutes, but with r1 silent it is small (tests/test_hotstuff_spec.py).
LIVE: dict[str, str] = {**BASE, "Byzantine": "{}", "MaxView": "5", "GST": "2"}


def mutate(folder: Path, mutant: Mutant) -> Path:
    """HotStuff.tla with the mutant's changes and a .cfg for its model and property, in
    `folder`."""
    write_spec(folder, HOTSTUFF, mutant.name, mutant.changes)
    return write_cfg(
        folder,
        [
            *constants({**(LIVE if mutant.liveness else BASE), **mutant.model}),
            *what_fails(mutant.catches, liveness=mutant.liveness, action=mutant.action),
        ],
    )


# Implementation mutants with no spec mutant that TLC kills, and why.
EQUIVALENT: Mapping[str, str] = {
    "propose_from_lower_qc": (
        "a liveness bug whose smallest witness (a lock from a three-chain before GST, then a view "
        "change) needs GST 4 and 7 views, a liveness model too large to check (HotStuff.md)"
    ),
}
