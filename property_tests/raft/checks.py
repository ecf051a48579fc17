"""Every property check of the Raft implementation, in the order `meshcheck mutants raft` tries them.

A check is a function `(bugs, settings) -> None` that raises `CheckFailed` when it finds a bug in
the implementation with `bugs` (impl/raft/mutants.py) switched on. The test files under
property_tests/raft/ run each with no bugs; the mutants command runs each with one bug at a time and
reports which check killed it. The order puts the checks that kill fastest first: lockstep kills most
mutants in seconds, the stored corpus costs nothing, trace validation needs free runs long enough
for faults to matter, then the pure safety and liveness runs, and last the scripted leader-restart
scenario (property_tests/raft/leader_restart.py: the bugs of what a restart must drop), the free
runs of a drawn cluster size, the logs of faulty runs through `meshcheck validate`'s walk
(property_tests/raft/log_duplicates.py: a check of the validator as much as of the core), the
recovery property (property_tests/raft/recovery.py: a leader and every follower caught up within
the protocol's own timing after a heal), and the restart-equivalence runs.
"""

from __future__ import annotations

from functools import partial

from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.checks import CheckFn
from meshcheck.property_tests.checks import lockstep_checks
from meshcheck.property_tests.raft.free_runs import free_run_safety
from meshcheck.property_tests.raft.free_runs import free_run_safety_any_size
from meshcheck.property_tests.raft.free_runs import liveness_after_heal
from meshcheck.property_tests.raft.harness import HARNESS
from meshcheck.property_tests.raft.leader_restart import leader_restart_check
from meshcheck.property_tests.raft.lockstep import lockstep
from meshcheck.property_tests.raft.log_duplicates import logs_under_duplication
from meshcheck.property_tests.raft.recovery import recovery_within_bound
from meshcheck.property_tests.raft.restarts import SCHEDULES
from meshcheck.property_tests.raft.restarts import check_restarts
from meshcheck.property_tests.raft.validation import trace_validation
from meshcheck.property_tests.restarts import restart_check

__all__ = ["CHECKS", "Check", "CheckFn"]

# the profile's examples the restart-equivalence runs get (ci: 12; a run takes 0.05 to 0.4 s)
RESTART_SHARE = 1 / 5

CHECKS: tuple[Check, ...] = (
    *lockstep_checks(lockstep, HARNESS),
    Check(
        "trace validation",
        partial(trace_validation, nodes=3),
        "free runs under faults, every step checked to be a spec step",
    ),
    *(
        Check(
            f"free runs ({nodes} nodes)",
            partial(free_run_safety, nodes=nodes),
            "random fault schedules, the safety invariants after every step",
        )
        for nodes in (3, 5)
    ),
    Check(
        "liveness after healing",
        partial(liveness_after_heal, nodes=3),
        "faults then healing: a leader and every write applied within bounds",
    ),
    Check(
        "leader restart",
        leader_restart_check,
        "a leader crashes with writes in flight, restarts and leads again (scripted): the "
        "client-history checks, and every retried write applied once",
    ),
    Check(
        "free runs (3 to 7 nodes)",
        free_run_safety_any_size,
        "random fault schedules on a drawn cluster size, even sizes included: the safety "
        "invariants after every step",
    ),
    Check(
        "logs under duplication",
        logs_under_duplication,
        "free runs under duplication and loss, their NDJSON logs (full and partial state, the "
        "no-op on and off) validated with every network fault inferred: each must be valid",
    ),
    # recovery within the protocol's own bound: only what the checks above missed reaches it
    Check(
        "recovery within bound",
        recovery_within_bound,
        "faults, then none: a leader within two election rounds, every node caught up within "
        "two heartbeats and four round trips of its election (property_tests/recovery.py)",
    ),
    # restart equivalence last (property_tests/test_restarts.py): the cheaper checks kill first
    restart_check("3 nodes", check_restarts, 3, SCHEDULES, RESTART_SHARE),
    restart_check("5 nodes", check_restarts, 5, SCHEDULES, RESTART_SHARE),
)
