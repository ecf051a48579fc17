"""Every property check of the HotStuff implementation, in the order `meshcheck mutants hotstuff`
tries them.

A check is a function `(bugs, settings) -> None` that raises `CheckFailed` when it finds a bug in
the implementation with `bugs` (impl/hotstuff/mutants.py) switched on. The thresholds at every
cluster size first (property_tests/thresholds.py, a second), then the stored runs (each
mutant's shortest counterexample, re-run from its seed: a fraction of a second), the
client-replies property (seconds: property_tests/hotstuff/client_replies.py, the client against
replicas that lie in their replies; HotStuff.tla has no client), the QC property
(a second: property_tests/hotstuff/certificates.py), lockstep against
HotStuff.tla with every replica honest, then the free
runs of 4 replicas and of a drawn size, 4 to 10, with faults and up to f Byzantine replicas (the
monitor of the spec's invariants and rules, and the client-history checks; at 4 also with an
equivocating leader throughout; with fuzzing replicas), the signed-fields property, trace
validation of recorded runs against specs/HotStuff.tla, then liveness after the faults stop and
under slow links (every message slower than the view timer's base), the scripted restart scenario
(property_tests/hotstuff/restart.py: a restarted client must renew its timestamps), the recovery
property (property_tests/hotstuff/recovery.py: commits resume at the base timer's pace after a
heal), and last restart equivalence (property_tests/restarts.py).
"""

from __future__ import annotations

from functools import partial

from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.property_tests import thresholds
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.hotstuff.certificates import certificates
from meshcheck.property_tests.hotstuff.client_replies import client_replies
from meshcheck.property_tests.hotstuff.free_runs import equivocation_runs
from meshcheck.property_tests.hotstuff.free_runs import free_run_safety
from meshcheck.property_tests.hotstuff.free_runs import free_run_safety_any_size
from meshcheck.property_tests.hotstuff.free_runs import fuzz_safety
from meshcheck.property_tests.hotstuff.free_runs import liveness_after_faults
from meshcheck.property_tests.hotstuff.free_runs import liveness_under_slow_links
from meshcheck.property_tests.hotstuff.harness import HARNESS
from meshcheck.property_tests.hotstuff.lockstep import lockstep
from meshcheck.property_tests.hotstuff.lockstep import lockstep_byzantine
from meshcheck.property_tests.hotstuff.recovery import recovery_within_bound
from meshcheck.property_tests.hotstuff.restart import restart_scenario_check
from meshcheck.property_tests.hotstuff.restarts import SCHEDULES
from meshcheck.property_tests.hotstuff.restarts import check_restarts
from meshcheck.property_tests.hotstuff.signed_fields import signed_fields
from meshcheck.property_tests.hotstuff.twins import twins
from meshcheck.property_tests.hotstuff.validation import trace_validation
from meshcheck.property_tests.restarts import restart_check


def certificate_thresholds(n: int, bugs: frozenset[str]) -> dict[str, int]:
    """The votes of a QC (and the NEW-VIEWs a new leader waits for) at n, under the mutants."""
    return {"a QC": HotStuffConfig("r1", tuple(f"r{k}" for k in range(1, n + 1)), bugs=bugs).quorum}


# the profile's examples the restart-equivalence runs get (ci: 10; a run takes 0.1 to 0.4 s)
RESTART_SHARE = 1 / 6

CHECKS: tuple[Check, ...] = (
    Check(
        "thresholds at every n",
        partial(thresholds.check, certificate_thresholds),
        "a QC's votes at n = 4..10: two QCs of a view share a correct replica (brute force)",
    ),
    Check(
        "stored runs",
        HARNESS.stored_runs,
        "the traces/hotstuff/ corpus: each stored free run re-run from its seed",
    ),
    Check(
        "client replies",
        client_replies,
        "the client against replicas lying in their replies (impl/hotstuff/replies.py): it "
        "accepts a result only on f+1 distinct replicas' matching replies, each from the link's "
        "sender, and one liar costs it no time beyond 3 D + 4 (2 D + 1) and the group no view",
    ),
    Check(
        "certificates",
        certificates,
        "Replica.valid_qc against an oracle counting distinct replicas' good votes, over drawn "
        "QCs around 2f+1 (a vote twice, a client's or a stranger's, of another block or view)",
    ),
    Check(
        "lockstep",
        lockstep,
        "TLC picks each step (four honest replicas, views 1..5), the group takes it, states "
        "compared after every step",
        HARNESS.minimize,
    ),
    Check(
        "lockstep (r1 a Byzantine puppet)",
        lockstep_byzantine,
        "the same with r1 Byzantine: its votes for any block, its proposals and NEW-VIEWs signed "
        "by the driver as a step needs them, its second block of a view offered to each replica "
        "that voted in it",
    ),
    Check(
        "free runs (4 replicas)",
        partial(free_run_safety, n=4),
        "loss, delay, crashes, partitions and up to f Byzantine replicas: the spec's invariants, "
        "the vote, commit and leader rules after every step, the client history at the end",
    ),
    Check(
        "free runs (4 replicas, an equivocating leader)",
        equivocation_runs,
        "r1 proposes two blocks per view (one on a QC below half the replicas' locks) and votes "
        "for everything: the same checks, on the runs where safeNode's liveness clause matters",
    ),
    Check(
        "free runs (4 to 10 replicas)",
        free_run_safety_any_size,
        "the same on a drawn group size, up to f Byzantine, 5, 6, 8 and 9 included (QCs of "
        "ceil((n+f+1)/2) votes, not 2f+1)",
    ),
    Check(
        "free runs (4 replicas, fuzzing replicas)",
        fuzz_safety,
        "up to f replicas send mutations of what they hold, signed again or relayed under the "
        "signatures they had (impl/hotstuff/fuzz.py): the same checks, and the rejection oracle "
        "(nothing forged taken, a bad signature blamed on the sender, no honest replica accused)",
    ),
    Check(
        "signed fields",
        signed_fields,
        "every position of every signed message type changed: no longer its signers' unless "
        "declared unsigned, and the receiver rejects it from its signer and from a relayer",
    ),
    Check(
        "twins (4 replicas)",
        twins,
        "r1 run as two copies under one key, each in another partition, leading rounds 1..8: "
        "64 enumerated partition scenarios, no conflicting commits",
    ),
    Check(
        "trace validation",
        trace_validation,
        "recorded free runs of 4 honest replicas under faults: every step a step of HotStuff.tla "
        "(models/Validate.cfg, views 1..10), its invariants on every state",
    ),
    Check(
        "liveness after faults (4 replicas)",
        partial(liveness_after_faults, n=4),
        "faults, then none: every honest replica commits a new block within the bound",
    ),
    Check(
        "liveness after faults (7 replicas, one silent)",
        partial(liveness_after_faults, n=7),
        "the same at 7 replicas with r1 silent (at 4, one silent replica stops every commit)",
    ),
    Check(
        "liveness under slow links (4 replicas)",
        liveness_under_slow_links,
        "faults, then every message slower than the view timer's base: a new request answered "
        "to the client within the bound (the back-off must climb and hold until a commit)",
    ),
    Check(
        "restart scenario",
        restart_scenario_check,
        "the leader crashes with requests in flight, restarts and leads again; the client "
        "crashes and restarts (scripted): every request answered, the client-history checks",
    ),
    # recovery within the protocol's own bound: only what the checks above missed reaches it
    Check(
        "recovery within bound (7 replicas, one silent)",
        recovery_within_bound,
        "faults, then none: the first commit within three view timers from the back-off the "
        "faults left and message delays, then 14 views at the base timer's pace "
        "(property_tests/recovery.py)",
    ),
    restart_check("4 replicas", check_restarts, 4, SCHEDULES, RESTART_SHARE),
)
