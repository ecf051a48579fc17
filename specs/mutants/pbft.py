"""PBFT.tla's mutants: known PBFT bugs as small textual changes of the spec, each with the model
that shows it and the one property that must catch it.

tests/test_pbft_spec.py checks each on TLC (the property fails, with the recorded number of states
and counterexample length); the seven the implementation also carries have the same names as
impl/pbft/mutants.py's switches, and `meshcheck mutants pbft --all` runs those as the kill matrix's
TLC column. The counts are recorded in specs/PBFT.md.
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

PBFT = spec_file("PBFT.tla")

# Model constants of the mutant runs: the quick model's, with overrides per mutant.
BASE: dict[str, str] = {
    "N": "4",
    "Byzantine": '{"r1"}',
    "Requests": '{"a"}',
    "MaxView": "1",
    "MaxSeq": "1",
    "CheckpointEvery": "1",
    "Window": "1",
}
TWO = {"Requests": '{"a", "b"}'}
GAPS = {"MaxSeq": "2", "Window": "2", "CheckpointEvery": "3"}


@attrs.frozen
class Mutant(Fails):
    """A known bug as a textual change of PBFT.tla, the model that shows it, and what must catch it."""

    name: str
    changes: tuple[tuple[str, str], ...]  # (text of PBFT.tla, its replacement), each found once
    model: Mapping[str, str]  # constants over BASE
    catches: str  # the invariant (or temporal property) that must fail
    # (distinct states when TLC stopped, length of the counterexample in states), as recorded in
    # PBFT.md; None for a liveness lasso, whose shape depends on when TLC checks the properties
    found: tuple[int, int] | None
    liveness: bool = False
    # an action property ([][A]_vars: ViewMonotonic, StableCheckpointMonotonic), checked as a
    # PROPERTY in a model without a VIEW, which is unsound for it (specs/PBFT_transitions.cfg)
    action: bool = False


MUTANTS = (
    Mutant(
        "prepare_quorum_2f",
        (
            (
                "Cardinality({j \\in Backups(v) : Sent(PrepareMsg(v, n, r, j))}) >= Quorum - 1",
                "Cardinality({j \\in Backups(v) : Sent(PrepareMsg(v, n, r, j))}) >= Quorum - 2",
            ),
        ),
        TWO,
        "Agreement",
        (85594, 16),
    ),
    Mutant(
        "new_view_ignores_prepared",
        (("req |-> IF at(n) # {} THEN best(n).req ELSE Noop]", "req |-> Noop]"),),
        {},
        "Agreement",
        (6335, 14),
    ),
    Mutant(
        "commit_without_commit_phase",
        (
            (
                "    /\\ CommitMsg(v, n, r, i) \\in msgs\n"
                "    /\\ Cardinality({j \\in Replicas : Sent(CommitMsg(v, n, r, j))}) >= Quorum\n",
                "    /\\ CommitMsg(v, n, r, i) \\in msgs\n",
            ),
        ),
        TWO,
        "Agreement",
        (49196, 15),
    ),
    Mutant(
        "preprepare_from_non_primary",
        (
            (
                "PrePrepared(v, n, r) == Sent(PrePrepareMsg(v, n, r, Primary(v)))",
                "PrePrepared(v, n, r) == \\E j \\in Replicas : Sent(PrePrepareMsg(v, n, r, j))",
            ),
        ),
        # r2, the primary of view 1, is the Byzantine one: with r1 Byzantine, a second
        # "primary" in view 1 needs a third view to do harm (see PBFT.md)
        {**TWO, "Byzantine": '{"r2"}'},
        "Agreement",
        (162463, 16),
    ),
    Mutant(
        "signatures_not_checked",
        (("    LET from == ByzSenders\n", "    LET from == Replicas\n"),),
        TWO,
        "Agreement",
        (6695, 9),
    ),
    Mutant(
        "backups_ignore_new_view_checkpoint",
        (
            (
                "          IN /\\ AdoptCheckpoint(i, nv.ckpt)\n",
                "          IN /\\ AdoptCheckpoint(i, 0)\n",
            ),
        ),
        {**TWO, "Byzantine": '{"r2"}'},
        "Agreement",
        (216677, 18),
    ),
    Mutant(
        "request_not_checked",
        (
            (
                "    /\\ \\E r \\in requested :\n          /\\ PrePrepared(v, n, r)",
                "    /\\ \\E r \\in Requests :\n          /\\ PrePrepared(v, n, r)",
            ),
        ),
        TWO,
        "Validity",
        (718, 6),
    ),
    Mutant(
        "client_accepts_f_replies",
        ((">= F + 1\n    /\\ accepted'", ">= F\n    /\\ accepted'"),),
        {},
        "ReplyCorrect",
        (9, 3),
    ),
    Mutant(
        "reply_for_noop",
        (("(IF r = Noop THEN {} ELSE {ReplyMsg(n, r, i)})", "{ReplyMsg(n, r, i)}"),),
        # a gap in O needs a claim above an empty sequence number (no checkpoints: K > MaxSeq)
        GAPS,
        "TypeOK",
        (12975, 11),
    ),
    Mutant(
        "stable_without_state",
        (
            (
                "        /\\ executed' = [executed EXCEPT ![i] = IF Len(@) < c THEN d ELSE @]",
                "        /\\ executed' = executed",
            ),
        ),
        {},
        "StableExecuted",
        (424, 9),
    ),
    Mutant(
        "stale_new_view_accepted",
        (
            (
                '    /\\ v > view[i] \\/ (v = view[i] /\\ status[i] = "changing")\n',
                '    /\\ v # view[i] \\/ status[i] = "changing"\n',
            ),
        ),
        # a NEW-VIEW of view 1 reaches a replica that went on to view 2
        {"MaxView": "2"},
        "ViewMonotonic",
        (319, 7),
        action=True,
    ),
    Mutant(
        "stable_checkpoint_moves_back",
        (
            (
                "        /\\ stable' = [stable EXCEPT ![i] = Max(@, c)]\n",
                "        /\\ stable' = [stable EXCEPT ![i] = c]\n",
            ),
        ),
        {},
        "StableCheckpointMonotonic",
        (2295, 12),
        action=True,
    ),
    Mutant(
        "new_view_waits_for_all",
        (
            (
                "    /\\ i = Primary(view[i])\n    /\\ \\E j \\in Justifications(view[i], {i}) :",
                "    /\\ i = Primary(view[i])\n"
                "    /\\ \\A k \\in Replicas :\n"
                '          \\E m \\in msgs : m.type = "ViewChange" /\\ m.view = view[i] /\\ m.src = k\n'
                "    /\\ \\E j \\in Justifications(view[i], {i}) :",
            ),
        ),
        {},
        "EventuallyHonestPrimary",
        None,
        liveness=True,
    ),
    Mutant(
        "commit_waits_for_all",
        (
            (
                "Cardinality({j \\in Replicas : Sent(CommitMsg(v, n, r, j))}) >= Quorum",
                "Cardinality({j \\in Replicas : Sent(CommitMsg(v, n, r, j))}) = N",
            ),
        ),
        {},
        "EventuallyExecuted",
        None,
        liveness=True,
    ),
)

# The liveness model's constants (PBFT_liveness.cfg), over which the liveness mutants run.
LIVE: dict[str, str] = {**BASE, "Requests": '{"a", "b"}', "MaxSeq": "2"}


def mutate(folder: Path, mutant: Mutant) -> Path:
    """PBFT.tla with the mutant's changes and a .cfg for its model and property, in `folder`."""
    write_spec(folder, PBFT, mutant.name, mutant.changes)
    lines = constants({**(LIVE if mutant.liveness else BASE), **mutant.model})
    if mutant.liveness:
        lines.append(
            "    ByzSenders <- Silent"
        )  # the liveness model's Byzantine replicas are silent
    lines += what_fails(mutant.catches, liveness=mutant.liveness, action=mutant.action)
    return write_cfg(folder, lines)


# Implementation mutants with no spec mutant that TLC can kill, and why.
EQUIVALENT: Mapping[str, str] = {
    "checkpoint_stable_on_f_plus_1": (
        "equivalent in the spec: F+1 checkpoint proofs include an honest replica's, whose digest is "
        "the history every honest replica executes while Agreement holds (PBFT.md)"
    ),
}
