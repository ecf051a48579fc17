"""Every property check of the gossip implementation, in the order `meshcheck mutants gossip` tries
them.

A check is a function `(bugs, settings) -> None` that raises `CheckFailed` when it finds a bug in
the implementation with `bugs` (impl/gossip/mutants.py) switched on. The stored runs first (each
mutant's shortest counterexample, re-run from its seed: under a second), then the scripted restart
scenario (property_tests/gossip/restart.py: a few hundredths of a second a run) and the rejoin after
a partition (property_tests/gossip/rejoin.py: as cheap), then the free runs of 5
nodes (each a fraction of a second) and of 50 nodes (about a second each), then lockstep against
specs/Gossip.tla (it kills merge_not_idempotent, older_overwrites_newer, delta_skips_missing and
silent_after_restart: the spec cannot see the detector's two) and trace validation of free runs of
four nodes (the first three, at the first wrong step).
"""

from __future__ import annotations

from functools import partial

from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.gossip.free_runs import free_run_check
from meshcheck.property_tests.gossip.harness import HARNESS
from meshcheck.property_tests.gossip.lockstep import lockstep
from meshcheck.property_tests.gossip.rejoin import rejoin_check
from meshcheck.property_tests.gossip.restart import restart_scenario_check
from meshcheck.property_tests.gossip.restarts import SCHEDULES
from meshcheck.property_tests.gossip.restarts import check_restarts
from meshcheck.property_tests.gossip.validation import trace_validation
from meshcheck.property_tests.restarts import restart_check

# the profile's examples the restart-equivalence runs get (ci: 15; a run takes under 0.1 s)
RESTART_SHARE = 1 / 4

CHECKS: tuple[Check, ...] = (
    Check(
        "stored runs",
        HARNESS.stored_runs,
        "the traces/gossip/ corpus: each stored free run re-run from its seed",
    ),
    Check(
        "restart scenario",
        partial(restart_scenario_check, n=5),
        "a member crashes, every watcher suspects it, it restarts (scripted): every watcher "
        "trusts it again within 2 rounds and every member holds its new write",
    ),
    Check(
        "rejoin after a partition",
        partial(rejoin_check, n=5),
        "a partition past the eviction threshold heals, no restart (scripted): every live member "
        "is trusted and chosen again within the bound from the interval, watchers and cluster size",
    ),
    Check(
        "free runs (5 nodes)",
        partial(free_run_check, n=5, max_ticks=8000),
        "churn, partitions, loss and crashes, then calm: no invented values, versions never "
        "back, the detector is phi of the last window, convergence within the bound, crashed "
        "nodes suspected, reads return written values",
    ),
    Check(
        "free runs (50 nodes)",
        partial(free_run_check, n=50, max_ticks=8000),
        "the same at 50 nodes",
    ),
    Check(
        "lockstep",
        lockstep,
        "Hypothesis walks Gossip.tla (3 nodes, 2 keys) and the implementation follows step by step: "
        "the refinement mapping equals TLC's state after every step, and every live member keeps "
        "a gossip round pending",
        minimize=HARNESS.minimize,
    ),
    Check(
        "trace validation",
        trace_validation,
        "free runs of 4 nodes under loss, duplication, crashes, partitions and churn: every step "
        "of the recorded trace is a step of Gossip.tla (TLC judges)",
    ),
    restart_check("5 nodes", check_restarts, 5, SCHEDULES, RESTART_SHARE),
)
