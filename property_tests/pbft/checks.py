"""Every property check of the PBFT implementation, in the order `meshcheck mutants pbft` tries them.

A check is a function `(bugs, settings) -> None` that raises `CheckFailed` when it finds a bug in
the implementation with `bugs` (impl/pbft/mutants.py) switched on; the test files under
property_tests/pbft/ run each with no bugs. The thresholds at every cluster size first (a
second: a rule right at the sizes the runs use and wrong at others), then the signed-fields
property (under a second: it kills the receivers that trust what no signature covers, which
lockstep cannot reach, since the spec has no unsigned fields, and a replica that checks no
signature), then the client-replies property (seconds: property_tests/pbft/client_replies.py,
the client against replicas that lie in their replies), then lockstep (it kills every other
known mutant the spec can show within seconds, with a counterexample a few steps long), the stored corpus (it costs little: each free run of
traces/counterexamples/pbft/ runs only for its own mutants), the certificate property (a few
seconds: property_tests/pbft/certificates.py), trace validation of free runs, the free runs'
safety (4 replicas, then a drawn size from 4 to 10: a count right at 3f+1 and wrong at other
sizes), the message fuzzer's runs, the retry scenario's free runs (property_tests/pbft/retry.py),
liveness after the faults and under slow links (every message slower than the base view-change
timeout), the scripted client-restart scenario (property_tests/pbft/client_restart.py: a client
restart must renew its timestamps), the recovery property (property_tests/pbft/recovery.py: a
replica behind catches up by state transfer within the protocol's bound), and last restart
equivalence (property_tests/restarts.py).
"""

from __future__ import annotations

from functools import partial

from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.log import prepares_needed
from meshcheck.impl.pbft.log import stable_quorum
from meshcheck.property_tests import thresholds
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.checks import lockstep_checks
from meshcheck.property_tests.pbft.certificates import certificates
from meshcheck.property_tests.pbft.client_replies import client_replies
from meshcheck.property_tests.pbft.client_restart import client_restart_check
from meshcheck.property_tests.pbft.free_runs import free_run_safety
from meshcheck.property_tests.pbft.free_runs import free_run_safety_any_size
from meshcheck.property_tests.pbft.free_runs import fuzz_safety
from meshcheck.property_tests.pbft.free_runs import liveness_after_stabilisation
from meshcheck.property_tests.pbft.free_runs import liveness_under_slow_links
from meshcheck.property_tests.pbft.harness import HARNESS
from meshcheck.property_tests.pbft.lockstep import lockstep
from meshcheck.property_tests.pbft.recovery import catch_up_by_state_transfer
from meshcheck.property_tests.pbft.restarts import SCHEDULES
from meshcheck.property_tests.pbft.restarts import check_restarts
from meshcheck.property_tests.pbft.retry import retry_runs
from meshcheck.property_tests.pbft.signed_fields import signed_fields
from meshcheck.property_tests.pbft.validation import trace_validation
from meshcheck.property_tests.restarts import restart_check

# the profile's examples the restart-equivalence runs get (ci: 4; a run takes 0.2 to 2 s)
RESTART_SHARE = 1 / 15


def certificate_thresholds(n: int, bugs: frozenset[str]) -> dict[str, int]:
    """The certificate thresholds a PBFT replica of n counts with, under the mutants `bugs`."""
    config = PbftConfig("r1", tuple(f"r{k}" for k in range(1, n + 1)), bugs=bugs)
    return {
        "the quorum (commits, view changes, new views)": config.quorum,
        "a prepared certificate (the pre-prepare and its prepares)": 1 + prepares_needed(config),
        "a stable checkpoint's proof": stable_quorum(config),
    }


CHECKS: tuple[Check, ...] = (
    Check(
        "thresholds at every n",
        partial(thresholds.check, certificate_thresholds),
        "each certificate threshold at n = 4..10: two quorums share a correct replica (brute force)",
    ),
    Check(
        "signed fields",
        signed_fields,
        "every field of every signed message changed: the signature fails, or the field is "
        "declared unsigned and the receiver checks it as its reason says",
    ),
    Check(
        "client replies",
        client_replies,
        "the client against replicas lying in their replies (impl/pbft/byzantine/replies.py): "
        "it takes Accept and picks the primary only on f+1 valid matching replies, and one liar "
        "costs it no time beyond five message delays and the group no view change",
    ),
    *lockstep_checks(lockstep, HARNESS),
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
        "free runs (4 to 10 replicas)",
        free_run_safety_any_size,
        "the same on a drawn group size, 5, 6, 8 and 9 included (quorums of ceil((n+f+1)/2), "
        "not 2f+1)",
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
    Check(
        "liveness under slow links",
        partial(liveness_under_slow_links, n=4),
        "faults, then every message slower than the base view-change timeout: a new request "
        "accepted by the client within the bound (the timeout's doubling must reach its cap)",
    ),
    Check(
        "client restart",
        client_restart_check,
        "the primary crashes with requests in flight, the client crashes and restarts (scripted): "
        "every request accepted once, the client-history checks",
    ),
    # recovery within the protocol's own bound: only what the checks above missed reaches it
    Check(
        "recovery (catch-up by state transfer)",
        catch_up_by_state_transfer,
        "faults, then none: a replica behind the group's stable checkpoint reaches it by state "
        "transfer within 3 status rounds, without waiting for a view change (property_tests/"
        "recovery.py)",
    ),
    restart_check("4 replicas", check_restarts, 4, SCHEDULES, RESTART_SHARE),
)
