"""Gossip as meshcheck knows it: specs/Gossip.tla, impl/gossip, its mutants, checks, proofs and corpus.

Declared in pyproject.toml as the entry point `gossip` of the group `meshcheck.protocols`. The
action table is Gossip.tla's `Next`; the failure detector's actions (Heartbeat, Suspect, Trust),
which the node reports too, are FailureDetector.tla's.
"""

from __future__ import annotations

from meshcheck.property_tests.descriptor import in_tree
from meshcheck.property_tests.descriptor import models
from meshcheck.protocol import Action

_IJ = ("i", "j")

GOSSIP = in_tree(
    "gossip",
    "gossip: delta push, pull anti-entropy, phi-accrual failure detection, churn",
    models("Gossip"),
    extra_models=(models("FailureDetector"),),
    actions=(
        Action("Update", ("i", "k", "v"), "client", "i writes v to key k, one version up"),
        Action("Push", _IJ, "protocol", "i sends j a push of its entries"),
        Action("Pull", _IJ, "protocol", "i sends j its digest"),
        Action("HandlePush", _IJ, "protocol", "i merges a push from j"),
        Action("HandlePull", _IJ, "protocol", "i answers j's digest with the delta"),
        Action("LoseMessage", (), "fault", "the network loses a message"),
        Action("DuplicateMessage", (), "fault", "the network delivers a message twice"),
        Action("Crash", ("i",), "fault", "i crashes, keeping only its own writes"),
        Action("Restart", ("i",), "fault", "i comes back knowing the seeds, and pulls to catch up"),
        Action("Partition", (), "fault", "the network splits"),
        Action("Heal", (), "fault", "the network heals"),
        Action("Join", ("i",), "environment", "i joins, knowing the seeds"),
        Action("Leave", ("i",), "environment", "i leaves, telling nobody"),
        # FailureDetector.tla (the descriptor's second spec): the detector in the abstract
        Action("Tick", (), "environment", "time advances one tick"),
        Action("Heartbeat", ("i",), "protocol", "i sends a heartbeat to every other live node"),
        Action("HandleHeartbeat", _IJ, "protocol", "j hears i's heartbeat"),
        Action("Suspect", _IJ, "protocol", "i suspects j, its timeout run out since it heard j"),
        Action("Trust", _IJ, "protocol", "i trusts j again, having heard j since"),
    ),
    proofs="meshcheck.models.gossip:prove",
)
