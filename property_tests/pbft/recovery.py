"""CatchUpByStateTransfer: a PBFT replica that fell behind catches up by state transfer, within a
few status rounds of the heal, without waiting for a view change (property_tests/recovery.py).

What the protocol promises (Castro and Liskov, OSDI 1999, section 4.3; TOCS 2002, sections 5.2
and 5.3.2): a replica that missed messages tells its peers how far it got (a status message,
every `retransmit_every` ticks, impl/pbft/replica.py `_send_status`); each answers with its own
checkpoints above the replica's stable one, and a checkpoint above what the replica executed
carries its state, checked against the signed digest. With 2f+1 matching checkpoints the
checkpoint is stable for the replica too, and it takes the state (StableCheckpoint). The
messages at and below the group's stable checkpoint are garbage collected, so this is the only
way back for a replica behind it, short of a view change whose checkpoint min-s carries it along
(AcceptNewView); a view change needs f+1 replicas to want it, and a correct group that commits
never does.

The check: faults for a while, then none (`Faults.until`: every partition healed, every replica
up); H is the highest stable checkpoint any replica holds at the heal; within STATUS_ROUNDS
status intervals and two round trips every replica has executed up to H. The runs have no
Byzantine replica: f of them that withhold their checkpoints from the replica that fell behind
leave it fewer than 2f+1 to make the checkpoint stable, and then the protocol promises it no
state transfer (a view change or the next checkpoint carries it).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import fault_schedules
from meshcheck.property_tests.free_runs import unrecorded_first
from meshcheck.property_tests.pbft.free_runs import LIVENESS_TICKS
from meshcheck.property_tests.pbft.free_runs import STORM
from meshcheck.property_tests.pbft.free_runs import TIMING
from meshcheck.property_tests.pbft.free_runs import cluster
from meshcheck.property_tests.pbft.free_runs import honest
from meshcheck.property_tests.pbft.free_runs import run
from meshcheck.property_tests.recovery import Late
from meshcheck.property_tests.recovery import looked_on
from meshcheck.property_tests.scenarios import Drawn

PROPERTY = "CatchUpByStateTransfer"
N = 4
ROUND_TRIP = 20  # latency 1..10 ticks each way (pbft_cluster's default)
# Status rounds the catch-up may take: the replica's next status (one interval at most), its
# peers' checkpoints back, and a round to spare for a status that crossed the heal. Measured over
# 200 drawn runs of `schedules`, 52 of them with a replica behind the stable checkpoint at the
# heal: caught up at most 70 ticks after it (median 35); over 261 runs of the liveness check's
# schedules (60 behind), at most 68. With mutants.LAGGING_REPLICA_WAITS_FOR_VIEW_CHANGE, 8 of 40
# runs of `schedules` fail: the replica behind never catches up, or after 214 ticks and more.
STATUS_ROUNDS = 3
BOUND = STATUS_ROUNDS * TIMING["retransmit_every"] + 2 * ROUND_TRIP
PROMISE = f"state transfer within {STATUS_ROUNDS} status rounds"
# How long past the bound a late run goes on, to say when (and how) the replica caught up.
LOOK = 10 * BOUND
# the profile's examples (ci: 4; dev: 13): a run of 4 replicas takes 0.1 to 0.5 s
SHARE = 1 / 15


def executed(sim: Simulator[Any], replica: str) -> int:
    return len(sim.nodes[replica].executed)


def schedules() -> st.SearchStrategy[Schedule]:
    """Schedules that leave a replica behind: crashes and partitions in every run (a replica down
    or cut off while the others execute misses their checkpoint messages), little loss, and a
    light load, so that the group seldom reaches another checkpoint after the heal (which would
    bring the replica behind its state as the group executes it, state transfer or not)."""
    return fault_schedules(
        *LIVENESS_TICKS,
        rates=(0.0, 0.02, 0.05),
        chaos=(0.3, 0.6),
        every=(50, 100),
        checkpoint_every=st.sampled_from((5, 10)),
    )


def check_catch_up(schedule: Schedule, n: int, bugs: frozenset[str]) -> int:
    """One run whose faults stop at schedule.ticks: every replica reaches the highest stable
    checkpoint of the heal within BOUND ticks; CheckFailed (the run again, recorded) if not.
    Returns how long it took (0: nobody was behind)."""
    took = 0

    def once(record: bool) -> tuple[Simulator[Any], str | None]:
        nonlocal took
        sim = cluster(schedule, n, bugs, heal=True, record=record)
        healed = schedule.ticks
        overload = run(sim, schedule, healed)
        problem = overload or free_runs.not_calm(sim)
        if problem is not None:
            return sim, problem
        replicas = honest(sim)
        target = max(sim.nodes[r].stable for r in replicas)
        views = {r: sim.nodes[r].view for r in replicas}
        at_heal = {r: executed(sim, r) for r in replicas}

        def behind(s: Simulator[Any]) -> list[str]:
            return [r for r in replicas if executed(s, r) < target]

        late = behind(sim)
        overload = run(sim, schedule, healed + BOUND, stop=lambda s: not behind(s))
        if overload is not None:
            return sim, overload
        if not behind(sim):
            took = sim.now - healed if late else 0
            return sim, None
        last = behind(sim)[-1]
        caught = looked_on(
            sim, schedule, STORM, lambda s: last not in behind(s), healed, healed + BOUND + LOOK
        )
        moved = sim.nodes[last].view > views[last]
        if caught is not None:
            how = (
                "it took a view change" if moved else "as the group executed on, no state transfer"
            )
        else:
            how = "it waits in a view change no quorum joins" if moved else "no state transfer"
        return sim, Late(
            PROPERTY,
            f"PBFT replica {last} caught up",
            caught,
            PROMISE,
            BOUND,
            looked=BOUND + LOOK,
            detail=f"it had executed {at_heal[last]}, the stable checkpoint was {target}",
            how=how,
        ).message()

    unrecorded_first(schedule, once)
    return took


# Hypothesis: after the faults, a replica behind the stable checkpoint catches up by state transfer
# within BOUND ticks (4 replicas, none Byzantine).
catch_up_by_state_transfer = Drawn("catches_up", check_catch_up, schedules, SHARE, N)
