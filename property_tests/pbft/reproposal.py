"""A request proposed again after a view change: a free run that starts from a short deterministic
prefix setting that up (window.py and retry.py do the same for a checkpoint at the window's edge
and a client's retry).

Castro and Liskov (OSDI 1999, section 4.4): a VIEW-CHANGE carries the replica's prepared
certificates P above its last stable checkpoint, and the new primary's NEW-VIEW re-proposes, in
the new view, every request one of them prepared (the set O), so that a request committed at some
replica keeps its sequence number; replicas that executed it already must not execute it again.
property_tests/pbft/coverage.py names this `reproposed_after_view_change` (a pre-prepare in view
v > 0 for a request that a message of an earlier view carried). Random runs reach it seldom: a view
change needs the primary to fail while the backups hold prepared certificates that no stable
checkpoint has collected yet. The prefix:

1. under no faults the group orders the client's requests in view 0 until every backup executed
   a number of them that is not a multiple of the checkpoint interval (so the last ones are
   prepared above the stable checkpoint, and no checkpoint in flight collects them);
2. the primary r1 crashes: the client's next requests time out, it sends them to every replica,
   the backups' request timers expire, and r2's NEW-VIEW re-proposes the prepared requests in
   view 1 (the prefix stops once an honest replica is in view 1 or later, out of the view change);
3. r1 comes back; the schedule's faults then run as in any free run.

No replica is Byzantine. The run ends with the free runs' checks (Agreement and Validity after
every event, the rejection oracle, then RUN_CHECKS: the client-history checks, "applied at most
once" among them), as `check_safety` runs them. The runs are recorded: the condition is read off
the abstract state of the trace (meshcheck/coverage.py counts it from there, as for any recorded
free run).

Measured (2026-11-22, the same 30 schedules drawn as `schedules` draws them, recorded, machine
loaded): from the prefix all 30 runs reproposed a request, 312 times in all (and 236 VIEW-CHANGEs
carried prepared certificates), in 37.6 s; the same schedules without the prefix (faults from the
start), 8 of 30 runs, 58 times (47), in 11.1 s.
"""

from __future__ import annotations

from typing import Any

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft.replica import NORMAL
from meshcheck.impl.sim import CALM
from meshcheck.impl.sim import Phases
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.pbft.free_runs import TIMING
from meshcheck.property_tests.pbft.free_runs import faults_of
from meshcheck.property_tests.pbft.free_runs import honest
from meshcheck.property_tests.pbft.free_runs import knob
from meshcheck.property_tests.pbft.free_runs import prefix_schedules
from meshcheck.property_tests.pbft.free_runs import rsm_op
from meshcheck.property_tests.pbft.free_runs import run
from meshcheck.property_tests.pbft.free_runs import stopper
from meshcheck.property_tests.pbft.free_runs import verdict
from meshcheck.property_tests.pbft.free_runs import watch

PRIMARY = "r1"  # the primary of view 0, which crashes
BACKUPS = ("r2", "r3", "r4")
PREFIX = 600  # ticks of calm the prefix may take (it takes at most 488 over 150 seeds)


def cluster(
    schedule: Schedule, bugs: frozenset[str], *, prefix: bool = True, record: bool = True
) -> Simulator[Any]:
    """Four correct replicas; calm for the prefix (prefix=False: the same run without it, faults
    from the start), then the schedule's faults for `schedule.ticks`, the client's requests
    throughout."""
    checkpoint_every = knob(schedule, "checkpoint_every")
    calm = PREFIX if prefix else 0
    phases = [(calm, CALM)] if prefix else []
    return pbft_cluster(
        4,
        seed=schedule.seed,
        faults=Phases([*phases, (schedule.ticks, faults_of(schedule))]),
        workload=Workload(every=knob(schedule, "every"), until=calm + schedule.ticks, make=rsm_op),
        bugs=bugs,
        checkpoint_every=checkpoint_every,
        window=2 * checkpoint_every,
        record=record,
        **dict[str, Any](TIMING),
    )


def replica(sim: Simulator[Any], r: str) -> Replica:
    node = sim.nodes[r]
    assert isinstance(node, Replica)
    return node


def prepared_above_stable(sim: Simulator[Any]) -> bool:
    """Whether every backup executed requests beyond its stable checkpoint and stands between two
    checkpoints (its last executed number not a multiple of the interval)."""
    for r in BACKUPS:
        node = replica(sim, r)
        done = len(node.executed)
        if done <= node.stable or done % node.config.checkpoint_every == 0:
            return False
    return True


def in_new_view(sim: Simulator[Any]) -> bool:
    """Whether an honest replica entered a view after 0 (its NEW-VIEW taken, not changing views)."""
    return any(replica(sim, r).view >= 1 and replica(sim, r).status == NORMAL for r in honest(sim))


def prefix(sim: Simulator[Any]) -> str | None:
    """Steps 1 to 3 of the module doc, under no faults; what went wrong, if the run did not get
    there (None: the group is in a later view, the faults may start)."""
    sim.run(until=PREFIX, stop=prepared_above_stable)
    if not prepared_above_stable(sim):
        return f"the backups hold no prepared request above a stable checkpoint by t={sim.now}"
    sim.crash(PRIMARY)
    sim.run(until=PREFIX, stop=in_new_view)
    sim.recover_at(PRIMARY, sim.now + 1)
    if not in_new_view(sim):
        return f"no replica entered view 1 by t={sim.now}"
    return None


def check_reproposal(schedule: Schedule, n: int, bugs: frozenset[str]) -> Simulator[Any]:
    """One run: the prefix, then the schedule's faults, with the free runs' checks; the run is
    recorded (its trace shows the reproposal to coverage), so a failing one is its own
    counterexample. Returns the simulator of a run that held."""
    if n != 4:
        raise ValueError(f"the reproposal scenario is one of four replicas, not {n}")
    sim = cluster(schedule, bugs)
    monitor, oracle = watch(sim)
    try:
        problem = prefix(sim)
        if problem is not None:
            problem = f"the reproposal scenario did not set up: {problem}"
        else:
            overload = run(sim, schedule, PREFIX + schedule.ticks, stop=stopper(monitor, oracle))
            problem = verdict(monitor, oracle, sim) or overload
    except CheckFailed as raised:  # the implementation raised
        problem = raised.message
    if problem is not None:
        raise failure(problem, schedule, sim.trace())
    return sim


def schedules() -> st.SearchStrategy[Schedule]:
    """The free runs' faults, without Byzantine replicas (the prefix needs a correct group)."""
    return prefix_schedules(900, every=(10, 25), checkpoint_every=st.sampled_from((5, 2, 10)))


def reproposal_runs(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: free runs from the reproposal prefix keep Agreement, Validity and the
    client-history checks (a tenth of the profile's examples, two at least)."""

    @share(settings, 1 / 10, least=2)
    @given(schedules())
    def after_the_view_change(schedule: Schedule) -> None:
        check_reproposal(schedule, 4, bugs)

    after_the_view_change()
