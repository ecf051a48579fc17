"""Free runs of a PySyncObj cluster (impl/adapters/pysyncobj.py) under the simulator's faults.

The same machinery as Raft's free runs (property_tests/raft/free_runs.py): Hypothesis draws a
`Schedule` (property_tests/free_runs.py: seed, how long faults last, drop, duplicate and delay
rates per message, crashes and partitions per chaos round) and shrinks a failing one; the
simulator runs the adapted cluster with the workload's client writing and reading a few shared
keys. What must hold, checked on what the adapter exposes:

- after every step of the run's trace: ElectionSafety, LogMatching, LeaderCompleteness and
  StateMachineSafety of specs/Raft.tla (property_tests/raft/safety.py, the same functions, on the
  adapter's refinement: currentTerm, votedFor, role, log, commitIndex and the ghost `committed`),
  and on every step CommitIndexMonotonic (`safety.broken`);
- no two nodes applied different values at one index (the simulator's safety checker);
- at the end, the client-history checks of property_tests/histories.py: linearizable against the
  rsm model, applied at most once, no answer withdrawn, applied index monotone, same state at the
  same index.

A failure raises CheckFailed with the trace up to the failing step; under pytest it is written as
ITF with its one-line replay (property_tests/record.py, through the harness's `reruns`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO
from typing import Any

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.adapters.contract import open_log
from meshcheck.impl.adapters.pysyncobj import pysyncobj_cluster
from meshcheck.impl.base.values import Value
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import to_value
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.free_runs import CHAOS_EVERY
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import Storm
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.free_runs import ticks
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.pysyncobj.bugs import injected
from meshcheck.property_tests.pysyncobj.descriptor import PYSYNCOBJ
from meshcheck.property_tests.raft.safety import broken
from meshcheck.property_tests.raft.safety import commit_index_monotonic
from meshcheck.property_tests.raft.safety import election_safety
from meshcheck.property_tests.raft.safety import leader_completeness
from meshcheck.property_tests.raft.safety import log_matching
from meshcheck.property_tests.raft.safety import state_machine_safety

KNOBS: Mapping[str, Any] = {
    "one_way": 0.5,
    "every": 20,
    "reads": 0.2,
    "down": (200, 2000),
    # LEADER_CHANGED read as PySyncObj documents it ("documented": a failure) or as an unknown
    # outcome ("unknown", the default: the free runs look past that finding for others)
    "answers": "unknown",
    # forwarded commands delivered as TCP delivers them (impl/adapters/pysyncobj.py, `tcp`)
    "tcp": True,
    # every link first in, first out, as PySyncObj's one TCP connection per pair of nodes is: no
    # delay faults, no duplicates (a late copy is a reordering) and one latency for every message
    "fifo": False,
}

# The invariants of Raft.tla the adapter's variables can decide (ReadLinearizable needs the
# leader's ReadIndex record, which PySyncObj does not have: its reads go through the log and are
# checked by the client-history check instead)
INVARIANTS = {
    "ElectionSafety": election_safety,
    "LogMatching": log_matching,
    "LeaderCompleteness": leader_completeness,
    "StateMachineSafety": state_machine_safety,
}
READS = {
    "ElectionSafety": ("role", "currentTerm"),
    "LogMatching": ("log",),
    "LeaderCompleteness": ("role", "currentTerm", "committed", "log"),
    "StateMachineSafety": ("commitIndex", "log", "committed"),
}

# The action properties of Raft.tla the adapter's variables can decide, on every step: a node's
# commitIndex (outside its Restart). MatchIndexMonotonic needs the leader's matchIndex, which the
# adapter does not expose (nor nextIndex: MatchIndexBounded and NextIndexAboveMatch are not checked
# here either; the NDJSON validation walks spec states, where TLC checks all four).
TRANSITIONS = {"CommitIndexMonotonic": commit_index_monotonic}

# Measured on correct runs (3 and 5 nodes, every fault rate below): at most 40 messages in flight
# per node, 0.4 node events per node and tick (a tick every 10 ms per node is 0.1 of them); the
# bound is about 2.5 times that
# The client's writes and reads share KEYS keys (as Raft's free runs do, with more keys: PySyncObj
# leaves more operations without an answer, a command queued while no leader is known or forwarded
# to a leader that went away, and each pending write of a key multiplies the orders the
# linearizability search must try for that key; split by key, more keys keep it within budget)
KEYS = 8
# every step the adapter names is checked against RaftPipelined.tla's vocabulary (Raft.tla's,
# PipelineAppendEntries and CheckQuorumStepDown; AdapterError otherwise)
RAFT_ACTIONS = {a.name: a.params for a in PYSYNCOBJ.actions}


def unique_write(n: int) -> Any:
    """The n-th client write: value n to one of KEYS keys."""
    return to_value(Custom(f"k{n % KEYS}", n))


def read_query(n: int) -> Any:
    """The n-th client read: one of the keys, or every fourth the applied count ("")."""
    return "" if n % 4 == 0 else ("custom", f"k{n % KEYS}")


STORM = Storm(in_flight_per_node=100, events_per_node_tick=1)
SAFETY_TICKS = (500, 2000)


def knob(schedule: Schedule, name: str) -> Any:
    return schedule.knob(name, KNOBS[name])


def schedules(min_ticks: int, max_ticks: int, *, fifo: bool = False) -> st.SearchStrategy[Schedule]:
    """Fault schedules; every choice shrinks toward no fault and a short run."""
    rates = st.sampled_from((0.0, 0.02, 0.05, 0.1, 0.2))
    chaos = st.sampled_from((0.0, 0.1, 0.3, 0.6))
    return st.builds(
        Schedule,
        seed=st.integers(0, 2**32 - 1),
        ticks=ticks(min_ticks, max_ticks),
        drop=rates,
        duplicate=rates,
        delay=rates,
        crash=chaos,
        partition=chaos,
        one_way=st.sampled_from((0.0, 0.5, 1.0)),
        every=st.sampled_from((20, 50)),
        reads=st.sampled_from((0.0, 0.2, 0.5)),
        down=st.sampled_from(((200, 2000), (1, 100))),
        fifo=st.just(fifo),
    )


def cluster(
    schedule: Schedule, nodes: int, *, log: NdjsonLog | None = None, record: bool = True
) -> Simulator[Any]:
    fifo = knob(schedule, "fifo")
    faults = Faults(
        drop=schedule.drop,
        duplicate=0.0 if fifo else schedule.duplicate,
        delay=0.0 if fifo else schedule.delay,
        crash=schedule.crash,
        partition=schedule.partition,
        one_way=knob(schedule, "one_way"),
        down_ticks=knob(schedule, "down"),
        chaos_every=CHAOS_EVERY,
    )
    workload = Workload(
        every=knob(schedule, "every"),
        reads=knob(schedule, "reads"),
        make=unique_write,
        query=read_query,
        until=schedule.ticks,
    )
    return pysyncobj_cluster(
        nodes,
        seed=schedule.seed,
        faults=faults,
        workload=workload,
        log=log,
        record=record,
        answers=knob(schedule, "answers"),
        tcp=knob(schedule, "tcp"),
        latency=(5, 5) if fifo else (1, 10),
        actions=RAFT_ACTIONS,
    )


def violated(state: Mapping[str, Value], safe: Mapping[str, Value] | None) -> list[str]:
    return [
        name
        for name, holds in INVARIANTS.items()
        if not (safe is not None and all(safe[v] == state[v] for v in READS[name]))
        and not holds(state)
    ]


def check_safety(
    schedule: Schedule, nodes: int, bugs: frozenset[str], *, logs: Path | None = None
) -> Simulator[Any]:
    """One free run of PySyncObj (with the injected `bugs`): the invariants after every step, no
    divergence, the client-history checks at the end. `logs`: write the run's NDJSON log there
    (one file, <logs>/seed-<seed>.ndjson)."""
    out: IO[str] | None = None
    log: NdjsonLog | None = None
    if logs is not None:
        log, out = open_log(logs, f"seed-{schedule.seed}")
    try:
        with injected(bugs):
            sim = cluster(schedule, nodes, log=log)
            overload = free_runs.run(sim, schedule, schedule.ticks + 500, STORM)
    finally:
        if out is not None:
            out.close()
    trace = sim.trace()
    steps = trace.steps
    for k in range(1, len(steps)):
        names = violated(steps[k].state, steps[k - 1].state)
        names += broken(
            steps[k - 1].state, steps[k].state, steps[k].action, steps[k].params, TRANSITIONS
        )
        if names:
            raise failure(f"violates {', '.join(names)}", schedule, trace, k)
    diverged = free_runs.divergence(sim)
    if diverged is not None:
        raise failure(
            diverged,
            schedule,
            trace,
        )
    if overload is not None:
        raise failure(overload, schedule, trace)
    problem = check_history(sim)
    if problem is not None:
        raise failure(problem, schedule, trace)
    return sim


def free_run_safety(
    bugs: frozenset[str], settings: hypothesis.settings, *, nodes: int, fifo: bool = False
) -> None:
    """Hypothesis: free runs of `nodes` PySyncObj nodes (with `bugs` injected) stay safe; `fifo`:
    on first-in first-out links only (PySyncObj's TCP)."""

    @settings
    @given(schedules(*SAFETY_TICKS, fifo=fifo))
    def pysyncobj_run_is_safe(schedule: Schedule) -> None:
        check_safety(schedule, nodes, bugs)

    pysyncobj_run_is_safe()
