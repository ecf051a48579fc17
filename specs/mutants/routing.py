"""Routing.tla's mutants: one per invariant (and one for the liveness property), each a small
textual change of the spec with the model that shows it and the one property that must catch it.

Four carry the names of impl/manager/mutants.py's switches (`critical_to_raft_at_none`,
`status_counted_committed`, `unknown_to_gossip`, `rejected_counted_as_agreed`), so `meshcheck
mutants routing --all` puts TLC on the spec mutant beside the implementation's checks.
tests/test_routing_spec.py checks each on TLC (the property fails, with the recorded number of
states and counterexample length); the counts are in specs/Routing.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from meshcheck.specs import spec_file
from meshcheck.specs.mutants.files import constants
from meshcheck.specs.mutants.files import write_cfg
from meshcheck.specs.mutants.files import write_spec

ROUTING = spec_file("Routing.tla")

# The quick model's constants (Routing_quick.cfg), over which every mutant runs.
BASE: dict[str, str] = {"Ops": '{"o1", "o2"}', "MaxEpoch": "2", "MaxChanges": "2"}


@attrs.frozen
class Mutant:
    """A routing bug as a textual change of Routing.tla, the model that shows it, and what must
    catch it."""

    name: str
    changes: tuple[tuple[str, str], ...]  # (text of Routing.tla, its replacement), each found once
    catches: str  # the invariant (or temporal property) that must fail
    # (distinct states when TLC stopped, length of the counterexample in states), as recorded in
    # Routing.md; None for a liveness lasso
    found: tuple[int, int] | None
    model: Mapping[str, str] = attrs.field(factory=dict)  # constants over BASE
    liveness: bool = False


MUTANTS = (
    Mutant(
        # the level changes protocol and the dispatcher stays in its epoch
        "level_change_without_switch",
        (("    /\\ IF Protocol(l) # mode[epoch]\n", "    /\\ IF FALSE\n"),),
        "ModeMatchesLevel",
        (12, 2),
    ),
    Mutant(
        # at level None the manager sends a critical op to the hybrid dispatcher (Raft then)
        "critical_to_raft_at_none",
        (
            (
                "    /\\ layer' = [layer EXCEPT ![o] = Routes[type[o]]]\n",
                "    /\\ layer' = [layer EXCEPT ![o] =\n"
                '           IF type[o] = "critical" /\\ level = "None" THEN "hybrid"\n'
                "           ELSE Routes[type[o]]]\n",
            ),
            ('IF Routes[type[o]] = "hybrid" THEN', 'IF layer\'[o] = "hybrid" THEN'),
        ),
        "CriticalOnlyByBFT",
        (99, 4),
    ),
    Mutant(
        # a coordination op decided by the protocol the level calls for now, not by its epoch's
        "coordination_by_current_level",
        (
            (
                '       \\/ layer[o] = "hybrid" /\\ tag[o] = epoch /\\ mode[tag[o]] = "bft"',
                '       \\/ layer[o] = "hybrid" /\\ mode[epoch] = "bft"',
            ),
        ),
        "CoordinationByLevelAtRouting",
        (559, 5),
    ),
    Mutant(
        # a decided op may be decided again (the guard on its state is lost)
        "decided_twice",
        (
            (
                'DecideRaft(o) ==\n    /\\ state[o] = "routed"',
                'DecideRaft(o) ==\n    /\\ state[o] \\in {"routed", "done"}',
            ),
        ),
        "DecidedOnce",
        (550, 5),
    ),
    Mutant(
        # a status write waits until the hybrid dispatcher runs Raft
        "status_waits_for_consensus",
        (
            (
                '    /\\ layer[o] = "gossip"\n    /\\ how\'',
                '    /\\ layer[o] = "gossip"\n    /\\ mode[epoch] = "raft"\n    /\\ how\'',
            ),
        ),
        "StatusNeverWaits",
        (218, 4),
    ),
    Mutant(
        "status_counted_committed",
        (
            (
                '    /\\ answer\' = [answer EXCEPT ![o] = "gossiped"]',
                '    /\\ answer\' = [answer EXCEPT ![o] = "agreed"]',
            ),
        ),
        "StatusNeverAgreed",
        (215, 4),
    ),
    Mutant(
        "unknown_to_gossip",
        (
            (
                'Route(o) ==\n    /\\ state[o] = "submitted"\n    /\\ type[o] \\in Known\n',
                'Route(o) ==\n    /\\ state[o] = "submitted"\n',
            ),
            (
                "Routes[type[o]]]\n    /\\ tag'",
                'IF type[o] \\in Known THEN Routes[type[o]] ELSE "gossip"]\n    /\\ tag\'',
            ),
            ('IF Routes[type[o]] = "hybrid" THEN', 'IF layer\'[o] = "hybrid" THEN'),
        ),
        "UnknownRefused",
        (60, 3),
    ),
    Mutant(
        # a coordination op whose epoch ended without it is reported as agreed
        "rejected_counted_as_agreed",
        (
            (
                '    /\\ answer\' = [answer EXCEPT ![o] = "rejected"]',
                '    /\\ answer\' = [answer EXCEPT ![o] = "agreed"]',
            ),
        ),
        "AgreedMeansDecided",
        (559, 5),
    ),
    Mutant(
        # an unknown type is dropped: never routed, never refused, its submitter never told
        "unknown_dropped",
        (("    /\\ type[o] \\notin Known\n    /\\ state'", "    /\\ FALSE\n    /\\ state'"),),
        "EveryOpAnswered",
        None,
        liveness=True,
    ),
)


def mutate(folder: Path, mutant: Mutant) -> Path:
    """Routing.tla with the mutant's changes and a .cfg for its model and property, in `folder`."""
    write_spec(folder, ROUTING, mutant.name, mutant.changes)
    lines = constants({**BASE, **mutant.model})
    if mutant.liveness:
        lines += ["SPECIFICATION LiveSpec", f"PROPERTY {mutant.catches}"]
    else:
        invariants = " ".join(dict.fromkeys(("TypeOK", mutant.catches)))
        lines += ["SPECIFICATION Spec", f"INVARIANTS {invariants}"]
    return write_cfg(folder, lines)


# Implementation mutants with no spec mutant TLC can kill, and why (none: each has one).
EQUIVALENT: Mapping[str, str] = {}
