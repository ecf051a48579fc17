"""NoFalseAccusation: in a run where no node is ever Byzantine, no honest node ever records evidence
of any kind, and the threat level never leaves None.

Hybrid.tla's `Reportable` is empty when `Byzantine = {}` (specs/Hybrid.tla, specs/ThreatLevel.tla):
every kind of evidence is something only a faulty node gives cause for. A bad signature is a seal
that does not verify; tampering and equivocation are proved by what the accused signed; timing
evidence is two consecutive heartbeats the leader itself signed further apart than `timing_bound`
(impl/hybrid/node.py `_inspect_beat`). None of these can come from an honest node however the
network treats its messages: a detector that reports one anyway accuses an honest node, and a
cluster with no attacker raises its level (and, with enough such reports, pays for BFT).

The runs are the hybrid free runs (free_runs.py) with no Byzantine behaviour at all, under every
fault the simulator has for a hybrid cluster: message loss, duplication and delay
(`Schedule.delay`, held back free_runs.DELAY_TICKS), crashes with restarts, partitions, and
re-elections: the schedule's `depose` knob cuts the Raft leader of the moment off for longer than
an election timeout (free_runs.Deposer), so a new leader is elected in a later term and the old one
comes back deposed. After every step (a watcher of the simulator, beside the run's monitor and
oracle) every node's reports and every instance's threat state are checked: a record, or a level
above None, fails the run with `CheckFailed` ("NoFalseAccusation violated ..."); the run's own
invariants and liveness bounds hold too. A failing run is run again, recorded, for its trace.

Measured before the fix (impl/hybrid/mutants.py `timing_from_receipt` brings the old detector
back): the old receipt-time detector accused an honest leader of timing in 13 of 100 seeds of
`Schedule(seed=s, ticks=1500, drop=0.05, duplicate=0.02, crash=0.1, partition=0.05)` with no
Byzantine node, in 33 of 100 with `delay=0.05` as well; with the fix in none of either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import Final

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.free_runs import recorded_if_failing
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.hybrid.free_runs import Run
from meshcheck.property_tests.hybrid.free_runs import play
from meshcheck.property_tests.hybrid.free_runs import prepare

NEVER: Final = 10**9  # the op before which the (absent) Byzantine behaviour would start


def honest_schedules() -> st.SearchStrategy[Schedule]:
    """All-honest schedules: no behaviour, no Byzantine node (the target is "leader" and its turn
    never comes), every fault drawn, each list starting with none (Hypothesis shrinks there)."""
    return st.builds(
        Schedule,
        seed=st.integers(0, 2**16),
        ticks=st.sampled_from([600, 1000, 1500]),
        drop=st.sampled_from([0.0, 0.02, 0.05, 0.1]),
        duplicate=st.sampled_from([0.0, 0.02]),
        delay=st.sampled_from([0.0, 0.02, 0.05]),
        crash=st.sampled_from([0.0, 0.1, 0.3]),
        partition=st.sampled_from([0.0, 0.05, 0.1]),
        behaviours=st.just(()),
        target=st.just("leader"),
        start=st.just(NEVER),
        depose=st.sampled_from([None, (400, 320), (500, 400)]),
    )


class Accusations:
    """After every step: the node that stepped has reported nothing, and none of its instances'
    threat states holds a record or has left None (the level's history is its start)."""

    def __init__(self, hc: HybridConsensus) -> None:
        self.hc = hc
        self.steps = 0

    def __call__(self, node_id: str, event: Any, nodes: Mapping[str, HybridNode]) -> None:
        self.steps += 1
        node = nodes.get(node_id)
        if node is None or not node.started:
            return
        if self.hc.byzantine:
            raise CheckFailed(
                f"{sorted(self.hc.byzantine)} Byzantine: not an all-honest run", steps=0
            )
        problem = problem_of(node)
        if problem is not None:
            raise CheckFailed(
                f"NoFalseAccusation violated at {node_id} after {self.steps} steps "
                f"(t={self.hc.sim.now}), with no Byzantine node: {problem}",
                steps=self.steps,
            )


def problem_of(node: HybridNode) -> str | None:
    """What in `node` accuses an honest node (every node is), else None."""
    if node.reported:
        r = node.reported[0]
        return f"it reported {r.kind} against {r.accused} ({r.detail or 'no detail'})"
    for epoch, instance in sorted(node.instances.items()):
        threat = instance.machine.threat
        if threat.records:
            r = threat.records[0].record
            return (
                f"epoch {epoch}'s threat state took in {r.kind} by {r.reporter} against {r.accused}"
            )
        if threat.level != Level.NONE or len(threat.history) > 1:
            return f"epoch {epoch}'s level went {[lvl.title for _, lvl in threat.history]}"
    return None


def accusation_run(
    schedule: Schedule, bugs: frozenset[str] = frozenset(), *, record: bool = False
) -> Run:
    """One all-honest free run with the accusation watcher; CheckFailed on a violation (recorded:
    with the run's trace up to it)."""
    if schedule.knob("behaviours", ()) or schedule.knob("target", "leader") != "leader":
        raise ValueError(f"{schedule!r} names a Byzantine node: NoFalseAccusation needs none")
    out = prepare(schedule, bugs, record=record)
    # first among the watchers: the run's oracle (oracle.py) forbids accusing honest nodes too,
    # for runs with a Byzantine node; in an all-honest run this property is the one broken
    out.hc.plugin.watchers.insert(0, Accusations(out.hc))
    try:
        play(out, schedule)
    except CheckFailed as failed:
        if record and failed.trace is None:
            raise failure(failed.message, schedule, out.hc.sim.trace()) from None
        raise
    return out


def no_false_accusation_run(schedule: Schedule, bugs: frozenset[str]) -> None:
    """The check on one schedule (a stored run re-runs it: property_tests/hybrid/harness.py).
    Unrecorded first (recording costs); a run that fails is run again, recorded, for its trace
    (the same seed gives the same run)."""
    recorded_if_failing(lambda record: accusation_run(schedule, bugs, record=record))


def no_false_accusation(
    bugs: frozenset[str], settings: hypothesis.settings, *, share_of: float = 1 / 15
) -> None:
    """The check: all-honest free runs under `share_of` `settings`' examples (as many as the free
    runs: ci 4, dev 13, deep 133); CheckFailed on the first accusation."""

    @share(settings, share_of, least=2)
    @given(schedule=honest_schedules())
    def check(schedule: Schedule) -> None:
        no_false_accusation_run(schedule, bugs)

    check()
