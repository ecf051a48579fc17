"""Trace validation: every step of a free run of impl/gossip is a step of specs/Gossip.tla.

A free run of four nodes (seeds n1, n2 and n3; n4 joins through a seed, leaves, and joins again)
under loss, duplication, delay, crashes and two-sided partitions, with status writes of the model's
keys and values, records its trace in the spec's vocabulary: the refinement mapping
(impl/gossip/refinement.py, all nine variables) after each spec action, and the action it was. The
simulator records a crash as `Crash(i)`, the recovery as `Restart(i)` and the pulls it catches up
with, a partition and a heal as `Partition` and `Heal` (impl/sim/cluster.py, the plug-in's
`fault_steps`), and a message lost as `LoseMessage`. property_tests/validation.py walks it with TLC
as the judge: the first state must be the initial state, each next one a successor of the one
before by the action instance the step names, and no invariant of the model may fail. This catches
a node that takes a step the protocol does not allow (a merge that re-stamps, an older entry taken
over a newer one, an answer to a pull that leaves out what the puller lacks) at that step, before
any end-of-run check could see its effect, or where none would.

The model is models/Validate.cfg: its bounds are beyond what a run of a few seconds reaches; the
run's refinement mapping counts its budgets down from the same constants (`validation_budget`),
and the walk stops at a state past one (a version above MaxVersion, a budget below zero).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

import hypothesis
from hypothesis import given

from meshcheck.impl.base.node import Workload
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.gossip.messages import JoinVia
from meshcheck.impl.gossip.messages import LeaveCluster
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.refinement import Budget
from meshcheck.impl.gossip.simulation import gossip_cluster
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests import validation
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.gossip.free_runs import STORM
from meshcheck.property_tests.harness import cached_stepper
from meshcheck.property_tests.harness import resource

if TYPE_CHECKING:
    from meshcheck.specs.tlc.stepper import Stepper

MODEL = resource("meshcheck.property_tests.gossip", "models", "Validate.cfg")

# TLC judges each step (about a millisecond once warm); a run of up to 4 s of simulated time with a
# write every 100 to 300 ticks is a few hundred steps. Rounds every 200 ticks (the free runs' 1000
# would leave a short run with few exchanges).
VALIDATION_TICKS = (1000, 4000)
ROUND = 200


def validation_model() -> Mapping[str, Any]:
    return validation.model_constants(MODEL)


def validation_stepper() -> Stepper:
    """The process's one Stepper over Gossip.tla with models/Validate.cfg (loading TLC costs
    seconds)."""
    return cached_stepper(resource("meshcheck.specs", "Gossip.tla"), MODEL)


def validation_budget() -> Budget:
    c = validation_model()
    return Budget(
        fault=c["MaxFaults"],
        loss=c["MaxLosses"],
        duplicate=c["MaxDuplicates"],
        crash=c["MaxCrashes"],
        partition=c["MaxPartitions"],
        churn=c["MaxChurn"],
    )


def names() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The model's seeds, the other nodes, its keys and its values."""
    c = validation_model()
    nodes = tuple(f"n{k}" for k in range(1, c["NumNodes"] + 1))
    seeds = nodes[: c["NumSeeds"]]
    values = tuple(f"v{k}" for k in range(1, c["NumValues"] + 1))
    return seeds, nodes[len(seeds) :], tuple(sorted(c["Key"])), values


def in_bounds(state: Mapping[str, Any]) -> bool:
    """Whether a state lies inside the model: every budget left, every version within MaxVersion."""
    if any(left < 0 for left in state["budget"].values()):
        return False
    top = validation_model()["MaxVersion"]
    return all(
        e == "Nil" or e["version"] <= top
        for held in state["entries"].values()
        for e in held.values()
    )


VALIDATION = validation.Validation(in_bounds=in_bounds)


def first_bad_step(trace: Trace, stepper: Stepper | None = None) -> tuple[int, str] | None:
    """(k, what is wrong) for the first step k that is not a spec step or breaks an invariant;
    None if the trace (up to its first state outside the model) is a behaviour of the spec."""
    return validation.first_bad_step(trace, stepper or validation_stepper(), VALIDATION)


def first_step_not_in_spec(trace: Trace, stepper: Stepper | None = None) -> str | None:
    return validation.first_step_not_in_spec(trace, stepper or validation_stepper(), VALIDATION)


def workload(keys: tuple[str, ...], values: tuple[str, ...], every: int, until: int) -> Workload:
    """Status writes of the model's keys and values, in turn, and reads."""

    def make(n: int) -> tuple[str, str]:
        return (keys[n % len(keys)], values[(n // len(keys)) % len(values)])

    def query(n: int) -> str:
        return keys[n % len(keys)]

    return Workload(every=every, reads=0.2, make=make, query=query, until=until)


def run(schedule: Schedule, bugs: frozenset[str]) -> Simulator[GossipNode]:
    """One recorded free run of the model's nodes (see the module)."""
    seeds, others, keys, values = names()
    ticks = schedule.ticks
    sim = gossip_cluster(
        seeds,
        spares=others,
        seed=schedule.seed,
        faults=free_runs.schedule_faults(
            schedule,
            one_way=0.0,  # the spec's partitions are two-sided
            until=ticks,
            max_down=1,
        ),
        workload=workload(keys, values, schedule.knob("every", 100), ticks),
        keys=keys,
        interval=ROUND,
        fanout=2,
        bugs=bugs,
        history=False,
        budget=validation_budget(),
    )
    rng = random.Random(f"{schedule.seed}:churn")
    churn: list[tuple[int, str, Any]] = []
    for node in others:  # join, leave, join again, at random times of the run
        times = sorted(rng.randrange(1, ticks) for _ in range(3))
        churn += [
            (times[0], node, JoinVia(rng.choice(seeds))),
            (times[1], node, LeaveCluster()),
            (times[2], node, JoinVia(rng.choice(seeds))),
        ]
    churn.sort(key=lambda c: (c[0], c[1]))
    for at, node, event in churn:
        if free_runs.run(sim, schedule, at, STORM) is not None:
            return sim
        if sim.up[node]:
            sim.inject(node, event)
    free_runs.run(sim, schedule, ticks + 5 * ROUND, STORM)
    return sim


def check_validation(schedule: Schedule, bugs: frozenset[str]) -> None:
    """One free run of the model's nodes: its trace is a behaviour of the spec."""
    trace = run(schedule, bugs).trace()
    validation.check_run(trace, schedule, validation_stepper(), VALIDATION, "Gossip.tla")


def schedules() -> Any:
    return free_runs.fault_schedules(*VALIDATION_TICKS, every=(100, 300))


def trace_validation(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: every free run (with the mutants `bugs`) is a behaviour of specs/Gossip.tla
    under models/Validate.cfg."""

    @share(settings, 1 / 4)
    @given(schedules())
    def runs_are_spec_behaviours(schedule: Schedule) -> None:
        check_validation(schedule, bugs)

    runs_are_spec_behaviours()
