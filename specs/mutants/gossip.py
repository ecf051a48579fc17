"""Gossip.tla's and FailureDetector.tla's mutants: known bugs as small textual changes of the spec,
each with the model that shows it and the one property that must catch it.

tests/test_gossip_spec.py checks each on TLC (the property fails, with the recorded number of states
and counterexample length). Four carry the name of the same bug's switch in impl/gossip/mutants.py
(`impl`), so that `meshcheck mutants gossip --all` can put TLC on the mutated spec beside the
implementation's checks once the gossip descriptor names this module (`spec_mutants`). The counts are
recorded in specs/Gossip.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from meshcheck.specs import spec_file
from meshcheck.specs.mutants.files import constants
from meshcheck.specs.mutants.files import write_cfg
from meshcheck.specs.mutants.files import write_spec

# Model constants of the mutant runs: each spec's quick model's, with overrides per mutant.
GOSSIP_BASE: dict[str, str] = {
    "Nil": "Nil",
    "NumNodes": "3",
    "NumSeeds": "2",
    "Key": '{"k1"}',
    "NumValues": "1",
    "MaxVersion": "1",
    "MaxInFlight": "1",
    "MaxFaults": "1",
    "MaxLosses": "1",
    "MaxDuplicates": "1",
    "MaxCrashes": "1",
    "MaxPartitions": "1",
    "MaxChurn": "2",
}
DETECTOR_BASE: dict[str, str] = {
    "NumNodes": "2",
    "Interval": "1",
    "MaxDelay": "1",
    "Timeout": "2",
    "MaxCrashes": "1",
}
BASES: Mapping[str, Mapping[str, str]] = {
    "Gossip": GOSSIP_BASE,
    "FailureDetector": DETECTOR_BASE,
}


@attrs.frozen
class Mutant:
    """A known bug as a textual change of a spec, the model that shows it, and what must catch it."""

    name: str
    spec: str  # "Gossip" or "FailureDetector"
    changes: tuple[tuple[str, str], ...]  # (text of the spec, its replacement), each found once
    model: Mapping[str, str]  # constants over the spec's base
    catches: str  # the invariant or property (action or temporal) that must fail
    # (distinct states when TLC stopped, length of the counterexample in states), as recorded in
    # Gossip.md; None for a liveness lasso, whose shape depends on when TLC checks the properties
    found: tuple[int, int] | None
    liveness: bool = False  # `catches` is a PROPERTY (an action property or a temporal one)
    fair: bool = False  # checked under LiveSpec (the spec's fairness), not Spec
    impl: str | None = None  # the same bug's switch in impl/gossip/mutants.py


MERGE_HIGHER = "        ELSE Higher(s[k], e[k])]"

MUTANTS = (
    Mutant(
        "merge_not_idempotent",
        "Gossip",
        (
            (
                "Absorb(mine, theirs) == Merge(mine, theirs)",
                "Absorb(mine, theirs) ==\n"
                "    [k \\in DOMAIN mine |->\n"
                "        IF k \\in DOMAIN theirs /\\ mine[k] # Nil /\\ theirs[k] = mine[k]\n"
                "        THEN [mine[k] EXCEPT !.version = @ + 1]\n"
                "        ELSE Merge(mine, theirs)[k]]",
            ),
        ),
        {},
        "MergeIdempotent",
        (2, 2),
        impl="merge_not_idempotent",
    ),
    Mutant(
        "merge_mixes_fields",
        "Gossip",
        ((MERGE_HIGHER, "        ELSE [Higher(s[k], e[k]) EXCEPT !.value = e[k].value]]"),),
        {"NumValues": "2"},
        "NoInventedValues",
        (429, 5),
    ),
    Mutant(
        "older_overwrites_newer",
        "Gossip",
        ((MERGE_HIGHER, "        ELSE e[k]]"),),
        {},
        "VersionsMonotone",
        (221, 5),
        liveness=True,
        impl="older_overwrites_newer",
    ),
    Mutant(
        "own_writes_not_persisted",
        "Gossip",
        (
            (
                "    /\\ crashed' = crashed \\cup {i}\n",
                "    /\\ crashed' = crashed \\cup {i}\n"
                "    /\\ own' = [own EXCEPT ![i] = EmptyState]\n",
            ),
            (
                "    /\\ UNCHANGED <<own, msgs, cut, written>>\n\n\\* A crashed node comes back",
                "    /\\ UNCHANGED <<msgs, cut, written>>\n\n\\* A crashed node comes back",
            ),
        ),
        {},
        "VersionsMonotone",
        (16, 3),
        liveness=True,
    ),
    Mutant(
        "leave_keeps_view",
        "Gossip",
        (
            (
                "    /\\ Stop(i)\n    /\\ budget' = [budget EXCEPT !.churn = @ - 1]",
                "    /\\ alive' = alive \\ {i}\n"
                "    /\\ entries' = [entries EXCEPT ![i] = own[i]]\n"
                "    /\\ UNCHANGED members\n"
                "    /\\ budget' = [budget EXCEPT !.churn = @ - 1]",
            ),
        ),
        {},
        "TypeOK",
        (59, 3),
    ),
    Mutant(
        "delta_skips_missing",
        "Gossip",
        (
            (
                "k \\notin DOMAIN d \\/ RankLess(d[k], Rank(mine[k]))",
                "k \\in DOMAIN d /\\ RankLess(d[k], Rank(mine[k]))",
            ),
        ),
        {},
        "EventuallyConverged",
        None,
        liveness=True,
        fair=True,
        impl="delta_skips_missing",
    ),
    Mutant(
        "restarted_node_knows_nobody",
        "Gossip",
        (
            (
                "    /\\ crashed' = crashed \\ {i}\n    /\\ members' = [members EXCEPT ![i] = Seed \\ {i}]",
                "    /\\ crashed' = crashed \\ {i}\n    /\\ members' = [members EXCEPT ![i] = {}]",
            ),
            (
                "              ELSE Reply([type |-> PushMsg, from |-> i, to |-> j, entries |-> d], m)\n"
                "        /\\ members' = [members EXCEPT ![i] = @ \\cup {j}]",
                "              ELSE Reply([type |-> PushMsg, from |-> i, to |-> j, entries |-> d], m)\n"
                "        /\\ UNCHANGED members",
            ),
        ),
        {},
        "EventuallyConverged",
        None,
        liveness=True,
        fair=True,
    ),
    Mutant(
        "suspect_before_timeout",
        "FailureDetector",
        (("    /\\ heard[i][j] >= Timeout\n", ""),),
        {},
        "SuspectOnlyAfterTimeout",
        (18, 4),
        liveness=True,
    ),
    Mutant(
        "suspicion_never_cleared",
        "FailureDetector",
        (("    /\\ suspected' = [suspected EXCEPT ![i] = @ \\ {j}]", "    /\\ FALSE"),),
        {},
        "LiveEventuallyTrusted",
        None,
        liveness=True,
        fair=True,
        impl="suspicion_never_cleared",
    ),
    Mutant(
        "clock_stops_for_watched",
        "FailureDetector",
        (
            (
                "IF i \\in alive /\\ j \\in watching[i] THEN Min(heard[i][j] + 1, Timeout)",
                "IF i \\in alive /\\ j \\in watching[i] THEN heard[i][j]",
            ),
        ),
        {},
        "CrashedEventuallySuspected",
        None,
        liveness=True,
        fair=True,
    ),
    Mutant(
        "crash_keeps_inbox",
        "FailureDetector",
        (("    /\\ msgs' = {m \\in msgs : m.to # i}\n", "    /\\ UNCHANGED msgs\n"),),
        {},
        "TypeOK",
        (9, 3),
    ),
)


def mutate(folder: Path, mutant: Mutant) -> Path:
    """The mutant's spec with its changes and a .cfg for its model and property, in `folder`."""
    write_spec(folder, spec_file(f"{mutant.spec}.tla"), mutant.name, mutant.changes)
    lines = constants({**BASES[mutant.spec], **mutant.model})
    lines.append(f"SPECIFICATION {'LiveSpec' if mutant.fair else 'Spec'}")
    lines.append(f"PROPERTY {mutant.catches}" if mutant.liveness else "INVARIANT TypeOK")
    if not mutant.liveness and mutant.catches != "TypeOK":
        lines.append(f"INVARIANT {mutant.catches}")
    return write_cfg(folder, lines)


# Implementation mutants with no spec mutant that TLC can kill, and why.
EQUIVALENT: Mapping[str, str] = {
    "phi_wrong_window": (
        "FailureDetector.tla abstracts the accrual level to the time since the last heartbeat "
        "heard (Gossip.md); which arrivals phi is computed from is below the spec"
    ),
}
