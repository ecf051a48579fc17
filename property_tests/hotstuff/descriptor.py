"""HotStuff as meshcheck knows it: specs/HotStuff.tla, impl/hotstuff, its mutants, checks, proofs
and corpus.

Declared in pyproject.toml as the entry point `hotstuff` of the group `meshcheck.protocols`. The
action table is HotStuff.tla's `Next` (Byzantine replicas take no steps: their messages are the
sets the spec's Sent* predicates admit).
"""

from __future__ import annotations

from meshcheck.property_tests.descriptor import in_tree
from meshcheck.property_tests.descriptor import models
from meshcheck.protocol import Action

HOTSTUFF = in_tree(
    "hotstuff",
    "chained HotStuff: signed votes, QCs, lock, three-chain commit, back-off pacemaker",
    models("HotStuff"),
    actions=(
        Action(
            "Propose", ("i", "v"), "protocol", "leader i proposes a block of v on its QC of v-1"
        ),
        Action("Vote", ("i", "b"), "protocol", "i votes for b, updating its highQC, lock, commits"),
        Action("FormQC", ("i", "b"), "protocol", "the next leader i forms b's QC from 2f+1 votes"),
        Action("Timeout", ("i",), "protocol", "i times out and sends a NEW-VIEW with its highQC"),
        Action(
            "NewView", ("i", "v"), "protocol", "leader i proposes on the highest of 2f+1 NEW-VIEWs"
        ),
    ),
    proofs="meshcheck.models.hotstuff:prove",
)
