"""A checkpoint at the window's edge: a free run that starts from a short deterministic prefix
setting that up (property_tests/pbft/retry.py does the same for a client's retry).

Castro and Liskov (OSDI 1999, section 4.3): a replica accepts pre-prepares only for sequence
numbers between its low watermark h (its last stable checkpoint) and h + L; a checkpoint becomes
stable with 2f + 1 matching CHECKPOINT messages. When checkpoints do not become stable while
requests keep coming, the window fills, and the replica takes a checkpoint at h + L itself, the
last number it may order before a checkpoint becomes stable (impl/pbft/replica.py's probe
`checkpoint_at_window_edge`). Random runs rarely get there: a correct group's checkpoints become
stable within a few ticks of being taken. The prefix:

1. r3 is down: r1, r2 and r4 order the client's requests (2f + 1 = 3 of them);
2. r4 is the run's Byzantine replica (f = 1) and withholds its checkpoints up to the window's edge
   (`WithholdCheckpoints`): only r1 and r2 send theirs, no checkpoint becomes stable, and the
   client's requests fill the window until the honest replicas take the checkpoint at h + L;
3. r3 comes back; the schedule's faults then run as in any free run, and r4's later checkpoints
   go out.

The run ends with the free runs' checks (Agreement and Validity after every event, the rejection
oracle, then the client-history checks), as `check_safety` runs them.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from typing import cast

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft.byzantine.context import Context
from meshcheck.impl.pbft.byzantine.node import ByzantineReplica
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.sim import CALM
from meshcheck.impl.sim import Phases
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.free_runs import unrecorded_first
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

DOWN = "r3"  # down for the prefix
WITHHOLDS = "r4"  # the run's Byzantine replica
PREFIX = 800  # ticks of calm the prefix may take (a window of 2 x 10 requests, one every 25 ticks)


@attrs.frozen
class WithholdCheckpoints:
    """A Byzantine behaviour (impl/pbft/byzantine/behaviours.py's shape): the replica's own
    CHECKPOINT messages for sequence numbers up to `upto` are never sent."""

    upto: int

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        return [
            e
            for e in effects
            if not (
                isinstance(e, Send)
                and ctx.mine(e.message)
                and isinstance(e.message.body, Checkpoint)
                and e.message.body.seq <= self.upto
            )
        ]


def window_of(schedule: Schedule) -> int:
    """The window L of the schedule's cluster (free_runs.cluster's: two checkpoint intervals)."""
    return 2 * int(knob(schedule, "checkpoint_every"))


def cluster(schedule: Schedule, bugs: frozenset[str], *, record: bool = True) -> Simulator[Any]:
    """Four replicas, r4 Byzantine withholding its checkpoints up to the window's edge; calm for
    the prefix, then the schedule's faults for `schedule.ticks` (the client's requests too)."""
    checkpoint_every = knob(schedule, "checkpoint_every")
    window = window_of(schedule)
    behaviours = (WithholdCheckpoints(window),)
    return pbft_cluster(
        4,
        seed=schedule.seed,
        faults=Phases([(PREFIX, CALM), (schedule.ticks, faults_of(schedule))]),
        workload=Workload(
            every=knob(schedule, "every"), until=PREFIX + schedule.ticks, make=rsm_op
        ),
        bugs=bugs,
        # a behaviour of this scenario's, not of the catalogue's AnyBehaviour
        byzantine={WITHHOLDS: partial(ByzantineReplica, behaviours=cast(Any, behaviours))},
        checkpoint_every=checkpoint_every,
        window=window,
        record=record,
        **dict[str, Any](TIMING),
    )


def at_edge(sim: Simulator[Any]) -> bool:
    """Whether an honest replica executed up to its high watermark h + L (and took the checkpoint
    there)."""
    for r in honest(sim):
        replica = sim.nodes[r]
        assert isinstance(replica, Replica)
        if len(replica.executed) >= replica.stable + replica.config.window:
            return True
    return False


def prefix(sim: Simulator[Any]) -> str | None:
    """Steps 1 to 3 of the module doc, under no faults; what went wrong, if the run did not get
    there (None: a replica took the checkpoint at its window's edge, the faults may start)."""
    sim.crash(DOWN)
    sim.run(until=PREFIX, stop=at_edge)
    sim.recover_at(DOWN, sim.now + 1)
    if not at_edge(sim):
        return f"no replica reached its window's edge by t={sim.now}"
    return None


def check_window(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
    """One run: the prefix, then the schedule's faults, with the free runs' checks; a failing run
    is run again, recorded, for its counterexample (the same seed gives the same run)."""
    if n != 4:
        raise ValueError(f"the window scenario is one of four replicas, not {n}")

    def once(record: bool) -> tuple[Simulator[Any], str | None]:
        sim = cluster(schedule, bugs, record=record)
        monitor, oracle = watch(sim)
        problem = prefix(sim)
        if problem is not None:
            return sim, f"the window scenario did not set up: {problem}"
        overload = run(sim, schedule, PREFIX + schedule.ticks, stop=stopper(monitor, oracle))
        return sim, verdict(monitor, oracle, sim) or overload

    unrecorded_first(schedule, once)


def schedules() -> st.SearchStrategy[Schedule]:
    """The free runs' faults (no Byzantine replica of their own: r4 is this scenario's)."""
    return prefix_schedules(1500, every=(10, 25), checkpoint_every=st.sampled_from((5, 2, 10)))


def window_runs(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: free runs from the window prefix keep Agreement, Validity and the
    client-history checks (a tenth of the profile's examples, two at least)."""

    @share(settings, 1 / 10, least=2)
    @given(schedules())
    def from_the_edge(schedule: Schedule) -> None:
        check_window(schedule, 4, bugs)

    from_the_edge()
