"""Every property check of the PBFT implementation, in the order `meshcheck mutants pbft` tries them.

A check is a function `(bugs, settings) -> None` that raises `CheckFailed` when it finds a bug in
the implementation with `bugs` (impl/pbft/mutants.py) switched on; the test files under
property_tests/pbft/ run each with no bugs. The signed-fields property first (under a second: it
kills the receivers that trust what no signature covers, which lockstep cannot reach, since the
spec has no unsigned fields, and a replica that checks no signature), then lockstep (it kills every
other known mutant within seconds, with a counterexample a few steps long), the stored corpus (it
costs little), the certificate property (a few seconds: property_tests/pbft/certificates.py), trace validation of free runs, the free runs' safety, the message fuzzer's runs,
the retry scenario's free runs (property_tests/pbft/retry.py), and liveness last.
"""

from __future__ import annotations

from functools import partial

from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.pbft.certificates import certificates
from meshcheck.property_tests.pbft.free_runs import (
    free_run_safety,
    fuzz_safety,
    liveness_after_stabilisation,
)
from meshcheck.property_tests.pbft.harness import HARNESS
from meshcheck.property_tests.pbft.lockstep import lockstep
from meshcheck.property_tests.pbft.retry import retry_runs
from meshcheck.property_tests.pbft.signed_fields import signed_fields
from meshcheck.property_tests.pbft.validation import trace_validation

CHECKS: tuple[Check, ...] = (
    Check(
        "signed fields",
        signed_fields,
        "every field of every signed message changed: the signature fails, or the field is "
        "declared unsigned and the receiver checks it as its reason says",
    ),
    Check(
        "lockstep",
        lockstep,
        "TLC picks each step, the implementation takes it, states compared after every step",
        HARNESS.minimize,
    ),
    Check(
        "stored traces",
        HARNESS.stored_traces,
        "the traces/pbft/ corpus replayed on the implementation",
    ),
    Check(
        "certificates",
        certificates,
        "each check that takes signed messages as a quorum (prepared, carried in a view change, "
        "stable-checkpoint, new-view, commit) against an oracle counting distinct eligible "
        "signers, over drawn sets around the threshold",
    ),
    Check(
        "trace validation",
        trace_validation,
        "free runs under faults (one Byzantine replica at most), every step checked to be a spec step",
    ),
    Check(
        "free runs (4 replicas)",
        partial(free_run_safety, n=4),
        "faults and up to f Byzantine replicas, Agreement and Validity after every step",
    ),
    Check(
        "free runs (7 replicas)",
        partial(free_run_safety, n=7),
        "faults and up to f Byzantine replicas, Agreement and Validity after every step",
    ),
    Check(
        "fuzzer",
        fuzz_safety,
        "one to f Byzantine replicas send mutations of what they hold: safety, and honest "
        "replicas reject what its signers did not sign",
    ),
    Check(
        "retry across a view change",
        retry_runs,
        "free runs from a prefix where a new primary orders a client's retry again: safety and "
        "the client-history checks",
    ),
    Check(
        "liveness after stabilisation",
        partial(liveness_after_stabilisation, n=4),
        "faults, then none: a new request accepted by the client within the bound",
    ),
)
