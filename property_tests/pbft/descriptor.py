"""PBFT as meshcheck knows it: specs/PBFT.tla, impl/pbft, its mutants, checks, proofs and corpus.

Declared in pyproject.toml as the entry point `pbft` of the group `meshcheck.protocols`; the
commands find it through meshcheck/registry.py. The action table is PBFT.tla's `Next` (the
Byzantine replicas' messages are in the spec's `ByzMsgs`, sent from the start, not steps).
"""

from __future__ import annotations

from meshcheck.property_tests.descriptor import in_tree
from meshcheck.property_tests.descriptor import models
from meshcheck.protocol import Action

PBFT = in_tree(
    "pbft",
    "PBFT: three-phase agreement, checkpoints, view changes",
    # ViewMonotonic and StableCheckpointMonotonic on one worker (a PROPERTY: specs/PBFT.md)
    models("PBFT", every=("PBFT_transitions",)),
    actions=(
        Action("Request", ("r",), "client", "the client sends request r"),
        Action("PrePrepare", ("i", "r"), "protocol", "primary i assigns r a sequence number"),
        Action("Prepare", ("i", "v", "n"), "protocol", "backup i prepares (v, n)"),
        Action("Commit", ("i", "v", "n"), "protocol", "i commits (v, n) on a prepared certificate"),
        Action("Execute", ("i",), "protocol", "i executes its next committed request"),
        Action("StableCheckpoint", ("i", "n"), "protocol", "i takes the checkpoint at n as stable"),
        Action(
            "StartViewChange", ("i",), "protocol", "i gives up on the view and asks for the next"
        ),
        Action("NewView", ("i",), "protocol", "the new primary i sends its new-view message"),
        Action("AcceptNewView", ("i", "v"), "protocol", "i enters view v"),
        Action("Accept", ("n", "r"), "client", "the client accepts r at n on F+1 matching replies"),
    ),
    proofs="meshcheck.models.pbft:prove",
    hints="meshcheck.traces.hints:PBFT",
)
