"""HotStuff.tla's mutants: known HotStuff bugs as small textual changes of the spec, each with the
model that shows it and the one property that must catch it.

The first six are the implementation's mutant catalogue (issue 16, item 4), by the names
impl/hotstuff/mutants.py is to use, so that `meshcheck mutants hotstuff --all` can run them as the
kill matrix's TLC column; tests/test_hotstuff_spec.py checks each on TLC, and specs/HotStuff.md
records the counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from meshcheck.specs import spec_file

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
class Mutant:
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
        {"MaxView": "7"},
        "NoConflictingCommits",
        None,
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
        "OneChain",
        None,
    ),
    Mutant(
        "qc_of_2f_votes",
        (
            (
                "Cardinality({j \\in Replicas : SentVote(b, j)}) >= Quorum",
                "Cardinality({j \\in Replicas : SentVote(b, j)}) >= 2 * F",
            ),
        ),
        {"MaxView": "7"},
        "NoConflictingCommits",
        None,
    ),
    Mutant(
        "vote_twice_in_view",
        (("    /\\ View(b) > lastVoted[i]\n", "    /\\ View(b) >= lastVoted[i]\n"),),
        {"MaxView": "7"},
        "NoConflictingCommits",
        None,
    ),
    Mutant(
        "safe_node_without_safety_clause",
        (("    \\/ Extends(b, locked[i])\n", ""),),
        {"MaxView": "7"},
        "NoConflictingCommits",
        None,
    ),
    Mutant(
        "propose_from_lower_qc",
        (
            (
                "/\\ highQC' = [highQC EXCEPT ![i] = h]",
                "/\\ h = highQC[i]",
            ),
        ),
        {},
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
        None,
        action=True,
    ),
)

# The liveness model's constants (HotStuff_liveness.cfg), over which the liveness mutants run.
LIVE: dict[str, str] = {**BASE, "Byzantine": "{}", "MaxView": "5", "GST": "2"}


def mutate(folder: Path, mutant: Mutant) -> Path:
    """HotStuff.tla with the mutant's changes and a .cfg for its model and property, in
    `folder`."""
    text = HOTSTUFF.read_text()
    for old, new in mutant.changes:
        if text.count(old) != 1:
            raise ValueError(f"{mutant.name}: HotStuff.tla no longer reads {old!r} (once)")
        text = text.replace(old, new)
    (folder / "HotStuff.tla").write_text(text)
    constants = {**(LIVE if mutant.liveness else BASE), **mutant.model}
    lines = ["CONSTANTS"] + [f"    {k} = {v}" for k, v in constants.items()]
    if mutant.liveness:
        lines += ["SPECIFICATION LiveSpec", f"PROPERTY {mutant.catches}"]
    elif mutant.action:
        lines += ["SPECIFICATION Spec", "INVARIANTS TypeOK", f"PROPERTY {mutant.catches}"]
    else:
        lines += ["SPECIFICATION Spec", f"INVARIANTS TypeOK {mutant.catches}"]
    cfg = folder / "Mutant.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg
