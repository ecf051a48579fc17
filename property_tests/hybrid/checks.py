"""Every property check of the hybrid layer, in the order `meshcheck mutants threat` tries them.

A check is a function `(bugs, settings) -> None` that raises `CheckFailed` when it finds a bug in
the implementation with `bugs` (impl/hybrid/mutants.py) switched on; the test files under
property_tests/hybrid/ run each with no bugs. Lockstep first (the threat state against
ThreatLevel.tla, then the epochs and the switch against Hybrid.tla: each kills its mutants within a
second or two, with counterexamples a few steps long), then NoFalseAccusation (all-honest free runs,
property_tests/hybrid/no_false_accusation.py: a few seconds, and the one check an all-honest
cluster that accuses its own leader fails first), then the stored corpus, then the certificate property
(property_tests/hybrid/certificates.py), then the signed-fields property, then trace
validation of free runs, and the free runs' invariants and liveness bounds last; trace validation
and the free runs each with PBFT under the BFT epochs and then with HotStuff (impl/hybrid/bft.py);
then the scripted leader restart in the Raft epoch (property_tests/hybrid/leader_restart.py) and
the scripted re-election of a leader deposed, not crashed, with a client's op in flight
(property_tests/hybrid/leader_reelected.py); the restart-equivalence runs last.
"""

from __future__ import annotations

import hypothesis

from meshcheck.impl.hybrid.bft import HOTSTUFF
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.hybrid.certificates import certificates
from meshcheck.property_tests.hybrid.free_runs import free_runs
from meshcheck.property_tests.hybrid.harness import HARNESS
from meshcheck.property_tests.hybrid.leader_reelected import leader_reelected_check
from meshcheck.property_tests.hybrid.leader_restart import leader_restart_check
from meshcheck.property_tests.hybrid.lockstep import hybrid_lockstep
from meshcheck.property_tests.hybrid.lockstep import threat_lockstep
from meshcheck.property_tests.hybrid.no_false_accusation import no_false_accusation
from meshcheck.property_tests.hybrid.restarts import SCHEDULES
from meshcheck.property_tests.hybrid.restarts import check_restarts
from meshcheck.property_tests.hybrid.signed_fields import signed_fields
from meshcheck.property_tests.hybrid.validation import trace_validation
from meshcheck.property_tests.restarts import restart_check


def hotstuff_trace_validation(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Trace validation with HotStuff under the BFT epochs (7 nodes, models/HybridValidate7.cfg;
    as many examples as with PBFT)."""
    trace_validation(bugs, settings, bft=HOTSTUFF)


def hotstuff_free_runs(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """The free runs with HotStuff under the BFT epochs (7 nodes: free_runs.HOTSTUFF_NODES)."""
    free_runs(bugs, settings, bft=HOTSTUFF)


# the profile's examples the restart-equivalence runs get (ci: 2; a run takes 0.5 to 4 s)
RESTART_SHARE = 1 / 30

CHECKS: tuple[Check, ...] = (
    Check(
        "lockstep (ThreatLevel.tla)",
        threat_lockstep,
        "TLC picks each evidence report and tick, the ThreatModel takes it, states compared",
        HARNESS.minimize,
    ),
    Check(
        "lockstep (Hybrid.tla)",
        hybrid_lockstep,
        "TLC picks each order, apply, switch and answer, the honest nodes take it, states compared",
        HARNESS.minimize,
    ),
    Check(
        "no false accusation",
        no_false_accusation,
        "all-honest free runs under every fault (loss, duplicates, delays, crashes, partitions, "
        "deposed leaders): no node reports anything, the level never leaves None",
    ),
    Check(
        "stored traces",
        HARNESS.stored_traces,
        "the traces/hybrid/ corpus replayed on the implementation",
    ),
    Check(
        "certificates",
        certificates,
        "reports counted by distinct reporter, the clock's (f+1)-th node, equivocation proofs "
        "counted once: against oracles, over drawn sets of signed statements",
    ),
    Check(
        "signed fields",
        signed_fields,
        "every field of every signed entry and seal changed: the signature fails, or the field is "
        "declared unsigned and the receiver checks it as its reason says",
    ),
    Check(
        "trace validation",
        trace_validation,
        "free runs with a Byzantine node, every step of the trace checked to be a Hybrid.tla step",
    ),
    Check(
        "trace validation (Hybrid.tla, HotStuff)",
        hotstuff_trace_validation,
        "the same with HotStuff, not PBFT, under the BFT epochs (7 nodes): its epochs' committed "
        "entries must be the same Hybrid.tla steps",
    ),
    Check(
        "free runs",
        free_runs,
        "faults and Byzantine behaviour on and off, invariants after every step, liveness bounds",
    ),
    Check(
        "free runs (HotStuff)",
        hotstuff_free_runs,
        "the free runs with HotStuff, not PBFT, under the BFT epochs: the switch must not depend "
        "on which BFT protocol runs",
    ),
    Check(
        "leader restart (Raft epoch)",
        leader_restart_check,
        "the Raft epoch's leader crashes with an op in flight, restarts and leads again "
        "(scripted): every op committed once, the invariants, the client-history checks",
    ),
    Check(
        "leader re-elected (Raft epoch)",
        leader_reelected_check,
        "the Raft epoch's leader, cut off with a client's op in flight, steps down, its copy "
        "overwritten, and leads again in the same epoch (scripted): the client's retries commit "
        "the op, the invariants, the client-history checks",
    ),
    restart_check("4 nodes", check_restarts, 4, SCHEDULES, RESTART_SHARE),
)
