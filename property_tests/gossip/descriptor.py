"""Gossip as meshcheck knows it: specs/Gossip.tla, impl/gossip, its mutants, checks, proofs and corpus.

Declared in pyproject.toml as the entry point `gossip` of the group `meshcheck.protocols`. The
action table is Gossip.tla's `Next`; the failure detector's actions (Heartbeat, Suspect, Trust),
which the node reports too, are FailureDetector.tla's.
"""

from __future__ import annotations

from meshcheck.protocol import Action, Models, Protocol

_IJ = ("i", "j")

GOSSIP = Protocol(
    name="gossip",
    title="gossip: delta push, pull anti-entropy, phi-accrual failure detection, churn",
    models=Models(
        spec="Gossip",
        quick="Gossip_quick",
        default="Gossip",
        deep="Gossip_deep",
        liveness="Gossip_liveness",
    ),
    extra_models=(
        Models(
            spec="FailureDetector",
            quick="FailureDetector_quick",
            default="FailureDetector",
            deep="FailureDetector_deep",
            liveness="FailureDetector_liveness",
        ),
    ),
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
    bugs="meshcheck.impl.gossip.mutants:BUGS",
    spec_mutants="meshcheck.specs.mutants.gossip",
    checks="meshcheck.property_tests.gossip.checks:CHECKS",
    proofs="meshcheck.models.gossip:prove",
    harness="meshcheck.property_tests.gossip.harness:HARNESS",
    corpus="gossip",
    property_tests=("property_tests/gossip",),
    coverage="meshcheck.property_tests.gossip.coverage:COVERAGE",
)
